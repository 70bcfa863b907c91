"""Which view a magic's reply streams into: the notebook's markdown output, plain text, or a terminal."""

from __future__ import annotations

from typing import Any

from ..call.endpoint import display_host
from ..call.settings import OPENROUTER_BASE_URL
from ..display.sinks import NotebookSink
from ..display.terminal import TerminalView, is_terminal
from ..display.view import ReplyView


def server_host(settings: Any) -> str:
    """The server to name in footers ("via HOST"), or "" for OpenRouter itself."""
    url = settings.resolved_base_url()
    return "" if url == OPENROUTER_BASE_URL else display_host(url)


def frontend_of(shell: Any) -> str:
    """The frontend the kernel serves, for per-frontend markdown (see ``display.frontends``)."""
    from ..display.frontends import detect_frontend

    return detect_frontend(shell)


def make_view(magics: Any, spec: Any) -> Any:
    """A terminal printer in terminal IPython, else one growing notebook output."""
    host = server_host(magics)
    if is_terminal(magics.shell):
        return TerminalView(host=host, show_reasoning=spec.show_reasoning)
    capture = getattr(magics, "capture", None)
    may_clear = getattr(capture, "only_this_call_showed", None)
    return ReplyView(
        NotebookSink(may_clear),
        mode="text" if spec.format == "text" else "markdown",
        frontend=frontend_of(magics.shell),
        host=host,
        show_reasoning=spec.show_reasoning,
        allowed_image_hosts=tuple(magics.allowed_image_hosts),
    )
