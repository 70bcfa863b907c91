"""The ledger's daily and monthly sums (``usage_rollup``), the ``user`` column and user/team caps, on SQLite.

Every total read from the rollup is checked against the same figure computed in Python from the rows.
"""

from __future__ import annotations

import random
import sqlite3
import warnings
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest
from test_ledger import plan_problems, query_plan, traced_selects

from o4_magics.store.ledger import USAGE_FILE, Ledger, LedgerWarning, UsageRow, _insert, to_timestamp
from o4_magics.store.periods import Cap, budget_caps, period_bounds
from o4_magics.store.rollup import boundaries

USERS = ("ada", "grace", "linus")
NOTEBOOKS = ("a.ipynb", "b.ipynb", "c.ipynb")
MODELS = ("openai/o4-mini", "openai/gpt-4.1-mini")


@pytest.fixture
def ledger(o4_home):
    with Ledger() as ledger:
        yield ledger


def random_rows(count: int, seed: int, start: datetime, span: timedelta) -> list[UsageRow]:
    rnd = random.Random(seed)
    rows = []
    for _ in range(count):
        moment = start + span * rnd.random()
        rows.append(
            UsageRow(
                notebook=rnd.choice(NOTEBOOKS),
                model=rnd.choice(MODELS),
                user=rnd.choice(USERS),
                prompt_tokens=rnd.randrange(1000),
                cached_tokens=rnd.randrange(100),
                completion_tokens=rnd.randrange(500),
                reasoning_tokens=rnd.randrange(300),
                cost_usd=None if rnd.random() < 0.1 else round(rnd.random() / 100, 6),
                ts=to_timestamp(moment),
            )
        )
    return rows


def python_sums(rows: list[UsageRow], key, since: str | None) -> dict:
    """The figures the rollup must give, computed from the rows one by one."""
    sums: dict = defaultdict(lambda: [0, 0, 0, 0, 0, 0.0, ""])
    for row in rows:
        if since is not None and str(row.ts) < since:
            continue
        found = sums[key(row)]
        found[0] += 1
        found[1] += row.prompt_tokens
        found[2] += row.cached_tokens
        found[3] += row.completion_tokens
        found[4] += row.reasoning_tokens
        found[5] += row.cost_usd or 0.0
        found[6] = max(found[6], str(row.ts))
    return dict(sums)


def as_figures(found: dict, names: tuple[str, ...]) -> dict:
    return {
        tuple(found[name] for name in names): [
            found["calls"],
            found["prompt_tokens"],
            found["cached_tokens"],
            found["completion_tokens"],
            found["reasoning_tokens"],
            pytest.approx(found["cost_usd"], abs=1e-9),
            found.get("last_ts", ""),
        ]
        for found in [found]
    }


def test_rollup_totals_equal_the_rows_for_any_since(ledger):
    """Whole months, whole days and the rows of a partial first day add up to exactly the rows since then."""
    start = datetime(2024, 11, 20, tzinfo=timezone.utc)
    rows = random_rows(3000, seed=3, start=start, span=timedelta(days=75))
    for row in rows[:1500]:
        ledger.record(row)  # one by one, as calls do
    _insert(ledger._db(USAGE_FILE), rows[1500:])  # and in one transaction, as a copied queue does
    rnd = random.Random(5)
    sinces = [
        None,
        "2024-12-01T00:00:00.000000Z",
        "2025-01-17T00:00:00.000000Z",
        "2000-01-01T00:00:00.000000Z",
    ]
    sinces += [to_timestamp(start + timedelta(days=80) * rnd.random()) for _ in range(12)]
    sinces += [
        "2099-01-01T00:00:00.000000Z",
        to_timestamp(rows[700].ts),
    ]  # nothing after; exactly one row's time
    for since in sinces:
        expected = python_sums(rows, lambda row: (), since).get((), [0, 0, 0, 0, 0, 0.0, ""])
        totals = ledger.totals(None, since)
        assert [totals[name] for name in ("calls", "prompt_tokens", "cached_tokens")] == expected[:3], since
        assert totals["cost_usd"] == pytest.approx(expected[5], abs=1e-9)
        for method, names in (
            (ledger.per_user, ("user",)),
            (ledger.per_user_notebook, ("user", "notebook")),
        ):
            got = {}
            for found in method(since):
                got.update(as_figures(found, names))
            wanted = python_sums(rows, lambda row, names=names: tuple(getattr(row, n) for n in names), since)
            assert got == {
                key: [*values[:5], pytest.approx(values[5], abs=1e-9), values[6]]
                for key, values in wanted.items()
            }, (since, names)
        per_model = {found["model"]: found["calls"] for found in ledger.per_model(None, since)}
        assert per_model == {
            key[0]: value[0] for key, value in python_sums(rows, lambda row: (row.model,), since).items()
        }
        per_notebook = {
            found["notebook"]: (found["calls"], found["last_ts"]) for found in ledger.per_notebook(since)
        }
        wanted_notebooks = python_sums(rows, lambda row: (row.notebook,), since)
        assert per_notebook == {key[0]: (value[0], value[6]) for key, value in wanted_notebooks.items()}


