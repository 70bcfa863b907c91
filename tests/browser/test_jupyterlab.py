"""JupyterLab in headless Chromium: the magics' outputs as a user sees them, against the offline emulator.

Each test runs a notebook with Run → Run All Cells, waits until every code cell shows its execution count,
then checks the rendered DOM. Screenshots: test-artifacts/ (whole page) and docs/img/ (cropped, for the
README).
"""

from __future__ import annotations

import re
import shutil
from types import SimpleNamespace

import pytest

from .lab import (
    BROWSER_TEST_KEY,
    NOTEBOOK,
    code_cell,
    code_cell_count,
    open_url,
    output_area,
    run_all,
    run_notebook,
    wait_all_executed,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

COST = re.compile(r"\$\s?0\.\d*[1-9]")  # a dollar amount above zero, e.g. $0.00123


@pytest.fixture(scope="module")
def quickstart(lab, emulator, chromium, artifacts):
    """notebooks/quickstart.ipynb, run once in JupyterLab; its page and the requests the emulator got."""
    page = chromium.new_page()
    before = len(emulator.chat_requests)
    try:
        run_notebook(page, lab, "quickstart.ipynb", "quickstart")
    finally:
        page.screenshot(path=str(artifacts / "quickstart.png"), full_page=True)
    yield SimpleNamespace(page=page, requests=emulator.chat_requests[before:])
    page.close()


def check_rendered_reply(page):
    """The first %%o4 answer of the quickstart: one markdown output with heading, code, math and footer."""
    first = code_cell(page, "What is a p-value?")
    assert first.count() == 1
    assert first.locator(".jp-OutputArea-output").count() == 1  # one display, updated in place
    reply = first.locator(".jp-OutputArea-output.jp-RenderedMarkdown")
    assert reply.locator("h2").first.inner_text().strip() == "Offline answer"
    assert "def triangle" in reply.locator("pre code").first.inner_text()
    reply.locator("mjx-container").first.wait_for(timeout=15_000)  # MathJax typeset \( \) and \[ \]
    assert reply.locator("mjx-container").count() >= 2
    assert "\\(" not in reply.inner_text() and "\\[" not in reply.inner_text()  # no raw LaTeX left
    footer = reply.locator("sub").last.inner_text()
    assert "openai/o4-mini" in footer and COST.search(footer), footer
    assert "Traceback" not in output_area(first).inner_text()
    return first


def test_quickstart_reply_renders_as_markdown(quickstart, doc_picture):
    first = check_rendered_reply(quickstart.page)
    doc_picture(output_area(first), "rendered-reply.png")


def test_quickstart_code_format_inserts_a_cell(quickstart):
    """-f code: the reply's code went into a new code cell right below, not run."""
    asking = code_cell(quickstart.page, "%%o4 -f code")
    inserted = asking.locator("xpath=following-sibling::div[contains(@class,'jp-Cell')][1]")
    assert "jp-CodeCell" in (inserted.get_attribute("class") or "")
    assert "def triangle" in inserted.locator(".jp-InputArea").inner_text()
    assert inserted.locator(".jp-InputArea-prompt").inner_text().strip() == "[ ]:"


def test_quickstart_reached_the_emulator_and_hides_the_key(quickstart):
    prompts = [r.body["messages"][-1]["content"] for r in quickstart.requests]
    assert len(prompts) == 6, prompts  # two %%o4, %o4, -f code, -f json, ask(); --dry-run sends nothing
    assert "Give a concrete example with numbers." in prompts
    assert not any("Derive the OLS" in str(prompt) for prompt in prompts)
    page = quickstart.page
    everything = page.locator(NOTEBOOK).inner_text()
    assert "OFFLINE EMULATOR" in everything
    assert BROWSER_TEST_KEY not in everything and BROWSER_TEST_KEY not in page.content()


def test_quickstart_dry_run_costs_are_not_math(quickstart):
    dry = output_area(code_cell(quickstart.page, "%o4 --dry-run"))
    estimate = dry.locator("p", has_text="Estimate").first
    assert estimate.locator("mjx-container").count() == 0, estimate.inner_html()[:3000]
    assert "up to 4,000 output tokens" in estimate.inner_text()


def test_notebook7_quickstart(lab, emulator, page, artifacts):
    """The same notebook in Notebook 7 (the ``notebook`` package's /notebooks/ pages, same server)."""
    pytest.importorskip("notebook", reason="Notebook 7 is not installed (pip install 'notebook>=7,<8')")
    shutil.copy2(lab.root / "quickstart.ipynb", lab.root / "quickstart-nb7.ipynb")
    before = len(emulator.chat_requests)
    lab.start_kernel("quickstart-nb7.ipynb")
    open_url(page, f"{lab.base}/notebooks/quickstart-nb7.ipynb?token={lab.token}")
    run_all(page)
    wait_all_executed(page, code_cell_count(lab.root / "quickstart-nb7.ipynb"))
    page.screenshot(path=str(artifacts / "notebook7-quickstart.png"))
    check_rendered_reply(page)
    assert len(emulator.chat_requests) - before == 6


def test_usage_panel_shows_tokens_and_cost(lab, page, artifacts, doc_picture):
    calls = ["%o4 What is a p-value?", "%o4 -e low Name one robust alternative to the mean.", "%o4 -n hi"]
    lab.add_notebook("analysis.ipynb", ["%load_ext o4_magics", *calls, "%o4_usage"])
    run_notebook(page, lab, "analysis.ipynb", "usage")
    panel = code_cell(page, "%o4_usage").locator(".jupyter-widgets.widget-vbox, .jupyter-widgets").first
    panel.locator(".widget-html table").first.wait_for(timeout=20_000)
    page.screenshot(path=str(artifacts / "usage-panel.png"), full_page=True)
    text = panel.inner_text()
    assert COST.search(text), text
    totals = panel.locator("table").first
    headers = [cell.inner_text().strip() for cell in totals.locator("th").all()]
    values = [cell.inner_text().strip() for cell in totals.locator("td").all()]
    row = dict(zip(headers[-len(values) :], values, strict=True))
    assert int(row["calls"].replace(",", "")) == len(calls), row
    assert int(row["input"].replace(",", "")) > 0 and int(row["output"].replace(",", "")) > 0, row
    doc_picture(panel, "usage-panel.png")


def test_error_is_one_short_message(lab, emulator, page, artifacts):
    before = len(emulator.chat_requests)
    lab.add_notebook("error.ipynb", ["%load_ext o4_magics", "%o4 hello [[status:402]]"])
    run_notebook(page, lab, "error.ipynb", "error")
    page.screenshot(path=str(artifacts / "error.png"), full_page=True)
    area = output_area(code_cell(page, "[[status:402]]"))
    text = area.inner_text()
    assert "credits" in text.lower() and "402" in text, text
    assert "Traceback" not in text and "File " not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) <= 4, text  # the footer and a one-line message (wrapped at most once)
    assert "Traceback" not in page.locator(NOTEBOOK).inner_text()
    assert len(emulator.chat_requests) - before == 1  # 402 is never retried


