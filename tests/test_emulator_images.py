"""Image tokens the emulator bills agree with the client's estimate (o4-mini's 32 px patch formula)."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image
from test_emulator import MODEL, make_client

from o4_magics.context import estimate_image_tokens
from o4_magics.testing import Emulator
from o4_magics.testing.usage import image_size

SIZES = [
    (1, 1),
    (31, 33),
    (100, 100),
    (640, 480),
    (1024, 1024),
    (1024, 768),
    (2000, 50),
    (1300, 1700),
    (4096, 4096),
]


def data_url(width: int, height: int, kind: str) -> str:
    buffer = io.BytesIO()
    image = Image.new("RGB", (width, height), (200, 30, 30))
    if kind == "png":
        image.save(buffer, "PNG")
    elif kind == "jpeg":
        image.save(buffer, "JPEG", quality=70)
    else:  # a progressive JPEG with an EXIF block before its frame header
        exif = Image.Exif()
        exif[0x010E] = "x" * 5000
        image.save(buffer, "JPEG", progressive=True, exif=exif.tobytes())
    mime = "png" if kind == "png" else "jpeg"
    return f"data:image/{mime};base64," + base64.b64encode(buffer.getvalue()).decode()


def image_tokens_billed(emu: Emulator, url: str, model: str = MODEL) -> int:
    client = make_client(emu)

    def prompt_tokens(content: list[dict]) -> int:
        reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}])
        return reply.usage.prompt_tokens

    text = {"type": "text", "text": "What is this?"}
    return prompt_tokens([text, {"type": "image_url", "image_url": {"url": url}}]) - prompt_tokens([text])


@pytest.mark.parametrize("kind", ["png", "jpeg", "jpeg-exif-progressive"])
def test_billed_image_tokens_match_the_clients_estimate(o4_emulator: Emulator, kind: str) -> None:
    for width, height in SIZES:
        url = data_url(width, height, kind)
        assert image_size(url) == (width, height)
        assert image_tokens_billed(o4_emulator, url) == estimate_image_tokens(width, height, MODEL), (
            width,
            height,
        )


def test_the_patch_count_is_capped(o4_emulator: Emulator) -> None:
    assert image_tokens_billed(o4_emulator, data_url(4096, 4096, "png")) <= 1536 * 1.72 + 1


def test_other_models_use_the_tile_formula_like_the_client(o4_emulator: Emulator) -> None:
    url = data_url(1024, 1024, "png")
    assert image_tokens_billed(o4_emulator, url, "openai/gpt-4o-mini") == 765
    assert estimate_image_tokens(1024, 1024, "openai/gpt-4o-mini") == 765


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/cat.png",
        "data:image/png;base64,!!!!",
        "data:image/gif;base64," + base64.b64encode(b"GIF89a\x01\x00\x01\x00").decode(),
        "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff\xda\x00\x02").decode(),
    ],
)
def test_unreadable_sizes_cost_765(o4_emulator: Emulator, url: str) -> None:
    assert image_size(url) is None
    assert image_tokens_billed(o4_emulator, url) == 765
