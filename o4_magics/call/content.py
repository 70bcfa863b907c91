"""The user's message of one call: the prompt, a labelled block per attached value, image parts; credentials out.

Every front end attaches through here (``-v``/``{name}``/``%o4_explain`` blocks are described with
``describe``; the chat's picker and ``ask(vars=, images=)`` pass values), so the budget per value, ``--private``
and the redactor hold the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ContextError, InvalidRequest

if TYPE_CHECKING:
    from .session import Session


@dataclass
class Content:
    """A user message's content and what went into it."""

    content: str | list[dict[str, Any]]
    images: int = 0
    redactions: int = 0
    placeholders: dict[str, str] = field(default_factory=dict)
    image_tokens: dict[str, int] = field(default_factory=dict)


def describe(session: Session, name: str, value: Any, *, private: bool) -> str:
    """A value's labelled block within ``O4Magics.context_max_tokens`` (structure only when ``private``)."""
    from ..context import describe_value

    budget = int(session.settings.context_max_tokens)
    return describe_value(value, name, max_tokens=budget, private=private).text


def image_part(session: Session, value: Any, name: str) -> Any:
    """``value`` as a downscaled ``ImagePart``; an ``InvalidRequest`` naming the option when it is no image."""
    from ..context import ImagePart, to_image_part

    if isinstance(value, ImagePart):
        return value
    try:
        return to_image_part(value, max_side=int(session.settings.image_max_side))
    except ContextError as exc:
        raise ContextError(f"{name}: {exc}; nothing was sent.") from None


def _values(values: Any, name: str) -> list[tuple[str, Any]]:
    if values is None:
        return []
    if not isinstance(values, Mapping) or not all(isinstance(key, str) and key for key in values):
        raise InvalidRequest(f"{name} must map names to values, e.g. {{'df': df}}; nothing was sent.")
    return list(values.items())


def _images(images: Any, name: str) -> list[Any]:
    if images is None:
        return []
    if isinstance(images, (str, bytes)) or not hasattr(images, "__iter__"):
        raise InvalidRequest(f"{name} must be a list of images; nothing was sent.")
    return list(images)


def build_content(session: Session, prompt: str, ask: Any, *, private: bool) -> Content:
    """The user message for ``prompt`` plus ``ask.values`` and ``ask.images``, credentials redacted."""
    values = _values(ask.values, ask.names.get("vars", "vars="))
    images = _images(ask.images, ask.names.get("images", "images="))
    if private and images:
        raise InvalidRequest(
            "--private sends no cell values, and an image is one: drop the image or --private; nothing was sent."
        )
    blocks = [describe(session, name, value, private=private) for name, value in values]
    text = "\n\n".join([prompt.rstrip(), *blocks]) if blocks else prompt
    text, redactions = session.redactor.redact(text)
    parts = [image_part(session, image, ask.names.get("images", "images=")) for image in images]
    if not parts:
        return Content(text, redactions=redactions)
    return Content(
        [{"type": "text", "text": text}, *(part.as_content() for part in parts)],
        images=len(parts),
        redactions=redactions,
        placeholders={part.data_url: part.placeholder() for part in parts},
        image_tokens={part.data_url: part.tokens for part in parts},
    )
