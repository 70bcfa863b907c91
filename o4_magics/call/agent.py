"""The bounded agent loop: a question whose model may call tools runs as at most ``O4Magics.agent_max_steps``
model calls, each one an engine run (one ledger row, the budget's worst case reserved first); the tools'
results go back between them, and the thread gets one turn holding the tool exchange, truncated.

The first step keeps the front's ledger source ("magic", "explain", "chat", "ask"); later steps are "agent".
The last allowed step is sent with ``tool_choice: "none"``, so the question ends with an answer.
"""

from __future__ import annotations

import dataclasses
import html
import threading
import time
from typing import Any, Protocol

from ..errors import Interrupted, O4Error
from .engine import NullView, run
from .reply import Reply, Usage
from .session import Session
from .spec import CallSpec
from .threads import Ticket
from .tools import (
    RUN_CODE,
    SHOWN_CHARS,
    CellOutcome,
    Toolbox,
    ToolProblem,
    ToolResult,
    code_result,
    parse_arguments,
    short_problem,
)

__all__ = ["CodeRunner", "AgentView", "run_agent"]


class CodeRunner(Protocol):
    """How a front runs ``run_code``: show the cell, wait for the user (Run, Edit, Skip, Stop), run it.

    ``propose`` blocks until the user decided and the cell ran; it returns status ``stopped`` when ``cancel``
    was set while it waited, and ``interrupted`` when the cell was interrupted (both end the loop). ``shown``
    is what the reply has drawn since the last proposed cell (tool lines, text; empty when nothing lasting).
    """

    def propose(
        self, code: str, why: str, cancel: threading.Event | None, shown: str = ""
    ) -> CellOutcome: ...


def _summary_html(line: str) -> str:
    """``line`` as HTML for a ``<summary>``: escaped, with `names` in code."""
    pieces = html.escape(line, quote=False).split("`")
    if len(pieces) % 2 == 0:  # an unpaired backtick stays as it is
        pieces[-2:] = ["`".join(pieces[-2:])]
    return "".join(f"<code>{piece}</code>" if index % 2 else piece for index, piece in enumerate(pieces))


def tool_line(result: ToolResult, markdown: bool) -> str:
    """One collapsed line for a tool call (it opens on what the model was given), or plain text."""
    icon = "⚠️" if result.failed else "🔧"
    if not markdown:
        return f"{icon} {result.line}"
    shown = result.text if len(result.text) <= SHOWN_CHARS else result.text[:SHOWN_CHARS] + "\n[…]"
    summary = _summary_html(result.line)
    # One line of HTML, so one HTML block: the reply's renderer makes every HTML block self-contained, which
    # would close a <details> before a fence on the lines below it (the result would show, expanded, under it).
    body = html.escape(shown, quote=False).replace("\n", "&#10;")
    return f"<details><summary>{icon} {summary}</summary><pre><code>{body}</code></pre></details>"


class AgentView:
    """The engine's view for each step of an agent question, over the front's own view: the tool lines (and
    any text a step wrote before calling tools) stay above what streams; one footer at the end, with the
    question's total. A front that splits the reply around proposed cells starts a new segment there."""

    def __init__(self, view: Any) -> None:
        self.view = view
        self.markdown = getattr(view, "mode", None) == "markdown"
        self.parts: list[str] = []
        self.start = 0
        self.step_reply: Reply | None = None
        self._second = -1

    def prefix(self) -> str:
        parts = self.parts[self.start :]
        return "\n\n".join(parts) + "\n\n" if parts else ""

    # -- the engine's View --------------------------------------------------------------------------------
    def thinking(self, elapsed: float) -> None:
        prefix = self.prefix()
        if not prefix:
            self.view.thinking(elapsed)
        elif self.markdown and int(elapsed) != self._second:
            self._second = int(elapsed)
            self.view.text(f"{prefix}*thinking… {self._second} s*")

    def reasoning(self, text_so_far: str, elapsed: float) -> None:
        if self.prefix():
            self.thinking(elapsed)  # later steps' summaries show folded with the answer
        else:
            self.view.reasoning(text_so_far, elapsed)

    def text(self, text_so_far: str) -> None:
        self.view.text(self.prefix() + text_so_far)

    def due(self, size: int, seconds_since: float) -> bool:
        return self.view.due(len(self.prefix()) + size, seconds_since)

    def finish(self, reply: Reply) -> None:
        self.step_reply = reply  # the loop draws: tool lines after a step, one footer at the end

    # -- what the loop adds ---------------------------------------------------------------------------------
    def add(self, part: str) -> None:
        if part.strip():
            self.parts.append(part.strip())

    def show(self) -> None:
        prefix = self.prefix()
        if prefix:
            self.view.text(prefix.rstrip())

    def new_segment(self) -> None:
        """What follows is drawn afresh (the front moved on to a new message, after a proposed cell)."""
        self.start = len(self.parts)
        self._second = -1

    def conclude(self, total: Reply) -> str:
        """Draw the question's end: this segment's lines, the answer, the footer with the total."""
        shown = dataclasses.replace(total, text=self.prefix() + total.text)
        self.view.finish(shown)
        return shown.text


