"""The team ledger: usage rows, budget reservations and the reply cache on a shared PostgreSQL database.

Every call is written first to this machine's SQLite ledger, with its unique id, and listed in its outbox;
then it is copied up.  When the database cannot be reached calls go on: rows wait in the outbox and are
copied when it is back, each exactly once (``INSERT ... ON CONFLICT (uid) DO NOTHING``), and budgets hold
against this machine's ledger plus what the rest of the team had spent when last seen.  psycopg is
imported here only, when a ``TeamLedger`` connects.
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from .backend import LedgerURL, check_ledger_url, safe_ledger_url, scrub, target_id, url_secrets
from .ledger import (  # the shared pieces (re-exported there)
    COLUMNS,
    COLUMNS_SQL,
    TOKEN_COLUMNS,
    Ledger,
    LedgerWarning,
    Reservation,
    UsageRow,
    reservation_from,
    row_values,
    write_csv,
)
from .periods import Cap
from .reserving import Judged, held_query, judge, spent_query
from .rollup import POSTGRESQL, daily, grouped, rows_as_dicts
from .times import to_timestamp
from .user import current_user

CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 15_000
#: After a failure the database is tried again after this long, doubling up to the maximum.
RETRY_MIN_S, RETRY_MAX_S = 2.0, 60.0
#: Rows copied up per transaction.
BATCH_ROWS = 500
#: pg_advisory_xact_lock key of budget checks ("o4magic" + 2): one reservation decided at a time.
RESERVE_LOCK = 0x6F346D6167696302
#: Attempts of a transaction PostgreSQL aborted to break a deadlock or a serialization conflict.
ATTEMPTS = 3

PG_SUMS = ", ".join(
    [
        "COUNT(*)",
        *(f"COALESCE(SUM({name}), 0)::bigint" for name in TOKEN_COLUMNS),
        POSTGRESQL.cost_sum("cost_usd"),
    ]
)
COST_ORDER = POSTGRESQL.cost_sum("cost_usd")

_MISSING = object()
#: Connections inherited through fork(): kept referenced, never closed, so the parent's session lives on.
_INHERITED: list[Any] = []


class TeamLedgerUnavailable(Exception):
    """The team ledger cannot be used for a reason outside the database (psycopg missing)."""


def _errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:
        return (OSError, TeamLedgerUnavailable)
    return (psycopg.Error, OSError, TeamLedgerUnavailable)


def _retryable(exc: BaseException) -> bool:
    return getattr(exc, "sqlstate", None) in ("40P01", "40001")  # deadlock detected, serialization failure


def explain_pg_failure(exc: BaseException) -> str:
    """Why the database could not be used, in a sentence with what to do (no password: scrub it after)."""
    if isinstance(exc, TeamLedgerUnavailable):
        return str(exc)
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    state = getattr(exc, "sqlstate", None) or ""
    lowered = first.lower()
    if "password authentication failed" in lowered or state == "28P01":
        return f"{first} (check the user and password: PGPASSWORD, ~/.pgpass or the URL)"
    if state == "42501" or "permission denied" in lowered:
        return (
            f"{first} (the role needs CREATE on the database's schema for the first connection, which creates "
            "the tables, then SELECT, INSERT, UPDATE and DELETE on them)"
        )
    if "does not exist" in lowered and state in ("3D000", ""):
        return f"{first} (create the database, or correct its name in the URL)"
    return first


class TeamLedger:
    """The ledger of a team on PostgreSQL, with this machine's SQLite ledger (``local``) as its queue.

    It answers like ``Ledger``: ``record``, ``reserve``/``reserve_caps``/``release``, the panel's reads (this
    user's notebooks), the team's reads (``per_user``, ``per_user_notebook``, ``team_totals``), the cache, and
    ``sync()`` to copy the queued rows up now.  A database that cannot be used never breaks a call: one
    ``LedgerWarning`` per outage says why, and the reads fall back to this machine's ledger.
    """

    def __init__(
        self,
        url: str,
        home: Any = None,
        *,
        retry_min_s: float = RETRY_MIN_S,
        retry_max_s: float = RETRY_MAX_S,
    ) -> None:
        checked = check_ledger_url(url)
        if checked is None:
            raise ValueError("a TeamLedger needs a postgresql:// URL")
        self.url: LedgerURL = checked
        self.shown_url = safe_ledger_url(checked)
        self.target = target_id(checked)
        self._secrets = url_secrets(checked)
        self.local = Ledger(home)
        self.retry_min_s, self.retry_max_s = retry_min_s, retry_max_s
        #: True once connected, False while the database cannot be used, None before the first try
        self.online: bool | None = None
        #: why the database could not be used last (password-free), else ""
        self.last_error = ""
        #: rows copied up by ``sync`` and reconnections, in all
        self.copied_rows = 0
        self._lock = threading.RLock()
        self._conn: Any = None
        self._pid = os.getpid()
        self._retry_at = 0.0
        self._backoff = retry_min_s
        self._warned = False
        self._unsettled: list[int] = []  # team reservations released while the database was away
        #: per cap: what the rest of the team had spent beyond this machine's ledger when last seen
        self._elsewhere: dict[tuple[str, str, str, str], float] = {}

    def __repr__(self) -> str:
        state = {True: "online", False: "offline", None: "not connected yet"}[self.online]
        return f"<TeamLedger {self.shown_url} ({state}), queue in {self.local.path}>"

    @property
    def home(self) -> Any:
        return self.local.home

    @property
    def path(self) -> Any:
        return self.local.path

    @property
    def pending(self) -> list[UsageRow]:
        return self.local.pending

    def describe(self) -> str:
        """Where the figures come from: the team ledger, or this machine's while it cannot be reached."""
        if self.online is False:
            return f"this machine's ledger (the team ledger {self.shown_url} cannot be reached)"
        return f"the team ledger {self.shown_url}"

    def __enter__(self) -> TeamLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the connection ------------------------------------------------------------------------------------

    def _connect(self) -> Any:
        try:
            import psycopg
        except ImportError:
            raise TeamLedgerUnavailable(
                "psycopg is not installed (pip install 'o4-magics[team]' in the kernel's environment)"
            ) from None
        options: dict[str, Any] = dict(
            connect_timeout=CONNECT_TIMEOUT_S,
            autocommit=True,
            application_name="o4-magics",
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        )
        if psycopg.pq.version() >= 120000:
            options["tcp_user_timeout"] = 30_000
        conn = psycopg.connect(self.url.secret, **options)
        try:
            conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
            from .pg_schema import migrate_postgres

            migrate_postgres(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _connection(self, force: bool = False) -> Any:
        """The open connection, connecting (then copying the queue up) when due; None while unreachable."""
        if self._pid != os.getpid():  # forked: the parent's session is not ours to use, nor to close
            if self._conn is not None:
                _INHERITED.append(self._conn)
            self._conn, self._pid = None, os.getpid()
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._conn = None
        if not force and time.monotonic() < self._retry_at:
            return None
        try:
            conn = self._connect()
        except _errors() as exc:
            self._went_offline(exc)
            return None
        self._conn, self.online, self._warned, self._backoff = conn, True, False, self.retry_min_s
        try:
            self._sync(conn)
        except _errors() as exc:
            self._went_offline(exc)
            return None
        return conn

    def _went_offline(self, exc: BaseException) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass
        self.online = False
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, self.retry_max_s)
        self.last_error = scrub(explain_pg_failure(exc), self.url.secret)
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"o4: the team ledger {self.shown_url} cannot be used: {self.last_error}. Calls go on: their "
                f"rows wait in this machine's ledger and are copied up, each once, when it is back. Until then "
                "budgets count this machine's calls plus what the team had spent when last seen, and the usage "
                "figures are this machine's.",
                LedgerWarning,
                stacklevel=4,
            )

    def _attempt(self, action: Callable[[Any], Any]) -> Any:
        """``action(connection)`` (one transaction), or ``_MISSING`` when the database cannot be used."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return _MISSING
            for attempt in range(ATTEMPTS):
                try:
                    return action(conn)
                except _errors() as exc:
                    if _retryable(exc) and attempt + 1 < ATTEMPTS:
                        continue
                    self._went_offline(exc)
                    return _MISSING
            return _MISSING

    def _read(self, team: Callable[[Any], Any], local: Callable[[], Any]) -> Any:
        found = self._attempt(team)
        return local() if found is _MISSING else found

    # -- copying rows up -----------------------------------------------------------------------------------

    def sync(self) -> int:
        """Copy every queued row up now (trying the database even while waiting to retry); return how many
        were added (rows another process copied already are not counted, nor added twice)."""
        with self._lock:
            before = self.copied_rows
            if self._connection() is None and self._connection(force=True) is None:
                return 0
            if self.copied_rows == before:  # already connected: copy what queued up since
                self._attempt(self._sync)
            return self.copied_rows - before

    def _sync(self, conn: Any) -> int:
        if self._unsettled:
            settled = list(self._unsettled)
            conn.execute("DELETE FROM reservations WHERE id = ANY(%s)", (settled,))
            self._unsettled = [held for held in self._unsettled if held not in settled]
        copied = 0
        for _ in range(1_000_000):
            rows = self.local.queued(self.target, BATCH_ROWS)
            if not rows:
                break
            copied += self._upload(conn, rows)
            if not self.local.unqueue(self.target, [row.uid for row in rows]):
                break  # they stay queued; copying them again adds nothing
        self.copied_rows += copied
        return copied

    def _upload(self, conn: Any, rows: Sequence[UsageRow]) -> int:
        """Insert rows not already there, in one transaction (sorted by uid: concurrent copies never deadlock)."""
        ordered = sorted((row for row in rows if row.uid), key=lambda row: row.uid)
        if not ordered:
            return 0
        marks = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
        sql = (
            f"INSERT INTO usage ({COLUMNS_SQL}) VALUES {', '.join([marks] * len(ordered))} "
            "ON CONFLICT (uid) DO NOTHING"
        )
        params = [value for row in ordered for value in row_values(row)]
        with conn.transaction():
            return conn.execute(sql, params).rowcount

    def _copy_up(self, rows: Sequence[UsageRow]) -> None:
        if self._attempt(lambda conn: self._upload(conn, rows)) is not _MISSING:
            self.local.unqueue(self.target, [row.uid for row in rows])

    # -- writing -------------------------------------------------------------------------------------------

    def _scrubbed(self, row: UsageRow | None) -> UsageRow | None:
        """``row`` with the ledger URL's password taken out of its text (an error quoting the URL)."""
        if row is not None and self._secrets:
            for name in COLUMNS:
                value = getattr(row, name)
                if isinstance(value, str) and any(secret in value for secret in self._secrets):
                    setattr(row, name, scrub(value, self.url.secret))
        return row

    def record(self, row: UsageRow) -> int:
        """Store one call here and in the team ledger (or queue it); return its id in this machine's ledger."""
        self._scrubbed(row)
        row_id = self.local.record(row, self.target)
        self._copy_up([row])
        return row_id

    def reserve(self, notebook: str, amount_usd: float, cap_usd: float, ttl_s: float) -> Reservation:
        """Hold ``amount_usd`` for a call within this user's notebook cap (see ``reserve_caps``)."""
        return self.reserve_caps(notebook, amount_usd, [Cap("notebook", float(cap_usd))], ttl_s)

    def reserve_caps(
        self, notebook: str, amount_usd: float, caps: Sequence[Cap], ttl_s: float, user: str | None = None
    ) -> Reservation:
        """Hold ``amount_usd`` if it fits every cap, judged on the shared database in one transaction under
        one advisory lock, so no two processes anywhere pass a cap together.  Offline: on this machine's."""
        user = user or current_user()
        found = self._attempt(
            lambda conn: self._reserve(conn, notebook, user, float(amount_usd), caps, ttl_s)
        )
        if found is _MISSING:
            return self._reserve_offline(notebook, float(amount_usd), caps, ttl_s, user)
        held, judged = found
        for figures in judged:  # what others spent, as last seen: still counted while the database is away
            here = self.local.spent_in(figures.cap, notebook, user)
            self._elsewhere[_cap_key(figures.cap, notebook, user)] = max(0.0, figures.spent_usd - here)
        return held

    def _reserve_offline(
        self, notebook: str, amount: float, caps: Sequence[Cap], ttl_s: float, user: str
    ) -> Reservation:
        """Judge on this machine's ledger, counting what the rest of the team had spent when last seen."""
        offsets = [self._elsewhere.get(_cap_key(cap, notebook, user), 0.0) for cap in caps]
        lowered = [replace(cap, usd=cap.usd - offset) for cap, offset in zip(caps, offsets, strict=True)]
        held = self.local.reserve_caps(notebook, amount, lowered, ttl_s, user)
        if held.cap in lowered:  # the figures of the cap as set, with the team's spend as last seen
            index = lowered.index(held.cap)
            held.cap, held.spent_usd = caps[index], held.spent_usd + offsets[index]
        return held

    def _reserve(
        self, conn: Any, notebook: str, user: str, amount: float, caps: Sequence[Cap], ttl_s: float
    ) -> tuple[Reservation, list[Judged]]:
        now = datetime.now(timezone.utc)
        stamp = to_timestamp(now)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (RESERVE_LOCK,))
            conn.execute("DELETE FROM reservations WHERE expires_ts < %s", (stamp,))
            judged = []
            for cap in caps:
                spent_sql, spent_params = spent_query(POSTGRESQL, cap, notebook, user, True)
                held_sql, held_params = held_query(POSTGRESQL, cap.scope, notebook, user, True)
                spent, held = conn.execute(
                    f"SELECT ({spent_sql}), ({held_sql})", [*spent_params, *held_params]
                ).fetchone()
                judged.append(judge(cap, spent, held, amount))
            row_id = None
            if all(found.fits for found in judged):
                row_id = conn.execute(
                    'INSERT INTO reservations (notebook, "user", amount_usd, created_ts, expires_ts, pid) '
                    "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                    (notebook, user, amount, stamp, to_timestamp(now.timestamp() + ttl_s), os.getpid()),
                ).fetchone()[0]
        return reservation_from(judged, amount, row_id, "team"), judged

    def release(self, reservation: Reservation | None, row: UsageRow | None = None) -> int:
        """Give back a reservation and record the call's row; a team hold and the row go in one transaction."""
        self._scrubbed(row)
        if reservation is None or reservation.store != "team" or reservation.id is None:
            row_id = self.local.release(reservation, row, self.target)
            if row is not None:
                self._copy_up([row])
            return row_id
        row_id = self.local.record(row, self.target) if row is not None else -1

        def settle(conn: Any) -> None:
            with conn.transaction():
                conn.execute("DELETE FROM reservations WHERE id = %s", (reservation.id,))
                if row is not None:
                    self._upload(conn, [row])

        if self._attempt(settle) is _MISSING:
            with self._lock:
                self._unsettled.append(reservation.id)
        elif row is not None:
            self.local.unqueue(self.target, [row.uid])
        return row_id

    # -- this user's figures (the panel) -------------------------------------------------------------------

    def totals(self, notebook: str | None = None, since: Any = None) -> dict[str, Any]:
        """This user's calls, tokens by kind and cost: in one notebook (None: all of theirs) since a time."""
        user, since = current_user(), _since(since)
        keys = ("calls", *TOKEN_COLUMNS, "cost_usd")

        def team(conn: Any) -> dict[str, Any]:
            if notebook is None:
                found = conn.execute(*grouped(POSTGRESQL, (), since, user, last=False)).fetchone()
            else:
                where, params = _where(user, notebook, since)
                found = conn.execute(f"SELECT {PG_SUMS} FROM usage{where}", params).fetchone()
            return dict(zip(keys, found, strict=True))

        return self._read(team, lambda: self.local.totals(notebook, since))

    def per_model(self, notebook: str | None = None, since: Any = None) -> list[dict[str, Any]]:
        """This user's totals per model, most expensive first."""
        user, since = current_user(), _since(since)
        keys = ("model", "calls", *TOKEN_COLUMNS, "cost_usd")
        order = f"ORDER BY {COST_ORDER} DESC, model"

        def team(conn: Any) -> list[dict[str, Any]]:
            if notebook is None:
                found = conn.execute(*grouped(POSTGRESQL, ("model",), since, user, order=order, last=False))
            else:
                where, params = _where(user, notebook, since)
                found = conn.execute(
                    f"SELECT model, {PG_SUMS} FROM usage{where} GROUP BY model {order}", params
                )
            return [dict(zip(keys, values, strict=True)) for values in found.fetchall()]

        return self._read(team, lambda: self.local.per_model(notebook, since))

    def per_notebook(self, since: Any = None) -> list[dict[str, Any]]:
        """Calls and cost per notebook of this user's, most recently used first."""
        user, since = current_user(), _since(since)
        sql, params = grouped(
            POSTGRESQL, ("notebook",), since, user, order="ORDER BY MAX(last_ts) DESC, notebook"
        )

        def team(conn: Any) -> list[dict[str, Any]]:
            found = rows_as_dicts(conn.execute(sql, params).fetchall(), ("notebook",))
            return [
                {name: item[name] for name in ("notebook", "calls", "cost_usd", "last_ts")} for item in found
            ]

        return self._read(team, lambda: self.local.per_notebook(since))

    def per_day(self, since: Any, notebook: str | None = None, team: bool = False) -> list[dict[str, Any]]:
        """Calls and cost per UTC day from the day holding ``since`` on, oldest first (as ``Ledger.per_day``):
        this user's (in one notebook, or in all), or with ``team`` the whole team's."""
        sql, params = daily(POSTGRESQL, to_timestamp(since), None if team else current_user(), notebook)

        def from_team(conn: Any) -> list[dict[str, Any]]:
            found = conn.execute(sql, params).fetchall()
            return [{"day": bucket[:10], "calls": calls, "cost_usd": cost} for bucket, calls, cost in found]

        return self._read(from_team, lambda: self.local.per_day(since, notebook, team))

    def recent(self, notebook: str | None = None, limit: int = 10) -> list[UsageRow]:
        """This user's last ``limit`` calls (in one notebook, or in all), newest first."""
        user = current_user()
        where, params = _where(user, notebook, None)
        sql = f"SELECT {COLUMNS_SQL}, id FROM usage{where} ORDER BY ts DESC, id DESC LIMIT %s"

        def team(conn: Any) -> list[UsageRow]:
            return [UsageRow(*values) for values in conn.execute(sql, [*params, int(limit)]).fetchall()]

        return self._read(team, lambda: self.local.recent(notebook, limit))

    def export_csv(
        self, path: Any, notebook: str | None = None, since: Any = None, team: bool = False
    ) -> int:
        """Write this user's matching rows (``team``: everyone's), oldest first, as ``Ledger.export_csv`` does."""
        where, params = _where(None if team else current_user(), notebook, _since(since))
        sql = f"SELECT {COLUMNS_SQL}, id FROM usage{where} ORDER BY ts, id"

        def from_team(conn: Any) -> int:
            with conn.transaction(), conn.cursor(name="o4_export") as cursor:  # streamed, not all in memory
                cursor.execute(sql, params)
                return write_csv(path, cursor)

        return self._read(from_team, lambda: self.local.export_csv(path, notebook, since))

    # -- the whole team --------------------------------------------------------------------------------------

    def team_totals(self, since: Any = None) -> dict[str, Any]:
        """Calls, tokens by kind and cost of the whole team, since a time (None: ever)."""
        since = _since(since)
        keys = ("calls", *TOKEN_COLUMNS, "cost_usd")

        def team(conn: Any) -> dict[str, Any]:
            return dict(
                zip(keys, conn.execute(*grouped(POSTGRESQL, (), since, last=False)).fetchone(), strict=True)
            )

        return self._read(team, lambda: self.local.team_totals(since))

    def per_user(self, since: Any = None) -> list[dict[str, Any]]:
        """Calls, tokens, cost and last call per user of the team, most expensive first."""
        sql, params = grouped(
            POSTGRESQL, ("user",), _since(since), order=f'ORDER BY {COST_ORDER} DESC, "user"'
        )
        return self._read(
            lambda conn: rows_as_dicts(conn.execute(sql, params).fetchall(), ("user",)),
            lambda: self.local.per_user(since),
        )

    def per_user_notebook(self, since: Any = None) -> list[dict[str, Any]]:
        """Calls, tokens, cost and last call per user and notebook of the team, most expensive first."""
        keys = ("user", "notebook")
        order = f'ORDER BY {COST_ORDER} DESC, "user", notebook'
        sql, params = grouped(POSTGRESQL, keys, _since(since), order=order)
        return self._read(
            lambda conn: rows_as_dicts(conn.execute(sql, params).fetchall(), keys),
            lambda: self.local.per_user_notebook(since),
        )

    def spent_in(self, cap: Cap, notebook: str = "", user: str | None = None) -> float:
        """What ``cap``'s scope has spent so far (this user's notebook ever; the user or team in its period)."""
        user = user or current_user()
        sql, params = spent_query(POSTGRESQL, cap, notebook, user, True)
        return self._read(
            lambda conn: float(conn.execute(sql, params).fetchone()[0]),
            lambda: self.local.spent_in(cap, notebook, user),
        )

    # -- the reply cache (shared by the team) ----------------------------------------------------------------

    def cache_get(self, key: str) -> dict[str, Any] | None:
        """The reply stored under ``key`` in the team's cache (this machine's while it is away), or None."""

        def team(conn: Any) -> Any:
            found = conn.execute(
                "UPDATE cache SET hits = hits + 1, used_ts = %s WHERE key = %s RETURNING payload",
                (to_timestamp(), key),
            ).fetchone()
            return None if found is None else found[0]

        found = self._attempt(team)
        if found is _MISSING:
            return self.local.cache_get(key)
        try:
            return None if found is None else json.loads(found)
        except ValueError:
            return None

    def cache_put(self, key: str, payload: dict[str, Any]) -> None:
        """Store a reply in the team's cache (this machine's while it is away)."""
        text, now = json.dumps(payload, ensure_ascii=False), to_timestamp()
        stored = self._attempt(
            lambda conn: conn.execute(
                "INSERT INTO cache (key, payload, created_ts, used_ts, hits) VALUES (%s, %s, %s, %s, 0) "
                "ON CONFLICT (key) DO UPDATE SET payload = EXCLUDED.payload, created_ts = EXCLUDED.created_ts, "
                "used_ts = EXCLUDED.used_ts, hits = 0",
                (key, text, now, now),
            )
        )
        if stored is _MISSING:
            self.local.cache_put(key, payload)

    def cache_clear(self) -> int:
        """Delete every cached reply, the team's and this machine's; return how many there were."""
        team = self._attempt(lambda conn: conn.execute("DELETE FROM cache").rowcount)
        return (0 if team is _MISSING else int(team)) + self.local.cache_clear()

    # -- closing ---------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection and the local files; the next use opens them again."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None and self._pid == os.getpid():
                try:
                    conn.close()
                except Exception:
                    pass
            self.local.close()


def _cap_key(cap: Cap, notebook: str, user: str) -> tuple[str, str, str, str]:
    who = {"notebook": f"{user}\n{notebook}", "user": user}.get(cap.scope, "")
    return (cap.scope, cap.since or "", cap.period, who)


def _since(since: Any) -> str | None:
    return None if since is None else to_timestamp(since)


def _where(user: str | None, notebook: str | None, since: str | None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for clause, value in (('"user" = %s', user), ("notebook = %s", notebook), ("ts >= %s", since)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
