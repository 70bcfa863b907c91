"""Images as ``image_url`` prompt parts: load from many sources, downscale with Pillow, encode PNG or JPEG."""

from __future__ import annotations

import base64
import contextlib
import io
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .blocks import Block, ContextError, Section, fit_block, make_label, short, type_name
from .figures import is_kind, render_png
from .tokens import estimate_image_tokens

MAX_PIXELS = (
    250_000_000  # larger images are refused; up to this, Pillow's bomb warning is bypassed (see below)
)
JPEG_QUALITY = 85
PHOTO_COLORS = 4096  # images with more distinct colours than this are photo-like: JPEG may win
EXPECTED = (
    "a matplotlib Figure or Axes, a PIL image, PNG/JPEG bytes, an HxWx3 or HxWx4 uint8 array, or a file path"
)
_PIXEL_LIMIT_LOCK = threading.Lock()


@dataclass(frozen=True)
class ImagePart:
    """An image ready to send: a base64 data URL and what it costs."""

    data_url: str
    width: int
    height: int
    nbytes: int
    mime: str
    tokens: int

    def as_content(self) -> dict[str, Any]:
        """The OpenAI chat-completions content part for this image."""
        return {"type": "image_url", "image_url": {"url": self.data_url}}

    def placeholder(self) -> str:
        """How a dry run shows the image: ``[image 800x600 PNG, 45,123 bytes, ~765 tokens]``."""
        kind = self.mime.split("/")[-1].upper()
        return f"[image {self.width}x{self.height} {kind}, {self.nbytes:,} bytes, ~{self.tokens:,} tokens]"


def to_image_part(obj: Any, max_side: int = 1024) -> ImagePart:
    """Turn a figure, axes, PIL image, image bytes, uint8 array or image path into a downscaled ImagePart."""
    image_module = _pillow()
    max_side = max(1, int(max_side))
    with _pixel_limit_lifted(image_module):
        image = _downscaled(*_load(obj, image_module), max_side, image_module)
    data, mime = _encode(image)
    url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return ImagePart(
        url, image.width, image.height, len(data), mime, estimate_image_tokens(image.width, image.height)
    )


def describe_image(image: Any, name: str, max_tokens: int, private: bool) -> Block:
    """A PIL image as text: size, mode, format and frame count (the pixels go through ``to_image_part``)."""
    label = make_label(name, f"PIL image, {image.width}x{image.height}, {image.mode}")
    notes = [f"format: {image.format or 'in memory'}", f"frames: {getattr(image, 'n_frames', 1)}"]
    if not private and image.info:
        notes.append(
            "info: "
            + ", ".join(short(f"{k}={v!r}", 60) for k, v in list(image.info.items())[:8] if k != "exif")
        )
    return fit_block(name, label, [Section("", notes)], max_tokens)


def _pillow() -> Any:
    """The ``PIL.Image`` module, or a ContextError saying how to install Pillow."""
    try:
        from PIL import Image
    except ImportError:
        raise ContextError("images need Pillow: pip install 'o4-magics[images]'") from None
    return Image


@contextlib.contextmanager
def _pixel_limit_lifted(image_module: Any) -> Iterator[None]:
    """Lift Pillow's decompression-bomb limit while we decode (we check our own MAX_PIXELS instead)."""
    with _PIXEL_LIMIT_LOCK:
        saved = image_module.MAX_IMAGE_PIXELS
        image_module.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            image_module.MAX_IMAGE_PIXELS = saved


