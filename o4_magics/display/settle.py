"""Where a streaming reply's blocks are finished (and where its open paragraph may be cut between sentences),
and how to close the block still open at its end."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..markdown.parser import parse
from .edits import Source


def normalize(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")


def fence_closer(source: Source, tokens: list[Any]) -> str:
    """A closing fence for a fence left open at the very end, with its container prefix."""
    for token in reversed(tokens):
        if token.type != "fence" or not token.map:
            continue
        if token.map[1] < len(source.lines):
            return ""
        last = source.lines[token.map[1] - 1].strip(" >")
        if (
            token.map[1] - token.map[0] > 1
            and last.startswith(token.markup)
            and not last.strip(token.markup[0])
        ):
            return ""
        opener = source.lines[token.map[0]]
        prefix = opener[: opener.find(token.markup)]
        prefix = "".join(ch if ch in "> " else " " for ch in prefix)
        return "\n" + prefix + token.markup
    return ""


def math_closer(text: str) -> str:
    """A closer for display math opened in the last paragraph and not closed yet (streaming)."""
    tail = text[text.rfind("\n\n") + 2 :] if "\n\n" in text else text
    first = tail.split("\n", 1)[0].lstrip(" >")
    for opener, closer in (("$$", "$$"), ("\\[", "\\]")):
        if first.startswith(opener):
            body = tail[len(tail) - len(tail.lstrip(" >")) + len(opener) :]
            return "" if closer in body else "\n" + closer
    if first.startswith("\\begin{"):
        name = first[7 : first.find("}")] if "}" in first else ""
        if name and "\\end{" + name + "}" not in tail:
            return "\n\\end{" + name + "}"
    return ""


def settled_prefix_length(text: str) -> int:
    """An offset ``k`` at a top-level block boundary after which the text before it renders the same alone.

    ``k`` is the start of the last top-level block that follows a blank line and a block that nothing later
    can extend (not a list or an indented code block); 0 when there is none, or when the
    reply uses link reference definitions (a later definition changes earlier links)."""
    source_text = normalize(text)
    if source_text != text:
        return 0
    tokens, env = parse(source_text)
    if env.get("references"):
        return 0
    source = Source(source_text)
    best = 0
    previous_kind = ""
    previous_end = -1
    for token in tokens:
        if token.level != 0 or not token.map or token.nesting == -1:
            continue
        start = token.map[0]
        extendable = previous_kind in ("bullet_list_open", "ordered_list_open", "code_block")
        if previous_end != -1 and start > previous_end and not extendable:
            if not source.lines[start - 1].strip():
                best = source.starts[start]
        previous_kind, previous_end = token.type, token.map[1]
    return best


#: Where a sentence ends inside a paragraph: the punctuation, then the space or line break that a cut replaces.
SENTENCE_ENDS = (". ", "! ", "? ", ".\n", "!\n", "?\n")
#: Characters that make a cut risky for our own math rules (the stock parser below does not know them).
_MATH_MARKS = ("$", "\\")


@lru_cache(maxsize=1)
def _stock() -> Any:
    """A plain CommonMark parser (+ strikethrough): only to compare how inline text renders whole and cut."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["strikethrough"])


def sentence_cut(text: str, min_chars: int) -> int:
    """An offset ``k`` inside the last paragraph, just after a sentence's end, such that ``text[:k]`` and the rest
    render as two paragraphs holding exactly the inline content of the one (no emphasis, code span, link or
    math cut in two): so a long paragraph can be frozen a sentence at a time while it streams.  0 when there is
    no such cut at least ``min_chars`` in, or the last block is not a top-level paragraph.

    The cut is the last sentence end; while streaming, a construct opened before it and closed later (``*a.
    b*``) shows its marks until the reply ends, when the whole reply is rendered again in one output.
    """
    if normalize(text) != text or len(text) < min_chars:
        return 0
    tokens, env = parse(text)
    if env.get("references"):
        return 0
    top = [token for token in tokens if token.level == 0 and token.nesting != -1]
    if len(tokens) < 3 or not top or top[-1].type != "paragraph_open" or tokens[-2].type != "inline":
        return 0
    opener, inline = top[-1], tokens[-2]
    source = Source(text)
    if not opener.map or opener.map[1] < len(source.lines):
        return 0
    # a top-level paragraph that really began (not a probe) closed every block before it for good: a list
    # item or a quote would have taken it in; reference definitions, which could, were ruled out above
    start = source.starts[opener.map[0]]
    paragraph = text[start:]
    if inline.content != paragraph.rstrip():  # indented or trailing lines: offsets would not map
        return 0
    end = max(paragraph.rfind(mark) for mark in SENTENCE_ENDS)
    if end < 1 or start + end + 2 < min_chars:
        return 0
    first, rest = paragraph[: end + 1], paragraph[end + 2 :]
    if not rest[:1].strip() or any(mark in first for mark in _MATH_MARKS):
        return 0
    md = _stock()
    first_tokens = md.parseInline(first)  # parsed once: rendered here, and read by _unmatched_marks
    head = md.renderer.render(first_tokens, md.options, {})
    whole, tail = (md.renderInline(part) for part in (paragraph.rstrip(), rest.rstrip()))
    separator = "\n" if paragraph[end + 1] == "\n" else " "
    if whole != head + separator + tail:
        return 0
    if md.render(rest) != f"<p>{tail}</p>\n" or md.render(first) != f"<p>{head}</p>\n":
        return 0  # either part alone would be another block (a list item, a heading...)
    if _unmatched_marks(first_tokens):
        return 0  # an emphasis, code span or link opened and not closed yet: it may close after the cut
    return start + end + 2


def _unmatched_marks(inline_tokens: list[Any]) -> bool:
    """Whether inline text (``parseInline``'s tokens) leaves a mark that could still open something (``*``, a
    backtick, ``[``, ``~``, or ``_`` at a word's edge: ``snake_case`` inside a word cannot)."""
    for token in inline_tokens[0].children or ():
        if token.type != "text":
            continue
        content = token.content
        if any(mark in content for mark in "*`[~"):
            return True
        for index, char in enumerate(content):  # linear: one pass over the text
            if char == "_" and (
                index == 0 or index == len(content) - 1 or not content[index - 1].isalnum() or not content[index + 1].isalnum()
            ):
                return True
    return False
