"""%o4_usage: the panel's figures against what the emulator charged, live updates, --all/--since/--csv, terminal."""

from __future__ import annotations

import csv
import gc
import re
import subprocess
import sys
import threading
import time
import weakref

import nbformat
import pytest
from nbclient import NotebookClient

from o4_magics.store.ledger import UsageRow
from o4_magics.widgets import usage_panel
from o4_magics.widgets.usage_panel import UsagePanel
from o4_magics.widgets.usage_tables import format_usd, shown_notebook

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

#: every panel a test builds is recorded and closed afterwards (conftest.panels)
pytestmark = pytest.mark.usefixtures("panels")


def wait_for(predicate, timeout: float = 3.0) -> bool:
    """Poll ``predicate`` until true (the panel coalesces refreshes, so updates may land a moment later)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def shown_panel(captured) -> UsagePanel:
    """The UsagePanel behind the one widget a %o4_usage cell displayed."""
    views = [
        out.data[WIDGET_VIEW]
        for out in captured.outputs
        if WIDGET_VIEW in out.data and not getattr(out, "update", False)  # not an older panel's static copy
    ]
    assert len(views) == 1
    (panel,) = (
        panel for panel in usage_panel.UsagePanel.built if panel.widget.model_id == views[0]["model_id"]
    )
    return panel


def charged(emulator) -> dict[str, float]:
    """What the emulator reported over every generation: cost and tokens by kind."""
    gens = emulator.generations.values()
    return {
        "cost_usd": sum(gen["total_cost"] for gen in gens),
        "prompt_tokens": sum(gen["tokens_prompt"] for gen in gens),
        "completion_tokens": sum(gen["tokens_completion"] for gen in gens),
        "reasoning_tokens": sum(gen["native_tokens_reasoning"] for gen in gens),
        "cached_tokens": sum(gen["native_tokens_cached"] for gen in gens),
    }


def make_calls(shell, *prompts: str) -> None:
    for prompt in prompts:
        shell.run(f"%o4 {prompt}")


def test_panel_figures_equal_what_the_emulator_charged(shell, magics, o4_emulator):
    make_calls(shell, "hi", "-m openai/gpt-4o-mini hello", "no credits [[status:402]]")
    result, captured = shell.run("%o4_usage")
    assert result.success and result.result is None  # displayed once, not returned as well
    panel = shown_panel(captured)
    expected = charged(o4_emulator)
    totals = panel.totals
    assert totals["calls"] == 3
    assert totals["cost_usd"] == pytest.approx(expected["cost_usd"]) and expected["cost_usd"] > 0
    for kind in ("prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens"):
        assert totals[kind] == expected[kind]
    assert format_usd(expected["cost_usd"]) in panel.totals_html.value
    assert f"{expected['prompt_tokens']:,}" in panel.totals_html.value

    newest, *older = panel.recent
    assert (newest.status, newest.cost_usd, newest.prompt_tokens) == ("error", 0.0, 0)
    assert [row.status for row in older] == ["ok", "ok"]
    assert [row.cell for row in panel.recent] == sorted((row.cell for row in panel.recent), reverse=True)
    assert "error" in panel.recent_html.value and "402" in panel.recent_html.value  # the error on hover

    models = {row["model"]: row for row in panel.per_model}
    assert set(models) == {"openai/o4-mini", "openai/gpt-4o-mini"}
    assert models["openai/o4-mini"]["calls"] == 2  # the failed call is filed under the model asked for
    assert sum(row["cost_usd"] for row in models.values()) == pytest.approx(expected["cost_usd"])
    assert "openai/gpt-4o-mini" in panel.models_html.value
    assert "var(--jp-" in panel.recent_html.value  # themed with JupyterLab's variables
    assert panel.budget_box.layout.display == "none"  # no budget set, no bar


def test_budget_bar_warns_and_turns_to_danger(shell, magics, o4_emulator):
    make_calls(shell, "hi", "again")
    spent = charged(o4_emulator)["cost_usd"]
    magics.budget_usd = spent / 0.9  # 90 % spent
    panel = shown_panel(shell.run("%o4_usage")[1])
    bar = panel.budget_bar
    assert panel.budget_box.layout.display == "flex"
    assert bar.max == pytest.approx(spent / 0.9) and bar.value == pytest.approx(spent)
    assert bar.bar_style == "warning"
    assert "90%" in panel.budget_label.value and format_usd(spent) in panel.budget_label.value

    magics.budget_usd = spent / 2  # the panel reads the setting at each refresh
    panel.refresh()
    assert bar.bar_style == "danger" and bar.value == bar.max == pytest.approx(spent / 2)
    assert "200%" in panel.budget_label.value
    magics.budget_usd = spent * 10
    panel.refresh()
    assert bar.bar_style == "success" and bar.value == pytest.approx(spent)
    magics.budget_usd = None
    panel.refresh()
    assert panel.budget_box.layout.display == "none"


def test_panels_update_live_and_closed_ones_stop(shell, magics, o4_emulator):
    make_calls(shell, "hi")
    first = shown_panel(shell.run("%o4_usage")[1])
    second = shown_panel(shell.run("%o4_usage")[1])
    assert first.totals["calls"] == second.totals["calls"] == 1
    make_calls(shell, "more")
    assert wait_for(lambda: first.totals["calls"] == 2 and second.totals["calls"] == 2)
    assert first.totals["cost_usd"] == pytest.approx(charged(o4_emulator)["cost_usd"])
    assert len(first.recent) == 2 and first.recent_html.value.count("<tr") == 3  # header and two calls

    listeners = magics.session.listeners
    assert len(listeners) == 2
    second.widget.close()  # what closing the output does
    assert second.closed and len(listeners) == 1
    make_calls(shell, "third")
    assert wait_for(lambda: first.totals["calls"] == 3)
    time.sleep(usage_panel.MIN_REFRESH_INTERVAL_S + 0.1)
    assert second.totals["calls"] == 2


def test_a_shown_panel_lives_until_closed_then_is_released(shell, magics, panels):
    shell.run("%o4_usage")
    alive = weakref.ref(panels.pop())  # the test keeps no strong reference: only the widget registry does
    gc.collect()
    assert alive() is not None and len(magics.session.listeners) == 1
    make_calls(shell, "hi")
    assert wait_for(lambda: alive().totals["calls"] == 1)
    alive().widget.close()
    # a refresh already running in a timer thread may hold the panel for a moment: released once it ends
    assert wait_for(lambda: gc.collect() is not None and alive() is None)
    assert magics.session.listeners == []


def test_a_burst_of_calls_coalesces_and_the_last_refresh_lands(shell, magics):
    session = magics.session
    panel = usage_panel.UsagePanel(session)
    before = panel.refreshes

    def burst() -> None:
        for _ in range(30):
            session.record(UsageRow(notebook=panel.notebook, model="m", cost_usd=0.01, prompt_tokens=5))

    worker = threading.Thread(target=burst)  # calls may finish on another thread (the chat widget's)
    worker.start()
    worker.join()
    assert wait_for(lambda: panel.totals["calls"] == 30)
    time.sleep(usage_panel.MIN_REFRESH_INTERVAL_S + 0.1)
    assert panel.totals["cost_usd"] == pytest.approx(0.30)
    assert panel.refreshes - before <= 3
    assert panel.last_error is None


def test_all_groups_by_notebook(shell, magics, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "/work/a.ipynb")
    make_calls(shell, "hi")
    monkeypatch.setenv("JPY_SESSION_NAME", "/work/b.ipynb")
    make_calls(shell, "hi", "again")

    panel = shown_panel(shell.run("%o4_usage --all")[1])
    assert panel.totals["calls"] == 3
    calls = {row["notebook"]: row["calls"] for row in panel.per_notebook}
    assert calls == {"/work/a.ipynb": 1, "/work/b.ipynb": 2}
    assert "b.ipynb (this notebook)" in panel.notebooks_html.value
    assert "a.ipynb" in panel.notebooks_html.value and "/work/" not in panel.notebooks_html.value
    assert "a.ipynb [" in panel.recent_html.value and "b.ipynb [" in panel.recent_html.value

    this_one = shown_panel(shell.run("%o4_usage")[1])
    assert this_one.totals["calls"] == 2 and this_one.per_notebook == []
    assert this_one.notebooks_html.value == ""


def widget_strings(widget) -> list[str]:
    """Every string in the saved state of ``widget`` and the widgets it holds (what a saved notebook keeps)."""
    from ipywidgets.embed import dependency_state

    found: list[str] = []

    def walk(value) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(dependency_state([widget], drop_defaults=False))
    return found


#: Something that looks like an absolute path: "/x/y" not after a tag's "<" ("</td>") or "~" (home-relative).
ABSOLUTE_PATH = re.compile(r"(?<![<\w.~])/[\w.~-]+/")


def test_saved_panel_shows_no_home_or_absolute_path(shell, magics, monkeypatch, tmp_path):
    home = tmp_path / "home" / "alice"
    monkeypatch.setenv("HOME", str(home))
    root = home / "work"
    monkeypatch.setenv("JPY_SESSION_NAME", str(root / "secret-project" / "other.ipynb"))
    make_calls(shell, "hi")
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "elsewhere" / "outside.ipynb"))
    make_calls(shell, "hi")
    monkeypatch.setenv("JPY_SESSION_NAME", str(root / "secret-project" / "analysis.ipynb"))
    make_calls(shell, "hi")
    magics.session.record(
        UsageRow(
            notebook=magics.session.notebook(),
            status="error",
            error=f"could not read {home}/data/private.png",
        )
    )

    for server_root, shown in ((None, "analysis.ipynb"), (str(root), "secret-project/analysis.ipynb")):
        if server_root:
            monkeypatch.setenv("JUPYTER_SERVER_ROOT", server_root)
        for line in ("%o4_usage", "%o4_usage --all"):
            panel = shown_panel(shell.run(line)[1])
            strings = widget_strings(panel.widget)
            text = "\n".join(strings)
            assert str(home) not in text and str(tmp_path) not in text, line
            assert ABSOLUTE_PATH.findall(text) == [], (line, ABSOLUTE_PATH.findall(text))
            if line == "%o4_usage":
                assert f"o4 usage</b> · {shown} " in panel.header.value
                assert "could not read ~/data/private.png" in panel.recent_html.value  # the error's tooltip
            else:
                assert f"{shown} (this notebook)" in panel.notebooks_html.value
                assert "outside.ipynb" in panel.notebooks_html.value  # not under the root: its name only
            assert "other.ipynb" in text or line == "%o4_usage"
    assert ABSOLUTE_PATH.findall("</td><tr> /home/x/ </div>") == ["/home/"]  # the pattern finds paths


def test_notebook_names_relative_to_the_server_root():
    assert shown_notebook("/srv/root/a/b.ipynb", "/srv/root") == "a/b.ipynb"
    assert shown_notebook("/srv/root/a/b.ipynb", "/srv/other") == "b.ipynb"
    assert shown_notebook("/srv/root/a/b.ipynb", None) == "b.ipynb"
    assert shown_notebook("~/a/b.ipynb", None) == "b.ipynb"
    assert shown_notebook("C:\\Users\\alice\\nb.ipynb", None) == "nb.ipynb"
    assert shown_notebook("C:\\Users\\alice\\work\\nb.ipynb", "C:\\Users\\alice") == "work/nb.ipynb"
    assert shown_notebook("sub/b.ipynb", None) == "sub/b.ipynb"  # already relative to the root
    assert shown_notebook("kernel:1234-abcd", None) == "kernel:1234-abcd"
    assert shown_notebook("", None) == "(unknown)"


def test_server_root_from_a_relative_session_name(monkeypatch, tmp_path):
    from o4_magics.store import identity

    start = tmp_path / "root" / "sub" / "deeper"
    monkeypatch.setattr(identity, "START_DIRECTORY", str(start))
    monkeypatch.setenv("JPY_SESSION_NAME", "sub/deeper/nb.ipynb")
    assert identity.server_root() == str(tmp_path / "root")
    monkeypatch.setenv("JPY_SESSION_NAME", "nb.ipynb")
    assert identity.server_root() == str(start)
    monkeypatch.setenv("JPY_SESSION_NAME", "other/nb.ipynb")
    assert identity.server_root() is None  # the folders do not match: unknown
    monkeypatch.setenv("JPY_SESSION_NAME", str(start / "nb.ipynb"))
    assert identity.server_root() is None  # an absolute session name does not tell the root
    monkeypatch.setenv("JUPYTER_SERVER_ROOT", str(tmp_path))
    assert identity.server_root() == str(tmp_path)


def test_since_filters(shell, magics):
    notebook = magics.session.notebook()
    magics.session.ledger.record(
        UsageRow(notebook=notebook, model="old", cost_usd=1.0, ts="2020-01-01T12:00:00")
    )
    make_calls(shell, "hi")
    assert shown_panel(shell.run("%o4_usage")[1]).totals["calls"] == 2
    for since in ("2024-01-01", "2024-01-01T10:30", '"2024-01-01 10:30"'):
        panel = shown_panel(shell.run(f"%o4_usage --since {since}")[1])
        assert panel.totals["calls"] == 1
        assert [row["model"] for row in panel.per_model] == ["openai/o4-mini"]
        assert all(row.model != "old" for row in panel.recent)
        assert "since 2024-01-01" in panel.header.value


def test_csv_export(shell, magics, tmp_path, monkeypatch):
    make_calls(shell, "hi", "fails [[status:402]]")
    monkeypatch.setenv("JPY_SESSION_NAME", "other.ipynb")
    make_calls(shell, "hi")
    path = tmp_path / "usage.csv"
    result, captured = shell.run(f"%o4_usage --csv {path}")
    assert result.success and not captured.outputs  # an export shows no panel
    summary = tmp_path / "usage.summary.html"  # the companion page: tables and charts (tests/test_charts.py)
    assert captured.stdout.strip() == f"o4: wrote 1 call to {path}, and a summary with charts to {summary}"
    result, captured = shell.run(f"%o4_usage --all --csv {path}")
    assert captured.stdout.strip().startswith(f"o4: wrote 3 calls to {path}, and a summary")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads the file as UTF-8
    with open(path, newline="", encoding="utf-8-sig") as exported:
        rows = list(csv.DictReader(exported))
    assert len(rows) == 3 and [row["status"] for row in rows] == ["ok", "error", "ok"]
    result, captured = shell.run(f"%o4_usage --all --since 2999-01-01 --csv {path}")
    assert "wrote 0 calls" in captured.stdout

    result, captured = shell.run(f"%o4_usage --csv {tmp_path}/missing/dir/usage.csv")
    assert type(result.error_in_exec).__name__ == "UsageError"
    assert "could not write" in captured.stderr and "Traceback" not in captured.stderr + captured.stdout


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (
            "--since yesterday-ish",
            "--since 'yesterday-ish' is not an ISO date or datetime: use e.g. 2025-06-01",
        ),
        ("--since 2024-13-45", "--since '2024-13-45' is not a valid date (month must be in 1..12)"),
        ("--since 2024-02-30", "--since '2024-02-30' is not a valid date (day is out of range for month)"),
        ("--bogus", "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments_are_one_line_usage_errors(shell, line, says):
    result, captured = shell.run(f"%o4_usage {line}")
    assert type(result.error_in_exec).__name__ == "UsageError"
    shown = (captured.stdout + captured.stderr).strip()
    assert "Traceback" not in shown and len(shown.splitlines()) == 1
    assert says in shown
    assert not captured.outputs


@pytest.mark.parametrize("since", ["0001-01-01", "0001-01-01T00:00+05:00", "1600-02-29"])
def test_since_the_first_years_shows_every_call(shell, magics, since):
    magics.session.ledger.record(UsageRow(notebook=magics.session.notebook(), model="old", ts="1999-01-01"))
    make_calls(shell, "hi")
    result, captured = shell.run(f"%o4_usage --since {since}")
    assert result.success, captured.stderr
    panel = shown_panel(captured)
    assert panel.totals["calls"] == 2 and len(panel.recent) == 2
    assert f"since {since[:4]}-" in panel.header.value


def test_since_the_far_future_shows_nothing(shell, magics):
    make_calls(shell, "hi")
    panel = shown_panel(shell.run("%o4_usage --since 9999-12-31T23:59:59")[1])
    assert panel.totals["calls"] == 0 and "since 9999-12-31" in panel.header.value


def test_cached_replays_count_as_calls_with_no_tokens_and_no_cost(shell, magics, o4_emulator):
    shell.run("%%o4 -n --cache\nExplain PCA")
    shell.run("%%o4 -n --cache\nExplain PCA")
    shell.run("%%o4 -n --cache --no-stream\nExplain PCA")
    assert len(o4_emulator.chat_requests) == 1  # two replays, one request
    panel = shown_panel(shell.run("%o4_usage")[1])
    expected = charged(o4_emulator)  # what the one real call was charged
    assert panel.totals["calls"] == 3
    assert panel.totals["cost_usd"] == pytest.approx(expected["cost_usd"]) and expected["cost_usd"] > 0
    for kind in ("prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens"):
        assert panel.totals[kind] == expected[kind], kind
    (model,) = panel.per_model
    assert model["calls"] == 3 and model["prompt_tokens"] == expected["prompt_tokens"]
    replays = panel.recent[:2]
    assert [row.status for row in panel.recent] == ["cached", "cached", "ok"]
    for row in replays:
        assert row.cost_usd == 0 and row.generation_id == ""
        assert (row.prompt_tokens, row.cached_tokens, row.completion_tokens, row.reasoning_tokens) == (
            0,
            0,
            0,
            0,
        )
    shown_rows = panel.recent_html.value.split("<tr")[2:]
    for html_row in shown_rows[:2]:
        assert ">0 → 0<" in html_row and ">$0.00000<" in html_row and "cached" in html_row
    assert f"{expected['prompt_tokens']:,} → {expected['completion_tokens']:,}" in shown_rows[2]


def test_terminal_prints_a_text_table(shell, magics, o4_emulator, monkeypatch):
    monkeypatch.setattr(usage_panel, "is_terminal", lambda shell: True)
    make_calls(shell, "hi", "fails [[status:402]]")
    magics.budget_usd = 1.0
    result, captured = shell.run("%o4_usage")
    assert result.success and not captured.outputs  # no widget, just text
    text = captured.stdout
    assert text.startswith("o4 usage: ")
    assert format_usd(charged(o4_emulator)["cost_usd"]) in text
    assert "calls" in text and "openai/o4-mini" in text and "recent calls" in text and "error" in text
    assert "of $1.00 budget" in text
    assert "<" not in text  # plain text, no HTML


def test_importing_the_panel_module_leaves_ipywidgets_out():
    code = "import sys, o4_magics.widgets.usage_panel; print('ipywidgets' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"


@pytest.mark.timeout(120)
def test_widget_state_is_saved_with_the_notebook(keyed_env, tmp_path, monkeypatch):
    home = tmp_path / "home" / "alice"
    folder = home / "projects" / "secret-client"
    folder.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("JPY_SESSION_NAME", str(folder / "analysis.ipynb"))  # as Jupyter Server sets it
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(source)
        for source in ("%load_ext o4_magics", "%o4 hi", "%o4_usage", "%o4_usage --all")
    ]
    client = NotebookClient(
        notebook,
        timeout=60,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(folder)}},  # the kernel starts in the notebook's folder
    )
    client.execute()
    (output,) = notebook.cells[2].outputs
    model_id = output["data"][WIDGET_VIEW]["model_id"]
    state = notebook.metadata.widgets[WIDGET_STATE]["state"]
    assert model_id in state and state[model_id]["model_name"] == "VBoxModel"
    html_values = [
        model["state"].get("value", "") for model in state.values() if model["model_name"] == "HTMLModel"
    ]
    cost = format_usd(charged(keyed_env)["cost_usd"])
    assert any(cost in value and "calls" in value for value in html_values)
    assert any("openai/o4-mini" in value for value in html_values)
    assert any("analysis.ipynb (this notebook)" in value for value in html_values)  # the --all table
    saved = nbformat.writes(notebook)  # what the .ipynb file holds, outputs and widget state
    assert "analysis.ipynb" in saved
    assert str(home) not in saved and "secret-client" not in saved and str(tmp_path) not in saved
