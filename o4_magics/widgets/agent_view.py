"""The chat's agent mode: a proposed cell shown as highlighted code with Run, Edit and Skip (and "run without
asking for this question"), run only when the user says so, on the kernel's main thread, and its output shown.

Where approved code runs. The model's reply streams in the chat's worker thread, which waits (an Event) for
the user's decision. The code itself runs on the kernel's main thread, like a cell: ``shell.run_cell(code,
store_history=True)`` (an execution count, ``In``/``Out``, ``_``), its output captured. With ipykernel
6, or JupyterLab's "comms over subshells" turned off, the Run click's comm handler already runs on the main
thread, and runs the cell there. With ipykernel 7 and JupyterLab 4.4+ (comms over subshells, the default), the
click arrives on a subshell thread: the handler hands the cell to the main thread's event loop
(``call_soon_threadsafe``) and returns at once, so the subshell stays free for the next click (Stop). While our
cell runs, ``SIGINT`` raises ``KeyboardInterrupt`` in it (we install ``signal.default_int_handler`` for the
duration, as ipykernel does while a cell runs), so a kernel interrupt ends the cell; Stop does the same with
``signal.pthread_kill(main thread, SIGINT)``, only while our cell is running. An interrupted cell ends the
agent's loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import io
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as w

from ..call.tools import CellOutcome
from ..display.sinks import WidgetSink
from .chat_view import markdown_output

#: Characters of a cell's stdout, stderr or value the chat shows (the model gets its own cut).
SHOWN_CHARS = 20_000
#: How often the waiting worker looks at Stop.
POLL_S = 0.1


def main_loop() -> Any:
    """The kernel's own event loop (ipykernel runs it on the main thread), or None outside a kernel.

    Only the kernel's loop counts: another library's loop that merely looks running on this thread (Playwright's
    sync API leaves one set between its calls) would never run what is scheduled on it.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    kernel = getattr(get_ipython(), "kernel", None)
    io_loop = getattr(kernel, "io_loop", None)
    loop = getattr(io_loop, "asyncio_loop", None)
    if loop is None:
        try:
            loop = asyncio.get_running_loop() if kernel is not None else None
        except RuntimeError:
            loop = None
    return loop


@contextlib.contextmanager
def _quiet(shell: Any) -> Iterator[None]:
    """While an approved cell runs, the kernel does not broadcast its value or traceback itself: the chat shows
    them (sent with the click's message as parent, JupyterLab would put them in its log console)."""
    hook = shell.displayhook
    saved = []
    for owner, name, stand_in in (
        (hook, "write_output_prompt", lambda: None),
        (hook, "write_format_data", lambda format_dict, md_dict=None: None),
        (shell, "_showtraceback", lambda etype, evalue, stb: None),
    ):
        saved.append((owner, name, name in vars(owner), vars(owner).get(name)))
        setattr(owner, name, stand_in)
    try:
        yield
    finally:
        for owner, name, had, value in saved:
            if had:
                setattr(owner, name, value)
            else:
                delattr(owner, name)


@contextlib.contextmanager
def _captured(shell: Any) -> Iterator[tuple[io.StringIO, io.StringIO, list[dict[str, Any]]]]:
    """What an approved cell prints and displays: like IPython's ``capture_output()``, but the stand-in
    publisher takes the parent headers ipykernel gives it while other messages (Stop) are handled on
    subshell threads; IPython's own has no ``set_parent``, and ipykernel would drop those messages."""
    from IPython.core.displaypub import CapturingDisplayPublisher

    class CellPublisher(CapturingDisplayPublisher):
        def set_parent(self, parent: Any) -> None:
            pass

    out, err, publisher = io.StringIO(), io.StringIO(), CellPublisher()
    saved = sys.stdout, sys.stderr, shell.display_pub
    sys.stdout, sys.stderr, shell.display_pub = out, err, publisher
    try:
        yield out, err, publisher.outputs
    finally:
        sys.stdout, sys.stderr, shell.display_pub = saved


def _traceback_text(error: BaseException) -> str:
    """The exception as a traceback of the cell's own frames (IPython's machinery left out)."""
    if isinstance(error, SyntaxError):
        return "".join(traceback.format_exception_only(type(error), error))
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if "/IPython/" not in frame.filename.replace("\\", "/")
    ]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    return "".join(lines + traceback.format_exception_only(type(error), error))


