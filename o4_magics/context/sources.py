"""Code-like values as blocks: exceptions (with their traceback), functions and classes (source), modules."""

from __future__ import annotations

import inspect
import traceback
from typing import Any

from .blocks import Block, Section, fit_block, make_label, short, type_name
from .objects import text_block

LINE_CHARS = 500
MAX_MEMBERS = 40


def describe_exception(error: BaseException, name: str, max_tokens: int, private: bool) -> Block:
    """An exception: type, message and the traceback from ``__traceback__`` (chained causes included)."""
    kind = type_name(type(error))
    label = make_label(name, f"exception {kind}")
    if private:
        chain = _chain(error)
        notes = ["[private: messages and source lines not shown]"]
        if len(chain) > 1:
            notes.append("chained from: " + " <- ".join(type_name(type(e)) for e in chain[1:]))
        frames = []
        for link in reversed(chain):  # the way Python prints them: the first cause first
            frames.append(f"{type_name(type(link))}:")
            frames += [
                f"  {f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(link.__traceback__)
            ]
        section = Section("traceback frames:", frames, what="frames", split=len(frames) // 2)
        return fit_block(name, label, [Section("", notes), section], max_tokens)
    message = "".join(traceback.format_exception_only(type(error), error)).strip()
    if error.__traceback__ is None and error.__cause__ is None and error.__context__ is None:
        return text_block(name, label, ["(never raised: no traceback)"], message, max_tokens)
    lines = [
        short(line, LINE_CHARS)
        for line in "".join(traceback.format_exception(type(error), error, error.__traceback__))
        .rstrip()
        .split("\n")
    ]
    message_lines = [short(line, LINE_CHARS) for line in message.split("\n")[-3:]]
    body = Section(
        "traceback:", lines, what="traceback lines", split=len(lines) // 3, header=["```"], footer=["```"]
    )
    return fit_block(name, label, [Section("", message_lines), body], max_tokens)


def _chain(error: BaseException) -> list[BaseException]:
    """The exception and those it was raised from or during, outermost first."""
    chain, seen = [error], {id(error)}
    current = error.__cause__ or error.__context__
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _signature(value: Any, private: bool) -> str:
    """``name(a, b=1)`` (private: parameter names only), or ``name(...)`` when it cannot be read."""
    title = getattr(value, "__qualname__", getattr(value, "__name__", "?"))
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):
        return f"{title}(...)"
    if private:
        return f"{title}({', '.join(signature.parameters)})"
    return short(f"{title}{signature}", LINE_CHARS)


def _where(value: Any) -> str | None:
    """``defined in file.py:12``, when inspect can tell."""
    try:
        path = inspect.getsourcefile(value) or inspect.getfile(value)
        line = inspect.getsourcelines(value)[1]
    except (TypeError, OSError):
        return None
    return f"defined in {path}:{line}"


def _source(value: Any) -> str | None:
    """The source text, when inspect can find it (not for builtins or some notebook-defined classes)."""
    try:
        return inspect.getsource(value)
    except (TypeError, OSError):
        return None


def _doc_line(value: Any) -> str | None:
    """The first line of the docstring."""
    doc = inspect.getdoc(value)
    return f"doc: {short(doc.strip().splitlines()[0], 200)}" if doc and doc.strip() else None


def describe_function(value: Any, name: str, max_tokens: int, private: bool) -> Block:
    """A function or method: signature, location, and its source (else its docstring's first line)."""
    kind = (
        "builtin function"
        if inspect.isbuiltin(value)
        else "method"
        if inspect.ismethod(value)
        else "function"
    )
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", getattr(value, "__name__", "?"))
    label = make_label(name, f"{kind} {module + '.' if module and module != 'builtins' else ''}{qualname}")
    notes = [line for line in (f"signature: {_signature(value, private)}", _where(value)) if line]
    source = None if private else _source(value)
    if source is None:
        if not private:
            notes += [line for line in (_doc_line(value),) if line]
        return fit_block(name, label, [Section("", notes)], max_tokens)
    return text_block(name, label, notes, source.rstrip(), max_tokens, "python")


def describe_class(value: type, name: str, max_tokens: int, private: bool) -> Block:
    """A class: bases, location, and its source, else its public members with signatures."""
    label = make_label(name, f"class {type_name(value)}")
    bases = ", ".join(type_name(base) for base in value.__bases__)
    notes = [line for line in (f"bases: {bases}", _where(value)) if line]
    source = None if private else _source(value)
    if source is not None:
        return text_block(name, label, notes, source.rstrip(), max_tokens, "python")
    if not private:
        notes += [line for line in (_doc_line(value),) if line]
    members = [n for n in sorted(vars(value)) if not n.startswith("_")]
    lines = [
        _signature(getattr(value, n), private) if callable(getattr(value, n, None)) else n
        for n in members[:MAX_MEMBERS]
    ]
    section = Section("public members:", lines, rank=1, what="members", omitted=len(members) - len(lines))
    return fit_block(name, label, [Section("", notes), section], max_tokens)


def describe_module(value: Any, name: str, max_tokens: int, private: bool) -> Block:
    """A module: its name, file, version and the first line of its docstring."""
    label = make_label(name, f"module {value.__name__}")
    notes = [f"file: {getattr(value, '__file__', None) or '(built in)'}"]
    version = getattr(value, "__version__", None)
    if isinstance(version, str):
        notes.append(f"version: {short(version, 40)}")
    if not private:
        notes += [line for line in (_doc_line(value),) if line]
    return fit_block(name, label, [Section("", notes)], max_tokens)
