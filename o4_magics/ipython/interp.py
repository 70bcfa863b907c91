"""Prompt interpolation: ``{name}``, ``{obj.attr}``, ``{d['key']}`` become value descriptions; nothing else does.

Prompts are full of code and JSON, so only a plain name/attribute/subscript chain in braces is touched, never
inside backticks or fenced code; other braces pass through; ``{{`` and ``}}`` are literal braces. Values are
looked up, never evaluated: no calls, no operators.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError

_CODE = re.compile(r"(^```.*?(?:^```[ \t]*$|\Z)|^~~~.*?(?:^~~~[ \t]*$|\Z)|`[^`\n]*`)", re.MULTILINE | re.DOTALL)
_KEY = r"""(?:'[^'\\\n]*'|"[^"\\\n]*"|-?\d+)"""
CHAIN = re.compile(rf"[A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*|\s*\[\s*{_KEY}\s*\])*")
_BRACES = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}")
_CALL = re.compile(rf"^\s*{CHAIN.pattern}\s*\(.*\)\s*$", re.DOTALL)

_MISSING = object()


def resolve(expr: str, namespaces: list[dict[str, Any]]) -> Any:
    """The value of a name/attribute/subscript chain, looked up without ``eval``; UsageError if it fails."""
    expr = expr.strip()
    if not CHAIN.fullmatch(expr):
        raise UsageError(f"{{{expr}}} is not a plain name, attribute or subscript; nothing was sent.")
    tree = ast.parse(expr, mode="eval").body
    return _walk(tree, expr, namespaces)


def _walk(node: ast.AST, expr: str, namespaces: list[dict[str, Any]]) -> Any:
    if isinstance(node, ast.Name):
        for namespace in namespaces:
            if node.id in namespace:
                return namespace[node.id]
        raise UsageError(f"name {node.id!r} is not defined (in {{{expr}}}); nothing was sent.")
    if isinstance(node, ast.Attribute):
        base = _walk(node.value, expr, namespaces)
        try:
            value = getattr(base, node.attr, _MISSING)
        except Exception as exc:
            raise UsageError(f"reading .{node.attr} failed ({type(exc).__name__}) in {{{expr}}}; nothing was sent.") from None
        if value is _MISSING:
            raise UsageError(f"{type(base).__name__} has no attribute {node.attr!r} (in {{{expr}}}); nothing was sent.")
        return value
    if isinstance(node, ast.Subscript):
        base = _walk(node.value, expr, namespaces)
        key = ast.literal_eval(node.slice)
        try:
            return base[key]
        except Exception as exc:
            raise UsageError(f"cannot read [{key!r}] of {type(base).__name__} ({type(exc).__name__}) in {{{expr}}}.") from None
    raise UsageError(f"{{{expr}}} is not a plain name, attribute or subscript; nothing was sent.")


def is_expression(inner: str) -> bool:
    """Whether ``{inner}`` is meant as a reference to a value (and so must resolve)."""
    return bool(CHAIN.fullmatch(inner.strip()))


def interpolate(prompt: str, namespaces: list[dict[str, Any]], describe: Callable[[str, Any], str]) -> tuple[str, list[str]]:
    """Replace ``{expr}`` outside code by ``describe(expr, value)``; return the text and the expressions used."""
    used: list[str] = []

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        inner = match.group(1)
        if _CALL.match(inner):
            raise UsageError(f"{{{inner.strip()}}} calls a function; only names, attributes and subscripts are "
                             "read (assign the result to a variable first). Nothing was sent.")
        if not is_expression(inner):
            return token  # JSON, set literals, format specs: not ours
        expr = inner.strip()
        used.append(expr)
        return describe(expr, resolve(expr, namespaces))

    pieces = _CODE.split(prompt)
    for index in range(0, len(pieces), 2):  # even pieces are outside code
        pieces[index] = _BRACES.sub(replace, pieces[index])
    return "".join(pieces), used
