"""The reasoning sent before an answer, in OpenRouter's shapes: summaries, encrypted items or raw text."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Any

from .directives import ReasoningSpec
from .replies import split_pieces

#: the ``format`` OpenRouter gives o4-mini's reasoning details
RESPONSES_FORMAT = "openai-responses-v1"

_SECTIONS = (
    (
        "Planning the answer",
        "I need to work out what the question is really asking and which details from the notebook matter. "
        "The clearest reply starts with the main idea, then shows a short example, then checks the numbers.",
    ),
    (
        "Checking the details",
        "Next I should make sure the code runs as written and that every formula agrees with the "
        "explanation. I will keep the wording plain and state any assumption I make about the data.",
    ),
    (
        "Drafting the reply",
        "Now I can write the answer step by step, with a code block where it helps and inline math for the "
        "key identity. A one-sentence summary at the end will tie the pieces together.",
    ),
)


def reasoning_text(words: int) -> str:
    """A deterministic reasoning summary of exactly ``words`` words, in bold-headed paragraphs."""
    out: list[str] = []
    count, turn = 0, 0
    while count < words:
        title, body = _SECTIONS[turn % len(_SECTIONS)]
        heading = f"**{title}**".split()
        take = heading[: words - count]
        if len(take) < len(heading):
            take[-1] += "**"
        out.append(("\n\n" if out else "") + " ".join(take))
        count += len(take)
        rest = body.split()[: words - count]
        if rest:
            out.append("\n\n" + " ".join(rest))
            count += len(rest)
        turn += 1
    return "".join(out)


def text_format(model: str) -> str:
    """The ``format`` of ``reasoning.text`` items for ``model``."""
    return "anthropic-claude-v1" if model.startswith("anthropic/") else "unknown"


@dataclass
class Reasoning:
    """The reasoning of one reply: its readable text (empty when encrypted) and how each piece is sent."""

    kind: str
    text: str
    model: str
    pieces: list[str] = field(default_factory=list)
    encrypted: dict[str, Any] | None = None

    @classmethod
    def build(cls, spec: ReasoningSpec | None, model: str) -> Reasoning | None:
        """The reasoning ``spec`` asks for, or None (``off``, or a readable kind of 0 words)."""
        if spec is None or spec.kind == "off" or (spec.kind != "encrypted" and spec.words <= 0):
            return None
        if spec.kind == "encrypted":
            blob = base64.urlsafe_b64encode(secrets.token_bytes(240)).decode()
            item = {
                "type": "reasoning.encrypted",
                "data": "gAAAAAB" + blob,
                "id": f"rs_{secrets.token_hex(24)}",
                "format": RESPONSES_FORMAT,
                "index": 0,
            }
            return cls("encrypted", "", model, encrypted=item)
        text = reasoning_text(spec.words)
        return cls(spec.kind, text, model, pieces=split_pieces(text))

    def item(self, piece: str) -> dict[str, Any]:
        """The ``reasoning_details`` item carrying ``piece`` (or the encrypted item)."""
        if self.encrypted is not None:
            return dict(self.encrypted)
        if self.kind == "text":
            return {"type": "reasoning.text", "text": piece, "format": text_format(self.model), "index": 0}
        return {"type": "reasoning.summary", "summary": piece, "format": RESPONSES_FORMAT, "index": 0}

    def deltas(self) -> list[dict[str, Any]]:
        """The streamed deltas, sent before the answer: ``content`` empty, ``role`` repeated."""
        if self.encrypted is not None:
            return [{"role": "assistant", "content": "", "reasoning_details": [self.item("")]}]
        return [
            {"role": "assistant", "content": "", "reasoning": piece, "reasoning_details": [self.item(piece)]}
            for piece in self.pieces
        ]

    def details(self) -> list[dict[str, Any]]:
        """The whole reasoning as the non-streamed message's ``reasoning_details``."""
        return [self.item(self.text)]

    @property
    def readable(self) -> str | None:
        """The message's ``reasoning`` field: the text, or None when encrypted."""
        return self.text if self.encrypted is None else None
