"""nbconvert's HTML shows the untrusted payloads inert: a notebook whose replies, tool results, dry run and chat
hold every payload of tests/corpus/untrusted.py runs on a real kernel (nbclient) against the emulator, is
converted by nbconvert's HTMLExporter (lab and classic templates), and its output areas, parsed as a browser
would (html5lib), hold nothing that loads or runs by itself, and the payloads' text is still readable.

nbconvert's own page (its scripts, styles, MathJax) is left out: only what the outputs put in the page counts.
"""

from __future__ import annotations

import copy
import json
import re

import nbformat
import pytest
from browser.lab import PAYLOADS_FILE, UNTRUSTED_CELLS, payload_texts
from corpus.untrusted import PAYLOADS

pytestmark = [
    pytest.mark.timeout(240),
    # nbconvert warns about the empty outputs left where a streamed reply's parts were folded into one
    pytest.mark.filterwarnings("ignore:Your element with mimetype:UserWarning"),
]

LEAK = "http://127.0.0.1:9/leak"  # nothing listens: only the HTML is inspected here
#: Elements that fetch, embed, run or submit something without a click, or change how the page loads.
FORBIDDEN = frozenset(
    "img image iframe frame frameset audio video source track picture link object embed applet script "
    "noscript style base meta svg math use feimage form input button textarea select portal bgsound marquee "
    "template".split()
)
#: Attributes that load something (on any element) or submit (a click on a form's button).
LOADING_ATTRS = frozenset(
    "src srcset data poster background action formaction lowsrc dynsrc xlink:href ping codebase".split()
)
BAD_SCHEMES = ("javascript:", "vbscript:", "data:", "file:")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_SPACE = re.compile(r"[\x00-\x20\x7f]+")


def _local(tag: object) -> str:
    """An element's name without html5lib's namespace ("{http://www.w3.org/2000/svg}image" → "image")."""
    return str(tag).rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _classes(element) -> set[str]:
    return set(element.get("class", "").split())


def output_areas(page: str) -> list:
    """Every output's element (``jp-OutputArea-output`` in the lab template, ``output_area`` in classic)."""
    import html5lib

    root = html5lib.parse(page, namespaceHTMLElements=False)
    found = []
    for element in root.iter():
        classes = _classes(element)
        if "jp-OutputArea-output" in classes or "output_subarea" in classes:
            found.append(element)
    return found


def _widget_placeholder(area, element) -> bool:
    """nbconvert's own scripts in a widget's output (with the notebook's widget state): the view's model id
    as JSON, and a line finding the output's element; the page's widget manager draws the widget there."""
    if "jupyter-widgets" not in _classes(area) or _local(element.tag) != "script":
        return False
    kind, text = element.get("type", ""), (element.text or "").strip()
    if kind == WIDGET_VIEW:
        return set(json.loads(text)) == {"model_id", "version_major", "version_minor"}
    return kind == "text/javascript" and text == f"var element = document.getElementById('{area.get('id')}');"


def problems_in(area) -> list[str]:
    """What in one output's element could load or run by itself."""
    found = []
    for element in area.iter():
        name = _local(element.tag)
        if not name or _widget_placeholder(area, element):
            continue
        if name in FORBIDDEN:
            found.append(f"<{name}> element")
        for attribute, value in element.attrib.items():
            attr = _local(attribute)
            plain = _SPACE.sub("", value).lower()
            if attr.startswith("on"):
                found.append(f"<{name} {attr}=...> handler")
            elif attr in LOADING_ATTRS or (attr == "href" and name != "a"):
                found.append(f"<{name} {attr}={value[:60]!r}>")
            elif attr == "style" and ("url(" in plain or "expression(" in plain or "@import" in plain):
                found.append(f"<{name} style={value[:60]!r}>")
            elif attr == "href" and plain.startswith(BAD_SCHEMES):
                found.append(f"<a href={value[:60]!r}>")
            elif attr == "http-equiv":
                found.append(f"<{name} http-equiv>")
    return found


def text_of(element) -> str:
    return "".join(element.itertext())


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> nbformat.NotebookNode:
    """The payload notebook, run top to bottom on a real kernel against the emulator."""
    from conftest import TEST_KEY
    from nbclient import NotebookClient

    from o4_magics.testing import Emulator

    workdir = tmp_path_factory.mktemp("nbconvert")
    (workdir / PAYLOADS_FILE).write_text(json.dumps(payload_texts(LEAK, PAYLOADS)))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in UNTRUSTED_CELLS]
    with Emulator() as emulator, pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENROUTER_API_KEY", TEST_KEY)
        patch.setenv("OPENROUTER_BASE_URL", emulator.base_url)
        patch.setenv("O4_MAGICS_HOME", str(workdir / "o4home"))
        patch.setenv("JPY_SESSION_NAME", str(workdir / "payloads.ipynb"))
        client = NotebookClient(
            notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
        )
        client.execute()
        replies = [r.reply for r in emulator.chat_requests if not r.tool_calls]
    assert len(replies) == 2 * len(PAYLOADS)  # a reply per payload, then an answer per tool question
    nbformat.write(notebook, workdir / "payloads.ipynb")  # kept for a look when a test fails
    return notebook


def shown(cell) -> list[dict]:
    """The outputs nbconvert draws (a reply's parts folded into its first output leave empty ones)."""
    return [o for o in cell.get("outputs", []) if o.get("data") or o["output_type"] in ("stream", "error")]


