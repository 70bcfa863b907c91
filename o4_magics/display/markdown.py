"""A reply's markdown made right and safe for one frontend: math kept, money shown as money, nothing loads or runs.

The reply is parsed once with markdown-it-py (``display.parser``: CommonMark, tables, our linear math
rules), and the source is then edited in place, so everything we do not need to touch stays byte for byte.

Math or money? The parser decides once, the same way for every frontend:

- ``\\(..\\)`` and ``\\[..\\]`` (what o-series models write) are math; they become ``$..$`` / ``$$..$$``;
- ``$$..$$`` is math, inline or on lines of its own, as are ``\\begin{align}..\\end{align}`` and other amsmath
  environments on lines of their own;
- ``$..$`` is math only when no whitespace is right inside either dollar, the closing dollar is not followed
  by a digit, and it is not "a digit after the opening dollar, a letter or digit after the closing one"
  (pandoc's rule plus one): ``$x$``, ``$\\alpha$``, ``$x^2 + 1$`` are math; "$5M to $7M", "$3 | $4",
  "$20,000 and $30,000" are money;
- every other dollar is a literal: prices, ``$ pip install`` prompts, an unbalanced ``$``, an escaped ``\\$``
  or ``&#36;``.

How a literal dollar is written, per frontend (checked in Chromium for JupyterLab and in node with VS Code's
real markdown-it + @vscode/markdown-it-katex; see tests/test_display_vscode.py):

- jupyterlab / notebook7 / classic / colab / unknown: ``\\\\$``. JupyterLab's removeMath pairs every bare
  ``$`` across the raw text (even across table cells), and MathJax pairs ``$`` again in the rendered text;
  ``\\\\$`` is skipped by removeMath, becomes ``\\$`` after markdown, and MathJax (processEscapes) shows ``$``.
  In raw HTML blocks, where markdown escapes do not apply, a dollar is ``<span>&#36;</span>``.
- vscode: ``\\$`` (markdown-it's escape; ``\\\\$`` would show a backslash).
- terminal: nothing is escaped (plain text); only control characters are removed.

Code keeps its text: fenced blocks stay fences; a code span holding ``$``, ``\\``, ``<`` or a line break, an
indented code block, and (JupyterLab's family only) a fence inside a list or quote holding ``$`` or ``\\``
become ``<code>``/``<pre><code>`` HTML whose text is all entities, because removeMath does not skip them
and would pair their dollars with math outside. In link destinations a dollar is ``&#36;``; in a bare URL,
for JupyterLab's family, ``%24`` (removeMath would otherwise put math, quotes and all, into the href).
Colab is assumed to behave like JupyterLab (not verified).

Safety (``display.sanitize``): images become ``[image: alt — host](url)`` links unless allowed; links with
a dangerous scheme become ``[their text]``; a link whose text names another host shows the real one; raw
HTML is reduced to harmless tags without attributes, a raw HTML block to one self-ending line; ``[`` and
``<`` that markdown-it did not read as a link or tag are escaped (``\\[``, ``&lt;``), literal backslashes
become ``&#92;``, math keeps no ``<`` or ``![`` (``\\lt``, ``!{}[``), so that neither another markdown
parser (marked, in JupyterLab) nor a viewer without MathJax finds a tag or an image there. The output was
checked against the real renderers with a differential fuzz (tests/test_display_vscode.py).

Every step is linear in the size of the reply.
"""

from __future__ import annotations

from typing import Any

from ..markdown.parser import parse, paused_gc, url_runs
from .edits import Mapping, OverlappingEdits, Source, line_mapping
from .sanitize import (
    deceptive_host,
    image_verdict,
    inline_tag,
    link_is_safe,
    read_tag,
    safe_html,
    tag_name,
    url_host,
)
from .settle import fence_closer, math_closer, normalize, settled_prefix_length

