"""Models of what a frontend shows, for fast tests without node or a browser.

``jupyterlab_view``: JupyterLab's pipeline in Python: a port of @jupyterlab/rendermime's removeMath /
replaceMath (latex.ts) around markdown-it-py (standing in for marked), then MathJax 3's way of finding
math in the rendered text (strings broken at every tag, code/pre skipped, ``\\$`` shown as ``$``).
``inert_problems``: everything in rendered HTML that would load or run by itself.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# -- removeMath / replaceMath (port of packages/rendermime/src/latex.ts, JupyterLab 4) ----------------------

_MATHSPLIT = re.compile(
    r"(\$\$?|\\(?:begin|end)\{[a-z]*\*?\}|\\[{}$]|[{}]|(?:\n\s*)+|@@\d+@@|\\\\[()[\]])", re.I
)
_FENCE = re.compile(r"^(?P<fence>`{3,}|(~T){3,})[^`\n]*\n([\s\S]*?)^(?P=fence)`*$", re.M)
_CODE_SPAN = re.compile(r"(^|[^\\])(`+)([^\n]*?[^`\n])\2(?!`)", re.M)


def _process_math(i: int, j: int, de_tilde, math: list[str], blocks: list[str]) -> None:
    block = "".join(blocks[i : j + 1]).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for k in range(j, i, -1):
        blocks[k] = ""
    blocks[i] = f"@@{len(math)}@@"
    math.append(de_tilde(block))


def remove_math(text: str) -> tuple[str, list[str]]:
    math: list[str] = []
    start = end = last = None
    braces = 0
    if "`" in text or "~~~" in text:
        text = text.replace("~", "~T")
        text = _FENCE.sub(lambda m: m.group(0).replace("$", "~D"), text)
        text = _CODE_SPAN.sub(lambda m: m.group(0).replace("$", "~D"), text)

        def de_tilde(value: str) -> str:
            return re.sub(r"~([TD])", lambda m: "~" if m.group(1) == "T" else "$", value)
    else:

        def de_tilde(value: str) -> str:
            return value

    blocks = _MATHSPLIT.split(text.replace("\r\n", "\n"))
    # re.split with one group yields [text, delim, text, ...]; the regex's inner groups are non-capturing
    i = 1
    while i < len(blocks):
        block = blocks[i]
        if block.startswith("@"):
            blocks[i] = f"@@{len(math)}@@"
            math.append(block)
        elif start is not None:
            if block == end:
                if braces:
                    last = i
                else:
                    _process_math(start, i, de_tilde, math, blocks)
                    start = end = last = None
            elif re.search(r"\n.*\n", block):
                if last is not None:
                    i = last
                    _process_math(start, i, de_tilde, math, blocks)
                start = end = last = None
                braces = 0
            elif block == "{":
                braces += 1
            elif block == "}" and braces:
                braces -= 1
        elif block in ("$", "$$"):
            start, end, braces = i, block, 0
        elif block in ("\\\\(", "\\\\["):
            start, end, braces = i, "\\\\)" if block.endswith("(") else "\\\\]", 0
        elif block[1:6] == "begin":
            start, end, braces = i, "\\end" + block[6:], 0
        i += 2
    if start is not None and last is not None:
        _process_math(start, last, de_tilde, math, blocks)
    return de_tilde("".join(blocks)), math


def replace_math(html: str, math: list[str]) -> str:
    return re.sub(r"@@(\d+)@@", lambda m: math[int(m.group(1))], html)


# -- MathJax 3 on the rendered HTML --------------------------------------------------------------------------

_SKIP = {"script", "noscript", "style", "textarea", "pre", "code", "annotation", "annotation-xml"}
_BREAKS = {"br", "wbr"}  # MathJax's includeHtmlTags: these do not end a string
_TEX_START = re.compile(r"\\\$|\$\$|\$|\\\(|\\\[|\\begin\{([^}]*)\}")


class _Strings(HTMLParser):
    """Text as MathJax sees it: strings broken at tags, code skipped; plus everything visible."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.strings: list[list[str]] = [[]]
        self.skipping = 0
        self.code: list[str] = []
        self.in_code = 0

    def _break(self) -> None:
        if self.strings[-1]:
            self.strings.append([])

    def handle_starttag(self, tag, attrs):
        if tag in _BREAKS:
            self.strings[-1].append(" ")
            return
        self._break()
        if tag in _SKIP:
            self.skipping += 1
        if tag in ("code", "pre"):
            self.in_code += 1
            self.code.append("")

    def handle_endtag(self, tag):
        if tag in _BREAKS:
            return
        self._break()
        if tag in _SKIP and self.skipping:
            self.skipping -= 1
        if tag in ("code", "pre") and self.in_code:
            self.in_code -= 1

    def handle_data(self, data):
        if self.in_code:
            self.code[-1] += data
        self.strings[-1].append(("\x00" if self.skipping else "") + data)


