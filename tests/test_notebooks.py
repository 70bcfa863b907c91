"""The example notebooks run top to bottom on a real kernel (nbclient) against the emulator."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import TEST_KEY
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute(name: str, workdir: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}})
    client.execute()
    return notebook


def cell_text(cell) -> str:
    texts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            texts.append(output["text"])
        for mime in ("text/markdown", "text/plain"):
            if mime in output.get("data", {}):
                texts.append(output["data"][mime])
    return "\n".join(texts)


def find_cell(notebook, source_start: str):
    return next(cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.startswith(source_start))


@pytest.mark.timeout(240)
def test_quickstart(keyed_env, tmp_path):
    notebook = execute("quickstart.ipynb", tmp_path)
    everything = "\n".join(cell_text(cell) for cell in notebook.cells)
    assert TEST_KEY not in everything
    assert "OFFLINE EMULATOR" in cell_text(find_cell(notebook, "import os"))
    first = find_cell(notebook, "%%o4\nWhat is a p-value?")
    assert len(first.outputs) == 1  # one display, updated in place
    markdown = first.outputs[0]["data"]["text/markdown"].replace("\\\\$", "$")
    assert markdown.startswith("## ") and "```python" in markdown and "$e^{i\\pi} + 1 = 0$" in markdown
    assert "openai/o4-mini" in markdown and "$0.0" in markdown
    requests = keyed_env.chat_requests
    follow_up = next(r for r in requests if r.body["messages"][-1]["content"] == "Give a concrete example with numbers.")
    assert [m["role"] for m in follow_up.body["messages"]] == ["system", "user", "assistant", "user"]
    assert "'dict'" in cell_text(find_cell(notebook, "type(facts)"))
    dry = cell_text(find_cell(notebook, "%o4 --dry-run"))
    assert "Dry run: nothing was sent" in dry
    assert not any("Derive the OLS" in str(r.body) for r in requests)
    ask_out = cell_text(find_cell(notebook, "import o4_magics"))
    assert " in, " in ask_out and "$0.0" in ask_out


@pytest.mark.timeout(240)
def test_totals_survive_a_kernel_restart(keyed_env, tmp_path, monkeypatch):
    """Two kernels, one after the other, for the same notebook: the second sees the first one's calls."""
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "restart.ipynb"))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext o4_magics"),
        nbformat.v4.new_code_cell("%o4 hello"),
        nbformat.v4.new_code_cell(
            "from o4_magics.api import default_session\n"
            "session = default_session()\n"
            "totals = session.ledger.totals(notebook=session.notebook())\n"
            "print(totals['calls'], round(totals['cost_usd'], 8))"
        ),
        nbformat.v4.new_code_cell("%o4_usage"),
    ]
    seen = []
    for _ in range(2):
        run = nbformat.from_dict(notebook)
        NotebookClient(run, timeout=120, kernel_name="python3", store_widget_state=True,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        seen.append(run.cells[2].outputs[0]["text"].split())
        state = run.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
        assert any("openai/o4-mini" in str(model.get("state", {}).get("value", "")) for model in state.values())
    costs = sorted(g["total_cost"] for g in keyed_env.generations.values())
    assert seen[0][0] == "1" and seen[1][0] == "2"
    assert float(seen[1][1]) == pytest.approx(sum(costs), abs=1e-8)


@pytest.mark.timeout(240)
def test_a_long_reply_ends_as_one_output_on_a_real_kernel(keyed_env, tmp_path):
    """Frozen blocks are folded back when the reply ends: one output holds the whole reply; a cell that printed
    first keeps its print, and the reply is still whole in one output (emptied parts hold nothing)."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext o4_magics"),
        nbformat.v4.new_code_cell("%%o4\nA long one [[slow:0.002]][[long:1500]]"),
        nbformat.v4.new_code_cell("print('computed first')\n%o4 -n Another long one [[slow:0.002]][[long:1500]]"),
    ]
    client = NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    alone, after_print = notebook.cells[1], notebook.cells[2]
    (output,) = alone.outputs
    assert output["data"]["text/markdown"].count("\n\n") >= 20 and "<sub>" in output["data"]["text/markdown"]
    assert after_print.outputs[0]["output_type"] == "stream" and "computed first" in after_print.outputs[0]["text"]
    full = [out for out in after_print.outputs[1:] if out.get("data")]
    assert len(full) == 1 and full[0]["data"]["text/markdown"].count("\n\n") >= 20
