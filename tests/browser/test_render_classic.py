"""The money/math corpus (tests/corpus/replies.py) as real ``%%o4`` replies, in classic Notebook 6.5.7 with
ipywidgets 7 (Colab's package set, .venv-colab/; MathJax 2), and the same checks in JupyterLab and Notebook 7
(MathJax 3): for every case money shows as ``$5M`` with no backslash, math is typeset (and nothing else is),
code keeps its ``$``, tables keep their cells, links their URLs, and each reply's footer shows its cost with a
plain ``$``. In classic Notebook the chat (ipywidgets 7 bubbles, drawn as HTML in Python) shows the same
replies, and the untrusted payloads stay inert under MathJax 2. Errors (a 402, a missing key) are one short
message in each frontend.

Pictures: docs/img/render-corpus-classic.png (refreshed with O4_DOC_IMAGES=1), test-artifacts/render-*.png.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from corpus.replies import CASES
from corpus.untrusted import PAYLOADS

from .lab import (
    INERT_PROBLEMS,
    LoggingServer,
    code_cell,
    open_url,
    payload_texts,
    run_all,
    run_new_cell,
    save_picture,
    wait_all_executed,
)
from .test_classic_notebook import _ALL_EXECUTED, _KERNEL_READY, cell, classic  # noqa: F401 (a fixture)
from .test_render_corpus import SHOWCASE, _check_cases
from .test_untrusted_replies import MATH_PAYLOADS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

COST = re.compile(r"\$0\.\d*[1-9]")
CORPUS_FILE = "render_corpus.json"
REPLIES = """\
import json
corpus = json.load(open("render_corpus.json"))
for case in corpus["cases"]:
    get_ipython().run_cell_magic("o4", "--no-interp", "[[verbatim]]" + case["reply"])"""
SHOWCASE_CELL = """\
for case in corpus["showcase"]:
    get_ipython().run_cell_magic("o4", "--no-interp -t showcase", "[[verbatim]]" + case["reply"])"""
PAYLOADS_CELL = """\
for payload in corpus["payloads"]:
    get_ipython().run_cell_magic("o4", "--no-interp -t payloads", "[[verbatim]]" + payload)"""
#: The chat (on the main thread) shows the corpus' turns, these payloads' and the MathJax ones (MathJax 2
#: typesets its bubbles one by one, about 0.5 s each: a subset keeps the test short).
CHAT_PAYLOADS = (
    "md-image",
    "md-js-link",
    "html-img-onerror",
    "html-style-import",
    "html-mxss-math",
    "html-script",
)
CHAT_PAYLOADS_CELL = """\
for payload in corpus["chat_payloads"]:
    get_ipython().run_cell_magic("o4", "--no-interp", "[[verbatim]]" + payload)"""

def _read_one(unmath: str, math: str) -> str:
    """JavaScript reading one rendered markdown element: its text with each typeset math as ⟦m⟧ (``unmath``
    rewrites a copy so), the math count (``math`` selects typeset math), code, table cells, links, the
    footer's text."""
    return f"""
(out) => {{
  const copy = out.cloneNode(true);
  {unmath}
  const subs = copy.querySelectorAll('sub');
  return {{
    text: copy.textContent,
    math: out.querySelectorAll('{math}').length,
    code: [...out.querySelectorAll('code')].map((c) => c.textContent),
    cells: [...copy.querySelectorAll('th, td')].map((c) => c.textContent.trim()),
    hrefs: [...out.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')),
    footer: subs.length ? subs[subs.length - 1].textContent : '',
    footerMath: [...out.querySelectorAll('sub')].some((s) => s.querySelector('{math}')),
  }};
}}
"""


#: Per output of a cell (JupyterLab, Notebook 7; MathJax 3 draws an <mjx-container> per math).
_READ_LAB = f"""
(cell) => [...cell.querySelectorAll('.jp-OutputArea-output.jp-RenderedMarkdown')].map({_read_one(
    "copy.querySelectorAll('mjx-container').forEach((m) => m.replaceWith(document.createTextNode('⟦m⟧')));",
    "mjx-container",
)})
"""
#: The same for one element in classic Notebook (MathJax 2: a <script type="math/tex"> per typeset math).
_READ_CLASSIC_ONE = _read_one(
    "copy.querySelectorAll('.MathJax_Preview, .MathJax, .MathJax_Display, .MathJax_CHTML, .MathJax_SVG, '\n"
    "    + '.MJX_Assistive_MathML').forEach((m) => m.remove());\n"
    "  copy.querySelectorAll('script[type^=\"math/tex\"]')"
    ".forEach((m) => m.replaceWith(document.createTextNode('⟦m⟧')));",
    'script[type^="math/tex"]',
)
_READ_CLASSIC = f"""
(cell) => [...cell.querySelectorAll('.output_area .output_subarea.output_markdown')].map({_READ_CLASSIC_ONE})
"""
#: MathJax 2 has typeset everything queued (a chat's bubbles are typeset one by one, about 0.2 s each).
_MATHJAX2_DONE = """
() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.queue.length === 0 && MathJax.Hub.queue.pending === 0
  && !MathJax.Hub.queue.running
"""