__all__ = ["escape_money", "settled_display_markdown", "settled_prefix_length", "to_display_markdown"]

#: How a literal dollar is written in markdown, per frontend (the default is JupyterLab's).
DOLLAR = {"vscode": "\\$", "terminal": "$"}
JUPYTER_DOLLAR = "\\\\$"
#: A literal dollar inside a raw HTML block (markdown escapes do not apply there).
HTML_DOLLAR = {"vscode": "$", "terminal": "$"}
JUPYTER_HTML_DOLLAR = "<span>&#36;</span>"
#: "<" inside math, written so that no HTML parser can read a tag there, whether or not math is typeset.
LESS_THAN = "\\lt "
NO_IMAGE = "!{}["
#: Put before an inline tag that starts a line: a zero-width space, so the line starts with text.
LINE_START = "&#8203;"
#: Splits an inline math delimiter from a following word character in VS Code (an empty HTML comment).
SEPARATOR = "<!---->"
_TASK_BOXES = ("[ ]", "[x]", "[X]")
#: Characters of a bare URL that JupyterLab's removeMath could read as math (a placeholder inside an href
#: would get the math's raw text, quotes included, put back into the attribute): percent-encoded there.
_URL_ESCAPES = {ord("$"): "%24", ord("\\"): "%5C"}
_CONTROL = {code: None for code in range(32) if chr(code) not in "\n\t"} | {0x7F: None}
_CONTROL |= {code: None for code in range(0x80, 0xA0)}
#: Code text written as HTML: every character that markdown, HTML, removeMath or an autolinker could act on.
_CODE_ENTITIES = {ord(ch): f"&#{ord(ch)};" for ch in "&<>\"'`*_[]!\\$~|#(){}:.@=+-\n"}
_TEXT_ESCAPES = {ord(ch): "\\" + ch for ch in "`*_[]<>!#|~&"} | {ord("\n"): " ", ord("\\"): "&#92;"}
#: TeX that MathJax (JupyterLab 4's MathJax 3, past its Safe extension) turns into raw CSS on the page:
#: ``\unicode[font]{..}`` and ``\mmlToken{..}[fontfamily=..]{..}`` put their text in a style attribute, so
#: ``x;background-image:url(...)`` loads a URL. In math they are shown as text (``\backslash\text{unicode}``).
UNSAFE_TEX = frozenset({"unicode", "mmlToken"})
#: JupyterLab's family also typesets math MathJax finds in the page's text; a literal backslash shown in text
#: before one of these (a delimiter: ``\(``, ``\[``, ``\begin{..}``) gets a zero-width space after it, so
#: MathJax only typesets the math the parser found, where unsafe TeX was defused.
_DELIMITER_STARTS = ("(", "[", "begin")
TEXT_BACKSLASH = "&#92;"
SPLIT_BACKSLASH = "&#92;&#8203;"


def _backslashes(text: str, split: bool) -> str:
    """``text`` with each backslash as ``&#92;``, split from a MathJax delimiter after it when ``split``."""
    if "\\" not in text:
        return text
    if not split:
        return text.replace("\\", TEXT_BACKSLASH)
    pieces = text.split("\\")
    out = [pieces[0]]
    for piece in pieces[1:]:
        out.append(SPLIT_BACKSLASH if piece.startswith(_DELIMITER_STARTS) else TEXT_BACKSLASH)
        out.append(piece)
    return "".join(out)


def dollar_for(frontend: str) -> str:
    return DOLLAR.get(frontend, JUPYTER_DOLLAR)


def escape_money(text: str, frontend: str) -> str:
    """Our own plain string (e.g. the footer's "$0.00065") with each ``$`` shown as a plain dollar sign."""
    return text.replace("$", dollar_for(frontend))


