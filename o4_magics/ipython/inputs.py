"""Keeps IPython from reading ``%o4 What is a p-value?`` as a help request for ``value``.

IPython treats a line ending in ``?`` as object introspection, which would swallow most one-line questions.
A cleanup input transformer (IPython's documented hook, run before its own help transform) rewrites such
lines into the very call IPython makes for a line magic.
"""

from __future__ import annotations

import re
from typing import Any

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


_LOAD_LINE = re.compile(r"^\s*%(?:load_ext|reload_ext)\s+o4_magics\s*$")


def _current_raw_cell(shell: Any) -> str:
    history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    return history[-1] if history else ""


def rescue_loading_cell(shell: Any) -> None:
    """Keep ``%load_ext o4_magics`` + ``%o4 What is a p-value?`` in ONE cell a question.

    That cell was transformed before our transformer existed, so IPython already turned each such line into
    a help request (``pinfo`` of the last word). For this one cell, ``pinfo`` answers with the magic calls the
    lines were meant to be, in order; then IPython's own ``pinfo`` is back.
    """
    lines = _current_raw_cell(shell).splitlines()
    starts = [index for index, line in enumerate(lines) if _LOAD_LINE.match(line)]
    if not starts:
        return
    pending = []
    for line in lines[starts[0] + 1 :]:
        match = _QUESTION_LINE.match(line)
        if match is not None:
            pending.append(match.group("magic", "rest"))
    table = shell.magics_manager.magics["line"]
    original = table.get("pinfo")
    if not pending or original is None:
        return

    def restore(*_: Any) -> None:
        if table.get("pinfo") is pinfo:
            table["pinfo"] = original
        try:
            shell.events.unregister("post_run_cell", restore)
        except ValueError:
            pass

    def pinfo(parameter_s: str = "", namespaces: Any = None) -> Any:
        if not pending:
            restore()
            return original(parameter_s, namespaces)
        magic, rest = pending.pop(0)
        if not pending:
            restore()
        return shell.run_line_magic(magic, rest)

    table["pinfo"] = pinfo
    shell.events.register("post_run_cell", restore)
