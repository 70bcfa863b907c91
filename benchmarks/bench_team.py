"""The team ledger at scale: 1,000,000 calls from 50 users in SQLite and in PostgreSQL, and 20 writers at once.

Times (median of several runs) what ``%o4_usage`` (one notebook), ``--all`` and ``--team`` read and a budget
check, through the ledgers' own methods, against a baseline measured in the same run: the same figures by the
naive query (the table without an index for one notebook; ``GROUP BY`` over every row instead of the daily and
monthly sums for the others).  Then twenty processes write at once, into PostgreSQL and into one SQLite file,
and the rows are counted.  PostgreSQL is a throwaway server started like the tests' (tests/postgres.py) unless
``--pg-url`` names one (its database is emptied).  Writes ``benchmarks/results/team.json``.

Run: ``python benchmarks/bench_team.py [--rows N] [--users N] [--runs N] [--writers N] [--pg-url URL]``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(Path(__file__).parent)]

from _common import report  # noqa: E402

from o4_magics.store.backend import LedgerURL  # noqa: E402
from o4_magics.store.ledger import COLUMNS, COLUMNS_SQL, INSERT_SQL, USAGE_FILE, Ledger  # noqa: E402
from o4_magics.store.periods import budget_caps  # noqa: E402
from o4_magics.store.times import to_timestamp  # noqa: E402

LIMIT_MS = 50.0
MODELS = ("openai/o4-mini", "openai/o4-mini-high", "openai/gpt-4.1-mini")
NOTEBOOKS_PER_USER = 4
DAYS = 90
SUMS = (
    "COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(cached_tokens), 0), "
    "COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(reasoning_tokens), 0), SUM(cost_usd)"
)


def make_rows(count: int, users: int, seed: int = 7) -> list[tuple]:
    """Rows as tuples in ``COLUMNS`` order: calls spread over 90 days, users with 4 notebooks each."""
    rnd = random.Random(seed)
    start = datetime.now(timezone.utc) - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / count
    rows = []
    for index in range(count):
        user = f"user{rnd.randrange(users):02d}"
        rows.append(
            (
                f"{user}/project/analysis_{rnd.randrange(NOTEBOOKS_PER_USER)}.ipynb",  # notebook
                rnd.randrange(200),  # cell
                "main",
                rnd.choice(MODELS),
                "OpenAI",
                f"gen-{index}",
                rnd.randrange(50, 5000),
                rnd.randrange(0, 500),
                rnd.randrange(10, 3000),
                rnd.randrange(0, 2000),
                0,  # images
                rnd.random() / 100,  # cost_usd
                "openrouter",
                rnd.random() * 10,
                rnd.random(),
                "ok",
                "",
                "magic",
                user,
                f"{index:032x}",  # uid
                to_timestamp(start + step * index),
            )
        )
    return rows


def median_ms(action, runs: int) -> float:
    action()  # warm: the first read pulls pages into the cache, as an open panel has
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


# -- filling ------------------------------------------------------------------------------------------------


def fill_sqlite(ledger: Ledger, rows: list[tuple]) -> float:
    db = ledger._db(USAGE_FILE)
    began = time.perf_counter()
    for chunk in range(0, len(rows), 100_000):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(INSERT_SQL, rows[chunk : chunk + 100_000])
        db.execute("COMMIT")
    db.execute("ANALYZE")
    return time.perf_counter() - began


def fill_postgres(url: str, rows: list[tuple]) -> float:
    import psycopg

    from o4_magics.store.pg_schema import migrate_postgres

    with psycopg.connect(url, autocommit=True) as db:
        migrate_postgres(db)
        began = time.perf_counter()
        for chunk in range(0, len(rows), 100_000):
            with db.transaction(), db.cursor().copy(f"COPY usage ({COLUMNS_SQL}) FROM STDIN") as copy:
                for row in rows[chunk : chunk + 100_000]:
                    copy.write_row(row)
        db.execute(
            "VACUUM ANALYZE usage"
        )  # as autovacuum leaves it: index-only scans need the visibility map
        db.execute("VACUUM ANALYZE usage_rollup")
        return time.perf_counter() - began


# -- the cases ----------------------------------------------------------------------------------------------


def cases(ledger, notebook: str, user: str, since: str) -> dict[str, object]:
    """What each view reads, through the ledger's own methods."""
    caps = budget_caps(100.0, 100.0, 10_000.0, "month")

    def panel(scope, when):
        ledger.totals(scope, when), ledger.per_model(scope, when), ledger.recent(scope, 10)

    def all_notebooks(when):
        panel(None, when)
        ledger.per_notebook(when)

    def team(when):
        ledger.team_totals(when), ledger.per_user(when), ledger.per_user_notebook(when)
        for cap in caps[1:]:
            ledger.spent_in(cap, user=user)

    def reserve():
        held = ledger.reserve_caps(notebook, 0.01, caps, 60, user=user)
        ledger.release(held)

    return {
        "panel: one notebook": lambda: panel(notebook, None),
        "panel: one notebook, --since": lambda: panel(notebook, since),
        "panel --all": lambda: all_notebooks(None),
        "panel --all --since": lambda: all_notebooks(since),
        "--team": lambda: team(None),
        "--team --since": lambda: team(since),
        "budget check (3 caps)": reserve,
    }


