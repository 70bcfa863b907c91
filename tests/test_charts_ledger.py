"""The per-day spend the charts draw, from both ledgers: right sums, and read from the rollup's primary key
(SQLite's query plan; PostgreSQL's on 30,000 rows after ANALYZE), never by scanning the calls."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from postgres import pg_server, team_url  # noqa: F401
from test_ledger import plan_problems, query_plan, traced_selects

from o4_magics.store.backend import LedgerURL
from o4_magics.store.ledger import USAGE_FILE, Ledger, UsageRow, _insert
from o4_magics.store.postgres import TeamLedger

START = datetime(2025, 3, 1, tzinfo=timezone.utc)


#: Older daily sums, straight into the rollup (as the trigger would have left them), before ``START``.
HISTORY = """
INSERT INTO usage_rollup (span, bucket, "user", notebook, model, calls, cost_usd, last_ts)
SELECT 'day', to_char(d, 'YYYY-MM-DD') || 'T00:00:00.000000Z', 'old' || u, 'nb' || n || '.ipynb', m, 1, 0.001,
       to_char(d, 'YYYY-MM-DD') || 'T12:00:00.000000Z'
FROM generate_series(timestamp '2023-03-01', timestamp '2025-02-28', interval '1 day') AS d,
     generate_series(1, 40) AS u, generate_series(1, 3) AS n, unnest(ARRAY['a', 'b']) AS m
"""


def rows(count: int, seed: int = 7) -> list[UsageRow]:
    rnd = random.Random(seed)
    return [
        UsageRow(
            notebook=f"nb{rnd.randrange(4)}.ipynb",
            user=f"user{rnd.randrange(5)}",
            model=rnd.choice("ab"),
            cost_usd=round(rnd.random() / 100, 6),
            uid=f"{index:08d}",
            ts=(START + timedelta(minutes=index * 7)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
        for index in range(count)
    ]


def expected(found: list[UsageRow], since: str, notebook=None, user=None) -> list[dict]:
    days: dict[str, list] = {}
    for row in found:
        if row.ts[:10] >= since[:10] and notebook in (None, row.notebook) and user in (None, row.user):
            day = days.setdefault(row.ts[:10], [0, 0.0])
            day[0] += 1
            day[1] += row.cost_usd
    return [
        {"day": day, "calls": calls, "cost_usd": pytest.approx(cost)}
        for day, (calls, cost) in sorted(days.items())
    ]


def test_sqlite_per_day_sums_and_plan(tmp_path):
    made = rows(20_000)
    with Ledger(tmp_path / "home") as ledger:
        _insert(ledger._db(USAGE_FILE), made)
        since = "2025-04-10T15:00:00"
        assert ledger.per_day(since, "nb1.ipynb") == expected(made, since, notebook="nb1.ipynb")
        assert ledger.per_day(since) == expected(made, since)
        assert ledger.per_day(since, team=True) == expected(made, since)  # everyone on this machine
        (sql,) = traced_selects(ledger, lambda: ledger.per_day(since, "nb1.ipynb"))
        plan = query_plan(ledger, sql)
        assert plan_problems(sql, plan) == [] and plan == [
            "SEARCH usage_rollup USING PRIMARY KEY (span=? AND bucket>?)"
        ]


def test_team_ledger_per_day_sums_and_plan(team_url, tmp_path, monkeypatch):  # noqa: F811
    import psycopg

    made = rows(30_000)
    with TeamLedger(team_url, tmp_path / "machine") as team:
        for chunk in range(0, len(made), 2000):
            team._attempt(lambda conn, chunk=chunk: team._upload(conn, made[chunk : chunk + 2000]))
        with psycopg.connect(LedgerURL(team_url).secret, autocommit=True) as admin:
            admin.execute(HISTORY)  # two years of a 40-person team before: ~175,000 daily sums
            admin.execute("VACUUM ANALYZE usage_rollup")
        monkeypatch.setenv("JUPYTERHUB_USER", "user3")
        since = "2025-04-10T15:00:00"
        assert team.per_day(since, "nb1.ipynb") == expected(made, since, "nb1.ipynb", "user3")
        assert team.per_day(since) == expected(made, since, user="user3")
        assert team.per_day(since, team=True) == expected(made, since)
        seen = []
        conn = team._connection()
        original = conn.execute
        monkeypatch.setattr(
            conn,
            "execute",
            lambda sql, params=None, **kw: seen.append((sql, params)) or original(sql, params, **kw),
        )
        last_30_days = made[-1].ts[:10]  # the chart's window: the last 30 days of a longer history
        last_30_days = (datetime.fromisoformat(last_30_days) - timedelta(days=29)).date().isoformat()
        for notebook, everyone in ((None, True), (None, False), ("nb1.ipynb", False)):
            team.per_day(last_30_days, notebook, everyone)
        monkeypatch.undo()
        with psycopg.connect(LedgerURL(team_url).secret, autocommit=True) as admin:
            for sql, params in seen:
                plan = "\n".join(row[0] for row in admin.execute("EXPLAIN " + sql, params).fetchall())
                assert "usage_rollup_pkey" in plan and "Seq Scan" not in plan, plan
