"""What callers take out of a reply: its fenced code blocks (for -f code) and its JSON (for -f json)."""

from __future__ import annotations

import json
from typing import Any


def _fences(markdown: str) -> list[tuple[str, str]]:
    """Every fenced code block, as (language in lowercase, code), at any depth (lists, quotes) and either fence."""
    from .parser import parse

    tokens, _ = parse(markdown)
    return [
        ((token.info.split() or [""])[0].lower(), token.content.rstrip("\n"))
        for token in tokens
        if token.type == "fence"
    ]


def code_blocks(
    markdown: str, preferred: tuple[str, ...] = ("python", "py", "ipython", "")
) -> list[tuple[str, str]]:
    """The reply's fenced code blocks as ``(lang, code)``: those in ``preferred`` languages when there are
    any, else all of them (callers refuse a language they cannot run, e.g. ``bash`` for a Python cell)."""
    found = _fences(markdown)
    best = [block for block in found if block[0] in preferred]
    return best or found


def _balanced_json(text: str) -> Any:
    """The first balanced top-level ``{...}`` or ``[...]`` in ``text`` that parses, in one linear scan."""
    depth, start, quote, escaped = 0, -1, False, False
    for index, char in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quote = False
        elif char == '"' and depth:
            quote = True
        elif char in "{[":
            if depth == 0:
                start = index
            depth += 1
        elif char in "}]" and depth:
            depth -= 1
            if depth == 0:
                try:
                    return json.loads(text[start : index + 1])
                except ValueError:
                    continue
    raise ValueError("no JSON object or array in the reply")


def parse_json_reply(text: str) -> Any:
    """The reply's JSON: the whole text, else the first ```json (or unlabelled) fenced block that parses,
    else the first balanced top-level ``{...}``/``[...]`` that parses; ValueError with a short reason if none."""
    stripped = text.strip()
    if not stripped:
        raise ValueError("the reply is empty")
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    for lang, code in _fences(text):
        if lang in ("json", "jsonc", "json5", ""):
            try:
                return json.loads(code)
            except ValueError:
                continue
    return _balanced_json(text)
