"""How a reply looks: one display that grows in place (throttled), a thinking line, a footer, text in terminals."""

from __future__ import annotations

import sys
import time
from typing import Any
from urllib.parse import urlparse

from ..call.settings import OPENROUTER_BASE_URL
from ..markdown import close_open_fence, jupyter_math

#: Redraws are at most this frequent (about 10 a second).
MIN_INTERVAL_S = 0.1
#: Past this size a redraw also waits until the text grew by GROWTH_STEP of itself, so the bytes sent while
#: streaming stay within about (1 + 1/GROWTH_STEP) times the final reply, however slowly it streams.
SMALL_TEXT = 4096
GROWTH_STEP = 0.02

STATUS_MARKS = {
    "error": "⚠️ reply failed",
    "incomplete": "⚠️ reply incomplete",
    "interrupted": "⏹ interrupted",
    "cached": "cached",
}


def footer_text(reply: Any, *, base_url: str = OPENROUTER_BASE_URL, budget_note: str = "") -> str:
    """One line under a reply: model, tokens by kind, cost, seconds, and any status mark."""
    usage = reply.usage
    parts = [
        reply.model,
        f"{usage.prompt_tokens:,} in ({usage.cached_tokens:,} cached)",
        f"{usage.completion_tokens:,} out ({usage.reasoning_tokens:,} reasoning)",
        f"${usage.cost_usd:.5f}" + (" estimated" if usage.cost_source == "estimated" else ""),
        f"{reply.latency_s:.1f} s",
    ]
    if reply.finish_reason == "length":
        parts.append("⚠️ cut at the token limit: raise --max-tokens")
    mark = STATUS_MARKS.get(reply.status)
    if mark:
        parts.append(mark)
    if base_url.rstrip("/") != OPENROUTER_BASE_URL:
        parts.append(f"via {urlparse(base_url).netloc or base_url}")
    if budget_note:
        parts.append(budget_note)
    parts.extend(getattr(reply, "notes", []))
    return " · ".join(parts)


def escape_dollars(text: str) -> str:
    """Dollar amounts in markdown, escaped so two of them never pair up as LaTeX math.

    JupyterLab needs a doubled backslash: markdown turns ``\\\\$`` into ``\\$``, which MathJax then shows
    as a plain ``$`` (a single backslash, an HTML entity or a span do not survive; checked in Chromium)."""
    return text.replace("$", "\\\\$")


def redraw_due(size: int, last_size: int, seconds_since: float) -> bool:
    """Whether a streaming display should redraw now (see MIN_INTERVAL_S and GROWTH_STEP)."""
    if seconds_since < MIN_INTERVAL_S:
        return False
    return size <= SMALL_TEXT or size >= last_size * (1 + GROWTH_STEP)


class MarkdownView:
    """Streams a reply into one ``display_id`` output as markdown; the final render adds the footer."""

    def __init__(self, *, base_url: str = OPENROUTER_BASE_URL, mode: str = "markdown", budget_note: str = "") -> None:
        self.base_url = base_url
        self.mode = mode  # markdown | text
        self.budget_note = budget_note
        self.updates = 0
        self.bytes_sent = 0
        self._shown_second = -1
        self._drawn_size = 0
        self._handle: Any = None  # displayed at the first draw, so a call refused up front leaves no output

    def _bundle(self, markdown_text: str, plain_text: str) -> dict[str, str]:
        if self.mode == "text":
            return {"text/plain": plain_text or markdown_text}
        if not plain_text:  # while streaming, markdown only: the plain copy is sent once, at the end
            return {"text/markdown": markdown_text}
        return {"text/markdown": markdown_text, "text/plain": plain_text}

    def _draw(self, markdown_text: str, plain_text: str = "") -> None:
        bundle = self._bundle(markdown_text, plain_text)
        self.updates += 1
        self.bytes_sent += sum(len(value) for value in bundle.values())
        if self._handle is None:
            from IPython.display import display

            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def thinking(self, elapsed: float) -> None:
        second = int(elapsed)
        if second != self._shown_second:
            self._shown_second = second
            self._draw(f"*thinking… {second} s*", "")

    def due(self, size: int, seconds_since: float) -> bool:
        return redraw_due(size, self._drawn_size, seconds_since)

    def text(self, text_so_far: str) -> None:
        self._drawn_size = len(text_so_far)
        if self.mode == "text":
            self._draw(text_so_far, text_so_far)
        else:
            self._draw(close_open_fence(jupyter_math(text_so_far)) + " ▌", "")

    def finish(self, reply: Any) -> None:
        footer = footer_text(reply, base_url=self.base_url, budget_note=self.budget_note)
        body = reply.text
        if not body and reply.status == "ok":
            body = "*(the model returned an empty reply)*"
        if self.mode == "text":
            self._draw(f"{body}\n\n{footer}", f"{body}\n\n{footer}")
            return
        markdown_text = close_open_fence(jupyter_math(body)) if body else ""
        footer_markdown = escape_dollars(footer)
        self._draw(f"{markdown_text}\n\n<sub>{footer_markdown}</sub>".lstrip(), f"{body}\n\n{footer}".lstrip())


class TerminalView:
    """Terminal IPython: print the reply as it streams (plain text), then the footer."""

    def __init__(self, *, base_url: str = OPENROUTER_BASE_URL, stream: Any = None, budget_note: str = "") -> None:
        self.base_url = base_url
        self.budget_note = budget_note
        self.out = stream or sys.stdout
        self._printed = 0
        self._thinking_since = time.monotonic()

    def thinking(self, elapsed: float) -> None:
        pass

    def due(self, size: int, seconds_since: float) -> bool:
        return seconds_since >= 0.05

    def text(self, text_so_far: str) -> None:
        self.out.write(text_so_far[self._printed :])
        self.out.flush()
        self._printed = len(text_so_far)

    def finish(self, reply: Any) -> None:
        self.text(reply.text)
        self.out.write("\n\n" + footer_text(reply, base_url=self.base_url, budget_note=self.budget_note) + "\n")
        self.out.flush()


def is_terminal(shell: Any) -> bool:
    """True in terminal IPython, where markdown would not render."""
    return type(shell).__name__ == "TerminalInteractiveShell"
