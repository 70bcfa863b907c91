"""The SQLite usage ledger (one row per call, kept across kernel restarts), with the response cache and budget
reservations mixed in (``cache.ResponseCache``, ``reserving.Reservations``).

Both live under ``O4_MAGICS_HOME`` (default ``<jupyter data dir>/o4_magics/``) in two files: ``usage.sqlite``,
the small and precious ledger, and ``cache.sqlite``, reply payloads that are safe to delete at any time.
A file that cannot be used never breaks a call: rows wait in ``Ledger.pending`` and a ``LedgerWarning`` says why.
"""

from __future__ import annotations

import itertools
import os
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import CACHE_FILE, ResponseCache, cache_key
from .exports import FORMULA_STARTS, spreadsheet_safe, write_csv
from .home import default_home
from .periods import Cap
from .reserving import Reservations
from .rollup import SQLITE, daily, grouped, quoted, rows_as_dicts
from .rows import (
    BUSY_TIMEOUT_S,
    COLUMNS,
    COLUMNS_SQL,
    COST_SOURCES,
    INSERT_SQL,
    SELECT_ROWS,
    SOURCES,
    STATUSES,
    SUMS_SQL,
    TOKEN_COLUMNS,
    USAGE_FILE,
    LedgerWarning,
    Reservation,
    UsageRow,
    brief,
    clean_row,
    reservation_from,
    row_values,
    since_text,
    where_sql,
)
from .sqlite import db_errors, insert_rows, memory_db
from .times import TS_FORMAT, to_timestamp
from .user import current_user

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Sequence

#: Names other modules and tests import from here (the ledger's pieces live in rows, sqlite, cache, exports).
__all__ = [
    "BUSY_TIMEOUT_S", "CACHE_FILE", "COLUMNS", "COLUMNS_SQL", "COST_SOURCES", "FORMULA_STARTS", "INSERT_SQL",
    "SOURCES", "STATUSES", "TOKEN_COLUMNS", "TS_FORMAT", "USAGE_FILE", "Ledger", "LedgerWarning", "Reservation",
    "UsageRow", "cache_key", "reservation_from", "row_values", "spreadsheet_safe", "to_timestamp", "write_csv",
    "_insert",
]
#: The old name of ``sqlite.insert_rows`` (tests use it to write rows as another kernel would).
_insert = insert_rows


