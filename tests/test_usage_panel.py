"""%o4_usage: the panel's figures against what the emulator charged, live updates, --all/--since/--csv, terminal."""

from __future__ import annotations

import csv
import gc
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
from o4_magics.widgets.usage_tables import format_usd

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


@pytest.fixture(autouse=True)
def panels(monkeypatch):
    """Every UsagePanel a test builds (through %o4_usage too); closed afterwards, so none keeps listening."""
    built: list[UsagePanel] = []

    class RecordedPanel(UsagePanel):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    RecordedPanel.built = built
    monkeypatch.setattr(usage_panel, "UsagePanel", RecordedPanel)
    yield built
    for panel in built:
        panel.close()


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
    views = [out.data[WIDGET_VIEW] for out in captured.outputs if WIDGET_VIEW in out.data]
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
    gc.collect()
    assert alive() is None and magics.session.listeners == []


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
    assert "/work/b.ipynb (this notebook)" in panel.notebooks_html.value
    assert "/work/a.ipynb" in panel.notebooks_html.value
    assert "a.ipynb [" in panel.recent_html.value and "b.ipynb [" in panel.recent_html.value

    this_one = shown_panel(shell.run("%o4_usage")[1])
    assert this_one.totals["calls"] == 2 and this_one.per_notebook == []
    assert this_one.notebooks_html.value == ""


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
    assert captured.stdout.strip() == f"o4: wrote 1 call to {path}"
    result, captured = shell.run(f"%o4_usage --all --csv {path}")
    assert captured.stdout.strip() == f"o4: wrote 3 calls to {path}"
    with open(path, newline="", encoding="utf-8") as exported:
        rows = list(csv.DictReader(exported))
    assert len(rows) == 3 and [row["status"] for row in rows] == ["ok", "error", "ok"]
    result, captured = shell.run(f"%o4_usage --all --since 2999-01-01 --csv {path}")
    assert "wrote 0 calls" in captured.stdout

    result, captured = shell.run(f"%o4_usage --csv {tmp_path}/missing/dir/usage.csv")
    assert type(result.error_in_exec).__name__ == "UsageError"
    assert "could not write" in captured.stderr and "Traceback" not in captured.stderr + captured.stdout


@pytest.mark.parametrize("line", ["--since yesterday-ish", "--since 2024-13-45", "--bogus"])
def test_bad_arguments_are_one_line_usage_errors(shell, line):
    result, captured = shell.run(f"%o4_usage {line}")
    assert type(result.error_in_exec).__name__ == "UsageError"
    shown = (captured.stdout + captured.stderr).strip()
    assert "Traceback" not in shown and len(shown.splitlines()) == 1
    assert not captured.outputs


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
def test_widget_state_is_saved_with_the_notebook(keyed_env, tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(source) for source in ("%load_ext o4_magics", "%o4 hi", "%o4_usage")
    ]
    client = NotebookClient(
        notebook,
        timeout=60,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(tmp_path)}},
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
