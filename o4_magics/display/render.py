"""A reply's markdown for the frontend at hand (the one place views ask): math, money, safety, open fences."""

from __future__ import annotations

from .markdown import escape_money as _escape_money
from .markdown import to_display_markdown


def render_markdown(
    text: str, *, frontend: str = "jupyterlab", streaming: bool = False, allowed_image_hosts: tuple[str, ...] = ()
) -> str:
    """``text`` (untrusted model output, or a user's chat message) as markdown that renders right and inert in
    ``frontend``: no remote fetch, no script (see ``display.markdown``)."""
    return to_display_markdown(
        text, frontend=frontend, streaming=streaming, allowed_image_hosts=tuple(allowed_image_hosts)
    )


def escape_money(text: str, frontend: str = "jupyterlab") -> str:
    """Our own plain text (the footer, error lines) with its dollar amounts shown as dollars, never as math."""
    return _escape_money(text, frontend)
