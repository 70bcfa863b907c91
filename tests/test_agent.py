"""``--tools`` on the magics and ``ask(tools=True)``: the bounded agent loop driven over the wire by the emulator.

The emulator plays the model: ``[[call:NAME:{args}]]`` directives in the question make it call tools step by
step, and once every call is answered it quotes each tool's result. The tests read what went over the wire
(tools, tool messages, images, reasoning passed back), what the notebook shows and what the ledger holds.
"""

from __future__ import annotations

import json
import secrets
import time

import pytest
from conftest import final_markdown

import o4_magics
from o4_magics import BudgetExceeded, InvalidRequest

FRAME = (
    "import pandas as pd\n"
    "df = pd.DataFrame({'store': ['Lyon', 'Paris', 'Nice', 'Lille'], 'price': [3.5, 2.0, 7.25, 1.0],"
    " 'qty': [1, 2, 3, 4]})"
)


def tool_messages(request) -> list[dict]:
    return [m for m in request.body["messages"] if m["role"] == "tool"]


def ledger(magics) -> list:
    return list(reversed(magics.session.ledger.recent(limit=50)))


def test_lookups_go_over_the_wire_and_the_answer_quotes_them(shell, magics, o4_emulator):
    shell.run(FRAME)
    shell.run("_secret = 1\nimport math\ndef helper(x):\n    return x")
    result, captured = shell.run(
        "%%o4 --tools\nWhat do I have? [[call:list_variables]]"
        '[[call:describe:{"name": "df", "columns": ["price"], "rows": [1, 3]}]]'
    )
    assert result.success
    requests = o4_emulator.chat_requests
    assert len(requests) == 3  # two steps of calls, then the answer
    for request in requests:
        names = [tool["function"]["name"] for tool in request.body["tools"]]
        assert names == ["list_variables", "describe", "look_at"]  # no run_code outside the chat
        assert request.body["tool_choice"] == "auto"
        assert request.body["tools"][1]["function"]["parameters"]["required"] == ["name"]
    listed, described = (message["content"] for message in tool_messages(requests[-1]))
    assert "df | pandas.DataFrame | 4 x 3 |" in listed and "helper | function" in listed
    assert "_secret" not in listed and "math" not in listed and "get_ipython" not in listed
    assert "### df (pandas.DataFrame, 2 x 1)" in described and "7.25" in described and "Lyon" not in described
    # the assistant's calls go back with their ids, each answered by a tool message
    calls = [m for m in requests[-1].body["messages"] if m["role"] == "assistant"]
    assert [call["tool_calls"][0]["id"] for call in calls] == [
        m["tool_call_id"] for m in tool_messages(requests[-1])
    ]

    shown = final_markdown(captured)
    assert "🔧 listed the variables (2 variables)" in shown
    assert "🔧 looked at <code>df</code> (columns price · rows 1–3)" in shown
    assert "From the tools:" in shown and "- describe: ### df (pandas.DataFrame, 2 x 1)" in shown
    rows = ledger(magics)
    assert [row.source for row in rows] == ["magic", "agent", "agent"]
    assert all(row.status == "ok" for row in rows)
    total = sum(row.cost_usd for row in rows)
    footer = shown.rsplit("<sub>", 1)[1]
    assert f"${total:.5f}" in footer and "3 steps, 2 tool calls" in footer
    assert magics.last_reply.cost == pytest.approx(total)
    assert [call.name for call in magics.last_reply.tool_calls] == ["list_variables", "describe"]
    from o4_magics.widgets.usage_panel import UsagePanel

    panel = UsagePanel(magics.session)  # each step is a call in the usage panel
    assert panel.totals["calls"] == 3 and panel.totals["cost_usd"] == pytest.approx(total)
    assert len(panel.recent) == 3
    panel.close()


