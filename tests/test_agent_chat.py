"""The chat's Agent mode driven as a frontend would: look-ups, a proposed cell with Run / Edit / Skip, errors in
the proposed code, Stop and kernel interrupts mid-loop, "run without asking" for one question, and the click
arriving on another thread (JupyterLab 4.4+ sends comm messages on a kernel subshell)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest
from conftest import wait_for

FRAME = "import pandas as pd\ndf = pd.DataFrame({'price': [3.5, 2.0, 7.25], 'qty': [1, 2, 7]})"
RUN = '[[call:run_code:{"code": "%s", "why": "%s"}]]'


@pytest.fixture
def agent_chat(shell, make_chat):
    shell.run(FRAME)
    chat = make_chat()
    chat.agent.value = True
    return chat


def ask(chat, text):
    chat.input.value = text
    chat.send_button.click()


def proposal_of(chat, index=0, timeout=10.0):
    wait_for(lambda: len(chat.agent_runner.proposals) > index, timeout)
    return chat.agent_runner.proposals[index]


def tool_results(request) -> list[str]:
    return [m["content"] for m in request.body["messages"] if m["role"] == "tool"]


def test_a_proposed_cell_runs_only_when_clicked(shell, magics, agent_chat, o4_emulator):
    chat = agent_chat
    ask(
        chat,
        'Totals? [[call:describe:{"name": "df"}]]'
        + RUN % ("print(df.qty.sum())\\nfloat(df.price.max())", "Sum qty"),
    )
    proposal = proposal_of(chat)
    time.sleep(0.3)
    assert not proposal.decided.is_set() and "print(df.qty.sum())" not in str(
        shell.history_manager.input_hist_raw
    )
    assert len(o4_emulator.chat_requests) == 2 and chat.busy  # waiting for the user, nothing more sent
    tools = [tool["function"]["name"] for tool in o4_emulator.chat_requests[0].body["tools"]]
    assert tools == ["list_variables", "describe", "look_at", "run_code"]
    kinds = [kind for kind, _ in chat.messages()]
    assert kinds == ["user", "assistant", "proposal"]
    assert "🔧 looked at <code>df</code>" in chat.messages()[1][1] and "▌" not in chat.messages()[1][1]
    assert chat.messages()[2][1] == "```python\nprint(df.qty.sum())\nfloat(df.price.max())\n```"
    assert "Sum qty" in proposal.header.value and "Nothing runs until you click Run" in proposal.status.value

    proposal.run_button.click()
    assert chat.wait(10) and chat.last_error == ""
    cell = proposal.outcome.cell
    assert (
        shell.history_manager.input_hist_raw[cell] == "print(df.qty.sum())\nfloat(df.price.max())"
    )  # like a cell
    assert shell.user_ns["Out"][cell] == 7.25 and shell.user_ns["_"] == 7.25
    result = tool_results(o4_emulator.chat_requests[-1])[-1]
    assert result.startswith(f"The user ran cell [{cell}].") and "stdout:\n```\n10\n```" in result
    assert "Value of the last expression:\n### value (float)" in result and "7.25" in result
    outputs = proposal.result.outputs
    assert outputs[0] == {"output_type": "stream", "name": "stdout", "text": "10\n"}
    assert outputs[1]["output_type"] == "execute_result" and outputs[1]["data"]["text/plain"] == "7.25"
    assert f"Ran as cell [{cell}]" in proposal.status.value and proposal.run_button.disabled

    kinds = [kind for kind, _ in chat.messages()]
    assert kinds == ["user", "assistant", "proposal", "assistant"]  # the answer goes on below the cell
    answer = chat.messages()[-1][1]
    assert "- run_code: The user ran cell" in answer and "10" in answer
    rows = list(reversed(magics.session.ledger.recent(limit=10)))
    assert [row.source for row in rows] == ["chat", "agent", "agent"]
    assert f"{sum(row.cost_usd for row in rows):.5f}" in answer.rsplit("<sub>", 1)[1]
    assert "3 steps, 2 tool calls" in answer and "over 3 calls" in chat.status.value
    turn = magics.session.threads.get("main").turns[-1]
    assert [m["role"] for m in turn.exchange] == ["assistant", "tool", "assistant", "tool"]


def test_skip_and_edit(shell, agent_chat, o4_emulator):
    chat = agent_chat
    ask(chat, "Go " + RUN % ("touched = 1", "first") + RUN % ("x = 1", "second"))
    proposal_of(chat, 0).skip_button.click()
    second = proposal_of(chat, 1)
    assert "touched" not in shell.user_ns
    second.edit_button.click()
    assert second.editor.layout.display == "" and second.body.layout.display == "none"
    second.editor.value = "x = 2\nx * 10"
    second.run_button.click()
    assert chat.wait(10)
    skipped, edited = tool_results(o4_emulator.chat_requests[-1])
    assert skipped == "The user skipped this cell; it did not run."
    assert (
        "The user edited the code first; it ran as:\n```python\nx = 2\nx * 10\n```" in edited
        and "20" in edited
    )
    assert shell.user_ns["x"] == 2 and "touched" not in shell.user_ns
    assert "Skipped; it did not run." in proposal_of(chat, 0).status.value
    kinds = [kind for kind, _ in chat.messages()]
    assert kinds == ["user", "proposal", "proposal", "assistant"]  # nothing was drawn between the proposals


def test_an_error_in_the_proposed_code_goes_back_to_the_model(shell, agent_chat, o4_emulator):
    chat = agent_chat
    ask(chat, "Try " + RUN % ("def f(n):\\n    return n / 0\\nf(int(df.qty.sum()))", "divide"))
    proposal = proposal_of(chat)
    proposal.run_button.click()
    assert chat.wait(10) and chat.last_error == ""
    result = tool_results(o4_emulator.chat_requests[-1])[-1]
    assert "it raised an exception" in result and "ZeroDivisionError: division by zero" in result
    assert (
        "return n / 0" in result and "interactiveshell.py" not in result
    )  # the cell's frames, not IPython's
    error = proposal.result.outputs[-1]
    assert error["output_type"] == "error" and error["ename"] == "ZeroDivisionError"
    assert "raised ZeroDivisionError" in proposal.status.value
    assert chat.messages()[-1][1].startswith("From the tools:")  # the loop went on to an answer


def test_stop_while_a_cell_waits_ends_the_loop(magics, agent_chat, o4_emulator):
    chat = agent_chat
    ask(chat, "Go " + RUN % ("y = 1", "set y"))
    proposal = proposal_of(chat)
    chat.stop_button.click()
    assert chat.wait(5) and not chat.busy
    assert proposal.outcome.status == "stopped" and "Stopped" in proposal.status.value
    assert proposal.run_button.disabled and "y" not in chat.user_ns
    assert len(o4_emulator.chat_requests) == 1
    assert "⏹ stopped" in chat.messages()[-1][1]
    rows = magics.session.ledger.recent(limit=10)
    assert [row.status for row in rows] == ["ok"] and magics.session.threads.get("main").turns == []
    proposal.run_button.click()  # too late: nothing runs
    assert "y" not in chat.user_ns


SLOW = "import time\\ntime.sleep(20)\\nfinished = True"  # one long call: Stop must break into it


@pytest.mark.parametrize("how", ["stop", "kernel-interrupt"])
def test_stop_or_a_kernel_interrupt_ends_a_running_cell_and_the_loop(shell, agent_chat, o4_emulator, how):
    chat = agent_chat
    ask(chat, "Slow " + RUN % (SLOW, "wait") + RUN % ("after = 1", "never"))
    proposal = proposal_of(chat)
    kernel_handler = signal.signal(signal.SIGINT, signal.SIG_IGN)  # ipykernel ignores SIGINT between cells

    def press():
        wait_for(lambda: proposal.runner.running, 5)
        time.sleep(0.2)
        if how == "stop":
            shell.display_pub.set_parent({"header": {}})  # what ipykernel does for a message on a subshell
            chat.stop_button.click()  # as a click arriving on another thread would
        else:
            os.kill(os.getpid(), signal.SIGINT)  # JupyterLab's interrupt button

    presser = threading.Thread(target=press)
    presser.start()
    started = time.monotonic()
    try:
        proposal.run_button.click()  # runs on this (the main) thread until interrupted
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # the kernel's handler is back
    finally:
        signal.signal(signal.SIGINT, kernel_handler)
    presser.join(5)
    assert time.monotonic() - started < 5
    assert chat.wait(5) and proposal.outcome.status == "interrupted"
    assert "finished" not in shell.user_ns and "after" not in shell.user_ns
    assert len(o4_emulator.chat_requests) == 1  # the loop ended: the model was not called again
    assert "was interrupted; the agent stopped" in proposal.status.value
    assert "⏹ stopped" in chat.messages()[-1][1]


def test_run_without_asking_lasts_one_question(shell, agent_chat, o4_emulator):
    chat = agent_chat
    ask(chat, "Two " + RUN % ("a = 1", "one") + RUN % ("b = 2", "two"))
    first = proposal_of(chat, 0)
    first.auto.value = True
    first.run_button.click()
    assert chat.wait(10)
    second = proposal_of(chat, 1)
    assert second.outcome.status == "ok" and shell.user_ns["b"] == 2  # ran without a click
    assert "ran without asking" in second.header.value
    ask(chat, "Again " + RUN % ("c = 3", "three"))
    third = proposal_of(chat, 2)
    time.sleep(0.3)
    assert not third.decided.is_set() and "c" not in shell.user_ns  # a new question asks again
    third.skip_button.click()
    assert chat.wait(10)


def test_a_click_on_another_thread_runs_the_cell_on_the_main_thread(shell, agent_chat, o4_emulator):
    """ipykernel 7 + JupyterLab 4.4+: comm messages arrive on a subshell thread while the main thread runs the
    kernel's event loop. The cell must run on the main thread (where SIGINT lands), and Stop must reach it."""
    from o4_magics.widgets.agent_view import ChatCodeRunner

    chat = agent_chat
    code = "import threading\\nran_on = threading.current_thread().name\\n" + SLOW

    async def kernel():
        chat._agent_runner = ChatCodeRunner(chat, loop=asyncio.get_running_loop())
        ask(chat, "Where " + RUN % (code, "thread"))
        while not chat.agent_runner.proposals:
            await asyncio.sleep(0.02)
        proposal = chat.agent_runner.proposals[0]
        subshell = threading.Thread(target=proposal.run_button.click, name="subshell")
        subshell.start()
        subshell.join(2)
        assert not subshell.is_alive()  # the click handler returned at once: the subshell stays free

        def stop_when_running():  # the next click on the subshell, while the main thread runs the cell
            wait_for(lambda: proposal.runner.running, 5)
            time.sleep(0.2)
            seen.append(proposal.status.value)
            chat.stop_button.click()

        threading.Thread(target=stop_when_running, name="subshell").start()
        while not proposal.decided.is_set():
            await asyncio.sleep(0.02)
        return proposal

    seen: list[str] = []
    started = time.monotonic()
    leftover = asyncio.events._get_running_loop()  # Playwright's sync API leaves one set between its calls
    asyncio.events._set_running_loop(None)
    try:
        proposal = asyncio.run(kernel())
    finally:
        asyncio.events._set_running_loop(leftover)
    assert "Running…" in seen[0]  # not "waiting for the kernel" once it runs
    assert time.monotonic() - started < 8
    assert shell.user_ns["ran_on"] == "MainThread" and proposal.outcome.status == "interrupted"
    assert chat.wait(5) and "finished" not in shell.user_ns


