"""polars DataFrames and Series, summarized like pandas ones (polars itself is never imported here)."""

from __future__ import annotations

from typing import Any

from .blocks import Block, fmt_number
from .dataframes import (
    EDGE_ROWS,
    LOW_CARDINALITY,
    MAX_COLUMNS,
    SAMPLE_COLUMNS,
    SAMPLE_ROWS,
    SHOW_ROWS,
    TOP_VALUES,
    ColumnFacts,
    FrameFacts,
    _distinct_text,
    _dtype_tally,
    cell_text,
    column_name,
    frame_block,
    short,
)

_TOP_KINDS = ("String", "Utf8", "Categorical", "Enum", "Boolean")


def describe_polars_frame(
    df: Any, name: str, max_tokens: int, private: bool, kind: str = "polars.DataFrame", shape_text: str = ""
) -> Block:
    """Summarize a polars DataFrame within ``max_tokens``."""
    n_rows, n_cols = df.shape
    shown = df.select(df.columns[:MAX_COLUMNS]) if n_cols > MAX_COLUMNS else df
    sample, note = _sample(shown, n_rows)
    dtypes = (str(d).split("(")[0] if private else short(str(d), 40) for d in df.dtypes)
    notes = ["dtypes: " + _dtype_tally(dtypes)] + ([note] if note else [])
    nulls = shown.null_count().row(0)
    columns = [
        _column(sample.get_column(column), column, nulls[i], sample is not shown, private)
        for i, column in enumerate(shown.columns)
    ]
    facts = FrameFacts(kind, n_rows, n_cols, notes, columns, shape_text)
    if not private:
        view = shown.select(shown.columns[:SAMPLE_COLUMNS])
        facts.row_header = [column_name(c) for c in view.columns]
        both_ends = n_rows > 2 * SHOW_ROWS
        facts.head_rows = [
            [cell_text(v) for v in row] for row in (view.head(SHOW_ROWS) if both_ends else view).rows()
        ]
        facts.tail_rows = (
            [[cell_text(v) for v in row] for row in view.tail(SHOW_ROWS).rows()] if both_ends else []
        )
        which = f"first and last {SHOW_ROWS}" if both_ends else f"all {n_rows:,}"
        wide = f"; first {SAMPLE_COLUMNS} of {n_cols:,} columns" if n_cols > SAMPLE_COLUMNS else ""
        facts.rows_title = f"rows (CSV; {which} of {n_rows:,} rows{wide}):"
    return frame_block(facts, name, max_tokens, private)


def describe_polars_series(series: Any, name: str, max_tokens: int, private: bool) -> Block:
    """Summarize a polars Series (as a one-column frame) within ``max_tokens``."""
    dtype = str(series.dtype).split("(")[0] if private else short(str(series.dtype), 40)
    shape_text = f"{len(series):,} values, {dtype}"
    return describe_polars_frame(series.to_frame(), name, max_tokens, private, "polars.Series", shape_text)


def _sample(df: Any, n_rows: int) -> tuple[Any, str]:
    """The frame when small, else its first/last rows plus seeded random rows (as in ``dataframes``)."""
    if n_rows <= SAMPLE_ROWS:
        return df, ""
    import numpy as np

    middle = SAMPLE_ROWS - 2 * EDGE_ROWS
    picks = np.random.default_rng(0).choice(n_rows - 2 * EDGE_ROWS, size=middle, replace=False) + EDGE_ROWS
    positions = np.concatenate([np.arange(EDGE_ROWS), np.sort(picks), np.arange(n_rows - EDGE_ROWS, n_rows)])
    note = f"statistics from a {SAMPLE_ROWS:,}-row sample (first {EDGE_ROWS:,}, last {EDGE_ROWS:,} and {middle:,} seeded-random rows); ~ marks estimates"
    return df[positions], note  # row selection by positions: the same in every polars release


def _column(sample: Any, column: str, nulls: int, sampled: bool, private: bool) -> ColumnFacts:
    """One polars column's facts: exact null count (polars keeps it), the rest from the sample."""
    dtype_name = type(sample.dtype).__name__ if not isinstance(sample.dtype, type) else sample.dtype.__name__
    try:
        distinct = int(sample.n_unique()) - (1 if sample.null_count() else 0)
    except Exception:  # noqa: BLE001 - nested types may not hash
        distinct = -1
    dtype = (
        str(sample.dtype).split("(")[0] if private else str(sample.dtype)
    )  # Enum(categories=[...]) holds values
    facts = ColumnFacts(
        column_name(column), dtype, str(int(nulls)), _distinct_text(distinct, len(sample), sampled, False)
    )
    if private:
        return facts
    facts.stats = _stats(sample)
    if dtype_name in _TOP_KINDS and (
        dtype_name not in ("String", "Utf8") or 0 <= distinct <= LOW_CARDINALITY
    ):
        facts.top = _top(sample)
    return facts


def _stats(sample: Any) -> list[str] | None:
    """count, mean, std, min, quartiles, max of a numeric column (None for other dtypes)."""
    try:
        if not sample.dtype.is_numeric():
            return None
        if getattr(sample.dtype, "is_float", lambda: False)():
            sample = sample.fill_nan(None)  # polars keeps NaN as a value; pandas-like statistics skip it
        values = [
            len(sample) - sample.null_count(),
            sample.mean(),
            sample.std(),
            sample.min(),
            *(sample.quantile(q) for q in (0.25, 0.5, 0.75)),
            sample.max(),
        ]
    except Exception:  # noqa: BLE001 - dtype methods differ across polars versions
        return None
    return [fmt_number(v) if v is not None else "" for v in values]


def _top(sample: Any) -> str:
    """The commonest values and their share of non-null values, ties ordered by text."""
    try:
        pairs = [(value, int(count)) for value, count in sample.drop_nulls().value_counts().rows()]
    except Exception:  # noqa: BLE001 - value_counts' shape differs across polars versions
        return ""
    total = sum(count for _, count in pairs)
    if not total:
        return "(all null)"
    ranked = sorted(((count, str(value)) for value, count in pairs), key=lambda item: (-item[0], item[1]))
    text = ", ".join(f"{short(value, 30)} {100 * count / total:.1f}%" for count, value in ranked[:TOP_VALUES])
    return text + (f" (+{len(ranked) - TOP_VALUES:,} more values)" if len(ranked) > TOP_VALUES else "")