def _load(obj: Any, image_module: Any) -> tuple[Any, bool]:
    """A PIL image from any supported source, and whether it is ours (opened lazily here, safe to modify)."""
    if is_kind(obj, "matplotlib", ("Figure", "SubFigure", "Axes")):
        return _open(io.BytesIO(render_png(obj)), "the rendered figure", image_module), True
    if is_kind(obj, "PIL", ("Image",)):
        return obj, False
    if isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        return _open(io.BytesIO(data), f"{len(data):,} bytes starting {data[:12]!r}", image_module), True
    if is_kind(obj, "numpy", ("ndarray",)):
        return _from_array(obj, image_module), False
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj).expanduser()
        if not path.exists():
            raise ContextError(f"image file not found: {short(str(obj), 200)}")
        if not path.is_file():
            raise ContextError(f"not an image file: {short(str(path), 200)} is a directory")
        return _open(path, str(path), image_module), True
    raise ContextError(f"cannot use a {type_name(type(obj))} as an image: expected {EXPECTED}")


def _open(source: Any, what: str, image_module: Any) -> Any:
    """Open (header only) and size-check an image file or buffer, as a ContextError when it is not one."""
    try:
        image = image_module.open(source)
    except image_module.UnidentifiedImageError:
        raise ContextError(f"not an image: Pillow cannot read {short(what, 200)}") from None
    except OSError as error:
        raise ContextError(f"cannot read image {short(what, 200)}: {error.strerror or error}") from None
    if image.width * image.height > MAX_PIXELS:
        raise ContextError(
            f"image too large: {image.width}x{image.height} ({image.width * image.height / 1e6:,.0f} megapixels; "
            f"the limit is {MAX_PIXELS / 1e6:,.0f})"
        )
    return image


def _from_array(array: Any, image_module: Any) -> Any:
    """A PIL image from an HxW, HxWx3 or HxWx4 uint8 array."""
    if (
        array.dtype.name != "uint8"
        or array.ndim not in (2, 3)
        or (array.ndim == 3 and array.shape[2] not in (3, 4))
    ):
        raise ContextError(
            f"cannot use a {array.dtype} array of shape {array.shape} as an image: expected HxWx3 or HxWx4 uint8"
        )
    if array.shape[0] * array.shape[1] > MAX_PIXELS or 0 in array.shape:
        raise ContextError(f"cannot use an array of shape {array.shape} as an image: empty or too large")
    import numpy as np

    return image_module.fromarray(np.ascontiguousarray(array))


def _downscaled(image: Any, owned: bool, max_side: int, image_module: Any) -> Any:
    """Decode and shrink to fit ``max_side`` (aspect kept, never enlarged); a corrupt image is a ContextError."""
    width, height = image.size
    scale = min(1.0, max_side / max(width, height))
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    try:
        if owned:  # opened here and not decoded yet: a JPEG can decode straight at 1/2, 1/4 or 1/8 scale
            image.draft(None, target)
            image.load()
        if image.mode not in ("RGB", "RGBA", "L", "LA"):  # palette, 1-bit, CMYK...: resample in RGB(A)
            image = _encodable(image)
        if image.size != target:
            image = image.resize(target, image_module.Resampling.LANCZOS, reducing_gap=3.0)
        return _encodable(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise ContextError(f"corrupt image data: {short(str(error), 120)}") from None


def _encodable(image: Any) -> Any:
    """The image in a mode PNG/JPEG handle: RGB or L, or RGBA/LA when it really has transparency."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        if image.mode not in ("LA", "RGBA"):
            image = image.convert("RGBA")
        if image.getchannel("A").getextrema() == (255, 255):  # fully opaque: the alpha channel is dead weight
            return image.convert("L" if image.mode == "LA" else "RGB")
        return image
    return (
        image if image.mode in ("RGB", "L") else image.convert("L" if image.mode in ("1", "I;16") else "RGB")
    )


def _encode(image: Any) -> tuple[bytes, str]:
    """PNG, or JPEG (quality 85) when the image is photo-like, opaque, and JPEG comes out smaller."""
    png = io.BytesIO()
    image.save(png, format="PNG", compress_level=6)
    if image.mode in ("RGBA", "LA") or image.getcolors(PHOTO_COLORS) is not None:
        return png.getvalue(), "image/png"
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    if jpeg.tell() < png.tell():
        return jpeg.getvalue(), "image/jpeg"
    return png.getvalue(), "image/png"
