"""The offline OpenRouter emulator, exercised through the real ``openai`` SDK and plain HTTP."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import openai
import pytest

from o4_magics.testing import Emulator, RecordedRequest

MODEL = "openai/o4-mini"
KEY = "sk-or-v1-test"


def make_client(emu: Emulator, **options: Any) -> openai.OpenAI:
    options.setdefault("max_retries", 0)
    options.setdefault("api_key", KEY)
    return openai.OpenAI(base_url=emu.base_url, **options)


def ask(emu: Emulator, text: str, **options: Any) -> Any:
    """One non-streamed completion of ``text``; ``client`` options go to the client, the rest to create()."""
    client = make_client(emu, **options.pop("client", {}))
    return client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": text}], **options
    )


def open_stream(emu: Emulator, text: str, **options: Any) -> Any:
    client = make_client(emu, **options.pop("client", {}))
    return client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": text}], stream=True, **options
    )


def content_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def finish_of(chunks: list[Any]) -> str | None:
    return next(
        (c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason), None
    )


def http_get(emu: Emulator, path: str, key: str | None = KEY) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(emu.base_url + path)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def raw_post(emu: Emulator, body: dict[str, Any], key: str | None = KEY) -> tuple[int, bytes]:
    """POST /chat/completions with http.client and return the raw response bytes."""
    host, port = emu.base_url.split("//")[1].split("/")[0].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    connection.request("POST", "/api/v1/chat/completions", json.dumps(body), headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def expected_cost(usage: Any) -> float:
    return round(usage.prompt_tokens * 1.1e-6 + usage.completion_tokens * 4.4e-6, 10)


def png_data_url(width: int, height: int) -> str:
    header = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", width, height)
    return "data:image/png;base64," + base64.b64encode(header + b"\x08\x02\x00\x00\x00").decode()


# -- replies, usage and cost ------------------------------------------------------------------------------
def test_non_streamed_reply_has_markdown_usage_and_exact_cost(o4_emulator: Emulator) -> None:
    reply = ask(o4_emulator, "Explain how list comprehensions work in Python, briefly please")
    message = reply.choices[0].message.content
    assert reply.id.startswith("gen-") and reply.model == MODEL
    assert reply.choices[0].finish_reason == "stop"
    assert message.startswith("## ") and "```python\n" in message and "\n- " in message
    assert "\\( e^{i\\pi} + 1 = 0 \\)" in message and "\\[ \\sum_{k=1}^n k" in message
    assert 'You asked: "Explain how list comprehensions work in Python, briefly…"' in message
    usage = reply.usage
    assert usage.completion_tokens_details.reasoning_tokens == 192
    assert usage.completion_tokens == round(len(message.split()) * 1.3) + 192
    assert usage.prompt_tokens == round(
        len("Explain how list comprehensions work in Python, briefly please") / 4
    )
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.cost == expected_cost(usage)
    assert usage.is_byok is False


def test_streamed_reply_word_by_word_then_finish_then_usage(o4_emulator: Emulator) -> None:
    chunks = list(open_stream(o4_emulator, "Hello"))
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    text = content_of(chunks)
    assert len(content_chunks) == len(text.split())
    assert all(c.choices[0].delta.role == "assistant" for c in content_chunks)
    assert chunks[-2].choices[0].finish_reason == "stop" and chunks[-2].choices[0].delta.content == ""
    assert chunks[-1].choices == [] and chunks[-1].usage.cost == expected_cost(chunks[-1].usage)
    assert {c.id for c in chunks} == {o4_emulator.chat_requests[0].gen_id}
    assert text == ask(o4_emulator, "Hello").choices[0].message.content


def test_stream_starts_with_processing_comment_the_sdk_skips(o4_emulator: Emulator) -> None:
    status, data = raw_post(
        o4_emulator, {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    )
    assert status == 200
    assert data.startswith(b": OPENROUTER PROCESSING\n\ndata: {")
    assert data.endswith(b"data: [DONE]\n\n")
    first = next(iter(open_stream(o4_emulator, "hi")))
    assert first.choices[0].delta.content == "## "


@pytest.mark.parametrize(
    ("options", "reasoning"),
    [({}, 192), ({"reasoning_effort": "low"}, 64), ({"extra_body": {"reasoning": {"effort": "high"}}}, 512)],
)
def test_reasoning_tokens_follow_the_effort(o4_emulator: Emulator, options: dict, reasoning: int) -> None:
    usage = ask(o4_emulator, "x", **options).usage
    assert usage.completion_tokens_details.reasoning_tokens == reasoning
    assert usage.cost == expected_cost(usage)


def test_images_add_prompt_tokens(o4_emulator: Emulator) -> None:
    def tokens(url: str) -> int:
        content = [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": url}},
        ]
        client = make_client(o4_emulator)
        reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])
        return reply.usage.prompt_tokens

    text_only = ask(o4_emulator, "What is this?").usage.prompt_tokens
    assert tokens(png_data_url(100, 100)) - text_only == 28  # ceil(4 * 4 patches * 1.72)
    assert tokens(png_data_url(1024, 1024)) - text_only == 1762  # ceil(32 * 32 * 1.72)
    assert tokens("https://example.com/cat.jpg") - text_only == 765  # size unknown


def test_json_response_format_replies_with_a_json_object(o4_emulator: Emulator) -> None:
    reply = ask(o4_emulator, "List three numbers", response_format={"type": "json_object"})
    data = json.loads(reply.choices[0].message.content)
    assert data == {"answer": "List three numbers", "items": [1, 2, 3]}


def test_reply_text_override_and_clear(o4_emulator: Emulator) -> None:
    o4_emulator.reply_text = "Just this."
    assert content_of(list(open_stream(o4_emulator, "x"))) == "Just this."
    o4_emulator.queue_fault("[[status:500]]")
    o4_emulator.clear()
    assert o4_emulator.requests == [] and o4_emulator.generations == {}
    assert ask(o4_emulator, "x").choices[0].message.content.startswith("## Offline answer")


def test_markers_are_not_echoed(o4_emulator: Emulator) -> None:
    reply = ask(o4_emulator, "Explain [[think:0.01]] recursion [[long:0]]x")
    assert reply.choices[0].message.content == ""  # long:0 is an empty reply
    message = ask(o4_emulator, "Explain [[think:0.01]] recursion").choices[0].message.content
    assert 'You asked: "Explain recursion"' in message and "[[" not in message


def test_unknown_double_brackets_are_plain_text(o4_emulator: Emulator) -> None:
    ask(o4_emulator, "m = [[a]] + [[1, 2]]")
    assert o4_emulator.chat_requests[0].fault is None


# -- status faults -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "error_class", "message"),
    [
        (400, openai.BadRequestError, "maximum context length is 200000 tokens"),
        (401, openai.AuthenticationError, "User not found."),
        (402, openai.APIStatusError, "requires more credits"),
        (403, openai.PermissionDeniedError, "flagged"),
        (404, openai.NotFoundError, "No endpoints found for openai/o4-mini."),
        (408, openai.APIStatusError, "Timed out"),
        (429, openai.RateLimitError, "rate-limited"),
        (502, openai.InternalServerError, "Provider returned error"),
        (503, openai.InternalServerError, "No allowed providers"),
    ],
)
def test_status_marker_raises_the_sdk_error(
    o4_emulator: Emulator, code: int, error_class: type, message: str
) -> None:
    with pytest.raises(error_class) as caught:
        ask(o4_emulator, f"Tell me a story [[status:{code}]]")
    error = caught.value
    assert error.status_code == code and error.body["code"] == code and message in error.body["message"]
    if error_class is openai.APIStatusError:
        assert type(error) is openai.APIStatusError
    record = o4_emulator.chat_requests[0]
    assert (record.status, record.fault, record.gen_id, record.completed) == (
        code,
        f"[[status:{code}]]",
        None,
        False,
    )


def test_status_403_carries_moderation_metadata(o4_emulator: Emulator) -> None:
    with pytest.raises(openai.PermissionDeniedError) as caught:
        ask(o4_emulator, "Something violent [[status:403]]")
    metadata = caught.value.body["metadata"]
    assert metadata["reasons"] == ["violence"] and metadata["flagged_input"] == "Something violent"


def test_status_on_a_stream_raises_at_create(o4_emulator: Emulator) -> None:
    with pytest.raises(openai.RateLimitError):
        open_stream(o4_emulator, "[[status:429]]")


def test_retry_after_header(o4_emulator: Emulator) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        ask(o4_emulator, "[[status:429:retry-after=7]]")
    assert caught.value.response.headers["retry-after"] == "7"


def test_times_fails_the_first_n_then_succeeds_so_sdk_retries_work(o4_emulator: Emulator) -> None:
    reply = ask(o4_emulator, "hi [[status:429:retry-after=0.01:times=2]]", client={"max_retries": 2})
    assert reply.choices[0].finish_reason == "stop"
    records = o4_emulator.chat_requests
    assert [r.status for r in records] == [429, 429, 200]
    assert [r.fault for r in records] == ["[[status:429:retry-after=0.01:times=2]]"] * 2 + [None]
    assert [r.headers["x-stainless-retry-count"] for r in records] == ["0", "1", "2"]


def test_times_counts_per_marker_until_clear(o4_emulator: Emulator) -> None:
    with pytest.raises(openai.InternalServerError):
        ask(o4_emulator, "[[status:503:times=1]]")
    assert ask(o4_emulator, "[[status:503:times=1]]").choices[0].finish_reason == "stop"
    o4_emulator.clear()
    with pytest.raises(openai.InternalServerError):
        ask(o4_emulator, "[[status:503:times=1]]")


def test_queued_faults_apply_to_the_next_requests_one_each(o4_emulator: Emulator) -> None:
    o4_emulator.queue_fault("[[status:402]]")
    o4_emulator.queue_fault("[[empty]][[no-usage]]")
    with pytest.raises(openai.APIStatusError) as caught:
        ask(o4_emulator, "hi")
    assert caught.value.status_code == 402
    second = ask(o4_emulator, "hi")
    assert second.choices[0].message.content == "" and second.usage is None
    assert ask(o4_emulator, "hi").choices[0].message.content
    assert [r.fault for r in o4_emulator.chat_requests] == ["[[status:402]]", "[[empty]][[no-usage]]", None]


def test_queue_fault_rejects_text_without_a_valid_marker(o4_emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="no fault marker"):
        o4_emulator.queue_fault("status:429")
    with pytest.raises(ValueError, match="not a number"):
        o4_emulator.queue_fault("[[slow:fast]]")


def test_bad_marker_is_a_400(o4_emulator: Emulator) -> None:
    with pytest.raises(openai.BadRequestError, match="bad fault marker"):
        ask(o4_emulator, "[[status:abc]]")


# -- auth and validation -------------------------------------------------------------------------------------
def test_missing_and_invalid_keys_are_401(o4_emulator: Emulator) -> None:
    status, data = raw_post(
        o4_emulator, {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}, key=None
    )
    assert status == 401 and data == b'{"error": {"code": 401, "message": "No auth credentials found"}}'
    with pytest.raises(openai.AuthenticationError, match="User not found."):
        ask(o4_emulator, "x", client={"api_key": "sk-or-v1-invalid-123"})


def test_unknown_model_is_404(o4_emulator: Emulator) -> None:
    client = make_client(o4_emulator)
    with pytest.raises(openai.NotFoundError, match=r"No endpoints found for openai/gpt-17\."):
        client.chat.completions.create(model="openai/gpt-17", messages=[{"role": "user", "content": "x"}])


# -- stream faults --------------------------------------------------------------------------------------------
def test_midstream_error_raises_api_error_after_some_content(o4_emulator: Emulator) -> None:
    received = []
    with pytest.raises(openai.APIError, match="Provider returned error") as caught:
        for chunk in open_stream(o4_emulator, "[[midstream-error]]"):
            received.append(chunk)
    assert type(caught.value) is openai.APIError and caught.value.body["code"] == 502
    assert content_of(received) == "## Offline answer\n\n" and len(received) == 3
    record = o4_emulator.chat_requests[0]
    assert (record.status, record.finish_reason, record.completed) == (200, "error", True)


def test_drop_ends_the_iteration_silently_without_finish_reason(o4_emulator: Emulator) -> None:
    chunks = list(open_stream(o4_emulator, "[[drop]]"))
    assert len(chunks) == 3 and finish_of(chunks) is None and all(c.usage is None for c in chunks)
    record = o4_emulator.chat_requests[0]
    assert (record.status, record.fault, record.completed, record.finish_reason) == (
        200,
        "[[drop]]",
        False,
        None,
    )


@pytest.mark.parametrize("markers", ["[[drop:reset]]", "[[chunked]][[drop]]"])
def test_drop_by_reset_or_in_a_chunked_body_is_a_connection_error(
    o4_emulator: Emulator, markers: str
) -> None:
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in open_stream(o4_emulator, markers):
            received.append(chunk)
    assert len(received) <= 3


def test_drop_without_streaming_is_a_connection_error(o4_emulator: Emulator) -> None:
    with pytest.raises(openai.APIConnectionError):
        ask(o4_emulator, "[[drop]]")


def test_chunked_transfer_encoding_streams_normally(o4_emulator: Emulator) -> None:
    chunks = list(open_stream(o4_emulator, "[[chunked]]"))
    assert finish_of(chunks) == "stop" and chunks[-1].usage is not None


def test_malformed_line_raises_a_json_decode_error_from_the_sdk(o4_emulator: Emulator) -> None:
    received = []
    with pytest.raises(json.JSONDecodeError):
        for chunk in open_stream(o4_emulator, "[[malformed]]"):
            received.append(chunk)
    assert len(received) == 3
    status, data = raw_post(
        o4_emulator,
        {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "[[malformed]]"}]},
    )
    assert b"\n\ndata: {not json\n\n" in data and data.endswith(b"data: [DONE]\n\n")


def test_delay_before_headers_trips_the_client_timeout(o4_emulator: Emulator) -> None:
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        ask(o4_emulator, "[[delay:3]]", client={"timeout": 0.3})
    assert time.monotonic() - started < 1.5
    assert ask(o4_emulator, "[[delay:0.2]]").choices[0].finish_reason == "stop"


def test_think_sends_processing_comments_before_the_first_token(o4_emulator: Emulator) -> None:
    started = time.monotonic()
    stream = iter(open_stream(o4_emulator, "[[think:0.5]]"))
    first = next(stream)
    assert time.monotonic() - started >= 0.5 and first.choices[0].delta.content == "## "
    assert finish_of(list(stream)) == "stop"
    _, data = raw_post(
        o4_emulator,
        {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "[[think:0.5]]"}]},
    )
    assert data.split(b"data: ")[0] == b": OPENROUTER PROCESSING\n\n" * 4


def test_slow_streams_each_piece_after_a_pause(o4_emulator: Emulator) -> None:
    o4_emulator.reply_text = "one two three four five"
    started = time.monotonic()
    chunks = list(open_stream(o4_emulator, "[[slow:0.1]]"))
    assert time.monotonic() - started >= 0.5 and content_of(chunks) == "one two three four five"


def test_client_hanging_up_a_slow_stream_cancels_it_quietly(o4_emulator: Emulator, capfd: Any) -> None:
    stream = open_stream(o4_emulator, "[[slow:0.1]]")
    iterator = iter(stream)
    next(iterator), next(iterator)
    stream.close()
    gen_id = o4_emulator.chat_requests[0].gen_id
    deadline = time.monotonic() + 2
    while not o4_emulator.generations[gen_id]["cancelled"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert o4_emulator.generations[gen_id]["cancelled"] is True
    assert o4_emulator.chat_requests[0].completed is False
    assert capfd.readouterr().err == ""


def test_stop_is_fast_with_a_slow_stream_in_flight(capfd: Any) -> None:
    emu = Emulator().start()
    stream = open_stream(emu, "[[slow:0.2]][[long:1000]]")
    iterator = iter(stream)
    next(iterator)
    started = time.monotonic()
    emu.stop()
    assert time.monotonic() - started < 1.0
    rest = []
    try:
        rest = list(iterator)
    except openai.APIConnectionError:
        pass
    assert finish_of(rest) is None
    assert capfd.readouterr().err == ""


def test_stall_goes_silent_mid_stream(o4_emulator: Emulator) -> None:
    received = []
    with pytest.raises(openai.APITimeoutError):
        for chunk in open_stream(o4_emulator, "[[stall:2]]", client={"timeout": 0.3}):
            received.append(chunk)
    assert len(received) == 3
    started = time.monotonic()
    chunks = list(open_stream(o4_emulator, "[[stall:0.3]]"))
    assert time.monotonic() - started >= 0.3 and finish_of(chunks) == "stop"


def test_long_reply_has_exactly_n_words_one_chunk_each(o4_emulator: Emulator) -> None:
    chunks = list(open_stream(o4_emulator, "[[long:20000]]"))
    text = content_of(chunks)
    assert len(text.split()) == 20000 and len(chunks) == 20000 + 2
    assert "\n\n" in text and text == ask(o4_emulator, "[[long:20000]]").choices[0].message.content
    assert chunks[-1].usage.completion_tokens == 26000 + 192


def test_empty_reply(o4_emulator: Emulator) -> None:
    chunks = list(open_stream(o4_emulator, "[[empty]]"))
    assert (
        content_of(chunks) == "" and finish_of(chunks) == "stop" and chunks[-1].usage.completion_tokens == 192
    )


def test_length_cuts_the_reply(o4_emulator: Emulator) -> None:
    full = ask(o4_emulator, "x").choices[0].message.content
    chunks = list(open_stream(o4_emulator, "x [[length]]"))
    assert finish_of(chunks) == "length" and full.startswith(content_of(chunks))
    assert len(content_of(chunks)) < len(full)
    assert o4_emulator.chat_requests[-1].finish_reason == "length"


def test_no_usage_sends_no_usage_chunk(o4_emulator: Emulator) -> None:
    chunks = list(open_stream(o4_emulator, "[[no-usage]]"))
    assert finish_of(chunks) == "stop" and all(c.usage is None for c in chunks)
    assert ask(o4_emulator, "[[no-usage]]").usage is None


def test_combined_markers(o4_emulator: Emulator) -> None:
    started = time.monotonic()
    chunks = list(open_stream(o4_emulator, "[[think:0.2]][[long:50]]"))
    assert time.monotonic() - started >= 0.2 and len(content_of(chunks).split()) == 50
    assert o4_emulator.chat_requests[0].fault == "[[think:0.2]][[long:50]]"


# -- other endpoints ------------------------------------------------------------------------------------------
def test_models(o4_emulator: Emulator) -> None:
    ids = [model.id for model in make_client(o4_emulator).models.list()]
    assert ids == ["openai/o4-mini", "openai/gpt-4o-mini", "anthropic/claude-3.5-haiku"]
    status, data = http_get(o4_emulator, "/models", key=None)
    o4 = data["data"][0]
    assert status == 200 and o4["context_length"] == 200000
    assert o4["pricing"]["prompt"] == "0.0000011" and o4["pricing"]["completion"] == "0.0000044"
    assert o4["top_provider"]["max_completion_tokens"] == 100000
    assert o4["architecture"]["input_modalities"] == ["image", "text", "file"]


def test_generation_stats_for_a_real_gen_id(o4_emulator: Emulator) -> None:
    chunks = list(open_stream(o4_emulator, "hello"))
    usage = chunks[-1].usage
    status, data = http_get(o4_emulator, f"/generation?id={chunks[0].id}")
    stats = data["data"]
    assert status == 200 and stats == o4_emulator.generations[chunks[0].id]
    assert stats["total_cost"] == usage.cost and stats["tokens_prompt"] == usage.prompt_tokens
    assert stats["tokens_completion"] == usage.completion_tokens and stats["native_tokens_reasoning"] == 192
    assert (stats["finish_reason"], stats["cancelled"], stats["provider_name"]) == ("stop", False, "OpenAI")
    assert stats["latency"] >= 0 and stats["generation_time"] >= 0
    assert o4_emulator.requests[-1].query == {"id": chunks[0].id}
    assert http_get(o4_emulator, "/generation?id=gen-nope")[0] == 404
    assert http_get(o4_emulator, f"/generation?id={chunks[0].id}", key=None)[0] == 401


def test_key_reports_usage_without_echoing_the_key(o4_emulator: Emulator) -> None:
    costs = [ask(o4_emulator, "a").usage.cost, ask(o4_emulator, "bb").usage.cost]
    status, data = http_get(o4_emulator, "/key")
    assert status == 200 and data["data"]["usage"] == pytest.approx(sum(costs))
    assert data["data"]["label"] == "sk-or-v1-emu..." and KEY not in json.dumps(data)
    assert data["data"]["rate_limit"] == {"requests": 100, "interval": "10s"}
    assert http_get(o4_emulator, "/key", key=None)[0] == 401


def test_unknown_path_is_an_openrouter_404(o4_emulator: Emulator) -> None:
    status, data = http_get(o4_emulator, "/nope")
    assert status == 404 and data["error"]["code"] == 404


# -- recording, fixture, command line ---------------------------------------------------------------------------
def test_requests_are_recorded_with_lowercased_headers_and_body(o4_emulator: Emulator) -> None:
    client = make_client(
        o4_emulator, default_headers={"HTTP-Referer": "https://example.org", "X-Title": "o4 tests"}
    )
    client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], extra_body={"usage": {"include": True}}
    )
    (record,) = o4_emulator.requests
    assert isinstance(record, RecordedRequest) and o4_emulator.chat_requests == [record]
    assert (record.method, record.path, record.query, record.status) == (
        "POST",
        "/api/v1/chat/completions",
        {},
        200,
    )
    assert record.headers["authorization"] == f"Bearer {KEY}" and record.headers["x-title"] == "o4 tests"
    assert record.headers["http-referer"] == "https://example.org"
    assert record.body == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "usage": {"include": True},
    }
    assert record.completed and record.finish_reason == "stop" and record.gen_id in o4_emulator.generations
    assert o4_emulator.generations[record.gen_id]["origin"] == "https://example.org"


def test_request_is_recorded_before_its_response(o4_emulator: Emulator) -> None:
    thread = threading.Thread(target=lambda: ask(o4_emulator, "[[delay:0.5]]"))
    thread.start()
    deadline = time.monotonic() + 2
    while not o4_emulator.chat_requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (
        o4_emulator.chat_requests[0].status is None and o4_emulator.chat_requests[0].fault == "[[delay:0.5]]"
    )
    thread.join()
    assert o4_emulator.chat_requests[0].status == 200


def test_fixture_gives_a_fresh_running_emulator(o4_emulator: Emulator) -> None:
    assert o4_emulator.requests == [] and o4_emulator.reply_text is None
    assert o4_emulator.base_url == f"http://127.0.0.1:{o4_emulator.port}/api/v1"


def test_start_stop_without_context_manager() -> None:
    emu = Emulator().start()
    try:
        assert http_get(emu, "/models")[0] == 200
    finally:
        emu.stop()
    emu.stop()  # a second stop is harmless


def test_imports_without_openai() -> None:
    code = (
        "import sys, urllib.request; sys.modules['openai'] = None\n"
        "from o4_magics.testing import Emulator\n"
        "with Emulator() as emu: print(urllib.request.urlopen(emu.base_url + '/models').status)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert result.stdout.strip() == "200", result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_command_line_serves_until_terminated() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "o4_magics.testing", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url == f"http://127.0.0.1:{port}/api/v1"
        assert "offline" in process.stdout.readline()
        with urllib.request.urlopen(base_url + "/models", timeout=5) as response:
            assert json.loads(response.read())["data"][0]["id"] == MODEL
    finally:
        process.terminate()
        process.wait(timeout=5)


def sse_chunks(data: bytes) -> list[dict[str, Any]]:
    """The JSON chunks of a raw SSE body, in order (comments and ``[DONE]`` left out)."""
    return [
        json.loads(line[len(b"data: ") :])
        for line in data.split(b"\n")
        if line.startswith(b"data: ") and line != b"data: [DONE]"
    ]


def test_a_slow_stream_finishes_in_a_process_with_many_open_files(o4_emulator):
    """select() refuses descriptors past 1024: the emulator then took every slow stream for hung up and ended
    it early, without an error (seen late in a full test run, when the process held over 1,024 files)."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        pytest.skip(f"the open-files limit ({soft}) is too low to pass descriptor 1024")
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        client = openai.OpenAI(base_url=o4_emulator.base_url, api_key="sk-or-v1-test", max_retries=0)
        stream = client.chat.completions.create(
            model="openai/o4-mini",
            messages=[{"role": "user", "content": "[[slow:0.02]][[long:10]] hi"}],
            stream=True,
        )
        finishes = [choice.finish_reason for chunk in stream for choice in chunk.choices if choice.finish_reason]
        client.close()
    finally:
        for fd in held:
            os.close(fd)
    assert finishes == ["stop"]
