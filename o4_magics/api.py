"""``ask()``: the Python API over the same core as the magics, with no display."""

from __future__ import annotations

from typing import Any

from .call.engine import CallSpec, Reply, run
from .call.session import Session
from .call.threads import MAIN_THREAD

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


def attached_content(prompt: str, values: dict[str, Any], images: list[Any], settings: Any) -> tuple[Any, int]:
    """The user content for ``ask()``: the prompt, a labelled block per value, then image parts."""
    if not values and not images:
        return prompt, 0
    from .context import describe_value, to_image_part

    blocks = [
        describe_value(value, name, max_tokens=settings.context_max_tokens, private=settings.private).text
        for name, value in values.items()
    ]
    text = "\n\n".join([prompt, *blocks])
    if not images:
        return text, 0
    parts = [to_image_part(image, max_side=settings.image_max_side).as_content() for image in images]
    return [{"type": "text", "text": text}, *parts], len(parts)


def ask(
    prompt: str,
    *,
    vars: dict[str, Any] | None = None,
    images: list[Any] | None = None,
    model: str | None = None,
    effort: str | None = None,
    system: str | None = None,
    max_tokens: int | None = None,
    thread: str = MAIN_THREAD,
    new: bool = False,
    stream: bool | None = None,
    format: str = "markdown",
    session: Session | None = None,
) -> Reply:
    """See ``o4_magics.ask``."""
    session = session or default_session()
    settings = session.settings
    content, image_count = attached_content(prompt, vars or {}, images or [], settings)
    spec = CallSpec(
        content=content,
        images=image_count,
        model=model or settings.model,
        effort=effort or settings.effort,
        system=settings.system_prompt if system is None else system,
        max_tokens=max_tokens if max_tokens is not None else settings.max_tokens,
        stream=settings.stream if stream is None else stream,
        format=format,
        thread=thread,
        new=new,
        source="ask",
    )
    reply = run(session, spec)
    if format == "json":
        from .markdown import parse_json_reply

        reply.parsed = parse_json_reply(reply.text)
    return reply
