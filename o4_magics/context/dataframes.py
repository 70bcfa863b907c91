"""pandas DataFrames and Series as compact summaries: shape, dtypes, nulls, statistics, a head/tail sample.

Large frames are summarized from a bounded, deterministic sample (first and last rows plus a seeded random
draw), so a 10-million-row frame costs a fraction of a second; wide frames list their first columns only.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from .blocks import Block, Section, fit_block, fmt_number, make_label, short

SAMPLE_ROWS = 100_000  # rows that statistics are computed on, at most
EDGE_ROWS = 5_000  # first and last rows always in that sample
MAX_COLUMNS = 50  # columns listed and summarized
SAMPLE_COLUMNS = 20  # columns in the shown rows
SHOW_ROWS = 5  # rows shown from each end
TOP_VALUES = 5
LOW_CARDINALITY = 50  # columns with at most this many distinct values get "top values"
STAT_KEYS = ("count", "mean", "std", "min", "25%", "50%", "75%", "max")


@dataclass
class ColumnFacts:
    """What a block says about one column (already formatted)."""

    name: str
    dtype: str
    nulls: str
    distinct: str
    stats: list[str] | None = None
    top: str | None = None


@dataclass
class FrameFacts:
    """A frame's summary, library-neutral, ready to render."""

    kind: str
    n_rows: int
    n_cols: int
    notes: list[str]
    columns: list[ColumnFacts]
    shape_text: str = ""
    row_header: list[str] = field(default_factory=list)
    head_rows: list[list[str]] = field(default_factory=list)
    tail_rows: list[list[str]] = field(default_factory=list)
    rows_title: str = ""


def csv_line(cells: list[str]) -> str:
    """One CSV line (quoted only where needed)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


def column_name(column: Any) -> str:
    """A column label as text (MultiIndex tuples joined with ``/``)."""
    if isinstance(column, tuple):
        return short("/".join(map(str, column)), 60)
    return short(str(column), 60)


def cell_text(value: Any) -> str:
    """One cell for the sample rows: missing as NaN, floats to 6 significant digits, text cut to 40 chars."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return "NaN"
    if isinstance(value, float) or (type(value).__module__ == "numpy" and "float" in type(value).__name__):
        return "NaN" if value != value else f"{float(value):.6g}"
    return short(str(value), 40)


def frame_block(facts: FrameFacts, name: str, max_tokens: int, private: bool) -> Block:
    """Render ``facts`` as sections and fit them into the budget (sample rows go first, then top values)."""
    label = make_label(name, f"{facts.kind}, {facts.shape_text or f'{facts.n_rows:,} x {facts.n_cols:,}'}")
    columns = [csv_line([c.name, c.dtype, c.nulls, c.distinct]) for c in facts.columns]
    sections = [
        Section("", facts.notes),
        Section(
            "columns (name,dtype,nulls,distinct):",
            columns,
            rank=1,
            what="columns",
            omitted=facts.n_cols - len(columns),
            floor=10,
        ),
    ]
    if not private:
        stats = [csv_line([c.name, *c.stats]) for c in facts.columns if c.stats]
        header = f"numeric summary ({','.join(('column',) + STAT_KEYS)}):"
        sections.append(Section(header, stats, rank=2, what="numeric columns", floor=5))
        tops = [f"{c.name}: {c.top}" for c in facts.columns if c.top]
        sections.append(
            Section(
                "top values (share of non-null values):", tops, rank=3, what="columns' top values", floor=3
            )
        )
        rows = [csv_line(r) for r in facts.head_rows + facts.tail_rows]
        if rows:
            sections.append(
                Section(
                    facts.rows_title,
                    rows,
                    rank=4,
                    what="rows",
                    split=len(facts.head_rows),
                    omitted=facts.n_rows - len(rows),
                    header=[csv_line(facts.row_header)],
                    floor=4,
                )
            )
    return fit_block(name, label, sections, max_tokens)


def describe_pandas_frame(
    df: Any, name: str, max_tokens: int, private: bool, kind: str = "pandas.DataFrame"
) -> Block:
    """Summarize a pandas DataFrame within ``max_tokens``."""
    return frame_block(pandas_frame_facts(df, kind, private), name, max_tokens, private)


