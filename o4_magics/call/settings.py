"""The settings every front end reads: traitlets on ``O4Magics`` (``%config O4Magics.<name> = value``)."""

from __future__ import annotations

import os

from traitlets import Bool, CaselessStrEnum, Float, Int, Unicode
from traitlets.config import Configurable

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
DEFAULT_MODEL = "openai/o4-mini"
DEFAULT_SYSTEM_PROMPT = (
    "You are o4-mini, answering inside a Jupyter notebook for a data scientist. "
    "Be concise and concrete. Use Markdown; put code in fenced blocks with a language tag; "
    "write math as LaTeX."
)


class O4Settings(Configurable):
    """Every configurable setting of o4-magics, with its default (mixed into ``O4Magics``)."""

    model = Unicode(DEFAULT_MODEL, help="OpenRouter model id.").tag(config=True)
    effort = CaselessStrEnum(["low", "medium", "high"], "medium", help="Reasoning effort.").tag(config=True)
    system_prompt = Unicode(DEFAULT_SYSTEM_PROMPT, help="System prompt sent with every call.").tag(config=True)
    base_url = Unicode(
        "", help="API base URL; empty means $OPENROUTER_BASE_URL, else OpenRouter's."
    ).tag(config=True)
    max_tokens = Int(None, allow_none=True, help="Cap on completion tokens (None: the model's own).").tag(config=True)
    stream = Bool(True, help="Stream replies as they are generated.").tag(config=True)
    timeout = Float(120.0, help="Seconds to wait for the server (connect, and between streamed chunks).").tag(config=True)
    max_retries = Int(2, help="Retries of 408, 429 and 5xx answers and of connection errors.").tag(config=True)
    budget_usd = Float(None, allow_none=True, help="Cap on this notebook's total spend in USD.").tag(config=True)
    cache = Bool(False, help="Replay identical earlier requests from the response cache.").tag(config=True)
    context_max_tokens = Int(2000, help="Token budget of each attached value's description.").tag(config=True)
    history_max_tokens = Int(20000, help="Token budget of a thread's history sent with each call.").tag(config=True)
    image_max_side = Int(1024, help="Images are downscaled to fit this many pixels per side.").tag(config=True)
    private = Bool(False, help="Describe values by structure only, never by their content.").tag(config=True)
    interpolate = Bool(True, help="Expand {name} in prompts to the value's description.").tag(config=True)
    debug = Bool(False, help="Show full tracebacks instead of short error messages.").tag(config=True)

    def resolved_base_url(self) -> str:
        """The base URL in effect: the setting, else $OPENROUTER_BASE_URL, else OpenRouter's."""
        url = self.base_url or os.environ.get("OPENROUTER_BASE_URL", "") or OPENROUTER_BASE_URL
        return url.rstrip("/")


def settings_table() -> list[tuple[str, str, str]]:
    """(name, default, help) for every setting, for the README and ``%o4_config``-style listings."""
    rows = []
    for name, trait in sorted(O4Settings.class_traits(config=True).items()):
        rows.append((name, repr(trait.default_value), trait.help))
    return rows
