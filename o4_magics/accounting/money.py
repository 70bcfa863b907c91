"""Dollar amounts as people read them: costs (five decimals under a dollar, like the footer), caps and budget
figures with enough digits that a tiny cap never prints as ``$0.00``, and hints rounded up, never down."""

from __future__ import annotations

import math


def format_cost(amount: float | None) -> str:
    """A call's or a total's cost: ``$0.00065``; ``$12.34`` from a dollar up."""
    amount = float(amount or 0.0)
    return f"${amount:,.5f}" if abs(amount) < 1 else f"${amount:,.2f}"


def format_usd(amount: float | None) -> str:
    """A cap or budget figure with at least two significant digits: ``$0.000001``, ``$0.0086``, ``$0.04``,
    ``$12.50``; trailing zeros past the cents are dropped."""
    amount = float(amount or 0.0)
    if amount == 0:
        return "$0.00"
    if abs(amount) >= 1:
        return f"${amount:,.2f}"
    decimals = max(2, 1 - math.floor(math.log10(abs(amount))))
    text = f"{amount:.{decimals}f}".rstrip("0")
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


def round_up_usd(amount: float, digits: int = 2) -> float:
    """``amount`` rounded UP to ``digits`` significant digits (a hint that is followed must be enough)."""
    if amount <= 0:
        return 0.0
    scale = 10 ** (digits - 1 - math.floor(math.log10(amount)))
    return math.ceil(amount * scale - 1e-9) / scale


def format_share(spent: float, cap: float) -> str:
    """``86%``; never rounds up to 100% before the cap is reached."""
    if cap <= 0:
        return "100%" if spent > 0 else "0%"
    share = spent / cap * 100
    shown = math.floor(share) if share < 100 else round(share)
    return f"{shown}%"
