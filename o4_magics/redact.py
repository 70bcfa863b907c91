"""Credential redactor (placeholder until the full one lands): the configured key becomes ``[redacted: api key]``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

KINDS = ("api key",)


class Redactor:
    """Replaces known secrets in text and nested values."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, secret: str) -> None:
        secret = (secret or "").strip()
        if len(secret) >= 8 and secret not in self._secrets:
            self._secrets.append(secret)

    def redact(self, text: str) -> tuple[str, int]:
        count = 0
        for secret in self._secrets:
            found = text.count(secret)
            if found:
                text = text.replace(secret, "[redacted: api key]")
                count += found
        return text, count

    def redact_value(self, value: Any) -> tuple[Any, int]:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            total, out = 0, {}
            for key, item in value.items():
                if key == "image_url":
                    out[key] = item
                    continue
                out[key], found = self.redact_value(item)
                total += found
            return out, total
        if isinstance(value, (list, tuple)):
            total, items = 0, []
            for item in value:
                new, found = self.redact_value(item)
                items.append(new)
                total += found
            return type(value)(items), total
        return value, 0

    def contains_secret(self, text: str) -> bool:
        return any(secret in text for secret in self._secrets)


def redact(text: str, secrets: Iterable[str] = ()) -> tuple[str, int]:
    return Redactor(secrets).redact(text)
