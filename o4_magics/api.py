"""``ask()``: the Python API, a front like the magics: it says what was asked and goes through the one door."""

from __future__ import annotations

from typing import Any

from .call.engine import run
from .call.reply import Reply
from .call.session import Session
from .call.spec import Ask, prepare

_fallback_session: Session | None = None


def default_session() -> Session:
    """The loaded extension's session when inside IPython with ``%load_ext o4_magics``, else a module one."""
    global _fallback_session
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        for configurable in getattr(shell, "configurables", []):
            if type(configurable).__name__ == "O4Magics":
                return configurable.session
    if _fallback_session is None:
        _fallback_session = Session(shell=shell)
    return _fallback_session


def ask(
    prompt: str,
    *,
    vars: dict[str, Any] | None = None,
    images: list[Any] | None = None,
    model: str | None = None,
    effort: str | None = None,
    system: str | None = None,
    max_tokens: int | None = None,
    thread: str | None = None,
    new: bool = False,
    stream: bool | None = None,
    format: str = "markdown",
    cache: bool | None = None,
    private: bool | None = None,
    session: Session | None = None,
) -> Reply:
    """See ``o4_magics.ask``."""
    session = session or default_session()
    request = Ask(
        prompt=prompt,
        source="ask",
        model=model,
        effort=effort,
        system=system,
        max_tokens=max_tokens,
        thread=thread,
        new=new,
        stream=stream,
        format=format,
        cache=cache,
        private=private,
        values=vars,
        images=images,
    )
    return run(session, prepare(session, request))
