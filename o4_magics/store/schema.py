"""The ledger's SQLite files: opened privately in WAL mode, their schemas kept as ordered lists of migrations.

Each migration is a function taking a ``sqlite3.Connection``; its name is recorded in the ``_o4_migrations``
table once applied, so a database only ever moves forward.  Add new migrations at the end, never edit old ones.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

Migration = Callable[[sqlite3.Connection], None]

#: Held while this process creates a database file or connects to one.  Closing any descriptor of a file drops
#: every POSIX lock the process holds on it (sqlite.org/howtocorrupt.html, 2.2), so a thread closing the
#: descriptor it made the file with must not overlap another thread's connecting: two processes could then each
#: believe they were first, each start their own WAL index, and never see the other's rows.
_CREATING = threading.Lock()


def m001_usage(db: sqlite3.Connection) -> None:
    """One row per call: who asked, what it cost, how it went."""
    db.execute(
        """
        CREATE TABLE usage (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            notebook TEXT NOT NULL,
            cell INTEGER,
            thread TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL DEFAULT '',
            provider TEXT NOT NULL DEFAULT '',
            generation_id TEXT NOT NULL DEFAULT '',
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            cached_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            reasoning_tokens INTEGER NOT NULL DEFAULT 0,
            images INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL,
            cost_source TEXT NOT NULL DEFAULT '',
            latency_s REAL,
            ttft_s REAL,
            status TEXT NOT NULL DEFAULT 'ok',
            error TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT ''
        )
        """
    )


def m002_usage_indexes(db: sqlite3.Connection) -> None:
    """Indexes that hold every summed column, so totals never touch the table (100,000 rows: ~30 ms)."""
    sums = "cost_usd, prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens"
    db.execute(f"CREATE INDEX usage_notebook_ts ON usage (notebook, ts, model, {sums})")
    db.execute(f"CREATE INDEX usage_model_ts ON usage (model, ts, {sums})")
    db.execute("CREATE INDEX usage_ts ON usage (ts)")


def m003_reservations(db: sqlite3.Connection) -> None:
    """Money held by calls in flight: a call reserves its worst case before sending and settles after, so
    calls running at once (threads, the chat, other kernels) cannot pass a budget together."""
    db.execute(
        """
        CREATE TABLE reservations (
            id INTEGER PRIMARY KEY,
            notebook TEXT NOT NULL,
            amount_usd REAL NOT NULL,
            created_ts TEXT NOT NULL,
            expires_ts TEXT NOT NULL,
            pid INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute("CREATE INDEX reservations_notebook ON reservations (notebook, expires_ts)")


def m004_usage_ts_covering(db: sqlite3.Connection) -> None:
    """``usage_ts`` made covering: totals of every notebook since a time read the index alone, not each row
    (``%o4_usage --all --since``: 100,000 rows in ~24 ms instead of ~44 ms)."""
    sums = "cost_usd, prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens"
    db.execute(f"CREATE INDEX usage_ts_sums ON usage (ts, {sums})")
    db.execute("DROP INDEX usage_ts")


def m005_reservation_ids_never_reused(db: sqlite3.Connection) -> None:
    """Reservation ids from AUTOINCREMENT: a call settling after its hold expired (and was cleared) must not
    drop a newer call's hold that was given the same id, as a plain rowid would give it."""
    db.execute("ALTER TABLE reservations RENAME TO reservations_m003")
    db.execute(
        """
        CREATE TABLE reservations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            notebook TEXT NOT NULL,
            amount_usd REAL NOT NULL,
            created_ts TEXT NOT NULL,
            expires_ts TEXT NOT NULL,
            pid INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute("INSERT INTO reservations SELECT * FROM reservations_m003")
    db.execute("DROP TABLE reservations_m003")
    db.execute("CREATE INDEX reservations_notebook ON reservations (notebook, expires_ts)")


def m006_usage_user(db: sqlite3.Connection) -> None:
    """Who made each call (``user``: ``JUPYTERHUB_USER``, else the login name) and a unique id per row (``uid``),
    so rows copied to a team ledger are kept exactly once; ``outbox`` lists the rows still to copy there.

    Rows already in this file were made by its owner, the user running this migration.
    """
    from .user import current_user

    db.execute("ALTER TABLE usage ADD COLUMN \"user\" TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE usage ADD COLUMN uid TEXT")
    db.execute("CREATE UNIQUE INDEX usage_uid ON usage (uid)")
    db.execute('UPDATE usage SET "user" = ?', (current_user(),))
    db.execute("ALTER TABLE reservations ADD COLUMN \"user\" TEXT NOT NULL DEFAULT ''")
    db.execute(
        "CREATE TABLE outbox (target TEXT NOT NULL, uid TEXT NOT NULL, PRIMARY KEY (target, uid)) WITHOUT ROWID"
    )


#: The rollup's summed columns, in order (the same in PostgreSQL's schema).
ROLLUP_SUMS = ("prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens")
ROLLUP_KEYS = 'span, bucket, "user", notebook, model'
DAY_BUCKET = "substr({ts}, 1, 10) || 'T00:00:00.000000Z'"
MONTH_BUCKET = "substr({ts}, 1, 7) || '-01T00:00:00.000000Z'"


def m007_usage_rollup(db: sqlite3.Connection) -> None:
    """Daily and monthly sums per user, notebook and model, kept by a trigger on every insert: totals over every
    notebook, the team and the budget periods read these instead of every row (1,000,000 calls: ~5 ms, not
    ~300 ms).  ``usage_ts_keys`` answers the rows of a partial first day (``--since`` 14:30) from the index."""
    sums = ", ".join(ROLLUP_SUMS)
    db.execute(
        f"""
        CREATE TABLE usage_rollup (
            span TEXT NOT NULL,
            bucket TEXT NOT NULL,
            "user" TEXT NOT NULL,
            notebook TEXT NOT NULL,
            model TEXT NOT NULL,
            calls INTEGER NOT NULL DEFAULT 0,
            {", ".join(f"{name} INTEGER NOT NULL DEFAULT 0" for name in ROLLUP_SUMS)},
            cost_usd REAL NOT NULL DEFAULT 0,
            last_ts TEXT NOT NULL,
            PRIMARY KEY ({ROLLUP_KEYS})
        ) WITHOUT ROWID
        """
    )
    new = ", ".join(f"NEW.{name}" for name in ROLLUP_SUMS)
    values = [
        f"('{span}', {bucket.format(ts='NEW.ts')}, NEW.\"user\", NEW.notebook, NEW.model, 1, {new}, "
        "COALESCE(NEW.cost_usd, 0), NEW.ts)"
        for span, bucket in (("day", DAY_BUCKET), ("month", MONTH_BUCKET))
    ]
    added = ", ".join(f"{name} = {name} + excluded.{name}" for name in (*ROLLUP_SUMS, "cost_usd"))
    db.execute(
        f"""
        CREATE TRIGGER usage_rollup_insert AFTER INSERT ON usage BEGIN
            INSERT INTO usage_rollup ({ROLLUP_KEYS}, calls, {sums}, cost_usd, last_ts)
            VALUES {", ".join(values)}
            ON CONFLICT ({ROLLUP_KEYS}) DO UPDATE SET calls = calls + excluded.calls, {added},
                last_ts = max(last_ts, excluded.last_ts);
        END
        """
    )
    for span, bucket in (("day", DAY_BUCKET), ("month", MONTH_BUCKET)):
        db.execute(
            f"""
            INSERT INTO usage_rollup ({ROLLUP_KEYS}, calls, {sums}, cost_usd, last_ts)
            SELECT '{span}', {bucket.format(ts="ts")}, "user", notebook, model, COUNT(*),
                {", ".join(f"COALESCE(SUM({name}), 0)" for name in ROLLUP_SUMS)}, TOTAL(cost_usd), MAX(ts)
            FROM usage GROUP BY 1, 2, 3, 4, 5
            """
        )
    db.execute(f'CREATE INDEX usage_ts_keys ON usage (ts, "user", notebook, model, cost_usd, {sums})')


def m001_cache(db: sqlite3.Connection) -> None:
    """Reply payloads keyed by the sha256 of their canonical request."""
    db.execute(
        """
        CREATE TABLE cache (
            key TEXT PRIMARY KEY,
            payload TEXT NOT NULL,
            created_ts TEXT NOT NULL,
            used_ts TEXT NOT NULL,
            hits INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID
        """
    )


USAGE_MIGRATIONS: list[Migration] = [
    m001_usage,
    m002_usage_indexes,
    m003_reservations,
    m004_usage_ts_covering,
    m005_reservation_ids_never_reused,
    m006_usage_user,
    m007_usage_rollup,
]
CACHE_MIGRATIONS: list[Migration] = [m001_cache]


def migrate(db: sqlite3.Connection, migrations: list[Migration]) -> list[str]:
    """Apply the migrations this database lacks, in order, in one write transaction; return their names.

    ``BEGIN IMMEDIATE`` takes the write lock first, so two processes opening a fresh file at once do not both
    create the tables.  ``db`` must be in autocommit mode (``isolation_level=None``).
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "CREATE TABLE IF NOT EXISTS _o4_migrations (name TEXT PRIMARY KEY, applied_ts TEXT NOT NULL)"
        )
        done = {name for (name,) in db.execute("SELECT name FROM _o4_migrations")}
        applied = []
        for migration in migrations:
            if migration.__name__ in done:
                continue
            migration(db)
            now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            db.execute(
                "INSERT INTO _o4_migrations (name, applied_ts) VALUES (?, ?)", (migration.__name__, now)
            )
            applied.append(migration.__name__)
        db.execute(f"PRAGMA user_version = {len(done) + len(applied)}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return applied


def open_database(path: Path, migrations: list[Migration], busy_timeout_s: float) -> sqlite3.Connection:
    """Open (creating with owner-only permissions) a database in WAL mode with its schema up to date."""
    _make_private_dir(path.parent)
    with _CREATING:
        _create_private_file(path)
        db = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
    try:
        _use_wal(db, busy_timeout_s)
        db.execute("PRAGMA synchronous = NORMAL")  # with WAL: safe against crashes, fsync only at checkpoints
        migrate(db, migrations)
    except BaseException:
        db.close()
        raise
    for suffix in ("", "-wal", "-shm"):  # SQLite copies the database's mode to these; make sure of it
        _make_private_file(Path(f"{path}{suffix}"))
    return db


def _create_private_file(path: Path) -> None:
    """Create ``path`` readable by its owner only, unless it exists: a file this process (or another) may hold
    open and locked is never opened here, because closing that descriptor would drop the locks."""
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)


def _use_wal(db: sqlite3.Connection, busy_timeout_s: float) -> None:
    """Switch to WAL, retrying: two processes creating the file at once get "locked" without any wait."""
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _make_private_dir(home: Path) -> None:
    if home.is_dir():
        return
    home.parent.mkdir(parents=True, exist_ok=True)
    home.mkdir(mode=0o700, exist_ok=True)
    os.chmod(home, 0o700)


def _make_private_file(path: Path) -> None:
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    except OSError:
        pass