def check_replies(outputs: list[dict], footer: bool = True) -> list[str]:
    """What a user would see wrong, case by case: the corpus' facts, then tables, links and the footer."""
    stripped = [
        {**out, "text": out["text"].rsplit(out["footer"], 1)[0]} if footer else out for out in outputs
    ]
    problems = _check_cases(stripped, CASES)
    footer_checked = footer
    for case, out in zip(CASES, outputs, strict=True):
        wanted = case.get("cells")
        if wanted is not None:
            shown = [None if want is None else got for want, got in zip(wanted, out["cells"], strict=False)]
            if len(out["cells"]) != len(wanted) or shown != wanted:
                problems.append(f"{case['id']}: table cells {out['cells']!r}, expected {wanted!r}")
        for href in case.get("hrefs", []):
            if href not in out["hrefs"]:
                problems.append(f"{case['id']}: link {href!r} not kept: {out['hrefs']!r}")
        footer = out["footer"]
        if not footer_checked:
            continue
        if "openai/o4-mini" not in footer or not COST.search(footer) or "\\" in footer or out["footerMath"]:
            problems.append(f"{case['id']}: footer {footer!r} (math inside: {out['footerMath']})")
    return problems


def corpus_file(root, leak: str) -> None:
    showcase = [case for case in CASES if case["id"] in SHOWCASE]
    everything = PAYLOADS + MATH_PAYLOADS
    payloads = payload_texts(leak, everything)
    chat = [
        text for payload, text in zip(everything, payloads, strict=True) if payload["id"] in CHAT_PAYLOADS
    ]
    chat += payload_texts(leak, MATH_PAYLOADS)
    (root / CORPUS_FILE).write_text(
        json.dumps({"cases": CASES, "showcase": showcase, "payloads": payloads, "chat_payloads": chat})
    )


# -- classic Notebook 6.5 + ipywidgets 7 --------------------------------------------------------------------


def run_classic(page, server, name: str, cells: list[str]) -> None:
    page.goto(f"{server.base}/notebooks/{name}?token={server.token}", wait_until="domcontentloaded")
    page.wait_for_function(_KERNEL_READY, timeout=60_000, polling=100)
    page.locator("#menus").get_by_role("link", name="Cell", exact=True).click()  # Cell → Run All
    page.locator("#run_all_cells").click()
    page.wait_for_function(_ALL_EXECUTED, arg=len(cells), timeout=120_000, polling=200)


def run_classic_cell(page, source: str) -> None:
    """Add a cell at the bottom of classic Notebook and run it (after Run All stopped at an error)."""
    count = page.evaluate("() => Jupyter.notebook.get_cells().filter((c) => c.cell_type === 'code').length")
    page.evaluate(
        """(source) => { const nb = Jupyter.notebook; nb.insert_cell_at_bottom('code').set_text(source);
             nb.select(nb.ncells() - 1); nb.execute_selected_cells(); }""",
        source,
    )
    page.wait_for_function(_ALL_EXECUTED, arg=count + 1, timeout=60_000, polling=200)


def test_corpus_in_classic_notebook(classic, page, artifacts, doc_picture):  # noqa: F811
    with LoggingServer() as leak:
        corpus_file(classic.root, f"{leak.base}/leak")
        cells = ["%load_ext o4_magics", REPLIES, SHOWCASE_CELL, PAYLOADS_CELL, CHAT_PAYLOADS_CELL, "%o4_chat"]
        name = classic.add_notebook("render-classic.ipynb", cells)
        run_classic(page, classic, name, cells)
        title = page.title()
        page.get_by_role("button", name="Don't show anymore").click()  # the Notebook 7 banner
        chat = cell(page, "%o4_chat")
        turns = len(CASES) + len(json.loads((classic.root / CORPUS_FILE).read_text())["chat_payloads"])
        chat.locator(".o4-chat-assistant").nth(turns - 1).wait_for(timeout=30_000)
        started = time.monotonic()
        bubble = chat.locator(".o4-chat-assistant", has_text="Revenue rose")
        # "\$5M" until MathJax 2 gets there
        save_picture(bubble, artifacts / "render-classic-chat-untypeset.png")
        page.wait_for_function(_MATHJAX2_DONE, timeout=120_000, polling=500)
        typesetting = time.monotonic() - started
        page.wait_for_timeout(1000)  # anything a payload could load has had time to ask
        page.screenshot(path=str(artifacts / "render-classic.png"), full_page=True)

        # The replies, as classic Notebook renders markdown outputs (marked, MathJax 2).
        outputs = cell(page, "corpus = json.load").evaluate(_READ_CLASSIC)
        problems = check_replies(outputs)
        # The same replies in the chat (ipywidgets 7 bubbles: HTML made in Python by bundle_html, MathJax 2
        # typesets it); the transcript lists the newest first, and turns made by %%o4 show without a footer.
        bubbles = chat.locator(".o4-chat-assistant .widget-htmlmath-content").evaluate_all(
            f"(bubbles) => bubbles.map({_READ_CLASSIC_ONE})"
        )
        bubbles = bubbles[::-1][: len(CASES)]
        problems += [f"chat: {problem}" for problem in check_replies(bubbles, footer=False)]
        assert problems == [], "\n".join(problems)

        # The payloads under MathJax 2 and classic's markdown, in the outputs and in the chat: nothing loads
        # or runs, and their text is readable.
        assert leak.paths == [], leak.paths
        assert page.title() == title and "PWNED" not in page.title()
        found = page.locator("#notebook-container").evaluate(INERT_PROBLEMS)
        assert found == [], "\n".join(found)
        texts = cell(page, 'for payload in corpus["payloads"]').locator(".output_area").all_text_contents()
        everything = PAYLOADS + MATH_PAYLOADS
        assert len(texts) == len(everything)
        missing = [
            f"{p['id']}: {v!r}"
            for p, t in zip(everything, texts, strict=True)
            for v in p["visible"]
            if v not in t
        ]
        assert missing == []
        save_picture(bubble, artifacts / "render-classic-chat.png")
        print(f"classic: MathJax 2 took {typesetting:.1f} s more to typeset the chat's {turns * 2} bubbles")
        doc_picture(cell(page, 'corpus["showcase"]').locator(".output_wrapper"), "render-corpus-classic.png")


