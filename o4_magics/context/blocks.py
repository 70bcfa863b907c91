"""Labelled prompt blocks and fitting them into a token budget (cut low-priority sections first, say so)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..errors import ContextError
from .tokens import estimate_tokens

__all__ = ["Block", "ContextError", "Section", "fit_block"]




@dataclass(frozen=True)
class Block:
    """One attached value as prompt text: a ``### name (type, shape)`` label line and a bounded body."""

    name: str
    label: str
    text: str
    tokens: int
    truncated: bool


@dataclass
class Section:
    """A titled run of lines; the budget shortens or drops sections with a higher ``rank`` first.

    ``lines[:split]`` are the head and ``lines[split:]`` the tail; ``omitted`` units of ``what`` already sit
    between them (rows of a big frame never shown), and shortening moves more lines into that gap. ``header``
    and ``footer`` lines (a CSV header, code fences) always stay. Rank 0 sections are shortened, never dropped;
    ``floor`` lines are kept until every section has been shortened to its floor.
    """

    title: str
    lines: list[str]
    rank: int = 0
    what: str = "lines"
    split: int | None = None
    omitted: int = 0
    header: list[str] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)
    floor: int = 0

    def render(self) -> list[str]:
        """The section's lines as they appear in the block (title, header, head, gap note, tail, footer)."""
        split = len(self.lines) if self.split is None else self.split
        out = [self.title] if self.title else []
        out += self.header + self.lines[:split]
        if self.omitted:
            out.append(f"[... {self.omitted:,} more {self.what} not shown]")
        return out + self.lines[split:] + self.footer

    def shortened(self, keep: int) -> Section:
        """A copy keeping ``keep`` lines, split between head and tail in proportion, the rest counted."""
        total = len(self.lines)
        split = total if self.split is None else self.split
        head_n = min(split, math.ceil(keep * split / total)) if total else 0
        tail_n = min(total - split, keep - head_n)
        head_n = keep - tail_n
        lines = self.lines[:head_n] + (self.lines[total - tail_n :] if tail_n else [])
        return replace(self, lines=lines, split=head_n, omitted=self.omitted + total - keep)


def make_label(name: str, description: str) -> str:
    """The block's header line: ``### name (description)`` (each part cut to 200 characters)."""
    description = short(description, 200)
    return f"### {short(name, 200)} ({description})" if name else f"### {description}"


def fit_block(
    name: str, label: str, sections: list[Section], max_tokens: int, truncated: bool = False
) -> Block:
    """Join label and sections within ``max_tokens`` estimated tokens, cutting high-rank sections first.

    First every section is shortened, highest rank first, but not below its ``floor`` lines; if that is not
    enough, sections are shortened further and (rank > 0) dropped, again highest rank first; a hard cut of the
    text is the last resort. Every cut is said in the text.
    """
    max_tokens = max(1, int(max_tokens))
    sections = [s for s in sections if s.lines or s.header or s.omitted]
    truncated = truncated or any(s.omitted for s in sections)
    dropped: list[str] = []

    def compose(parts: list[Section]) -> str:
        lines = [label]
        for part in parts:
            lines += part.render()
        if dropped:
            lines.append(f"[{', '.join(dropped)} omitted to fit the {max_tokens:,}-token budget]")
        return "\n".join(lines)

    def fits(parts: list[Section]) -> bool:
        return estimate_tokens(compose(parts)) <= max_tokens

    if fits(sections):
        text = compose(sections)
        return Block(name, label, text, estimate_tokens(text), truncated)
    order = sorted(range(len(sections)), key=lambda i: -sections[i].rank)
    for final_pass in (False, True):
        for index in order:
            current = sections[index]
            if current.rank == 0 and not final_pass:
                continue
            floor = 0 if final_pass else min(current.floor, len(current.lines))

            def trial(keep: int, index: int = index, current: Section = current) -> bool:
                return fits(sections[:index] + [current.shortened(keep)] + sections[index + 1 :])

            keep = max(floor, _largest_passing(trial, floor, len(current.lines)))
            if keep == 0 and current.rank > 0 and final_pass:
                dropped.append(current.title.split(" (")[0].rstrip(":") or current.what)
                sections[index] = Section("", [])
            elif keep < len(current.lines):
                sections[index] = current.shortened(keep)
            if fits(sections):
                text = compose(sections)
                return Block(name, label, text, estimate_tokens(text), True)
    text = cut_text_to_budget(compose(sections), max_tokens)
    return Block(name, label, text, estimate_tokens(text), True)


