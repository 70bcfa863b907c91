"""The emulator's reply text, its split into streamed pieces, and its usage and cost."""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from typing import Any

from .catalog import prices
from .faults import strip_markers

#: reasoning tokens billed per effort level (OpenRouter's ``reasoning.effort`` / OpenAI's ``reasoning_effort``)
REASONING_TOKENS = {"minimal": 16, "low": 64, "medium": 192, "high": 512}
#: prompt tokens for an image whose size cannot be read (85 + 170 * 4 tiles)
IMAGE_TOKENS = 765

_PIECE = re.compile(r"^\s+|\S+\s*")
_VOCABULARY = (
    "the model reads each cell and answers with care while tokens stream into the notebook "
    "so a long reply keeps arriving in small pieces that render as markdown paragraphs "
    "with numbers arrays frames plots errors and context gathered from your variables"
).split()


def split_pieces(text: str) -> list[str]:
    """Split ``text`` into streamed pieces: words with their trailing whitespace (joins back to ``text``)."""
    return _PIECE.findall(text)


def message_text(content: Any) -> str:
    """The text of one message's ``content`` (a string, or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def last_user_text(messages: list[Any]) -> str:
    """The text of the last user message (where fault markers are looked for)."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message.get("content"))
    return ""


def quote(text: str, limit: int = 60) -> str:
    """The start of ``text`` on one line, without markers, at most ``limit`` characters."""
    line = " ".join(strip_markers(text).split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:") + "…"


def default_reply(prompt_text: str) -> str:
    """The deterministic markdown reply: heading, quote, list, code block, inline and display math."""
    asked = quote(prompt_text) or "(no text)"
    return (
        "## Offline answer\n\n"
        f'You asked: "{asked}". This reply comes from the offline emulator, so it is the same every time.\n\n'
        "- It streams word by word, like o4-mini through OpenRouter.\n"
        "- Usage and cost arrive in the last chunk.\n"
        "- Nothing here left your machine.\n\n"
        "```python\n"
        "def triangle(n: int) -> int:\n"
        "    return n * (n + 1) // 2\n"
        "```\n\n"
        "Euler's identity \\( e^{i\\pi} + 1 = 0 \\) links five constants, and the code above computes\n\n"
        "\\[ \\sum_{k=1}^n k = \\frac{n(n+1)}{2} \\]\n"
    )


def json_reply(prompt_text: str) -> str:
    """The reply when ``response_format`` asks for a JSON object."""
    return json.dumps({"answer": quote(prompt_text) or "(no text)", "items": [1, 2, 3]})


def long_reply(words: int) -> str:
    """A deterministic markdown reply of exactly ``words`` words, in paragraphs of up to 60 words."""
    out: list[str] = []
    for index in range(words):
        word = _VOCABULARY[(index * 7 + index // len(_VOCABULARY)) % len(_VOCABULARY)]
        if index % 12 == 0:
            word = word.capitalize()
        if index % 12 == 11 or index == words - 1:
            word += "."
        last = index == words - 1
        out.append(word + ("" if last else "\n\n" if index % 60 == 59 else " "))
    return "".join(out)


def reasoning_tokens(body: dict[str, Any]) -> int:
    """Reasoning tokens for the request's effort (``medium`` when absent) or ``reasoning.max_tokens``."""
    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    if isinstance(reasoning.get("max_tokens"), int):
        return max(0, reasoning["max_tokens"])
    effort = reasoning.get("effort") or body.get("reasoning_effort") or "medium"
    return REASONING_TOKENS.get(str(effort), REASONING_TOKENS["medium"])


def _image_tokens(url: str) -> int:
    """Tokens of one image: OpenAI's tile formula for a PNG data URL, else a fixed 765."""
    if not url.startswith("data:image/png;base64,"):
        return IMAGE_TOKENS
    try:
        head = base64.b64decode(url.split(",", 1)[1][:44] + "==")
        width, height = struct.unpack(">II", head[16:24])
    except (binascii.Error, struct.error, ValueError):
        return IMAGE_TOKENS
    if not width or not height:
        return IMAGE_TOKENS
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    return 85 + 170 * (-(-int(w) // 512)) * (-(-int(h) // 512))


def prompt_tokens(messages: list[Any]) -> int:
    """Estimated prompt tokens: a quarter of the characters of all text, plus each image's tokens."""
    chars, images = 0, 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        chars += len(message_text(content))
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") == "image_url":
                image = part.get("image_url")
                images += _image_tokens(image.get("url", "") if isinstance(image, dict) else str(image))
    return max(1, round(chars / 4)) + images


def reply_tokens(text: str) -> int:
    """Completion tokens of the visible reply: 1.3 per word."""
    return round(len(text.split()) * 1.3)


def make_usage(body: dict[str, Any], reply: str) -> dict[str, Any]:
    """The ``usage`` object OpenRouter returns for this request and reply, with the exact cost."""
    model_prices = prices(body["model"])
    prompt = prompt_tokens(body.get("messages") or [])
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
