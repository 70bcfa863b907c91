"""Reasoning in JupyterLab (headless Chromium) against the emulator: while o4-mini reasons, its summary replaces
the thinking line, open, dimmed and labelled, and grows; when the answer starts it folds into a closed
"Reasoning · N tokens · S s" block above the answer, which a click opens. The picture is docs/img/reasoning.png."""

from __future__ import annotations

import re

import pytest

from .lab import code_cell, open_notebook, output_area, run_all, wait_all_executed

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

QUESTION = "%%o4\nWhat is a p-value? [[think:1.2]][[reasoning:100]][[slow:0.04]]"
FOLDED = re.compile(r"^Reasoning · 192 tokens · \d+\.\d s$")


def test_the_summary_streams_open_then_folds_above_the_answer(lab, page, artifacts, doc_picture):
    lab.add_notebook("reasoning.ipynb", ["%load_ext o4_magics", QUESTION])
    lab.start_kernel("reasoning.ipynb")
    open_notebook(page, lab, "reasoning.ipynb", "reasoning")
    run_all(page)
    cell = code_cell(page, "What is a p-value?")
    outputs = output_area(cell)
    outputs.get_by_text(re.compile(r"thinking… \d s")).wait_for(timeout=30_000)

    live = outputs.locator("details[open]")
    live.locator("blockquote").first.wait_for(timeout=30_000)  # the summary took the thinking line's place
    assert "thinking" not in outputs.inner_text()
    assert re.fullmatch(r"Reasoning… \d+ s", live.locator("summary").inner_text().strip())
    first = len(live.locator("blockquote").inner_text())
    page.wait_for_timeout(700)
    assert len(live.locator("blockquote").inner_text()) > first  # it grows in place
    assert float(live.evaluate("e => getComputedStyle(e).opacity")) < 1  # dimmed
    page.screenshot(path=str(artifacts / "reasoning-live.png"), full_page=True)

    wait_all_executed(page, 2)
    assert outputs.locator(".jp-OutputArea-output").count() == 1  # one output holds reasoning, answer, footer
    folded = outputs.locator("details").first
    assert folded.get_attribute("open") is None
    assert FOLDED.match(folded.locator("summary").inner_text().strip())
    assert not folded.locator("blockquote").is_visible()
    answer = outputs.locator("h2", has_text="Offline answer")
    assert answer.is_visible()
    assert folded.bounding_box()["y"] < answer.bounding_box()["y"]  # above the answer
    assert "Planning the answer" not in outputs.locator("p", has_text="You asked").inner_text()
    assert outputs.locator("sub", has_text="192 reasoning").is_visible()

    folded.locator("summary").click()  # a click shows the whole summary
    quote = folded.locator("blockquote")
    quote.wait_for(state="visible")
    assert "Planning the answer" in quote.inner_text() and "Drafting the reply" in quote.inner_text()
    folded.locator("summary").click()
    quote.wait_for(state="hidden")
    doc_picture(outputs, "reasoning.png")