def test_without_agent_mode_no_tools_are_sent(make_chat, o4_emulator):
    chat = make_chat()
    ask(chat, "plain " + RUN % ("z = 1", "x"))
    assert chat.wait(10)
    assert "tools" not in o4_emulator.chat_requests[-1].body and len(o4_emulator.chat_requests) == 1


def test_stop_during_a_later_step_ends_the_loop(magics, agent_chat, o4_emulator):
    chat = agent_chat
    ask(chat, '[[slow:0.3]][[long:300]] Look [[call:describe:{"name": "df"}]][[call:list_variables]]')
    wait_for(lambda: len(o4_emulator.chat_requests) == 2, 10)  # step 2 is streaming
    chat.stop_button.click()
    assert chat.wait(5)
    time.sleep(0.5)
    assert len(o4_emulator.chat_requests) == 2  # no step after the stop
    rows = list(reversed(magics.session.ledger.recent(limit=10)))
    assert [(row.source, row.status) for row in rows] == [("chat", "ok"), ("agent", "interrupted")]
    shown = chat.messages()[-1][1]
    assert "🔧 looked at <code>df</code>" in shown and "⏹ stopped" in shown
    assert f"{sum(row.cost_usd for row in rows):.5f}" in shown.rsplit("<sub>", 1)[1]
    assert magics.session.threads.get("main").turns == []


def test_a_cell_that_shows_an_image_sends_it_after_the_tool_message(shell, agent_chat, o4_emulator):
    chat = agent_chat
    code = (
        "import io\\nfrom PIL import Image as _I\\nfrom IPython.display import Image, display\\n"
        "_b = io.BytesIO(); _I.new('RGB', (40, 30), 'blue').save(_b, 'PNG')\\ndisplay(Image(_b.getvalue()))"
    )
    ask(chat, "Show " + RUN % (code, "draw"))
    proposal_of(chat).run_button.click()
    assert chat.wait(10)
    messages = o4_emulator.chat_requests[-1].body["messages"]
    assert [m["role"] for m in messages[-3:]] == ["assistant", "tool", "user"]
    assert "It displayed 1 image(s); 1 sent in the next message." in messages[-2]["content"]
    assert messages[-1]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert any("image/png" in out.get("data", {}) for out in proposal_of(chat).result.outputs)  # shown too