def sqlite_baselines(db, notebook: str, since: str) -> dict[str, object]:
    """The same figures the naive way: no index for one notebook; every row grouped for the rest."""

    def run(sql, params=()):
        db.execute(sql, params).fetchall()

    def one(when):
        extra, params = (" AND ts >= ?", [notebook, when]) if when else ("", [notebook])
        run(f"SELECT {SUMS} FROM usage NOT INDEXED WHERE notebook = ?{extra}", params)
        run(f"SELECT model, {SUMS} FROM usage NOT INDEXED WHERE notebook = ?{extra} GROUP BY model", params)
        run(f"SELECT * FROM usage NOT INDEXED WHERE notebook = ?{extra} ORDER BY ts DESC LIMIT 10", params)

    def grouped(keys, when):
        where, params = (" WHERE ts >= ?", [when]) if when else ("", [])
        for key in keys:
            group = f" GROUP BY {key}" if key else ""
            run(f"SELECT {key + ', ' if key else ''}{SUMS}, MAX(ts) FROM usage{where}{group}", params)

    return {
        "panel: one notebook": lambda: one(None),
        "panel: one notebook, --since": lambda: one(since),
        "panel --all": lambda: grouped(("", "model", "notebook"), None),
        "panel --all --since": lambda: grouped(("", "model", "notebook"), since),
        "--team": lambda: grouped(("", '"user"', '"user", notebook'), None),
        "--team --since": lambda: grouped(("", '"user"', '"user", notebook'), since),
    }


def postgres_baselines(url: str, notebook: str, user: str, since: str) -> tuple[dict[str, object], object]:
    import psycopg

    db = psycopg.connect(url, autocommit=True)
    naive = psycopg.connect(url, autocommit=True)  # one notebook without its index: a sequential scan
    for setting in ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan"):
        naive.execute(f"SET {setting} = off")

    def one(when):
        extra, params = (" AND ts >= %s", [user, notebook, when]) if when else ("", [user, notebook])
        where = f' WHERE "user" = %s AND notebook = %s{extra}'
        naive.execute(f"SELECT {SUMS} FROM usage{where}", params).fetchall()
        naive.execute(f"SELECT model, {SUMS} FROM usage{where} GROUP BY model", params).fetchall()
        naive.execute(f"SELECT * FROM usage{where} ORDER BY ts DESC LIMIT 10", params).fetchall()

    def grouped(keys, when, mine):
        clauses = (['"user" = %s'] if mine else []) + (["ts >= %s"] if when else [])
        params = ([user] if mine else []) + ([when] if when else [])
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        for key in keys:
            group = f" GROUP BY {key}" if key else ""
            db.execute(
                f"SELECT {key + ', ' if key else ''}{SUMS}, MAX(ts) FROM usage{where}{group}", params
            ).fetchall()

    baselines = {
        "panel: one notebook": lambda: one(None),
        "panel: one notebook, --since": lambda: one(since),
        "panel --all": lambda: grouped(("", "model", "notebook"), None, True),
        "panel --all --since": lambda: grouped(("", "model", "notebook"), since, True),
        "--team": lambda: grouped(("", '"user"', '"user", notebook'), None, False),
        "--team --since": lambda: grouped(("", '"user"', '"user", notebook'), since, False),
    }
    return baselines, (db, naive)


