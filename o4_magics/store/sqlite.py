"""Low-level SQLite work of the ledger: which errors mean "the file cannot be used", inserting rows (with the team
outbox) in one transaction, and a read-only ledger in memory for when the file cannot be written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .rollup import quoted
from .rows import COLUMNS, COLUMNS_SQL, INSERT_SQL, UsageRow, row_values

if TYPE_CHECKING:
    import sqlite3

def db_errors() -> tuple[type[BaseException], ...]:
    import sqlite3

    return (sqlite3.Error, OSError)




def insert_one(db: sqlite3.Connection, row: UsageRow, targets: Mapping[str, str] | None) -> int:
    row_id = db.execute(INSERT_SQL, row_values(row)).lastrowid
    target = targets.get(row.uid) if targets else None
    if target:
        db.execute("INSERT OR IGNORE INTO outbox (target, uid) VALUES (?, ?)", (target, row.uid))
    return row_id


def insert_rows(
    db: sqlite3.Connection, rows: Sequence[UsageRow], targets: Mapping[str, str] | None = None
) -> list[int]:
    """Insert rows in one transaction (listing those named in ``targets`` in the outbox); return their ids."""
    if len(rows) == 1 and not (targets and targets.get(rows[0].uid)):
        return [insert_one(db, rows[0], None)]  # one statement (its rollup trigger included) is a transaction
    db.execute("BEGIN IMMEDIATE")
    try:
        ids = [insert_one(db, row, targets) for row in rows]
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return ids




def memory_db(rows: Sequence[UsageRow], disk: Path) -> sqlite3.Connection:
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
