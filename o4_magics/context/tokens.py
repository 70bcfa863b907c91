"""Offline token estimates for text and images (no tokenizer download at run time)."""

from __future__ import annotations

import math
import re

_WORDISH = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def estimate_tokens(text: str) -> int:
    """Estimate o200k_base tokens in ``text`` without a tokenizer (see README for accuracy)."""
    if not text:
        return 0
    pieces = len(_WORDISH.findall(text))
    return max(1, math.ceil(max(len(text) / 4.2, pieces * 0.75)))


def estimate_image_tokens(width: int, height: int) -> int:
    """Estimate the input tokens of one image for o-series models (OpenAI's tile formula, high detail)."""
    if width <= 0 or height <= 0:
        return 0
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    tiles = math.ceil(w / 512) * math.ceil(h / 512)
    return 85 + 170 * tiles