class CellRunner:
    """Runs approved cells on the main thread (see the module's docstring) and interrupts them on Stop."""

    def __init__(self, shell: Any, loop: Any = None, capture: Any = None) -> None:
        self.shell = shell
        self.loop = loop
        self.capture = capture
        self._lock = threading.Lock()
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def submit(
        self,
        code: str,
        done: Callable[[CellOutcome], None],
        ticket: Any,
        started: Callable[[], None] | None = None,
    ) -> None:
        """Run ``code`` on the main thread and call ``done`` with the outcome (at once when already there, or
        when no kernel loop is known, as in tests); nothing runs once ``ticket.cancelled`` is set."""

        def job() -> None:
            with self._lock:  # the same lock as stop(): a cell either starts (and can be interrupted) or not
                start = not ticket.cancelled
                self._running = start
            if start and started is not None:
                started()
            done(self.execute(code) if start else CellOutcome("stopped", code))

        loop = self.loop
        on_main = threading.current_thread() is threading.main_thread()
        if on_main or loop is None or loop.is_closed():
            job()
        else:
            loop.call_soon_threadsafe(job)

    def stop(self, ticket: Any) -> bool:
        """Cancel ``ticket``'s cell: True when it was running and got ``KeyboardInterrupt`` (on the main
        thread); False when it had not started (it never will).

        A real SIGINT to the main thread (``pthread_kill``), as the kernel's interrupt button sends:
        ``_thread.interrupt_main()`` only sets a flag, which a cell blocked in ``time.sleep(30)`` or a socket
        read would see only when that call returns."""
        with self._lock:
            ticket.cancelled = True
            if not self._running:
                return False
            kill = getattr(signal, "pthread_kill", None)
            if kill is not None:
                kill(threading.main_thread().ident, signal.SIGINT)
            else:  # pragma: no cover - Windows
                import _thread

                _thread.interrupt_main()
            return True

    def execute(self, code: str) -> CellOutcome:
        """Run ``code`` like a cell (execution count, history, ``_``); what it printed, returned, displayed,
        raised, or that it was interrupted."""
        shell = self.shell
        outcome = CellOutcome("ok", code, cell=shell.execution_count)
        on_main = threading.current_thread() is threading.main_thread()
        previous = signal.getsignal(signal.SIGINT) if on_main else None
        captured = None
        try:
            if on_main:
                signal.signal(signal.SIGINT, signal.default_int_handler)
            try:
                with self._lock:
                    self._running = True  # (submit() set it already; a direct call sets it here)
                with _quiet(shell), _captured(shell) as captured:
                    result = shell.run_cell(code, store_history=True)
            finally:
                with self._lock:
                    self._running = False
            error = result.error_before_exec or result.error_in_exec
            if isinstance(error, KeyboardInterrupt):
                outcome.status = "interrupted"
            elif error is not None:
                outcome.status, outcome.error, outcome.traceback = "error", error, _traceback_text(error)
            if result.result is not None:
                outcome.has_value, outcome.value = True, result.result
        except KeyboardInterrupt:  # it came between the cell's code and our bookkeeping
            outcome.status = "interrupted"
        finally:
            outcome.status = self._drain(outcome.status)
            if on_main:
                signal.signal(signal.SIGINT, previous)
        if captured is not None:
            self._take_output(outcome, captured)
        return outcome

    @staticmethod
    def _drain(status: str) -> str:
        """A Stop that raced the cell's end lands here, not later in the kernel's idle loop."""
        try:
            for _ in range(3):
                time.sleep(0)
        except KeyboardInterrupt:
            return "interrupted"
        return status

    def _take_output(self, outcome: CellOutcome, captured: Any) -> None:
        out, err, outputs = captured
        outcome.stdout, outcome.stderr = out.getvalue(), err.getvalue()
        for output in outputs:
            for mime in ("image/png", "image/jpeg"):
                payload = output["data"].get(mime)
                if payload:
                    raw = payload if isinstance(payload, bytes) else base64.b64decode(payload)
                    outcome.images.append((mime, raw))
                    if self.capture is not None:  # later look_at("last") and -i last see it too
                        self.capture.add(mime, raw, outcome.cell)
                    break
        outcome.displayed = [dict(output["data"]) for output in outputs]


def _code_markdown(code: str) -> str:
    fence = "```"
    while fence in code:
        fence += "`"
    return f"{fence}python\n{code}\n{fence}"


