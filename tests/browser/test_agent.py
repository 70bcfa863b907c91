"""The chat's Agent mode in JupyterLab (headless Chromium) against the emulator: the model describes a dataframe,
proposes a cell, the test clicks Run, the cell's output shows in the chat and the answer quotes it; then a
running cell is stopped from the browser. JupyterLab 4.4+ sends widget clicks on a kernel subshell, so this is
the path where the cell must be handed to the kernel's main thread."""

from __future__ import annotations

import json
import re

import pytest

from .lab import code_cell, run_notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

COST = re.compile(r"\$\s?0\.\d*[1-9]")
FRAME = """\
import pandas as pd

sales = pd.DataFrame(
    {
        "store": ["Lyon", "Paris", "Nice"] * 3,
        "day": pd.to_datetime(["2024-03-01"] * 3 + ["2024-03-02"] * 3 + ["2024-03-03"] * 3),
        "revenue": [1210.5, 1830.0, 960.25, 1105.0, 1904.5, 1010.0, 1250.75, 1790.0, 990.5],
    }
)"""
TOTALS = 'totals = sales.groupby("store")["revenue"].sum()\nprint(totals.to_string())'
SLOW = "import threading, time\nprint(threading.current_thread().name)\ntime.sleep(30)\nfinished = True"


def run_code(code: str, why: str) -> str:
    return "[[call:run_code:" + json.dumps({"code": code, "why": why}) + "]]"


def test_agent_mode_proposes_a_cell_and_runs_it_on_click(lab, emulator, page, artifacts, doc_picture):
    lab.add_notebook("agent-mode.ipynb", ["%load_ext o4_magics", FRAME, "%o4_chat --agent"])
    run_notebook(page, lab, "agent-mode.ipynb", "agent")
    chat = code_cell(page, "%o4_chat --agent")
    box = chat.locator("input[type='text']").first
    box.wait_for(timeout=20_000)
    assert "mod-active" in (chat.get_by_role("button", name="Agent").get_attribute("class") or "")
    before = len(emulator.chat_requests)

    box.fill(
        'What is the total revenue per store? [[call:describe:{"name": "sales"}]]'
        + run_code(TOTALS, "Sum the revenue of each store")
    )
    box.press("Enter")
    proposal = chat.locator(".o4-chat-proposal").first
    proposal.wait_for(timeout=30_000)
    assert "groupby" in proposal.locator("pre").first.inner_text()  # highlighted code, not yet run
    assert "Sum the revenue of each store" in proposal.inner_text()
    assert "looked at sales" in chat.locator(".o4-chat-assistant").first.inner_text()
    page.wait_for_timeout(500)
    assert (
        len(emulator.chat_requests) == before + 2
    )  # describe, then the proposal: the loop waits for the user
    assert "Nothing runs until you click Run" in proposal.inner_text()

    proposal.get_by_role("button", name="Run").click()
    proposal.locator(".jp-OutputArea-output", has_text="Paris").first.wait_for(
        timeout=30_000
    )  # the output, in the chat
    answer = chat.locator(".o4-chat-assistant").first  # the transcript lists the newest message first
    answer.locator("sub").wait_for(timeout=30_000)
    text = answer.inner_text()
    assert "run_code: The user ran cell" in text and "5524.50" in text, text  # the answer quotes the output
    assert "3 steps, 2 tool calls" in text and COST.search(text)
    result = [m for m in emulator.chat_requests[-1].body["messages"] if m["role"] == "tool"][-1]["content"]
    assert "Paris    5524.50" in result and "Lyon     3566.25" in result
    assert len(emulator.chat_requests) == before + 3
    page.screenshot(path=str(artifacts / "agent-mode-full.png"), full_page=True)
    proposal.scroll_into_view_if_needed()  # the picture: the proposed cell, its output and the answer
    doc_picture(chat.locator(".jp-OutputArea-output").first, "agent-mode.png")

    # A cell that runs too long: Stop, clicked in the browser, interrupts it on the kernel's main thread.
    box.fill("Wait " + run_code(SLOW, "Wait a while"))
    box.press("Enter")
    proposals = chat.locator(".o4-chat-proposal")
    page.wait_for_function(
        "() => document.querySelectorAll('.o4-chat-proposal').length === 2", timeout=30_000
    )
    slow = proposals.first
    slow.get_by_role("button", name="Run").click()
    slow.locator(".widget-html", has_text="Running…").wait_for(timeout=10_000)
    page.wait_for_timeout(1_000)
    chat.get_by_role("button", name="Stop").click()
    slow.locator(".widget-html", has_text="was interrupted").wait_for(timeout=10_000)
    slow.locator(".jp-OutputArea-output", has_text="MainThread").first.wait_for(timeout=10_000)
    chat.locator(".o4-chat-assistant sub", has_text="stopped").first.wait_for(timeout=10_000)
    assert len(emulator.chat_requests) == before + 4  # the loop ended with the cell: no call after it
    page.screenshot(path=str(artifacts / "agent-mode-stopped.png"), full_page=True)
