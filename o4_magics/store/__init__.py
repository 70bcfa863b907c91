"""Where calls are kept: the usage ledger (SQLite, or a team's PostgreSQL), its schema migrations, budget
reservations, and the response cache."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Ledger": "ledger",
    "UsageRow": "ledger",
    "open_ledger": "backend",
    "default_home": "home",
    "notebook_identity": "identity",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)
