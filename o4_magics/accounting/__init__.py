"""Money: model prices (built-in and /models), usage from the server or estimated, the budget's worst case and
refusals, the key's credit, and how amounts are written."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Usage": "usage",
    "Prices": "prices",
    "prices_for": "prices",
    "worst_case": "budget",
    "format_usd": "money",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)