def measure(
    store: str, ledger, baselines: dict, notebook: str, user: str, since: str, runs: int
) -> list[dict]:
    results = []
    for name, action in cases(ledger, notebook, user, since).items():
        ours = median_ms(action, runs)
        baseline = baselines.get(name)
        base = median_ms(baseline, max(3, runs // 3)) if baseline else None
        results.append(
            {
                "store": store,
                "query": name,
                "ms": round(ours, 2),
                "baseline_ms": round(base, 1) if base is not None else "",
                "ratio": f"{base / ours:.0f}x" if base else "",
            }
        )
        print(f"  {store:<10} {name:<30} {ours:8.2f} ms   naive {base or 0:9.1f} ms", flush=True)
    return results


# -- twenty writers ------------------------------------------------------------------------------------------

WRITER = """
import sys
from o4_magics.store.ledger import Ledger, UsageRow
from o4_magics.store.postgres import TeamLedger
url, home, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
ledger = TeamLedger(url, home) if url else Ledger(home)
for index in range(count):
    ledger.record(UsageRow(notebook="w.ipynb", cell=index, cost_usd=0.001))
if url:
    assert ledger.sync() == 0 and not ledger.local.queued(ledger.target) and ledger.online
"""


def writers(count: int, rows_each: int, url: str, homes: list[Path]) -> tuple[float, list[subprocess.Popen]]:
    began = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, str(homes[index % len(homes)]), str(rows_each)],
            env={**os.environ, "PYTHONPATH": str(ROOT), "JUPYTERHUB_USER": f"writer{index:02d}"},
        )
        for index in range(count)
    ]
    failed = sum(proc.wait() != 0 for proc in procs)
    if failed:
        raise SystemExit(f"{failed} writer processes failed")
    return time.perf_counter() - began, procs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--writer-rows", type=int, default=250)
    parser.add_argument(
        "--pg-url", help="an existing database to use (it is emptied); else a throwaway server"
    )
    args = parser.parse_args()

    print(f"making {args.rows:,} rows from {args.users} users ...", flush=True)
    rows = make_rows(args.rows, args.users)
    user = rows[-1][COLUMNS.index("user")]
    notebook = rows[-1][0]
    since = to_timestamp(
        datetime.now() - timedelta(days=30, hours=-3, minutes=17)
    )  # local 14:xx, not on a day
    os.environ["JUPYTERHUB_USER"] = user  # the team ledger's panel is this user's
    results: list[dict] = []
    extra: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        ledger = Ledger(home / "sqlite")
        load_s = fill_sqlite(ledger, rows)
        print(f"SQLite: filled in {load_s:.0f} s (with the rollup trigger)", flush=True)
        results += measure(
            "sqlite",
            ledger,
            sqlite_baselines(ledger._db(USAGE_FILE), notebook, since),
            notebook,
            user,
            since,
            args.runs,
        )
        extra["sqlite_fill_s"] = round(load_s, 1)
        extra["sqlite_mb"] = round((home / "sqlite" / USAGE_FILE).stat().st_size / 1e6)
        ledger.close()

        server = None
        url = args.pg_url
        if url is None:
            from postgres import PostgresServer, why_not_available

            reason = why_not_available()
            if reason:
                print(f"PostgreSQL skipped: {reason}")
            else:
                server = PostgresServer()
                server.start()
                server.create_role()
                url = server.create_database("bench")
        try:
            if url:
                extra.update(bench_postgres(url, rows, notebook, user, since, args, home, results))
            sqlite_home = home / "writers-sqlite"
            took, _ = writers(args.writers, args.writer_rows, "", [sqlite_home])
            with Ledger(sqlite_home) as shared:
                found = shared.team_totals()["calls"]
            extra["sqlite_writers"] = {
                "processes": args.writers,
                "expected": args.writers * args.writer_rows,
                "found": found,
                "seconds": round(took, 1),
            }
        finally:
            if server is not None:
                server.remove()
    print_report(results, extra, args)