def test_look_at_sends_images_after_the_tool_messages(shell, magics, o4_emulator):
    shell.run("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt")
    shell.run("fig, ax = plt.subplots(figsize=(4, 3))\nax.plot([1, 3, 2])")
    result, _ = shell.run(
        "import io\nfrom PIL import Image as _I\nfrom IPython.display import Image, display\n"
        "_buf = io.BytesIO(); _I.new('RGB', (40, 30), 'red').save(_buf, 'PNG')\ndisplay(Image(_buf.getvalue()))"
    )
    shown_cell = result.execution_count
    shell.run(
        '%%o4 --tools --no-stream\nLook [[call:look_at:{"image": "fig"}|look_at:{"image": "last"}]]'
        f'[[call:look_at:{{"image": "{shown_cell}"}}]]'
    )
    first_step, second_step, answer = o4_emulator.chat_requests
    roles = [m["role"] for m in answer.body["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "tool", "user", "assistant", "tool", "user"]
    images = answer.body["messages"][5]["content"]
    assert images[0]["type"] == "text" and [part["type"] for part in images[1:]] == ["image_url"] * 2
    assert images[1]["image_url"]["url"].startswith("data:image/")
    assert tool_messages(answer)[0]["content"].startswith(
        "the image `fig`: 1 image(s), sent in the next message ([image "
    )
    assert "I also looked at the 3 image(s)" in magics.last_reply.text
    assert [row.images for row in ledger(magics)] == [0, 2, 3]  # each step counts the images it sent


def test_bad_calls_become_results_never_a_crash(shell, magics, o4_emulator):
    shell.run(FRAME)
    result, captured = shell.run(
        "%%o4 --tools\nCheck [[call:describe:badjson]][[call:nope]]"
        '[[call:describe:{"name": "dff"}]][[call:describe:{"name": "df", "columns": ["cost"]}]]'
        '[[call:run_code:{"code": "1/0", "why": "x"}]][[call:describe:{"name": "df", "rows": "all"}]]'
        '[[call:look_at:{"image": "7"}]]'
    )
    assert result.success
    results = [m["content"] for m in tool_messages(o4_emulator.chat_requests[-1])]
    assert results[0].startswith("The arguments of describe are not valid JSON")
    assert results[1] == "There is no tool named 'nope'; the tools are list_variables, describe, look_at."
    assert results[2] == "There is no variable named 'dff'. Did you mean df?"
    assert results[3] == "No column named 'cost'; the columns are store, price, qty."
    assert results[4].startswith("There is no tool named 'run_code'")  # not offered: nothing ran
    assert results[5].startswith("rows must be [start, stop]")
    assert results[6].startswith("Cell [7] displayed no image")
    shown = final_markdown(captured)
    assert shown.count("<summary>⚠️") == 7 and "There is no variable named" in shown
    assert all(row.status == "ok" for row in ledger(magics))


def test_the_step_cap_ends_with_an_answer(shell, magics, o4_emulator):
    shell.run(FRAME)
    magics.agent_max_steps = 2
    _, captured = shell.run(
        '%%o4 --tools\nDig [[call:list_variables]][[call:describe:{"name": "df"}]][[call:list_variables]]'
    )
    requests = o4_emulator.chat_requests
    assert len(requests) == 2
    assert [r.body["tool_choice"] for r in requests] == ["auto", "none"]  # the last step must answer
    assert requests[-1].tool_calls == [] and magics.last_reply.text.startswith("From the tools:")
    footer = final_markdown(captured).rsplit("<sub>", 1)[1]
    assert "2 steps, 1 tool call" in footer and "step cap (2) reached" in footer
    assert len(ledger(magics)) == 2


def test_the_budget_is_checked_before_each_step(shell, magics, o4_emulator):
    shell.run("import pandas as pd\nwide = pd.DataFrame({f'c{i}': range(200) for i in range(60)})")
    magics.budget_usd = 0.0105  # step 1's worst case fits (2,000 output tokens: $0.0088); step 2's does not
    result, captured = shell.run(
        '%%o4 --tools --max-tokens 2000\nLook [[call:describe:{"name": "wide"}]][[call:list_variables]]'
    )
    assert isinstance(result.error_in_exec, BudgetExceeded)
    assert len(o4_emulator.chat_requests) == 1  # step 2 was refused before sending
    rows = ledger(magics)
    assert [(row.source, row.status) for row in rows] == [("magic", "ok"), ("agent", "refused")]
    assert rows[1].cost_usd == 0
    shown = final_markdown(captured)
    assert "🔧 looked at <code>wide</code>" in shown  # what was done stays on screen, with its cost
    assert f"{rows[0].cost_usd:.5f}" in shown.rsplit("<sub>", 1)[1]
    assert result.error_in_exec.reply.cost == pytest.approx(rows[0].cost_usd)
    assert magics.session.threads.get("main").turns == []  # an unfinished question files no turn


@pytest.mark.parametrize("private", [True, False])
def test_private_tools_send_no_cell_value(shell, magics, o4_emulator, private):
    mark = "ZQX" + secrets.token_hex(6).upper()
    shell.run(
        f"import pandas as pd\ndf = pd.DataFrame({{'ssn': ['{mark}', 'b'], 'n': [1, 2]}})\nnote = '{mark} note'\n"
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots()"
    )
    flag = "--private " if private else ""
    shell.run(
        f'%%o4 --tools {flag}\nLook [[call:list_variables]][[call:describe:{{"name": "df"}}]]'
        '[[call:describe:{"name": "df", "columns": ["ssn"], "rows": [0, 1]}]][[call:describe:{"name": "note"}]]'
        '[[call:look_at:{"image": "fig"}]]'
    )
    shell.run(f"%%o4 --tools {flag}\nAnd again? [[call:list_variables]]")  # the thread's history goes too
    wire = json.dumps([request.body for request in o4_emulator.chat_requests])
    if not private:
        assert mark in wire and "image_url" in wire  # the check bites: without --private the value goes
        return
    assert mark not in wire and "image_url" not in wire
    last = o4_emulator.chat_requests[-1].body
    assert "Privacy mode is on" in last["messages"][0]["content"]
    results = [m["content"] for m in last["messages"] if m["role"] == "tool"]
    assert "ssn,str,0,2" in results[1] or "ssn,object,0,2" in results[1]  # structure: dtype, nulls, distinct
    assert results[4].startswith("Privacy mode (--private) is on: images are cell values")


def test_a_follow_up_knows_what_the_tools_saw(shell, magics, o4_emulator):
    shell.run("import pandas as pd\nwide = pd.DataFrame({f'col_{i}': range(50) for i in range(40)})")
    shell.run('%%o4 --tools\nLook [[call:describe:{"name": "wide"}]]')
    shell.run("%%o4\nAnd which column did you see first?")
    follow_up = o4_emulator.chat_requests[-1].body
    assert "tools" not in follow_up
    roles = [m["role"] for m in follow_up["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]
    kept = follow_up["messages"][3]["content"]
    assert kept.startswith("### wide (pandas.DataFrame, 50 x 40)") and "col_0" in kept
    assert kept.endswith("[… cut here in the thread's history]") and len(kept) < 2100
    assert follow_up["messages"][2]["tool_calls"][0]["function"]["name"] == "describe"
    assert follow_up["messages"][4]["content"].startswith("From the tools:")


@pytest.mark.parametrize("kind", ["summary:30", "encrypted"])
def test_reasoning_is_passed_back_between_tool_calls(shell, o4_emulator, kind):
    shell.run(FRAME)
    shell.run(f'%%o4 --tools\nLook [[reasoning:{kind}]][[call:describe:{{"name": "df"}}]]')
    first, second = o4_emulator.chat_requests
    assert first.reasoning_details  # what the model reasoned, whole, as a non-streamed reply carries it
    assert second.received_reasoning_details == first.reasoning_details  # streamed pieces merged, unchanged
    assistant = next(m for m in second.body["messages"] if m["role"] == "assistant")
    assert assistant["reasoning_details"] == first.reasoning_details and assistant["tool_calls"]


def test_ask_with_tools_uses_the_notebook_and_vars(shell, magics, o4_emulator):
    shell.run(FRAME)
    reply = o4_magics.ask(
        'Which columns? [[call:describe:{"name": "df", "columns": ["qty"]}]][[call:describe:{"name": "extra"}]]',
        tools=True,
        vars={"extra": [1, 2, 3]},
    )
    assert reply.status == "ok" and reply.text.startswith("From the tools:")
    assert "### df (pandas.DataFrame, 4 x 1)" in reply.text and "### extra (list" in reply.text
    assert [call.name for call in reply.tool_calls] == ["describe", "describe"]
    rows = ledger(magics)
    assert [row.source for row in rows] == ["ask", "agent", "agent"]
    assert reply.cost == pytest.approx(sum(row.cost_usd for row in rows))
    assert "3 steps, 2 tool calls" in reply.notes
    with pytest.raises(InvalidRequest, match="tools= must be True or False"):
        o4_magics.ask("hi", tools="yes")


def test_explain_with_tools(shell, magics, o4_emulator):
    shell.run(FRAME)
    shell.run("%o4_explain --tools df Why is Nice dear? [[call:list_variables]]")
    first = o4_emulator.chat_requests[0].body
    assert "### df (pandas.DataFrame, 4 x 3)" in first["messages"][-1]["content"] and first["tools"]
    assert [row.source for row in ledger(magics)] == ["explain", "agent"]


def test_without_tools_nothing_changes(shell, o4_emulator):
    shell.run("%o4 hello [[call:list_variables]]")
    body = o4_emulator.chat_requests[-1].body
    assert "tools" not in body and "tool_choice" not in body and len(o4_emulator.chat_requests) == 1


def test_ctrl_c_during_a_step_ends_the_question(shell, magics, o4_emulator):
    import _thread
    import threading

    from o4_magics import Interrupted

    shell.run(FRAME)

    def interrupt_in_step_two():
        deadline = time.monotonic() + 10
        while len(o4_emulator.chat_requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        _thread.interrupt_main()  # Ctrl-C, or the kernel's interrupt button

    threading.Thread(target=interrupt_in_step_two).start()
    result, captured = shell.run(
        '%%o4 --tools\n[[slow:0.3]][[long:300]] Look [[call:describe:{"name": "df"}]][[call:list_variables]]'
    )
    assert isinstance(result.error_in_exec, Interrupted)
    assert len(o4_emulator.chat_requests) == 2
    rows = ledger(magics)
    assert [(row.source, row.status) for row in rows] == [("magic", "ok"), ("agent", "interrupted")]
    shown = final_markdown(captured)
    assert "🔧 looked at <code>df</code>" in shown and "⏹ interrupted" in shown