def _typeset(text: str) -> tuple[str, list[str]]:
    """MathJax's FindTeX with processEscapes: (what shows, math found), math shown as ⟦...⟧."""
    shown, maths, pos = [], [], 0
    while True:
        match = _TEX_START.search(text, pos)
        if not match:
            shown.append(text[pos:])
            return "".join(shown), maths
        shown.append(text[pos : match.start()])
        token = match.group(0)
        if token == "\\$":
            shown.append("$")
            pos = match.end()
            continue
        closer = {"$$": "$$", "$": "$", "\\(": "\\)", "\\[": "\\]"}.get(token, f"\\end{{{match.group(1)}}}")
        end = text.find(closer, match.end())
        while end != -1 and text[end - 1 : end] == "\\" and closer.startswith("$"):
            end = text.find(closer, end + 1)
        if end == -1:
            shown.append(token)
            pos = match.end()
            continue
        inner = text[match.end() : end]
        if token.startswith("\\begin"):
            inner = token + inner + closer
        maths.append(inner)
        shown.append(f"⟦{inner}⟧")
        pos = end + len(closer)


def mathjax_view(html: str) -> tuple[str, list[str], list[str]]:
    """(visible text with math as ⟦...⟧, math sources, code texts) of HTML typeset by MathJax 3."""
    reader = _Strings()
    reader.feed(html)
    reader.close()
    shown, maths = [], []
    for pieces in reader.strings:
        if not pieces:
            continue
        if any(piece.startswith("\x00") for piece in pieces):
            shown.append("".join(piece.lstrip("\x00") for piece in pieces))
            continue
        text, found = _typeset("".join(pieces))
        shown.append(text)
        maths += found
    return "".join(shown), maths, reader.code


def jupyterlab_view(markdown: str) -> tuple[str, list[str], list[str]]:
    """What JupyterLab shows for a markdown output: (visible text, math typeset, code texts)."""
    from markdown_it import MarkdownIt

    text, math = remove_math(markdown)
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)
    return mathjax_view(replace_math(html, math))


def norm(tex: str) -> str:
    return " ".join(tex.split())


# -- inertness ---------------------------------------------------------------------------------------------

#: Elements that load or run something by themselves (or carry a form that sends data).
ACTIVE_TAGS = {
    "script", "iframe", "frame", "object", "embed", "link", "meta", "base", "style", "form", "input",
    "button", "textarea", "select", "svg", "math", "audio", "video", "source", "picture", "track", "applet",
    "image", "use", "body", "html", "head",
}  # fmt: skip
_URL_ATTRIBUTES = {
    "src",
    "srcset",
    "poster",
    "data",
    "action",
    "formaction",
    "background",
    "href",
    "xlink:href",
}


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Inspector(HTMLParser):
    """Problems (see ``inert_problems``), visible text, and KaTeX's math (its markup is KaTeX's own, not the
    reply's: only its TeX annotation is kept)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.text: list[str] = []
        self.maths: list[str] = []
        self.code: list[str] = []
        self.katex_depth = 0
        self.annotation: list[str] | None = None
        self.in_code = 0

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if self.katex_depth:
            if tag not in _VOID:
                self.katex_depth += 1
            if tag == "annotation":
                self.annotation = []
            return
        if "katex" in classes or "katex-display" in classes or "katex-block" in classes:
            self.katex_depth = 1
            return
        if tag in ("code", "pre"):
            self.in_code += 1
            self.code.append("")
        if tag in ACTIVE_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            value = value or ""
            squeezed = re.sub(r"[\s\x00-\x1f]", "", value).lower()
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name == "style":
                self.problems.append(f"<{tag} style=...>")
            if name in _URL_ATTRIBUTES and squeezed.startswith(("javascript:", "vbscript:", "data:text")):
                self.problems.append(f"<{tag} {name}={value[:40]}>")
            if tag == "img" and name in ("src", "srcset") and not squeezed.startswith("data:image/"):
                self.problems.append(f"<img {name}={value[:60]}> loads by itself")
            if name in ("target", "formtarget"):
                self.problems.append(f"<{tag} {name}>")

    def handle_startendtag(self, tag, attrs):
        if self.katex_depth:
            return
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if self.katex_depth:
            if tag == "annotation" and self.annotation is not None:
                self.maths.append("".join(self.annotation))
                self.text.append(f"⟦{self.maths[-1]}⟧")
                self.annotation = None
            if tag not in _VOID:
                self.katex_depth -= 1
            return
        if tag in ("code", "pre") and self.in_code:
            self.in_code -= 1

    def handle_data(self, data):
        if self.katex_depth:
            if self.annotation is not None:
                self.annotation.append(data)
            return
        if self.in_code:
            self.code[-1] += data
        self.text.append(data)


def inert_problems(html: str) -> list[str]:
    """What in ``html`` would load a resource, run script or send a form without the user choosing to."""
    inspector = _Inspector()
    inspector.feed(html)
    inspector.close()
    return inspector.problems


def visible_text(html: str) -> str:
    inspector = _Inspector()
    inspector.feed(html)
    inspector.close()
    return " ".join("".join(inspector.text).split())


def katex_view(html: str) -> tuple[str, list[str], list[str]]:
    """What VS Code shows for HTML from markdown-it + KaTeX: (visible text, math typeset, code texts)."""
    inspector = _Inspector()
    inspector.feed(html)
    inspector.close()
    return "".join(inspector.text), inspector.maths, inspector.code
