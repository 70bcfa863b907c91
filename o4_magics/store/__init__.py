"""Where calls are kept: the usage ledger (SQLite, or a team's PostgreSQL), its schema migrations, budget
reservations, and the response cache."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "Ledger": "ledger",
    "UsageRow": "ledger",
    "open_ledger": "backend",
    "default_home": "home",
    "notebook_identity": "identity",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
