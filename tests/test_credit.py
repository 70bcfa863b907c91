"""The OpenRouter key's own credit (#16): the panel shows what the key spent and what is left of its limit (from
/key, through the emulator), a call whose worst case passes what is left is refused before sending, and a
missing, slow or broken /key never fails or holds up a call."""

from __future__ import annotations

import time

import pytest
from conftest import TEST_KEY, wait_for

import o4_magics
from o4_magics import BudgetExceeded
from o4_magics.accounting import credit
from o4_magics.accounting.money import format_usd
from o4_magics.testing import routes
from o4_magics.testing.httpd import API_PREFIX

KEY_ROUTE = ("GET", API_PREFIX + "/key")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def key_fetches(emulator) -> int:
    return sum(1 for request in emulator.requests if request.path == KEY_ROUTE[1])


def credit_line(emulator) -> str:
    spent, limit = emulator.key_usage, emulator.key_limit
    return f"OpenRouter key: {format_usd(spent)} spent, {format_usd(limit - spent)} left of its {format_usd(limit)} limit"


def test_the_panel_shows_what_the_key_spent_and_has_left(shell, magics, o4_emulator, panels):
    o4_emulator.key_limit = 0.05
    shell.run("%o4 --max-tokens 500 hi")
    shell.run("%o4 --max-tokens 500 again")
    _, captured = shell.run("%o4_usage")
    (panel,) = panels
    assert o4_emulator.key_usage > 0
    wait_for(lambda: credit_line(o4_emulator) in panel.credit_html.value)  # a fetch that raced a call settles
    assert credit_line(o4_emulator) in panel.static_html() and credit_line(o4_emulator) in panel.static_text()
    bundle = next(out.data for out in captured.outputs if WIDGET_VIEW in out.data)
    assert "OpenRouter key: $0." in bundle["text/html"] and "left of its $0.05 limit" in bundle["text/plain"]
    shell.run("%o4 --max-tokens 500 a third time")  # the live panel follows without a new /key fetch blocking
    wait_for(lambda: credit_line(o4_emulator) in panel.credit_html.value)
    assert TEST_KEY not in panel.credit_html.value and routes.KEY_LABEL not in panel.static_html()


def test_a_key_without_a_limit_shows_nothing_extra(shell, magics, o4_emulator, panels):
    shell.run("%o4 hi")
    _, captured = shell.run("%o4_usage")
    (panel,) = panels
    assert key_fetches(o4_emulator) >= 1  # it was asked, and said: no limit
    assert panel.credit_html.value == ""
    bundle = next(out.data for out in captured.outputs if WIDGET_VIEW in out.data)
    assert "OpenRouter key" not in bundle["text/html"] + bundle["text/plain"]


def test_a_call_past_what_the_key_has_left_is_refused_with_the_figures(shell, magics, o4_emulator):
    o4_emulator.key_limit = 0.01
    result, captured = shell.run("%o4 hi")
    assert isinstance(result.error_in_exec, BudgetExceeded)
    assert (
        "o4: Key credit: this call could cost up to $0.044 (~" in captured.stdout + captured.stderr
        and "input tokens, no --max-tokens, so 10,000 output tokens assumed) and the OpenRouter key has $0.01 "
        "left of its $0.01 limit ($0.00 spent); nothing was sent. Set a lower --max-tokens, or raise the key's "
        "limit at https://openrouter.ai/settings/keys."
        in captured.stdout + captured.stderr
    )
    assert o4_emulator.chat_requests == []
    (row,) = magics.session.ledger.recent(limit=5)
    assert row.status == "refused" and "Key credit" in row.error
    assert shell.run("%o4 --max-tokens 200 hi")[0].success  # the hint, followed, is enough
    with pytest.raises(BudgetExceeded, match="Key credit"):
        o4_magics.ask("and once more")
    assert len(o4_emulator.chat_requests) == 1


def test_what_was_spent_since_the_last_fetch_counts_at_once(shell, magics, o4_emulator, monkeypatch):
    """Calls of ~$0.0027 (their worst case too) against a $0.0068 limit: the third is refused by what this
    notebook spent, though /key fails from the second call on."""
    o4_emulator.key_limit = 0.0068
    assert shell.run("%o4 -n --max-tokens 600 one [[long:2000]]")[0].success  # /key asked before this call
    monkeypatch.setitem(
        routes.ROUTES, KEY_ROUTE, lambda handler, request: handler.send_error_json(request, 503, "busy")
    )
    assert shell.run("%o4 -n --max-tokens 600 two [[long:2000]]")[0].success
    result, captured = shell.run("%o4 -n --max-tokens 600 three [[long:2000]]")
    assert isinstance(result.error_in_exec, BudgetExceeded), captured.stdout + captured.stderr
    assert f"the OpenRouter key has {format_usd(0.0068 - o4_emulator.key_usage)} left" in captured.stdout
    assert len(o4_emulator.chat_requests) == 2


