"""Plain values, code and arrays as prompt blocks: bounded, labelled, honest about cuts, private when asked."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import o4_magics.context as context
from o4_magics.context import Block, describe_value, estimate_tokens


def test_importing_the_package_imports_no_heavy_library():
    code = textwrap.dedent(
        """
        import sys
        import o4_magics.context as c
        c.describe_value({"a": [1, 2]}, "d"); c.describe_value("text", "s"); c.describe_value(ValueError("x"), "e")
        heavy = [m for m in ("pandas", "polars", "numpy", "matplotlib", "PIL") if m in sys.modules]
        print(",".join(heavy))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_public_names():
    assert set(context.__all__) >= {"describe_value", "Block", "to_image_part", "ImagePart", "ContextError"}
    assert issubclass(context.ContextError, ValueError)


def test_dict_block():
    config = {
        "lr": 0.001,
        "layers": [64, 128, 256],
        "name": "resnet",
        "nested": {"a": {"b": {"c": {"d": 1}}}},
    }
    block = describe_value(config, "cfg")
    assert isinstance(block, Block)
    assert block.label == "### cfg (dict, 4 keys)"
    assert "'layers': [64, 128, 256]" in block.text
    assert "'lr': 0.001" in block.text
    assert "key types: str 4" in block.text
    assert not block.truncated


def test_long_list_shows_head_and_tail_and_says_what_is_missing():
    block = describe_value(list(range(100_000)), "xs", max_tokens=300)
    assert block.label == "### xs (list, 100,000 items)"
    assert "[0] 0" in block.text and "[99999] 99999" in block.text
    assert "more items not shown]" in block.text
    assert block.truncated and block.tokens <= 300


def test_nested_containers_are_bounded():
    deep = [[list(range(1000))] * 3] * 3
    block = describe_value(deep, "deep")
    assert "…+995 more" in block.text
    assert block.tokens < 400


def test_sets_are_sorted_so_output_is_deterministic():
    block = describe_value({"pear", "apple", "fig"}, "fruit")
    assert block.text.index("'apple'") < block.text.index("'fig'") < block.text.index("'pear'")
    assert block.label == "### fruit (set, 3 items)"


def test_namedtuple_and_deque():
    point = collections.namedtuple("Point", "x y")(1, 2)
    assert "x=1" in describe_value(point, "p").text and "y=2" in describe_value(point, "p").text
    assert describe_value(collections.deque([1, 2, 3]), "q").label == "### q (collections.deque, 3 items)"


def test_short_string_is_shown_whole_in_a_fence():
    block = describe_value("hello\nworld", "s")
    assert block.label == "### s (str, 11 chars, 2 lines)"
    assert "```\nhello\nworld\n```" in block.text
    assert not block.truncated


def test_long_string_keeps_head_and_tail():
    text = "START " + "lorem ipsum dolor sit amet " * 20_000 + " END"
    block = describe_value(text, "doc", max_tokens=500)
    assert block.text.count("START") == 1 and "END" in block.text
    assert "more chars not shown]" in block.text
    assert block.truncated and block.tokens <= 500


def test_string_with_fences_inside_gets_a_longer_fence():
    block = describe_value("```python\nx = 1\n```", "md")
    assert "````\n```python" in block.text


def test_bytes_blocks():
    png = describe_value(b"\x89PNG\r\n\x1a\n" + bytes(200), "img")
    assert png.label == "### img (bytes, 208 bytes, PNG image)"
    assert "first bytes:" in png.text and png.truncated
    text = describe_value("naïve café".encode(), "b")
    assert "UTF-8 text" in text.label and "naïve café" in text.text
    assert "binary data" in describe_value(bytes(range(256)) * 4, "raw").label


def _fail_inner(value):
    return {"a": 1}[value]


def _fail_outer():
    try:
        _fail_inner("missing_key")
    except KeyError as error:
        raise ValueError("lookup failed for config") from error


def _raised() -> BaseException:
    try:
        _fail_outer()
    except ValueError as error:
        return error
    raise AssertionError("did not raise")


def test_exception_block_has_message_and_traceback():
    block = describe_value(_raised(), "err")
    assert block.label == "### err (exception ValueError)"
    assert block.text.split("\n")[1] == "ValueError: lookup failed for config"
    assert "Traceback (most recent call last):" in block.text
    assert "in _fail_inner" in block.text and 'return {"a": 1}[value]' in block.text
    assert "KeyError: 'missing_key'" in block.text
    assert "The above exception was the direct cause of the following exception:" in block.text


def test_long_traceback_keeps_both_ends():
    def recurse(n):
        if n == 0:
            raise RuntimeError("bottom")
        return recurse(n - 1)

    try:
        recurse(200)  # Python folds the repeated frames, so this is ~20 lines
    except RuntimeError as error:
        block = describe_value(error, "e", max_tokens=150)
    assert "Traceback (most recent call last):" in block.text
    assert "RuntimeError: bottom" in block.text
    assert "more traceback lines not shown]" in block.text
    assert block.tokens <= 150


