"""to_display_markdown on the corpus of tricky replies: money stays money, math stays math, code keeps its $."""

from __future__ import annotations

import re

import pytest
from corpus.model import jupyterlab_view, norm, visible_text
from corpus.replies import CASES

from o4_magics.display.markdown import escape_money, settled_prefix_length, to_display_markdown

JUPYTER_FAMILY = ("jupyterlab", "notebook7", "classic", "colab", "unknown")


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_jupyterlab_shows_money_math_and_code(case):
    """Through removeMath + markdown + MathJax (tests/corpus/model.py), the user sees exactly the facts."""
    shown, maths, code = jupyterlab_view(to_display_markdown(case["reply"]))
    assert sorted(map(norm, maths)) == sorted(map(norm, case.get("math", []))), shown
    for money in case.get("money", []):
        assert money in shown, (money, shown)
    assert "\\$" not in shown, shown  # never a visible backslash before a dollar
    for snippet in case.get("code", []):
        assert any(snippet in block for block in code), (snippet, code)
    for text in case.get("text", []):
        assert text in shown, (text, shown)


@pytest.mark.parametrize("frontend", JUPYTER_FAMILY)
def test_jupyter_family_share_one_escaping(frontend):
    reply = CASES[0]["reply"]
    assert to_display_markdown(reply, frontend=frontend) == to_display_markdown(reply)
    assert "\\\\$5M" in to_display_markdown(reply, frontend=frontend)


def test_vscode_escapes_money_with_one_backslash():
    out = to_display_markdown("From $5M to $7M, and \\( x^2 \\).", frontend="vscode")
    assert out == "From \\$5M to \\$7M, and $x^2$."


def test_vscode_separates_math_from_a_following_word():
    """VS Code's katex rule will not close ``$`` before a letter: an empty comment keeps "$n$th" math."""
    assert to_display_markdown("the $n$th term", frontend="vscode") == "the $n$<!---->th term"
    assert to_display_markdown("the $n$th term") == "the $n$th term"


def test_terminal_gets_the_text_without_control_characters():
    assert to_display_markdown("costs $5 \x1b]52;c;aGk=\x07 \\(x\\)", frontend="terminal") == (
        "costs $5 ]52;c;aGk= \\(x\\)"
    )


@pytest.mark.parametrize(
    ("frontend", "expected"),
    [("jupyterlab", "\\\\$0.00065"), ("vscode", "\\$0.00065"), ("terminal", "$0.00065")],
)
def test_escape_money(frontend, expected):
    assert escape_money("$0.00065", frontend) == expected


def test_tables_keep_their_cells():
    from markdown_it import MarkdownIt

    case = next(case for case in CASES if case["id"] == "money-table")
    html = (
        MarkdownIt("commonmark").enable("table").render(to_display_markdown(case["reply"], frontend="vscode"))
    )
    cells = [visible_text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", html)]
    assert cells == case["cells"]


def test_untouched_text_stays_byte_for_byte():
    reply = "# Title\n\nPlain *text* with `code`, a [link](https://example.com) and\n\n- a list\n- of items\n"
    assert to_display_markdown(reply) == reply.replace("(https://example.com)", "(<https://example.com>)")


def test_streaming_closes_an_open_fence_and_math_block():
    out = to_display_markdown("Code:\n\n```python\nx = 1", streaming=True)
    assert out.endswith("x = 1\n```")
    out = to_display_markdown("1. Step:\n   ```bash\n   ls -la", streaming=True)
    assert out.endswith("ls -la\n   ```")
    # in a list, a fence with "$" is HTML in JupyterLab (removeMath does not skip it there), closed already
    out = to_display_markdown("1. Step:\n   ```bash\n   echo $HOME", streaming=True)
    assert out == "1. Step:\n   <!----><pre><code>echo &#36;HOME</code></pre>"
    assert to_display_markdown("1. Step:\n   ```bash\n   echo $HOME", frontend="vscode").endswith(
        "$HOME\n   ```"
    )
    out = to_display_markdown("Math:\n\n$$\nx^2", streaming=True)
    assert out.endswith("$$\nx^2\n$$")
    out = to_display_markdown("Math:\n\n\\[\nx^2", streaming=True)
    assert out.endswith("$$\nx^2\n$$")
    assert to_display_markdown("Math:\n\n$$\nx^2", streaming=False).endswith(
        "x^2"
    )  # math closes only while streaming
    # a fence always closes: marked (JupyterLab) reads a fence opener on the last line as text, raw HTML and all
    assert to_display_markdown("Code:\n\n```python\nx = 1", streaming=False).endswith("x = 1\n```")
    assert to_display_markdown("end\n```<img src=x onerror=alert(1)>") == "end\n```img\n```"


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_settled_prefix_renders_the_same_split(case):
    text = case["reply"] + "\n\nA last paragraph with $3 and \\(y\\).\n"
    k = settled_prefix_length(text)
    assert 0 <= k <= len(text)
    assert to_display_markdown(text[:k]) + to_display_markdown(text[k:]) == to_display_markdown(text)


@pytest.mark.parametrize("frontend", ["jupyterlab", "vscode"])
def test_frozen_blocks_render_from_the_parse_that_found_them(frontend):
    """A streaming view renders its finished blocks from the parse that found where they end
    (``settled_display_markdown``), at every point a reply can stream to: the same as rendering them alone."""
    from corpus.untrusted import PAYLOADS

    from o4_magics.display.markdown import settled_display_markdown

    replies = [case["reply"] for case in CASES] + [payload["reply"] for payload in PAYLOADS if "reply" in payload]
    text = "\n\n".join(replies)
    checked = 0
    for end in range(0, len(text) + 1, 7):
        prefix = text[:end]
        for judged in (prefix, prefix + "x"):
            k = settled_prefix_length(judged)
            if k:
                checked += 1
                alone = to_display_markdown(judged[:k], frontend=frontend)
                assert settled_display_markdown(judged, k, frontend=frontend) == alone, judged[:k][-200:]
    assert checked > 500


def test_settled_prefix_stops_before_open_blocks():
    text = "Intro $5.\n\n```python\nx = 1\n\ny = 2"
    assert settled_prefix_length(text) == len("Intro $5.\n\n")
    listed = "Intro.\n\n- a\n\n- b"
    assert settled_prefix_length(listed) == len("Intro.\n\n")  # a list may go on after a blank line
    assert settled_prefix_length("See [a][1].\n\n[1]: https://example.com\n\nMore.") == 0
