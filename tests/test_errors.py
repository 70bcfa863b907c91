"""Every failure renders as a short message naming cause and fix; what streamed stays; the key never shows."""

from __future__ import annotations

import _thread
import threading

import pytest
from conftest import TEST_KEY, final_markdown


def run_failing(shell, cell):
    result, captured = shell.run(cell)
    assert not result.success
    text = captured.stdout + captured.stderr
    assert "Traceback" not in text
    assert TEST_KEY not in text
    return result.error_in_exec, text, captured


def test_no_key_sends_nothing(shell, o4_emulator, monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY")
    error, text, _ = run_failing(shell, "%o4 hello")
    assert "OPENROUTER_API_KEY" in text and "%o4_key" in text
    assert o4_emulator.chat_requests == []


@pytest.mark.parametrize(
    "marker, expected",
    [
        ("[[status:401]]", "rejected the API key (401"),
        ("[[status:402]]", "too few credits"),
        ("[[status:403]]", "moderation flagged the input (403: violence"),
        ("[[status:404]]", "not found on OpenRouter (404"),
        ("[[status:400]]", "too long for the model's context"),
        ("[[status:408]]", "timed out the request (408) after 1 retry"),
        ("[[status:429]]", "Rate limited by OpenRouter (429) after 1 retry"),
        ("[[status:502]]", "provider failed (502"),
        ("[[status:503]]", "provider failed (503"),
    ],
)
def test_http_errors(shell, magics, o4_emulator, marker, expected):
    magics.max_retries = 1
    error, text, _ = run_failing(shell, f"%o4 fail {marker}")
    assert expected in text
    assert len(text.strip().splitlines()) <= 2


def test_no_retry_on_401_402(shell, magics, o4_emulator):
    magics.max_retries = 2
    run_failing(shell, "%o4 [[status:402]]")
    run_failing(shell, "%o4 [[status:401]]")
    assert len(o4_emulator.chat_requests) == 2


def test_429_retried_honouring_retry_after(shell, magics, o4_emulator):
    magics.max_retries = 2
    result, captured = shell.run("%o4 busy [[status:429:times=1:retry-after=1]]")
    assert result.success
    requests = o4_emulator.chat_requests
    assert len(requests) == 2 and requests[0].status == 429


def test_connection_refused(shell, magics):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    magics.base_url = f"http://127.0.0.1:{port}/api/v1"
    magics.max_retries = 0
    _, text, _ = run_failing(shell, "%o4 hi")
    assert f"Could not connect to 127.0.0.1:{port}" in text


def test_read_timeout_keeps_partial(shell, magics, o4_emulator):
    magics.timeout = 0.5
    magics.max_retries = 0
    error, text, captured = run_failing(shell, "%o4 hi [[stall:3]]")
    assert "No answer from" in text and "O4Magics.timeout" in text


def test_midstream_error_keeps_partial(shell, o4_emulator):
    error, text, captured = run_failing(shell, "%o4 hi [[midstream-error]]")
    assert "failed part-way" in text
    rendered = final_markdown(captured)
    assert error.partial_text and error.partial_text.split()[0] in rendered
    assert "reply failed" in rendered


@pytest.mark.parametrize("marker", ["[[drop]]", "[[drop:reset]]", "[[chunked]][[drop]]"])
def test_dropped_stream_is_incomplete(shell, o4_emulator, marker):
    error, text, captured = run_failing(shell, f"%o4 hi {marker}")
    assert "incomplete" in text
    assert error.partial_text
    assert "reply incomplete" in final_markdown(captured)


def test_malformed_chunk(shell, o4_emulator):
    result, captured = shell.run("%o4 hi [[malformed]]")
    text = captured.stdout + captured.stderr
    assert "Traceback" not in text
    if not result.success:
        assert "malformed" in text


def test_interrupt_keeps_partial_and_kernel_usable(shell, o4_emulator):
    timer = threading.Timer(0.8, _thread.interrupt_main)
    timer.start()
    error, text, captured = run_failing(shell, "%o4 slow [[slow:0.1]][[long:200]]")
    timer.join()
    assert "Interrupted" in text
    assert error.partial_text
    assert "interrupted" in final_markdown(captured)
    result, _ = shell.run("%o4 again")
    assert result.success


def test_debug_shows_traceback(shell, magics, o4_emulator):
    magics.debug = True
    result, captured = shell.run("%o4 [[status:402]]")
    assert "Traceback" in captured.stdout + captured.stderr


def test_key_never_in_reprs(shell, magics):
    assert TEST_KEY not in repr(magics.session)
    magics.session.client(TEST_KEY)
    assert TEST_KEY not in repr(magics.session.pool)
    for config in magics.session.pool._clients:
        assert TEST_KEY not in repr(config)
    assert TEST_KEY not in str(magics.config)


def test_o4_key_refuses_inline_key(shell):
    result, captured = shell.run("%o4_key sk-or-v1-abc")
    assert not result.success
    assert "do not type the key" in captured.stdout + captured.stderr
