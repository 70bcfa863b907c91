"""The markdown-it-py parser used on replies: CommonMark + tables + math, each inline token tagged with its span.

Math rules are our own (not mdit-py-plugins' texmath/amsmath/dollarmath), because those scan to the end of
the text for every unclosed opener (quadratic on a storm of ``\\(`` or ``$$`` lines); ours remember, per
parse, where the next closer is, so every search is amortized linear.

Inline tokens that ``to_display_markdown`` rewrites or protects carry ``meta["span"] = (start, end)``: offsets
in their inline block's ``content``. Math tokens also carry ``meta["open"]``/``meta["close"]`` (delimiter spans)
and links/images ``meta["label"]`` (the label's span).
"""

from __future__ import annotations

import contextlib
import gc
import re
import threading
from bisect import bisect_right
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

#: An inline block with more "[" than this is not inline-parsed: it is shown as plain text (escaped), because
#: markdown-it's link-label search costs tens of steps per character in a bracket storm.
MAX_BRACKETS = 1000
#: Characters that can start an inline construct we track or rewrite; text without any is plain text.
_INLINE_STARTS = "\\`$[]!<>&*_~\n"
#: Inline rules whose tokens get ``meta["span"]``.
TRACKED_RULES = ("escape", "backticks", "link", "image", "autolink", "html_inline", "entity")
_BLOCK_DOLLARS = "$$"
_MATH_ENVIRONMENTS = frozenset(
    "equation equation* align align* alignat alignat* gather gather* multline multline* flalign flalign* "
    "split aligned gathered cases matrix pmatrix bmatrix vmatrix Vmatrix array eqnarray eqnarray*".split()
)


#: A bare URL as GFM autolinkers (marked, linkify) read it: from its scheme or "www." to whitespace or "<".
URL_RUN = re.compile(r"(?:https?://|ftp://|www\.)[^\s<]*", re.IGNORECASE)


def url_runs(text: str) -> list[tuple[int, int]]:
    """Where bare URLs are in ``text`` (one linear regex pass, no backtracking)."""
    return [match.span() for match in URL_RUN.finditer(text)]


def in_runs(runs: list[tuple[int, int]], position: int) -> bool:
    index = bisect_right(runs, (position, len(runs) and 1 << 62)) - 1
    return index >= 0 and runs[index][0] <= position < runs[index][1]