def describe_pandas_series(series: Any, name: str, max_tokens: int, private: bool) -> Block:
    """Summarize a pandas Series (as a one-column frame) within ``max_tokens``."""
    column = series.name if series.name is not None else name or "value"
    facts = pandas_frame_facts(series.to_frame(name=column), "pandas.Series", private)
    facts.shape_text = f"{len(series):,} values, {dtype_text(series.dtype, private)}"
    facts.notes = [note for note in facts.notes if not note.startswith("dtypes: ")]
    return frame_block(facts, name, max_tokens, private)


def pandas_frame_facts(df: Any, kind: str, private: bool) -> FrameFacts:
    """Collect a pandas frame's facts, computing statistics on a bounded sample of its first columns."""
    n_rows, n_cols = df.shape
    shown = df.iloc[:, :MAX_COLUMNS] if n_cols > MAX_COLUMNS else df
    sample, sample_note = _pandas_sample(shown, n_rows)
    sampled = sample is not shown
    notes = [
        _index_line(df.index, private),
        "dtypes: " + _dtype_tally(dtype_text(d, private) for d in df.dtypes),
    ]
    if type(df.columns).__name__ == "MultiIndex":
        notes.append(f"columns: MultiIndex with {df.columns.nlevels} levels, names joined with '/'")
    if sample_note:
        notes.append(sample_note)
    columns = [
        _pandas_column(shown.iloc[:, i], sample.iloc[:, i], name, n_rows, sampled, private)
        for i, name in enumerate(shown.columns)
    ]
    facts = FrameFacts(kind, n_rows, n_cols, notes, columns)
    if not private:
        _pandas_rows(shown, facts)
    return facts


def _pandas_sample(df: Any, n_rows: int) -> tuple[Any, str]:
    """The frame itself when small, else its first/last ``EDGE_ROWS`` plus seeded random rows, and a note."""
    if n_rows <= SAMPLE_ROWS:
        return df, ""
    import numpy as np

    middle = SAMPLE_ROWS - 2 * EDGE_ROWS
    rng = np.random.default_rng(0)
    picks = rng.choice(n_rows - 2 * EDGE_ROWS, size=middle, replace=False) + EDGE_ROWS
    positions = np.concatenate([np.arange(EDGE_ROWS), np.sort(picks), np.arange(n_rows - EDGE_ROWS, n_rows)])
    note = (
        f"statistics from a {SAMPLE_ROWS:,}-row sample (first {EDGE_ROWS:,}, last {EDGE_ROWS:,} and {middle:,} "
        "seeded-random rows); ~ marks estimates"
    )
    return df.take(positions), note


def _index_line(index: Any, private: bool) -> str:
    """The index's kind (and its range when not private)."""
    kind = type(index).__name__
    label = f" '{short(str(index.name), 40)}'" if index.name is not None else ""
    if kind == "RangeIndex":
        step = f" step {index.step:,}" if index.step != 1 else ""
        if len(index) == 0:
            return "index: RangeIndex (empty)"
        return f"index{label}: RangeIndex {index[0]:,} to {index[-1]:,}{step}"
    text = f"index{label}: {kind} ({index.dtype})"
    if not private and len(index) and kind in ("DatetimeIndex", "PeriodIndex", "TimedeltaIndex"):
        text += f", {index.min()} to {index.max()}"
    return text


