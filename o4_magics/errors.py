"""The project's error classes: each renders as a short message (no traceback) in IPython.

IPython prints whatever ``_render_traceback_()`` returns instead of a traceback, so every error a user can
meet explains itself in one or two lines: what happened and what to do.  ``O4Magics.debug`` turns the full
traceback back on (see ``magics.py``).
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


class ConfigError(O4Error):
    """Something in the configuration (key, base URL, budget) stops the call before it is sent."""


class MissingKeyError(ConfigError):
    """No OpenRouter API key is set."""


class APIError(O4Error):
    """OpenRouter (or the network on the way to it) refused or failed the request."""

    def __init__(self, message: str, *, hint: str = "", status_code: int | None = None, partial_text: str = "") -> None:
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
