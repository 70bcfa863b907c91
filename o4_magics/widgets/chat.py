"""``%o4_chat``: an inline chat with o4-mini that shares the notebook's threads with ``%%o4`` and streams replies.

A front like the magics: each message becomes an ``Ask`` through the one door (``call.spec.prepare``) and runs
in ``call.engine.run`` in a worker thread, drawing into the shared ``display.view.ReplyView`` with a widget sink.
The widgets themselves live in ``chat_view``.
"""

from __future__ import annotations

import html
import itertools
import threading
import weakref
from typing import Any

from IPython.core.magic_arguments import argument, magic_arguments

from ..call.engine import run
from ..call.spec import MAGIC_NAMES, Ask, prepare
from ..call.threads import MAIN_THREAD, Turn
from ..display.sinks import WidgetSink
from ..display.view import ReplyView
from ..errors import Interrupted, O4Error
from .chat_view import (
    LAST_IMAGE,
    NOTHING,
    ChatLayout,
    content_text,
    idle_status,
    markdown_output,
    model_label,
    small,
    status_line,
    variable_choices,
)
from .static import StaticCopy, widget_bundle
from .subshells import kernel_has_subshells, route_to_sender

#: Values sent as pictures (with their text description) rather than as text alone.
_IMAGE_KINDS = {
    ("matplotlib", "Figure"),
    ("matplotlib", "SubFigure"),
    ("matplotlib", "Axes"),
    ("PIL", "Image"),
}
#: Chats kept live per session; showing more closes the oldest (a re-run chat cell leaves no live copy).
MAX_LIVE_CHATS = 8
#: After a reply, the next message's bubbles are made once the chat has been idle this long (seconds).
SPARES_AFTER_S = 0.25
#: Shown under the chat when widget events wait for the running cell: a kernel without subshells (ipykernel 6,
#: Colab), or a frontend that sends comm messages to the main shell (classic Notebook, JupyterLab < 4.4).
NO_SUBSHELLS_NOTE = "Stop and Send take effect when the running cell ends (widget events wait for it here)."
_ORDER = itertools.count()


@magic_arguments(name="o4_chat")
@argument("-t", "--thread", default=MAIN_THREAD, help="The conversation to continue (default: the main thread).")
@argument("-m", "--model", default=None, help="OpenRouter model id (default: %%config O4Magics.model).")
@argument("-e", "--effort", choices=("low", "medium", "high"), default=None, help="Reasoning effort.")
@argument("--agent", action="store_true", help="Start in Agent mode (look-up tools, cells proposed for approval).")
def _chat_arguments(line: str) -> None:
    """%o4_chat [-t THREAD] [-m MODEL] [-e {low,medium,high}] [--agent]"""


def _cell_id(shell: Any, capture: Any = None) -> str | None:
    """The running cell's id when the frontend sends one (JupyterLab, Notebook 7 and VS Code do)."""
    found = getattr(capture, "cell_id", None)
    if found:
        return str(found)
    kernel = getattr(shell, "kernel", None)
    try:
        parent = kernel.get_parent() if kernel is not None else None
    except Exception:
        parent = None
    metadata = (parent or {}).get("metadata") or {}
    found = metadata.get("cellId")
    return str(found) if found else None


def chat_magic(magics: Any, line: str) -> None:
    """``%o4_chat``: parse the options (bad ones are a one-line UsageError) and display a new chat widget.

    Re-running the same cell closes the chat it showed before, so old chats do not keep listening.
    """
    from IPython.core.error import UsageError

    from ..call.spec import check_model, check_thread
    from ..ipython.options import split_options

    args, rest = split_options(_chat_arguments.parser, line)
    if rest:
        raise UsageError(f"unrecognized arguments: {rest}")
    thread = check_thread(args.thread, "-t/--thread")
    if args.model is not None:
        check_model(args.model, "-m/--model")
    registry = _registry(magics.session)
    cell = _cell_id(magics.shell, getattr(magics, "capture", None))
    for old in list(registry):
        if old.closed or (cell is not None and old.cell_id == cell):
            old.close()
    chat = ChatWidget(
        magics.session,
        thread=thread,
        model=args.model,
        effort=args.effort,
        capture=getattr(magics, "capture", None),
        user_ns=getattr(magics.shell, "user_ns", None),
    )
    chat.cell_id = cell
    chat.agent.value = bool(args.agent)
    chat.show()


def _main_loop() -> Any:
    from .agent_view import main_loop

    return main_loop()