def _total(replies: list[Reply], calls: list[Any], started: float, notes: list[str]) -> Reply:
    """One Reply for the whole question: the last answer, every step's tokens and cost summed."""
    last = replies[-1]
    usage = Usage(
        prompt_tokens=sum(reply.usage.prompt_tokens for reply in replies),
        cached_tokens=sum(reply.usage.cached_tokens for reply in replies),
        completion_tokens=sum(reply.usage.completion_tokens for reply in replies),
        reasoning_tokens=sum(reply.usage.reasoning_tokens for reply in replies),
        cost_usd=sum(reply.usage.cost_usd for reply in replies),
        cost_source="openrouter"
        if all(r.usage.cost_source == "openrouter" for r in replies)
        else "estimated",
    )
    seconds = [reply.reasoning_s for reply in replies if reply.reasoning_s is not None]
    steps = f"{len(replies)} step{'s' if len(replies) != 1 else ''}"
    tools = f"{len(calls)} tool call{'s' if len(calls) != 1 else ''}"
    return dataclasses.replace(
        last,
        usage=usage,
        latency_s=time.monotonic() - started,
        ttft_s=replies[0].ttft_s,
        reasoning="\n\n".join(reply.reasoning for reply in replies if reply.reasoning),
        reasoning_s=sum(seconds) if seconds else None,
        redactions=sum(reply.redactions for reply in replies),
        notes=[f"{steps}, {tools}", *notes, *last.notes],
        tool_calls=list(calls),
        reasoning_details=[],
    )


def assistant_message(reply: Reply) -> dict[str, Any]:
    """A step's reply as the assistant message sent back: its text, its calls, its reasoning items unchanged."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.text or None,
        "tool_calls": [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in reply.tool_calls
        ],
    }
    if reply.reasoning_details:
        message["reasoning_details"] = reply.reasoning_details
    return message


def images_message(parts: list[Any]) -> dict[str, Any]:
    """The images the tools gave, as one user message after the tool messages (tool messages carry text)."""
    text = f"The image{'s' if len(parts) != 1 else ''} the tools above gave, in order."
    return {
        "role": "user",
        "content": [{"type": "text", "text": text}, *(part.as_content() for part in parts)],
    }


class _Loop:
    """One agent question's state: the steps' replies, the exchange so far, the calls made."""

    def __init__(
        self,
        session: Session,
        spec: CallSpec,
        view: AgentView,
        cancel: threading.Event | None,
        toolbox: Toolbox,
        runner: CodeRunner | None,
    ) -> None:
        self.session, self.spec, self.view, self.cancel = session, spec, view, cancel
        self.toolbox, self.runner = toolbox, runner
        self.replies: list[Reply] = []
        self.calls: list[Any] = []
        self.exchange: list[dict[str, Any]] = []
        self.images = 0
        self.image_tokens = dict(spec.image_tokens)
        self.notes: list[str] = []
        self.started = time.monotonic()

    def stopped(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def step_spec(self, step: int, last: bool, history: list[dict[str, Any]]) -> CallSpec:
        return dataclasses.replace(
            self.spec,
            new=False,
            history=history,
            extra_messages=list(self.exchange),
            file_turn=False,
            cache=False,
            source=self.spec.source if step == 1 else "agent",
            tool_choice="none" if last else "auto",
            images=self.spec.images + self.images,
            image_tokens=dict(self.image_tokens),
        )

    def answer(self, call: Any) -> ToolResult:
        """Run one tool call; what the model got wrong comes back as the result."""
        if call.name == RUN_CODE and self.runner is not None:
            return self.run_code(call)
        return self.toolbox.call(call.name, call.arguments)

    def run_code(self, call: Any) -> ToolResult:
        try:
            arguments = parse_arguments(RUN_CODE, call.arguments)
            code, why = arguments.get("code"), arguments.get("why", "")
            if not isinstance(code, str) or not code.strip():
                raise ToolProblem(
                    'run_code needs code: a Python cell as a string, e.g. {"code": "df.shape"}.'
                )
        except ToolProblem as problem:
            return ToolResult(str(problem), f"run_code: {short_problem(str(problem))}", failed=True)
        self.view.show()
        assert self.runner is not None
        outcome = self.runner.propose(code, str(why or ""), self.cancel, shown=self.view.prefix())
        self.view.new_segment()
        if outcome.status == "stopped" or self.stopped():
            raise Interrupted(
                "Stopped; the agent's loop ended.", hint="Send the question again to start over."
            )
        result = code_result(self.session, outcome, private=self.spec.private)
        if outcome.status == "interrupted":
            raise Interrupted(
                f"Interrupted while cell [{outcome.cell}] ran; the agent's loop ended.",
                hint="Send the question again to start over.",
            )
        return result

    def take_tools(self, reply: Reply) -> None:
        """Answer a step's calls; the results (and images after them) join the exchange."""
        self.exchange.append(assistant_message(reply))
        self.view.add(reply.text)
        images: list[Any] = []
        for call in reply.tool_calls:
            if self.stopped():
                raise Interrupted(
                    "Stopped; the agent's loop ended.", hint="Send the question again to start over."
                )
            self.calls.append(call)
            result = self.answer(call)
            if call.name != RUN_CODE or self.runner is None:
                self.view.add(tool_line(result, self.view.markdown))
            self.exchange.append({"role": "tool", "tool_call_id": call.id, "content": result.text})
            images.extend(result.images)
        if images:
            self.exchange.append(images_message(images))
            self.images += len(images)
            self.image_tokens.update({part.data_url: part.tokens for part in images})
        self.view.show()

    def file_turn(self, ticket: Ticket, reply: Reply) -> None:
        user, _ = self.session.redactor.redact_value({"role": "user", "content": self.spec.content})
        exchange, _ = self.session.redactor.redact_value(self.exchange)
        self.session.threads.complete(
            ticket,
            user,
            {"role": "assistant", "content": reply.text},
            private=self.spec.private,
            model=reply.model,
            exchange=exchange,
        )


