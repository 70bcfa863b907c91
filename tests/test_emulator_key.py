"""The emulator's ``/key`` endpoint: usage that grows with each billed call, and a credit limit."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import openai
import pytest
from test_emulator import KEY, MODEL, ask, free_port, http_get, open_stream, raw_post

from o4_magics.testing import Emulator

KEY_FIELDS = {"label", "usage", "limit", "limit_remaining", "is_free_tier", "rate_limit"}


def test_key_without_a_limit_reports_nulls_and_growing_usage(o4_emulator: Emulator) -> None:
    status, data = http_get(o4_emulator, "/key")
    assert status == 200 and KEY_FIELDS <= data["data"].keys()
    assert (data["data"]["usage"], data["data"]["limit"], data["data"]["limit_remaining"]) == (0, None, None)
    assert data["data"]["is_free_tier"] is False and KEY not in json.dumps(data)
    cost = ask(o4_emulator, "hello").usage.cost
    streamed = list(open_stream(o4_emulator, "hello again"))[-1].usage.cost
    assert http_get(o4_emulator, "/key")[1]["data"]["usage"] == round(cost + streamed, 10)
    assert o4_emulator.key_usage == round(cost + streamed, 10)
    assert [r.cost for r in o4_emulator.chat_requests] == [cost, streamed]


def test_failed_calls_are_not_billed(o4_emulator: Emulator) -> None:
    with pytest.raises(openai.RateLimitError):
        ask(o4_emulator, "[[status:429]]")
    assert http_get(o4_emulator, "/key")[1]["data"]["usage"] == 0
    assert o4_emulator.chat_requests[0].cost is None


def test_a_limit_counts_down_then_chat_requests_get_402() -> None:
    with Emulator(key_limit=0.002) as emu:
        data = http_get(emu, "/key")[1]["data"]
        assert (data["limit"], data["limit_remaining"], data["usage"]) == (0.002, 0.002, 0)
        costs = []
        while http_get(emu, "/key")[1]["data"]["limit_remaining"] > 0:
            costs.append(ask(emu, "[[long:200]]").usage.cost)
        data = http_get(emu, "/key")[1]["data"]
        assert data["usage"] == round(sum(costs), 10) and data["limit_remaining"] == round(
            0.002 - sum(costs), 10
        )
        with pytest.raises(openai.APIStatusError) as caught:
            ask(emu, "one more")
        assert caught.value.status_code == 402
        status, body = raw_post(emu, {"model": MODEL, "messages": [{"role": "user", "content": "x"}]})
        assert status == 402 and json.loads(body) == {
            "error": {
                "code": 402,
                "message": "Key limit exceeded (total limit). Manage it using https://openrouter.ai/settings/keys",
            }
        }
        assert (
            emu.chat_requests[-1].gen_id is None
            and http_get(emu, "/key")[1]["data"]["usage"] == data["usage"]
        )


def test_the_limit_can_change_at_run_time(o4_emulator: Emulator) -> None:
    cost = ask(o4_emulator, "hello").usage.cost
    o4_emulator.key_limit = cost
    assert http_get(o4_emulator, "/key")[1]["data"]["limit_remaining"] == 0
    with pytest.raises(openai.APIStatusError, match="Key limit exceeded"):
        ask(o4_emulator, "again")
    o4_emulator.key_limit = 1
    assert http_get(o4_emulator, "/key")[1]["data"]["limit_remaining"] == round(1 - cost, 10)
    assert ask(o4_emulator, "again").choices[0].finish_reason == "stop"
    o4_emulator.key_limit = None
    assert http_get(o4_emulator, "/key")[1]["data"]["limit_remaining"] is None


def test_clear_resets_the_usage_but_keeps_the_limit() -> None:
    with Emulator(key_limit=5) as emu:
        ask(emu, "hello")
        emu.clear()
        data = http_get(emu, "/key")[1]["data"]
        assert (data["usage"], data["limit"], data["limit_remaining"]) == (0, 5, 5)


def test_command_line_sets_the_key_limit_and_reasoning_default() -> None:
    port = free_port()
    command = [sys.executable, "-m", "o4_magics.testing", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--key-limit", "0.5", "--reasoning-summaries", "5"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        client = openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0)
        reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
        assert reply.choices[0].message.reasoning == "**Planning the answer**\n\nI need"
        request = urllib.request.Request(base_url + "/key", headers={"Authorization": f"Bearer {KEY}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            data = json.loads(response.read())["data"]
        assert data["limit"] == 0.5 and data["limit_remaining"] == round(0.5 - reply.usage.cost, 10)
    finally:
        process.terminate()
        process.wait(timeout=5)
