"""A widget shown with a static copy in the same display: where no widget manager runs (nbconvert HTML, GitHub's
viewer, a notebook opened without its kernel) readers see the copy, not "Loading widget…" or a model id.
"""

from __future__ import annotations

import html
import uuid
from typing import Any

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: The copy's container: MathJax (nbconvert's page, JupyterLab's HTML outputs) must not read "$1 … $2" as math.
STATIC_CLASS = "o4-static tex2jax_ignore mathjax_ignore"


def widget_bundle(widget: Any, static_html: str, static_text: str) -> dict[str, Any]:
    """One display bundle: ``widget``'s view (the same for ipywidgets 7 and 8), then its static HTML and text."""
    return {
        WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": widget.model_id},
        "text/html": f'<div class="{STATIC_CLASS}">{static_html}</div>',
        "text/plain": static_text,
    }


def preformatted(text: str) -> str:
    """``text`` as HTML that keeps its lines and shows every character as typed (nothing is interpreted)."""
    return f'<div style="white-space:pre-wrap;overflow-wrap:anywhere">{html.escape(text)}</div>'


class StaticCopy:
    """Displays ``widget`` with a static copy, and brings the copy up to date on ``update`` when it changed.

    An update re-renders the live view in the frontend (a new view of the same model), so the fronts call it
    after a cell has run, never while the user may be typing into the widget.
    """

    def __init__(self, widget: Any) -> None:
        self.widget = widget
        self.display_id = uuid.uuid4().hex
        self.shown: tuple[str, str] | None = None

    def show(self, static_html: str, static_text: str) -> None:
        from IPython.display import display

        display(widget_bundle(self.widget, static_html, static_text), raw=True, display_id=self.display_id)
        self.shown = (static_html, static_text)

    def update(self, static_html: str, static_text: str) -> bool:
        """Send the copy again if it differs from what was last sent; True if it was sent."""
        if self.shown is None or self.shown == (static_html, static_text):
            return False
        from IPython.display import update_display

        update_display(
            widget_bundle(self.widget, static_html, static_text), raw=True, display_id=self.display_id
        )
        self.shown = (static_html, static_text)
        return True