def run_agent(
    session: Session,
    spec: CallSpec,
    view: Any = None,
    cancel: threading.Event | None = None,
    ticket: Ticket | None = None,
    *,
    toolbox: Toolbox,
    runner: CodeRunner | None = None,
) -> Reply:
    """Answer ``spec``'s question letting the model call ``spec.tools``: look-ups through ``toolbox``,
    ``run_code`` through ``runner`` (the chat's agent mode). Returns one Reply for the question (the answer,
    the tokens and cost of every step, every tool call); raises an ``O4Error`` whose ``.reply`` says the same
    when a step fails, the budget refuses a step, or ``cancel`` / an interrupt stops the question.
    """
    agent_view = AgentView(view or NullView())
    loop = _Loop(session, spec, agent_view, cancel, toolbox, runner)
    if spec.new:
        session.threads.reset(spec.thread)
    ticket = ticket or session.threads.begin(spec.thread)
    history = (
        []
        if spec.new
        else session.threads.history(
            spec.thread, session.settings.history_max_tokens, private_only=spec.private
        )
    )
    max_steps = max(1, int(session.settings.agent_max_steps))
    try:
        for step in range(1, max_steps + 1):
            if loop.stopped():
                raise Interrupted(
                    "Stopped; the agent's loop ended.", hint="Send the question again to start over."
                )
            reply = run(session, loop.step_spec(step, step == max_steps, history), agent_view, cancel, ticket)
            loop.replies.append(reply)
            if not reply.tool_calls:
                break
            if step == max_steps:  # the model called tools although told not to: no answer to give
                loop.notes.append(f"⚠️ stopped at the step cap ({max_steps}) with tool calls unanswered")
                loop.calls.extend(reply.tool_calls)
                break
            loop.take_tools(reply)
        if len(loop.replies) == max_steps and max_steps > 1:
            loop.notes.append(f"step cap ({max_steps}) reached")
    except KeyboardInterrupt:
        _fail(
            loop,
            Interrupted("Interrupted; the agent's loop ended.", hint="Run the cell again to start over."),
        )
    except O4Error as error:
        _fail(loop, error)
    total = _total(loop.replies, loop.calls, loop.started, loop.notes)
    loop.file_turn(ticket, total)
    agent_view.conclude(total)
    return total


def _fail(loop: _Loop, error: O4Error) -> None:
    """Draw what the question did before ``error`` (with its total) and raise ``error`` carrying it."""
    failed = getattr(error, "reply", None)
    replies = [*loop.replies, failed] if failed is not None else list(loop.replies)
    if not replies:
        replies = [Reply("", loop.spec.model, status=error.status)]
    total = _total(replies, loop.calls, loop.started, loop.notes)
    total.status, total.error = error.status, loop.session.scrub(str(error))
    if failed is None:
        total.text = ""
    shown = loop.view.conclude(total)
    error.reply = total  # type: ignore[attr-defined]
    error.partial_text = shown
    raise error