def test_fetched_at_most_once_a_minute_per_key_and_endpoint(shell, magics, o4_emulator, monkeypatch):
    for index in range(3):
        shell.run(f"%o4 hi {index}")
    assert key_fetches(o4_emulator) == 1  # no limit: no need to look again within the minute
    magics.session.set_api_key(TEST_KEY.replace("LEAK", "ANOT"))  # another key: its own figures
    shell.run("%o4 hi again")
    assert key_fetches(o4_emulator) == 2
    monkeypatch.setattr(credit, "FRESH_S", 0.0)  # a minute later: the call goes out with the figures it has,
    requests = len(o4_emulator.chat_requests)
    shell.run("%o4 and again")
    assert len(o4_emulator.chat_requests) == requests + 1
    wait_for(lambda: key_fetches(o4_emulator) == 3)  # and they are fetched again in the background


def test_with_a_limit_the_figures_are_fetched_again_after_calls(shell, magics, o4_emulator):
    o4_emulator.key_limit = 1.0
    for index in range(3):
        shell.run(f"%o4 --max-tokens 300 hi {index}")
    tracker = credit.credit_for(magics.session)
    wait_for(lambda: key_fetches(o4_emulator) >= 3)  # before the first call, then after each one

    def agrees() -> bool:  # a look while a fetch raced a call starts one more fetch; the figures settle
        shown = tracker.current(wait=False)
        return shown.usage_usd == pytest.approx(o4_emulator.key_usage, abs=1e-9)

    wait_for(agrees)
    assert tracker.current().remaining_usd == pytest.approx(1.0 - o4_emulator.key_usage, abs=1e-9)
    wait_for(lambda: not any(entry.fetching for entry in tracker._entries.values()))  # none left running


@pytest.mark.parametrize("failure", ["404", "garbage", "slow"])
def test_a_broken_key_endpoint_never_fails_or_holds_up_a_call(
    shell, magics, o4_emulator, monkeypatch, failure
):
    def broken(handler, request):
        if failure == "404":
            handler.send_error_json(request, 404, "No such route")
        elif failure == "garbage":
            handler.send_json(request, 200, {"data": "not an object"})
        else:
            time.sleep(3)
            handler.send_error_json(request, 504, "late")

    monkeypatch.setitem(routes.ROUTES, KEY_ROUTE, broken)
    monkeypatch.setattr(credit, "FETCH_TIMEOUT_S", 0.3)
    o4_emulator.key_limit = 0.000001  # would refuse every call, if /key said so
    started = time.monotonic()
    result, captured = shell.run("%o4 hi")
    assert result.success, captured.stdout + captured.stderr
    assert time.monotonic() - started < 2.5
    assert key_fetches(o4_emulator) == 1
    shell.run("%o4 hi again")
    assert key_fetches(o4_emulator) == 1  # a failure is not retried before the minute is up
    assert len(o4_emulator.chat_requests) == 2


def test_once_the_key_was_looked_at_a_call_never_waits_for_key(shell, magics, o4_emulator, monkeypatch):
    """Stale figures (a minute old) are brought forward and used while /key answers in the background: a slow
    /key holds up no call after the first."""
    o4_emulator.key_limit = 1.0
    assert shell.run("%o4 hi")[0].success
    assert key_fetches(o4_emulator) == 1

    def slow(handler, request):
        time.sleep(1.5)
        handler.send_json(request, 200, {"data": {"usage": 0.5, "limit": 1.0, "limit_remaining": 0.5}})

    monkeypatch.setitem(routes.ROUTES, KEY_ROUTE, slow)
    monkeypatch.setattr(credit, "FRESH_S", 0.0)
    started = time.monotonic()
    assert shell.run("%o4 hi again")[0].success
    assert time.monotonic() - started < 1.0
    wait_for(lambda: credit.credit_for(magics.session).current(wait=False).usage_usd >= 0.5)  # then it arrived


def test_the_key_is_never_kept_in_the_tracker(shell, magics, o4_emulator):
    o4_emulator.key_limit = 1.0
    shell.run("%o4 --max-tokens 300 hi")
    tracker = credit.credit_for(magics.session)
    assert TEST_KEY not in repr(tracker.__dict__) and TEST_KEY not in repr(tracker.current())
