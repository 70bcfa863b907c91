"""``%o4_explain``: what to explain (a value, the last error or warning, the last output or image) and the
default question for it."""

from __future__ import annotations

import difflib
import io
import tokenize
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError

from .interp import CHAIN, resolve

QUESTIONS = {
    "dataframe": (
        "Explain this dataframe: its structure, data quality issues (missing values, odd types, outliers, "
        "duplicates), notable patterns, and the next analysis steps you would take."
    ),
    "series": "Explain this data: what it holds, its distribution, any quality issues, and what to look at next.",
    "array": "Explain this array: what it likely holds, its distribution, anything unusual, and what to look at next.",
    "figure": "Explain this plot: what it shows, what stands out, and how to improve it (clarity, labels, chart choice).",
    "image": "Describe this image: what it shows and anything notable in it.",
    "exception": "Explain this error: what caused it, where, and how to fix the code. Show the corrected code.",
    "syntax": "Explain this syntax error: what is wrong in the cell and how to fix it. Show the corrected code.",
    "interrupted": (
        "This cell was interrupted by the user (KeyboardInterrupt) while it ran. From the traceback, say where "
        "it was running and why it may be slow or stuck, and how to make it faster."
    ),
    "warning": "Explain these warnings: what causes them, whether they matter here, and how to fix the code.",
    "object": "Explain this object: what it is, what it holds, and how to use it.",
}
#: A line starting with one of these is a question about the last error or output, not a name.
QUESTION_WORDS = frozenset(
    "why what how is are was were can could does do did should would which where when who whom whose please "
    "explain tell describe summarize summarise help fix".split()
)


