"""Every corpus reply and every untrusted payload, displayed as a reply is, in JupyterLab (and a subset in
Notebook 7) in headless Chromium: money shows as money, math is typeset by MathJax, code keeps its ``$``,
and no payload makes the browser fetch anything or run script.

The cells ``display({'text/markdown': to_display_markdown(reply)}, raw=True)`` for each case, as the kernel
does for a reply (outputs made in the running session are trusted: JupyterLab does not sanitize them). A
local HTTP server stands in for the attacker and logs every request it gets.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest
from corpus.replies import CASES
from corpus.untrusted import PAYLOADS

from .lab import NOTEBOOK, code_cell, code_cell_count, open_url, run_all, run_notebook, wait_all_executed

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

#: Shown in the README picture: money and math side by side.
SHOWCASE = (
    "money-prose",
    "money-table",
    "money-and-math-together",
    "math-paren",
    "math-align",
    "shell-prompt",
)
NOTEBOOK7_SUBSET = ("money-prose", "money-table", "math-paren", "math-align", "dollar-fenced-code")

_SETUP = """
import json
from IPython.display import display
from o4_magics.display.markdown import to_display_markdown
corpus = json.load(open("render_corpus.json"))
def show(kind):
    for case in corpus[kind]:
        display({"text/markdown": to_display_markdown(case["reply"])}, raw=True)
"""

#: For each markdown output of a cell: its text with every MathJax container as ⟦m⟧, how many containers,
#: and the text of its code elements.
_READ_OUTPUTS = """
(cell) => [...cell.querySelectorAll('.jp-OutputArea-output.jp-RenderedMarkdown')].map((out) => {
  const copy = out.cloneNode(true);
  copy.querySelectorAll('mjx-container').forEach((m) => m.replaceWith(document.createTextNode('⟦m⟧')));
  return {
    text: copy.textContent,
    math: out.querySelectorAll('mjx-container').length,
    code: [...out.querySelectorAll('code')].map((c) => c.textContent),
    images: out.querySelectorAll('img, iframe, video, audio, object, embed, svg image').length,
  };
})
"""


class _LeakLog(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.requests.append(self.path)
        self.send_response(204)
        self.end_headers()

    do_POST = do_HEAD = do_GET

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def leak_server() -> Iterator[tuple[str, list[str]]]:
    """``(base URL, paths requested)`` of a loopback server standing in for an exfiltration endpoint."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LeakLog)
    _LeakLog.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/leak", _LeakLog.requests
    finally:
        server.shutdown()
        server.server_close()


def _notebook(lab, name: str, leak: str, case_ids: tuple[str, ...] | None = None) -> str:
    cases = [case for case in CASES if case_ids is None or case["id"] in case_ids]
    payloads = [{"id": p["id"], "reply": p["reply"].format(leak=leak)} for p in PAYLOADS]
    showcase = [case for case in CASES if case["id"] in SHOWCASE]
    (lab.root / "render_corpus.json").write_text(
        json.dumps({"cases": cases, "payloads": payloads, "showcase": showcase})
    )
    return lab.add_notebook(name, [_SETUP, "show('cases')", "show('payloads')", "show('showcase')"])


def _outputs(page, source: str) -> list[dict]:
    cell = code_cell(page, source)
    return cell.evaluate(_READ_OUTPUTS)


def _wait_for_math(page, source: str, expected: int) -> None:
    page.wait_for_function(
        """([selector, expected]) => {
          const cells = [...document.querySelectorAll(selector)];
          const cell = cells.find((c) => c.textContent.includes("show('cases')"));
          return cell && cell.querySelectorAll('mjx-container').length >= expected;
        }""",
        arg=[f"{NOTEBOOK} .jp-CodeCell", expected],
        timeout=30_000,
        polling=200,
    )


def _check_cases(outputs: list[dict], cases: list[dict]) -> list[str]:
    """What a user would see wrong, case by case."""
    problems = []
    assert len(outputs) == len(cases), (len(outputs), len(cases))
    for case, out in zip(cases, outputs, strict=True):
        shown = out["text"]
        if out["math"] != len(case.get("math", [])):
            problems.append(
                f"{case['id']}: {out['math']} math, expected {len(case.get('math', []))}: {shown!r}"
            )
        for money in case.get("money", []):
            if money not in shown:
                problems.append(f"{case['id']}: {money!r} not shown as is: {shown!r}")
        if "\\$" in shown:
            problems.append(f"{case['id']}: a backslash shows before a dollar: {shown!r}")
        for snippet in case.get("code", []):
            if not any(snippet in code for code in out["code"]):
                problems.append(f"{case['id']}: code {snippet!r} not kept: {out['code']!r}")
    return problems


def _check_payloads(outputs: list[dict]) -> list[str]:
    problems = []
    for payload, out in zip(PAYLOADS, outputs, strict=True):
        if out["images"]:
            problems.append(f"{payload['id']}: {out['images']} image/frame/media element(s)")
        for visible in payload["visible"]:
            if visible not in out["text"]:
                problems.append(f"{payload['id']}: {visible!r} not readable: {out['text']!r}")
    return problems


def test_corpus_and_payloads_in_jupyterlab(lab, page, leak_server, artifacts, doc_picture):
    leak, requests = leak_server
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    name = _notebook(lab, "render-corpus.ipynb", leak)
    run_notebook(page, lab, name, "render-corpus")
    title = page.title()
    expected_math = sum(len(case.get("math", [])) for case in CASES)
    _wait_for_math(page, "show('cases')", expected_math)
    page.wait_for_timeout(1500)  # anything a payload could load has had time to ask
    page.screenshot(path=str(artifacts / "render-corpus.png"), full_page=True)

    assert requests == [], requests  # nothing reached the attacker's server
    assert "PWNED" not in page.title() and page.title() == title
    problems = _check_cases(_outputs(page, "show('cases')"), CASES)
    problems += _check_payloads(_outputs(page, "show('payloads')"))
    assert problems == [], "\n".join(problems)
    assert dialogs == []
    doc_picture(
        code_cell(page, "show('showcase')").locator(".jp-OutputArea").first, "render-corpus-jupyterlab.png"
    )


def test_subset_in_notebook7(lab, page, leak_server, artifacts):
    pytest.importorskip("notebook", reason="Notebook 7 is not installed (pip install 'notebook>=7,<8')")
    leak, requests = leak_server
    before = len(requests)
    name = _notebook(lab, "render-corpus-nb7.ipynb", leak, NOTEBOOK7_SUBSET)
    lab.start_kernel(name)
    open_url(page, f"{lab.base}/notebooks/{name}?token={lab.token}")
    title = page.title()
    run_all(page)
    wait_all_executed(page, code_cell_count(lab.root / name))
    cases = [case for case in CASES if case["id"] in NOTEBOOK7_SUBSET]
    _wait_for_math(page, "show('cases')", sum(len(case.get("math", [])) for case in cases))
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / "render-corpus-notebook7.png"), full_page=True)
    problems = _check_cases(_outputs(page, "show('cases')"), cases)
    problems += _check_payloads(_outputs(page, "show('payloads')"))
    assert problems == [], "\n".join(problems)
    assert requests[before:] == []
    assert "PWNED" not in page.title() and page.title() == title
