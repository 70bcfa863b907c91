"""Terminal IPython: the reply printed as plain text as it streams, then the footer (reasoning dimmed)."""

from __future__ import annotations

import sys
from typing import Any

from .footer import footer_text

DIM, RESET = "\033[2m", "\033[0m"


class TerminalView:
    """The engine's ``View`` for a terminal: appends what is new, no redraws."""

    def __init__(self, *, host: str = "", stream: Any = None, show_reasoning: bool = True) -> None:
        self.host = host
        self.out = stream or sys.stdout
        self.show_reasoning = show_reasoning
        self._printed = 0
        self._reasoning_printed = 0

    def thinking(self, elapsed: float) -> None:
        pass

    def reasoning(self, text_so_far: str, elapsed: float) -> None:
        if not self.show_reasoning:
            return
        new = text_so_far[self._reasoning_printed :]
        if new:
            color = self.out.isatty() if hasattr(self.out, "isatty") else False
            self.out.write((DIM + new + RESET) if color else new)
            self.out.flush()
            self._reasoning_printed = len(text_so_far)

    def begin_answer(self, reasoning: str, seconds: float | None) -> None:
        """The answer starts: print the rest of the summary first (what came since the last redraw)."""
        self.reasoning(reasoning, seconds or 0.0)

    def due(self, size: int, seconds_since: float) -> bool:
        return seconds_since >= 0.05

    def text(self, text_so_far: str) -> None:
        if self._reasoning_printed and not self._printed:
            self.out.write("\n\n")
        self.out.write(text_so_far[self._printed :])
        self.out.flush()
        self._printed = len(text_so_far)

    def finish(self, reply: Any, budget_note: str = "") -> None:
        if not self._printed and getattr(reply, "reasoning", ""):  # a reply too quick for any redraw
            self.reasoning(reply.reasoning, 0.0)
        self.text(reply.text)
        self.out.write("\n\n" + footer_text(reply, host=self.host, budget_note=budget_note) + "\n")
        self.out.flush()


def is_terminal(shell: Any) -> bool:
    """True in terminal IPython, where markdown would not render."""
    return type(shell).__name__ == "TerminalInteractiveShell"