class _NextFinder:
    """``find(needle, pos)`` over one string with memory: amortized linear over increasing positions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._runs: list[tuple[int, int]] | None = None
        self.known: dict[
            str, tuple[int, int]
        ] = {}  # needle -> (from, first occurrence at or after it, or -1)

    def in_url(self, position: int) -> bool:
        """Whether ``position`` is inside a bare URL (computed once per text)."""
        if self._runs is None:
            self._runs = url_runs(self.text) if ("://" in self.text or "www." in self.text.lower()) else []
        return bool(self._runs) and in_runs(self._runs, position)

    def find(self, needle: str, pos: int) -> int:
        known = self.known.get(needle)
        if known is not None:
            start, where = known
            if start <= pos and (where == -1 or where >= pos):
                return where
            if pos < start:  # only the stretch before the known search needs looking at
                nearer = self.text.find(needle, pos, start + len(needle) - 1)
                where = nearer if nearer != -1 else where
                self.known[needle] = (pos, where)
                return where
        where = self.text.find(needle, pos)
        self.known[needle] = (pos, where)
        return where


def _finder(state: Any) -> _NextFinder:
    cache = state.env.setdefault("_o4_finders", {})
    finder = cache.get(id(state.src))
    if finder is None or finder.text is not state.src:
        finder = cache[id(state.src)] = _NextFinder(state.src)
    return finder


def _escaped(src: str, pos: int) -> bool:
    """Whether ``src[pos]`` follows an odd run of backslashes (bounded look-back keeps this O(1))."""
    count = 0
    while pos - count - 1 >= 0 and src[pos - count - 1] == "\\" and count < 64:
        count += 1
    return count % 2 == 1


def _next_unescaped(finder: _NextFinder, needle: str, pos: int) -> int:
    where = finder.find(needle, pos)
    while where != -1 and _escaped(finder.text, where):
        where = finder.find(needle, where + 1)
    return where


def braces_balanced(text: str, start: int = 0, end: int | None = None) -> bool:
    """Whether ``{`` and ``}`` balance as JupyterLab's removeMath counts them (a brace after a backslash does
    not count, a ``}`` with none open is ignored): else removeMath would run the math past its closer."""
    depth = 0
    end = len(text) if end is None else end
    position = start
    while True:
        opening, closing = text.find("{", position, end), text.find("}", position, end)
        if opening == -1 and closing == -1:
            return depth == 0
        position = min(p for p in (opening, closing) if p != -1)
        if text[position - 1 : position] != "\\" or position == 0:
            depth = depth + 1 if position == opening else max(0, depth - 1)
        position += 1


def _plain_tex(text: str, start: int, end: int) -> bool:
    """Math must hold no backtick (a code span to other parsers) and balanced braces (see braces_balanced)."""
    return text.find("`", start, end) == -1 and braces_balanced(text, start, end)


def _push_math(state: Any, kind: str, opened: tuple[int, int], closed: tuple[int, int]) -> None:
    token = state.push(kind, "math", 0)
    token.content = state.src[opened[1] : closed[0]]
    token.markup = state.src[opened[0] : opened[1]]
    token.meta = {"span": (opened[0], closed[1]), "open": opened, "close": closed}


def _dollar_is_math(src: str, start: int, end: int) -> bool:
    """The money-vs-math rule for ``$...$`` (``src[start]`` and ``src[end]`` are the dollars).

    Math when the text right inside both dollars is not whitespace, the closing dollar is not followed by a
    digit (pandoc's rule: "$20,000 and $30,000" is money), and not "a digit right after the opening dollar
    with a letter or digit right after the closing one" ("$5M to$7M")."""
    if end - start < 2 or src[start + 1].isspace() or src[end - 1].isspace():
        return False
    after = src[end + 1] if end + 1 < len(src) else ""
    if after.isdigit():
        return False
    return not (src[start + 1].isdigit() and after.isalnum())


def _literal_dollar(state: Any, silent: bool) -> bool:
    """A dollar that is not math is text: take it here (cheaper than every other rule declining it), where
    markdown-it-py has a linear pending-text buffer (4.x); else leave it to the default path."""
    append = getattr(state, "append_pending", None)
    if append is None:
        return False
    if not silent:
        append("$")
    state.pos += 1
    return True


def math_inline(state: Any, silent: bool) -> bool:
    """``$$..$$``, ``$..$``, ``\\(..\\)``, ``\\[..\\]`` inside a paragraph, heading or table cell."""
    src, pos = state.src, state.pos
    char = src[pos]
    if _finder(state).in_url(pos):  # GFM would autolink it: math there would land inside an href
        return _literal_dollar(state, silent) if char == "$" else False
    if char == "\\":
        following = src[pos + 1 : pos + 2]
        closer = {"(": "\\)", "[": "\\]"}.get(following)
        if closer is None:
            return False
        end = _finder(state).find(closer, pos + 2)
        if end == -1 or not src[pos + 2 : end].strip() or not _plain_tex(src, pos + 2, end):
            return False
        if not silent:
            kind = "math_inline" if following == "(" else "math_inline_double"
            _push_math(state, kind, (pos, pos + 2), (end, end + 2))
        state.pos = end + 2
        return True
    if char != "$" or _escaped(src, pos):
        return False
    finder = _finder(state)
    if src.startswith(_BLOCK_DOLLARS, pos):
        end = _next_unescaped(finder, _BLOCK_DOLLARS, pos + 2)
        if end == -1 or not src[pos + 2 : end].strip() or not _plain_tex(src, pos + 2, end):
            return _literal_dollar(state, silent)
        if not silent:
            _push_math(state, "math_inline_double", (pos, pos + 2), (end, end + 2))
        state.pos = end + 2
        return True
    end = _next_unescaped(finder, "$", pos + 1)
    if end == -1 or src.startswith(_BLOCK_DOLLARS, end) or not _dollar_is_math(src, pos, end):
        return _literal_dollar(state, silent)
    if not _plain_tex(src, pos + 1, end):
        return _literal_dollar(state, silent)
    if not silent:
        _push_math(state, "math_inline", (pos, pos + 1), (end, end + 1))
    state.pos = end + 1
    return True


def _block_opener(line: str) -> tuple[str, str] | None:
    """``(opener, closer)`` when ``line`` (container prefix removed) opens display math."""
    if line.startswith(_BLOCK_DOLLARS):
        return _BLOCK_DOLLARS, _BLOCK_DOLLARS
    if line.startswith("\\["):
        return "\\[", "\\]"
    if line.startswith("\\begin{"):
        close = line.find("}", 7)
        name = line[7:close] if close != -1 else ""
        if name in _MATH_ENVIRONMENTS:
            return "\\begin{" + name + "}", "\\end{" + name + "}"
    return None


def _closing_line(state: Any, start: int, end: int, opener: str, closer: str) -> int:
    """The line (from ``start``) holding ``closer`` after the opener, or -1; stops at a blank line.

    Remembers, per parse state and closer, the line range it scanned, so a paragraph of many unclosed
    openers is scanned once."""
    first = state.src[state.bMarks[start] + state.tShift[start] : state.eMarks[start]]
    if closer in first[len(opener) :]:
        return start
    memo = state.env.setdefault("_o4_block_memo", {})
    key = (id(state), state.blkIndent, state.parentType, closer, end)
    cached = memo.get(key)
    if cached is not None and cached[0] < start <= cached[1]:
        if cached[2] == -1:
            return -1
        if cached[2] > start:
            return cached[2]
    line, found = start, -1
    while True:
        line += 1
        if line >= end or state.isEmpty(line) or state.sCount[line] < state.blkIndent:
            break
        text = state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]]
        if closer in text:
            found = line
            break
    memo[key] = (start, line, found)
    return found


