"""The SQL of a budget check, for SQLite and PostgreSQL: what a scope spent, what its calls in flight hold.

A notebook's cap covers all its calls (on a team ledger: this user's calls from that notebook); a user's or
the team's cap covers one UTC day or month, read from the rollup's sums.  ``judge`` decides on the figures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .periods import Cap
from .rollup import Dialect, period_spent

#: Money compared in floating point: a call exactly filling the cap is allowed.
EPSILON_USD = 1e-12


@dataclass
class Judged:
    """One cap's figures: what its scope spent and holds, and whether this call fits."""

    cap: Cap
    spent_usd: float
    held_usd: float
    fits: bool


def spent_query(
    dialect: Dialect, cap: Cap, notebook: str, user: str, notebook_per_user: bool
) -> tuple[str, list[Any]]:
    """What ``cap``'s scope spent: the notebook ever, or the user or the team in the cap's period."""
    mark = dialect.param
    if cap.scope == "notebook":
        if notebook_per_user:
            return (
                f'SELECT {dialect.cost_sum("cost_usd")} FROM usage WHERE "user" = {mark} AND notebook = {mark}',
                [user, notebook],
            )
        return f"SELECT {dialect.cost_sum('cost_usd')} FROM usage WHERE notebook = {mark}", [notebook]
    if cap.since is None:
        raise ValueError(f"a {cap.scope} cap needs a period")
    return period_spent(dialect, cap.period, cap.since, user if cap.scope == "user" else None)


def held_query(
    dialect: Dialect, scope: str, notebook: str, user: str, notebook_per_user: bool
) -> tuple[str, list[Any]]:
    """What calls in flight hold in ``scope``."""
    mark = dialect.param
    total = dialect.cost_sum("amount_usd")
    if scope == "notebook":
        if notebook_per_user:
            return f'SELECT {total} FROM reservations WHERE "user" = {mark} AND notebook = {mark}', [
                user,
                notebook,
            ]
        return f"SELECT {total} FROM reservations WHERE notebook = {mark}", [notebook]
    if scope == "user":
        return f'SELECT {total} FROM reservations WHERE "user" = {mark}', [user]
    return f"SELECT {total} FROM reservations", []


def pending_spent(rows: Iterable[Any], cap: Cap, notebook: str, user: str) -> float:
    """What rows not yet written (kept in memory) add to ``cap``'s scope."""
    total = 0.0
    for row in rows:
        if cap.scope == "notebook" and row.notebook != notebook:
            continue
        if cap.scope == "user" and row.user != user:
            continue
        if cap.since is not None and not (cap.since <= str(row.ts) < (cap.until or "~")):
            continue
        total += row.cost_usd or 0.0
    return total


def judge(cap: Cap, spent: float, held: float, amount: float) -> Judged:
    """Does a call of ``amount`` fit under ``cap`` with what was ``spent`` and is ``held``?"""
    return Judged(cap, float(spent), float(held), spent + held + amount <= cap.usd + EPSILON_USD)
