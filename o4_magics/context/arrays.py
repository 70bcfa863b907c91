"""numpy arrays as blocks: shape, dtype, size, statistics from a strided sample, and a small corner.

Masked arrays count their masked cells, compute statistics over the unmasked ones and print masked cells as
``--`` (numpy's notation); a 0-d array is described as the object it holds.
"""

from __future__ import annotations

from typing import Any

from .blocks import Block, Section, fit_block, fmt_bytes, fmt_number, make_label, plural, short, type_name
from .tokens import estimate_tokens

SAMPLE_ELEMENTS = 1_000_000  # statistics of bigger arrays come from this many evenly spaced elements
CORNER_ROWS, CORNER_COLUMNS = 6, 8
EDGE_ITEMS = 10  # first and last items shown of a 1-D array


def element_mask(array: Any) -> Any:
    """A masked array's mask as one bool per element (a record counts as masked when any field is)."""
    import numpy as np

    mask = np.ma.getmaskarray(array)
    if mask.dtype.names:
        return np.logical_or.reduce(
            [element_mask(np.ma.masked_array(mask[n], mask[n])) for n in mask.dtype.names]
        )
    return mask


def strided_sample(array: Any) -> tuple[Any, bool]:
    """The array's elements, flat, or ``SAMPLE_ELEMENTS`` evenly spaced ones (never a copy of a big array).

    For a masked array, only the unmasked elements of that sample.
    """
    import numpy as np

    data = np.ma.getdata(array)
    mask = element_mask(array) if np.ma.isMaskedArray(array) else np.ma.nomask
    sampled = array.size > SAMPLE_ELEMENTS
    if sampled:
        where = np.unravel_index(
            np.linspace(0, array.size - 1, SAMPLE_ELEMENTS).astype(np.int64), array.shape
        )
        data = data[where]
        mask = mask if mask is np.ma.nomask else mask[where]
    flat = np.asarray(data).reshape(-1)
    if mask is not np.ma.nomask:
        flat = flat[~np.asarray(mask).reshape(-1)]
    return flat, sampled


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
    """A small array as numpy prints it (4 decimals, long text elements cut, masked cells as ``--``)."""
    import numpy as np

    formatter = None
    if array.dtype.kind in "OUSV":
        formatter = {"all": lambda item: short(repr(item.item() if hasattr(item, "item") else item), 40)}
    if np.ma.isMaskedArray(array):
        if formatter is None:  # numbers: numpy's own masked printing, ``--`` for masked cells
            with np.printoptions(precision=4, suppress=True, linewidth=160, threshold=200):
                return str(array)
        mask = element_mask(array)
        shown = np.empty(array.shape, dtype=object)
        for index, item in np.ndenumerate(np.ma.getdata(array)):
            shown[index] = "--" if mask[index] else formatter["all"](item)
        return np.array2string(shown, max_line_width=160, threshold=200, formatter={"all": str})
    return np.array2string(
        array, precision=4, suppress_small=True, max_line_width=160, threshold=200, formatter=formatter
    )


def corner_lines(array: Any) -> tuple[str, list[str]]:
    """A title and the lines of the array's start: the first and last items (1-D) or a top-left corner."""
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
    import numpy as np

    if array.ndim == 0:
        return _describe_zero_d(array, name, max_tokens, private)
    shape = " x ".join(f"{n:,}" for n in array.shape)
    label = make_label(name, f"{type_name(type(array))}, {shape}, {array.dtype}")
    layout = (
        "C-contiguous"
        if array.flags.c_contiguous
        else "F-contiguous"
        if array.flags.f_contiguous
        else "strided view"
    )
    notes = [f"{plural(array.size, 'element')}, {fmt_bytes(array.nbytes)}, {layout}"]
    if np.ma.isMaskedArray(array):
        masked = int(element_mask(array).sum())
        share = f" ({100 * masked / array.size:.1f}%)" if array.size else ""
        notes.append(f"masked: {masked:,}{share}; statistics over the unmasked elements, masked shown as --")
    sample, sampled = strided_sample(array)
    if sampled:
        notes.append(f"statistics from {SAMPLE_ELEMENTS:,} evenly spaced elements (of {array.size:,})")
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


def _describe_zero_d(array: Any, name: str, max_tokens: int, private: bool) -> Block:
    """A 0-d array: the object it holds, described as that object would be (within the same budget)."""
    import numpy as np

    from .describe import describe_value

    kind = f"{type_name(type(array))}, 0-d, {array.dtype}"
    if np.ma.isMaskedArray(array) and bool(element_mask(array)):
        return fit_block(name, make_label(name, kind), [Section("", ["value: -- (masked)"])], max_tokens)
    held = np.ma.getdata(array).item()
    label = make_label(name, f"{kind}, holding {type_name(type(held))}")
    inner = describe_value(held, name, max(1, max_tokens - estimate_tokens(label) - 1), private)
    body = inner.text.split("\n")  # the inner label says what the held object is: keep it as the first line
    body[0] = body[0].removeprefix("### ")
    return fit_block(name, label, [Section("", body)], max_tokens, inner.truncated)
