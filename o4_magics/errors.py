"""Every error o4-magics raises on purpose: one small tree under ``O4Error``, each a short message in IPython.

IPython prints whatever ``_render_traceback_()`` returns instead of a traceback, so every error a user can
meet explains itself in one or two lines: what happened and what to do. ``O4Magics.debug`` turns the full
traceback back on. This module is a leaf: it imports nothing from the package, so every floor may raise these.
"""

from __future__ import annotations


class O4Error(Exception):
    """Base of every o4-magics error: a message meant for the notebook user."""

    #: short machine-readable status, used in the ledger (``error``, ``incomplete``, ...)
    status = "error"

    def __init__(self, message: str, *, hint: str = "", partial_text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.partial_text = partial_text

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()

    def _render_traceback_(self) -> list[str]:
        return [f"o4: {self}"]


class InvalidRequest(O4Error, ValueError):
    """An option or value the user gave cannot be used; nothing was sent (the same rules in every front)."""

    status = "refused"


class ContextError(InvalidRequest):
    """A value cannot become prompt content (not an image, unreadable file, corrupt bytes, ...)."""


class ConfigError(O4Error):
    """Something in the configuration (key, base URL, context length) stops the call before it is sent."""

    status = "refused"


class MissingKeyError(ConfigError):
    """No OpenRouter API key is set."""


class BudgetExceeded(ConfigError):
    """The call could pass ``O4Magics.budget_usd`` (or the key's credit limit); nothing was sent."""


class PolicyError(ConfigError):
    """The hub's policy file (``O4_MAGICS_POLICY``, or ``o4_magics_policy.json`` in Jupyter's system config
    path) refuses this call or setting, or cannot be read; nothing was sent."""


class APIError(O4Error):
    """OpenRouter (or the network on the way to it) refused or failed the request."""

    def __init__(
        self, message: str, *, hint: str = "", status_code: int | None = None, partial_text: str = ""
    ) -> None:
        super().__init__(message, hint=hint, partial_text=partial_text)
        self.status_code = status_code


class StreamError(APIError):
    """The reply failed part-way: what streamed so far is kept in ``partial_text``."""


class IncompleteReply(StreamError):
    """The stream ended without a finish reason (connection cut): the reply is incomplete."""

    status = "incomplete"


class Interrupted(O4Error):
    """The user interrupted the kernel (or pressed Stop) while the reply streamed."""

    status = "interrupted"


class ReplyFormatError(O4Error):
    """The reply arrived (and was billed) but is not in the asked format, e.g. ``-f json`` and not JSON."""


#: The public error classes, exported by ``o4_magics``.
PUBLIC_ERRORS = (
    "O4Error",
    "InvalidRequest",
    "ContextError",
    "ConfigError",
    "MissingKeyError",
    "BudgetExceeded",
    "PolicyError",
    "APIError",
    "StreamError",
    "IncompleteReply",
    "Interrupted",
    "ReplyFormatError",
)