def outcome_outputs(shell: Any, outcome: CellOutcome) -> list[dict[str, Any]]:
    """What the chat shows under a cell that ran: streams, its rich outputs and value, the error."""
    outputs: list[dict[str, Any]] = []
    for name, text in (("stdout", outcome.stdout), ("stderr", outcome.stderr)):
        if text:
            shown = text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "\n[… cut in the chat]\n"
            outputs.append({"output_type": "stream", "name": name, "text": shown})
    for data in outcome.displayed:
        outputs.append({"output_type": "display_data", "data": data, "metadata": {}})
    if outcome.has_value:
        try:
            data, metadata = shell.display_formatter.format(outcome.value)
        except Exception:  # a repr that fails: say so
            data, metadata = {"text/plain": f"<{type(outcome.value).__name__}: its repr failed>"}, {}
        plain = data.get("text/plain", "")
        if len(plain) > SHOWN_CHARS:
            data = {**data, "text/plain": plain[:SHOWN_CHARS] + "…"}
        outputs.append(
            {
                "output_type": "execute_result",
                "data": data,
                "metadata": metadata,
                "execution_count": outcome.cell,
            }
        )
    if outcome.error is not None:
        error = outcome.error
        outputs.append(
            {
                "output_type": "error",
                "ename": type(error).__name__,
                "evalue": str(error)[:2000],
                "traceback": outcome.traceback.splitlines(),
            }
        )
    return outputs


class Proposal:
    """One proposed cell in the transcript: its code, why, Run / Edit / Skip, then what happened."""

    STATUS = {
        "waiting": "Nothing runs until you click Run.",
        "queued": "Waiting for the kernel to be free…",
        "running": "Running…",
        "skipped": "Skipped; it did not run.",
        "stopped": "Stopped; it did not run.",
    }

    def __init__(self, runner: CellRunner, code: str, why: str, *, auto: bool = False) -> None:
        self.runner = runner
        self.code = code
        self.why = why
        self.outcome: CellOutcome | None = None
        self.decided = threading.Event()
        self.cancelled = False
        self.auto_next = False
        header = "Proposed cell" + (" · ran without asking" if auto else "")
        title = f'<b style="color:#8a5a00;font-size:0.85em">{html.escape(header)}</b>'
        if why:
            title += f' <span style="font-size:0.85em;color:#555">· {html.escape(why)}</span>'
        self.header = w.HTML(title)
        self.body = w.Output(layout=w.Layout(padding="0 4px"))
        self.body.outputs = (markdown_output(_code_markdown(code), code),)
        self.editor = w.Textarea(
            value=code, rows=min(20, code.count("\n") + 2), layout=w.Layout(width="100%")
        )
        self.editor.layout.display = "none"
        self.run_button = w.Button(
            description="Run", button_style="success", icon="play", layout=w.Layout(width="80px")
        )
        self.edit_button = w.Button(description="Edit", icon="pencil", layout=w.Layout(width="80px"))
        self.skip_button = w.Button(description="Skip", icon="forward", layout=w.Layout(width="80px"))
        self.auto = w.Checkbox(value=False, description="Run without asking for this question", indent=False)
        self.status = w.HTML(self._status_html("waiting"))
        self.result = w.Output(layout=w.Layout(padding="0 4px"))
        self.run_button.on_click(lambda _: self.run())
        self.edit_button.on_click(lambda _: self.edit())
        self.skip_button.on_click(lambda _: self.skip())
        self.buttons = w.HBox([self.run_button, self.edit_button, self.skip_button, self.auto])
        look = w.Layout(
            border="1px solid #f0c36d",
            padding="2px 8px",
            margin="4px 15% 4px 0",
            align_self="flex-start",
            max_width="85%",
            flex="0 0 auto",
        )
        self.box = w.VBox(
            [self.header, self.body, self.editor, self.buttons, self.status, self.result], layout=look
        )
        self.box.add_class("o4-chat-proposal")
        from .subshells import route_to_sender

        for control in (self.run_button, self.edit_button, self.skip_button, self.auto, self.editor):
            route_to_sender(control)  # Edit and Skip answer at once, even while a cell runs (Run then waits for it)

    @staticmethod
    def _status_html(key: str, text: str = "") -> str:
        return f'<span style="font-size:0.85em;color:#555">{html.escape(text or Proposal.STATUS[key])}</span>'

    def _lock_buttons(self) -> None:
        for button in (self.run_button, self.edit_button, self.skip_button, self.auto):
            button.disabled = True

    # -- the user's decision ------------------------------------------------------------------------------
    def run(self) -> None:
        """Run the cell (as edited, if it was), on the kernel's main thread."""
        if self.decided.is_set() or self.run_button.disabled:
            return
        code = self.editor.value if self.editor.layout.display != "none" else self.code
        self.auto_next = bool(self.auto.value)
        self._lock_buttons()
        self.editor.layout.display = "none"
        if code != self.code:
            self.body.outputs = (markdown_output(_code_markdown(code), code),)
        on_main = threading.current_thread() is threading.main_thread()
        queued = not on_main and self.runner.loop is not None
        self.status.value = self._status_html("queued" if queued else "running")
        self.runner.submit(
            code,
            lambda outcome: self._ran(outcome, edited=code != self.code),
            self,
            started=lambda: setattr(self.status, "value", self._status_html("running")),
        )

    def _ran(self, outcome: CellOutcome, *, edited: bool) -> None:
        outcome.edited = edited
        outcome.why = self.why
        if outcome.status != "stopped":
            self.result.outputs = tuple(outcome_outputs(self.runner.shell, outcome))
        if self.decided.is_set():  # Stop came first: the question has ended
            return
        said = {
            "ok": f"Ran as cell [{outcome.cell}].",
            "error": f"Ran as cell [{outcome.cell}]; it raised {type(outcome.error).__name__}.",
            "interrupted": f"Cell [{outcome.cell}] was interrupted; the agent stopped.",
            "stopped": self.STATUS["stopped"],
        }[outcome.status]
        self.status.value = self._status_html("running", said)
        self.outcome = outcome
        self.decided.set()

    def edit(self) -> None:
        """Show the code in a text box; Run then runs what the box holds."""
        if self.decided.is_set():
            return
        self.editor.layout.display = ""
        self.body.layout.display = "none"
        self.edit_button.disabled = True

    def skip(self) -> None:
        if self.decided.is_set() or self.run_button.disabled:
            return
        self._lock_buttons()
        self.status.value = self._status_html("skipped")
        self.outcome = CellOutcome("skipped", self.code, why=self.why)
        self.decided.set()

    def stop(self) -> None:
        """Stop: a running cell is interrupted (its outcome follows); one not started never runs."""
        if self.runner.stop(self) or self.decided.is_set():
            return
        self._lock_buttons()
        self.status.value = self._status_html("stopped")
        self.outcome = CellOutcome("stopped", self.code, why=self.why)
        self.decided.set()


