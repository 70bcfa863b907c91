"""Reasoning summaries from the emulator, in the shapes OpenRouter sends for o4-mini and other models."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest
from test_emulator import MODEL, ask, content_of, make_client, open_stream, raw_post, sse_chunks

from o4_magics.testing import Emulator
from o4_magics.testing.reasoning import reasoning_text

SUMMARY_5 = "**Planning the answer**\n\nI need"


def summary_item(text: str) -> dict[str, Any]:
    return {"type": "reasoning.summary", "summary": text, "format": "openai-responses-v1", "index": 0}


def stream_raw(emu: Emulator, text: str, **body: Any) -> list[dict[str, Any]]:
    status, data = raw_post(
        emu, {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": text}], **body}
    )
    assert status == 200
    return sse_chunks(data)


def reasoning_of(chunks: list[Any]) -> str:
    return "".join(getattr(c.choices[0].delta, "reasoning", None) or "" for c in chunks if c.choices)


def test_streamed_summary_chunks_have_openrouters_exact_shape(o4_emulator: Emulator) -> None:
    chunks = stream_raw(o4_emulator, "Why? [[reasoning:5]]")
    pieces = ["**Planning ", "the ", "answer**\n\n", "I ", "need"]
    gen_id = o4_emulator.chat_requests[0].gen_id
    for chunk, piece in zip(chunks[:5], pieces, strict=True):
        assert chunk == {
            "id": gen_id,
            "provider": "OpenAI",
            "model": MODEL,
            "object": "chat.completion.chunk",
            "created": chunk["created"],
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "role": "assistant",
                        "content": "",
                        "reasoning": piece,
                        "reasoning_details": [summary_item(piece)],
                    },
                    "finish_reason": None,
                    "native_finish_reason": None,
                    "logprobs": None,
                }
            ],
        }
    assert chunks[5]["choices"][0]["delta"] == {"role": "assistant", "content": "## "}
    assert all("reasoning" not in c["choices"][0]["delta"] for c in chunks[5:] if c["choices"])
    assert chunks[-1]["usage"]["completion_tokens_details"]["reasoning_tokens"] == 192


def test_sdk_stream_gets_the_summary_first_then_the_same_answer(o4_emulator: Emulator) -> None:
    chunks = list(open_stream(o4_emulator, "Why? [[reasoning:60]]"))
    text = reasoning_of(chunks)
    assert text == reasoning_text(60) and len(text.split()) == 60
    assert text.startswith("**Planning the answer**\n\nI need to work out")
    assert "\n\n**Checking the details**\n\n" in text
    first_content = next(i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.content)
    assert all(c.choices[0].delta.content == "" for c in chunks[:first_content])
    assert not any(
        getattr(c.choices[0].delta, "reasoning", None) for c in chunks[first_content:] if c.choices
    )
    assert content_of(chunks) == content_of(list(open_stream(o4_emulator, "Why?")))
    record = o4_emulator.chat_requests[0]
    assert record.reasoning == text and record.reasoning_details == [summary_item(text)]
    assert record.directives == "[[reasoning:60]]"


def test_non_streamed_message_carries_the_whole_summary(o4_emulator: Emulator) -> None:
    message = ask(o4_emulator, "Why? [[reasoning:5]]").choices[0].message
    assert message.reasoning == SUMMARY_5
    assert message.reasoning_details == [summary_item(SUMMARY_5)]
    assert message.content.startswith("## Offline answer") and "[[" not in message.content


def test_encrypted_only_reasoning(o4_emulator: Emulator) -> None:
    chunks = stream_raw(o4_emulator, "Why? [[reasoning:encrypted]]")
    delta = chunks[0]["choices"][0]["delta"]
    assert set(delta) == {"role", "content", "reasoning_details"} and delta["content"] == ""
    (item,) = delta["reasoning_details"]
    assert set(item) == {"type", "data", "id", "format", "index"}
    assert (item["type"], item["format"], item["index"]) == ("reasoning.encrypted", "openai-responses-v1", 0)
    assert item["data"].startswith("gAAAA") and len(item["data"]) > 100 and item["id"].startswith("rs_")
    assert chunks[1]["choices"][0]["delta"] == {"role": "assistant", "content": "## "}
    message = ask(o4_emulator, "Why? [[reasoning:encrypted]]").choices[0].message
    assert message.reasoning is None and message.reasoning_details[0]["type"] == "reasoning.encrypted"
    assert o4_emulator.chat_requests[-1].reasoning is None


@pytest.mark.parametrize(
    ("model", "format_"), [("anthropic/claude-3.5-haiku", "anthropic-claude-v1"), (MODEL, "unknown")]
)
def test_reasoning_text_items_as_other_models_send(o4_emulator: Emulator, model: str, format_: str) -> None:
    client = make_client(o4_emulator)
    messages = [{"role": "user", "content": "Why? [[reasoning:text:5]]"}]
    chunks = list(client.chat.completions.create(model=model, messages=messages, stream=True))
    assert reasoning_of(chunks) == SUMMARY_5
    assert chunks[0].choices[0].delta.reasoning_details == [
        {"type": "reasoning.text", "text": "**Planning ", "format": format_, "index": 0}
    ]
    message = client.chat.completions.create(model=model, messages=messages).choices[0].message
    assert message.reasoning == SUMMARY_5
    assert message.reasoning_details == [
        {"type": "reasoning.text", "text": SUMMARY_5, "format": format_, "index": 0}
    ]


def test_default_is_off_and_keeps_the_exact_output(o4_emulator: Emulator) -> None:
    assert o4_emulator.reasoning_summaries is False
    message = ask(o4_emulator, "Why?").choices[0].message
    assert message.reasoning is None and message.model_extra.keys() == {"reasoning"}
    chunks = stream_raw(o4_emulator, "Why?")
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "## "}


def test_emulator_default_applies_to_reasoning_models_and_can_change_at_run_time() -> None:
    with Emulator(reasoning_summaries=True) as emu:
        assert len(ask(emu, "Why?").choices[0].message.reasoning.split()) == 40
        client = make_client(emu)
        other = client.chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Why?"}]
        )
        assert other.choices[0].message.reasoning is None  # not a reasoning model
        assert ask(emu, "Why? [[reasoning:5]]").choices[0].message.reasoning == SUMMARY_5
        assert ask(emu, "Why? [[reasoning:off]]").choices[0].message.reasoning is None
        emu.reasoning_summaries = 7
        assert len(ask(emu, "Why?").choices[0].message.reasoning.split()) == 7
        emu.reasoning_summaries = "encrypted"
        assert ask(emu, "Why?").choices[0].message.reasoning_details[0]["type"] == "reasoning.encrypted"
        emu.reasoning_summaries = False
        assert ask(emu, "Why?").choices[0].message.reasoning is None
        with pytest.raises(ValueError, match="reasoning kind"):
            emu.reasoning_summaries = "loud"


@pytest.mark.parametrize("exclude", [{"reasoning": {"exclude": True}}, {"include_reasoning": False}])
def test_excluded_reasoning_sends_none(exclude: dict[str, Any]) -> None:
    with Emulator(reasoning_summaries=True) as emu:
        message = ask(emu, "Why? [[reasoning:5]]", extra_body=exclude).choices[0].message
        assert message.reasoning is None and message.model_extra.keys() == {"reasoning"}
        chunks = stream_raw(emu, "Why? [[reasoning:5]]", **exclude)
        assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "## "}
        assert emu.chat_requests[-1].reasoning_details == []


def test_reasoning_tokens_still_follow_the_effort(o4_emulator: Emulator) -> None:
    plain = ask(o4_emulator, "Why?", reasoning_effort="low").usage
    usage = ask(o4_emulator, "Why? [[reasoning:300]]", reasoning_effort="low").usage
    assert usage.completion_tokens_details.reasoning_tokens == 64
    assert usage.completion_tokens == plain.completion_tokens


def test_reasoning_streams_at_the_emulators_pace(o4_emulator: Emulator) -> None:
    o4_emulator.reply_text = "Done."
    started = time.monotonic()
    chunks = list(open_stream(o4_emulator, "[[reasoning:6]][[slow:0.05]]"))
    assert time.monotonic() - started >= 7 * 0.05
    assert len([c for c in chunks if c.choices and getattr(c.choices[0].delta, "reasoning", None)]) == 6


def test_a_midstream_error_can_strike_during_reasoning(o4_emulator: Emulator) -> None:
    received = []
    with pytest.raises(openai.APIError, match="Provider returned error"):
        for chunk in open_stream(o4_emulator, "[[reasoning:20]][[midstream-error]]"):
            received.append(chunk)
    assert reasoning_of(received) == "**Planning the answer**\n\n" and content_of(received) == ""


@pytest.mark.parametrize(
    "directive", ["[[reasoning:loud]]", "[[reasoning:encrypted:5]]", "[[reasoning:5:6]]"]
)
def test_a_bad_reasoning_directive_is_a_400(o4_emulator: Emulator, directive: str) -> None:
    with pytest.raises(openai.BadRequestError, match="bad directive"):
        ask(o4_emulator, f"Why? {directive}")


@pytest.mark.parametrize("words", [0, 1, 2, 3, 4, 37, 38, 200])
def test_summary_text_has_exactly_the_words_asked_and_balanced_bold(words: int) -> None:
    text = reasoning_text(words)
    assert len(text.split()) == words and text.count("**") % 2 == 0
    assert text == "" or text.startswith("**Planning")