def _largest_passing(trial: Callable[[int], bool], low: int, high: int) -> int:
    """The largest ``n`` in ``[low, high]`` with ``trial(n)`` true, assuming monotony (``low`` if none)."""
    while low < high:
        middle = (low + high + 1) // 2
        if trial(middle):
            low = middle
        else:
            high = middle - 1
    return low


def cut_text_to_budget(text: str, max_tokens: int, note: str = "[... cut to fit the token budget]") -> str:
    """The most whole lines of ``text`` (plus ``note``) that fit ``max_tokens``; last resort only."""
    if estimate_tokens(text) <= max_tokens:
        return text
    lines = text.split("\n")
    count = _largest_passing(
        lambda n: estimate_tokens("\n".join([*lines[:n], note])) <= max_tokens, 0, len(lines)
    )
    if count:
        return "\n".join([*lines[:count], note])
    return text[: _largest_passing(lambda n: estimate_tokens(text[:n]) <= max_tokens, 0, len(lines[0]))]


def head_tail_text(text: str, max_chars: int) -> tuple[str, int]:
    """Keep about ``max_chars`` of ``text``: its head and tail around a ``[... N chars not shown]`` note."""
    if len(text) <= max_chars:
        return text, 0
    head = max_chars * 2 // 3
    tail = max_chars - head
    omitted = len(text) - head - tail
    tail_text = f"\n{text[len(text) - tail :]}" if tail else ""
    return f"{text[:head]}\n[... {omitted:,} more chars not shown]{tail_text}", omitted


def fit_text(text: str, budget_tokens: int) -> tuple[str, int]:
    """Cut ``text`` to head and tail so its estimate fits ``budget_tokens``; returns (text, chars omitted)."""
    limit = max(64, budget_tokens * 16)  # no real text packs more than ~16 characters into a token
    if len(text) <= limit and estimate_tokens(text) <= budget_tokens:
        return text, 0
    fitting = _largest_passing(
        lambda n: estimate_tokens(head_tail_text(text, n)[0]) <= budget_tokens, 0, min(len(text), limit)
    )
    return head_tail_text(text, fitting)


def short(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters, marking the cut with an ellipsis."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt_number(value: object) -> str:
    """A compact number: integers as they are, big floats rounded, others to 4 significant digits."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return short(str(value))
    if math.isnan(number) or math.isinf(number):
        return str(number)
    if abs(number) < 1e15 and (number.is_integer() or abs(number) >= 1e4):
        return str(round(number))
    return f"{number:.4g}"


def type_name(cls: type) -> str:
    """A readable qualified name: ``pandas.DataFrame``, ``numpy.ndarray``, ``dict``, ``mypkg.mod.Thing``."""
    module = getattr(cls, "__module__", "") or ""
    qualname = getattr(cls, "__qualname__", getattr(cls, "__name__", "?"))
    if module == "builtins":
        return qualname
    parts = module.split(".")
    if any(part.startswith("_") or part == "core" for part in parts[1:]):
        return f"{parts[0]}.{qualname}"
    return f"{module}.{qualname}"


def fmt_bytes(size: int) -> str:
    """A byte count for people: ``512 B``, ``7.6 MB``, ``1.0 GB``."""
    amount = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if amount < 1000 or unit == "TB":
            return f"{int(amount)} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{size} B"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 item``, ``3 items``, ``1,000 items`` (``many`` for irregular plurals)."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"
