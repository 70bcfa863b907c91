"""Where a streaming reply's blocks are finished, and how to close the one still open at its end."""

from __future__ import annotations

from typing import Any

from ..markdown.parser import parse
from .edits import Source


def normalize(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")


def fence_closer(source: Source, tokens: list[Any]) -> str:
    """A closing fence for a fence left open at the very end, with its container prefix."""
    for token in reversed(tokens):
        if token.type != "fence" or not token.map:
            continue
        if token.map[1] < len(source.lines):
            return ""
        last = source.lines[token.map[1] - 1].strip(" >")
        if (
            token.map[1] - token.map[0] > 1
            and last.startswith(token.markup)
            and not last.strip(token.markup[0])
        ):
            return ""
        opener = source.lines[token.map[0]]
        prefix = opener[: opener.find(token.markup)]
        prefix = "".join(ch if ch in "> " else " " for ch in prefix)
        return "\n" + prefix + token.markup
    return ""


def math_closer(text: str) -> str:
    """A closer for display math opened in the last paragraph and not closed yet (streaming)."""
    tail = text[text.rfind("\n\n") + 2 :] if "\n\n" in text else text
    first = tail.split("\n", 1)[0].lstrip(" >")
    for opener, closer in (("$$", "$$"), ("\\[", "\\]")):
        if first.startswith(opener):
            body = tail[len(tail) - len(tail.lstrip(" >")) + len(opener) :]
            return "" if closer in body else "\n" + closer
    if first.startswith("\\begin{"):
        name = first[7 : first.find("}")] if "}" in first else ""
        if name and "\\end{" + name + "}" not in tail:
            return "\n\\end{" + name + "}"
    return ""


def settled_prefix_length(text: str) -> int:
    """An offset ``k`` at a top-level block boundary after which the text before it renders the same alone.

    ``k`` is the start of the last top-level block that follows a blank line and a block that nothing later
    can extend (not a list or an indented code block); 0 when there is none, or when the
    reply uses link reference definitions (a later definition changes earlier links)."""
    source_text = normalize(text)
    if source_text != text:
        return 0
    tokens, env = parse(source_text)
    if env.get("references"):
        return 0
    source = Source(source_text)
    best = 0
    previous_kind = ""
    previous_end = -1
    for token in tokens:
        if token.level != 0 or not token.map or token.nesting == -1:
            continue
        start = token.map[0]
        extendable = previous_kind in ("bullet_list_open", "ordered_list_open", "code_block")
        if previous_end != -1 and start > previous_end and not extendable:
            if not source.lines[start - 1].strip():
                best = source.starts[start]
        previous_kind, previous_end = token.type, token.map[1]
    return best
