"""What a magic attaches: ``{name}`` expanded inline, ``-v NAME`` values, ``-i REF`` images, resolved from the
notebook's namespaces; the blocks themselves are made by ``call.content`` (the same for every front)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError

from ..call.content import describe
from .interp import CHAIN, interpolate, resolve

#: Values short enough to be written inline as they are (``{n}`` → ``1000``).
_INLINE_LIMIT = 200
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff")


@dataclass
class Attachments:
    """A magic's prompt with ``{name}`` expanded, and the values and images to attach."""

    prompt: str
    values: dict[str, Any] = field(default_factory=dict)
    images: list[Any] = field(default_factory=list)


def is_inline_scalar(value: Any) -> bool:
    """Numbers, booleans, None, short one-line strings and numeric 0-d numpy values are written as they are."""
    if isinstance(value, bool | int | float) or value is None:
        return True
    if isinstance(value, str):
        return len(value) <= _INLINE_LIMIT and "\n" not in value
    if type(value).__module__ == "numpy" and getattr(value, "shape", None) == ():
        return getattr(getattr(value, "dtype", None), "kind", "O") in "biufc"
    return False


def _looks_like_path(ref: str) -> bool:
    return os.sep in ref or "/" in ref or ref.lower().endswith(_IMAGE_SUFFIXES)


class ContentBuilder:
    """Resolves one magic call's attachments from the notebook's namespaces."""

    def __init__(self, magics: Any, local_ns: dict | None, *, private: bool, interpolate: bool) -> None:
        self.magics = magics
        user_ns = getattr(magics.shell, "user_ns", {}) or {}
        self.namespaces = [ns for ns in (local_ns, user_ns) if ns is not None]
        self.private = private
        self.interpolate = interpolate

    def describe(self, name: str, value: Any) -> str:
        """A value's labelled block (within the per-value budget, structure only when private)."""
        return describe(self.magics.session, name, value, private=self.private)

    def _inline(self, expr: str, value: Any) -> str:
        if is_inline_scalar(value) and not self.private:
            return str(value)
        return "\n\n" + self.describe(expr, value) + "\n\n"

    def image_values(self, ref: str) -> list[Any]:
        """``-i REF``: a variable, ``last``, a cell number, or a file path, as ready image parts."""
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
            if os.path.exists(ref):
                return [to_image_part(ref, max_side=max_side)]
            root = ref.split(".", 1)[0].split("[", 1)[0].strip()
            defined = any(root in namespace for namespace in self.namespaces)
            if CHAIN.fullmatch(ref) and (defined or not _looks_like_path(ref)):
                return [to_image_part(resolve(ref, self.namespaces), max_side=max_side)]
        except ContextError as exc:
            raise UsageError(f"-i {ref}: {exc}") from None
        if _looks_like_path(ref):
            raise UsageError(f"-i {ref}: no such file (and no variable of that name).")
        raise UsageError(f"-i {ref}: no variable, cell number or file of that name.")

    def build(self, prompt: str, var_names: list[str], image_refs: list[str]) -> Attachments:
        """Expand ``{name}`` (unless turned off), resolve ``-v`` names and ``-i`` references."""
        text = prompt
        if self.interpolate:
            text, _ = interpolate(prompt, self.namespaces, self._inline)
        values = {name: resolve(name, self.namespaces) for name in var_names}
        images = [part for ref in image_refs for part in self.image_values(ref)]
        return Attachments(text, values, images)

    def explain_image(self, value: Any, expr: str) -> Any:
        """A figure or image ``%o4_explain`` sends as a picture; a usage error naming what it is if it cannot."""
        from ..context import ContextError, to_image_part

        try:
            return to_image_part(value, max_side=int(self.magics.image_max_side))
        except ContextError as exc:
            raise UsageError(f"{expr or 'the last image'}: {exc}") from None
