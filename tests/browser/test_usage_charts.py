"""The usage panel's charts in JupyterLab (headless Chromium, against the emulator): the SVG is drawn, its bars
match the calls, each bar has its <title>; the saved static copy's pictures survive JupyterLab's sanitizer
in an untrusted notebook (inline SVG does not: the control). Picture: docs/img/usage-charts.png."""

from __future__ import annotations

import time

import nbformat
import pytest

from .lab import code_cell, open_notebook, output_area, run_notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

CALLS = [
    "%o4 What is a p-value?",
    "%o4 -e low Name one robust alternative to the mean.",
    # a failed call (an error in a cell would stop Run All Cells, so it is caught)
    "import o4_magics\ntry:\n    o4_magics.ask('no credits [[status:402]]')\nexcept o4_magics.APIError as error:\n"
    "    print(error)",
    "%o4 -t side Summarise the last answer.",
]
#: What JupyterLab's sanitizer does to inline SVG in an untrusted notebook (the control for the test below).
INLINE_SVG = '<div class="control"><svg width="20" height="20"><rect width="20" height="20" fill="#d64545"/></svg></div>'


def saved_bundle(lab, name: str, source: str, timeout: float = 15.0) -> dict:
    """The display bundle the saved notebook holds for the cell whose source is ``source``."""
    deadline = time.monotonic() + timeout
    while True:
        model = lab.api("GET", f"/api/contents/{name}")["content"]
        for cell in model["cells"]:
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            outputs = [out["data"] for out in cell.get("outputs", []) if "text/html" in out.get("data", {})]
            if text == source and outputs and "data:image/svg+xml" in outputs[-1]["text/html"]:
                return outputs[-1]
        if time.monotonic() > deadline:
            raise AssertionError("the saved notebook has no static copy of the panel")
        time.sleep(0.3)


def test_usage_charts_render_and_survive_the_sanitizer(lab, emulator, page, artifacts, doc_picture):
    name = "usage-charts.ipynb"
    lab.add_notebook(name, ["%load_ext o4_magics", *CALLS, "%config O4Magics.budget_usd = 0.02", "%o4_usage"])
    before = len(emulator.chat_requests)
    run_notebook(page, lab, name, "usage-charts")
    assert len(emulator.chat_requests) - before == len(CALLS)  # 402 is not retried
    panel = code_cell(page, "%o4_usage").locator(".jupyter-widgets.widget-vbox, .jupyter-widgets").first
    calls = panel.locator("svg.o4-calls")
    calls.wait_for(timeout=20_000)
    daily = panel.locator("svg.o4-daily")

    # drawn: laid out at its size, one bar per call (oldest first), coloured and titled by status
    box = calls.bounding_box()
    assert box and box["width"] >= 300 and box["height"] >= 90, box
    statuses = calls.locator("rect.o4-bar").evaluate_all("rects => rects.map(r => r.dataset.status)")
    assert statuses == ["ok", "ok", "error", "ok"], statuses
    titles = calls.locator("rect.o4-bar > title").evaluate_all("ts => ts.map(t => t.textContent)")
    assert len(titles) == 4 and all("openai/o4-mini" in title for title in titles), titles
    assert titles[2].endswith("$0.00000, error") and "thread side" in titles[3]
    heights = calls.locator("rect.o4-bar").evaluate_all("rs => rs.map(r => r.getBBox().height)")
    assert min(heights) == 2 and max(heights) > 50, heights  # the failed call is a sliver, the costliest full
    fills = calls.locator("rect.o4-bar").evaluate_all("rs => rs.map(r => getComputedStyle(r).fill)")
    assert fills[2] == "rgb(214, 69, 69)" and fills[0] == "rgb(59, 130, 196)", fills
    legend = calls.locator("g.o4-key text").all_text_contents()
    assert legend == ["ok 3", "error 1"], legend
    (today,) = daily.locator("rect.o4-bar > title").all_text_contents()
    assert ": 4 calls, $" in today
    assert panel.locator(".o4-credit").count() == 0  # the emulator's key has no limit: nothing extra
    calls.locator("rect.o4-bar").nth(3).hover()  # what a reader does; the native tooltip is the <title>
    page.screenshot(path=str(artifacts / "usage-charts-full.png"), full_page=True)
    doc_picture(panel, "usage-charts.png")

    # the static copy, as saved, in a notebook nobody trusted: JupyterLab sanitizes its HTML
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    bundle = saved_bundle(lab, name, "%o4_usage")
    untrusted = nbformat.v4.new_notebook()
    untrusted.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    copy = nbformat.v4.new_code_cell("%o4_usage")
    copy.outputs = [
        nbformat.v4.new_output("display_data", {k: bundle[k] for k in ("text/html", "text/plain")})
    ]
    control = nbformat.v4.new_code_cell("control")
    control.outputs = [nbformat.v4.new_output("display_data", {"text/html": INLINE_SVG, "text/plain": "x"})]
    untrusted.cells = [copy, control]
    nbformat.write(untrusted, lab.root / "untrusted-charts.ipynb")  # unsigned: untrusted
    lab.start_kernel("untrusted-charts.ipynb")
    open_notebook(page, lab, "untrusted-charts.ipynb", "untrusted-charts")
    shown = output_area(code_cell(page, "%o4_usage"))
    shown.locator("table").first.wait_for(timeout=20_000)
    assert output_area(code_cell(page, "control")).locator("svg").count() == 0  # inline SVG is removed
    pictures = shown.locator("img[src^='data:image/svg+xml;base64,']")
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"img[src^='data:image/svg+xml']\")].every(i => i.complete)"
    )
    sizes = pictures.evaluate_all("imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])")
    assert sizes == [[260, 16], [340, 104], [340, 104]], sizes  # budget bar, spend per day, last calls: drawn
    assert "last 4 calls, cost by status: ok 3, error 1" in pictures.nth(2).get_attribute("alt")
    page.screenshot(path=str(artifacts / "usage-charts-untrusted.png"), full_page=True)
