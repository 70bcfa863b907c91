"""Budget holds: the SQL of a budget check for SQLite and PostgreSQL (what a scope spent, what its calls in flight
hold), and the SQLite ledger's ``Reservations`` methods (hold a call's worst case, settle it with its row).

A notebook's cap covers all its calls (on a team ledger: this user's calls from that notebook); a user's or
the team's cap covers one UTC day or month, read from the rollup's sums.  ``judge`` decides on the figures.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .periods import Cap
from .rollup import SQLITE, Dialect, period_spent
from .rows import USAGE_FILE, Reservation, UsageRow, clean_row, reservation_from
from .sqlite import db_errors, insert_one
from .times import to_timestamp
from .user import current_user

if TYPE_CHECKING:
    import sqlite3

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


class Reservations:
    """The ledger's budget methods (mixed into ``Ledger``): hold a call's worst case, settle it with its row."""

    def reserve(self, notebook: str, amount_usd: float, cap_usd: float, ttl_s: float) -> Reservation:
        """Hold ``amount_usd`` for a call if what ``notebook`` spent, plus what calls in flight hold, plus it
        stays within ``cap_usd``; one write transaction, so two kernels cannot both take the last dollars.

        The result says whether it was granted and the figures it was judged on. A held reservation expires
        after ``ttl_s`` (a kernel that died mid-call does not hold money forever).
        """
        return self.reserve_caps(
            notebook, amount_usd, [Cap("notebook", float(cap_usd))], ttl_s, _stacklevel=5
        )

    def reserve_caps(
        self,
        notebook: str,
        amount_usd: float,
        caps: Sequence[Cap],
        ttl_s: float,
        user: str | None = None,
        _stacklevel: int = 4,
    ) -> Reservation:
        """Hold ``amount_usd`` if it fits under every cap (notebook ever, user and team in their period).

        All caps are judged and the hold written in one write transaction.  The answer carries the figures of
        the first cap the call would pass (``cap``), or of the first cap when it fits them all.
        """
        user = user or current_user()
        now = datetime.now(timezone.utc)
        with self._lock:
            try:
                return self._reserve(self._db(USAGE_FILE), notebook, user, amount_usd, caps, now, ttl_s)
            except db_errors() as exc:
                self._fail(USAGE_FILE, exc, "budgets hold within this kernel only", stacklevel=_stacklevel)
            return self._reserve_caps_in_memory(notebook, user, amount_usd, caps, now, ttl_s)

    def _reserve(
        self,
        db: sqlite3.Connection,
        notebook: str,
        user: str,
        amount: float,
        caps: Sequence[Cap],
        now: datetime,
        ttl_s: float,
    ) -> Reservation:
        stamp = to_timestamp(now)
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM reservations WHERE expires_ts < ?", (stamp,))
            judged = []
            for cap in caps:
                (spent,) = db.execute(*spent_query(SQLITE, cap, notebook, user, False)).fetchone()
                spent += pending_spent(self.pending, cap, notebook, user)
                (held,) = db.execute(*held_query(SQLITE, cap.scope, notebook, user, False)).fetchone()
                # plus what was granted in memory while the file was unusable
                held += self._memory_held(cap.scope, notebook, user, now.timestamp())
                judged.append(judge(cap, spent, held, amount))
            row_id = None
            if all(found.fits for found in judged):
                expires = to_timestamp(now.timestamp() + ttl_s)
                row_id = db.execute(
                    'INSERT INTO reservations (notebook, "user", amount_usd, created_ts, expires_ts, pid) '
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (notebook, user, amount, stamp, expires, os.getpid()),
                ).lastrowid
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return reservation_from(judged, amount, row_id, "local")

    def _reserve_in_memory(
        self, notebook: str, amount: float, cap: float, now: datetime, ttl_s: float
    ) -> Reservation:
        return self._reserve_caps_in_memory(
            notebook, current_user(), amount, [Cap("notebook", cap)], now, ttl_s
        )

    def _reserve_caps_in_memory(
        self, notebook: str, user: str, amount: float, caps: Sequence[Cap], now: datetime, ttl_s: float
    ) -> Reservation:
        moment = now.timestamp()
        judged = []
        for cap in caps:
            spent = float(self._query(*spent_query(SQLITE, cap, notebook, user, False))[0][0])
            judged.append(judge(cap, spent, self._memory_held(cap.scope, notebook, user, moment), amount))
        row_id = None
        if all(found.fits for found in judged):
            row_id = -next(self._memory_ids)
            self._held[row_id] = (notebook, amount, moment + ttl_s, user)
        return reservation_from(judged, amount, row_id, "local")

    def _held_in_memory(self, notebook: str, moment: float) -> float:
        """What reservations kept in memory hold for ``notebook``, dropping the expired ones."""
        return self._memory_held("notebook", notebook, "", moment)

    def _memory_held(self, scope: str, notebook: str, user: str, moment: float) -> float:
        """What reservations kept in memory hold in ``scope``, dropping the expired ones."""
        self._held = {key: value for key, value in self._held.items() if value[2] > moment}
        held = self._held.values()
        if scope == "notebook":
            return sum(value[1] for value in held if value[0] == notebook)
        if scope == "user":
            return sum(value[1] for value in held if value[3] == user)
        return sum(value[1] for value in held)

    def release(
        self, reservation: Reservation | None, row: UsageRow | None = None, outbox: str | None = None
    ) -> int:
        """Give back a reservation and, in the same transaction, record the call's row (if given).

        ``outbox`` lists the row as waiting to be copied to that team ledger, as ``record`` does.
        """
        if row is not None:
            clean_row(row)
        targets = {row.uid: outbox} if row is not None and outbox else None
        with self._lock:
            if reservation is not None and reservation.id is not None and reservation.id < 0:
                self._held.pop(reservation.id, None)
                return self.record(row, outbox) if row is not None else -1
            try:
                db = self._db(USAGE_FILE)
                db.execute("BEGIN IMMEDIATE")
                try:
                    if reservation is not None and reservation.id is not None:
                        db.execute("DELETE FROM reservations WHERE id = ?", (reservation.id,))
                    row_id = insert_one(db, row, targets) if row is not None else -1
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
                if row is not None:
                    row.id = row_id
                return row_id
            except db_errors() as exc:
                if row is not None:
                    self._keep_pending(row, outbox)
                self._fail(
                    USAGE_FILE, exc, "this call is kept in memory and written when the ledger opens again"
                )
                return -1
