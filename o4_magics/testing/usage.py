"""The ``usage`` the emulator bills: prompt tokens (text and images), completion and reasoning tokens, cost."""

from __future__ import annotations

import base64
import binascii
import math
import struct
from typing import Any

from .catalog import prices
from .replies import message_text

#: reasoning tokens billed per effort level (OpenRouter's ``reasoning.effort`` / OpenAI's ``reasoning_effort``)
REASONING_TOKENS = {"minimal": 16, "low": 64, "medium": 192, "high": 512}
#: prompt tokens for an image whose size cannot be read (85 + 170 * 4 tiles)
IMAGE_TOKENS = 765
#: models billed by 32x32-pixel patches (OpenAI's vision docs) and their token multiplier; others use tiles
PATCH_MULTIPLIERS = {"o4-mini": 1.72, "gpt-4.1-mini": 1.62, "gpt-4.1-nano": 2.46}
MAX_PATCHES = 1536

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: JPEG start-of-frame markers (baseline, progressive, lossless...), which carry the image size
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def output_cap(body: dict[str, Any]) -> int | None:
    """The request's cap on completion tokens (``max_tokens`` or ``max_completion_tokens``), reasoning included."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def reasoning_tokens(body: dict[str, Any]) -> int:
    """Reasoning tokens for the request's effort (``medium`` when absent) or ``reasoning.max_tokens``, within the
    request's output cap."""
    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    if isinstance(reasoning.get("max_tokens"), int):
        found = max(0, reasoning["max_tokens"])
    else:
        effort = reasoning.get("effort") or body.get("reasoning_effort") or "medium"
        found = REASONING_TOKENS.get(str(effort), REASONING_TOKENS["medium"])
    cap = output_cap(body)
    return min(found, cap) if cap is not None else found


def within_cap(body: dict[str, Any], pieces: list[str]) -> tuple[list[str], bool]:
    """The reply's pieces that fit the output cap after reasoning (1.3 tokens a word), and whether it was cut."""
    cap = output_cap(body)
    if cap is None:
        return pieces, False
    room = cap - reasoning_tokens(body)
    if reply_tokens("".join(pieces)) <= room:
        return pieces, False
    low, high = 0, len(pieces)  # the most pieces that fit: binary search, so long replies stay fast
    while low < high:
        middle = (low + high + 1) // 2
        if reply_tokens("".join(pieces[:middle])) <= room:
            low = middle
        else:
            high = middle - 1
    return pieces[:low], True


def image_size(url: str) -> tuple[int, int] | None:
    """Width and height of a PNG or JPEG sent as a base64 data URL; None when they cannot be read."""
    if not url.startswith("data:image/") or ";base64," not in url[:40]:
        return None
    try:
        data = base64.b64decode(url.split(",", 1)[1])
    except (binascii.Error, ValueError):
        return None
    if data.startswith(_PNG_SIGNATURE) and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return (width, height) if width and height else None
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the JPEG's marker segments to its start-of-frame, which holds height then width."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        if marker == 0xDA:  # start of scan: no frame header came before the image data
            return None
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in _JPEG_FRAMES and position + 9 <= len(data):
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return (width, height) if width and height else None
        position += 2 + length
    return None


def image_tokens(url: str, model: str) -> int:
    """Tokens of one image: o4-mini's 32 px patch formula (tiles for other models); 765 if the size is unknown."""
    size = image_size(url)
    if size is None:
        return IMAGE_TOKENS
    width, height = size
    multiplier = PATCH_MULTIPLIERS.get(model.rsplit("/", 1)[-1])
    if multiplier is None:
        return _tile_tokens(width, height)
    return math.ceil(_patches(width, height) * multiplier)


def _patches(width: int, height: int) -> int:
    """32x32 patches covering the image after OpenAI scales it down to at most 1,536 patches."""
    raw = math.ceil(width / 32) * math.ceil(height / 32)
    if raw <= MAX_PATCHES:
        return raw
    shrink = math.sqrt(32 * 32 * MAX_PATCHES / (width * height))
    w_patches, h_patches = width * shrink / 32, height * shrink / 32
    shrink *= min(math.floor(w_patches) / w_patches, math.floor(h_patches) / h_patches)
    return min(MAX_PATCHES, math.ceil(width * shrink / 32) * math.ceil(height * shrink / 32))


def _tile_tokens(width: int, height: int) -> int:
    """GPT-4o-style high-detail cost: fit in 2048 px, shortest side 768 px, 170 per 512 px tile plus 85."""
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    return 85 + 170 * math.ceil(w / 512) * math.ceil(h / 512)


def image_urls(messages: list[Any]) -> list[str]:
    """The URL of every ``image_url`` part in the messages, in order."""
    urls = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") == "image_url":
                image = part.get("image_url")
                urls.append(str(image.get("url", "")) if isinstance(image, dict) else str(image))
    return urls


def prompt_tokens(messages: list[Any], model: str) -> int:
    """Estimated prompt tokens: a quarter of the characters of all text and tool calls, plus each image's."""
    chars = 0
    for message in messages:
        if not isinstance(message, dict):
            continue
        chars += len(message_text(message.get("content")))
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                chars += len(str(function.get("name", ""))) + len(str(function.get("arguments", "")))
    images = sum(image_tokens(url, model) for url in image_urls(messages))
    return max(1, round(chars / 4)) + images


def reply_tokens(text: str) -> int:
    """Completion tokens of the visible reply: 1.3 per word."""
    return round(len(text.split()) * 1.3)


def make_usage(body: dict[str, Any], reply: str) -> dict[str, Any]:
    """The ``usage`` object OpenRouter returns for this request and reply, with the exact cost."""
    model_prices = prices(body["model"])
    prompt = prompt_tokens(body.get("messages") or [], body["model"])
    reasoning = reasoning_tokens(body)
    completion = reply_tokens(reply) + reasoning
    cached = 0
    cost = (
        (prompt - cached) * model_prices["prompt"]
        + cached * model_prices["input_cache_read"]
        + completion * model_prices["completion"]
    )
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost": round(cost, 10),
        "is_byok": False,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "cost_details": {"upstream_inference_cost": None},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "image_tokens": 0},
    }
