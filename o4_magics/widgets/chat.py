"""``%o4_chat``: an inline chat with o4-mini that shares the notebook's threads with ``%%o4`` and streams replies.

Each reply runs ``core.run`` in a worker thread, so the kernel stays free while it streams; the widgets and
their drawing live in ``chat_view``.
"""

from __future__ import annotations

import html
import threading
from typing import Any

from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..call.engine import CallSpec, run
from ..call.threads import MAIN_THREAD, Turn
from ..errors import Interrupted, O4Error
from .chat_view import (
    LAST_IMAGE,
    NOTHING,
    ChatLayout,
    MessageView,
    content_text,
    error_markdown,
    idle_status,
    markdown_output,
    model_label,
    small,
    status_line,
    variable_choices,
)

#: Values sent as pictures (with their text description) rather than as text alone.
_IMAGE_KINDS = {
    ("matplotlib", "Figure"),
    ("matplotlib", "SubFigure"),
    ("matplotlib", "Axes"),
    ("PIL", "Image"),
}


@magic_arguments(name="o4_chat")
@argument(
    "-t", "--thread", default=MAIN_THREAD, help="The conversation to continue (default: the main thread)."
)
@argument("-m", "--model", default=None, help="OpenRouter model id (default: %%config O4Magics.model).")
@argument("-e", "--effort", choices=("low", "medium", "high"), default=None, help="Reasoning effort.")
def _chat_arguments(line: str) -> None:
    """%o4_chat [-t THREAD] [-m MODEL] [-e {low,medium,high}]"""


def chat_magic(magics: Any, line: str) -> None:
    """``%o4_chat``: parse the options (bad ones are a one-line UsageError) and display a new chat widget."""
    from IPython.display import display

    args = parse_argstring(_chat_arguments, line)
    chat = ChatWidget(
        magics.session,
        thread=args.thread,
        model=args.model,
        effort=args.effort,
        capture=getattr(magics, "capture", None),
        user_ns=getattr(magics.shell, "user_ns", None),
    )
    display(chat.widget)


def attachment(prompt: str, choice: str, user_ns: dict, capture: Any, settings: Any) -> tuple[Any, int, str]:
    """The message content with the picked attachment, its image count, and a note for the transcript."""
    if choice == NOTHING:
        return prompt, 0, ""
    from ..context import ContextError, describe_value, to_image_part

    max_side = int(getattr(settings, "image_max_side", 1024))
    if choice == LAST_IMAGE:
        image = capture.last_image() if capture is not None else None
        if image is None:
            raise ContextError("no cell has displayed an image yet.")
        part = to_image_part(image.data, max_side=max_side)
        content = [{"type": "text", "text": prompt}, part.as_content()]
        return content, 1, f"📎 last displayed image {part.placeholder()}"
    if choice not in user_ns:
        raise ContextError(f"{choice} is no longer defined.")
    value = user_ns[choice]
    budget = int(getattr(settings, "context_max_tokens", 2000))
    block = describe_value(
        value, choice, max_tokens=budget, private=bool(getattr(settings, "private", False))
    )
    text, note = f"{prompt}\n\n{block.text}", "📎 " + block.label.lstrip("# ")
    if any((cls.__module__.split(".")[0], cls.__name__) in _IMAGE_KINDS for cls in type(value).__mro__):
        part = to_image_part(value, max_side=max_side)
        return [{"type": "text", "text": text}, part.as_content()], 1, f"{note} {part.placeholder()}"
    return text, 0, note


