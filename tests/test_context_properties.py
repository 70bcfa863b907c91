"""Properties of describe_value over many kinds of values: every block fits its budget; private mode leaks nothing."""

from __future__ import annotations

import collections
import datetime
import itertools
import linecache
import string

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from o4_magics.context import describe_value, estimate_tokens

# ---- every block fits its budget ----------------------------------------------------------------------------


class HugeRepr:
    def __repr__(self) -> str:
        return "<huge " + "x" * 5_000_000 + ">"


class FailingRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded " + "y" * 100_000)


class FailingEverything:
    shape = property(lambda self: 1 / 0)

    def __len__(self) -> int:
        raise TypeError("no len")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def _raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as caught:  # noqa: BLE001 - the point is to get a traceback
        return caught


def _chained() -> BaseException:
    try:
        try:
            raise KeyError("k" * 200_000)
        except KeyError as inner:
            raise ValueError("v" * 300_000) from inner
    except ValueError as outer:
        return outer


def _nested(depth: int) -> dict:
    value: dict = {"leaf": "z" * 10_000}
    for level in range(depth):
        value = {f"level{level}_{i}": value for i in range(5)}
    return value


HEAVY = {
    "1 MB str": lambda: "word " * 200_000,
    "1 MB one-line str": lambda: "x" * 1_000_000,
    "1 MB emoji str": lambda: "😀" * 250_000,
    "nested dicts": lambda: _nested(6),
    "dict of huge strings": lambda: {f"k{i}": "v" * 100_000 for i in range(50)},
    "0-d dict array": lambda: np.array({f"key_{i}": "v" * 50 for i in range(20_000)}, dtype=object),
    "0-d str array": lambda: np.array("s" * 1_000_000),
    "0-d int array": lambda: np.array(7),
    "huge int": lambda: 10**5000,
    "huger int": lambda: 2**200_000,
    "1 MB bytes": lambda: bytes(range(256)) * 4096,
    "1 MB utf-8 bytes": lambda: ("é" * 500_000).encode(),
    "set": lambda: {f"item {i}" * 20 for i in range(50_000)},
    "deque": lambda: collections.deque("q" * 1000 for _ in range(50_000)),
    "frozenset of tuples": lambda: frozenset((i, "t" * 300) for i in range(5_000)),
    "giant exception": lambda: _raised(ValueError("m" * 1_000_000)),
    "multi-line exception": lambda: _raised(RuntimeError("line\n" * 100_000)),
    "chained exception": _chained,
    "huge repr": HugeRepr,
    "failing repr": FailingRepr,
    "failing everything": FailingEverything,
    "class with a huge name": lambda: type("C" * 20_000, (), {}),
    "frame with huge cells": lambda: pd.DataFrame(
        {"text": ["t" * 1_000_000, "u" * 500_000], "n": [1, 2], ("c" * 5000): ["a", "b"]}
    ),
    "frame with huge index": lambda: pd.DataFrame({"a": [1, 2]}, index=["i" * 1_000_000, "j"]),
    "wide frame": lambda: pd.DataFrame(
        np.zeros((3, 5000)), columns=[f"col_{'w' * 100}_{i}" for i in range(5000)]
    ),
    "series of huge strings": lambda: pd.Series(["s" * 200_000] * 30, name="n" * 10_000),
    "masked array": lambda: np.ma.masked_values(np.arange(1_000_000.0) % 10 - 5, -5.0),
    "string array": lambda: np.array(["a" * 10_000] * 1000),
    "object array": lambda: np.array([{"k": "v" * 10_000}] * 500, dtype=object),
}
_BUILT: dict[str, object] = {}


def heavy(kind: str) -> object:
    if kind not in _BUILT:
        _BUILT[kind] = HEAVY[kind]()
    return _BUILT[kind]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(HEAVY)),
    st.one_of(st.integers(1, 60), st.sampled_from([100, 300, 1000, 2000, 5000])),
    st.booleans(),
)
def test_every_block_fits_its_budget(kind, max_tokens, private):
    block = describe_value(heavy(kind), "value", max_tokens=max_tokens, private=private)
    assert block.tokens == estimate_tokens(block.text) <= max_tokens


small_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
    lambda children: (
        st.lists(children)
        | st.dictionaries(st.text(), children)
        | st.tuples(children, children)
        | st.frozensets(st.text())
    ),
    max_leaves=60,
)


@settings(max_examples=200, deadline=None)
@given(small_values, st.integers(1, 400), st.booleans())
def test_any_small_value_fits_its_budget(value, max_tokens, private):
    block = describe_value(value, "v", max_tokens=max_tokens, private=private)
    assert block.tokens == estimate_tokens(block.text) <= max_tokens


# ---- private mode emits no cell value ---------------------------------------------------------------------


def _with_source(marker: str, source: str, name: str) -> object:
    """Define ``name`` from ``source`` under a fake file that inspect.getsource can read."""
    filename = f"<private-test-{abs(hash(source))}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - test code written here
    return namespace[name]