def _escape_text(text: str, frontend: str) -> str:
    """Plain text (an image's alt, a URL) as markdown that shows exactly that text."""
    if "\\" in text and dollar_for(frontend) == JUPYTER_DOLLAR:
        text = "\\".join(piece.translate(_TEXT_ESCAPES) for piece in text.split("\\"))
        return _backslashes(text, True).replace("$", JUPYTER_DOLLAR)
    return text.translate(_TEXT_ESCAPES).replace("$", dollar_for(frontend))


def _destination(url: str) -> str:
    """A link destination in ``<...>`` form: ``&`` and ``$`` as entities, so removeMath cannot see a dollar."""
    cleaned = url.replace("&", "&amp;").replace("$", "&#36;").replace("<", "%3C").replace(">", "%3E")
    return "<" + cleaned.replace("\n", "%0A") + ">"


class _Renderer:
    """Collects the edits that make one reply right and safe for one frontend."""

    def __init__(self, source: Source, frontend: str, allowed_hosts: tuple[str, ...], data_max: int) -> None:
        self.source = source
        self.frontend = frontend
        self.dollar = dollar_for(frontend)
        self.allowed_hosts = allowed_hosts
        self.data_max = data_max
        self.covered = bytearray(len(source.lines))
        self.fence_became_html = False  # the last fence, left open, is now HTML: it needs no closer  # 1: a leaf block owns the line; 2: inside a container

    # -- text between the tokens we understand --------------------------------------------------------

    def escape_gap(self, text: str, at_start: bool = False, before_token: bool = False) -> str:
        """Plain text: literal dollars for this frontend; ``[`` and ``<`` escaped so they start nothing (``<`` as
        ``&lt;``, which stays text even where another parser would see raw HTML)."""
        if not text:
            return text
        head = ""
        if at_start and text[:3] in _TASK_BOXES:  # keep GFM task-list boxes
            head, text = text[:3], text[3:]
        if "://" in text or "www." in text.lower():
            return head + self._escape_around_urls(text, before_token)
        return head + self._escape_plain(text)

    def _escape_plain(self, text: str) -> str:
        """A literal backslash (one markdown did not read as an escape) as ``&#92;``: ``\\begin{..}`` in text
        would start math for removeMath, which can then swallow the next fence's opening line."""
        text = _backslashes(text, self.dollar == JUPYTER_DOLLAR)
        return text.replace("[", "\\[").replace("<", "&lt;").replace("$", self.dollar)

    def _backslash_before(self, following: str) -> str:
        """A literal backslash shown in text, followed by ``following`` (split from a MathJax delimiter)."""
        if self.dollar == JUPYTER_DOLLAR and following.startswith(_DELIMITER_STARTS):
            return SPLIT_BACKSLASH
        return TEXT_BACKSLASH

    def _escape_around_urls(self, text: str, before_token: bool) -> str:
        """Bare URLs stay URLs (frontends linkify them; a backslash would break them); in JupyterLab's family
        their ``$`` and ``\\`` are percent-encoded, so removeMath finds no math inside an href. A URL that runs
        into the next token ends with an empty comment: an autolinker would swallow a code span's backticks."""
        pieces, last = [], 0
        for start, end in url_runs(text):
            pieces.append(self._escape_plain(text[last:start]))
            url = text[start:end]
            pieces.append(url if self.frontend == "vscode" else url.translate(_URL_ESCAPES))
            if (end == len(text) and before_token) or text[end : end + 1] == "<":
                pieces.append(SEPARATOR)  # "<" becomes "&lt;", which would not end the URL any more
            last = end
        pieces.append(self._escape_plain(text[last:]))
        return "".join(pieces)

    # -- inline content -------------------------------------------------------------------------------

    def inline(self, content: str, children: list[Any], mapping: Mapping) -> None:
        """Edits for one paragraph, heading or table cell whose text is ``content``."""
        covered_until = 0  # content offset up to which text was handled
        label_ends: list[int] = []  # of the links we are inside
        self.line_has_text = False  # on the output line being built (a tag may not start a line)
        for token in children:
            span = (token.meta or {}).get("span")
            if span is None:
                continue
            kind = token.type
            start, end = span
            if kind == "link_close":
                if token.markup != "autolink":  # an autolink's close is inside its handled span
                    self.gap(content, covered_until, label_ends.pop(), mapping, before_token=False)
                    covered_until = end
                continue
            if start < covered_until:  # a token inside one already handled
                continue
            self.gap(content, covered_until, start, mapping)
            if kind == "link_open" and token.markup != "autolink":
                label_start, label_end = token.meta["label"]
                self.link(token, content, start, end, label_start, label_end, mapping)
                self.line_has_text = True  # "[" stays, or "\\[" for an unsafe link
                label_ends.append(label_end)
                covered_until = label_start
                continue
            replacement = self.replacement(token, content, len(label_ends))
            if kind == "html_inline" and not self.line_has_text:
                # first on its line: what follows must neither open an HTML block ("<b>" alone) nor become a
                # list item or heading once the tag is gone ("<br>1. x"): an invisible character goes first
                replacement = LINE_START + (replacement or "")
            self.line_has_text = replacement is None or bool(replacement.strip()) or self.line_has_text
            if replacement is not None:
                self.source.edit(mapping(start), mapping(end), replacement)
            elif kind.startswith("math"):
                self.math_delimiters(token, content, mapping)
            covered_until = end
        self.gap(content, covered_until, len(content), mapping, before_token=False)

    def gap(self, content: str, start: int, end: int, mapping: Mapping, before_token: bool = True) -> None:
        if start >= end:
            return
        # one edit per content line, so container prefixes between the lines stay
        position = start
        while position < end:
            newline = content.find("\n", position, end)
            stop = end if newline == -1 else newline
            source_start, source_end = mapping(position), mapping(stop)
            piece = self.source.text[source_start:source_end]
            at_token = before_token and stop == end
            escaped = self.escape_gap(piece, at_start=position == 0, before_token=at_token)
            if at_token and escaped.endswith("!"):  # a "[" we write next must not make "![", an image
                escaped = escaped[:-1] + "\\!"
            if escaped != piece:
                self.source.edit(source_start, source_end, escaped)
            self.line_has_text = self.line_has_text or bool(piece.strip())
            if newline != -1:
                self.line_has_text = False
            position = stop + 1

    def replacement(self, token: Any, content: str, link_depth: int) -> str | None:
        """What replaces a tracked token's span, or None to keep it (code, math handled apart)."""
        kind = token.type
        if kind == "text_special":  # an escaped backslash as an entity: "\\\\(" would be math to removeMath
            start, end = token.meta["span"]
            if (
                len(token.content) == 2 and token.content[0] == "\\"
            ):  # "\\b": a backslash that escapes nothing
                return self._backslash_before(content[start + 1 : start + 6]) + self._escape_plain(
                    token.content[1]
                )
            if token.content == "\\":
                return self._backslash_before(content[end : end + 5])
            return {"$": self.dollar, "<": "&lt;"}.get(token.content)
        if kind == "html_inline":
            return self.html_tag(token.content, link_depth)
        if kind == "code_inline" and any(
            char in content[token.meta["span"][0] : token.meta["span"][1]] for char in "<$\\\n"
        ):
            # as an HTML element whose text is all entities: should another parser (marked, removeMath) not see
            # this code span as one, its "<" must still not be a tag, its "$" not math, its text not markdown
            return f"<code>{token.content.translate(_CODE_ENTITIES)}</code>"
        if kind == "image":
            alt = "".join(child.content for child in token.children or [])
            return self.image(token.attrGet("src") or "", alt, link_depth)
        if kind == "link_open":  # autolink
            href = token.attrGet("href") or ""
            text = content[token.meta["span"][0] + 1 : token.meta["span"][1] - 1]
            if not link_is_safe(href) or link_depth:
                return _escape_text(text, self.frontend)
            return f"[{_escape_text(text, self.frontend)}]({_destination(href)})"
        return None

    def math_delimiters(self, token: Any, content: str, mapping: Mapping) -> None:
        """``\\( \\)`` → ``$ $``, ``\\[ \\]`` → ``$$ $$``, with no space inside (VS Code needs none)."""
        (open_start, open_end), (close_start, close_end) = token.meta["open"], token.meta["close"]
        inner = content[open_end:close_start]
        lead = len(inner) - len(inner.lstrip())
        trail = len(inner) - len(inner.rstrip())
        marker = "$" if token.type == "math_inline" else "$$"
        before, after = marker, marker
        if self.frontend == "vscode" and marker == "$":
            if open_start > 0 and (content[open_start - 1].isalnum() or content[open_start - 1] == "_"):
                before = SEPARATOR + marker
            following = content[close_end : close_end + 1]
            if following.isalnum() or following == "_":
                after = marker + SEPARATOR
        self.source.edit(mapping(open_start), mapping(open_end + lead), before)
        self.source.edit(mapping(close_start - trail), mapping(close_end), after)
        self.math_content(content, open_end + lead, close_start - trail, mapping)

    def math_content(self, text: str, start: int, end: int, mapping: Any) -> None:
        """Where math is not typeset (a viewer without MathJax), its TeX must not be read as a tag or an
        image: ``<`` becomes ``\\lt`` and ``![`` becomes ``!{}[`` (the same TeX), ``$`` becomes ``\\$``. Where it
        is, ``UNSAFE_TEX`` control words are shown as text."""
        found = text.find("\\", start, end)
        while found != -1:
            name_end = found + 1
            while name_end < end and text[name_end].isascii() and text[name_end].isalpha():
                name_end += 1
            name = text[found + 1 : name_end]
            if name in UNSAFE_TEX:
                self.source.edit(mapping(found), mapping(name_end), f"\\backslash\\text{{{name}}}")
            found = text.find("\\", max(name_end, found + 2), end)  # "\\\\" is one control symbol
        for needle, replacement in (("<", LESS_THAN), ("![", NO_IMAGE), ("$", "\\$")):
            found = text.find(needle, start, end)
            while found != -1:
                if needle != "$" or text[found - 1 : found] != "\\":  # a bare "$" would pair for removeMath
                    self.source.edit(mapping(found), mapping(found + len(needle)), replacement)
                found = text.find(needle, found + 1, end)

    def link(
        self,
        token: Any,
        content: str,
        start: int,
        end: int,
        label_start: int,
        label_end: int,
        mapping: Mapping,
    ) -> None:
        href = token.attrGet("href") or ""
        if not link_is_safe(href):  # its text stays, in brackets, as text
            self.source.edit(mapping(start), mapping(label_start), "\\[")
            self.source.edit(mapping(label_end), mapping(end), "\\]")
            return
        label_text = content[label_start:label_end]
        note = deceptive_host(label_text, href)
        suffix = f" ({_escape_text(note, self.frontend)})" if note else ""
        self.source.edit(mapping(label_end), mapping(end), f"]({_destination(href)}){suffix}")

    def image(self, src: str, alt: str, link_depth: int) -> str:
        alt_text = _escape_text(" ".join(alt.split()), self.frontend)
        verdict = image_verdict(src, self.allowed_hosts, self.data_max)
        if verdict == "show" and not link_depth:
            return f"![{alt_text}]({_destination(src)})"
        label = f"image: {alt_text}" if alt_text else "image"
        if verdict == "link":
            if link_depth:  # inside a link: the link's own URL is what a click opens
                return label
            label += f" — {_escape_text(url_host(src), self.frontend)}"
            return f"[{label}]({_destination(src)})"
        scheme = src.split(":", 1)[0][:12] if ":" in src else "local"
        return f"{label} ({_escape_text(scheme, self.frontend)} image not shown)"

    def html_tag(self, source: str, link_depth: int) -> str:
        if tag_name(source) == ("img", False):
            _, _, attributes = read_tag(source)
            return self.image(attributes.get("src", ""), attributes.get("alt", ""), link_depth)
        return inline_tag(source)

    # -- blocks ---------------------------------------------------------------------------------------

    def paragraph(self, inline: Any) -> None:
        first = inline.map[0]
        self.inline(inline.content, inline.children or [], line_mapping(self.source, first, inline.content))

    def heading(self, inline: Any, opening: Any) -> None:
        if opening.markup not in ("=", "-"):  # ATX: "## title ##" on one line
            line = inline.map[0]
            text = self.source.lines[line]
            after_hashes = len(text) - len(text.lstrip()) + len(opening.markup)
            found = text.find(inline.content, after_hashes) if inline.content else -1
            if found == -1:
                return
            mapping = Mapping()
            mapping.add(0, self.source.starts[line] + found)
            self.inline(inline.content, inline.children or [], mapping)
            return
        self.paragraph(inline)

    def table_row(self, line: int, cells: list[Any]) -> None:
        text = self.source.lines[line]
        cursor = 0
        for cell in cells:
            content = cell.content
            if not content:
                continue
            needle = content.replace("|", "\\|")
            found = text.find(needle, cursor)
            if found == -1:  # cannot place it: treat the rest of the row as plain text
                break
            mapping = Mapping()
            base, offset = self.source.starts[line] + found, 0
            for pipes, piece in enumerate(content.split("|")):  # each escaped pipe adds a backslash
                mapping.add(offset, base + offset + pipes)
                offset += len(piece) + 1
            self.inline(content, cell.children or [], mapping)
            cursor = found + len(needle)
        rest = text[cursor:]
        escaped = self.escape_gap(rest)
        if escaped != rest:  # cells beyond the header's count are not tokens: plain text
            self.source.edit(self.source.starts[line] + cursor, self.source.starts[line] + len(text), escaped)

    def one_line_block(self, token: Any, html: str, dedent: int = 0) -> None:
        """Replace a block by one line of HTML that is an HTML block of its own in every parser: it starts
        with an empty comment (CommonMark's HTML block kind 2 ends on that very line), so neither the
        block's text nor the lines after it can be read as raw HTML or markdown by another parser."""
        first, last = token.map[0], token.map[1] - 1
        first_text = self.source.lines[first]
        content_first = token.content.split("\n", 1)[0]
        prefix = (
            first_text[: len(first_text) - len(content_first)] if first_text.endswith(content_first) else ""
        )
        if dedent and prefix.endswith(" " * dedent):
            prefix = prefix[:-dedent]
        elif dedent:  # tabs: keep the container's ">"s only
            prefix = "".join(ch for ch in prefix if ch == ">") + (" " if ">" in prefix else "")
        start = self.source.starts[first]
        end = self.source.starts[last] + len(self.source.lines[last])
        line = f"<!---->{html.replace(chr(10), '&#10;')}" if html else ""
        self.source.edit(start, end, prefix + line)

    def html_block(self, token: Any) -> None:
        html_dollar = HTML_DOLLAR.get(self.frontend, JUPYTER_HTML_DOLLAR)
        cleaned = _backslashes(safe_html(token.content), self.dollar == JUPYTER_DOLLAR)
        cleaned = cleaned.replace("$", html_dollar).strip("\n")
        self.one_line_block(token, f"<div>{cleaned}</div>" if cleaned.strip() else "")

    def code_block(self, token: Any) -> None:
        """An indented code block as ``<pre><code>`` (parsers disagree on tabs and indentation in lists)."""
        code = token.content.removesuffix("\n").translate(_CODE_ENTITIES)
        self.one_line_block(token, f"<pre><code>{code}</code></pre>", dedent=4)

    def fence(self, token: Any) -> None:
        """Fences stay fences (highlighted), with a clean info string. In JupyterLab's family a fence must be
        one that removeMath skips (at column 0, closed by a bare fence line): else a ``$`` or ``\\`` in its
        code pairs with math outside it. A fence inside a list or quote with those becomes ``<pre><code>``."""
        opener = self.source.lines[token.map[0]]
        indented = not opener.startswith(token.markup)
        if self.dollar == JUPYTER_DOLLAR and ("$" in token.content or "\\" in token.content):
            if indented:
                prefix = opener[: opener.find(token.markup)]
                code = token.content.removesuffix("\n").translate(_CODE_ENTITIES)
                start, last = self.source.starts[token.map[0]], token.map[1] - 1
                end = self.source.starts[last] + len(self.source.lines[last])
                html = f"<!----><pre><code>{code.replace(chr(10), '&#10;')}</code></pre>"
                self.source.edit(start, end, prefix + html)
                self.fence_became_html = token.map[1] >= len(self.source.lines)
                return
            last = token.map[1] - 1
            closing = self.source.lines[last]
            if (
                last > token.map[0]
                and closing.strip().startswith(token.markup)
                and closing != closing.strip()
            ):
                start = self.source.starts[last]
                self.source.edit(start, start + len(closing), closing.strip())  # "```  " → "```"
        self.fence_info(token)

    def fence_info(self, token: Any) -> None:
        """A fence's info string reduced to its language word: it becomes an HTML attribute in the frontend."""
        line = token.map[0]
        text = self.source.lines[line]
        at = text.find(token.markup)
        if at == -1:
            return
        info_start = at + len(token.markup)
        info = text[info_start:]
        words = info.split()
        language = "".join(ch for ch in (words[0] if words else "") if ch.isalnum() or ch in "+-_.#")
        if info.strip() != language:
            start = self.source.starts[line]
            self.source.edit(start + info_start, start + len(text), language)

    def math_block(self, token: Any) -> None:
        """``\\[ \\]`` lines become ``$$ $$``; ``$$`` and ``\\begin{env}`` blocks stay; the TeX between is kept."""
        first, last = token.map[0], token.map[1] - 1
        opener_at = self.source.starts[first] + self.source.lines[first].find(token.markup)
        closer_at = self.source.starts[last] + self.source.lines[last].rfind(token.info)
        body_start = opener_at + len(token.markup)
        self.math_content(self.source.text, body_start, closer_at, lambda position: position)
        if token.markup == "\\[":
            self.source.edit(opener_at, body_start, "$$")
        if token.info == "\\]":
            self.source.edit(closer_at, closer_at + 2, "$$")

    def uncovered(self) -> None:
        """Lines no leaf block owns: reference definitions (dropped at top level) and container leftovers."""
        dropping = False
        for index, line in enumerate(self.source.lines):
            if self.covered[index] == 1 or not line.strip():
                dropping = False
                continue
            start = self.source.starts[index]
            if self.covered[index] == 0 and (dropping or line.lstrip().startswith("[")):
                dropping = True  # a link reference definition: links were rewritten inline already
                self.source.edit(start, start + len(line) + 1, "")
                continue
            escaped = self.escape_gap(line)
            if escaped != line:
                self.source.edit(start, start + len(line), escaped)

    def mark(self, token: Any, value: int) -> None:
        """Containers (2) come before the leaves (1) inside them in token order, so a leaf always wins."""
        if token.map:
            start, end = token.map[0], min(token.map[1], len(self.covered))
            self.covered[start:end] = bytes([value]) * max(0, end - start)

    def run(self, tokens: list[Any]) -> None:
        cells: list[Any] = []
        row_line = -1
        for index, token in enumerate(tokens):
            kind = token.type
            if kind in ("blockquote_open", "list_item_open"):
                self.mark(token, 2)
            elif kind == "fence":
                self.mark(token, 1)
                self.fence(token)
            elif kind == "code_block":
                self.mark(token, 1)
                self.code_block(token)
            elif kind in ("hr", "table_open", "paragraph_open", "heading_open"):
                self.mark(token, 1)
            elif kind == "html_block":
                self.mark(token, 1)
                self.html_block(token)
            elif kind == "math_block":
                self.mark(token, 1)
                self.math_block(token)
            elif kind == "tr_open":
                cells, row_line = [], token.map[0]
            elif kind == "tr_close":
                self.table_row(row_line, cells)
            elif kind == "inline":
                opening = tokens[index - 1]
                if opening.type in ("th_open", "td_open"):
                    cells.append(token)
                elif opening.type == "heading_open":
                    self.heading(token, opening)
                elif token.map:
                    self.paragraph(token)
        self.uncovered()


