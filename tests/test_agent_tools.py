"""The agent's tools on their own: what each look-up gives the model, what a run cell sends back (``--private``
included), how a thread keeps a tool exchange, how streamed reasoning fragments are joined; and that every
transform of model text here runs in linear time on ~1 MB adversarial input."""

from __future__ import annotations

import time
import types

import pytest

from o4_magics.call.agent import tool_line
from o4_magics.call.reply import merge_reasoning_details
from o4_magics.call.session import Session
from o4_magics.call.threads import EXCHANGE_RESULT_CHARS, ThreadStore, compact_exchange
from o4_magics.call.tools import (
    MAX_LISTED,
    CellOutcome,
    Toolbox,
    ToolProblem,
    ToolResult,
    code_result,
    parse_arguments,
    tool_schemas,
)
from o4_magics.testing.tools import check_tools

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")


@pytest.fixture
def session():
    return Session()


def frame():
    return pd.DataFrame({"store": ["Lyon", "Paris", "Nice"], "price": [3.5, 2.0, 7.25]})


def test_schemas_are_what_openrouter_accepts():
    for run_code in (False, True):
        body = {"tools": tool_schemas(run_code=run_code), "tool_choice": "auto"}
        assert check_tools(body) is None  # the emulator checks OpenAI's rules for function tools
    names = [tool["function"]["name"] for tool in tool_schemas(run_code=True)]
    assert names == ["list_variables", "describe", "look_at", "run_code"]


def test_list_variables_shows_only_the_users_values(session):
    def own():
        return 1

    own.__module__ = "__main__"
    namespace = {
        "df": frame(),
        "arr": np.zeros((10, 3)),
        "words": ["a", "b"],
        "title": "Sales",
        "own": own,
        "imported": len,
        "np": np,
        "_hidden": 1,
        "In": [],
        "get_ipython": lambda: None,
        "shown_by_ipython": 5,
        "module_func": types.FunctionType(own.__code__, {}),  # __module__ None: imported-like
    }
    box = Toolbox(session, namespace, hidden={"shown_by_ipython": 5})
    result = box.list_variables()
    lines = result.text.splitlines()
    assert lines[0] == "name | type | shape | size"
    names = [line.split(" | ")[0] for line in lines[1:]]
    assert names == ["arr", "df", "own", "title", "words"]
    assert (
        "df | pandas.DataFrame | 3 x 2 |" in result.text
        and "arr | numpy.ndarray | 10 x 3 | 240 bytes" in result.text
    )
    assert "title | str | 5 characters" in result.text and "Sales" not in result.text
    assert result.line.startswith("listed the variables (5 variables) · ")

    many = Toolbox(session, {f"v{i}": i for i in range(MAX_LISTED + 30)}).list_variables()
    assert "(and 30 more not listed)" in many.text


def test_describe_narrows_and_says_what_was_wrong(session):
    box = Toolbox(session, {"df": frame(), "s": pd.Series([1, 2, 3]), "x": 3})
    narrowed = box.call("describe", '{"name": "df", "columns": ["price"], "rows": [0, 2]}')
    assert "### df (pandas.DataFrame, 2 x 1)" in narrowed.text and not narrowed.failed
    assert narrowed.line.startswith("looked at `df` (columns price · rows 0–2) · ")
    assert "### s (pandas.Series" in box.call("describe", '{"name": "s", "rows": [1, 3]}').text
    problems = {
        '{"name": "s", "columns": ["a"]}': "columns narrow dataframes only",
        '{"name": "x", "rows": [0, 1]}': "columns and rows narrow dataframes, series and arrays only",
        '{"name": "df", "columns": "price"}': "columns must be a non-empty list",
        '{"name": "df", "rows": [0]}': "rows must be [start, stop]",
        '{"name": 5}': "name must be a variable's name",
        '{"nam": "df"}': "describe takes no argument 'nam'",
        "{}": "describe needs name",
        "[1]": "must be a JSON object",
        '{"name": "dff"}': "There is no variable named 'dff'. Did you mean df?",
    }
    for arguments, expected in problems.items():
        result = box.call("describe", arguments)
        assert result.failed and expected in result.text, (arguments, result.text)


def test_an_odd_value_fails_as_a_result(session):
    class Odd:
        @property
        def columns(self):
            raise RuntimeError("the secret is 42")

    odd = pd.DataFrame({("a", "b"): [1]})  # a MultiIndex column: selecting by its string fails
    box = Toolbox(session, {"odd": odd})
    result = box.call("describe", '{"name": "odd", "columns": ["(\'a\', \'b\')"]}')
    assert result.failed and result.text.startswith("describe failed with KeyError")
    private = Toolbox(session, {"odd": odd}, private=True).call(
        "describe", '{"name": "odd", "columns": ["(\'a\', \'b\')"]}'
    )
    assert private.text == "describe failed with KeyError."


def test_look_at_needs_an_image(session):
    box = Toolbox(session, {"df": frame()})
    assert "No cell has displayed an image yet" in box.call("look_at", '{"image": "last"}').text
    assert box.call("look_at", '{"image": "df"}').failed
    assert box.call("look_at", '{"image": true}').text.startswith("image must be")
    assert (
        Toolbox(session, {}, private=True)
        .call("look_at", '{"image": "last"}')
        .text.startswith("Privacy mode")
    )


def outcome(**fields):
    defaults = dict(status="ok", code="print(x)\nx * 2", cell=7, stdout="MARKOUT\n", has_value=True, value=84)
    return CellOutcome(**{**defaults, **fields})