def bench_postgres(url, rows, notebook, user, since, args, home, results) -> dict:
    import psycopg

    from o4_magics.store.postgres import TeamLedger

    secret = LedgerURL(url).secret
    with psycopg.connect(secret, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS usage, usage_rollup, reservations, cache, _o4_migrations CASCADE")
        db.execute("DROP FUNCTION IF EXISTS o4_usage_rollup()")
    load_s = fill_postgres(secret, rows)
    print(f"PostgreSQL: filled in {load_s:.0f} s (COPY, with the rollup trigger)", flush=True)
    team = TeamLedger(url, home / "pg-machine")
    baselines, connections = postgres_baselines(secret, notebook, user, since)
    results += measure("postgresql", team, baselines, notebook, user, since, args.runs)
    for connection in connections:
        connection.close()
    team.close()
    with psycopg.connect(secret, autocommit=True) as db:
        db.execute("DELETE FROM usage WHERE notebook = 'w.ipynb'")
        took, _ = writers(
            args.writers, args.writer_rows, url, [home / f"pg-writer{i}" for i in range(args.writers)]
        )
        (found,) = db.execute("SELECT COUNT(*) FROM usage WHERE notebook = 'w.ipynb'").fetchone()
        (distinct,) = db.execute(
            "SELECT COUNT(DISTINCT uid) FROM usage WHERE notebook = 'w.ipynb'"
        ).fetchone()
        size = db.execute(
            "SELECT pg_total_relation_size('usage') + pg_total_relation_size('usage_rollup')"
        ).fetchone()[0]
    return {
        "postgresql_fill_s": round(load_s, 1),
        "postgresql_mb": round(size / 1e6),
        "postgresql_writers": {
            "processes": args.writers,
            "expected": args.writers * args.writer_rows,
            "found": found,
            "distinct_uids": distinct,
            "seconds": round(took, 1),
        },
    }


def print_report(results: list[dict], extra: dict, args) -> None:
    print(f"\nteam ledger benchmark: {args.rows:,} rows from {args.users} users, median of {args.runs} runs")
    report("team", results)
    worst = max(result["ms"] for result in results if not result["query"].startswith("budget"))
    print(
        f"slowest view {worst:.2f} ms: {'within' if worst < LIMIT_MS else 'OVER'} the {LIMIT_MS:.0f} ms limit"
    )
    for key, value in extra.items():
        print(f"{key}: {value}")
    for key in ("sqlite_writers", "postgresql_writers"):
        found = extra.get(key)
        if found:
            lost = found["expected"] - found["found"]
            print(
                f"{key}: {found['processes']} processes, {found['found']:,} of {found['expected']:,} rows "
                f"({'none lost' if lost == 0 else f'{lost} LOST'}) in {found['seconds']} s"
            )
    import json

    from _common import RESULTS

    saved = json.loads((RESULTS / "team.json").read_text())
    saved.update({"extra": extra, "limit_ms": LIMIT_MS, "within_limit": worst < LIMIT_MS})
    (RESULTS / "team.json").write_text(json.dumps(saved, indent=1) + "\n")


if __name__ == "__main__":
    main()
