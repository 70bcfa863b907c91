"""The usage panel and the chat leave a static copy beside their widget view (text/html and text/plain in the same
display), so nbconvert's HTML and other viewers without a widget manager show the totals table and the
transcript, not "Loading widget…". Runs with ipywidgets 8 (scripts/test) and 7 (scripts/colab_job.sh)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from o4_magics.widgets.usage_tables import format_usd

ROOT = Path(__file__).resolve().parents[2]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
REPLY = "Use a **rolling median** per store; flag weeks under 60% of it."


def widget_outputs(outputs) -> list[dict]:
    """The bundles (first publish and updates) of the widget displays among ``outputs``."""
    return [out.data for out in outputs if WIDGET_VIEW in out.data]


def totals_row(text: str) -> list[str]:
    """The figures under the "calls … cost" header of a usage table in plain text."""
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["calls"])
    return lines[header + 1].split()


def html_text(markup: str) -> str:
    """What a reader sees of ``markup``: tags dropped, entities read."""
    import html

    return html.unescape(re.sub(r"<[^<>]*>", " ", markup))


# -- in a shell: the bundle and its updates ------------------------------------------------------------------


def test_usage_panel_display_holds_a_static_totals_table(shell, o4_emulator):
    shell.run("%o4 hi")
    _, captured = shell.run("%o4_usage")
    (bundle,) = widget_outputs(captured.outputs)
    cost = format_usd(sum(g["total_cost"] for g in o4_emulator.generations.values()))
    shown = html_text(bundle["text/html"])
    assert "<table" in bundle["text/html"] and "o4 usage" in shown
    assert re.search(rf"calls\s+input\s+cached\s+output\s+reasoning\s+cost\s+1\s.*{re.escape(cost)}", shown)
    assert "openai/o4-mini" in shown and "Loading widget" not in shown
    assert totals_row(bundle["text/plain"])[0] == "1" and cost in bundle["text/plain"]
    assert "mathjax_ignore" in bundle["text/html"]  # "$… $…" in a table is not math


def test_the_static_copy_catches_up_after_the_next_cell_that_made_a_call(shell):
    shell.run("%o4 one")
    _, shown = shell.run("%o4_usage")
    (first,) = widget_outputs(shown.outputs)
    _, quiet = shell.run("x = 1")
    assert widget_outputs(quiet.outputs) == []  # nothing changed: the live view is not redrawn
    _, later = shell.run("%o4 two")
    updates = [out for out in later.outputs if WIDGET_VIEW in out.data]
    assert len(updates) == 1 and updates[0].update
    assert updates[0].transient["display_id"] == shown.outputs[0].transient["display_id"]
    assert updates[0].data[WIDGET_VIEW] == first[WIDGET_VIEW]  # the same live widget
    assert totals_row(updates[0].data["text/plain"])[0] == "2"


def test_chat_display_holds_a_static_transcript(shell, o4_emulator):
    o4_emulator.reply_text = REPLY
    shell.run("%%o4\nHow do I spot stores whose sales dropped?")
    _, captured = shell.run("%o4_chat")
    (bundle,) = widget_outputs(captured.outputs)
    shown = html_text(bundle["text/html"])
    assert "You" in shown and "How do I spot stores whose sales dropped?" in shown
    assert "o4-mini" in shown and "rolling median" in shown
    assert "How do I spot stores" in bundle["text/plain"] and "rolling median" in bundle["text/plain"]
    _, later = shell.run("%o4 And for weekly data?")
    (update,) = [out for out in later.outputs if WIDGET_VIEW in out.data]
    assert update.update and "And for weekly data?" in html_text(update.data["text/html"])


def test_a_chat_reply_shows_its_cost_with_a_plain_dollar(shell, o4_emulator):
    from o4_magics.widgets.chat import ChatWidget

    magics = next(c for c in shell.configurables if type(c).__name__ == "O4Magics")
    chat = ChatWidget(magics.session)
    try:
        assert chat.send("What is a z-score?") and chat.wait(15)
        text = chat.static_text()
        assert "You: What is a z-score?" in text
        assert re.search(r"openai/o4-mini · .* · \$0\.\d{5}", text) and "\\$" not in text
        assert "\\$" not in chat.static_html()
    finally:
        chat.close()


# -- a real kernel, then nbconvert ---------------------------------------------------------------------------


def execute(name: str, workdir: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()  # store_widget_state is on: metadata.widgets holds the widgets' state
    assert WIDGET_STATE in notebook.metadata.widgets
    return notebook


def to_html(notebook: nbformat.NotebookNode, with_state: bool) -> str:
    from nbconvert import HTMLExporter

    copy = nbformat.from_dict(notebook)
    if not with_state:
        copy.metadata.pop("widgets")
    body, _ = HTMLExporter().from_notebook_node(copy)
    return body


def code_cell(notebook, source: str):
    return next(cell for cell in notebook.cells if cell.cell_type == "code" and cell.source == source)


def widget_bundle(cell) -> dict:
    (bundle,) = [out["data"] for out in cell.outputs if WIDGET_VIEW in out.get("data", {})]
    return bundle


@pytest.mark.timeout(240)
def test_nbconvert_html_shows_the_totals_with_or_without_widget_state(keyed_env, tmp_path):
    notebook = execute("cost-control.ipynb", tmp_path)
    first = widget_bundle(code_cell(notebook, "%o4_usage"))
    last = widget_bundle(code_cell(notebook, "%o4_usage --all"))
    # The copy shown before the later calls caught up with them: its totals are those of the last panel.
    assert totals_row(first["text/plain"]) == totals_row(last["text/plain"])
    calls, *_, cost = totals_row(first["text/plain"])
    assert int(calls) >= 3 and cost.startswith("$")

    page = to_html(notebook, with_state=False)
    shown = html_text(page)
    assert "Loading widget" not in shown and WIDGET_VIEW not in page
    assert shown.count("o4 usage") == 2
    figures = r"\s+".join(re.escape(value) for value in (calls, *totals_row(first["text/plain"])[1:]))
    assert len(re.findall(rf"calls\s+input\s+cached\s+output\s+reasoning\s+cost\s+{figures}", shown)) == 2

    page = to_html(notebook, with_state=True)  # the widgets themselves, drawn from their saved state
    model_id = first[WIDGET_VIEW]["model_id"]
    assert f'"model_id": "{model_id}"' in page and WIDGET_STATE in page
    state = notebook.metadata.widgets[WIDGET_STATE]["state"]
    assert model_id in state and state[model_id]["model_name"] == "VBoxModel"
    values = [
        html_text(m["state"].get("value", "")) for m in state.values() if m["model_name"] == "HTMLModel"
    ]
    assert any(
        re.search(rf"calls\s+input\s+cached\s+output\s+reasoning\s+cost\s+{figures}", v) for v in values
    )


@pytest.mark.timeout(240)
def test_nbconvert_html_shows_the_chat_transcript(keyed_env, tmp_path):
    keyed_env.reply_text = REPLY
    notebook = execute("chat.ipynb", tmp_path)
    bundle = widget_bundle(code_cell(notebook, "%o4_chat"))
    assert "rolling median" in html_text(bundle["text/html"])
    shown = html_text(to_html(notebook, with_state=False))
    assert "Loading widget" not in shown
    assert "How would I detect stores whose sales suddenly dropped?" in shown
    assert shown.count("rolling median") >= 2  # the %%o4 reply, and the chat's transcript of it
    assert re.search(r"thread\s+side\s+No messages yet\.", shown)  # %o4_chat -t side: an empty transcript


# -- time bounds on hostile replies --------------------------------------------------------------------------

#: Inputs that make naive markdown or regex code backtrack or nest.
HOSTILE = ("![", "[", "&#", "[a](", "<a ", "*a ", "a_", "\\(", "> ", "`", "<http://")


@pytest.mark.timeout(120)
def test_static_copies_and_ipywidgets_7_bubbles_of_hostile_replies_take_linear_time(shell):
    import time

    from o4_magics.widgets.chat_view import MARKDOWN_MAX_CHARS, bundle_html
    from o4_magics.widgets.static import preformatted

    magics = next(c for c in shell.configurables if type(c).__name__ == "O4Magics")
    from o4_magics.widgets.chat import ChatWidget

    for unit in HOSTILE:
        megabyte = unit * (1_000_000 // len(unit))
        largest = unit * (MARKDOWN_MAX_CHARS // len(unit))  # the longest text still rendered as markdown
        started = time.perf_counter()
        assert html_text(preformatted(megabyte)).strip() == megabyte.strip()
        assert bundle_html({"text/markdown": megabyte})  # over the cap: shown as typed
        bundle_html({"text/markdown": largest})
        chat = ChatWidget(magics.session, thread=f"hostile{HOSTILE.index(unit)}")
        try:
            chat.add(
                "assistant", "o4-mini", {"output_type": "display_data", "data": {"text/markdown": megabyte}}
            )
            assert len(chat.static_html()) > 1_000_000 and len(chat.static_text()) >= len(megabyte)
        finally:
            chat.close()
        assert time.perf_counter() - started < 6, unit
