"""How replies are shown: linear-time safe markdown for each frontend, one streaming view with sinks (a notebook
output, a chat message), the footer, the terminal."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ReplyView": "view",
    "NotebookSink": "view",
    "WidgetSink": "view",
    "render_markdown": "render",
    "detect_frontend": "frontends",
    "TerminalView": "terminal",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)
