"""``%o4_explain``: what to explain (a value, the last error, the last output or image) and the default question."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError

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
    "object": "Explain this object: what it is, what it holds, and how to use it.",
}


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
    if module == "numpy" and name == "ndarray":
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


def _failure_target(failure: Any, builder: Any) -> ExplainTarget:
    source = failure.source.rstrip()
    blocks = [
        builder.describe(type(failure.exception).__name__, failure.exception),
        f"### Source of the failing cell [{failure.cell}]\n\n````python\n{source}\n````",
    ]
    return ExplainTarget(QUESTIONS["exception"], text_blocks=blocks)


def _value_target(name: str, value: Any, builder: Any, question: str) -> ExplainTarget:
    kind = kind_of(value)
    target = ExplainTarget(question or QUESTIONS[kind])
    if kind in ("figure", "image"):
        target.image_values.append(value)
    if kind != "image" or not isinstance(value, bytes):
        target.text_blocks.append(builder.describe(name, value))
    return target


def choose_target(magics: Any, builder: Any, expr: str, question: str) -> ExplainTarget:
    """Resolve what to explain: EXPR if given, else the last error, else the newest of `_` and the last image."""
    from .interp import resolve

    if expr:
        return _value_target(expr, resolve(expr, builder.namespaces), builder, question)
    capture = getattr(magics, "capture", None)
    if capture is not None and capture.last_cell_failed and capture.last_failure is not None:
        target = _failure_target(capture.last_failure, builder)
        target.question = question or target.question
        return target
    user_ns = magics.shell.user_ns
    outputs = user_ns.get("Out") or {}
    last_output_cell = max(outputs) if outputs else -1
    image = capture.last_image() if capture is not None else None
    if image is not None and (image.cell or 0) >= last_output_cell:
        return ExplainTarget(question or QUESTIONS["figure"], image_values=[image.data])
    if last_output_cell >= 0:
        return _value_target("_", outputs[last_output_cell], builder, question)
    raise UsageError("nothing to explain: give a name (%o4_explain df), or run it after a failing cell or a plot.")
