"""Text transforms on a reply's markdown: o-series math delimiters to Jupyter's, code extraction, JSON."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)
_CODE_SPLIT = re.compile(r"(^```.*?(?:^```[ \t]*$|\Z)|^~~~.*?(?:^~~~[ \t]*$|\Z)|`[^`\n]*`)", re.MULTILINE | re.DOTALL)
_DISPLAY_MATH = re.compile(r"\\\[(.+?)\\\]", re.DOTALL)
_INLINE_MATH = re.compile(r"\\\((.+?)\\\)", re.DOTALL)
_CODE_BLOCK = re.compile(r"^```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:^```[ \t]*$|\Z)", re.MULTILINE | re.DOTALL)


def jupyter_math(markdown: str) -> str:
    """Rewrite ``\\( \\)`` and ``\\[ \\]`` as ``$ $`` and ``$$ $$`` outside code, so Jupyter renders them."""
    pieces = _CODE_SPLIT.split(markdown)
    for index in range(0, len(pieces), 2):  # even indexes are outside code
        text = _DISPLAY_MATH.sub(lambda m: f"$${m.group(1).strip()}$$", pieces[index])
        pieces[index] = _INLINE_MATH.sub(lambda m: f"${m.group(1).strip()}$", text)
    return "".join(pieces)


def code_blocks(markdown: str, preferred: tuple[str, ...] = ("python", "py", "")) -> list[str]:
    """The fenced code blocks of a reply, those in ``preferred`` languages first."""
    found = [(m.group(1).lower(), m.group(2).rstrip("\n")) for m in _CODE_BLOCK.finditer(markdown)]
    best = [code for lang, code in found if lang in preferred]
    return best or [code for _, code in found]


def parse_json_reply(text: str) -> Any:
    """Parse a JSON reply, tolerating a fenced ```json block around it; raises ValueError if it is not JSON."""
    stripped = text.strip()
    if stripped.startswith("```"):
        blocks = code_blocks(stripped, preferred=("json", ""))
        stripped = blocks[0] if blocks else stripped
    return json.loads(stripped)


def close_open_fence(markdown: str) -> str:
    """Close a code fence left open mid-stream so the partial render does not swallow what follows."""
    if len(_FENCE.findall(markdown)) % 2:
        return markdown + "\n```"
    return markdown