def test_private_exception_keeps_the_message_out():
    block = describe_value(_raised(), "err", private=True)
    assert "lookup failed" not in block.text and "missing_key" not in block.text
    assert "_fail_inner" in block.text  # function names are structure, not content
    assert "chained from: KeyError" in block.text


def test_never_raised_exception():
    block = describe_value(ValueError("bad value"), "e")
    assert "ValueError: bad value" in block.text and "never raised" in block.text


def test_function_source_and_signature():
    block = describe_value(_fail_inner, "f")
    assert block.label == f"### f (function {__name__}._fail_inner)"
    assert "signature: _fail_inner(value)" in block.text
    assert "```python\ndef _fail_inner(value):" in block.text


def test_builtin_function_and_class_without_source():
    assert "signature: loads(" in describe_value(json.loads, "loads").text
    block = describe_value(len, "len")
    assert block.label == "### len (builtin function len)"
    assert "doc: Return the number of items in a container." in block.text
    namespace: dict = {}
    exec("class Made:\n    'A class with no source file.'\n    def run(self, n): pass", namespace)  # noqa: S102
    made = describe_value(namespace["Made"], "Made")
    assert "run(self, n)" in made.text


def test_class_source():
    block = describe_value(collections.Counter, "C", max_tokens=300)
    assert block.label == "### C (class collections.Counter)"
    assert "class Counter(dict):" in block.text and block.tokens <= 300


def test_module_block():
    block = describe_value(json, "json")
    assert block.label == "### json (module json)"
    assert "file:" in block.text and "doc: JSON (JavaScript Object Notation)" in block.text


class _BrokenRepr:
    def __repr__(self):
        raise RuntimeError("repr exploded")


class _HugeRepr:
    def __repr__(self):
        return "<huge " + "x" * 2_000_000 + " end>"


def test_generic_objects():
    broken = describe_value(_BrokenRepr(), "b")
    assert "repr() failed: RuntimeError: repr exploded" in broken.text
    huge = describe_value(_HugeRepr(), "h", max_tokens=200)
    assert huge.tokens <= 200 and "end>" in huge.text and "more chars not shown]" in huge.text
    assert describe_value(42, "n").label == "### n (int)"
    assert "3.5" in describe_value(3.5, "x").text


def test_a_failing_describer_falls_back_to_the_generic_block():
    class DataFrame:  # looks like pandas by name and module, but is not
        __module__ = "pandas.core.frame"

        def __repr__(self):
            return "<fake frame>"

    block = describe_value(DataFrame(), "df")
    assert "detailed summary failed" in block.text and "<fake frame>" in block.text


@pytest.mark.parametrize("max_tokens", [5, 30, 100, 1000])
@pytest.mark.parametrize(
    "value",
    [
        {"k" * 50 + str(i): list(range(i)) for i in range(300)},
        list(range(10_000)),
        "word " * 50_000,
        bytes(100_000),
        ValueError("x" * 10_000),
        collections.Counter,
        np.arange(1_000_000).reshape(1000, 1000),
        object(),
    ],
    ids=["dict", "list", "str", "bytes", "exception", "class", "array", "object"],
)
def test_every_kind_respects_the_budget(value, max_tokens):
    block = describe_value(value, "v", max_tokens=max_tokens)
    assert block.tokens == estimate_tokens(block.text) <= max_tokens


SECRETS = ["SECRET_VALUE_1", "987654321.5", "hunter2"]


@pytest.mark.parametrize(
    "value",
    [
        {"user": "SECRET_VALUE_1", "pin": 987654321.5, "pw": "hunter2"},
        ["SECRET_VALUE_1", 987654321.5, "hunter2"],
        ("SECRET_VALUE_1 hunter2 987654321.5",),
        "SECRET_VALUE_1 hunter2 987654321.5",
        b"SECRET_VALUE_1 hunter2 987654321.5",
        ValueError("SECRET_VALUE_1 hunter2 987654321.5"),
        np.array([987654321.5, 1.0]),
        collections.namedtuple("Row", "a b")("SECRET_VALUE_1", "hunter2"),
    ],
    ids=["dict", "list", "tuple", "str", "bytes", "exception", "array", "namedtuple"],
)
def test_private_mode_leaks_no_content(value):
    text = describe_value(value, "v", private=True).text
    for secret in SECRETS:
        assert secret not in text, text


def test_array_block():
    array = np.arange(12, dtype=np.float64).reshape(3, 4)
    block = describe_value(array, "a")
    assert block.label == "### a (numpy.ndarray, 3 x 4, float64)"
    assert "min 0, max 11, mean 5.5, std 3.452" in block.text
    assert "[ 8.  9. 10. 11.]]" in block.text
    assert not block.truncated