def _registry(session: Any) -> weakref.WeakSet:
    registry = getattr(session, "_o4_chats", None)
    if registry is None:
        registry = session._o4_chats = weakref.WeakSet()
    return registry


def picked(choice: str, user_ns: dict, capture: Any) -> tuple[dict[str, Any] | None, list[Any] | None, str]:
    """What the picker's ``choice`` attaches: values, images, and a note for the transcript."""
    from ..errors import ContextError

    if choice == NOTHING:
        return None, None, ""
    if choice == LAST_IMAGE:
        image = capture.last_image() if capture is not None else None
        if image is None:
            raise ContextError("no cell has displayed an image yet.")
        return None, [image.data], "📎 last displayed image"
    if choice not in user_ns:
        raise ContextError(f"{choice} is no longer defined.")
    value = user_ns[choice]
    note = f"📎 {choice} ({type(value).__name__})"
    if any((cls.__module__.split(".")[0], cls.__name__) in _IMAGE_KINDS for cls in type(value).__mro__):
        return {choice: value}, [value], note
    return {choice: value}, None, note


class _WeakHook:
    """A session listener or shell event callback that holds its chat weakly and leaves once it is gone."""

    def __init__(self, chat: ChatWidget, method: str) -> None:
        self._chat = weakref.ref(chat)
        self._method = method

    def __call__(self, *args: Any) -> None:
        chat = self._chat()
        if chat is None or chat.closed:
            self.detach(chat)
            return
        getattr(chat, self._method)(*args)

    def detach(self, chat: Any = None) -> None:
        session = getattr(chat, "session", None) or self._session
        if self in session.listeners:
            session.listeners.remove(self)
        events = getattr(session.shell, "events", None)
        if events is not None:
            try:
                events.unregister("post_run_cell", self)
            except ValueError:
                pass

    def bind(self, session: Any) -> _WeakHook:
        self._session = session
        return self


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
        self.closed = False
        self.cell_id: str | None = None
        self.last_error = ""
        self.last_view: ReplyView | None = None
        self._cancel = threading.Event()
        self._pending_seq: int | None = None  # the send order of the message being answered
        self._known: list[Turn] = []  # the thread's turns already in the transcript
        self._seen_version = -1
        self._epoch = session.threads.get(thread).epoch
        self._total_usd, self._calls = 0.0, 0
        self._order = next(_ORDER)
        self.static: StaticCopy | None = None
        title = f"<b>{html.escape(model_label(self._model()))}</b> chat · thread <code>{html.escape(thread)}</code>"
        super().__init__(title, self._choices(), idle_status(len(session.threads.get(thread).turns)))
        self._sync()
        self._seed_totals()
        self._row_hook = _WeakHook(self, "_on_row").bind(session)
        self._cell_hook = _WeakHook(self, "_after_cell").bind(session)
        session.listeners.append(self._row_hook)
        events = getattr(session.shell, "events", None)
        if events is not None:
            events.register("post_run_cell", self._cell_hook)
        registry = _registry(session)
        registry.add(self)
        live = sorted((chat for chat in registry if not chat.closed), key=lambda chat: chat._order)
        for old in live[:-MAX_LIVE_CHATS]:
            old.close()
        self.widget.observe(self._on_comm_change, names="comm")
        for control in self.controls():
            route_to_sender(control)
        kernel = getattr(session.shell, "kernel", None)
        if kernel is not None and not kernel_has_subshells(kernel):
            self.note.value = small(NO_SUBSHELLS_NOTE)
        self._agent_runner: Any = None  # Agent mode's proposed cells (widgets.agent_view), made when first used
        self._main_loop = _main_loop()  # where approved cells run when clicks arrive on a subshell thread
        self._closing = threading.Event()
        self._replied = threading.Event()  # set when the reply being streamed has ended (``wait``)
        self._replied.set()
        self._make_spares()  # the first question's bubbles are ready before it is typed

    def _make_spares(self) -> None:
        """Make the next question's and reply's bubbles (see ``ChatLayout.make_spares``), unless closed or busy."""
        if self.closed or self.busy:
            return
        try:
            self.make_spares(("user", "You"), ("assistant", model_label(self._model())))
        except Exception:  # a nicety: Send makes its bubbles itself
            pass

    def _spares_later(self) -> None:
        """Make the next bubbles once the chat has been idle a moment (off the reply's path: ``wait`` has
        returned by then); called on the thread that streamed the reply, after it ended."""
        if not self._closing.wait(SPARES_AFTER_S):
            self._make_spares()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return widget_bundle(self.widget, self.static_html(), self.static_text())

    def show(self) -> None:
        """Display the chat with a static transcript beside it, brought up to date after each cell runs (an
        update redraws the live chat, which must not happen while the user types in it)."""
        self.static = StaticCopy(self.widget)
        self.static.show(self.static_html(), self.static_text())

    def update_static(self) -> bool:
        """Re-send the static transcript if it changed; True if it was sent."""
        if self.static is None or self.closed or not self.static_dirty:
            return False  # nothing new: an empty cell costs nothing here, however long the transcript
        with self._lock:
            self.static_dirty = False
            copy = self.static_html(), self.static_text()
        return self.static.update(*copy)

    def frontend_event(self) -> None:
        """A click or Enter from the frontend: when it came to the main shell, not to a subshell, Stop and Send
        wait for running cells here, and the chat says so."""
        kernel = getattr(self.session.shell, "kernel", None)
        if self.note.value or kernel is None:
            return
        try:
            header = (kernel.get_parent() or {}).get("header") or {}
        except Exception:
            return
        if not header.get("subshell_id"):
            self.note.value = small(NO_SUBSHELLS_NOTE)

    def _on_comm_change(self, change: dict) -> None:
        if change.get("new") is None:  # the widget was closed (its output cleared and the model closed)
            self.close()

    def _model(self) -> str:
        return self.model or self.session.settings.model

    def _choices(self) -> list[tuple[str, str]]:
        return variable_choices(self.user_ns, getattr(self.session.shell, "user_ns_hidden", None))

    def refresh_variables(self) -> None:
        """List the notebook's current variables in the picker: names and types only, and only when the set of
        names changed (an empty cell costs a tuple of the names; no value is read)."""
        names = tuple(self.user_ns)
        if names == getattr(self, "_listed_names", None):
            return
        self._listed_names = names
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
                self.notice("*The conversation was restarted elsewhere; earlier messages are no longer sent.*")
            known = {id(turn) for turn in self._known}
            for turn in turns:
                if id(turn) in known:
                    continue
                self._known.append(turn)
                if self._pending_seq is not None and turn.seq == self._pending_seq:
                    continue  # this chat's own turn, already on screen
                self.add("user", "You", self._user_markdown(content_text(turn.user.get("content"))))
                reply = str(turn.assistant.get("content") or "")
                self.add("assistant", model_label(turn.model or self._model()), self._reply_markdown(reply))
            self._known = [turn for turn in self._known if id(turn) in current]  # the thread keeps a bounded tail

    def _user_markdown(self, text: str) -> dict[str, Any]:
        """A user message: rendered like a reply (it may hold pasted text); its text/plain is what was typed,
        for the static copy (else it would show the markdown's escapes)."""
        from ..display.render import render_markdown

        return markdown_output(render_markdown(text, frontend=self._frontend()), text.replace("  \n", "\n"))

    def _reply_markdown(self, text: str) -> dict[str, Any]:
        from ..display.render import render_markdown

        return markdown_output(render_markdown(text, frontend=self._frontend()), text)

    def _frontend(self) -> str:
        from ..ipython.views import frontend_of

        return frontend_of(self.session.shell)

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
        self.update_static()
        if len(self._spares) < 2 and not self.busy and not self.closed:  # turns from elsewhere took them
            threading.Thread(target=self._spares_later, name="o4-chat-spares", daemon=True).start()

    # -- sending -----------------------------------------------------------------------------------------
    def send(self, text: str | None = None) -> bool:
        """Send ``text`` (default: the text box) with the picked attachment; False if nothing was sent."""
        prompt = (self.input.value if text is None else text).strip()
        if not prompt:
            return False
        if self.busy and self._cancel.is_set():  # Enter right after Stop: let the stopped reply end first
            self.wait(2.0)
        if self.busy:
            self.notice("*A reply is still streaming: press Stop first, or wait for it.*")
            return False
        self._sync()
        try:
            values, images, note = picked(self.picker.value, self.user_ns, self.capture)
            agent = bool(self.agent.value)  # Agent mode: look-up tools, and run_code with the user's approval
            ask = Ask(
                prompt=prompt, source="chat", model=self.model, effort=self.effort, thread=self.thread,
                stream=True, values=values, images=images, names=dict(MAGIC_NAMES),
                tools=True if agent else None, run_code=agent,
            )
            spec = prepare(self.session, ask)
        except O4Error as error:  # an attachment or option that cannot be used: say so, keep the text
            from .chat_view import error_markdown

            self.notice(error_markdown(f"Nothing was sent: {error}"))
            return False
        if spec.placeholders:
            note = " ".join([note, *spec.placeholders.values()])
        self.line.value = self.box.value = ""
        self.picker.value = NOTHING
        shown = content_text(prompt) + (f"\n\n*{note}*" if note else "")
        self.add("user", "You", self._user_markdown(shown), show=False)
        out = self.add("assistant", model_label(self._model()))  # both messages appear in one update
        view = self.last_view = ReplyView(
            WidgetSink(out, box=self._bubbles[-1]),
            frontend=self._frontend(),
            host=self._host(),
            show_reasoning=spec.show_reasoning,
            stopped_word="stopped",
            allowed_image_hosts=tuple(getattr(self.session.settings, "allowed_image_hosts", ())),
        )
        ticket = self.session.threads.begin(self.thread)
        self._set_busy(True)
        self._pending_seq = ticket.seq
        self._cancel = threading.Event()
        self._replied = threading.Event()
        # A worker thread, not the kernel's event loop: the engine blocks (the SDK's stream is synchronous), and
        # an asyncio task would need an async engine and still block the loop between chunks. The thread leaves
        # the kernel free to run cells while the reply streams, Stop only sets an Event the engine checks every
        # 0.1 s, and widget updates are comm messages, which ipykernel may send from any thread.
        threading.Thread(target=self._run, args=(spec, view, ticket), name="o4-chat", daemon=True).start()
        return True

    def _host(self) -> str:
        from ..ipython.views import server_host

        return server_host(self.session.settings)

    def _run(self, spec: Any, view: ReplyView, ticket: Any) -> None:
        replied = self._replied  # this reply's (a next send makes its own once this one is no longer busy)
        try:
            if spec.tools:
                self._run_agent(spec, view, ticket)
            else:
                run(self.session, spec, view, cancel=self._cancel, ticket=ticket)
            self.last_error = ""
        except Interrupted:  # Stop: the view kept what streamed and marked it stopped
            self.last_error = ""
        except O4Error as error:  # no key, 402, 429 after retries, network: a message, never a traceback
            self.last_error = str(error)
            view.fail(str(error), partial=bool(error.partial_text))
        except Exception as error:  # a bug must not leave the chat stuck
            self.last_error = f"{type(error).__name__}: {self.session.scrub(str(error))}"
            view.fail(f"o4 chat failed: {self.last_error}", partial=False)
        finally:
            with self._lock:
                self._sync()  # take the thread's new turn (ours) as known
                self._pending_seq = None
                self.static_dirty = True  # the reply's final text goes into the static copy
            self._set_busy(False)
            replied.set()
        self._spares_later()

    @property
    def agent_runner(self) -> Any:
        """Agent mode's ``CodeRunner``: proposed cells in the transcript (``.proposals``, ``.current``)."""
        if self._agent_runner is None:
            from .agent_view import ChatCodeRunner

            self._agent_runner = ChatCodeRunner(self, loop=self._main_loop)
        return self._agent_runner

    def _run_agent(self, spec: Any, view: ReplyView, ticket: Any) -> None:
        from ..call.agent import run_agent
        from ..call.tools import Toolbox

        hidden = getattr(self.session.shell, "user_ns_hidden", None)
        toolbox = Toolbox(self.session, self.user_ns, capture=self.capture, hidden=hidden, private=spec.private)
        runner = self.agent_runner
        runner.new_question()
        run_agent(self.session, spec, view, cancel=self._cancel, ticket=ticket, toolbox=toolbox, runner=runner)

    def reply_title(self) -> str:
        """The header of this chat's replies (the model's short name)."""
        return model_label(self._model())

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.set_busy(busy)

    def stop(self) -> None:
        """Cancel the streaming reply; what streamed stays, marked stopped."""
        self._cancel.set()
        self.stop_button.disabled = True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the streaming reply to end; True if it did within ``timeout``."""
        self._replied.wait(timeout)
        return not self.busy

    def new_conversation(self) -> None:
        """Start the thread afresh (for ``%%o4`` too) and clear the transcript; a reply still streaming is
        stopped and will not join the new conversation."""
        if self.busy:
            self.stop()
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
        if self.closed:
            return
        self.closed = True
        self.stop()
        self._closing.set()
        for hook in (getattr(self, "_row_hook", None), getattr(self, "_cell_hook", None)):
            if hook is not None:
                hook.detach(self)
        self.close_widgets()
