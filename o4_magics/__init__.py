"""o4-magics: ask OpenAI's o4-mini (through OpenRouter) from Jupyter with ``%%o4``, see what each call cost.

``%load_ext o4_magics`` registers the magics; nothing heavy (openai, ipywidgets, pandas, matplotlib, PIL)
is imported until a call needs it. ``ask()`` is the same core for scripts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["ask", "load_ipython_extension", "unload_ipython_extension", "Reply", "__version__"]

if TYPE_CHECKING:
    from .call.engine import Reply


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics (``%load_ext o4_magics``)."""
    from .ipython.capture import DisplayCapture
    from .ipython.magics import O4Magics

    magics = O4Magics(shell=ipython)
    magics.capture = DisplayCapture(ipython)
    magics.capture.install()
    ipython.register_magics(magics)
    from .ipython.inputs import protect_questions

    if protect_questions not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(protect_questions)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)


def unload_ipython_extension(ipython: Any) -> None:
    """Forget the magics' configurable (``%unload_ext o4_magics``); the magics stay until restart."""
    ipython.configurables[:] = [c for c in ipython.configurables if type(c).__name__ != "O4Magics"]


def ask(prompt: str, **options: Any) -> Reply:
    """Ask o4-mini without any display and return a ``Reply`` (text, usage, cost, generation id).

    Options: ``model``, ``effort``, ``system``, ``max_tokens``, ``thread``, ``new``, ``stream``, ``format``
    (``"json"`` fills ``reply.parsed``), ``vars`` and ``images`` (attached values). Raises an ``O4Error``
    subclass on failure. Uses the loaded extension's settings and threads when inside IPython.
    """
    from .api import ask as _ask

    return _ask(prompt, **options)


def __getattr__(name: str) -> Any:
    if name == "Reply":
        from .call.engine import Reply

        return Reply
    raise AttributeError(name)
