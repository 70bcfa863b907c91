"""Directives in the steering user message that say what a reply holds: reasoning, tool calls, verbatim text."""

# Unlike fault markers (faults.py), they shape the reply's content:
#   [[reasoning]] / [[reasoning:N]] / [[reasoning:summary:N]]  a readable summary of N words (default 40),
#       streamed before the answer as ``reasoning`` + ``reasoning.summary`` details (o4-mini's shape)
#   [[reasoning:encrypted]]  one ``reasoning.encrypted`` item, no readable text (``reasoning`` null)
#   [[reasoning:text]] / [[reasoning:text:N]]  ``reasoning.text`` items, as other models send
#   [[reasoning:off]]  no reasoning for this request, whatever ``Emulator(reasoning_summaries=...)`` says
#   [[call:NAME]] / [[call:NAME:{"json": "args"}]]  one step of tool calls (when the request has ``tools``);
#       several directives run in order, one step per request; [[call:a|b:{...}]] makes two calls in one step;
#       [[call:NAME:badjson]] sends arguments that are not valid JSON
#   [[verbatim]]  the reply is exactly the rest of the message after the marker (markers there are text)

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

VERBATIM = "[[verbatim]]"
#: the arguments ``[[call:NAME:badjson]]`` sends: a JSON object cut short
BAD_ARGUMENTS = '{"path": "data.csv", "rows": '
DEFAULT_REASONING_WORDS = 40
REASONING_KINDS = ("summary", "encrypted", "text", "off")

_REASONING = re.compile(r"\[\[reasoning(?::([A-Za-z0-9:]*))?\]\]")
_CALL_OPEN = "[[call:"
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DECODER = json.JSONDecoder()


class DirectiveError(ValueError):
    """A directive was recognised but its argument makes no sense."""


@dataclass(frozen=True)
class ReasoningSpec:
    """What reasoning to send before the answer: a kind and, for readable kinds, a word count."""

    kind: str = "summary"
    words: int = DEFAULT_REASONING_WORDS

    @classmethod
    def parse(cls, text: str) -> ReasoningSpec:
        """Read ``""``, ``"N"``, ``"summary:N"``, ``"text"``, ``"text:N"``, ``"encrypted"`` or ``"off"``."""
        parts = [part for part in text.split(":") if part]
        kind = parts.pop(0) if parts and not parts[0].isdigit() else "summary"
        if kind not in REASONING_KINDS:
            raise DirectiveError(f"reasoning kind {kind!r} is not one of {', '.join(REASONING_KINDS)}")
        if len(parts) > 1 or (parts and not parts[0].isdigit()):
            raise DirectiveError(f"reasoning:{text}: expected a word count, e.g. [[reasoning:{kind}:60]]")
        if parts and kind in ("encrypted", "off"):
            raise DirectiveError(f"reasoning:{text}: {kind} takes no word count")
        return cls(kind, int(parts[0]) if parts else DEFAULT_REASONING_WORDS)


@dataclass(frozen=True)
class CallSpec:
    """One tool call to make: the function's name and the exact ``arguments`` string to send."""

    name: str
    arguments: str = "{}"


@dataclass
class Directives:
    """The directives of one message, in the order they appear (the last reasoning directive wins)."""

    reasoning: ReasoningSpec | None = None
    steps: list[list[CallSpec]] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)

    @property
    def marker_text(self) -> str | None:
        """The directives joined, as recorded on the request (None when there are none)."""
        return "".join(self.markers) or None


def split_verbatim(text: str) -> tuple[str, str | None]:
    """``text`` before ``[[verbatim]]`` and the verbatim reply after it (None without the marker)."""
    head, marker, rest = text.partition(VERBATIM)
    return head, rest if marker else None


def find_directives(text: str) -> Directives:
    """Every directive in ``text`` (which must not hold the verbatim part). Raises DirectiveError."""
    directives, _ = _scan(text)
    return directives


def strip_directives(text: str) -> str:
    """``text`` without its directives, so that replies never echo them (unchanged if one is malformed)."""
    try:
        _, spans = _scan(text)
    except DirectiveError:
        return text
    out, position = [], 0
    for start, end in spans:
        out.append(text[position:start])
        position = end
    return "".join(out) + text[position:]


def _scan(text: str) -> tuple[Directives, list[tuple[int, int]]]:
    directives = Directives()
    found: list[tuple[int, int, str]] = []
    for match in _REASONING.finditer(text):
        directives.reasoning = ReasoningSpec.parse(match.group(1) or "")
        found.append((match.start(), match.end(), match.group(0)))
    start = text.find(_CALL_OPEN)
    while start >= 0:
        step, end = _parse_step(text, start)
        directives.steps.append(step)
        found.append((start, end, text[start:end]))
        start = text.find(_CALL_OPEN, end)
    found.sort()
    directives.markers = [marker for _, _, marker in found]
    return directives, [(start, end) for start, end, _ in found]


def _parse_step(text: str, start: int) -> tuple[list[CallSpec], int]:
    """Parse ``[[call:a:{...}|b]]`` at ``start``; returns the calls and the index after ``]]``."""
    calls, position = [], start + len(_CALL_OPEN)
    while True:
        name = _TOOL_NAME.match(text, position)
        if name is None:
            raise DirectiveError(f"{text[start : start + 40]!r}: expected a tool name after 'call:'")
        position, arguments = name.end(), "{}"
        if text.startswith(":", position):
            position, arguments = _parse_arguments(text, position + 1, start)
        calls.append(CallSpec(name.group(), arguments))
        position = _skip_spaces(text, position)
        if text.startswith("|", position):
            position = _skip_spaces(text, position + 1)
            continue
        if text.startswith("]]", position):
            return calls, position + 2
        raise DirectiveError(f"{text[start : position + 10]!r}: expected '|' or ']]' after a call")


def _parse_arguments(text: str, position: int, start: int) -> tuple[int, str]:
    if text.startswith("badjson", position):
        return position + len("badjson"), BAD_ARGUMENTS
    try:
        value, end = _DECODER.raw_decode(text, position)
    except (ValueError, RecursionError):
        raise DirectiveError(
            f"{text[start : position + 20]!r}: arguments must be a JSON object or 'badjson'"
        ) from None
    if not isinstance(value, dict):
        raise DirectiveError(f"{text[start:end]!r}: arguments must be a JSON object")
    return end, text[position:end]


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position] == " ":
        position += 1
    return position