#: A short reply for the chat's README picture (the default reply is taller than the transcript).
SHORT_REPLY = (
    "A **95% confidence interval** comes from a procedure that, over repeated samples, covers the true "
    "mean 95% of the time: \\( \\bar{x} \\pm 1.96\\, s/\\sqrt{n} \\).\n\n"
    "It is *not* a 95% probability that this particular interval holds the mean."
)


def test_chat_widget_streams_a_reply(lab, emulator, page, artifacts, doc_picture):
    from playwright.sync_api import expect

    lab.add_notebook("chat-widget.ipynb", ["%load_ext o4_magics", "%o4_chat"])
    run_notebook(page, lab, "chat-widget.ipynb", "chat")
    chat = code_cell(page, "%o4_chat")
    box = chat.locator("input[type='text']").first  # the one-line box (the ¶ toggle swaps in a textarea)
    box.wait_for(timeout=20_000)
    footers = chat.locator(".o4-chat-assistant sub")
    before = len(emulator.chat_requests)

    # Enter sends (the one-line box's submit event); the reply streams into the transcript.
    box.fill("What does a confidence interval mean?")
    box.press("Enter")
    chat.locator(".o4-chat-assistant", has_text="Offline answer").first.wait_for(timeout=30_000)
    footers.first.wait_for(timeout=30_000)
    assert "openai/o4-mini" in footers.first.inner_text() and COST.search(footers.first.inner_text())
    assert "What does a confidence interval mean?" in chat.locator(".o4-chat-user").first.inner_text()
    assert len(emulator.chat_requests) == before + 1
    assert (
        emulator.chat_requests[-1].body["messages"][-1]["content"] == "What does a confidence interval mean?"
    )
    assert box.input_value() == ""  # the box was emptied for the next message

    # The Send button: a follow-up in the same conversation.
    box.fill("And a credible interval?")
    chat.get_by_role("button", name="Send").click()
    footers.nth(1).wait_for(timeout=30_000)
    assert len(emulator.chat_requests) == before + 2
    roles = [m["role"] for m in emulator.chat_requests[-1].body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    status = chat.locator(".widget-html", has_text="this conversation").last
    expect(status).to_contain_text("over 2 calls", timeout=10_000)  # the ledger row may follow the footer
    assert COST.search(status.inner_text())
    page.screenshot(path=str(artifacts / "chat.png"), full_page=True)

    # New conversation clears the transcript and the history sent; a short reply for the README picture.
    chat.get_by_role("button", name="New conversation").click()
    page.wait_for_function("() => !document.querySelector('.o4-chat-assistant')", timeout=10_000)
    emulator.reply_text = SHORT_REPLY
    try:
        box.fill("What is a 95% confidence interval, in one sentence?")
        box.press("Enter")
        footers.first.wait_for(timeout=30_000)
    finally:
        emulator.reply_text = None
    assert [m["role"] for m in emulator.chat_requests[-1].body["messages"]] == ["system", "user"]
    chat.locator(".o4-chat-assistant mjx-container").first.wait_for(timeout=15_000)
    doc_picture(chat.locator(".jp-OutputArea-output").first, "chat.png")