def test_a_run_cell_goes_back_to_the_model(session):
    result = code_result(session, outcome())
    assert result.text.startswith("The user ran cell [7].") and "stdout:\n```\nMARKOUT\n```" in result.text
    assert "Value of the last expression:\n### value (int)" in result.text and "84" in result.text
    assert result.line.startswith("ran cell [7] · ") and not result.failed

    error = code_result(
        session,
        outcome(
            status="error",
            error=ZeroDivisionError("division by zero"),
            traceback="Traceback ...\nZeroDivisionError: division by zero",
            has_value=False,
        ),
    )
    assert "it raised an exception" in error.text and "ZeroDivisionError: division by zero" in error.text
    assert error.failed and error.line.startswith("ran cell [7]: it raised")

    edited = code_result(session, outcome(edited=True, code="x = 1", stdout=""))
    assert "The user edited the code first; it ran as:\n```python\nx = 1\n```" in edited.text
    skipped = code_result(session, outcome(status="skipped"))
    assert (
        skipped.text == "The user skipped this cell; it did not run."
        and skipped.line == "skipped a proposed cell"
    )

    long = code_result(session, outcome(stdout="y" * 100_000, has_value=False))
    assert len(long.text) < 4 * session.settings.context_max_tokens + 500 and "characters cut" in long.text


def test_a_private_run_cell_sends_structure_only(session):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), "red").save(buffer, "PNG")
    secret = outcome(
        status="error",
        stdout="MARKOUT\n",
        stderr="MARKERR",
        value="MARKVAL",
        error=ValueError("MARKEXC"),
        traceback="ValueError: MARKEXC",
        images=[("image/png", buffer.getvalue())],
    )
    public = code_result(session, secret)
    assert all(mark in public.text for mark in ("MARKOUT", "MARKERR", "MARKVAL", "MARKEXC"))
    assert len(public.images) == 1
    private = code_result(session, secret, private=True)
    assert "MARK" not in private.text and private.images == []
    assert "stdout: 1 line(s), not sent (privacy mode)." in private.text
    assert "Exception: ValueError (its message is not sent: privacy mode)." in private.text
    assert "1 image(s), not sent (privacy mode)" in private.text


def test_streamed_reasoning_fragments_are_joined():
    pieces = [
        {"type": "reasoning.summary", "summary": "Plan", "format": "openai-responses-v1", "index": 0},
        {"type": "reasoning.summary", "summary": "ning.", "format": "openai-responses-v1", "index": 0},
        {"type": "reasoning.text", "text": "a", "index": 1, "signature": None},
        {"type": "reasoning.text", "text": "b", "index": 1, "signature": "sig"},
        {"type": "reasoning.encrypted", "data": "gAAA1", "id": "rs_1", "index": 2},
        {"type": "reasoning.encrypted", "data": "gAAA2", "id": "rs_2", "index": 2},
        {"type": "reasoning.text", "text": "no index"},
        {"type": "reasoning.text", "text": "no index either"},
    ]
    assert merge_reasoning_details(pieces) == [
        {"type": "reasoning.summary", "summary": "Planning.", "format": "openai-responses-v1", "index": 0},
        {"type": "reasoning.text", "text": "ab", "index": 1, "signature": "sig"},
        {"type": "reasoning.encrypted", "data": "gAAA1", "id": "rs_1", "index": 2},
        {"type": "reasoning.encrypted", "data": "gAAA2", "id": "rs_2", "index": 2},
        {"type": "reasoning.text", "text": "no index"},
        {"type": "reasoning.text", "text": "no index either"},
    ]
    assert pieces[0]["summary"] == "Plan"  # the stream's own items are left as they were


def test_a_thread_keeps_the_exchange_truncated():
    exchange = [
        {
            "role": "assistant",
            "content": None,
            "reasoning_details": [{"type": "reasoning.encrypted"}],
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "describe", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "z" * 10_000},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "The image"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        },
    ]
    kept = compact_exchange(exchange)
    assert "reasoning_details" not in kept[0] and kept[0]["tool_calls"] == exchange[0]["tool_calls"]
    assert len(kept[1]["content"]) < EXCHANGE_RESULT_CHARS + 60 and kept[1]["content"].endswith("history]")
    assert kept[2]["content"].startswith("The image\n[images from the tools") and "base64" not in str(kept)
    store = ThreadStore()
    store.append("main", {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"})
    ticket = store.begin("main")
    store.complete(
        ticket, {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}, exchange=exchange
    )
    roles = [m["role"] for m in store.history("main", 100_000)]
    assert roles == ["user", "assistant", "user", "assistant", "tool", "user", "assistant"]
    assert store.get("main").turns[-1].tokens > 200  # the exchange's tokens count against history_max_tokens
    assert store.history("main", 200) == []


def test_parsing_and_drawing_model_text_is_linear():
    """~1 MB of adversarial model text through every transform here: argument parsing, the collapsed line."""
    inputs = [
        "[" * 1_000_000,
        '{"name": "' + "\\" * 999_990 + '"}',
        "`" * 1_000_000,
        "`a" * 500_000,
        "<" * 1_000_000,
        '{"a": ' * 200_000,
    ]
    for text in inputs:
        started = time.monotonic()
        try:
            parse_arguments("describe", text)
        except ToolProblem:
            pass
        line = tool_line(ToolResult(text, f"describe: `{text[:80]}` {text}"), markdown=True)
        plain = tool_line(ToolResult(text, text), markdown=False)
        assert time.monotonic() - started < 2.0, text[:20]
        assert line.startswith("<details><summary>🔧 ") and plain.startswith("🔧 ")