class LazyBubbleSink(WidgetSink):
    """A reply message that appears in the transcript only when something is drawn in it (after a proposed
    cell, the next step's text goes into a new message below it)."""

    def __init__(self, chat: Any, title: str) -> None:
        super().__init__(None)
        self.chat = chat
        self.title = title

    def show(self, bundle: dict[str, str], *extra: dict[str, str]) -> None:
        if self.out is None:
            self.out = self.chat.add("assistant", self.title)
        super().show(bundle, *extra)


def settle(sink: Any) -> None:
    """Redraw a message without its streaming cursor (the reply paused for a proposed cell)."""
    shown = getattr(sink, "shown", ())
    if getattr(sink, "out", None) is None or not shown:
        return
    settled = []
    for output in shown:
        data = dict(output.get("data", {}))
        markdown = data.get("text/markdown", "")
        if markdown.endswith(" ▌"):
            data["text/markdown"] = markdown[: -len(" ▌")]
        settled.append({**output, "data": data})
    sink.shown = tuple(settled)
    sink.out.outputs = sink.shown


class ChatCodeRunner:
    """``call.agent.CodeRunner`` for the chat: each ``run_code`` becomes a ``Proposal`` in the transcript; the
    worker waits for the user's decision (and Stop), then the reply goes on in a new message."""

    def __init__(self, chat: Any, loop: Any = None) -> None:
        self.chat = chat
        self.cells = CellRunner(chat.session.shell, loop=loop, capture=chat.capture)
        self.auto = False
        self.current: Proposal | None = None
        self.proposals: list[Proposal] = []

    def new_question(self) -> None:
        """ "Run without asking" lasts one question."""
        self.auto = False

    def propose(self, code: str, why: str, cancel: threading.Event | None, shown: str = "") -> CellOutcome:
        view = self.chat.last_view
        if view is not None and getattr(view.sink, "out", None) is not None:
            if shown.strip():
                settle(view.sink)  # the tool lines so far stay, without the streaming cursor
            else:
                self.chat.remove(view.sink.out)  # it only showed "thinking…": the proposed cell replaces it
        proposal = self.current = Proposal(self.cells, code, why, auto=self.auto)
        self.proposals.append(proposal)
        self.chat.add_box(proposal.box)
        if self.auto:
            proposal.run()
        try:
            while not proposal.decided.wait(POLL_S):
                if cancel is not None and cancel.is_set() and not proposal.cancelled:
                    proposal.stop()
        finally:
            self.current = None
        self.auto = self.auto or proposal.auto_next
        if view is not None:
            view.sink = LazyBubbleSink(self.chat, self.chat.reply_title())
        assert proposal.outcome is not None
        return proposal.outcome
