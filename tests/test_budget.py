"""Money holds (#17): the budget holds when calls run at once (threads, the chat, two kernels), Stop stops retries,
every request that reached the server is a billed row, and the figures people follow are right."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest
from conftest import wait_for

import o4_magics
from o4_magics import BudgetExceeded

CAP = 0.0008  # about one call of max_tokens=100; a second one at once would pass it


def _spent(magics):
    return magics.session.spent()


def test_eight_threads_at_once_stay_within_the_cap(shell, magics, o4_emulator):
    """F1: each call reserves its worst case before sending; concurrent calls cannot pass the cap together."""
    magics.budget_usd = CAP
    outcomes = []

    def one(index):
        try:
            o4_magics.ask(f"[[slow:0.05]] call {index}", max_tokens=100, thread=f"t{index}")
            outcomes.append("ok")
        except BudgetExceeded:
            outcomes.append("refused")

    threads = [threading.Thread(target=one, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes.count("ok") >= 1 and outcomes.count("refused") >= 1
    billed = sum(request.cost or 0.0 for request in o4_emulator.chat_requests)
    assert billed <= CAP
    assert _spent(magics) == pytest.approx(billed)
    rows = magics.session.ledger.recent(limit=20)
    assert sorted(row.status for row in rows) == sorted(outcomes)


def test_two_kernels_and_eight_threads_share_one_cap(keyed_env, tmp_path, o4_home, monkeypatch):
    """F1 across processes: two kernels on the same notebook share the ledger's reservations."""
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "shared.ipynb"))
    script = textwrap.dedent(
        f"""
        import threading, o4_magics
        from o4_magics.api import default_session
        session = default_session()
        session.settings.budget_usd = {CAP * 3}
        def one(i):
            try:
                o4_magics.ask(f"[[slow:0.05]] call {{i}}", max_tokens=100, thread=f"t{{i}}")
            except o4_magics.BudgetExceeded:
                pass
        threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        [t.start() for t in threads]
        [t.join(60) for t in threads]
        """
    )
    kernels = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    for kernel in kernels:
        assert kernel.wait(120) == 0
    billed = sum(request.cost or 0.0 for request in keyed_env.chat_requests)
    assert 0 < billed <= CAP * 3
    from o4_magics.store.ledger import Ledger

    with Ledger() as ledger:
        assert ledger.totals(notebook=str(tmp_path / "shared.ipynb"))["cost_usd"] == pytest.approx(billed)


def test_the_refusal_hint_is_enough_when_followed(shell, magics, o4_emulator):
    """F9: the suggested cap is rounded up, so following it lets the call through."""
    magics.budget_usd = 0.02
    result, captured = shell.run("%o4 hi")
    text = captured.stdout + captured.stderr
    assert not result.success
    suggested = float(text.split("O4Magics.budget_usd = ")[1].split(",")[0])
    magics.budget_usd = suggested
    result, _ = shell.run("%o4 hi")
    assert result.success


def test_a_tiny_cap_prints_its_digits(shell, magics, o4_emulator):
    magics.budget_usd = 0.0001
    result, captured = shell.run("%o4 hi")
    assert "of its $0.0001 budget" in captured.stdout + captured.stderr


def test_stop_during_a_retry_wait_sends_nothing_more(make_chat, magics, o4_emulator):
    """F2: the chat gets a 429 with Retry-After 2 s; Stop at 0.4 s; no second request, one row."""
    chat = make_chat()
    chat.input.value = "[[status:429:times=1:retry-after=2]] hello"
    chat.send_button.click()
    wait_for(lambda: len(o4_emulator.chat_requests) == 1)
    time.sleep(0.4)
    chat.stop_button.click()
    assert chat.wait(3)
    time.sleep(2.5)  # past the Retry-After: a retry would have gone out by now
    assert len(o4_emulator.chat_requests) == 1
    rows = magics.session.ledger.recent(limit=5)
    assert [row.status for row in rows] == ["interrupted"]


def test_every_request_that_reached_the_server_is_billed_once(shell, magics, o4_emulator):
    """A retried call: the 429 is not billed; the answer is, once, in one row."""
    magics.max_retries = 2
    shell.run("%o4 [[status:429:times=1:retry-after=0.2]] hi")
    assert len(o4_emulator.chat_requests) == 2
    (row,) = magics.session.ledger.recent(limit=5)
    assert row.status == "ok" and row.cost_usd == pytest.approx(o4_emulator.chat_requests[-1].cost)


def test_stop_while_thinking_records_an_estimate(make_chat, magics, o4_emulator):
    """F16: the prompt was sent and reasoning ran; the row says so (estimated), not 0 tokens and $0."""
    chat = make_chat()
    chat.input.value = "[[think:3]] think hard"
    chat.send_button.click()
    time.sleep(1.2)
    chat.stop_button.click()
    assert chat.wait(5)
    (row,) = magics.session.ledger.recent(limit=5)
    assert row.status == "interrupted" and row.cost_source == "estimated"
    assert row.prompt_tokens > 0 and row.reasoning_tokens > 0 and row.cost_usd > 0


def test_a_refused_call_sends_nothing_and_is_a_row(shell, magics, o4_emulator):
    magics.budget_usd = 0.000001
    shell.run("%o4 hi")
    assert o4_emulator.chat_requests == []
    (row,) = magics.session.ledger.recent(limit=5)
    assert row.status == "refused" and row.cost_usd == 0
