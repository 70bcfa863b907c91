"""``%o4_usage --team``: the whole team's totals per user and per notebook, from the team ledger on a real
PostgreSQL (tests/postgres.py) or from this machine's ledger, as HTML in a notebook and text in a terminal."""

from __future__ import annotations

import csv
import warnings

import pytest
from postgres import free_port, pg_server, team_url  # noqa: F401

from o4_magics.store.ledger import Ledger, LedgerWarning, UsageRow
from o4_magics.store.postgres import TeamLedger
from o4_magics.widgets import usage_panel
from o4_magics.widgets.usage_team import TEAM_ROWS


def team_output(shell, line: str = "%o4_usage --team") -> tuple[str, str]:
    """The HTML and the text of what the cell displayed."""
    result, captured = shell.run(line)
    assert result.success, captured.stderr
    (shown,) = [out.data for out in captured.outputs]
    return shown["text/html"], shown["text/plain"]


def fill(ledger, rows: list[tuple[str, str, float]]) -> None:
    for user, notebook, cost in rows:
        ledger.record(UsageRow(notebook=notebook, user=user, cost_usd=cost, prompt_tokens=100))


def table_rows(text: str, title: str) -> list[list[str]]:
    """The rows (cells split on two or more spaces) of the text table under ``title``."""
    block = text.split(f"\n{title}\n", 1)[1].split("\n\n", 1)[0]
    return [[cell.strip() for cell in line.split("  ") if cell.strip()] for line in block.splitlines()[1:]]


def test_team_totals_per_user_and_notebook_on_this_machines_ledger(shell, magics, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    with Ledger() as ledger:
        fill(ledger, [("ada", "a.ipynb", 0.5), ("ada", "b.ipynb", 0.25), ("grace", "a.ipynb", 2.0)])
    html, text = team_output(shell)
    assert text.startswith("o4 usage: the whole team · from this machine's ledger")
    assert "$2.75" in text.split("\n\n")[1]  # the totals table
    assert table_rows(text, "per user") == [
        ["grace", "1", "100", "0", "0", "$2.00", *table_rows(text, "per user")[0][6:]],
        ["ada (you)", "2", "200", "0", "0", "$0.75000", *table_rows(text, "per user")[1][6:]],
    ]
    assert [row[:4] for row in table_rows(text, "per notebook")] == [
        ["grace", "a.ipynb", "1", "$2.00"],
        ["ada", "a.ipynb", "1", "$0.50000"],
        ["ada", "b.ipynb", "1", "$0.25000"],
    ]
    assert "per user" in html and "ada (you)" in html and "grace" in html and "<table" in html


def test_terminal_prints_the_team_as_text(shell, magics, monkeypatch):
    monkeypatch.setattr(usage_panel, "is_terminal", lambda shell: True)
    with Ledger() as ledger:
        fill(ledger, [("ada", "a.ipynb", 0.5)])
    result, captured = shell.run("%o4_usage --team")
    assert result.success and not captured.outputs
    assert captured.stdout.startswith("o4 usage: the whole team") and "per user" in captured.stdout


def test_since_budgets_and_csv(shell, magics, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    with Ledger() as ledger:
        fill(ledger, [("ada", "a.ipynb", 0.5), ("grace", "a.ipynb", 1.0)])
        ledger.record(UsageRow(notebook="old.ipynb", user="linus", cost_usd=9.0, ts="2001-01-01T00:00:00Z"))
    magics.user_budget_usd, magics.team_budget_usd = 2.0, 10.0
    _, text = team_output(shell, "%o4_usage --team --since 2020-01-01")
    assert "linus" not in text and "since 2020-01-01" in text
    assert "your budget: $0.50000 of $2.00 this month (UTC) (25%)" in text
    assert "team budget: $1.50 of $10.00 this month (UTC) (15%)" in text
    _, everything = team_output(shell)
    assert "linus" in everything
    shell.run(f"%o4_usage --team --csv {tmp_path / 'team.csv'}")
    with open(tmp_path / "team.csv", encoding="utf-8-sig") as exported:
        assert sorted(row["user"] for row in csv.DictReader(exported)) == ["ada", "grace", "linus"]


def test_long_tables_are_cut_and_say_what_was_left_out(shell, magics):
    with Ledger() as ledger:
        fill(ledger, [(f"user{index:02d}", f"n{index}.ipynb", 1.0 + index) for index in range(TEAM_ROWS + 5)])
    html, text = team_output(shell)
    assert len(table_rows(text, "per user")) == TEAM_ROWS + 1  # and the line saying what was left out
    assert "and 5 more users ($15.00)" in text and "and 5 more notebooks ($15.00)" in html


def test_names_are_escaped_in_html(shell, magics):
    with Ledger() as ledger:
        fill(ledger, [("<img src=x onerror=alert(1)>", "<b>.ipynb", 1.0)])
    html, _ = team_output(shell)
    assert "<img" not in html and "&lt;img src=x" in html and "&lt;b&gt;.ipynb" in html


# -- on a real PostgreSQL ------------------------------------------------------------------------------------


def test_the_team_view_reads_the_team_ledger(shell, magics, team_url, tmp_path, monkeypatch):  # noqa: F811
    """Calls from three users on three machines, all shown; the URL's password is not."""
    for user, notebook, cost in (
        ("ada", "work/a.ipynb", 0.5),
        ("grace", "b.ipynb", 2.0),
        ("linus", "c.ipynb", 1.0),
    ):
        monkeypatch.setenv("JUPYTERHUB_USER", user)
        with TeamLedger(team_url, tmp_path / user) as machine:
            fill(machine, [(user, notebook, cost)])
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    magics.ledger_url = team_url
    magics.team_budget_usd = 5.0
    html, text = team_output(shell)
    password = team_url.split(":")[2].split("@")[0]
    assert password not in html + text
    assert "from the team ledger postgresql://o4team@127.0.0.1" in text
    assert [row[0] for row in table_rows(text, "per user")] == ["grace", "linus", "ada (you)"]
    assert [row[1] for row in table_rows(text, "per notebook")] == ["b.ipynb", "c.ipynb", "work/a.ipynb"]
    assert "team budget: $3.50 of $5.00 this month (UTC) (70%)" in text
    # this machine's ledger only knows ada's call; %o4_usage (not --team) shows only hers
    assert Ledger().team_totals()["calls"] == 0
    result, captured = shell.run("%o4_usage --all")
    assert result.success


def test_the_team_view_says_when_it_shows_this_machine_only(shell, magics, monkeypatch):
    magics.ledger_url = f"postgresql://o4team:pw-for-test@127.0.0.1:{free_port()}/team"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LedgerWarning)
        fill(magics.session.ledger, [("ada", "a.ipynb", 0.5)])
        html, text = team_output(shell)
    assert "from this machine's ledger (the team ledger postgresql://o4team@127.0.0.1:" in text
    assert "cannot be reached" in html and "pw-for-test" not in html + text
    assert "$0.50000" in text


@pytest.mark.parametrize("line", ["%o4_usage --team --all", "%o4_usage --all --team --since 2024-01-01"])
def test_team_wins_over_all(shell, magics, line):
    html, text = team_output(shell, line)
    assert text.startswith("o4 usage: the whole team") and "No calls yet." in text
