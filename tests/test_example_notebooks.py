"""The example notebooks (written by scripts/make_notebooks.py) run top to bottom on a real kernel (nbclient)
against the emulator; the assertions read both the cells' outputs and what the emulator received."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import nbformat
import pytest
from conftest import TEST_KEY
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
ORDER_COLUMNS = ("order_id", "order_date", "store", "category", "price", "quantity", "discount")


# -- helpers --------------------------------------------------------------------------------------------------


def execute(name: str, workdir: Path) -> nbformat.NotebookNode:
    """Run a notebook; cells tagged ``raises-exception`` may fail (nbclient's allow_error_cells), no other."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert all(cell.get("outputs", []) == [] for cell in notebook.cells), f"{name} is stored with outputs"
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    return notebook


def code_cell(notebook, source_start: str):
    return next(cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.startswith(source_start))


def cell_text(cell) -> str:
    """Streams, markdown/plain data and error messages of a cell, joined."""
    texts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            texts.append(output["text"])
        elif output.get("output_type") == "error":
            texts += [output["ename"], output["evalue"], *output["traceback"]]
        for mime in ("text/markdown", "text/plain"):
            if mime in output.get("data", {}):
                texts.append(output["data"][mime])
    return "\n".join(texts)


def final_markdown(cell) -> str:
    """The reply a %o4 cell shows: its single display, updated in place while streaming."""
    assert len(cell.outputs) == 1, [output.get("output_type") for output in cell.outputs]
    return cell.outputs[0]["data"]["text/markdown"].replace("\\\\$", "$")  # dollars are escaped for MathJax


def all_text(notebook) -> str:
    return "\n".join(cell_text(cell) for cell in notebook.cells) + json.dumps(notebook.metadata)


def user_content(request) -> str | list:
    return request.body["messages"][-1]["content"]


def user_text(request) -> str:
    content = user_content(request)
    if isinstance(content, str):
        return content
    return "\n".join(part["text"] for part in content if part["type"] == "text")


def image_parts(request) -> list[dict]:
    content = user_content(request)
    return [] if isinstance(content, str) else [part for part in content if part["type"] == "image_url"]


def png_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    return Image.open(io.BytesIO(data)).size


def displayed_png(cell) -> bytes:
    (png,) = [base64.b64decode(out["data"]["image/png"]) for out in cell.outputs if "image/png" in out.get("data", {})]
    return png


def sent_image_size(part: dict) -> tuple[int, int]:
    url = part["image_url"]["url"]
    assert url.startswith("data:image/")
    return png_size(base64.b64decode(url.split(",", 1)[1]))


def widget_text(notebook, cell) -> str:
    """Every string held by the widget a cell displayed and by its children (from the saved widget state)."""
    (view,) = [out["data"][WIDGET_VIEW] for out in cell.outputs if WIDGET_VIEW in out.get("data", {})]
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    seen, stack = set(), [view["model_id"]]
    while stack:
        model_id = stack.pop()
        if model_id in seen or model_id not in state:
            continue
        seen.add(model_id)
        stack += re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(state[model_id]["state"]))
    return "\n".join(json.dumps(state[model_id]["state"], ensure_ascii=False) for model_id in seen)


# -- the notebooks ------------------------------------------------------------------------------------------