def areas_of(notebook, areas: list, source_start: str) -> list:
    """The output elements of the cell whose source starts with ``source_start``."""
    index = next(i for i, c in enumerate(notebook.cells) if c.source.startswith(source_start))
    first = sum(len(shown(c)) for c in notebook.cells[:index])
    return areas[first : first + len(shown(notebook.cells[index]))]


def unreadable(areas: list) -> list[str]:
    """Payloads whose visible text is missing from their output (one output per payload, in order)."""
    assert len(areas) == len(PAYLOADS)
    return [
        f"{payload['id']}: {visible!r} not in {text_of(area)!r}"
        for payload, area in zip(PAYLOADS, areas, strict=True)
        for visible in payload["visible"]
        if visible not in text_of(area)
    ]


@pytest.mark.parametrize("template", ["lab", "classic"])
def test_nbconvert_html_outputs_are_inert(executed, template):
    """Without the widgets' state (a notebook saved by a frontend that keeps none): the chat's static copy."""
    from nbconvert import HTMLExporter

    executed = copy.deepcopy(executed)
    del executed.metadata["widgets"]
    page, _ = HTMLExporter(template_name=template).from_notebook_node(executed)
    areas = output_areas(page)
    assert len(areas) == sum(len(shown(cell)) for cell in executed.cells)
    problems = [
        f"output {index}: {problem}" for index, area in enumerate(areas) for problem in problems_in(area)
    ]
    assert problems == [], "\n".join(problems)

    # (a) The replies: one output each, with its footer, every payload's visible text readable.
    replies = areas_of(executed, areas, "for payload in payloads:")
    assert all("openai/o4-mini" in text_of(area) for area in replies)
    assert unreadable(replies) == []

    # (c) Tool results: each answer quotes what describe() gave; the tool lines keep it, collapsed.
    tools = areas_of(executed, areas, "for i in range(len(payloads)):")
    assert all("From the tools:" in text_of(area) for area in tools)
    for area, payload in zip(tools, PAYLOADS, strict=True):
        details = [e for e in area.iter() if _local(e.tag) == "details"]
        assert len(details) == 2 and all(_local(d[-1].tag) == "pre" for d in details), payload["id"]
    assert f"note': '{PAYLOADS[0]['reply'].format(leak=LEAK)}'" in text_of(tools[0])  # the result, as text

    # (d) The dry run shows the payloads and the tool calls above it as text, in code.
    (dry,) = areas_of(executed, areas, 'get_ipython().run_cell_magic("o4", "--dry-run')
    assert "Dry run: nothing was sent" in text_of(dry)
    assert f"{LEAK}/md-image?secret=API_KEY" in text_of(dry) and 'describe({"name": "d0"})' in text_of(dry)

    # (b) The chat's static copy (what viewers without widgets see) lists every turn, as typed.
    (chat,) = areas_of(executed, areas, "%o4_chat")
    missing = [p["id"] for p in PAYLOADS for visible in p["visible"] if visible not in text_of(chat)]
    assert missing == [] and text_of(chat).count("[[verbatim]]") == len(PAYLOADS)


def test_with_widget_state_the_chat_is_a_widget_whose_messages_are_inert(executed):
    """With the widgets' state in the notebook (nbclient, JupyterLab's "save widget state"), the page draws the
    chat with @jupyter-widgets/html-manager from the state it embeds: the chat's bubbles are Output widgets
    holding our markdown, and HTML widgets (title, status). Each is rendered here as a CommonMark renderer with
    raw HTML on would (as marked does in the html-manager) and checked like the outputs."""
    import html5lib
    import markdown_it
    from nbconvert import HTMLExporter

    page, _ = HTMLExporter().from_notebook_node(executed)
    areas = output_areas(page)
    problems = [
        f"output {index}: {problem}" for index, area in enumerate(areas) for problem in problems_in(area)
    ]
    assert problems == [], "\n".join(problems)
    (chat,) = areas_of(executed, areas, "%o4_chat")
    assert "jupyter-widgets" in _classes(chat)

    state = executed.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    md = markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table")
    shown, problems = [], []
    for model_id, model in state.items():
        values = model["state"]
        pieces = [values.get("value")] if model["model_name"] in ("HTMLModel", "HTMLMathModel") else []
        pieces += [
            md.render(out["data"]["text/markdown"]) for out in values.get("outputs", []) if "data" in out
        ]
        for piece in filter(None, pieces):
            root = html5lib.parse(
                f'<div class="jp-OutputArea-output">{piece}</div>', namespaceHTMLElements=False
            )
            problems += [f"{model_id}: {problem}" for problem in problems_in(root)]
            shown.append(text_of(root))
    assert problems == [], "\n".join(problems)
    text = "\n".join(shown)
    assert text.count("[[verbatim]]") == len(PAYLOADS)  # every payload as a user message, and as a reply
    missing = [p["id"] for p in PAYLOADS for visible in p["visible"] if visible not in text]
    assert missing == []


def test_the_check_finds_live_html():
    """The checker itself: raw payloads, as nbconvert would show them unsanitized, are all caught."""
    import html5lib
    import markdown_it

    md = markdown_it.MarkdownIt("commonmark", {"html": True})
    caught = 0
    for payload in PAYLOADS:
        raw = md.render(payload["reply"].format(leak=LEAK))
        root = html5lib.parse(f'<div class="jp-OutputArea-output">{raw}</div>', namespaceHTMLElements=False)
        caught += bool(problems_in(root))
    assert caught >= 30, caught
