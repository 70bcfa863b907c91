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
    tools: bool | None = None,
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
        tools=tools,
    )
    spec = prepare(session, request)
    if spec.tools:
        return _run_agent(session, spec, vars)
    return run(session, spec)


def _run_agent(session: Session, spec: Any, values: dict[str, Any] | None) -> Reply:
    """``tools=True``: the same bounded loop as ``%%o4 --tools``, over the notebook's variables (when inside
    IPython) and ``vars``."""
    from .call.agent import run_agent
    from .call.tools import Toolbox

    shell = session.shell
    namespace = {**(getattr(shell, "user_ns", None) or {}), **(values or {})}
    capture = next(
        (c.capture for c in getattr(shell, "configurables", []) if type(c).__name__ == "O4Magics"), None
    )
    hidden = getattr(shell, "user_ns_hidden", None)
    toolbox = Toolbox(session, namespace, capture=capture, hidden=hidden, private=spec.private)
    return run_agent(session, spec, toolbox=toolbox)
