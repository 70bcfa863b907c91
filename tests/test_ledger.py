"""The usage ledger and reply cache, on real SQLite files under a temporary ``O4_MAGICS_HOME``."""

from __future__ import annotations

import csv
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
    SUMS_SQL,
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
        assert db.execute("PRAGMA user_version").fetchone() == (3,)
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
        ("index", "usage_ts", "CREATE INDEX usage_ts ON usage (ts)"),
        (
            "table",
            "_o4_migrations",
            "CREATE TABLE _o4_migrations (name TEXT PRIMARY KEY, applied_ts TEXT NOT NULL)",
        ),
        (
            "table",
            "reservations",
            normalized("""CREATE TABLE reservations ( id INTEGER PRIMARY KEY, notebook TEXT NOT NULL,
            amount_usd REAL NOT NULL, created_ts TEXT NOT NULL, expires_ts TEXT NOT NULL,
            pid INTEGER NOT NULL DEFAULT 0 )"""),
        ),
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
            error TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '' )"""),
        ),
    ]
    assert migrations == ["m001_usage", "m002_usage_indexes", "m003_reservations"]
    with sqlite3.connect(home / CACHE_FILE) as db:
        tables = {name: normalized(sql) for name, sql in db.execute("SELECT name, sql FROM sqlite_master")}
    assert tables["cache"] == normalized("""CREATE TABLE cache ( key TEXT PRIMARY KEY, payload TEXT NOT NULL,
        created_ts TEXT NOT NULL, used_ts TEXT NOT NULL, hits INTEGER NOT NULL DEFAULT 0 ) WITHOUT ROWID""")


def test_reopening_applies_no_migration_twice(home):
    for _ in range(3):
        with Ledger() as ledger:
            ledger.record(make_row())
    with sqlite3.connect(home / USAGE_FILE) as db:
        assert db.execute("SELECT COUNT(*) FROM _o4_migrations").fetchone() == (3,)
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


def test_export_csv(ledger, tmp_path):
    for cell in range(5):
        ledger.record(make_row(cell=cell, notebook="x.ipynb" if cell < 3 else "y.ipynb", error='a,b\n"c"'))
    out = tmp_path / "usage.csv"
    assert ledger.export_csv(out, notebook="x.ipynb") == 3
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["cell"] for r in rows] == ["0", "1", "2"]
    assert rows[0]["notebook"] == "x.ipynb" and rows[0]["error"] == 'a,b\n"c"'
    assert rows[0]["cost_usd"] == "0.001496" and rows[0]["model"] == "openai/o4-mini"
    assert list(rows[0]) == [*(f for f in UsageRow.__dataclass_fields__ if f != "id"), "id"]
    assert ledger.export_csv(out) == 5
    assert ledger.export_csv(out, since=datetime.now(timezone.utc) + timedelta(hours=1)) == 0


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


def test_panel_queries_use_covering_indexes_on_100k_rows(ledger):
    from o4_magics.store.ledger import _insert

    rnd = random.Random(1)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    rows = [
        make_row(
            notebook=f"nb{rnd.randrange(20)}",
            model=rnd.choice("abc"),
            ts=to_timestamp(start + timedelta(seconds=i)),
        )
        for i in range(100_000)
    ]
    _insert(ledger._db(USAGE_FILE), rows)
    db = ledger._db(USAGE_FILE)
    panel_queries = (  # what totals, per_model and per_notebook run
        f"SELECT COUNT(*), {SUMS_SQL} FROM usage WHERE notebook = 'nb1'",
        f"SELECT COUNT(*), {SUMS_SQL} FROM usage",
        f"SELECT model, COUNT(*), {SUMS_SQL} FROM usage GROUP BY model",
        "SELECT notebook, COUNT(*), TOTAL(cost_usd), MAX(ts) FROM usage GROUP BY notebook",
    )
    for sql in panel_queries:
        plan = " ".join(step[-1] for step in db.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "COVERING INDEX" in plan, (sql, plan)

    # timings live in benchmarks/bench_ledger.py; here only the plans, which do not depend on the machine
    assert ledger.totals()["calls"] == 100_000


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
        [sys.executable, "-c", f"from o4_magics.store.ledger import cache_key; print(cache_key({REQUEST!r}))"],
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
    with pytest.warns(LedgerWarning, match="usage ledger .* cannot be used"):
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
    print(json.dumps({"ids": ids, "pending": len(ledger.pending), "calls": calls, "warnings": warned}))
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
    }
