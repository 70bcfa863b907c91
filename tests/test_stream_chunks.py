"""Streamed chunks are read as the JSON the server sent (``call.client.sdk_chunks``: the SDK's SSE decoder, no
pydantic model per chunk), so every shape a server may send must still give the same reply, reasoning, usage and
errors. A canned server here sends the shapes ``shared/openrouter.md`` records from real OpenRouter traffic, and
SSE framings the bundled emulator never uses, through the real ``openai`` client."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import TEST_KEY

import o4_magics
from o4_magics.call.session import Session
from o4_magics.call.settings import O4Settings
from o4_magics.errors import O4Error

META = {"id": "gen-1764-abc", "provider": "OpenAI", "model": "openai/o4-mini", "object": "chat.completion.chunk",
        "created": 1764400000}
USAGE = {"prompt_tokens": 21, "completion_tokens": 48, "total_tokens": 69, "cost": 0.0002343,
         "prompt_tokens_details": {"cached_tokens": 3}, "completion_tokens_details": {"reasoning_tokens": 30}}


def chunk(delta=None, finish=None, **extra):
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish,
                                         "native_finish_reason": finish}]
    return json.dumps({**META, "choices": choices, **extra})


def events(*datas, newline="\n"):
    return "".join(f"data: {data}{newline}{newline}" for data in datas).encode()


RECORDED = (
    b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n"
    + events(
        chunk({"role": "assistant", "content": "", "reasoning": "Weighing ",
               "reasoning_details": [{"type": "reasoning.summary", "summary": "Weighing ", "index": 0,
                                      "format": "openai-responses-v1"}]}),
        chunk({"role": "assistant", "content": "", "reasoning": "the options.",
               "reasoning_details": [{"type": "reasoning.summary", "summary": "the options.", "index": 0}]}),
        chunk({"role": "assistant", "content": "", "reasoning_details": [{"type": "reasoning.encrypted",
                                                                          "data": "gAAAAB"}]}),
        chunk({"role": "assistant", "content": "The answer "}),
        chunk({"role": "assistant", "content": "costs $5."}),
        chunk({"role": "assistant", "content": ""}, finish="stop"),
        chunk({"role": "assistant", "content": ""}, finish=None),  # a later null must not undo "stop"
        chunk(usage=USAGE),  # usage alone, no choices
        "[DONE]",
    )
)
#: The same reply with CRLF line ends, ``data:`` without its space, an event's JSON split over two data lines,
#: and an ``event:`` field: what another OpenRouter-style server may send.
FRAMED = (
    b'data:{"id": "gen-2", "model": "openai/o4-mini", "choices": [{"index": 0, "delta": {"content": "one "}}]}\r\n\r\n'
    b'event: message\r\ndata: {"id": "gen-2", "choices": [{"index": 0,\r\ndata: "delta": {"content": "two"}, '
    b'"finish_reason": "stop"}]}\r\n\r\n'
    b'data: {"id": "gen-2", "choices": [{"index": 0, "delta": null, "finish_reason": null}], "usage": null}\r\n\r\n'
    b"data: [DONE]\r\n\r\n"
)
ERROR_ALONE = events(chunk({"content": "Partial "}),
                     json.dumps({"error": {"code": 502, "message": "Provider returned error"}}))
ERROR_WITH_CHOICES = events(
    chunk({"content": "Partial "}),
    json.dumps({**META, "error": {"code": "server_error", "message": "Upstream stopped"},
                "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}], "usage": USAGE}),
    "[DONE]",
)


@pytest.fixture
def canned(monkeypatch):
    """A server that answers every chat completion with ``canned.body``; yields (server state, session)."""

    class State:
        body = b""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(State.body)))
            self.end_headers()
            self.wfile.write(State.body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY)
    session = Session(O4Settings(base_url=f"http://127.0.0.1:{server.server_port}/api/v1", max_retries=0))
    try:
        yield State, session
    finally:
        server.shutdown()


def test_recorded_openrouter_shapes_give_the_reply_reasoning_and_usage(canned):
    state, session = canned
    state.body = RECORDED
    reply = o4_magics.ask("Which option?", session=session)
    assert reply.text == "The answer costs $5."
    assert reply.reasoning == "Weighing the options."  # the summary once, not reasoning and details both
    assert reply.finish_reason == "stop" and reply.status == "ok"
    assert (reply.generation_id, reply.provider, reply.model) == ("gen-1764-abc", "OpenAI", "openai/o4-mini")
    usage = reply.usage
    assert (usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens, usage.reasoning_tokens) == (21, 3, 48, 30)
    assert usage.cost_usd == pytest.approx(0.0002343) and usage.cost_source == "openrouter"
    row = session.ledger.recent(limit=1)[0]
    assert row.generation_id == "gen-1764-abc" and row.cost_usd == pytest.approx(0.0002343)


def test_other_sse_framings_give_the_same_text(canned):
    state, session = canned
    state.body = FRAMED
    reply = o4_magics.ask("Count", session=session)
    assert reply.text == "one two" and reply.finish_reason == "stop" and reply.generation_id == "gen-2"


@pytest.mark.parametrize("body", [ERROR_ALONE, ERROR_WITH_CHOICES], ids=["error-alone", "error-with-choices"])
def test_an_error_inside_the_stream_is_a_short_error_that_keeps_what_streamed(canned, body):
    state, session = canned
    state.body = body
    with pytest.raises(O4Error) as caught:
        o4_magics.ask("Go on", session=session)
    error = caught.value
    assert "failed part-way" in str(error) and "Traceback" not in str(error)
    assert error.partial_text == "Partial "
    assert session.ledger.recent(limit=1)[0].status == "error"