class _Reprs:
    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.dtype = f"dtype-{marker}"  # not a real dtype: private mode must not print it
        self.shape = f"shape-{marker}"

    def __repr__(self) -> str:
        return f"Reprs({self.marker!r})"


def _day(number: int) -> datetime.datetime:
    return datetime.datetime(2100 + number % 800, 1 + number % 12, 1 + number % 28, number % 24, number % 60)


def _pandas_values(marker: str, number: int) -> list[object]:
    day = _day(number)
    frame = pd.DataFrame(
        {
            "text": [marker, "other", None],
            "cat": pd.Categorical([marker, "other", marker]),
            "when": pd.to_datetime([day, day, None]),
            "amount": [float(number), 1.0, 2.0],
            "count": pd.array([number, None, 3], dtype="Int64"),
            "label": pd.array([marker, None, "x"], dtype="string"),
        },
        index=[f"{marker}-row", "r2", "r3"],
    )
    sparse = pd.Series(pd.arrays.SparseArray([marker, marker, "x"], fill_value=marker))
    return [
        frame,
        frame.set_index("when"),
        frame["text"],
        frame["cat"],
        frame["when"],
        frame["amount"],
        frame["count"],
        frame["label"],
        sparse,
        pd.concat([frame] * 40_000, ignore_index=True),  # big: the sampled path
    ]


def _numpy_values(marker: str, number: int) -> list[object]:
    return [
        np.array([marker, "b"]),
        np.array([float(number), 1.0]),
        np.array([[number, 2], [3, 4]]),
        np.array([{"k": marker}, None], dtype=object),
        np.ma.masked_array(np.array([marker, "x", marker]), mask=[0, 1, 1]),
        np.ma.masked_array(np.array([float(number), 1.0]), mask=[0, 1]),
        np.array({"nested": [marker]}, dtype=object),
        np.array(marker),
        np.array(number),
        np.array([(number, marker)], dtype=[("n", "i8"), ("s", "U40")]),
        np.array([np.datetime64(_day(number))]),
    ]


def _python_values(marker: str, number: int) -> list[object]:
    function = _with_source(marker, f"def f(x='{marker}'):\n    '''{marker}'''\n    return '{marker}'\n", "f")
    klass = _with_source(marker, f"class K:\n    '''{marker}'''\n    value = '{marker}'\n", "K")
    row = collections.namedtuple("Row", "a b")(marker, number)
    return [
        {"user": marker, "n": number, "nested": {"deep": [marker]}},
        {marker: 1},
        [marker, number],
        (marker, str(number)),
        {marker, "other"},
        frozenset({marker}),
        collections.deque([marker]),
        row,
        marker,
        f"prefix {marker} suffix\n" * 3,
        marker.encode(),
        bytearray(marker.encode()),
        _raised(ValueError(f"bad value {marker} {number}")),
        _raised(KeyError(marker)),
        ValueError(marker),
        function,
        klass,
        _Reprs(marker),
        number,
        float(number) + 0.5,
    ]


def _polars_values(marker: str, number: int) -> list[object]:
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame(
        {
            "text": [marker, "other", None],
            "cat": pl.Series([marker, "other", marker], dtype=pl.Categorical),
            "enum": pl.Series([marker, "other", marker], dtype=pl.Enum([marker, "other"])),
            "n": [number, 2, None],
            "when": [_day(number), _day(number), None],
        }
    )
    return [frame, frame["text"], frame["enum"], frame["n"], pl.concat([frame] * 50_000)]


MARKERS = st.text(alphabet=string.ascii_letters + string.digits, min_size=6, max_size=10).map(
    lambda s: "ZQX" + s
)
NUMBERS = st.integers(10**8, 10**9 - 1)
BUILDERS = {
    "pandas": _pandas_values,
    "numpy": _numpy_values,
    "python": _python_values,
    "polars": _polars_values,
}


def _leaks(text: str, marker: str, number: int) -> list[str]:
    day = _day(number)
    found = [marker] if marker in text else []
    found += [str(number)] if str(number) in text else []
    found += [day.strftime("%Y-%m-%d")] if day.strftime("%Y-%m-%d") in text else []
    return found


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(BUILDERS)), MARKERS, NUMBERS, st.sampled_from([40, 300, 2000]))
def test_private_mode_emits_no_cell_value(library, marker, number, max_tokens):
    for index, value in enumerate(BUILDERS[library](marker, number)):
        text = describe_value(value, "v", max_tokens=max_tokens, private=True).text
        assert not _leaks(text, marker, number), (library, index, text)


@pytest.mark.parametrize("library", sorted(BUILDERS))
def test_the_same_values_do_leak_without_private_mode(library):
    # the property above would catch a leak: without private=True the markers are there
    marker, number = "ZQXsample1", 123456789
    values = BUILDERS[library](marker, number)
    shown = [bool(_leaks(describe_value(v, "v").text, marker, number)) for v in values]
    assert sum(shown) >= len(values) - 3, list(itertools.compress(range(len(values)), [not s for s in shown]))