def _dtype_tally(dtypes: Any) -> str:
    """``float64 6, int64 4, ...``: each dtype and how many columns have it, commonest first."""
    counts: dict[str, int] = {}
    for dtype in dtypes:
        counts[dtype] = counts.get(dtype, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{dtype} {count:,}" for dtype, count in ordered) or "(no columns)"


def dtype_text(dtype: Any, private: bool) -> str:
    """A column's dtype as text: ``string[pyarrow]`` for string columns; private: no sparse fill value."""
    kind = type(dtype).__name__
    if (
        kind == "StringDtype" and str(dtype) == "string"
    ):  # the NA-flavoured one (pandas 3's default prints "str")
        return f"string[{getattr(dtype, 'storage', 'python')}]"
    if kind == "SparseDtype" and private:
        return f"Sparse[{dtype.subtype}]"  # the text form also names the fill value
    return str(dtype)


def _exact_nulls(column: Any) -> int | None:
    """The column's null count when it is cheap to get exactly on the full column, else None."""
    import numpy as np

    dtype = column.dtype
    kind = getattr(dtype, "kind", "O")
    if isinstance(dtype, np.dtype):
        if kind in "biu":
            return 0
        return int(column.isna().sum()) if kind in "fcmM" else None
    if type(dtype).__name__ == "StringDtype" and getattr(dtype, "storage", "") == "python":
        return None
    return int(column.isna().sum())


def _pandas_column(
    column: Any, sample: Any, name: Any, n_rows: int, sampled: bool, private: bool
) -> ColumnFacts:
    """One column's facts: nulls exact where cheap, distinct counts and statistics from the sample."""
    dtype = column.dtype
    exact = _exact_nulls(column) if sampled else int(column.isna().sum())
    if exact is None:
        share = float(sample.isna().mean()) if len(sample) else 0.0
        nulls = f"~{round(share * n_rows)}"
    else:
        nulls = str(exact)
    is_category = type(dtype).__name__ == "CategoricalDtype"
    try:
        distinct_count = len(dtype.categories) if is_category else int(sample.nunique(dropna=True))
    except TypeError:  # unhashable cells (lists, dicts)
        distinct_count = -1
    facts = ColumnFacts(
        column_name(name),
        dtype_text(dtype, private),
        nulls,
        _distinct_text(distinct_count, len(sample), sampled, is_category),
    )
    if not private:
        facts.stats = _pandas_stats(sample, dtype)
        kind = getattr(dtype, "kind", "O")
        if is_category or kind == "b" or (kind in "OSU" and 0 <= distinct_count <= LOW_CARDINALITY):
            facts.top = _top_values(sample)
    return facts


def _distinct_text(count: int, sample_rows: int, sampled: bool, is_category: bool) -> str:
    """Distinct values as a cardinality: exact, ``~N`` from the sample, or ``>=N`` when nearly all differ."""
    if count < 0:
        return "?"
    if is_category:
        return f"{count} categories"
    if not sampled:
        return str(count)
    return f">={count}" if count > sample_rows // 2 else f"~{count}"


def _pandas_stats(sample: Any, dtype: Any) -> list[str] | None:
    """count, mean, std, min, quartiles, max of a numeric or datetime column (None for other kinds)."""
    kind = getattr(dtype, "kind", "O")
    if kind not in "iufmM":
        return None
    try:
        described = sample.describe()
    except (TypeError, ValueError):
        return None
    values = {str(key): value for key, value in described.items()}
    return [
        fmt_number(values[key]) if kind in "iuf" else short(str(values.get(key, "")), 30) for key in STAT_KEYS
    ]


def _top_values(sample: Any) -> str:
    """``a 40.1%, b 30.0%, ... (+N more values)``: the commonest values by share (ties ordered by text)."""
    try:
        counts = sample.value_counts(dropna=True)
    except TypeError:
        return ""
    total = int(counts.sum())
    if not total:
        return "(all null)"
    ranked = sorted(
        ((int(n), str(value)) for value, n in counts.items()), key=lambda item: (-item[0], item[1])
    )
    text = ", ".join(f"{short(value, 30)} {100 * n / total:.1f}%" for n, value in ranked[:TOP_VALUES])
    if len(ranked) > TOP_VALUES:
        text += f" (+{len(ranked) - TOP_VALUES:,} more values)"
    return text


def _pandas_rows(df: Any, facts: FrameFacts) -> None:
    """Fill the head/tail sample rows (first ``SAMPLE_COLUMNS`` columns) into ``facts``."""
    n_rows, n_cols = facts.n_rows, facts.n_cols
    view = df.iloc[:, :SAMPLE_COLUMNS]
    facts.row_header = [column_name(df.index.name or "")] + [column_name(c) for c in view.columns]
    head = view.iloc[:SHOW_ROWS] if n_rows > 2 * SHOW_ROWS else view
    tail = view.iloc[n_rows - SHOW_ROWS :] if n_rows > 2 * SHOW_ROWS else view.iloc[:0]
    facts.head_rows = [[cell_text(v) for v in row] for row in head.itertuples(index=True, name=None)]
    facts.tail_rows = [[cell_text(v) for v in row] for row in tail.itertuples(index=True, name=None)]
    which = f"first and last {SHOW_ROWS}" if n_rows > 2 * SHOW_ROWS else f"all {n_rows:,}"
    columns = f"; first {SAMPLE_COLUMNS} of {n_cols:,} columns" if n_cols > SAMPLE_COLUMNS else ""
    facts.rows_title = f"rows (CSV with index; {which} of {n_rows:,} rows{columns}):"
