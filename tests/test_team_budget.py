"""User and team budgets through the magics, the ledger URL setting, and calls that go on when the team
ledger is away: on this machine's SQLite ledger and on a real PostgreSQL (tests/postgres.py)."""

from __future__ import annotations

import warnings
from datetime import datetime, timezone

import pytest
from postgres import free_port, pg_server, team_url  # noqa: F401
from traitlets import TraitError

from o4_magics.store.ledger import Ledger, LedgerWarning, UsageRow
from o4_magics.store.periods import period_bounds
from o4_magics.store.postgres import TeamLedger


def run_text(shell, line: str):
    result, captured = shell.run(line)
    return result, captured.stdout + captured.stderr


def test_a_user_budget_refusal_names_it_its_figures_and_what_to_do(shell, magics, o4_emulator, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    with Ledger() as ledger:  # spent this month from other notebooks of ada's, and last month (not counted)
        ledger.record(UsageRow(notebook="other.ipynb", cost_usd=0.0004))
        ledger.record(UsageRow(notebook="old.ipynb", cost_usd=5.0, ts="2000-01-15T00:00:00Z"))
        ledger.record(UsageRow(notebook="other.ipynb", user="grace", cost_usd=9.0))  # someone else's
    magics.user_budget_usd = 0.0005
    result, text = run_text(shell, "%o4 hi")
    assert not result.success and o4_emulator.chat_requests == []
    next_month = period_bounds("month")[1][:10]
    assert "you have spent $0.0004 this month (UTC)" in text
    assert "of your monthly budget of $0.0005 (O4Magics.user_budget_usd); nothing was sent." in text
    assert f"It starts again on {next_month} 00:00 UTC" in text
    (row,) = [row for row in magics.session.ledger.recent(limit=5) if row.status == "refused"]
    assert row.user == "ada" and row.cost_usd == 0
    suggested = float(text.split("%config O4Magics.user_budget_usd = ")[1].split(".\n")[0].rstrip("."))
    magics.user_budget_usd = suggested
    assert shell.run("%o4 hi")[0].success  # the figure it gave is enough


def test_a_team_budget_refusal_says_who_can_raise_it(shell, magics, o4_emulator, monkeypatch):
    with Ledger() as ledger:
        ledger.record(UsageRow(notebook="x.ipynb", user="grace", cost_usd=0.001))
    magics.team_budget_usd = 0.0011
    magics.budget_period = "day"
    result, text = run_text(shell, "%o4 hi")
    assert not result.success and o4_emulator.chat_requests == []
    tomorrow = period_bounds("day")[1][:10]
    assert "the team has spent $0.001 today (UTC)" in text and "the team's daily budget of $0.0011" in text
    assert f"starts again on {tomorrow} 00:00 UTC" in text
    assert "ask whoever sets your team's budget to raise O4Magics.team_budget_usd to at least" in text


def test_the_notebook_budget_still_refuses_as_before(shell, magics, o4_emulator):
    magics.budget_usd = 0.0001
    magics.user_budget_usd = 100.0
    result, text = run_text(shell, "%o4 hi")
    assert "this notebook has spent $0.00 of its $0.0001 budget" in text and not result.success


def test_budget_settings_are_checked_when_set(magics):
    for name in ("user_budget_usd", "team_budget_usd"):
        with pytest.raises(TraitError, match=f"O4Magics.{name} must be zero or more"):
            setattr(magics, name, -1.0)
    with pytest.raises(TraitError):
        magics.budget_period = "week"
    magics.budget_period = "DAY"
    assert magics.budget_period == "day"


def test_a_ledger_url_with_a_password_never_shows_it(shell, magics):
    with pytest.raises(TraitError) as raised:
        magics.ledger_url = "mysql://ada:s3cretpass@db.example:3306/o4"
    assert "s3cretpass" not in str(raised.value) and "mysql://ada@db.example:3306/o4" in str(raised.value)
    magics.ledger_url = "postgresql://ada:s3cretpass@db.example:5432/o4"
    _, text = run_text(shell, "%config O4Magics")
    _, one = run_text(shell, "%config O4Magics.ledger_url")
    shown = text + one + repr(magics.ledger_url) + str(magics.ledger_url) + f"{magics.ledger_url}"
    assert "postgresql://ada@db.example:5432/o4" in shown and "s3cretpass" not in shown
    assert magics.ledger_url.secret.endswith("s3cretpass@db.example:5432/o4")


def test_calls_go_on_when_the_team_ledger_is_unreachable(shell, magics, o4_emulator, monkeypatch):
    monkeypatch.setenv("O4_MAGICS_LEDGER_URL", f"postgresql://o4:pw4test@127.0.0.1:{free_port()}/team")
    magics.budget_usd = 1.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, _ = shell.run("%o4 hi")
        second, _ = shell.run("%o4 again")
    assert first.success and second.success and len(o4_emulator.chat_requests) == 2
    ledger = magics.session.ledger
    assert isinstance(ledger, TeamLedger) and ledger.online is False
    said = [str(w.message) for w in caught if issubclass(w.category, LedgerWarning)]
    assert len(said) == 1 and "Calls go on" in said[0] and "pw4test" not in said[0]
    assert len(ledger.local.queued(ledger.target)) == 2  # waiting to be copied up


def test_a_malformed_ledger_url_in_the_environment_falls_back_with_a_warning(shell, magics, monkeypatch):
    monkeypatch.setenv("O4_MAGICS_LEDGER_URL", "sqlite:///tmp/x.db")
    with pytest.warns(LedgerWarning, match="O4_MAGICS_LEDGER_URL: the ledger URL must look like"):
        ledger = magics.session.ledger
    assert type(ledger) is Ledger
    assert shell.run("%o4 hi")[0].success


# -- on a real PostgreSQL ------------------------------------------------------------------------------------


def test_calls_are_recorded_in_the_team_ledger_with_their_user(
    shell,
    magics,
    o4_emulator,
    team_url,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    monkeypatch.setenv("JPY_SESSION_NAME", "work/analysis.ipynb")
    magics.ledger_url = team_url
    assert shell.run("%o4 hello")[0].success
    ledger = magics.session.ledger
    assert isinstance(ledger, TeamLedger) and ledger.online is True
    (row,) = ledger.recent()
    assert (row.user, row.notebook, row.status) == ("ada", "work/analysis.ipynb", "ok")
    assert row.cost_usd == pytest.approx(o4_emulator.chat_requests[0].cost)
    assert ledger.per_user()[0]["user"] == "ada" and ledger.local.queued(ledger.target) == []
    magics.ledger_url = ""  # back to this machine's ledger, which kept its copy
    assert type(magics.session.ledger) is Ledger and magics.session.ledger.totals()["calls"] == 1


def test_the_user_budget_counts_what_the_user_spent_on_other_machines(
    shell,
    magics,
    o4_emulator,
    team_url,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    with TeamLedger(team_url, tmp_path / "laptop") as laptop:  # ada's other machine
        laptop.record(UsageRow(notebook="elsewhere.ipynb", cost_usd=0.0009))
    magics.ledger_url = team_url
    magics.user_budget_usd = 0.001
    result, captured = shell.run("%o4 hi")
    text = captured.stdout + captured.stderr
    assert not result.success and o4_emulator.chat_requests == []
    assert "you have spent $0.0009 this month (UTC)" in text
    month = datetime.now(timezone.utc).strftime("%Y-%m")
    assert magics.session.ledger.per_user_notebook(f"{month}-01")[0]["notebook"] == "elsewhere.ipynb"
