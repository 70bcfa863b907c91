"""Reading a reply's markdown, shared by the call (``-f json`` / ``-f code``) and the display: markdown-it-py
with linear-time math rules, and what callers take out of a reply (code blocks, JSON)."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "code_blocks": "extract",
    "parse_json_reply": "extract",
    "parse": "parser",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)
