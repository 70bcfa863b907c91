"""The streaming view's freezing: finished blocks are drawn once, a long paragraph is frozen a sentence at a time
(never inside an emphasis, code span, link or math), and the reply's final output renders every paragraph whole."""

from __future__ import annotations

import pytest

from o4_magics.call.reply import Reply
from o4_magics.display.settle import sentence_cut
from o4_magics.display.view import FREEZE_MIN_CHARS, ReplyView


class RecordingSink:
    """Keeps every bundle a view sent: ``("show" | "freeze" | "finish", markdown)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def show(self, bundle):
        self.calls.append(("show", bundle.get("text/markdown", "")))

    def freeze(self, bundle):
        self.calls.append(("freeze", bundle.get("text/markdown", "")))

    def finish(self, bundle, *extra):
        self.calls.append(("finish", bundle.get("text/markdown", "")))


def sentences(count: int, start: int = 0) -> str:
    return " ".join(f"Sentence {index} says something about the frame and its columns." for index in range(start, start + count))


REPLY = "\n\n".join(
    [
        "## Findings",
        sentences(14),
        sentences(6, 100) + " Then *an emphasis that runs. Across two sentences* and `code. span` follow. " + sentences(8, 200),
        "- a list item\n- another",
        sentences(12, 300),
    ]
)


def stream(view: ReplyView, text: str, step: int = 23) -> None:
    for end in range(step, len(text) + step, step):
        view.text(text[:end])
    view.finish(Reply(text=text, model="openai/o4-mini", status="ok"))


def test_a_long_paragraph_is_frozen_a_sentence_at_a_time_and_ends_whole():
    frozen, whole = RecordingSink(), RecordingSink()
    stream(ReplyView(frozen), REPLY)
    stream(ReplyView(whole, freeze=False), REPLY)
    parts = [markdown for kind, markdown in frozen.calls if kind == "freeze"]
    # five blocks, but the three long paragraphs went out in many more parts while they streamed
    assert len(parts) >= 8
    inside = [part for part in parts if part.rstrip().endswith(".") and not part.endswith("\n\n")]
    assert inside, "no paragraph was cut between sentences"
    for part in parts:  # never cut inside an emphasis or a code span
        assert part.count("*") % 2 == 0 and part.count("`") % 2 == 0
    # the final output is the reply rendered whole: no paragraph left in pieces
    assert frozen.calls[-1] == whole.calls[-1]
    assert frozen.calls[-1][1].count("\n\n") == whole.calls[-1][1].count("\n\n")


def test_the_live_part_stays_short_while_a_long_paragraph_streams():
    sink = RecordingSink()
    stream(ReplyView(sink), sentences(200), step=31)
    live = [len(markdown) for kind, markdown in sink.calls if kind == "show"]
    assert max(live) < 6 * FREEZE_MIN_CHARS  # not the whole 13,000-character paragraph
    assert sink.calls[-1][1].count("\n\n") == 1  # one paragraph, then the footer


@pytest.mark.parametrize(
    "text",
    [
        "Use *bold. text* now.",  # an emphasis across the sentence end
        "See [the docs. Really](https://example.org) for more.",  # a link's label
        "Run `a. b` and see.",  # a code span
        "It costs $5. Then $6 more.",  # money or math: our own rules, not the stock parser's
        "Sum \\(x. y\\) here.",
        "First line.\n- and a list",  # the rest would be a list item alone
        "Ends here.\n# Heading",
    ],
)
def test_no_cut_inside_an_inline_construct_or_before_a_block(text):
    before = "Some words before it all. " * 10
    padded = before + text + " And more words after."
    cut = sentence_cut(padded, 10)
    assert not len(before) < cut < len(before) + len(text)  # before it or after it, never inside it


def test_a_cut_comes_after_settled_blocks_only():
    assert sentence_cut("- item one\n- item two. More text here. And more", 5) == 0  # inside a list
    assert sentence_cut("```\ncode. more code. and more\n", 5) == 0  # inside a fence
    assert sentence_cut("> quoted. And more. And more", 5) == 0  # inside a quote
    text = "# Title\n\nFirst sentence. Second sentence. Third"
    cut = sentence_cut(text, 5)
    assert text[:cut].endswith("Second sentence. ") and text[cut:] == "Third"
