"""Turns a prompt plus ``{name}``, ``-v`` and ``-i`` into the user message: text blocks and image parts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError

from .interp import CHAIN, interpolate, resolve

#: Values short enough to be written inline as they are (``{n}`` → ``1000``).
_INLINE_LIMIT = 200


@dataclass
class Attachments:
    """The user message's content and what went into it (for the ledger and --dry-run)."""

    content: str | list[dict[str, Any]]
    images: int = 0
    placeholders: dict[str, str] = field(default_factory=dict)  # data URL -> "[image 800x600 PNG, ...]"


def _is_scalar(value: Any) -> bool:
    if isinstance(value, bool | int | float) or value is None:
        return True
    if isinstance(value, str):
        return len(value) <= _INLINE_LIMIT and "\n" not in value
    return type(value).__module__ == "numpy" and getattr(value, "shape", None) == ()


class ContentBuilder:
    """Builds one call's user content from the notebook's namespaces and settings."""

    def __init__(self, magics: Any, local_ns: dict | None, *, private: bool, interpolate: bool) -> None:
        self.magics = magics
        user_ns = getattr(magics.shell, "user_ns", {}) or {}
        self.namespaces = [ns for ns in (local_ns, user_ns) if ns is not None]
        self.private = private
        self.interpolate = interpolate
        self.max_tokens = int(magics.context_max_tokens)

    def describe(self, name: str, value: Any) -> str:
        """A value's labelled block (within the per-value budget)."""
        from ..context import describe_value

        return describe_value(value, name, max_tokens=self.max_tokens, private=self.private).text

    def _inline(self, expr: str, value: Any) -> str:
        if _is_scalar(value) and not self.private:
            return str(value)
        return "\n\n" + self.describe(expr, value) + "\n\n"

    def image_parts(self, ref: str) -> list[Any]:
        """``-i REF``: a variable, ``last``, a cell number, or a file path."""
        from ..context import ContextError, to_image_part

        max_side = int(self.magics.image_max_side)
        capture = getattr(self.magics, "capture", None)
        try:
            if ref == "last":
                image = capture.last_image() if capture else None
                if image is None:
                    raise UsageError("-i last: no cell has displayed an image yet.")
                return [to_image_part(image.data, max_side=max_side)]
            if ref.isdigit():
                images = capture.images_of_cell(int(ref)) if capture else []
                if not images:
                    raise UsageError(f"-i {ref}: cell [{ref}] displayed no image (or it is no longer remembered).")
                return [to_image_part(image.data, max_side=max_side) for image in images]
            if CHAIN.fullmatch(ref) and not os.path.exists(ref):
                return [to_image_part(resolve(ref, self.namespaces), max_side=max_side)]
            if os.path.exists(ref):
                return [to_image_part(ref, max_side=max_side)]
        except ContextError as exc:
            raise UsageError(f"-i {ref}: {exc}") from None
        raise UsageError(f"-i {ref}: no variable, cell number or file of that name.")

    def build(self, prompt: str, var_names: list[str], image_refs: list[str], extra_images: list[Any] = ()) -> Attachments:
        text = prompt
        if self.interpolate:
            text, _ = interpolate(prompt, self.namespaces, self._inline)
        blocks = [self.describe(name, resolve(name, self.namespaces)) for name in var_names]
        if blocks:
            text = text.rstrip() + "\n\n" + "\n\n".join(blocks)
        parts = [part for ref in image_refs for part in self.image_parts(ref)] + list(extra_images)
        if not parts:
            return Attachments(content=text)
        content = [{"type": "text", "text": text}] + [part.as_content() for part in parts]
        return Attachments(
            content=content,
            images=len(parts),
            placeholders={part.data_url: part.placeholder() for part in parts},
        )
