"""The corpus through the frontends' real renderers, run in node (tests/node/render.mjs):

- VS Code: markdown-it (html on, linkify) + @vscode/markdown-it-katex, configured as VS Code's notebook
  markdown renderer and markdown-math extension configure them;
- JupyterLab 4: @jupyterlab/rendermime's own removeMath/replaceMath around marked (JupyterLab's version),
  then MathJax's way of finding math in the result (tests/corpus/model.py: mathjax_view).

Skipped, saying why, only when node/npm is not installed; tests/node/install.sh installs the harness.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from corpus.model import inert_problems, katex_view, mathjax_view, norm
from corpus.replies import CASES
from corpus.untrusted import PAYLOADS

from o4_magics.display.markdown import to_display_markdown

NODE_DIR = Path(__file__).parent / "node"
LEAK = "http://127.0.0.1:9/leak"


@pytest.fixture(scope="module")
def render():
    """``render([(markdown, pipeline), ...]) -> [html, ...]`` through node, in one process."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("node/npm is not installed, so VS Code's and JupyterLab's renderers cannot run here")
    subprocess.run(["bash", str(NODE_DIR / "install.sh")], check=True, timeout=300)

    def run(items: list[tuple[str, str]]) -> list[str]:
        payload = [{"id": i, "markdown": md, "pipeline": pipe} for i, (md, pipe) in enumerate(items)]
        done = subprocess.run(
            ["node", str(NODE_DIR / "render.mjs")],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return [item["html"] for item in json.loads(done.stdout)]

    return run


@pytest.fixture(scope="module")
def corpus_html(render):
    """Each corpus case's HTML in VS Code (vscode output) and in JupyterLab (jupyterlab output)."""
    items = []
    for case in CASES:
        items.append((to_display_markdown(case["reply"], frontend="vscode"), "vscode"))
        items.append((to_display_markdown(case["reply"], frontend="jupyterlab"), "jupyterlab"))
    html = render(items)
    return {
        case["id"]: {"vscode": html[2 * i], "jupyterlab": html[2 * i + 1]} for i, case in enumerate(CASES)
    }


def _view(html: str, pipeline: str) -> tuple[str, list[str], list[str]]:
    return katex_view(html) if pipeline == "vscode" else mathjax_view(html)


@pytest.mark.parametrize("pipeline", ["vscode", "jupyterlab"])
@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_corpus_renders_right(corpus_html, case, pipeline):
    html = corpus_html[case["id"]][pipeline]
    shown, maths, code = _view(html, pipeline)
    assert sorted(map(norm, maths)) == sorted(map(norm, case.get("math", []))), (shown, html)
    for money in case.get("money", []):
        assert money in shown, (money, shown)
    assert "\\$" not in shown, shown
    for snippet in case.get("code", []):
        assert any(snippet in block for block in code), (snippet, code)
    for text in case.get("text", []):
        assert text in shown, (text, shown)
    for href in case.get("hrefs", []):
        assert f'href="{href}"' in html.replace("&amp;", "&").replace("&#36;", "$"), (href, html)
    if "cells" in case:
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", html, re.S)
        assert len(cells) == len(case["cells"]), html
        for expected, cell in zip(case["cells"], cells, strict=True):
            if expected is not None:
                assert _view(cell, pipeline)[0].strip() == expected, (expected, cell)


def test_vscode_turns_math_into_katex(corpus_html):
    html = corpus_html["math-paren"]["vscode"]
    assert html.count('class="katex"') == 2 and "\\(" not in katex_view(html)[0]


@pytest.fixture(scope="module")
def payload_html(render):
    items = []
    for payload in PAYLOADS:
        reply = payload["reply"].format(leak=LEAK)
        items += [(to_display_markdown(reply, frontend=p), p) for p in ("vscode", "jupyterlab")]
    html = render(items)
    return {p["id"]: {"vscode": html[2 * i], "jupyterlab": html[2 * i + 1]} for i, p in enumerate(PAYLOADS)}


@pytest.mark.parametrize("pipeline", ["vscode", "jupyterlab"])
@pytest.mark.parametrize("payload", PAYLOADS, ids=[payload["id"] for payload in PAYLOADS])
def test_payloads_are_inert(payload_html, payload, pipeline):
    html = payload_html[payload["id"]][pipeline]
    assert inert_problems(html) == [], html
    lowered = html.lower()
    assert 'href="javascript' not in lowered and 'href="data:text' not in lowered, html
    shown = _view(html, pipeline)[0]
    for visible in payload["visible"]:
        assert visible in shown, (visible, shown)


def test_the_payloads_are_live_in_the_real_renderers(render):
    """Sent raw, the payloads do load or run things in these renderers (so the test above means it)."""
    raw = [payload["reply"].format(leak=LEAK) for payload in PAYLOADS]
    html = render([(reply, "jupyterlab") for reply in raw])
    live = sum(bool(inert_problems(page)) for page in html)
    assert live >= 38, live


#: Pieces that make markdown-it-py (our parser) and marked/removeMath (JupyterLab) or markdown-it + KaTeX
#: (VS Code) disagree: fences, code spans, math delimiters, raw HTML, URLs, tabs, containers.
_PIECES = [
    "$", "$$", "\\(", "\\)", "\\[", "\\]", "\\$", "`", "```", "~~~", "[", "]", "(", ")", "!", "<", ">", "\\",
    "<img src=http://127.0.0.1:9/leak onerror=alert(1)>", "![a](http://127.0.0.1:9/leak)", "[b]: http://x/", "[b]",
    "<div>", "</div>", "<details open ontoggle=alert(1)>", "<script>", "</script>", "|", "---", "\n", "\n\n", "  ",
    "- ", "> ", "1. ", "# ", "x", "5M", "\\alpha", "javascript:alert(1)", "&#36;", "&lt;", "&#60;", "*", "_",
    "\\begin{align}", "\\end{align}", "http://e.com/$1", "www.x.com/$1", "<http://x>", "    ", "\t", "<b>", "</b>",
    "<!--", "-->", "<a href=x>", "<style>", "<math>", "<svg>", "<iframe src=http://x>", "|---|", "<br>", "<!X",
    "<![CDATA[", "]]>", "<textarea>", "<pre>", "</pre>", "' onerror='x", '"', "{", "}",
]  # fmt: skip


def test_random_replies_stay_inert_in_the_real_renderers(render):
    """Differential fuzz: 2,000 random replies from the pieces above, through both real pipelines."""
    import random

    rng = random.Random(20240601)
    replies = ["".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 60))) for _ in range(1000)]
    items = [(to_display_markdown(r, frontend=p), p) for r in replies for p in ("vscode", "jupyterlab")]
    live = [(item, page) for item, page in zip(items, render(items), strict=True) if inert_problems(page)]
    assert live == [], live[:3]