def test_notebooks_match_their_generator(tmp_path):
    """notebooks/*.ipynb are what scripts/make_notebooks.py writes (re-run it after editing the definitions)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_notebooks", ROOT / "scripts" / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, cells in module.NOTEBOOK_CELLS.items():
        nbformat.write(module.build(name, cells), tmp_path / name)
        assert (tmp_path / name).read_text() == (NOTEBOOKS / name).read_text(), f"{name}: run scripts/make_notebooks.py"
        tagged = [c for c in nbformat.read(tmp_path / name, as_version=4).cells if "raises-exception" in c.metadata.get("tags", [])]
        assert len(tagged) == (1 if name in ("explain-plots.ipynb", "cost-control.ipynb") else 0)


@pytest.mark.timeout(120)
def test_explain_dataframes(keyed_env, tmp_path):
    notebook = execute("explain-dataframes.ipynb", tmp_path)
    assert TEST_KEY not in all_text(notebook)
    assert "OFFLINE EMULATOR" in cell_text(code_cell(notebook, "import os"))
    requests = keyed_env.chat_requests
    assert len(requests) == 4  # explain, {orders}, -v orders, --private; the dry run sends nothing

    explain = user_text(requests[0])
    assert explain.startswith("Explain this dataframe") and "data quality issues" in explain
    assert "### orders (pandas.DataFrame, 50,000 x 7)" in explain
    assert all(f"\n{column}," in explain for column in ORDER_COLUMNS)
    assert "discount,float64,1200," in explain  # the NaN discounts are counted
    assert "S01-Lyon" in explain and "15000" in explain  # top values and the outlying price (max)
    assert "openai/o4-mini" in final_markdown(code_cell(notebook, "%o4_explain orders"))

    inline = user_text(requests[1])
    assert inline.startswith("Which columns in \n\n### orders (pandas.DataFrame, 50,000 x 7)")
    assert "{orders}" not in inline and "(price * quantity * (1 - discount))" in inline

    attached = user_text(requests[2])
    assert attached.startswith("Suggest three charts") and "\n\n### orders (pandas.DataFrame, 50,000 x 7)" in attached

    private = user_text(requests[3])
    assert "### orders (pandas.DataFrame, 50,000 x 7)" in private
    assert all(f"\n{column}," in private for column in ORDER_COLUMNS)
    for value in ("S01-Lyon", "Toulouse", "grocery", "100000", "15000", "14.73"):
        assert value not in private, value

    dry = cell_text(code_cell(notebook, "%o4 --dry-run"))
    assert "Dry run: nothing was sent" in dry and "### orders (pandas.DataFrame, 50,000 x 7)" in dry
    assert "Is the discount column missing at random?" in dry
    assert not any("missing at random" in user_text(r) for r in requests)


@pytest.mark.timeout(120)
def test_explain_plots(keyed_env, tmp_path):
    notebook = execute("explain-plots.ipynb", tmp_path)
    assert TEST_KEY not in all_text(notebook)
    revenue, baskets = code_cell(notebook, "fig, ax ="), code_cell(notebook, "fig2, ax2 =")
    requests = keyed_env.chat_requests
    assert len(requests) == 4

    last = requests[0]  # -i last: the basket histogram, the image displayed last
    assert user_text(last).startswith("What does this plot show?")
    (part,) = image_parts(last)
    assert sent_image_size(part) == png_size(displayed_png(baskets))

    by_cell = code_cell(notebook, f"%o4 -i {revenue.execution_count} ")  # -i N names the revenue plot's cell by its execution count
    (part,) = image_parts(requests[1])
    assert sent_image_size(part) == png_size(displayed_png(revenue)) != png_size(displayed_png(baskets))

    figure = requests[2]  # %o4_explain fig: the figure as an image, and its description
    assert len(image_parts(figure)) == 1
    assert "how to improve it" in user_text(figure) and "Daily revenue, 2023-2024" in user_text(figure)

    failing = code_cell(notebook, "monthly = ")
    assert failing.metadata["tags"] == ["raises-exception"]
    assert [out["ename"] for out in failing.outputs if out["output_type"] == "error"] == ["KeyError"]
    error = user_text(requests[3])  # %o4_explain with no argument: the last error
    assert error.startswith("Explain this error")
    assert "KeyError" in error and "revenu" in error and "Traceback" in error
    assert f"Source of the failing cell [{failing.execution_count}]" in error
    assert 'resample("MS")["revenu"]' in error
    for cell in (by_cell, code_cell(notebook, "%o4_explain")):
        assert "openai/o4-mini" in final_markdown(cell)


@pytest.mark.timeout(120)
def test_chat(keyed_env, tmp_path):
    pytest.importorskip("o4_magics.widgets.chat")
    notebook = execute("chat.ipynb", tmp_path)
    assert TEST_KEY not in all_text(notebook)
    assert len(keyed_env.chat_requests) == 1  # showing the chat sends nothing
    question = "I have daily sales for 40 stores"
    assert question in user_text(keyed_env.chat_requests[0])
    main = next(c for c in notebook.cells if c.cell_type == "code" and c.source == "%o4_chat")
    side = code_cell(notebook, "%o4_chat -t side")
    for cell in (main, side):
        assert any(WIDGET_VIEW in out.get("data", {}) for out in cell.outputs)
    assert question in widget_text(notebook, main)  # the chat shares the main thread with %%o4
    assert question not in widget_text(notebook, side)  # -t side is a thread of its own


@pytest.mark.timeout(120)
def test_cost_control(keyed_env, tmp_path):
    pytest.importorskip("o4_magics.widgets.usage_panel")
    notebook = execute("cost-control.ipynb", tmp_path)
    assert TEST_KEY not in all_text(notebook)
    requests = keyed_env.chat_requests
    assert len(requests) == 2  # the first call and the first --cache call; the replay and the refusal send nothing

    first = final_markdown(code_cell(notebook, "%o4 --max-tokens 1000"))
    footer = first.rsplit("<sub>", 1)[1]
    assert "openai/o4-mini" in footer and "cached</sub>" not in footer

    paid, replayed = [c for c in notebook.cells if c.cell_type == "code" and c.source.startswith("%%o4 -n --cache")]
    assert paid.source == replayed.source
    assert "cached" not in final_markdown(paid).rsplit("<sub>", 1)[1].replace("(0 cached)", "")
    replay = final_markdown(replayed)
    assert replay.split("<sub>")[0] == final_markdown(paid).split("<sub>")[0]  # the same answer
    replay_footer = replay.rsplit("<sub>", 1)[1]
    assert "cached" in replay_footer.replace("(0 cached)", "") and "$0.00000" in replay_footer

    refused = code_cell(notebook, "%%o4 -n\nWrite a complete tutorial")
    assert refused.metadata["tags"] == ["raises-exception"]
    errors = [out for out in refused.outputs if out["output_type"] == "error"]
    assert len(errors) == 1 and errors[0]["ename"] == "BudgetExceeded"
    message = "\n".join(errors[0]["traceback"])
    assert "Budget" in message and "of its $0.02 budget" in message and "nothing was sent" in message
    assert "Traceback" not in message
    assert not any("gradient boosting" in user_text(r) for r in requests)

    usage = next(c for c in notebook.cells if c.cell_type == "code" and c.source == "%o4_usage")
    everything = code_cell(notebook, "%o4_usage --all")
    for cell in (usage, everything):
        assert any(WIDGET_VIEW in out.get("data", {}) for out in cell.outputs)
        panel = widget_text(notebook, cell)
        assert "openai/o4-mini" in panel and "0.02" in panel  # per-model totals and the budget