def test_gigabyte_array_is_sampled_not_stringified():
    huge = np.zeros(125_000_000)  # 1 GB; zero pages are mapped lazily, so this costs no real memory
    huge[-1] = 7.0
    block = describe_value(huge, "huge")
    assert block.label == "### huge (numpy.ndarray, 125,000,000, float64)"
    assert "1.0 GB" in block.text
    assert "statistics from 1,000,000 evenly spaced elements (of 125,000,000)" in block.text
    assert "max 7" in block.text  # the last element is always in the strided sample
    assert len(block.text) < 2000


def test_broadcast_view_is_never_copied():
    view = np.broadcast_to(np.arange(10.0), (100_000_000, 10))  # 8 GB logically, 80 bytes really
    block = describe_value(view, "v")
    assert "8.0 GB, strided view" in block.text and "corner [:6, :8]:" in block.text


def test_array_private_mode_keeps_structure():
    block = describe_value(np.array([[np.nan, 987654321.5]]), "a", private=True)
    assert "nan: 1" in block.text and "987654321" not in block.text and "corner" not in block.text


def test_masked_array_statistics_skip_masked_cells():
    values = np.ma.masked_values(np.array([1.0, -999.0, 3.0, -999.0, 5.0, 6.0]), -999.0)
    block = describe_value(values, "m")
    assert block.label == "### m (numpy.ma.MaskedArray, 6, float64)"
    assert "masked: 2 (33.3%)" in block.text
    assert "min 1, max 6, mean 3.75, std 1.92" in block.text
    assert "[1.0 -- 3.0 -- 5.0 6.0]" in block.text
    assert "-999" not in block.text and "inf" not in block.text.split("values:")[1]


def test_masked_invalid_cells_print_as_dashes_not_inf():
    grid = np.ma.masked_invalid(np.array([[1.0, np.inf, 2.0], [np.nan, 4.0, 5.0]]))
    block = describe_value(grid, "g")
    assert "[[1.0 -- 2.0]\n [-- 4.0 5.0]]" in block.text
    assert "nan: 0, inf: 0" in block.text and "min 1, max 5, mean 3" in block.text


def test_big_masked_array_is_sampled_over_unmasked_values():
    values = np.ma.masked_less(np.arange(3_000_000, dtype=np.float64), 1_000_000)
    block = describe_value(values, "big")
    assert "masked: 1,000,000 (33.3%)" in block.text
    assert "statistics from 1,000,000 evenly spaced elements (of 3,000,000)" in block.text
    assert "min 1000002, max 2999999" in block.text
    assert "[-- -- -- -- -- -- -- -- -- --]" in block.text


def test_masked_text_and_record_arrays():
    words = np.ma.masked_array(np.array(["alpha", "beta", "gamma"]), mask=[0, 1, 0])
    assert "['alpha' -- 'gamma']" in describe_value(words, "w").text
    records = np.ma.masked_array(
        np.array([(1, 2.0), (3, 4.0)], dtype=[("a", "i4"), ("b", "f8")]), mask=[(0, 1), (0, 0)]
    )
    block = describe_value(records, "r")
    assert "summary failed" not in block.text and "[-- (3, 4.0)]" in block.text


def test_private_masked_array_shows_only_counts():
    values = np.ma.masked_values(np.array([987654321.5, -999.0, 3.0]), -999.0)
    text = describe_value(values, "m", private=True).text
    assert "masked: 1 (33.3%)" in text and "987654321" not in text and "--" not in text.split("\n", 3)[-1]


def test_zero_d_object_array_is_described_like_the_object_it_holds():
    held = {f"key_{i}": "v" * 50 for i in range(20_000)}
    block = describe_value(np.array(held, dtype=object), "z")
    assert block.label == "### z (numpy.ndarray, 0-d, object, holding dict)"
    assert "z (dict, 20,000 keys)" in block.text and "more keys not shown]" in block.text
    assert block.tokens == estimate_tokens(block.text) <= 2000 and len(block.text) < 20_000
    small = describe_value(np.array(held, dtype=object), "z", max_tokens=120)
    assert small.tokens <= 120


def test_zero_d_numeric_text_and_masked_arrays():
    assert "5.5" in describe_value(np.array(5.5), "f").text
    assert describe_value(np.array(5.5), "f").label == "### f (numpy.ndarray, 0-d, float64, holding float)"
    text = describe_value(np.array("s" * 1_000_000), "u", max_tokens=100)
    assert text.tokens <= 100 and "1,000,000 chars" in text.text
    assert "-- (masked)" in describe_value(np.ma.masked_array(3, mask=True), "m").text
    assert "SECRET" not in describe_value(np.array("SECRET"), "p", private=True).text