class ChatWidget(ChatLayout):
    """One chat: transcript, input, Send/Stop/New conversation, variable picker and status line in ``.widget``.

    It talks through ``session.threads``, so a thread's turns made by ``%%o4`` show here and the reverse.
    """

    def __init__(
        self,
        session: Any,
        thread: str = MAIN_THREAD,
        model: str | None = None,
        effort: str | None = None,
        capture: Any = None,
        user_ns: dict[str, Any] | None = None,
    ) -> None:
        self.session = session
        self.thread = thread
        self.model = model
        self.effort = effort
        self.capture = capture
        self.user_ns = user_ns if user_ns is not None else getattr(session.shell, "user_ns", None) or {}
        self.busy = False
        self.last_error = ""
        self.last_view: MessageView | None = None
        self._cancel = threading.Event()
        self._worker: threading.Thread | None = None
        self._pending: Any = None  # the content of the message being answered (to recognise its turn)
        self._known: list[Turn] = []  # the thread's turns already in the transcript
        self._seen_version = -1
        self._epoch = session.threads.get(thread).epoch
        self._total_usd, self._calls = 0.0, 0
        title = f"<b>{html.escape(model_label(self._model()))}</b> chat · thread <code>{html.escape(thread)}</code>"
        super().__init__(title, self._choices(), idle_status(len(session.threads.get(thread).turns)))
        self._sync()
        self._seed_totals()
        session.listeners.append(self._on_row)
        events = getattr(session.shell, "events", None)
        if events is not None:
            events.register("post_run_cell", self._after_cell)

    def _model(self) -> str:
        return self.model or self.session.settings.model

    def _choices(self) -> list[tuple[str, str]]:
        return variable_choices(self.user_ns, getattr(self.session.shell, "user_ns_hidden", None))

    def refresh_variables(self) -> None:
        """List the notebook's current variables in the picker (called after every cell)."""
        self.set_choices(self._choices())

    # -- keeping up with the shared thread ---------------------------------------------------------------
    def _sync(self) -> None:
        """Show turns that reached the thread from elsewhere (``%%o4``, ``ask()``, another chat)."""
        with self._lock:
            thread = self.session.threads.get(self.thread)
            if thread.version == self._seen_version:
                return
            self._seen_version = thread.version
            turns = list(thread.turns)
            current = {id(turn) for turn in turns}
            if thread.epoch != self._epoch:  # reset elsewhere (%%o4 -n)
                self._epoch = thread.epoch
                self._known = []
                self._total_usd, self._calls = 0.0, 0
                self.notice(
                    "*The conversation was restarted elsewhere; earlier messages are no longer sent.*"
                )
            known = {id(turn) for turn in self._known}
            for turn in turns:
                if id(turn) in known:
                    continue
                self._known.append(turn)
                if self._pending is not None and turn.user.get("content") is self._pending:
                    continue  # this chat's own turn, already on screen
                self.add("user", "You", markdown_output(content_text(turn.user.get("content"))))
                reply = str(turn.assistant.get("content") or "")
                self.add("assistant", model_label(self._model()), markdown_output(reply))
            self._known = [turn for turn in self._known if id(turn) in current]  # the thread keeps a bounded tail

    def _on_row(self, row: Any) -> None:
        """A ledger row from any front (called in the thread that made the call): new turns, status line."""
        if getattr(row, "thread", None) != self.thread:
            return
        with self._lock:
            self._sync()  # first: a restart elsewhere zeroes the totals, and this row starts the new ones
            self._total_usd += row.cost_usd or 0.0
            self._calls += 1
            self.status.value = status_line(row, self._total_usd, self._calls)

    def _seed_totals(self) -> None:
        """The thread's cost so far, from the ledger: this thread's rows, newest first, back to the call that
        made its first turn (each successful call made one turn; failed calls in between count too)."""
        turns = len(self.session.threads.get(self.thread).turns)
        if not turns:
            return
        try:
            rows = self.session.ledger.recent(self.session.notebook(), limit=max(100, 5 * turns))
        except Exception:  # the status line is a nicety; the ledger warns about its own failures
            return
        mine = [row for row in rows if row.thread == self.thread]
        for row in mine:
            if turns == 0:
                break
            self._total_usd += row.cost_usd or 0.0
            self._calls += 1
            turns -= row.status in ("ok", "cached")
        if mine:
            self.status.value = status_line(mine[0], self._total_usd, self._calls)

    def _after_cell(self, _result: Any = None) -> None:
        self.refresh_variables()
        self._sync()

    # -- sending -----------------------------------------------------------------------------------------
    def send(self, text: str | None = None) -> bool:
        """Send ``text`` (default: the text box) with the picked attachment; False if nothing was sent."""
        prompt = (self.input.value if text is None else text).strip()
        if not prompt or self.busy:
            return False
        self._sync()
        settings = self.session.settings
        try:
            content, images, note = attachment(
                prompt, self.picker.value, self.user_ns, self.capture, settings
            )
        except Exception as error:  # an attachment that cannot be used: say so, keep the text
            self.notice(error_markdown(f"Nothing was sent: {error}"))
            return False
        self.line.value = self.box.value = ""
        self.picker.value = NOTHING
        self.add("user", "You", markdown_output(content_text(prompt) + (f"\n\n*{note}*" if note else "")))
        out = self.add("assistant", model_label(self._model()))
        view = self.last_view = MessageView(out, base_url=settings.resolved_base_url())
        spec = CallSpec(
            content=content,
            model=self._model(),
            effort=self.effort or settings.effort,
            system=settings.system_prompt,
            max_tokens=settings.max_tokens,
            stream=True,
            thread=self.thread,
            source="chat",
            images=images,
            cache=bool(settings.cache),
        )
        self._set_busy(True)
        self._pending = content
        self._cancel = threading.Event()
        # A worker thread, not the kernel's event loop: core.run blocks (the SDK's stream is synchronous), and
        # an asyncio task would need an async core and still block the loop between chunks. The thread leaves
        # the kernel free to run cells while the reply streams, Stop only sets an Event the core checks every
        # 0.1 s, and widget updates are comm messages, which ipykernel may send from any thread.
        self._worker = threading.Thread(target=self._run, args=(spec, view), name="o4-chat", daemon=True)
        self._worker.start()
        return True

    def _run(self, spec: CallSpec, view: MessageView) -> None:
        try:
            run(self.session, spec, view, cancel=self._cancel)
            self.last_error = ""
        except Interrupted:  # Stop: the view kept what streamed and marked it stopped
            self.last_error = ""
        except O4Error as error:  # no key, 402, 429 after retries, network: a message, never a traceback
            self.last_error = str(error)
            view.fail(str(error), partial=bool(error.partial_text))
        except Exception as error:  # a bug must not leave the chat stuck
            self.last_error = f"{type(error).__name__}: {error}"
            view.fail(f"o4 chat failed: {self.last_error}", partial=False)
        finally:
            with self._lock:
                self._sync()  # take the thread's new turn (ours) as known
                self._pending = None
            self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.set_busy(busy)

    def stop(self) -> None:
        """Cancel the streaming reply; what streamed stays, marked stopped."""
        self._cancel.set()
        self.stop_button.disabled = True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the streaming reply to end; True if it did within ``timeout``."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        return not self.busy

    def new_conversation(self) -> None:
        """Start the thread afresh (for ``%%o4`` too) and clear the transcript."""
        if self.busy:
            return
        self.session.threads.reset(self.thread)
        with self._lock:
            self.clear()
            self._known = []
            self._seen_version = self.session.threads.get(self.thread).version
            self._epoch = self.session.threads.get(self.thread).epoch
            self._total_usd, self._calls = 0.0, 0
        self.status.value = small("New conversation: earlier messages are no longer sent.")

    def close(self) -> None:
        """Stop listening to the session and the shell, and close the widgets."""
        self.stop()
        if self._on_row in self.session.listeners:
            self.session.listeners.remove(self._on_row)
        events = getattr(self.session.shell, "events", None)
        if events is not None:
            try:
                events.unregister("post_run_cell", self._after_cell)
            except ValueError:
                pass
        self.close_widgets()
