"""Keeps IPython from reading ``%o4 What is a p-value?`` as a help request for ``value``.

IPython treats a line ending in ``?`` as object introspection, which would swallow most one-line questions.
A cleanup input transformer (IPython's documented hook, run before its own help transform) rewrites such
lines into the very call IPython makes for a line magic.
"""

from __future__ import annotations

import re

_QUESTION_LINE = re.compile(r"^(?P<indent>[ \t]*)%(?P<magic>o4|o4_explain)[ \t]+(?P<rest>\S.*?\?)[ \t]*$")


def protect_questions(lines: list[str]) -> list[str]:
    """Rewrite ``%o4 ... ?`` / ``%o4_explain ... ?`` lines to explicit ``run_line_magic`` calls."""
    rewritten = []
    for line in lines:
        body = line.rstrip("\n")
        match = _QUESTION_LINE.match(body)
        if match is None:
            rewritten.append(line)
            continue
        newline = "\n" if line.endswith("\n") else ""
        indent, magic, rest = match.group("indent", "magic", "rest")
        rewritten.append(f"{indent}get_ipython().run_line_magic({magic!r}, {rest!r}){newline}")
    return rewritten
