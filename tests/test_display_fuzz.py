"""Every transform of a reply runs in linear time, even on adversarial input (F20: 10,000 unclosed ``\\(``
froze the kernel for 440 s), and never lets a payload through, whatever the input."""

from __future__ import annotations

import time

import pytest
from corpus.model import inert_problems
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from o4_magics.display.markdown import settled_display_markdown, settled_prefix_length, to_display_markdown
from o4_magics.markdown.extract import code_blocks, parse_json_reply

#: Seconds allowed per MB of adversarial input. Prose runs at 0.5–1 MB/s on this machine's shared cores; the
#: slowest storms (a million-character table, 125,000 fences) need markdown-it-py itself for most of ~10 s/MB
#: when the 2 cores are busy. The bound guards against freezes; the growth bound below proves linearity.
SECONDS_PER_MB = 25.0
#: time(10x the input) / time(input): 10 when linear, 100 when quadratic.
MAX_GROWTH = 30.0


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


ADVERSARIAL = {
    "unclosed-paren": lambda n: _repeat("\\(", n),
    "unclosed-paren-words": lambda n: _repeat("\\( a ", n),
    "unclosed-bracket-lines": lambda n: _repeat("\\[ x\n", n),
    "dollar-storm": lambda n: _repeat("$", n),
    "dollar-words": lambda n: _repeat("$a ", n),
    "double-dollar-lines": lambda n: _repeat("$$ x\n", n),
    "begin-lines": lambda n: _repeat("\\begin{align}\n", n),
    "nested-brackets": lambda n: _repeat("[", n - 1) + "]",
    "brackets-and-parens": lambda n: _repeat("[a](", n),
    "backtick-storm": lambda n: _repeat("`", n),
    "backtick-runs": lambda n: _repeat("`` ` ", n),
    "lt-storm": lambda n: _repeat("<", n),
    "tag-storm": lambda n: _repeat("<b x=1>", n),
    "escaped-dollars": lambda n: _repeat("\\$", n),
    "deep-lists": lambda n: "".join(" " * (2 * (i % 40)) + "- $5 [a\n" for i in range(n // 50))[:n],
    "deep-quotes": lambda n: _repeat(">" * 50 + " $3 ![x](y\n", n),
    "long-table": lambda n: "| a | b |\n|---|---|\n" + _repeat("| $3 | `$4` |\n", n),
    "images": lambda n: _repeat("![a](http://h/x.png) ", n),
    "unclosed-fences": lambda n: _repeat("```\n$x\n", n),
    "html-block-lines": lambda n: _repeat("<div onclick=x>$5\n", n),
}


def _seconds(text: str, transform=to_display_markdown) -> float:
    from o4_magics.markdown import parser

    parser._last = (None, None)  # no reuse of the previous parse: time the whole transform
    started = time.perf_counter()
    transform(text)
    return time.perf_counter() - started


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", sorted(ADVERSARIAL))
def test_adversarial_input_is_linear(kind):
    make = ADVERSARIAL[kind]
    small, large = make(100_000), make(1_000_000)
    small_time = min(_seconds(small) for _ in range(2))
    large_time = _seconds(large)
    assert large_time < SECONDS_PER_MB * len(large) / 1e6, (kind, large_time)
    assert large_time < MAX_GROWTH * max(small_time, 0.05), (kind, small_time, large_time)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["unclosed-paren", "nested-brackets", "long-table", "unclosed-fences"])
def test_settled_prefix_length_is_linear(kind):
    small, large = ADVERSARIAL[kind](50_000), ADVERSARIAL[kind](500_000)
    small_time = min(_seconds(small, settled_prefix_length) for _ in range(2))
    large_time = _seconds(large, settled_prefix_length)
    assert large_time < MAX_GROWTH * max(small_time, 0.05), (kind, small_time, large_time)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("unit", ["`` a. ", "*a. ", "_a. ", "<b x=1>. ", "[a](. ", "Word. "])
def test_sentence_cut_is_linear(unit):
    """A long open paragraph is cut between sentences at every redraw: that look is linear too."""
    from o4_magics.display.settle import sentence_cut

    def cut(text: str) -> int:
        return sentence_cut(text, 200)

    small, large = _repeat(unit, 50_000), _repeat(unit, 500_000)
    small_time = min(_seconds(small, cut) for _ in range(2))
    large_time = _seconds(large, cut)
    assert large_time < MAX_GROWTH * max(small_time, 0.05), (unit, small_time, large_time)


@pytest.mark.timeout(120)
def test_ten_thousand_unclosed_parens_take_well_under_a_second():
    """The exact F20 reply: it froze the kernel 440 s with the old regexes."""
    reply = "Here: " + "\\(" * 10_000 + " and $5."
    started = time.perf_counter()
    out = to_display_markdown(reply)
    assert time.perf_counter() - started < 1.0
    assert out.endswith("\\\\$5.")


@pytest.mark.timeout(120)
def test_extraction_is_linear():
    text = "Intro {" + "[" * 200_000 + " no json " + "```json\n" * 1000
    started = time.perf_counter()
    with pytest.raises(ValueError):
        parse_json_reply(text)
    code_blocks(text)
    assert time.perf_counter() - started < 10.0


_PIECES = st.sampled_from(
    [
        "$", "$$", "\\(", "\\)", "\\[", "\\]", "\\$", "`", "```", "~~~", "[", "]", "(", ")", "!", "<", ">",
        "<img src=http://127.0.0.1:9/leak onerror=alert(1)>", "![a](http://127.0.0.1:9/leak)", "[b]: http://x/",
        "<div>", "</div>", "<details open ontoggle=alert(1)>", "<script>", "|", "---", "\n", "\n\n", "  ", "- ",
        "> ", "1. ", "# ", "x", "5M", "\\alpha", "javascript:alert(1)", "&#36;", "&lt;", "*", "_", "\\begin{align}",
        "\\end{align}", "http://e.com/$1", "<http://x>", "    ",
    ]
)  # fmt: skip


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, max_size=60), st.sampled_from(["jupyterlab", "vscode"]), st.booleans())
def test_any_reply_renders_inert(pieces, frontend, streaming):
    """Whatever the model writes, the output (rendered by markdown-it-py, raw HTML on) loads and runs nothing."""
    from markdown_it import MarkdownIt

    reply = "".join(pieces)
    out = to_display_markdown(reply, frontend=frontend, streaming=streaming)
    html = MarkdownIt("commonmark").enable("table").render(out)
    assert inert_problems(html) == [], (reply, out, html)
    k = settled_prefix_length(reply)
    assert to_display_markdown(reply[:k]) + to_display_markdown(reply[k:]) == to_display_markdown(reply), (
        reply
    )
    # a streaming view renders the frozen blocks from the parse that found k: the same as rendering them alone
    assert settled_display_markdown(reply, k, frontend=frontend) == to_display_markdown(reply[:k], frontend=frontend)