def kind_of(value: Any) -> str:
    """The explain kind of a value, judged by its type's module and name (no imports)."""
    cls = type(value)
    module, name = cls.__module__.split(".")[0], cls.__name__
    if isinstance(value, BaseException):
        return "exception"
    if module in ("pandas", "polars") and name in ("DataFrame", "LazyFrame"):
        return "dataframe"
    if module in ("pandas", "polars") and name == "Series":
        return "series"
    if module == "numpy" and name in ("ndarray", "MaskedArray"):
        is_picture = value.ndim == 3 and value.shape[-1] in (3, 4) and str(value.dtype) == "uint8"
        return "image" if is_picture else "array"
    if module == "matplotlib" and (name == "Figure" or "Axes" in name):
        return "figure"
    if module == "PIL" or (isinstance(value, bytes) and value[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1")):
        return "image"
    return "object"


@dataclass
class ExplainTarget:
    """What ``%o4_explain`` sends: blocks of text, images to attach, and the question."""

    question: str
    text_blocks: list[str] = field(default_factory=list)
    image_values: list[Any] = field(default_factory=list)  # things to_image_part accepts


def mask_literals(source: str) -> str:
    """``source`` with its string and number literals (and comments) replaced by ``<str>``, ``<num>`` and
    ``# <comment>`` (for --private): the code's structure stays readable, the values in it do not leave."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    spans: list[tuple[int, int, str]] = []
    kinds = {tokenize.STRING: '"<str>"', tokenize.NUMBER: "<num>", tokenize.COMMENT: "# <comment>"}
    middle = getattr(tokenize, "FSTRING_MIDDLE", None)
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            replacement = kinds.get(token.type) or ("<str>" if middle is not None and token.type == middle else None)
            if replacement is not None:
                (row1, col1), (row2, col2) = token.start, token.end
                spans.append((starts[row1 - 1] + col1, starts[row2 - 1] + col2, replacement))
    except (tokenize.TokenError, IndentationError, SyntaxError, IndexError):
        return "[the cell's source is withheld: --private]"
    pieces, position = [], 0
    for start, end, replacement in spans:
        pieces += [source[position:start], replacement]
        position = end
    pieces.append(source[position:])
    return "".join(pieces)


def _source_block(cell: Any, source: str, private: bool) -> str:
    shown = mask_literals(source.rstrip()) if private else source.rstrip()
    note = " (literals masked: --private)" if private else ""
    fence = "`" * max(4, _longest_backticks(shown) + 1)
    return f"### Source of the failing cell [{cell}]{note}\n\n{fence}python\n{shown}\n{fence}"


def _longest_backticks(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return longest


def _failure_target(failure: Any, builder: Any) -> ExplainTarget:
    error = failure.exception
    kind = "interrupted" if isinstance(error, KeyboardInterrupt) else "syntax" if failure.before_exec else "exception"
    blocks = [
        builder.describe(type(error).__name__, error),
        _source_block(failure.cell, failure.source, builder.private),
    ]
    return ExplainTarget(QUESTIONS[kind], text_blocks=blocks)


def _warning_target(warned: Any, builder: Any) -> ExplainTarget:
    if builder.private:
        listed = "\n".join(f"- {message.split(':', 1)[0]}" for message in warned.messages)
    else:
        listed = "\n".join(f"- {message}" for message in warned.messages)
    block = f"### Warnings of cell [{warned.cell}]\n\n{listed}"
    return ExplainTarget(QUESTIONS["warning"], text_blocks=[block, _source_block(warned.cell, warned.source, builder.private)])


def _value_target(name: str, value: Any, builder: Any, question: str) -> ExplainTarget:
    kind = kind_of(value)
    target = ExplainTarget(question or QUESTIONS[kind])
    if kind in ("figure", "image") and not builder.private:
        target.image_values.append(value)
    if kind != "image" or not isinstance(value, bytes):
        target.text_blocks.append(builder.describe(name, value))
    return target


def split_target(line: str, namespaces: list[dict[str, Any]]) -> tuple[str, str]:
    """``EXPR [QUESTION]`` → (expr, question); expr is "" when the line is only a question.

    EXPR is the longest name/attribute/subscript chain at the start (``d['my key']`` included); a trailing
    ``?`` after it is IPython habit, not a question. An unknown single name is an error with suggestions,
    not a question (``%o4_explain salse`` must not explain ``_``), unless the line reads as a question.
    """
    line = line.strip()
    match = CHAIN.match(line)
    if not match:
        return "", line
    expr, rest = match.group(0).strip(), line[match.end():].strip()
    if rest.startswith("?"):
        rest = rest[1:].strip()
    root = expr.split(".", 1)[0].split("[", 1)[0].strip()
    if any(root in namespace for namespace in namespaces):
        return expr, rest
    if root.lower() in QUESTION_WORDS:
        return "", line
    names = sorted({name for namespace in namespaces for name in namespace if not name.startswith("_")})
    close = difflib.get_close_matches(root, names, n=3)
    hint = f" Did you mean {', '.join(repr(name) for name in close)}?" if close else ""
    raise UsageError(f"name {root!r} is not defined; nothing was sent.{hint}")


def choose_target(magics: Any, builder: Any, expr: str, question: str) -> ExplainTarget:
    """Resolve what to explain: EXPR if given, else the last error or warnings, else the newest of ``_`` and
    the last image."""
    if expr:
        return _value_target(expr, resolve(expr, builder.namespaces), builder, question)
    capture = getattr(magics, "capture", None)
    if capture is not None and capture.last_cell_failed and capture.last_failure is not None:
        target = _failure_target(capture.last_failure, builder)
        target.question = question or target.question
        return target
    if capture is not None and getattr(capture, "last_warnings", None) is not None:
        target = _warning_target(capture.last_warnings, builder)
        target.question = question or target.question
        return target
    user_ns = magics.shell.user_ns
    outputs = user_ns.get("Out") or {}
    last_output_cell = max(outputs) if outputs else -1
    image = capture.last_image() if capture is not None else None
    if image is not None and (image.cell or 0) >= last_output_cell and not builder.private:
        return ExplainTarget(question or QUESTIONS["figure"], image_values=[image.data])
    if last_output_cell >= 0:
        return _value_target("_", outputs[last_output_cell], builder, question)
    raise UsageError("nothing to explain: give a name (%o4_explain df), or run it after a failing cell or a plot.")
