"""Reading a reply's markdown, shared by the call (``-f json`` / ``-f code``) and the display: markdown-it-py
with linear-time math rules, and what callers take out of a reply (code blocks, JSON)."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "code_blocks": "extract",
    "parse_json_reply": "extract",
    "parse": "parser",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
