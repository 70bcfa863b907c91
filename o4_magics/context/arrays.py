"""numpy arrays as blocks: shape, dtype, size, statistics from a strided sample, and a small corner."""

from __future__ import annotations

from typing import Any

from .blocks import Block, Section, fit_block, fmt_bytes, fmt_number, make_label, plural, short, type_name

SAMPLE_ELEMENTS = 1_000_000  # statistics of bigger arrays come from this many evenly spaced elements
CORNER_ROWS, CORNER_COLUMNS = 6, 8
EDGE_ITEMS = 10  # first and last items shown of a 1-D array


def strided_sample(array: Any) -> tuple[Any, bool]:
    """The array's elements, flat, or ``SAMPLE_ELEMENTS`` evenly spaced ones (never a copy of a big array)."""
    import numpy as np

    if array.size <= SAMPLE_ELEMENTS:
        return np.asarray(array).reshape(-1), False
    flat = np.linspace(0, array.size - 1, SAMPLE_ELEMENTS).astype(np.int64)
    return np.asarray(array[np.unravel_index(flat, array.shape)]), True


def array_stats(sample: Any, private: bool) -> list[str]:
    """Missing-value counts, and (not private) min/max/mean/std or true share, by the dtype's kind."""
    import numpy as np

    kind = sample.dtype.kind
    lines: list[str] = []
    if kind in "fc":
        nan = int(np.isnan(sample).sum())
        lines.append(f"nan: {nan:,}" + (f", inf: {int(np.isinf(sample).sum()):,}" if not private else ""))
    elif kind in "mM":
        lines.append(f"NaT: {int(np.isnat(sample).sum()):,}")
    if private or sample.size == 0:
        return lines
    if kind == "b":
        lines.append(f"true: {int(sample.sum()):,} ({100 * float(sample.mean()):.1f}%)")
    elif kind in "iuf":
        finite = sample[np.isfinite(sample)] if kind == "f" else sample
        if finite.size:
            values = (finite.min(), finite.max(), finite.mean(dtype=np.float64), finite.std(dtype=np.float64))
            lines.append("min {}, max {}, mean {}, std {}".format(*(fmt_number(v) for v in values)))
    elif kind in "mM":
        valid = sample[~np.isnat(sample)]
        if valid.size:
            lines.append(f"min {valid.min()}, max {valid.max()}")
    elif kind == "V" and sample.dtype.names:
        lines.append("fields: " + ", ".join(f"{n} ({sample.dtype.fields[n][0]})" for n in sample.dtype.names))
    return lines


def _to_text(array: Any) -> str:
    """A small array as numpy prints it (4 decimals, long text elements cut)."""
    import numpy as np

    formatter = None
    if array.dtype.kind in "OUSV":
        formatter = {"all": lambda item: short(repr(item.item() if hasattr(item, "item") else item), 40)}
    return np.array2string(
        array, precision=4, suppress_small=True, max_line_width=160, threshold=200, formatter=formatter
    )


def corner_lines(array: Any) -> tuple[str, list[str]]:
    """A title and the lines of the array's start: the first and last items (1-D) or a top-left corner."""
    if array.ndim == 0:
        return "value:", [short(repr(array.item()), 200)]
    if array.ndim == 1:
        if array.shape[0] <= 2 * EDGE_ITEMS:
            return "values:", _to_text(array[:]).split("\n")
        return f"first and last {EDGE_ITEMS}:", [
            _to_text(array[:EDGE_ITEMS]),
            "...",
            _to_text(array[-EDGE_ITEMS:]),
        ]
    lead = (0,) * (array.ndim - 2)
    corner = array[lead + (slice(0, CORNER_ROWS), slice(0, CORNER_COLUMNS))]
    where = ", ".join(
        [*map(str, lead), f":{min(CORNER_ROWS, array.shape[-2])}", f":{min(CORNER_COLUMNS, array.shape[-1])}"]
    )
    return f"corner [{where}]:", _to_text(corner).split("\n")


def describe_array(array: Any, name: str, max_tokens: int, private: bool) -> Block:
    """A numpy array: shape, dtype, memory, statistics (from a strided sample when big) and a corner."""
    shape = " x ".join(f"{n:,}" for n in array.shape) or "scalar"
    label = make_label(name, f"{type_name(type(array))}, {shape}, {array.dtype}")
    layout = (
        "C-contiguous"
        if array.flags.c_contiguous
        else "F-contiguous"
        if array.flags.f_contiguous
        else "strided view"
    )
    notes = [f"{plural(array.size, 'element')}, {fmt_bytes(array.nbytes)}, {layout}"]
    sample, sampled = strided_sample(array)
    if sampled:
        notes.append(f"statistics from {sample.size:,} evenly spaced elements (of {array.size:,})")
    notes += array_stats(sample, private)
    sections = [Section("", notes)]
    if not private:
        title, lines = corner_lines(array)
        sections.append(Section(title, lines, rank=1, what="lines"))
    return fit_block(name, label, sections, max_tokens, truncated=not private and not _all_shown(array))


def _all_shown(array: Any) -> bool:
    """Whether the values shown are the whole array."""
    if array.ndim <= 1:
        return array.size <= 2 * EDGE_ITEMS
    return array.ndim == 2 and array.shape[0] <= CORNER_ROWS and array.shape[1] <= CORNER_COLUMNS