def test_partial_day_edges():
    assert boundaries("2025-03-05T00:00:00.000000Z") == (
        "2025-03-05T00:00:00.000000Z",
        "2025-04-01T00:00:00.000000Z",
    )
    assert boundaries("2025-03-01T00:00:00.000000Z") == ("2025-03-01T00:00:00.000000Z",) * 2
    assert boundaries("2025-12-31T23:59:59.999999Z") == ("2026-01-01T00:00:00.000000Z",) * 2
    assert boundaries("9999-12-31T10:00:00.000000Z")[0] > "9999-12-31T23:59:59.999999Z"


def test_orders_most_expensive_first_and_notebooks_by_last_call(ledger):
    ledger.record(UsageRow(notebook="old.ipynb", user="ada", cost_usd=5.0, ts="2025-01-01T10:00:00Z"))
    ledger.record(UsageRow(notebook="new.ipynb", user="grace", cost_usd=1.0, ts="2025-01-02T10:00:00Z"))
    ledger.record(UsageRow(notebook="new.ipynb", user="linus", cost_usd=2.0, ts="2025-01-02T09:00:00Z"))
    assert [found["user"] for found in ledger.per_user()] == ["ada", "linus", "grace"]
    assert [found["notebook"] for found in ledger.per_notebook()] == ["new.ipynb", "old.ipynb"]
    assert [(found["user"], found["notebook"]) for found in ledger.per_user_notebook()] == [
        ("ada", "old.ipynb"),
        ("linus", "new.ipynb"),
        ("grace", "new.ipynb"),
    ]


def test_every_row_gets_the_user_and_a_unique_id(ledger, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "hub-ada")
    first, second = UsageRow(notebook="n"), UsageRow(notebook="n")
    ledger.record(first)
    ledger.release(None, second)
    monkeypatch.delenv("JUPYTERHUB_USER")
    third = UsageRow(notebook="n")
    ledger.record(third)
    import getpass

    assert (first.user, second.user, third.user) == ("hub-ada", "hub-ada", getpass.getuser())
    assert len({first.uid, second.uid, third.uid}) == 3 and all(len(row.uid) == 32 for row in (first, second))
    stored = {row.uid: row.user for row in ledger.recent(limit=5)}
    assert stored == {first.uid: "hub-ada", second.uid: "hub-ada", third.uid: getpass.getuser()}


def test_an_older_ledger_gets_its_rows_summed_and_their_user(o4_home, monkeypatch):
    from o4_magics.store.schema import USAGE_MIGRATIONS, migrate

    o4_home.mkdir()
    with sqlite3.connect(o4_home / USAGE_FILE, isolation_level=None) as db:
        migrate(db, USAGE_MIGRATIONS[:5])
        for day, cost in (("2025-01-01", 0.5), ("2025-01-02", 0.25), ("2025-02-03", 1.0)):
            db.execute(
                "INSERT INTO usage (ts, notebook, model, cost_usd) VALUES (?, 'a.ipynb', 'm', ?)",
                (f"{day}T12:00:00.000000Z", cost),
            )
    monkeypatch.setenv("JUPYTERHUB_USER", "owner")
    with Ledger() as ledger:
        assert ledger.per_user() == [
            dict(
                user="owner",
                calls=3,
                prompt_tokens=0,
                cached_tokens=0,
                completion_tokens=0,
                reasoning_tokens=0,
                cost_usd=1.75,
                last_ts="2025-02-03T12:00:00.000000Z",
            )
        ]
        assert ledger.totals(None, "2025-01-02T00:00:00Z")["cost_usd"] == 1.25
        january = Cap("user", 10.0, "2025-01-01T00:00:00.000000Z", "2025-02-01T00:00:00.000000Z", "month")
        assert ledger.spent_in(january, user="owner") == 0.75


