"""Verbatim replies (``queue_reply`` and ``[[verbatim]]``) for rendering tests, and the directives' parser."""

from __future__ import annotations

import time

import openai
import pytest
from test_emulator import (
    MODEL,
    ask,
    content_of,
    expected_cost,
    make_client,
    open_stream,
    raw_post,
    sse_chunks,
)

from o4_magics.testing import Emulator
from o4_magics.testing.directives import find_directives, strip_directives
from o4_magics.testing.replies import quote, split_anywhere

TRICKY = (
    "Price $5 and $$\\frac{a}{b}$$ then \\( e^{i\\pi} \\) <b>bold</b> <img src=x onerror=alert(1)>\n"
    "```python\nprint('\\\\n')\n```\n"
    "Emoji 👩‍🔬 and é (e + \u0301) and 中文, 🇫🇷 [[status:500]] [[call:x]] [[verbatim]]"
)


def streamed_pieces(emu: Emulator, text: str) -> list[str]:
    status, data = raw_post(
        emu, {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": text}]}
    )
    assert status == 200
    return [c["choices"][0]["delta"]["content"] for c in sse_chunks(data) if c["choices"]][:-1]


def test_queue_reply_answers_exactly_streamed_and_not(o4_emulator: Emulator) -> None:
    o4_emulator.queue_reply(TRICKY)
    o4_emulator.queue_reply(TRICKY)
    chunks = list(open_stream(o4_emulator, "anything"))
    assert content_of(chunks) == TRICKY
    reply = ask(o4_emulator, "anything")
    assert reply.choices[0].message.content == TRICKY
    assert reply.usage.cost == expected_cost(reply.usage)
    assert reply.usage.completion_tokens == round(len(TRICKY.split()) * 1.3) + 192
    assert ask(o4_emulator, "anything").choices[0].message.content.startswith("## Offline answer")
    assert [r.reply for r in o4_emulator.chat_requests] == [
        TRICKY,
        TRICKY,
        o4_emulator.chat_requests[2].reply,
    ]


def test_pieces_split_inside_math_escapes_tags_and_grapheme_clusters(o4_emulator: Emulator) -> None:
    o4_emulator.queue_reply(TRICKY)
    pieces = streamed_pieces(o4_emulator, "x")
    assert "".join(pieces) == TRICKY and len(pieces) > len(TRICKY) // 8
    boundaries = {sum(map(len, pieces[:i])) for i in range(1, len(pieces))}

    def split_inside(token: str) -> bool:
        start = TRICKY.index(token)
        return any(start < cut < start + len(token) for cut in boundaries)

    for token in ["$$\\frac{a}{b}$$", "\\( e^{i\\pi} \\)", "<img src=x onerror=alert(1)>", "👩‍🔬", "中文"]:
        assert split_inside(token), token
    assert any(piece.endswith("\\") for piece in pieces)


def test_verbatim_marker_replies_with_the_rest_of_the_message(o4_emulator: Emulator) -> None:
    text = "Render this [[slow:0.01]] [[verbatim]]" + TRICKY
    started = time.monotonic()
    chunks = list(open_stream(o4_emulator, text))
    assert content_of(chunks) == TRICKY
    assert time.monotonic() - started >= 0.01 * len(split_anywhere(TRICKY))  # markers before it apply
    record = o4_emulator.chat_requests[0]
    assert record.fault == "[[slow:0.01]]" and record.directives is None  # those after it are text
    assert ask(o4_emulator, "[[verbatim]]").choices[0].message.content == ""


def test_queued_reply_waits_for_a_text_answer(o4_emulator: Emulator) -> None:
    tools = [{"type": "function", "function": {"name": "plot"}}]
    client = make_client(o4_emulator)
    o4_emulator.queue_reply("Final $x$.")
    with pytest.raises(openai.InternalServerError):
        ask(o4_emulator, "[[status:503]]")
    step = client.chat.completions.create(
        model=MODEL, tools=tools, messages=[{"role": "user", "content": "[[call:plot]]"}]
    )
    message = step.choices[0].message
    assert message.tool_calls and message.content == ""
    messages = [
        {"role": "user", "content": "[[call:plot]]"},
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "ok"},
    ]
    final = client.chat.completions.create(model=MODEL, tools=tools, messages=messages)
    assert final.choices[0].message.content == "Final $x$."


def test_queue_reply_rejects_a_non_string(o4_emulator: Emulator) -> None:
    with pytest.raises(TypeError):
        o4_emulator.queue_reply(None)  # type: ignore[arg-type]


def test_clear_drops_queued_replies(o4_emulator: Emulator) -> None:
    o4_emulator.queue_reply("queued")
    o4_emulator.clear()
    assert ask(o4_emulator, "x").choices[0].message.content.startswith("## Offline answer")


def test_split_anywhere_joins_back_and_never_splits_a_code_point() -> None:
    for text in ["", "a", TRICKY, "🙂" * 50]:
        pieces = split_anywhere(text)
        assert "".join(pieces) == text and all(1 <= len(p) <= 8 for p in pieces)


ADVERSARIAL = [
    "[[call:" * 150_000,
    "[[call:a:" + "{" * 200_000,
    "[[call:a:" + "[" * 300_000,
    "[[reasoning:" + "a" * 1_000_000,
    "[[reasoning" * 100_000,
    "[[call:a|" * 100_000,
    "[[" * 500_000,
    "$\\" * 500_000,
    '[[call:a:{"x": "' + "]]|" * 300_000,
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_directive_parsing_and_quoting_run_in_linear_time_on_1mb(text: str) -> None:
    started = time.monotonic()
    try:
        find_directives(text)
    except ValueError:
        pass
    strip_directives(text)
    quote(text)
    split_anywhere(text)
    assert time.monotonic() - started < 2.0


def test_a_valid_1mb_call_directive_is_parsed(o4_emulator: Emulator) -> None:
    big = '{"rows": [' + ", ".join(["[1, 2]"] * 100_000) + "]}"
    directives = find_directives(f"x [[call:read:{big}]] y [[reasoning:3]]")
    assert directives.steps[0][0].arguments == big and directives.reasoning is not None
    assert strip_directives(f"x [[call:read:{big}]] y") == "x  y"