class Ledger(Reservations, ResponseCache):
    """The usage ledger and reply cache of one ``O4_MAGICS_HOME``; files open on first use.

    One connection per file per process, shared by threads under a lock; every write is one short transaction.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self._home = Path(home).expanduser() if home is not None else None
        #: rows that could not be written yet; written when the ledger next opens
        self.pending: list[UsageRow] = []
        #: uid -> outbox target of pending rows that are also to be copied to a team ledger
        self._pending_outbox: dict[str, str] = {}
        self._lock = threading.RLock()
        self._dbs: dict[str, sqlite3.Connection] = {}
        self._pid = os.getpid()
        #: reservations held in memory when the file cannot be written: id -> (notebook, amount, expires, user);
        #: their ids are negative and never reused, so releasing one can never release another
        self._held: dict[int, tuple[str, float, float, str]] = {}
        self._memory_ids = itertools.count(1)

    @property
    def home(self) -> Path:
        if self._home is None:
            self._home = default_home()
        return self._home

    @property
    def path(self) -> Path:
        """The usage ledger file."""
        return self.home / USAGE_FILE

    def describe(self) -> str:
        """Where the figures come from, for the panel: this machine's ledger."""
        return "this machine's ledger"

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------------------

    def record(self, row: UsageRow, outbox: str | None = None) -> int:
        """Store one call and return its row id, or -1 (with a ``LedgerWarning``) if it is kept in memory.

        With ``outbox`` (a team ledger's target id), the row is also listed, in the same transaction, as
        waiting to be copied there (``queued``).
        """
        clean_row(row)
        targets = {row.uid: outbox} if outbox else None
        with self._lock:
            try:
                row.id = insert_rows(self._db(USAGE_FILE), [row], targets)[0]
                return row.id
            except db_errors() as exc:
                self._keep_pending(row, outbox)
                self._fail(
                    USAGE_FILE, exc, "this call is kept in memory and written when the ledger opens again"
                )
                return -1

    def _keep_pending(self, row: UsageRow, outbox: str | None) -> None:
        self.pending.append(row)
        if outbox:
            self._pending_outbox[row.uid] = outbox

    # -- the outbox: rows waiting to be copied to a team ledger ---------------------------------------------

    def queued(self, target: str, limit: int = 500) -> list[UsageRow]:
        """Rows waiting to be copied to the team ledger ``target`` (the file's and those kept in memory)."""
        rows = [row for row in self.pending if self._pending_outbox.get(row.uid) == target][:limit]
        sql = (
            f"SELECT {', '.join(f'usage.{quoted(name)}' for name in COLUMNS)}, usage.id FROM outbox "
            "JOIN usage ON usage.uid = outbox.uid WHERE outbox.target = ? ORDER BY outbox.uid LIMIT ?"
        )
        with self._lock:
            try:
                found = self._db(USAGE_FILE).execute(sql, (target, limit - len(rows))).fetchall()
            except db_errors():  # recording already warned about this file
                found = []
        return rows + [UsageRow(*values) for values in found]

    def unqueue(self, target: str, uids: Sequence[str]) -> bool:
        """Strike rows off the outbox of ``target`` (they are in the team ledger now); False if it failed."""
        with self._lock:
            for uid in uids:
                if self._pending_outbox.get(uid) == target:
                    del self._pending_outbox[uid]
            try:
                db = self._db(USAGE_FILE)
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.executemany(
                        "DELETE FROM outbox WHERE target = ? AND uid = ?", [(target, uid) for uid in uids]
                    )
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
                return True
            except db_errors():
                return False

    # -- reading ---------------------------------------------------------------------------------------------

    def totals(self, notebook: str | None = None, since: Any = None) -> dict[str, Any]:
        """Calls, tokens by kind and cost (USD) for one notebook (None: all) since a time (None: ever)."""
        if notebook is None:
            sql, params = grouped(SQLITE, (), since_text(since), last=False)
            (found,) = self._query(sql, params)
        else:
            where, params = where_sql(notebook, since)
            (found,) = self._query(f"SELECT COUNT(*), {SUMS_SQL} FROM usage{where}", params)
        return dict(zip(("calls", *TOKEN_COLUMNS, "cost_usd"), found, strict=True))

    def per_model(self, notebook: str | None = None, since: Any = None) -> list[dict[str, Any]]:
        """Totals per model, most expensive first."""
        keys = ("model", "calls", *TOKEN_COLUMNS, "cost_usd")
        if notebook is None:
            sql, params = grouped(
                SQLITE, ("model",), since_text(since), order="ORDER BY TOTAL(cost_usd) DESC, model", last=False
            )
        else:
            where, params = where_sql(notebook, since)
            sql = f"SELECT model, COUNT(*), {SUMS_SQL} FROM usage{where} GROUP BY model ORDER BY TOTAL(cost_usd) DESC, model"
        return [dict(zip(keys, found, strict=True)) for found in self._query(sql, params)]

    def per_notebook(self, since: Any = None) -> list[dict[str, Any]]:
        """Calls and cost per notebook, most recently used first."""
        sql, params = grouped(
            SQLITE, ("notebook",), since_text(since), order="ORDER BY MAX(last_ts) DESC, notebook"
        )
        return [brief(found, "notebook") for found in rows_as_dicts(self._query(sql, params), ("notebook",))]

    # -- the whole team (on this machine's ledger: everyone who used it) -------------------------------------

    def team_totals(self, since: Any = None) -> dict[str, Any]:
        """Calls, tokens by kind and cost of every call, since a time (None: ever)."""
        return self.totals(None, since)

    def per_user(self, since: Any = None) -> list[dict[str, Any]]:
        """Calls, tokens, cost and last call per user, most expensive first."""
        sql, params = grouped(SQLITE, ("user",), since_text(since), order='ORDER BY TOTAL(cost_usd) DESC, "user"')
        return rows_as_dicts(self._query(sql, params), ("user",))

    def per_user_notebook(self, since: Any = None) -> list[dict[str, Any]]:
        """Calls, tokens, cost and last call per user and notebook, most expensive first."""
        keys = ("user", "notebook")
        order = 'ORDER BY TOTAL(cost_usd) DESC, "user", notebook'
        return rows_as_dicts(self._query(*grouped(SQLITE, keys, since_text(since), order=order)), keys)

    def spent_in(self, cap: Cap, notebook: str = "", user: str | None = None) -> float:
        """What ``cap``'s scope has spent so far (the notebook ever; the user or the team in its period)."""
        from .reserving import spent_query

        return float(self._query(*spent_query(SQLITE, cap, notebook, user or current_user(), False))[0][0])

    def per_day(self, since: Any, notebook: str | None = None, team: bool = False) -> list[dict[str, Any]]:
        """Calls and cost per UTC day from the day holding ``since`` on, oldest first: ``day`` ("2025-06-01"),
        ``calls``, ``cost_usd``; one notebook's, or every call on this machine (``team`` changes nothing here)."""
        found = self._query(*daily(SQLITE, to_timestamp(since), notebook=notebook))
        return [{"day": bucket[:10], "calls": calls, "cost_usd": cost} for bucket, calls, cost in found]

    def recent(self, notebook: str | None = None, limit: int = 10) -> list[UsageRow]:
        """The last ``limit`` calls, newest first."""
        where, params = where_sql(notebook, None)
        found = self._query(f"{SELECT_ROWS}{where} ORDER BY ts DESC, id DESC LIMIT ?", [*params, int(limit)])
        return [UsageRow(*values) for values in found]

    def export_csv(
        self, path: str | os.PathLike[str], notebook: str | None = None, since: Any = None, team: bool = False
    ) -> int:
        """Write the matching rows, oldest first, as CSV with a header; return how many rows were written.

        The file is UTF-8 with a byte-order mark (``utf-8-sig``), so Excel reads accents right.  Text cells that
        a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab, carriage return or
        newline: thread names, model slugs such as ``@preset/...``, the provider, ids and errors the server
        sent) get a leading single quote, as OWASP's CSV-injection advice says; numbers stay numbers, so a
        negative cost or token count is still a number.  Notebook paths are written in full, as stored: the
        file is the user's own local export.  ``team`` changes nothing here: this machine's ledger holds
        everyone's calls made on it.
        """
        where, params = where_sql(notebook, since)
        return write_csv(path, self._query(f"{SELECT_ROWS}{where} ORDER BY ts, id", params))

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read on the ledger file; if it cannot be used, on the rows still pending in memory."""
        with self._lock:
            try:
                return self._db(USAGE_FILE).execute(sql, params).fetchall()
            except db_errors() as exc:
                self._fail(USAGE_FILE, exc, "figures include calls kept in memory", stacklevel=4)
            memory = memory_db(self.pending, self.path)
            try:
                return memory.execute(sql, params).fetchall()
            finally:
                memory.close()

    # -- connections -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the files (rows still pending stay in memory); the next use opens them again."""
        with self._lock:
            dbs, self._dbs = self._dbs, {}
            if self._pid == os.getpid():
                for db in dbs.values():
                    db.close()

    def _db(self, name: str) -> sqlite3.Connection:
        if self._pid != os.getpid():  # forked: the parent's connections are not ours to use
            self._dbs, self._pid = {}, os.getpid()
        db = self._dbs.get(name)
        if db is None:
            from .schema import CACHE_MIGRATIONS, USAGE_MIGRATIONS, open_database

            migrations = USAGE_MIGRATIONS if name == USAGE_FILE else CACHE_MIGRATIONS
            db = open_database(self.home / name, migrations, BUSY_TIMEOUT_S)
            if name == USAGE_FILE and self.pending:
                try:
                    ids = insert_rows(db, self.pending, self._pending_outbox)
                except BaseException:
                    db.close()
                    raise
                for row, row_id in zip(self.pending, ids, strict=True):
                    row.id = row_id
                self.pending, self._pending_outbox = [], {}
            self._dbs[name] = db
        return db

    def _fail(self, name: str, exc: BaseException, consequence: str, stacklevel: int = 3) -> None:
        from .failures import explain_failure

        db = self._dbs.pop(name, None)
        if db is not None:
            try:
                db.close()
            except db_errors():
                pass
        what = "usage ledger" if name == USAGE_FILE else "reply cache"
        failure = explain_failure(exc, self.home / name, self.home, BUSY_TIMEOUT_S)
        warnings.warn(
            f"o4: the {what} {self.home / name} cannot be used: {failure.reason}; {consequence}. {failure.remedy}",
            LedgerWarning,
            stacklevel=stacklevel,
        )


