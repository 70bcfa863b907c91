"""The emulator's reply texts, their split into streamed pieces, and the message that steers a reply."""

from __future__ import annotations

import json
import re
from typing import Any

from .directives import strip_directives
from .faults import strip_markers

_PIECE = re.compile(r"^\s+|\S+\s*")
#: piece lengths (in characters) of verbatim replies, used in turn
_CUT_CYCLE = (1, 3, 2, 5, 1, 8, 4, 1, 2, 7, 3, 6)
_CUT_AFTER = frozenset("\\$<")
_VOCABULARY = (
    "the model reads each cell and answers with care while tokens stream into the notebook "
    "so a long reply keeps arriving in small pieces that render as markdown paragraphs "
    "with numbers arrays frames plots errors and context gathered from your variables"
).split()


def split_pieces(text: str) -> list[str]:
    """Split ``text`` into streamed pieces: words with their trailing whitespace (joins back to ``text``)."""
    return _PIECE.findall(text)


def split_anywhere(text: str) -> list[str]:
    """Split ``text`` into pieces of 1 to 8 characters in a fixed cycle, also cutting right after every ``\\``,
    ``$``, ``<`` and non-ASCII character: so pieces split math, escapes, HTML tags and grapheme clusters
    (emoji sequences, combining marks), though never one code point, which JSON cannot carry alone."""
    pieces, start, turn = [], 0, 0
    while start < len(text):
        end = min(len(text), start + _CUT_CYCLE[turn % len(_CUT_CYCLE)])
        for position in range(start, end):
            if text[position] in _CUT_AFTER or not text[position].isascii():
                end = position + 1
                break
        pieces.append(text[start:end])
        start, turn = end, turn + 1
    return pieces


def message_text(content: Any) -> str:
    """The text of one message's ``content`` (a string, or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def steering_index(messages: list[Any]) -> int | None:
    """Index of the user message whose markers steer the reply: the last user message, skipping those that
    only carry tool results (user messages that follow ``tool`` messages before any assistant message)."""
    found, last_user, after_tool = None, None, False
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "user":
            last_user = index
            if not after_tool:
                found = index
        elif role == "tool":
            after_tool = True
        elif role is not None:
            after_tool = False
    return found if found is not None else last_user


def message_text_at(messages: list[Any], index: int | None) -> str:
    """The text of ``messages[index]`` ("" when index is None)."""
    return "" if index is None else message_text(messages[index].get("content"))


def quote(text: str, limit: int = 60) -> str:
    """The start of ``text`` on one line, without markers, at most ``limit`` characters."""
    line = " ".join(strip_directives(strip_markers(text)).split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:") + "…"


def default_reply(prompt_text: str) -> str:
    """The deterministic markdown reply: heading, quote, list, code block, inline and display math."""
    asked = quote(prompt_text) or "(no text)"
    return (
        "## Offline answer\n\n"
        f'You asked: "{asked}". This reply comes from the offline emulator, so it is the same every time.\n\n'
        "- It streams word by word, like o4-mini through OpenRouter.\n"
        "- Usage and cost arrive in the last chunk.\n"
        "- Nothing here left your machine.\n\n"
        "```python\n"
        "def triangle(n: int) -> int:\n"
        "    return n * (n + 1) // 2\n"
        "```\n\n"
        "Euler's identity \\( e^{i\\pi} + 1 = 0 \\) links five constants, and the code above computes\n\n"
        "\\[ \\sum_{k=1}^n k = \\frac{n(n+1)}{2} \\]\n"
    )


def json_reply(prompt_text: str) -> str:
    """The reply when ``response_format`` asks for a JSON object."""
    return json.dumps({"answer": quote(prompt_text) or "(no text)", "items": [1, 2, 3]})


def long_reply(words: int) -> str:
    """A deterministic markdown reply of exactly ``words`` words, in paragraphs of up to 60 words."""
    out: list[str] = []
    for index in range(words):
        word = _VOCABULARY[(index * 7 + index // len(_VOCABULARY)) % len(_VOCABULARY)]
        if index % 12 == 0:
            word = word.capitalize()
        if index % 12 == 11 or index == words - 1:
            word += "."
        last = index == words - 1
        out.append(word + ("" if last else "\n\n" if index % 60 == 59 else " "))
    return "".join(out)
