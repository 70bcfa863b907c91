"""How fast the usage panel's queries are on a big ledger: SQL aggregation vs loading every row into Python.

Fills a temporary ``O4_MAGICS_HOME`` with 100,000 calls across 20 notebooks, times ``totals`` + ``per_model`` +
``recent``, with and without ``--since``, and ``per_notebook`` (median of several runs) and the same figures computed in Python from all rows, prints a table and
writes ``benchmarks/results/ledger.json``.  Run: ``python benchmarks/bench_ledger.py [--rows N] [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from o4_magics.store.ledger import COLUMNS, TOKEN_COLUMNS, USAGE_FILE, Ledger, UsageRow, _insert, to_timestamp

RESULTS = Path(__file__).parent / "results" / "ledger.json"
MODELS = ("openai/o4-mini", "openai/o4-mini-high", "openai/gpt-4.1-mini")
LIMIT_MS = 50.0


def make_rows(count: int, notebooks: int, seed: int = 7) -> list[UsageRow]:
    rnd = random.Random(seed)
    start = datetime.now(timezone.utc) - timedelta(days=90)
    step = timedelta(days=90) / count
    return [
        UsageRow(
            notebook=f"/home/user/project/notebook_{rnd.randrange(notebooks):02d}.ipynb",
            cell=rnd.randrange(200),
            model=rnd.choice(MODELS),
            provider="OpenAI",
            generation_id=f"gen-{index}",
            prompt_tokens=rnd.randrange(50, 5000),
            cached_tokens=rnd.randrange(0, 500),
            completion_tokens=rnd.randrange(10, 3000),
            reasoning_tokens=rnd.randrange(0, 2000),
            cost_usd=rnd.random() / 100,
            cost_source="openrouter",
            latency_s=rnd.random() * 10,
            ttft_s=rnd.random(),
            ts=to_timestamp(start + step * index),
        )
        for index in range(count)
    ]


def median_ms(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def ledger_panel(ledger: Ledger, notebook: str | None, since: str | None = None) -> None:
    ledger.totals(notebook, since)
    ledger.per_model(notebook, since)
    ledger.recent(notebook, limit=10)


def python_panel(path: Path, notebook: str | None, since: str | None = None) -> None:
    """The baseline: every row into Python, then the same figures by hand."""
    with sqlite3.connect(path) as db:
        rows = [UsageRow(*values) for values in db.execute(f"SELECT {', '.join(COLUMNS)}, id FROM usage")]
    mine = [
        row
        for row in rows
        if (notebook is None or row.notebook == notebook) and (since is None or str(row.ts) >= since)
    ]
    totals = {name: sum(getattr(row, name) for row in mine) for name in TOKEN_COLUMNS}
    totals["cost_usd"] = sum(row.cost_usd or 0 for row in mine)
    per_model: dict[str, float] = defaultdict(float)
    for row in mine:
        per_model[row.model] += row.cost_usd or 0
    sorted(mine, key=lambda row: (row.ts, row.id), reverse=True)[:10]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--notebooks", type=int, default=20)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as home:
        ledger = Ledger(home)
        rows = make_rows(args.rows, args.notebooks)
        record_ms = [median_ms(lambda row=row: ledger.record(row), 1) for row in rows[:1000]]
        began = time.perf_counter()
        _insert(ledger._db(USAGE_FILE), rows[1000:])  # the rest in one transaction: setup, not measured
        load_s = time.perf_counter() - began
        notebook = rows[-1].notebook
        month_ago = to_timestamp(datetime.now(timezone.utc) - timedelta(days=30))
        cases = {  # what %o4_usage, --all and --since read
            "one notebook: totals+per_model+recent": (notebook, None),
            "one notebook, --since 30 days": (notebook, month_ago),
            "all notebooks: totals+per_model+recent": (None, None),
            "all notebooks, --since 30 days": (None, month_ago),
        }
        results = []
        for name, (which, since) in cases.items():
            sql_ms = median_ms(lambda which=which, since=since: ledger_panel(ledger, which, since), args.runs)
            python_ms = median_ms(
                lambda which=which, since=since: python_panel(ledger.path, which, since),
                max(3, args.runs // 3),
            )
            results.append(
                {"query": name, "sql_ms": sql_ms, "python_ms": python_ms, "speedup": python_ms / sql_ms}
            )
        per_notebook_ms = median_ms(ledger.per_notebook, args.runs)
        calls = ledger.totals()["calls"]
        ledger.close()

    print(f"ledger benchmark: {calls:,} rows, {args.notebooks} notebooks, median of {args.runs} runs")
    print(
        f"record(): median {statistics.median(record_ms):.3f} ms, max {max(record_ms):.3f} ms; bulk load {load_s:.2f} s"
    )
    print(f"{'query':<42} {'SQL ms':>9} {'Python ms':>10} {'ratio':>7}")
    for result in results:
        print(
            f"{result['query']:<42} {result['sql_ms']:>9.2f} {result['python_ms']:>10.1f} {result['speedup']:>6.0f}x"
        )
    print(f"{'per_notebook (all)':<42} {per_notebook_ms:>9.2f}")
    worst = max(result["sql_ms"] for result in results)
    print(
        f"slowest panel refresh {worst:.2f} ms: {'within' if worst < LIMIT_MS else 'OVER'} the {LIMIT_MS:.0f} ms limit"
    )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "rows": calls,
        "notebooks": args.notebooks,
        "runs": args.runs,
        "record_ms_median": statistics.median(record_ms),
        "record_ms_max": max(record_ms),
        "queries": results,
        "per_notebook_ms": per_notebook_ms,
        "limit_ms": LIMIT_MS,
        "within_limit": worst < LIMIT_MS,
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "measured_at": to_timestamp(),
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"saved {RESULTS}")


if __name__ == "__main__":
    main()
