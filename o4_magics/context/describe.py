"""``describe_value``: pick a describer by the value's kind (type module and name; no library is imported)."""

from __future__ import annotations

import collections
import types
from collections.abc import Callable
from typing import Any

from . import arrays, dataframes, figures, images, objects, polars_frames, sources
from .blocks import Block, Section, fit_block, make_label, short, type_name

Describer = Callable[[Any, str, int, bool], Block]

# (top-level package, class name) of the value's type or one of its bases -> describer
_BY_LIBRARY_TYPE: dict[tuple[str, str], Describer] = {
    ("pandas", "DataFrame"): dataframes.describe_pandas_frame,
    ("pandas", "Series"): dataframes.describe_pandas_series,
    ("polars", "DataFrame"): polars_frames.describe_polars_frame,
    ("polars", "Series"): polars_frames.describe_polars_series,
    ("numpy", "ndarray"): arrays.describe_array,
    ("matplotlib", "Figure"): figures.describe_figure,
    ("matplotlib", "SubFigure"): figures.describe_figure,
    ("matplotlib", "Axes"): figures.describe_axes,
    ("PIL", "Image"): images.describe_image,
}

# checked in order with isinstance, after the library types
_BY_BUILTIN_TYPE: list[tuple[type | tuple[type, ...], Describer]] = [
    (BaseException, sources.describe_exception),
    (type, sources.describe_class),
    (types.ModuleType, sources.describe_module),
    ((types.FunctionType, types.BuiltinFunctionType, types.MethodType), sources.describe_function),
    (str, objects.describe_string),
    ((bytes, bytearray), objects.describe_bytes),
    ((dict, list, tuple, set, frozenset, collections.deque), objects.describe_collection),
]


def describer_for(value: Any) -> Describer:
    """The describer for ``value``'s kind; ``describe_generic`` when none is more specific."""
    for cls in type(value).__mro__:
        found = _BY_LIBRARY_TYPE.get((cls.__module__.split(".")[0], cls.__name__))
        if found is not None:
            return found
    for kinds, describer in _BY_BUILTIN_TYPE:
        if isinstance(value, kinds):
            return describer
    return objects.describe_generic


def describe_value(value: Any, name: str = "value", max_tokens: int = 2000, private: bool = False) -> Block:
    """Describe ``value`` as a labelled block of at most ``max_tokens`` estimated tokens.

    ``private=True`` keeps cell contents out: names, types, shapes, dtypes, null counts and cardinalities only.
    """
    describer = describer_for(value)
    try:
        return describer(value, name, max_tokens, private)
    except Exception as error:  # noqa: BLE001 - a summary must never break the request; fall back to repr
        reason = _reason(error, private)
    if describer is not objects.describe_generic:
        try:
            fallback = objects.describe_generic(value, name, max_tokens, private)
        except Exception:  # noqa: BLE001 - even the generic description failed: say so below
            fallback = None
        if fallback is not None:
            note = f"[detailed summary failed ({reason}); generic description follows]"
            body = fallback.text.split("\n")[1:]
            sections = [Section("", [note]), Section("", body, rank=1)]
            return fit_block(name, fallback.label, sections, max_tokens, fallback.truncated)
    label = make_label(name, type_name(type(value)))
    return fit_block(name, label, [Section("", [f"[could not describe this value: {reason}]"])], max_tokens)


def _reason(error: Exception, private: bool) -> str:
    """``TypeError: message`` (private: the type only, since messages may quote values)."""
    if private:
        return type(error).__name__
    try:
        return f"{type(error).__name__}: {short(str(error), 120)}"
    except Exception:  # noqa: BLE001 - str() of an exception may fail too
        return type(error).__name__
