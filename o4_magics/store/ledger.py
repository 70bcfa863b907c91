"""The SQLite usage ledger (one row per call, kept across kernel restarts) and the response cache.

Both live under ``O4_MAGICS_HOME`` (default ``<jupyter data dir>/o4_magics/``) in two files: ``usage.sqlite``,
the small and precious ledger, and ``cache.sqlite``, reply payloads that are safe to delete at any time.
A file that cannot be used never breaks a call: rows wait in ``Ledger.pending`` and a ``LedgerWarning`` says why.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import os
import threading
import uuid
import warnings
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .home import default_home
from .periods import Cap
from .rollup import SQLITE, daily, grouped, quoted, rows_as_dicts
from .times import TS_FORMAT, to_timestamp  # noqa: F401 (re-exported)
from .user import current_user

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable, Mapping, Sequence

    from .reserving import Judged

USAGE_FILE = "usage.sqlite"
CACHE_FILE = "cache.sqlite"
BUSY_TIMEOUT_S = 10.0
ERROR_MAX_CHARS = 2000

STATUSES = ("ok", "error", "incomplete", "interrupted", "cached", "refused")
COST_SOURCES = ("openrouter", "estimated", "cached")
SOURCES = ("magic", "explain", "chat", "ask")
TOKEN_COLUMNS = ("prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens")
INT_FIELDS = ("cell", *TOKEN_COLUMNS, "images")
FLOAT_FIELDS = ("cost_usd", "latency_s", "ttft_s")
NULLABLE_FIELDS = ("cell", "cost_usd", "latency_s", "ttft_s")
#: A spreadsheet runs a text cell starting with one of these as a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


@dataclass
class Reservation:
    """The answer to ``Ledger.reserve``: granted or not, and the figures it was judged on (USD)."""

    granted: bool
    spent_usd: float
    held_usd: float
    amount_usd: float
    id: int | None = None
    #: the cap these figures are about: the one that refused the call, else the first checked
    cap: Cap | None = None
    #: where the money is held: "local" (this machine's SQLite ledger) or "team" (the shared database)
    store: str = "local"


class LedgerWarning(UserWarning):
    """The ledger or cache file could not be used; the call itself went on."""


@dataclass
class UsageRow:
    """One call as the ledger keeps it.  ``ts`` is filled in (UTC text) and ``id`` set by ``Ledger.record``."""

    notebook: str = ""
    cell: int | None = None
    thread: str = "main"
    model: str = ""
    provider: str = ""
    generation_id: str = ""
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    images: int = 0
    cost_usd: float | None = 0.0
    cost_source: str = "estimated"  # one of COST_SOURCES
    latency_s: float | None = None
    ttft_s: float | None = None
    status: str = "ok"  # one of STATUSES
    error: str = ""
    source: str = "magic"  # one of SOURCES
    #: who made the call (``JUPYTERHUB_USER``, else the login name); filled in when recorded
    user: str = ""
    #: the row's unique id (uuid4 hex), filled in when recorded: a team ledger keeps each row exactly once
    uid: str = ""
    ts: str | datetime | float | None = None
    id: int | None = None


COLUMNS = tuple(field.name for field in fields(UsageRow) if field.name != "id")
COLUMNS_SQL = ", ".join(quoted(name) for name in COLUMNS)
UID_INDEX = COLUMNS.index("uid")
INSERT_SQL = f"INSERT INTO usage ({COLUMNS_SQL}) VALUES ({', '.join('?' * len(COLUMNS))})"
SELECT_ROWS = f"SELECT {COLUMNS_SQL}, id FROM usage"
SUMS_SQL = ", ".join(f"COALESCE(SUM({name}), 0)" for name in TOKEN_COLUMNS) + ", TOTAL(cost_usd)"


def cache_key(request: dict[str, Any]) -> str:
    """sha256 of the request's canonical JSON (keys sorted, bytes by digest): same request, same key.

    Pass only what decides the reply (model, messages with their image data, sampling options).
    """
    canonical = json.dumps(
        request, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable
    )
    return hashlib.sha256(f"o4-cache-v1\n{canonical}".encode()).hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytes_sha256": hashlib.sha256(value).hexdigest()}
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=lambda item: json.dumps(item, sort_keys=True, default=_jsonable))
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cache_key cannot encode {type(value).__name__}")


def _db_errors() -> tuple[type[BaseException], ...]:
    import sqlite3

    return (sqlite3.Error, OSError)


class Ledger:
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
        _clean(row)
        targets = {row.uid: outbox} if outbox else None
        with self._lock:
            try:
                row.id = _insert(self._db(USAGE_FILE), [row], targets)[0]
                return row.id
            except _db_errors() as exc:
                self._keep_pending(row, outbox)
                self._fail(
                    USAGE_FILE, exc, "this call is kept in memory and written when the ledger opens again"
                )
                return -1

    def _keep_pending(self, row: UsageRow, outbox: str | None) -> None:
        self.pending.append(row)
        if outbox:
            self._pending_outbox[row.uid] = outbox

    # -- reserving money for calls in flight ----------------------------------------------------------------

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
            except _db_errors() as exc:
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
        from .reserving import held_query, judge, pending_spent, spent_query

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
        from .reserving import judge, spent_query

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
            _clean(row)
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
                    row_id = _insert_one(db, row, targets) if row is not None else -1
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
                if row is not None:
                    row.id = row_id
                return row_id
            except _db_errors() as exc:
                if row is not None:
                    self._keep_pending(row, outbox)
                self._fail(
                    USAGE_FILE, exc, "this call is kept in memory and written when the ledger opens again"
                )
                return -1

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
            except _db_errors():  # recording already warned about this file
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
            except _db_errors():
                return False

    # -- reading ---------------------------------------------------------------------------------------------

    def totals(self, notebook: str | None = None, since: Any = None) -> dict[str, Any]:
        """Calls, tokens by kind and cost (USD) for one notebook (None: all) since a time (None: ever)."""
        if notebook is None:
            sql, params = grouped(SQLITE, (), _since(since), last=False)
            (found,) = self._query(sql, params)
        else:
            where, params = _where(notebook, since)
            (found,) = self._query(f"SELECT COUNT(*), {SUMS_SQL} FROM usage{where}", params)
        return dict(zip(("calls", *TOKEN_COLUMNS, "cost_usd"), found, strict=True))

    def per_model(self, notebook: str | None = None, since: Any = None) -> list[dict[str, Any]]:
        """Totals per model, most expensive first."""
        keys = ("model", "calls", *TOKEN_COLUMNS, "cost_usd")
        if notebook is None:
            sql, params = grouped(
                SQLITE, ("model",), _since(since), order="ORDER BY TOTAL(cost_usd) DESC, model", last=False
            )
        else:
            where, params = _where(notebook, since)
            sql = f"SELECT model, COUNT(*), {SUMS_SQL} FROM usage{where} GROUP BY model ORDER BY TOTAL(cost_usd) DESC, model"
        return [dict(zip(keys, found, strict=True)) for found in self._query(sql, params)]

    def per_notebook(self, since: Any = None) -> list[dict[str, Any]]:
        """Calls and cost per notebook, most recently used first."""
        sql, params = grouped(
            SQLITE, ("notebook",), _since(since), order="ORDER BY MAX(last_ts) DESC, notebook"
        )
        return [_brief(found, "notebook") for found in rows_as_dicts(self._query(sql, params), ("notebook",))]

    # -- the whole team (on this machine's ledger: everyone who used it) -------------------------------------

    def team_totals(self, since: Any = None) -> dict[str, Any]:
        """Calls, tokens by kind and cost of every call, since a time (None: ever)."""
        return self.totals(None, since)

    def per_user(self, since: Any = None) -> list[dict[str, Any]]:
        """Calls, tokens, cost and last call per user, most expensive first."""
        sql, params = grouped(SQLITE, ("user",), _since(since), order='ORDER BY TOTAL(cost_usd) DESC, "user"')
        return rows_as_dicts(self._query(sql, params), ("user",))

    def per_user_notebook(self, since: Any = None) -> list[dict[str, Any]]:
        """Calls, tokens, cost and last call per user and notebook, most expensive first."""
        keys = ("user", "notebook")
        order = 'ORDER BY TOTAL(cost_usd) DESC, "user", notebook'
        return rows_as_dicts(self._query(*grouped(SQLITE, keys, _since(since), order=order)), keys)

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
        where, params = _where(notebook, None)
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
        where, params = _where(notebook, since)
        return write_csv(path, self._query(f"{SELECT_ROWS}{where} ORDER BY ts, id", params))

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read on the ledger file; if it cannot be used, on the rows still pending in memory."""
        with self._lock:
            try:
                return self._db(USAGE_FILE).execute(sql, params).fetchall()
            except _db_errors() as exc:
                self._fail(USAGE_FILE, exc, "figures include calls kept in memory", stacklevel=4)
            memory = _memory_db(self.pending, self.path)
            try:
                return memory.execute(sql, params).fetchall()
            finally:
                memory.close()

    # -- cache -----------------------------------------------------------------------------------------------

    def cache_get(self, key: str) -> dict[str, Any] | None:
        """The reply stored under ``key``, or None (also when the cache file cannot be used)."""
        with self._lock:
            try:
                db = self._db(CACHE_FILE)
                found = db.execute("SELECT payload FROM cache WHERE key = ?", (key,)).fetchone()
            except _db_errors() as exc:
                self._fail(CACHE_FILE, exc, "replies are not cached")
                return None
            if found is None:
                return None
            try:  # bookkeeping only: a read-only cache still answers
                db.execute(
                    "UPDATE cache SET hits = hits + 1, used_ts = ? WHERE key = ?", (to_timestamp(), key)
                )
            except _db_errors():
                pass
        try:
            return json.loads(found[0])
        except ValueError:
            return None

    def cache_put(self, key: str, payload: dict[str, Any]) -> None:
        """Store a reply (a JSON-able dict) under ``key``, replacing any older one."""
        text = json.dumps(payload, ensure_ascii=False)
        now = to_timestamp()
        with self._lock:
            try:
                self._db(CACHE_FILE).execute(
                    "INSERT OR REPLACE INTO cache (key, payload, created_ts, used_ts, hits) VALUES (?, ?, ?, ?, 0)",
                    (key, text, now, now),
                )
            except _db_errors() as exc:
                self._fail(CACHE_FILE, exc, "replies are not cached")

    def cache_clear(self) -> int:
        """Delete every cached reply; return how many there were."""
        with self._lock:
            try:
                return self._db(CACHE_FILE).execute("DELETE FROM cache").rowcount
            except _db_errors() as exc:
                self._fail(CACHE_FILE, exc, "nothing was cleared")
                return 0

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
                    ids = _insert(db, self.pending, self._pending_outbox)
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
            except _db_errors():
                pass
        what = "usage ledger" if name == USAGE_FILE else "reply cache"
        failure = explain_failure(exc, self.home / name, self.home, BUSY_TIMEOUT_S)
        warnings.warn(
            f"o4: the {what} {self.home / name} cannot be used: {failure.reason}; {consequence}. {failure.remedy}",
            LedgerWarning,
            stacklevel=stacklevel,
        )


