"""Images as prompt parts (figures, PIL images, bytes, arrays, files) and figures/images as text blocks."""

from __future__ import annotations

import base64
import io
import struct
import warnings
import zlib

import matplotlib
import numpy as np
import pytest
from PIL import Image

from o4_magics.context import ContextError, ImagePart, describe_value, estimate_image_tokens, to_image_part

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _decode(part: ImagePart) -> Image.Image:
    header, payload = part.data_url.split(",", 1)
    assert header == f"data:{part.mime};base64"
    data = base64.b64decode(payload)
    assert len(data) == part.nbytes
    image = Image.open(io.BytesIO(data))
    assert image.size == (part.width, part.height)
    assert image.format == part.mime.split("/")[1].upper()
    return image


def _photo(width: int, height: int) -> np.ndarray:
    """A noisy, smooth RGB image: photo-like (thousands of colours)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], axis=-1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def figure():
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 4), dpi=100)
    left.plot([1, 2, 3], [3, 1, 2], label="sales")
    left.plot([1, 2, 3], [1, 2, 3], label="costs")
    left.set_title("Revenue")
    left.set_xlabel("month")
    left.set_ylabel("EUR")
    left.legend()
    right.scatter([1, 2, 3], [4, 5, 6])
    right.set_yscale("log")
    fig.suptitle("Q3 report")
    yield fig
    plt.close(fig)


def test_figure_becomes_a_png_part(figure):
    part = to_image_part(figure)
    image = _decode(part)
    assert part.mime == "image/png"
    assert 700 <= part.width <= 830 and 350 <= part.height <= 430  # 800x400 at dpi 100, bbox tight
    assert image.mode == "RGB"  # the opaque alpha channel was dropped
    assert part.tokens == estimate_image_tokens(part.width, part.height)
    assert part.as_content() == {"type": "image_url", "image_url": {"url": part.data_url}}
    assert (
        part.placeholder()
        == f"[image {part.width}x{part.height} PNG, {part.nbytes:,} bytes, ~{part.tokens:,} tokens]"
    )


def test_axes_is_cropped_from_its_figure(figure):
    whole = to_image_part(figure)
    left = to_image_part(figure.axes[0])
    assert left.width < whole.width * 0.7 and left.height <= whole.height


def test_figure_is_downscaled_to_max_side(figure):
    full = to_image_part(figure)
    part = to_image_part(figure, max_side=256)
    assert max(part.width, part.height) == 256
    assert abs(part.width / part.height - full.width / full.height) < 0.02


def test_photo_like_image_goes_as_jpeg_when_smaller():
    part = to_image_part(Image.fromarray(_photo(800, 600)))
    assert part.mime == "image/jpeg"
    assert (part.width, part.height) == (800, 600)
    _decode(part)


def test_flat_image_stays_png():
    flat = np.zeros((300, 400, 3), np.uint8)
    flat[100:200, 100:300] = (255, 0, 0)
    assert to_image_part(flat).mime == "image/png"


def test_transparency_keeps_png_and_alpha():
    rgba = np.zeros((50, 80, 4), np.uint8)
    rgba[..., :3] = _photo(80, 50)
    rgba[..., 3] = 100
    part = to_image_part(rgba)
    assert part.mime == "image/png"
    assert _decode(part).mode == "RGBA"


def test_arrays_of_each_supported_shape():
    gray = np.tile(np.arange(256, dtype=np.uint8), (10, 1))
    assert (to_image_part(gray).width, to_image_part(gray).height) == (256, 10)
    assert to_image_part(np.zeros((10, 20, 3), np.uint8)).width == 20


def test_bytes_and_paths(tmp_path):
    y, x = np.mgrid[0:1000, 0:3000]
    image = Image.fromarray(np.stack([x % 256, y % 256, (x // 16) % 256], axis=-1).astype(np.uint8))
    png = _png_bytes(image)
    path = tmp_path / "wide.png"
    path.write_bytes(png)
    for source in (png, bytearray(png), memoryview(png), path, str(path)):
        part = to_image_part(source)
        assert (part.width, part.height) == (1024, 341)
    jpeg_path = tmp_path / "photo.jpg"
    Image.fromarray(_photo(1500, 500)).save(jpeg_path, quality=90)
    part = to_image_part(jpeg_path, max_side=500)
    assert (part.width, part.height) == (500, 167) and part.mime == "image/jpeg"


def test_small_images_are_not_enlarged_and_inputs_not_modified():
    image = Image.fromarray(_photo(120, 80))
    part = to_image_part(image, max_side=1024)
    assert (part.width, part.height) == (120, 80)
    to_image_part(image, max_side=50)
    assert image.size == (120, 80)


def test_fifty_megapixel_image_is_downscaled_without_bomb_warnings(tmp_path):
    width, height = 8660, 5774  # 50 megapixels
    gradient = np.empty((height, width, 3), np.uint8)
    gradient[..., 0] = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    gradient[..., 1] = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    gradient[..., 2] = 90
    big = Image.fromarray(gradient)
    jpeg = io.BytesIO()
    big.save(jpeg, format="JPEG", quality=80)
    png_path = tmp_path / "huge.png"
    big.save(png_path, format="PNG", compress_level=1)
    saved_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = 10_000_000  # a strict environment: 50 MP would be a "decompression bomb"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for source in (jpeg.getvalue(), png_path):
                part = to_image_part(source)
                assert (part.width, part.height) == (1024, 683)
        assert Image.MAX_IMAGE_PIXELS == 10_000_000  # our temporary lift was undone
    finally:
        Image.MAX_IMAGE_PIXELS = saved_limit


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size (IHDR) but carries almost no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 10))
        + chunk(b"IEND", b"")
    )


def test_image_beyond_our_limit_is_refused_before_decoding():
    with pytest.raises(ContextError, match=r"image too large: 30000x30000 \(900 megapixels"):
        to_image_part(_png_header_only(30_000, 30_000))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (b"this is not an image at all", "not an image: Pillow cannot read"),
        ({"a": 1}, "cannot use a dict as an image"),
        ("/no/such/dir/plot.png", "image file not found: /no/such/dir/plot.png"),
        (np.zeros((10, 10), np.float64), "cannot use a float64 array of shape (10, 10)"),
        (np.zeros((10, 10, 2), np.uint8), "expected HxWx3 or HxWx4 uint8"),
        (42, "cannot use a int as an image"),
    ],
)
def test_bad_sources_raise_context_error(source, message):
    with pytest.raises(ContextError) as raised:
        to_image_part(source)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_directory_and_corrupt_image(tmp_path):
    with pytest.raises(ContextError, match="is a directory"):
        to_image_part(tmp_path)
    truncated = _png_bytes(Image.fromarray(_photo(200, 200)))[:3000]
    with pytest.raises(ContextError, match="corrupt image data"):
        to_image_part(truncated)


def test_figure_block_says_what_is_plotted(figure):
    block = describe_value(figure, "fig")
    assert block.label == "### fig (matplotlib Figure, 2 axes)"
    assert "size: 800x400 px at 100 dpi" in block.text
    assert "suptitle: Q3 report" in block.text
    assert "title: Revenue" in block.text
    assert "x: month, " in block.text and "y: EUR, " in block.text
    assert "2 lines" in block.text and "labels: sales, costs" in block.text
    assert "log scale" in block.text and "1 collection" in block.text


def test_axes_block_and_private_figure(figure):
    block = describe_value(figure.axes[0], "ax")
    assert block.label == "### ax (matplotlib Axes)" and "title: Revenue" in block.text
    private = describe_value(figure, "fig", private=True).text
    assert "Revenue" not in private and "sales" not in private and "Q3" not in private
    assert "2 lines" in private


def test_pil_image_block():
    image = Image.fromarray(np.zeros((60, 90, 3), np.uint8))
    block = describe_value(image, "img")
    assert block.label == "### img (PIL image, 90x60, RGB)"
    assert "frames: 1" in block.text


@pytest.mark.parametrize(
    ("width", "height", "kind"), [(3000, 1200, "photo"), (408, 413, "flat"), (50, 2000, "photo")]
)
def test_image_part_exposes_its_final_size_and_its_url_is_counted_from_it(width, height, kind):
    from o4_magics.context import image_url_tokens

    pixels = _photo(width, height) if kind == "photo" else np.full((height, width, 3), 200, np.uint8)
    part = to_image_part(pixels, max_side=1024)
    decoded = _decode(part)
    assert (part.width, part.height) == decoded.size
    assert max(part.width, part.height) == min(1024, max(width, height))
    assert part.tokens == estimate_image_tokens(part.width, part.height) == image_url_tokens(part.data_url)
    if (width, height) == (408, 413):
        assert part.tokens == 291  # not the 1,762 of a 1024x1024 image
