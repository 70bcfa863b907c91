"""Money: model prices (built-in and /models), usage from the server or estimated, the budget's worst case and
refusals, the key's credit, and how amounts are written."""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "Usage": "usage",
    "Prices": "prices",
    "prices_for": "prices",
    "worst_case": "budget",
    "format_usd": "money",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
