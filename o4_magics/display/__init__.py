"""How replies are shown: linear-time safe markdown for each frontend, one streaming view with sinks (a notebook
output, a chat message), the footer, the terminal."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "ReplyView": "view",
    "NotebookSink": "sinks",
    "WidgetSink": "sinks",
    "render_markdown": "render",
    "detect_frontend": "frontends",
    "TerminalView": "terminal",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