# -- user and team caps on this machine's ledger -------------------------------------------------------------


def test_periods_are_utc_days_and_months():
    moment = datetime(2025, 12, 31, 23, 30, tzinfo=timezone.utc)
    assert period_bounds("month", moment) == ("2025-12-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z")
    assert period_bounds("day", moment) == ("2025-12-31T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z")
    east = datetime(2025, 7, 1, 1, 0, tzinfo=timezone(timedelta(hours=3)))  # still June 30 in UTC
    assert period_bounds("month", east)[0] == "2025-06-01T00:00:00.000000Z"
    assert budget_caps(None) == []
    assert [cap.scope for cap in budget_caps(1.0, 2.0, 3.0, "day", moment)] == ["notebook", "user", "team"]
    with pytest.raises(ValueError):
        period_bounds("week")


def test_user_and_team_caps_count_this_period_only(ledger):
    now = datetime.now(timezone.utc)
    since, until = period_bounds("month", now)
    last_month = datetime.fromisoformat(since.replace("Z", "+00:00")) - timedelta(seconds=1)
    ledger.record(UsageRow(notebook="x.ipynb", user="ada", cost_usd=50.0, ts=last_month))  # not this month
    ledger.record(UsageRow(notebook="x.ipynb", user="ada", cost_usd=3.0))
    ledger.record(UsageRow(notebook="y.ipynb", user="grace", cost_usd=4.0))
    user_cap, team_cap = budget_caps(None, 5.0, 9.0, "month", now)

    held = ledger.reserve_caps("z.ipynb", 1.5, [user_cap, team_cap], 60, user="ada")
    assert held.granted and held.cap == user_cap and (held.spent_usd, held.held_usd) == (3.0, 0.0)
    refused = ledger.reserve_caps("z.ipynb", 1.0, [user_cap, team_cap], 60, user="ada")
    assert not refused.granted and refused.cap.scope == "user"
    assert (refused.spent_usd, refused.held_usd, refused.amount_usd) == (3.0, 1.5, 1.0)
    # grace is within her own cap (4 + 0.9 of 5) but not the team's (7 spent + 1.5 held + 0.9 of 9)
    team_refused = ledger.reserve_caps("y.ipynb", 0.9, [user_cap, team_cap], 60, user="grace")
    assert not team_refused.granted and team_refused.cap.scope == "team"
    assert (team_refused.spent_usd, team_refused.held_usd) == (7.0, 1.5)
    ledger.release(held, UsageRow(notebook="z.ipynb", user="ada", cost_usd=0.5))
    assert ledger.reserve_caps("y.ipynb", 0.9, [user_cap, team_cap], 60, user="grace").granted


def test_caps_hold_in_memory_when_the_file_cannot_be_used(o4_home):
    o4_home.write_text("a file where the directory should be")
    ledger = Ledger()
    cap = budget_caps(None, 2.0)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LedgerWarning)
        ledger.record(UsageRow(notebook="n", user="ada", cost_usd=1.0))
        first = ledger.reserve_caps("n", 0.6, [cap], 60, user="ada")
        second = ledger.reserve_caps("n", 0.6, [cap], 60, user="ada")
        other = ledger.reserve_caps("n", 0.6, [cap], 60, user="grace")
        assert ledger.per_user()[0]["cost_usd"] == 1.0
    assert first.granted and not second.granted and other.granted
    assert (second.spent_usd, second.held_usd) == (1.0, 0.6)


def test_rollup_queries_read_keys_not_rows(ledger):
    """The team queries, like the panel's, read the rollup by its key and a partial day from a covering index."""
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    rows = random_rows(5000, seed=1, start=start, span=timedelta(days=40))
    _insert(ledger._db(USAGE_FILE), rows)
    cap = Cap("team", 1.0, "2025-01-01T00:00:00.000000Z", "2025-02-01T00:00:00.000000Z", "month")
    for since in (None, to_timestamp(start + timedelta(days=3, hours=5))):
        selects = traced_selects(
            ledger,
            lambda since=since: (
                ledger.per_user(since),
                ledger.per_user_notebook(since),
                ledger.team_totals(since),
                ledger.spent_in(cap),
                ledger.spent_in(Cap("user", 1.0, cap.since, cap.until, "month"), user="ada"),
            ),
        )
        assert len(selects) == 5
        for sql in selects:
            assert plan_problems(sql, query_plan(ledger, sql)) == [], (sql, query_plan(ledger, sql))
