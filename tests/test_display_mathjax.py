"""TeX that MathJax would turn into CSS, and MathJax delimiters in text, are defused in a reply's markdown.

JupyterLab 4's MathJax 3 runs with its Safe extension, but ``\\unicode[font]{..}`` and ``\\mmlToken``'s
``fontfamily`` put their text in a style attribute as typed: ``x;background-image:url(...)`` made the browser
fetch the URL (tests/browser/test_untrusted_replies.py saw the requests). MathJax also typesets delimiters it
finds in the page's text (an HTML block, escaped backslashes), where the parser saw no math.
"""

from __future__ import annotations

import time

import pytest

from o4_magics.display.markdown import to_display_markdown

FONT = "[x;background-image:url(//evil.example/leak)]{x41}"


@pytest.mark.parametrize(
    ("reply", "shown"),
    [
        (f"Math \\(\\unicode{FONT}\\) end", f"Math $\\backslash\\text{{unicode}}{FONT}$ end"),
        (f"$$\\unicode{FONT}$$", f"$$\\backslash\\text{{unicode}}{FONT}$$"),
        (
            f"\\begin{{align}}\n\\unicode{FONT}\n\\end{{align}}",
            f"\\begin{{align}}\n\\backslash\\text{{unicode}}{FONT}\n\\end{{align}}",
        ),
        ("$\\mmlToken{mi}[fontfamily='x;y']{x}$", "$\\backslash\\text{mmlToken}{mi}[fontfamily='x;y']{x}$"),
        ("$a \\\\unicode b$", "$a \\\\unicode b$"),  # "\\\\" is a line break, then letters
        ("$\\unicodex + \\Unicode$", "$\\unicodex + \\Unicode$"),  # other control words
    ],
)
def test_unsafe_tex_in_math_is_shown_as_text(reply, shown):
    assert to_display_markdown(reply) == shown
    assert to_display_markdown(reply, frontend="vscode").count("\\text{") == shown.count("\\text{")


def test_delimiters_in_text_are_split_from_their_backslash():
    zwsp = "&#92;&#8203;"
    escaped = to_display_markdown(f"Text \\\\(\\unicode{FONT}\\\\) end")
    assert escaped.startswith(f"Text {zwsp}(&#92;unicode") and escaped.endswith("&#92;) end")
    block = to_display_markdown("<div>\\(a\\) \\[b\\] \\begin{align}c\\end{align}</div>")
    assert block.count(zwsp) == 3 and "&#92;)" in block and "&#92;end" in block
    alt = to_display_markdown("![\\\\(a\\\\)](http://example.com/a.png)")
    assert f"[image: {zwsp}(a&#92;) — example.com]" in alt
    assert to_display_markdown("C:\\Users\\me and 5\\3") == "C:&#92;Users&#92;me and 5&#92;3"  # no delimiter
    # VS Code's renderer typesets $ math only (markdown-it-katex), not text: nothing is added there
    assert "&#8203;" not in to_display_markdown("Text \\\\(x\\\\) end", frontend="vscode")


def test_defusing_is_linear_on_a_megabyte():
    for reply in (
        "\\(" + "\\unicode[x;y]{x41}" * 60_000 + "\\)",
        "\\\\(" * 250_000,
        "<div>" + "\\(\\begin" * 120_000 + "</div>",
        "$" + "\\a\\b\\\\" * 150_000 + "$",
    ):
        started = time.monotonic()
        to_display_markdown(reply)
        assert time.monotonic() - started < 10, reply[:20]