def write_csv(path: str | os.PathLike[str], found: Iterable[Sequence[Any]]) -> int:
    """Write ledger rows (``COLUMNS`` then ``id``) as CSV with a header, formula-safe; return how many."""
    count = 0
    with open(path, "w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow((*COLUMNS, "id"))
        for values in found:
            writer.writerow([spreadsheet_safe(value) for value in values])
            count += 1
    return count


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell no spreadsheet runs as a formula: text starting with ``FORMULA_STARTS`` gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _where(notebook: str | None, since: Any) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if notebook is not None:
        clauses.append("notebook = ?")
        params.append(notebook)
    if since is not None:
        clauses.append("ts >= ?")
        params.append(to_timestamp(since))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _clean(row: UsageRow) -> None:
    """Give every field the plain type SQLite stores (numpy ints, Decimals...), so no row can fail to bind."""
    for name in COLUMNS:
        value = getattr(row, name)
        if name == "ts":
            value = to_timestamp(value)
        elif name in INT_FIELDS or name in FLOAT_FIELDS:
            kind = int if name in INT_FIELDS else float
            value = None if value is None and name in NULLABLE_FIELDS else kind(value or 0)
        else:
            value = "" if value is None else str(value)
        setattr(row, name, value)
    row.error = row.error[:ERROR_MAX_CHARS]
    if not row.user:
        row.user = current_user()
    if not row.uid:
        row.uid = uuid.uuid4().hex


def row_values(row: UsageRow) -> tuple[Any, ...]:
    """The row's column values; a missing uid (a row inserted without ``_clean``) is stored as NULL."""
    values = [getattr(row, name) for name in COLUMNS]
    values[UID_INDEX] = values[UID_INDEX] or None
    return tuple(values)


def _since(since: Any) -> str | None:
    return None if since is None else to_timestamp(since)


def _brief(found: dict[str, Any], key: str) -> dict[str, Any]:
    """A per-notebook row as ``per_notebook`` answers it: the key, calls, cost and the last call's time."""
    return {
        key: found[key],
        "calls": found["calls"],
        "cost_usd": found["cost_usd"],
        "last_ts": found["last_ts"],
    }


def reservation_from(judged: Sequence[Judged], amount: float, row_id: int | None, store: str) -> Reservation:
    """The answer of a reservation from each cap's figures: the first refusing cap's, else the first cap's."""
    refused = next((found for found in judged if not found.fits), None)
    shown = refused or (judged[0] if judged else None)
    return Reservation(
        refused is None,
        shown.spent_usd if shown else 0.0,
        shown.held_usd if shown else 0.0,
        float(amount),
        row_id,
        cap=shown.cap if shown else None,
        store=store,
    )


def _insert_one(db: sqlite3.Connection, row: UsageRow, targets: Mapping[str, str] | None) -> int:
    row_id = db.execute(INSERT_SQL, row_values(row)).lastrowid
    target = targets.get(row.uid) if targets else None
    if target:
        db.execute("INSERT OR IGNORE INTO outbox (target, uid) VALUES (?, ?)", (target, row.uid))
    return row_id


def _insert(
    db: sqlite3.Connection, rows: Sequence[UsageRow], targets: Mapping[str, str] | None = None
) -> list[int]:
    """Insert rows in one transaction (listing those named in ``targets`` in the outbox); return their ids."""
    db.execute("BEGIN IMMEDIATE")
    try:
        ids = [_insert_one(db, row, targets) for row in rows]
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return ids


def _memory_db(rows: Sequence[UsageRow], disk: Path) -> sqlite3.Connection:
    """A ledger in memory holding ``rows``, plus the file's rows if it can at least be read (a read-only file).

    Reads keep working, budget checks included, when the file cannot be written.
    """
    import sqlite3

    from .schema import USAGE_MIGRATIONS, migrate

    db = sqlite3.connect(":memory:", isolation_level=None, uri=True)
    migrate(db, USAGE_MIGRATIONS)
    db.executemany(INSERT_SQL, [row_values(row) for row in rows])
    listed = f"{COLUMNS_SQL}, id"
    # immutable: a WAL file in a read-only directory, where no -shm can be made
    for how in ("mode=ro", "immutable=1"):
        try:
            db.execute("ATTACH DATABASE ? AS disk", (f"{disk.resolve().as_uri()}?{how}",))
            on_disk = _disk_columns(db)
            db.execute(f"SELECT {on_disk} FROM disk.usage LIMIT 1")
        except sqlite3.Error:
            if any(name == "disk" for _, name, _ in db.execute("PRAGMA database_list")):
                db.execute("DETACH DATABASE disk")
            continue
        # a TEMP view is found before main's table of the same name, so the usual queries read both
        db.execute(
            f"CREATE TEMP VIEW usage AS SELECT {listed} FROM main.usage UNION ALL SELECT {on_disk} FROM disk.usage"
        )
        break
    db.execute(_rollup_view())  # the sums, computed from the rows above (the file's own sums may be older)
    return db


def _disk_columns(db: sqlite3.Connection) -> str:
    """The usage columns of the attached file, with defaults for those an older (read-only) file lacks."""
    present = {name for _, name, *_ in db.execute("PRAGMA disk.table_info(usage)")}
    missing = {"user": "'' AS \"user\"", "uid": "NULL AS uid"}
    return ", ".join(
        quoted(name) if name in present else missing.get(name, f"NULL AS {name}") for name in (*COLUMNS, "id")
    )


def _rollup_view() -> str:
    from .schema import DAY_BUCKET, MONTH_BUCKET, ROLLUP_SUMS

    sums = ", ".join(f"COALESCE(SUM({name}), 0) AS {name}" for name in ROLLUP_SUMS)
    parts = [
        f"SELECT '{span}' AS span, {bucket.format(ts='ts')} AS bucket, \"user\", notebook, model, "
        f"COUNT(*) AS calls, {sums}, TOTAL(cost_usd) AS cost_usd, MAX(ts) AS last_ts FROM usage GROUP BY 1, 2, 3, 4, 5"
        for span, bucket in (("day", DAY_BUCKET), ("month", MONTH_BUCKET))
    ]
    return "CREATE TEMP VIEW usage_rollup AS " + " UNION ALL ".join(parts)
