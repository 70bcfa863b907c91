"""o4-magics: ask OpenAI's o4-mini (through OpenRouter) from Jupyter with ``%%o4``, see what each call cost.

``%load_ext o4_magics`` registers the magics; nothing heavy (openai, ipywidgets, pandas, matplotlib, PIL)
is imported until a call needs it. ``ask()`` is the same one door for scripts. Every error raised on purpose
is an ``O4Error`` and importable from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    APIError,
    BudgetExceeded,
    ConfigError,
    ContextError,
    IncompleteReply,
    Interrupted,
    InvalidRequest,
    MissingKeyError,
    O4Error,
    PolicyError,
    ReplyFormatError,
    StreamError,
)

__version__ = "0.2.0"
__all__ = [
    "ask",
    "load_ipython_extension",
    "unload_ipython_extension",
    "Reply",
    "Usage",
    "__version__",
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
]

if TYPE_CHECKING:
    from .call.reply import Reply, Usage


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics (``%load_ext o4_magics``)."""
    from .ipython.extension import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Undo ``%load_ext o4_magics``: magics, configurable, display capture, input transformer, formatter."""
    from .ipython.extension import unload

    unload(ipython)


def ask(prompt: str, **options: Any) -> Reply:
    """Ask o4-mini without any display and return a ``Reply`` (text, reasoning, usage, cost, generation id).

    Options: ``model``, ``effort``, ``system``, ``max_tokens``, ``thread``, ``new``, ``stream``, ``format``
    (``"json"`` fills ``reply.parsed``), ``cache``, ``private``, ``vars`` (a dict of name -> value, attached
    as labelled blocks), ``images`` (a list) and ``tools`` (True: the model may call the read-only look-up tools
    on the notebook's variables and ``vars`` first, as ``%%o4 --tools``; the Reply sums every step). Every
    option is checked before anything is sent, by the same
    rules as the magics; every failure raises an ``O4Error`` subclass. Uses the loaded extension's settings
    and threads when inside IPython.
    """
    from .api import ask as _ask

    return _ask(prompt, **options)


def __getattr__(name: str) -> Any:
    if name == "Reply":
        from .call.reply import Reply

        return Reply
    if name == "Usage":
        from .accounting.usage import Usage

        return Usage
    raise AttributeError(name)
