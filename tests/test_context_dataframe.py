"""DataFrames and Series as prompt blocks: what a model is sent, within budget, fast on 10 million rows."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from o4_magics.context import describe_value, estimate_tokens

N_ROWS = 10_000_000


def build_big_frame(n_rows: int = N_ROWS) -> pd.DataFrame:
    """20 mixed columns: ints, floats with NaNs, strings (object and str), categoricals, datetimes, bools."""
    rng = np.random.default_rng(42)
    base = rng.random(n_rows, dtype=np.float32)
    codes = rng.integers(0, 5000, n_rows, dtype=np.int32)
    price = rng.standard_normal(n_rows) * 10 + 100
    price[::97] = np.nan
    names = np.array([f"user_{i:05d}" for i in range(5000)], dtype=object)[codes]
    names[::101] = None
    columns = {
        "id": np.arange(n_rows, dtype=np.int64),
        "price": price,
        "qty": (base * 1000).astype(np.int32),
        "score": base,
        "city": pd.Categorical.from_codes(
            codes % 8, ["Paris", "London", "Berlin", "Madrid", "Rome", "Oslo", "Wien", "Riga"]
        ),
        "user": pd.Series(names, dtype=object),
        "when": np.datetime64("2020-01-01T00:00:00", "s")
        + (codes.astype(np.int64) * 86_000).astype("timedelta64[s]"),
        "flag": base < 0.3,
        "status": pd.Categorical.from_codes(codes % 3, ["new", "open", "closed"]),
        "small": (codes % 10 - 5).astype(np.int8),
    }
    for i in range(10):
        columns[f"x{i}"] = (price * (i + 1)).astype(np.float32) if i % 2 else codes.astype(np.int64) * (i + 1)
    return pd.DataFrame(columns, copy=False)  # no block consolidation: seconds faster to build


@pytest.fixture(scope="module")
def big_frame() -> pd.DataFrame:
    return build_big_frame()


@pytest.fixture(scope="module")
def big_block(big_frame):
    return describe_value(big_frame, name="df", max_tokens=2000)


def test_ten_million_rows_are_described_within_budget(big_frame, big_block):
    block = big_block
    assert block.label == "### df (pandas.DataFrame, 10,000,000 x 20)"
    assert block.text.startswith(block.label + "\n")
    assert block.name == "df"
    assert block.tokens == estimate_tokens(block.text) <= 2000
    assert block.truncated
    for column in big_frame.columns:
        assert f"\n{column}," in block.text, column
    assert "statistics from a 100,000-row sample" in block.text
    assert "more rows not shown]" in block.text
    assert (
        "dtypes: float32 6, int64 6, category 2, bool 1, datetime64[s] 1, float64 1, int32 1, int8 1, object 1"
        in block.text
    )


def test_big_frame_block_has_each_section(big_block):
    text = big_block.text
    assert "price,float64,103093," in text  # exact null count on the full 10M rows (cheap for floats)
    assert "\nuser,object,~" in text  # estimated from the sample for object columns
    assert "city,category,0,8 categories" in text
    assert "numeric summary (column,count,mean,std,min,25%,50%,75%,max):" in text
    assert "\nstatus: " in text and "%" in text  # top values of a low-cardinality column
    assert "\n9999999,9999999," in text  # the last row is in the tail sample


def test_identical_input_gives_identical_text(big_frame, big_block):
    assert describe_value(big_frame, name="df", max_tokens=2000).text == big_block.text


@pytest.mark.parametrize("max_tokens", [1, 10, 40, 120, 400, 900])
def test_budget_is_respected_and_cuts_are_said(big_frame, max_tokens):
    block = describe_value(big_frame, name="df", max_tokens=max_tokens)
    assert estimate_tokens(block.text) <= max_tokens
    assert block.truncated
    if max_tokens >= 40:
        assert block.text.startswith("### df (pandas.DataFrame, 10,000,000 x 20)")
        assert "omitted to fit the" in block.text or "not shown]" in block.text or "cut to fit" in block.text
    if max_tokens >= 400:
        assert "columns (name,dtype,nulls,distinct):" in block.text


def test_sample_rows_go_before_the_summary():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({f"c{i}": rng.standard_normal(500) for i in range(8)})
    full = describe_value(df, "df", max_tokens=5000)
    cut = describe_value(df, "df", max_tokens=full.tokens - 60)
    assert "numeric summary" in cut.text
    assert cut.text.count("\n") < full.text.count("\n")
    assert "more rows not shown]" in cut.text


def test_wide_frame_caps_columns_and_says_how_many_were_left_out():
    rng = np.random.default_rng(1)
    wide = pd.DataFrame(rng.standard_normal((200, 3000)), columns=[f"feature_{i}" for i in range(3000)])
    block = describe_value(wide, "wide")
    assert block.label == "### wide (pandas.DataFrame, 200 x 3,000)"
    assert "more columns not shown]" in block.text
    assert "dtypes: float64 3,000" in block.text
    assert block.tokens <= 2000


def test_small_frame_is_shown_whole():
    df = pd.DataFrame(
        {"name": ["ann", "bob", None], "age": [31, 45, 27], "city": pd.Categorical(["a", "b", "a"])}
    )
    block = describe_value(df, "people")
    assert not block.truncated
    assert block.label == "### people (pandas.DataFrame, 3 x 3)"
    assert "rows (CSV with index; all 3 of 3 rows):" in block.text
    assert "\n,name,age,city\n0,ann,31,a\n1,bob,45,b\n2,NaN,27,a" in block.text
    assert "age,3,34.33,9.452,27,29,31,38,45" in block.text
    assert "name,str,1,2" in block.text or "name,object,1,2" in block.text


def test_series_label_and_summary():
    series = pd.Series([1.5, 2.5, np.nan, 4.0], name="price", index=list("abcd"))
    block = describe_value(series, "s")
    assert block.label == "### s (pandas.Series, 4 values, float64)"
    assert "price,float64,1,3" in block.text
    assert "\nd,4" in block.text


PRIVATE_VALUES = [
    "LEAKY_alice",
    "LEAKY_bob",
    "98765.4321",
    "4242424242",
    "1999-12-31",
    "CATLEAK",
    "IDXLEAK",
    "77.125",
]


def _private_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": ["LEAKY_alice", "LEAKY_bob", "LEAKY_alice"],
            "salary": [98765.4321, 77.125, 98765.4321],
            "badge": [4242424242, 4242424242, 1],
            "hired": pd.to_datetime(["1999-12-31", "1999-12-31", "2001-01-01"]),
            "team": pd.Categorical(["CATLEAK_a", "CATLEAK_b", "CATLEAK_a"]),
        },
        index=["IDXLEAK_1", "IDXLEAK_2", "IDXLEAK_3"],
    )


@pytest.mark.parametrize("max_tokens", [50, 2000])
def test_private_mode_leaks_no_cell_value(max_tokens):
    df = _private_frame()
    texts = [
        describe_value(df, "df", max_tokens=max_tokens, private=True).text,
        describe_value(df["salary"], "s", max_tokens=max_tokens, private=True).text,
        describe_value(df["name"], "n", max_tokens=max_tokens, private=True).text,
    ]
    for text in texts:
        for secret in PRIVATE_VALUES:
            assert secret not in text, (secret, text)
    # ...but the structure is still there
    full = texts[0] if max_tokens == 2000 else describe_value(df, "df", private=True).text
    assert "### df (pandas.DataFrame, 3 x 5)" in full
    assert "salary,float64,0,2" in full and "team,category,0,2 categories" in full
    # and the same values do appear without private mode (so the test would catch a leak)
    public = describe_value(df, "df").text
    assert all(secret in public for secret in ["LEAKY_alice", "CATLEAK", "IDXLEAK"])


def test_private_big_frame_shows_structure_only(big_frame):
    block = describe_value(big_frame, "df", private=True)
    assert (
        "numeric summary" not in block.text
        and "rows (CSV" not in block.text
        and "top values" not in block.text
    )
    assert "user_0" not in block.text and "Paris" not in block.text
    assert "city,category,0,8 categories" in block.text


def test_awkward_frames_are_described_without_fallback():
    rng = np.random.default_rng(2)
    frames = {
        "empty": pd.DataFrame(),
        "no rows": pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype=object)}),
        "duplicate names": pd.DataFrame([[1, 2.0], [3, 4.0]], columns=["x", "x"]),
        "multiindex": pd.DataFrame(
            rng.random((4, 4)), columns=pd.MultiIndex.from_product([["a", "b"], ["x", "y"]])
        ),
        "lists in cells": pd.DataFrame({"tags": [["a"], ["b", "c"], []], "n": [1, 2, 3]}),
        "nullable": pd.DataFrame(
            {
                "i": pd.array([1, None, 3], dtype="Int64"),
                "b": pd.array([True, None, False], dtype="boolean"),
                "s": pd.array(["x", None, "z"], dtype="string"),
                "tz": pd.date_range("2024-01-01", periods=3, tz="Europe/Paris"),
                "td": pd.to_timedelta([1, 2, None], unit="h"),
            }
        ),
        "datetime index": pd.DataFrame(
            {"v": range(5)}, index=pd.date_range("2024-01-01", periods=5, name="day")
        ),
    }
    for label, df in frames.items():
        block = describe_value(df, "df", max_tokens=800)
        assert "summary failed" not in block.text, (label, block.text)
        assert block.tokens <= 800
        assert block.label.startswith(f"### df (pandas.DataFrame, {len(df):,} x {df.shape[1]:,})")
    assert "columns: MultiIndex with 2 levels" in describe_value(frames["multiindex"], "m").text
    assert "index 'day': DatetimeIndex" in describe_value(frames["datetime index"], "d").text


def test_top_values_are_stable_across_hash_seeds():
    # object-column value_counts order ties by hash; the block must not depend on PYTHONHASHSEED
    code = textwrap.dedent(
        """
        import pandas as pd
        from o4_magics.context import describe_value
        df = pd.DataFrame({"k": pd.Series(["pear", "fig", "kiwi", "plum", "lime", "date", "yuzu"] * 3, dtype=object)})
        print(describe_value(df, "df").text)
        """
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
    assert "k: date 14.3%, fig 14.3%, kiwi 14.3%, lime 14.3%, pear 14.3% (+2 more values)" in outputs.pop()


class _FakePolarsSeries:
    """Just enough of polars.Series, backed by pandas, to run the polars code path without polars."""

    def __init__(self, series: pd.Series) -> None:
        self._s = series
        kind = series.dtype.kind
        self.dtype = _FAKE_DTYPES["Float64" if kind == "f" else "Int64" if kind == "i" else "String"]()

    def __len__(self) -> int:
        return len(self._s)

    def n_unique(self) -> int:
        return self._s.nunique(dropna=False)

    def null_count(self) -> int:
        return int(self._s.isna().sum())

    def mean(self):
        return self._s.mean()

    def std(self):
        return self._s.std()

    def min(self):
        return self._s.min()

    def max(self):
        return self._s.max()

    def quantile(self, q):
        return self._s.quantile(q)

    def drop_nulls(self):
        return _FakePolarsSeries(self._s.dropna())

    def value_counts(self):
        return _FakePolarsFrame(self._s.value_counts().reset_index())


class _FakeDtype:
    numeric = True

    def is_numeric(self) -> bool:
        return self.numeric

    def __str__(self) -> str:
        return type(self).__name__


_FAKE_DTYPES = {
    "Float64": type("Float64", (_FakeDtype,), {}),
    "Int64": type("Int64", (_FakeDtype,), {}),
    "String": type("String", (_FakeDtype,), {"numeric": False}),
}


class _FakePolarsFrame:
    def __init__(self, df: pd.DataFrame) -> None:
        self._df = df.reset_index(drop=True)
        self.shape = df.shape
        self.columns = list(df.columns)
        self.dtypes = [self.get_column(c).dtype for c in self.columns]

    def select(self, columns):
        return _FakePolarsFrame(self._df[list(columns)])

    def null_count(self):
        return _FakePolarsFrame(self._df.isna().sum().to_frame().T)

    def row(self, index):
        return tuple(self._df.iloc[index])

    def rows(self):
        return list(self._df.itertuples(index=False, name=None))

    def get_column(self, name):
        return _FakePolarsSeries(self._df[name])

    def __getitem__(self, positions):  # rows by position, as ``df[np.array([...])]`` in every polars release
        return _FakePolarsFrame(self._df.iloc[positions])

    def head(self, n):
        return _FakePolarsFrame(self._df.head(n))

    def tail(self, n):
        return _FakePolarsFrame(self._df.tail(n))


_FakePolarsFrame.__name__ = "DataFrame"
_FakePolarsFrame.__module__ = "polars.dataframe.frame"


def test_polars_code_path_with_a_stand_in():
    df = pd.DataFrame(
        {"a": np.arange(200_000) % 7, "b": np.linspace(0, 1, 200_000), "c": ["x", "y"] * 100_000}
    )
    block = describe_value(_FakePolarsFrame(df), "pl_df", max_tokens=1500)
    assert block.label == "### pl_df (polars.DataFrame, 200,000 x 3)"
    assert "summary failed" not in block.text
    assert "statistics from a 100,000-row sample" in block.text
    assert "\nc: y 50.1%, x 49.9%" in block.text
    assert "\na,Int64,0,~7" in block.text
    assert block.tokens <= 1500


def test_real_polars_frame():
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({"a": [1, 2, None], "s": ["x", "y", "x"]})
    block = describe_value(df, "p")
    assert block.label == "### p (polars.DataFrame, 3 x 2)"
    assert "summary failed" not in block.text
    assert "a,Int64,1,2" in block.text
    assert "LEAK" not in describe_value(pl.DataFrame({"s": ["LEAK"]}), "p", private=True).text


def _nullable_frame(n_rows: int) -> pd.DataFrame:
    """Masked (nullable) pandas dtypes: a null in every 4th row."""
    pattern = n_rows // 4
    frame = pd.DataFrame(
        {
            "i": pd.array([1, None, 3, 4] * pattern, dtype="Int64"),
            "f": pd.array([1.5, None, 2.5, 4.0] * pattern, dtype="Float64"),
            "b": pd.array([True, None, False, True] * pattern, dtype="boolean"),
            "s": pd.array(["x", None, "y", "x"] * pattern, dtype="string[python]"),
        }
    )
    if importlib.util.find_spec("pyarrow"):
        frame["a"] = pd.array(["x", None, "y", "x"] * pattern, dtype="string[pyarrow]")
    return frame


def test_nullable_dtypes_have_exact_nulls_and_statistics():
    block = describe_value(_nullable_frame(8), "df", max_tokens=3000)
    assert "\ni,Int64,2,3\nf,Float64,2,3\nb,boolean,2,2\ns,string[python],2,2" in block.text
    # statistics over the 6 non-null values only (1, 3, 4 twice; 1.5, 2.5, 4.0 twice)
    assert "\ni,6,2.667,1.366,1,1.5,3,3.75,4\nf,6,2.667,1.125,1.5,1.75,2.5,3.625,4" in block.text
    assert "b: True 66.7%, False 33.3%" in block.text and "s: x 66.7%, y 33.3%" in block.text
    if importlib.util.find_spec("pyarrow"):
        assert "\na,string[pyarrow],2,2" in block.text and "a: x 66.7%, y 33.3%" in block.text


def test_big_nullable_frame_counts_nulls_exactly_and_samples_statistics():
    block = describe_value(_nullable_frame(400_000), "df", max_tokens=3000)
    assert "\ni,Int64,100000,~3\nf,Float64,100000,~3\nb,boolean,100000,~2" in block.text
    assert (
        "\ns,string[python],~10" in block.text
    )  # python-object strings: estimated from the sample, marked ~
    if importlib.util.find_spec("pyarrow"):
        assert "\na,string[pyarrow],100000,~2" in block.text
    assert "\ni,74863,2.67,1.247,1,1,3,4,4" in block.text  # the sample's non-null values


def test_real_polars_frame_with_many_dtypes_and_nan():
    pl = pytest.importorskip("polars")
    n_rows = 200_000
    df = pl.DataFrame(
        {
            "a": np.arange(n_rows) % 7,
            "c": ["x", "y"] * (n_rows // 2),
            "d": pl.Series(["p", "q", None, "p"] * (n_rows // 4), dtype=pl.Categorical),
            "e": pl.Series(["lo", "hi"] * (n_rows // 2), dtype=pl.Enum(["lo", "hi"])),
            "f": pl.Series([1.5, None, float("nan"), 2.0] * (n_rows // 4)),
            "t": pl.Series(np.arange(n_rows).astype("datetime64[ms]")),
        }
    )
    block = describe_value(df, "pl_df", max_tokens=3000)
    assert block.label == "### pl_df (polars.DataFrame, 200,000 x 6)"
    assert "summary failed" not in block.text
    assert "statistics from a 100,000-row sample" in block.text
    assert "\nd,Categorical,50000,~2" in block.text and "\nf,Float64,50000," in block.text
    assert "\nf,~" not in block.text and ",1.75,0.25" in block.text  # NaN skipped like pandas: mean of 1.5, 2
    assert "d: p 66." in block.text and "e: " in block.text
    series = describe_value(df["c"], "s")
    assert series.label == "### s (polars.Series, 200,000 values, String)"
    private = describe_value(df, "pl_df", private=True).text
    assert "'lo'" not in private and "lo," not in private and "Enum" in private