def to_display_markdown(
    text: str,
    *,
    frontend: str = "jupyterlab",
    streaming: bool = False,
    allowed_image_hosts: tuple[str, ...] = (),
    data_image_max_bytes: int = 200_000,
) -> str:
    """Markdown of a reply that renders right and safely in ``frontend`` (see the module docstring).

    A fence left open at the end is closed (marked would read a last-line fence opener as text); with
    ``streaming`` a display math block left open at the end is closed too, so it typesets as it grows."""
    if frontend == "terminal":
        return text.translate(_CONTROL)
    with paused_gc():
        return _display_markdown(text, frontend, streaming, tuple(allowed_image_hosts), data_image_max_bytes)


def settled_display_markdown(
    text: str,
    length: int,
    *,
    frontend: str = "jupyterlab",
    allowed_image_hosts: tuple[str, ...] = (),
    data_image_max_bytes: int = 200_000,
) -> str:
    """``to_display_markdown(text[:length])``, made from ``text``'s own parse (a streaming view has just parsed
    it to find ``length``, so the finished blocks it freezes are not parsed a second time).

    ``length`` must be what ``settled_prefix_length(text)`` returned: the blocks before it parse the same
    alone, so their tokens are the ones ``text[:length]`` would give."""
    part = text[:length]
    if frontend == "terminal":
        return part.translate(_CONTROL)
    with paused_gc():
        tokens, _ = parse(text)  # the view's last parse: reused, not repeated
        line = part.count("\n")  # ``length`` is at a line start: blocks from this line on are not ours
        cut = next(
            (index for index, token in enumerate(tokens) if token.level == 0 and token.map and token.map[0] >= line),
            len(tokens),
        )
        source = Source(part)
        renderer = _Renderer(source, frontend, tuple(allowed_image_hosts), data_image_max_bytes)
        renderer.run(tokens[:cut])
        try:
            return source.result()
        except OverlappingEdits:
            return f"<!----><pre>{part.translate(_CODE_ENTITIES)}</pre>"


def _display_markdown(
    text: str, frontend: str, streaming: bool, allowed_image_hosts: tuple[str, ...], data_image_max_bytes: int
) -> str:
    source_text = normalize(text)
    tokens, _ = parse(source_text)
    source = Source(source_text)
    closer = fence_closer(source, tokens)  # always: marked reads a last-line fence opener as text
    if streaming and not closer:
        closer = math_closer(source_text)
        if closer:  # parse again with the math closed, so it renders as math while it streams
            source_text += closer
            tokens, _ = parse(source_text)
            source, closer = Source(source_text), ""
    renderer = _Renderer(source, frontend, tuple(allowed_image_hosts), data_image_max_bytes)
    renderer.run(tokens)
    if renderer.fence_became_html:
        closer = ""
    try:
        return source.result() + closer
    except OverlappingEdits:  # never seen; should it happen, the reply shows as plain text, inert
        return f"<!----><pre>{source_text.translate(_CODE_ENTITIES)}</pre>"
