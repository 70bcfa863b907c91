"""One streaming view for every front: a thinking clock, the reasoning summary, throttled markdown, then the
reply with its footer. Where it draws is a sink: a notebook output (``display_id``) or a chat message widget.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from .footer import footer_text
from .render import escape_money, render_markdown
from .throttle import redraw_due

EMPTY_REPLY = "*(the model returned an empty reply)*"
STOPPED_EARLY = "*(stopped before any text)*"


class Sink(Protocol):
    """Where a view draws: ``show`` replaces what is shown with one mime bundle."""

    def show(self, bundle: dict[str, str]) -> None: ...


class NotebookSink:
    """One output of the running cell that grows in place; created at the first draw, so a call refused up
    front leaves no output."""

    def __init__(self) -> None:
        self._handle: Any = None

    def show(self, bundle: dict[str, str]) -> None:
        if self._handle is None:
            from IPython.display import display

            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)


class WidgetSink:
    """A chat message: an ``ipywidgets.Output`` whose ``outputs`` are assigned (safe from a worker thread)."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.shown: tuple[dict[str, Any], ...] = ()

    def show(self, bundle: dict[str, str], *extra: dict[str, str]) -> None:
        self.shown = tuple({"output_type": "display_data", "data": data, "metadata": {}} for data in (bundle, *extra))
        self.out.outputs = self.shown


def reasoning_markdown(reasoning: str, label: str, *, frontend: str, open_: bool) -> str:
    """The reasoning summary as a collapsible block, dimmed and labelled (open while it streams)."""
    body = render_markdown(reasoning, frontend=frontend, streaming=open_)
    quoted = "\n".join("> " + line if line else ">" for line in body.split("\n"))
    state = " open" if open_ else ""
    return f"<details{state}><summary>{label}</summary>\n\n{quoted}\n\n</details>\n\n"


class ReplyView:
    """The engine's ``View``: draws into ``sink`` in ``mode`` ``markdown`` or ``text`` for ``frontend``.

    Throttling, math and money handling, the footer and the status marks live here, once for every front.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        mode: str = "markdown",
        frontend: str = "jupyterlab",
        host: str = "",
        show_reasoning: bool = True,
        stopped_word: str = "interrupted",
        allowed_image_hosts: tuple[str, ...] = (),
    ) -> None:
        self.sink = sink
        self.mode = mode
        self.frontend = frontend
        self.host = host
        self.show_reasoning = show_reasoning
        self.stopped_word = stopped_word
        self.allowed_image_hosts = tuple(allowed_image_hosts)
        self.updates = 0
        self.bytes_sent = 0
        self.final: dict[str, str] | None = None
        self._shown_second = -1
        self._drawn_size = 0

    def _markdown(self, text: str, *, streaming: bool) -> str:
        return render_markdown(
            text, frontend=self.frontend, streaming=streaming, allowed_image_hosts=self.allowed_image_hosts
        )

    def _draw(self, bundle: dict[str, str]) -> None:
        self.updates += 1
        self.bytes_sent += sum(len(value) for value in bundle.values())
        self.sink.show(bundle)

    def thinking(self, elapsed: float) -> None:
        second = int(elapsed)
        if second != self._shown_second:
            self._shown_second = second
            self._draw({"text/markdown": f"*thinking… {second} s*"})

    def reasoning(self, text_so_far: str, elapsed: float) -> None:
        if not self.show_reasoning or self.mode == "text":
            self.thinking(elapsed)
            return
        self._drawn_size = len(text_so_far)
        label = f"Reasoning… {int(elapsed)} s"
        self._draw({"text/markdown": reasoning_markdown(text_so_far, label, frontend=self.frontend, open_=True)})

    def due(self, size: int, seconds_since: float) -> bool:
        return redraw_due(size, self._drawn_size, seconds_since)

    def text(self, text_so_far: str) -> None:
        self._drawn_size = len(text_so_far)
        if self.mode == "text":
            self._draw({"text/plain": text_so_far})
        else:
            self._draw({"text/markdown": self._markdown(text_so_far, streaming=True) + " ▌"})

    def _reasoning_header(self, reply: Any) -> str:
        if not (self.show_reasoning and getattr(reply, "reasoning", "")) or self.mode == "text":
            return ""
        seconds = f" · {reply.reasoning_s:.1f} s" if getattr(reply, "reasoning_s", None) else ""
        label = f"Reasoning · {reply.usage.reasoning_tokens:,} tokens{seconds}"
        return reasoning_markdown(reply.reasoning, label, frontend=self.frontend, open_=False)

    def finish(self, reply: Any, budget_note: str = "") -> None:
        footer = footer_text(reply, host=self.host, budget_note=budget_note, stopped_word=self.stopped_word)
        body = reply.text
        if not body and reply.status in ("ok", "cached"):
            body = EMPTY_REPLY
        elif not body and reply.status == "interrupted":
            body = STOPPED_EARLY
        plain = f"{reply.text}\n\n{footer}".lstrip()
        if self.mode == "text":
            self.final = {"text/plain": f"{body}\n\n{footer}"}
        else:
            markdown = self._markdown(body, streaming=False) if body else ""
            markdown = f"{self._reasoning_header(reply)}{markdown}\n\n<sub>{escape_money(footer, self.frontend)}</sub>"
            self.final = {"text/markdown": markdown.lstrip(), "text/plain": plain}
        self._draw(self.final)

    def fail(self, message: str, partial: bool) -> None:
        """Show an error under what streamed (or alone when nothing did); for sinks that show errors."""
        error = {"text/markdown": f"⚠️ {escape_money(message, self.frontend)}", "text/plain": message}
        if isinstance(self.sink, WidgetSink) and partial and self.final is not None:
            self.sink.show(self.final, error)
        else:
            self.sink.show(error)


def stopped_copy(reply: Any) -> Any:
    """``reply`` marked ok, for a footer that names the stop separately."""
    return dataclasses.replace(reply, status="ok")
