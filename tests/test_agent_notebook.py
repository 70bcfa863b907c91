"""notebooks/agent.ipynb runs top to bottom on a real kernel (nbclient) against the emulator: ``--tools`` look-ups,
a figure looked at, a follow-up that knows what the tools saw, a private ``ask(tools=True)``, the chat in Agent
mode. A notebook cannot click Run, so the proposed-cell flow is tested in the browser (tests/browser)."""

from __future__ import annotations

import json

import pytest
from conftest import TEST_KEY
from test_example_notebooks import all_text, cell_text, code_cell, execute, final_markdown, widget_text


def tools_of(request) -> list[str]:
    return [tool["function"]["name"] for tool in request.body.get("tools", [])]


def tool_results(request) -> list[str]:
    return [m["content"] for m in request.body["messages"] if m["role"] == "tool"]


@pytest.mark.timeout(180)
def test_agent_notebook(keyed_env, tmp_path):
    pytest.importorskip("matplotlib")
    notebook = execute("agent.ipynb", tmp_path)
    assert TEST_KEY not in all_text(notebook)
    requests = keyed_env.chat_requests
    # look-ups: 2 steps + answer; the figure: 1 step + answer; the follow-up: 1; private ask(): 2 steps + answer
    assert len(requests) == 9, [r.body["messages"][-1]["role"] for r in requests]
    assert all(tools_of(r) == ["list_variables", "describe", "look_at"] for r in requests[:5] + requests[6:])

    listed, described = tool_results(requests[2])
    assert "sales | pandas.DataFrame | 360 x 4 |" in listed and "fig | matplotlib" in listed
    assert "### sales (pandas.DataFrame, 360 x 2)" in described and "discount,float64," in described
    shown = final_markdown(code_cell(notebook, "%%o4 --tools"))
    assert (
        "🔧 listed the variables" in shown
        and "🔧 looked at <code>sales</code> (columns revenue, discount)" in shown
    )
    assert "3 steps, 2 tool calls" in shown.rsplit("<sub>", 1)[1]

    image = requests[4].body["messages"][-1]["content"]  # the figure, after the tool message
    assert requests[4].body["messages"][-2]["role"] == "tool" and image[1]["type"] == "image_url"
    assert "looked at the image <code>fig</code>" in final_markdown(code_cell(notebook, "%o4 --tools What"))

    follow_up = requests[5].body
    assert "tools" not in follow_up
    roles = [m["role"] for m in follow_up["messages"]]
    assert roles.count("tool") == 3  # what the tools saw, kept in the thread

    private = json.dumps([r.body for r in requests[6:]])
    assert "Privacy mode is on" in private and "image_url" not in private
    for value in ("Lyon", "Paris", "Nice", "7-day mean revenue"):
        assert value not in private, value
    printed = cell_text(code_cell(notebook, "import o4_magics"))
    assert printed.startswith("From the tools:") and "3 steps, 2 tool calls" in printed

    chat = code_cell(notebook, "%o4_chat --agent")
    state = widget_text(notebook, chat)
    assert '"description": "Agent"' in state and '"value": true' in state