@pytest.mark.parametrize("frontend", ["jupyterlab", "notebook7"])
def test_corpus_as_replies_in_jupyterlab_and_notebook7(lab, page, artifacts, frontend):
    if frontend == "notebook7":
        pytest.importorskip("notebook", reason="Notebook 7 is not installed")
    with LoggingServer() as leak:
        corpus_file(lab.root, f"{leak.base}/leak")
    name = lab.add_notebook(f"render-replies-{frontend}.ipynb", ["%load_ext o4_magics", REPLIES])
    lab.start_kernel(name)
    url = lab.url(name, f"replies-{frontend}")
    if frontend == "notebook7":
        url = f"{lab.base}/notebooks/{name}?token={lab.token}"
    open_url(page, url)
    run_all(page)
    wait_all_executed(page, 2)
    expected = sum(len(case.get("math", [])) for case in CASES)
    page.wait_for_function(
        "(n) => document.querySelectorAll('mjx-container').length >= n", arg=expected, timeout=30_000
    )
    page.wait_for_timeout(1000)
    outputs = code_cell(page, "corpus = json.load").evaluate(_READ_LAB)
    page.screenshot(path=str(artifacts / f"render-replies-{frontend}.png"), full_page=True)
    problems = check_replies(outputs)
    assert problems == [], "\n".join(problems)


# -- errors: one short message in each frontend ----------------------------------------------------------

ERROR_CELLS = ["%o4 hello [[status:402]]", "import os\nos.environ.pop('OPENROUTER_API_KEY', None)\n%o4 hello"]


def check_error(text: str, kind: str) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    assert "Traceback" not in text and "File " not in text and len(lines) <= 3, text
    if kind == "402":
        assert "credits" in text.lower() and "402" in text, text
    else:
        assert "No OpenRouter API key is set" in text and "%o4_key" in text, text


@pytest.mark.parametrize("frontend", ["jupyterlab", "notebook7"])
def test_errors_are_one_short_message(lab, page, artifacts, frontend):
    if frontend == "notebook7":
        pytest.importorskip("notebook", reason="Notebook 7 is not installed")
    name = lab.add_notebook(f"errors-{frontend}.ipynb", ["%load_ext o4_magics"])
    lab.start_kernel(name)
    url = lab.url(name, f"errors-{frontend}")
    if frontend == "notebook7":
        url = f"{lab.base}/notebooks/{name}?token={lab.token}"
    open_url(page, url)
    run_all(page)
    wait_all_executed(page, 1)
    for index, source in enumerate(ERROR_CELLS):
        run_new_cell(page, source)
        wait_all_executed(page, 2 + index)
    page.screenshot(path=str(artifacts / f"errors-{frontend}.png"), full_page=True)
    check_error(code_cell(page, "[[status:402]]").locator(".jp-OutputArea").first.inner_text(), "402")
    check_error(code_cell(page, "os.environ.pop").locator(".jp-OutputArea").first.inner_text(), "key")


def test_errors_are_one_short_message_in_classic(classic, page, artifacts):  # noqa: F811
    name = classic.add_notebook("errors-classic.ipynb", ["%load_ext o4_magics"])
    run_classic(page, classic, name, ["%load_ext o4_magics"])
    for source in ERROR_CELLS:
        run_classic_cell(page, source)
    page.screenshot(path=str(artifacts / "errors-classic.png"), full_page=True)
    check_error(cell(page, "[[status:402]]").locator(".output").first.inner_text(), "402")
    check_error(cell(page, "os.environ.pop").locator(".output").first.inner_text(), "key")
    save_picture(cell(page, "os.environ.pop"), artifacts / "errors-classic-key.png")