def math_block(state: Any, start: int, end: int, silent: bool) -> bool:
    """Display math on lines of its own: ``$$``, ``\\[`` or ``\\begin{env}`` up to its closer (no blank line)."""
    if state.sCount[start] - state.blkIndent >= 4:
        return False
    first = state.src[state.bMarks[start] + state.tShift[start] : state.eMarks[start]]
    delimiters = _block_opener(first)
    if delimiters is None:
        return False
    opener, closer = delimiters
    last = _closing_line(state, start, end, opener, closer)
    if last == -1:
        return False
    closing = state.src[state.bMarks[last] + state.tShift[last] : state.eMarks[last]]
    tail_from = closing.find(closer, len(opener) if last == start else 0) + len(closer)
    if closing[tail_from:].strip():  # text after the closer: leave it to the inline rule
        return False
    body_start = state.bMarks[start] + state.tShift[start] + len(opener)
    if not _plain_tex(
        state.src, body_start, state.bMarks[last] + state.tShift[last] + tail_from - len(closer)
    ):
        return False
    if silent:
        return True
    token = state.push("math_block", "math", 0)
    token.block = True
    token.markup = opener
    token.info = closer
    token.map = [start, last + 1]
    state.line = last + 1
    return True


def _tracked(rule: Any, name: str) -> Any:
    """``rule`` that also records on each token it pushes the span of source it consumed."""

    needs_bracket = name in ("link", "image")

    def tracked_rule(state: Any, silent: bool) -> bool:
        if needs_bracket and _finder(state).find("]", state.pos) == -1:
            return False  # no "]" left: no label can close (and a "[" storm stays linear)
        if silent:
            return rule(state, True)
        start, count = state.pos, len(state.tokens)
        if not rule(state, False):
            return False
        for token in state.tokens[count:]:
            if token.type != "text" and "span" not in (token.meta or {}):
                token.meta = dict(token.meta or {}, span=(start, state.pos))
                if needs_bracket and token.type in ("link_open", "image"):
                    label_start = start + (1 if name == "link" else 2)
                    label_end = state.md.helpers.parseLinkLabel(state, label_start - 1, name == "link")
                    token.meta["label"] = (label_start, max(label_end, label_start))
        return True

    tracked_rule.__name__ = f"tracked_{name}"
    return tracked_rule


def _inline_core(state: Any) -> None:
    """markdown-it's core "inline" step, except that plain text and bracket storms are left unparsed (the
    renderer then treats the whole block as text, escaping what needs escaping)."""
    for token in state.tokens:
        if token.type == "inline":
            token.children = []
            content = token.content
            if not any(char in content for char in _INLINE_STARTS) or content.count("[") > MAX_BRACKETS:
                continue
            state.md.inline.parse(content, state.md, state.env, token.children)


@lru_cache(maxsize=1)
def parser() -> Any:
    """The shared ``MarkdownIt`` (built at first use, so importing o4_magics never imports markdown_it)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    md.disable("text_join")  # keep escapes and entities as their own tokens, with their spans
    md.validateLink = lambda url: True  # every link is parsed as a link; our own policy judges its URL
    for name in TRACKED_RULES:
        rule = next(r for r in md.inline.ruler.__rules__ if r.name == name)
        md.inline.ruler.at(name, _tracked(rule.fn, name))
    md.core.ruler.at("inline", _inline_core)
    md.inline.ruler.before("escape", "math_inline", math_inline)
    md.block.ruler.before(
        "fence", "math_block", math_block, {"alt": ["paragraph", "reference", "blockquote", "list"]}
    )
    return md


_last: tuple[str | None, Any] = (
    None,
    None,
)  # the last text parsed and its result (callers often parse twice)


_gc_lock = threading.Lock()
_gc_users = 0


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a reply is parsed or transformed.

    A parse makes a few objects per character and frees them all at once; with the collector on, each of its
    passes walks every live token, so the time grew faster than the text (measured: 1.7 to 3.5 µs a character
    from 50 KB to 400 KB, and a flat 1.4 µs with it paused). Nested and concurrent users share one pause.
    """
    global _gc_users
    with _gc_lock:
        if _gc_users == 0:
            paused_gc.was_enabled = gc.isenabled()  # type: ignore[attr-defined]
            gc.disable()
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0 and getattr(paused_gc, "was_enabled", True):
                gc.enable()


def parse(text: str) -> tuple[list[Any], dict[str, Any]]:
    """Block tokens (inline ones hold their children) and the env (reference definitions are in it).
    Callers must not change what they get: the last result is reused for the same text."""
    global _last
    last_text, last_result = _last
    if last_text == text:
        return last_result
    env: dict[str, Any] = {}
    with paused_gc():
        tokens = parser().parse(text, env)
    env.pop("_o4_finders", None)
    env.pop("_o4_block_memo", None)
    _last = (text, (tokens, env))
    return tokens, env
