"""Ledger rows for every call, the budget cap and the response cache, checked on the wire and in SQLite."""

from __future__ import annotations

import pytest
from conftest import final_markdown


def ledger_rows(magics):
    return magics.session.ledger.recent(limit=100)


def test_every_call_is_a_ledger_row_with_openrouter_cost(shell, magics, o4_emulator):
    shell.run("%o4 one")
    shell.run("%o4 two [[status:402]]")
    shell.run("%o4 three [[drop]]")
    rows = ledger_rows(magics)
    assert [row.status for row in rows] == ["incomplete", "error", "ok"]
    ok = rows[-1]
    stats = o4_emulator.generations[ok.generation_id]
    assert ok.cost_usd == pytest.approx(stats["total_cost"])
    assert ok.cost_source == "openrouter" and ok.model == "openai/o4-mini" and ok.source == "magic"
    assert ok.prompt_tokens > 0 and ok.reasoning_tokens == 192 and ok.cell == 1
    assert rows[1].cost_usd == 0 and "credits" in rows[1].error
    totals = magics.session.ledger.totals(notebook=ok.notebook)
    expected = sum(g["total_cost"] for g in o4_emulator.generations.values() if g.get("finish_reason") == "stop")
    assert totals["calls"] == 3
    assert totals["cost_usd"] == pytest.approx(expected + rows[0].cost_usd)


def test_budget_refuses_before_sending(shell, magics, o4_emulator):
    magics.budget_usd = 0.01
    result, captured = shell.run("%o4 --max-tokens 100 small")
    assert result.success
    requests_before = len(o4_emulator.chat_requests)
    result, captured = shell.run("%o4 big, no cap")  # 10,000 output tokens assumed: $0.044 > $0.01
    text = captured.stdout + captured.stderr
    assert not result.success and "Traceback" not in text
    assert "Budget" in text and "of its $0.01 budget" in text and "O4Magics.budget_usd" in text
    assert len(o4_emulator.chat_requests) == requests_before


def test_budget_warning_from_80_percent(shell, magics, o4_emulator):
    shell.run("%o4 --max-tokens 400 first")
    spent = magics.session.ledger.totals()["cost_usd"]
    magics.budget_usd = spent + 0.0003  # room for the second call's worst case; then past 80% spent
    _, captured = shell.run("%o4 -n --max-tokens 20 second")
    assert "⚠️ budget:" in final_markdown(captured)


def test_cache_replays_without_sending(shell, magics, o4_emulator):
    shell.run("%%o4 -n --cache\nExplain PCA")
    assert len(o4_emulator.chat_requests) == 1
    result, captured = shell.run("%%o4 -n --cache --no-stream\nExplain PCA")
    assert result.success
    assert len(o4_emulator.chat_requests) == 1  # streamed and not share one entry
    rendered = final_markdown(captured)
    assert "cached" in rendered.rsplit("<sub>", 1)[1] and "$0.00000" in rendered
    row = ledger_rows(magics)[0]
    assert row.status == "cached" and row.cost_usd == 0 and row.cost_source == "cached"
    shell.run("%%o4 -n --no-cache\nExplain PCA")
    assert len(o4_emulator.chat_requests) == 2


def test_cache_config_and_failures_not_cached(shell, magics, o4_emulator):
    magics.cache = True
    shell.run("%o4 -n flaky [[midstream-error]]")
    shell.run("%o4 -n flaky [[midstream-error]]")
    assert len(o4_emulator.chat_requests) == 2


def test_cache_differs_by_model(shell, magics, o4_emulator):
    shell.run("%o4 -n --cache hello")
    shell.run("%o4 -n --cache -m openai/gpt-4o-mini hello")
    assert len(o4_emulator.chat_requests) == 2


def test_prices_fetched_from_models_when_usage_has_no_cost(shell, o4_emulator):
    import o4_magics

    reply = o4_magics.ask("hi [[no-usage]]", model="openai/gpt-4o-mini")
    models = [r for r in o4_emulator.requests if r.path.endswith("/models")]
    assert len(models) == 1
    catalog = {m["id"]: m for m in __import__("json").loads(
        __import__("urllib.request").request.urlopen(o4_emulator.base_url + "/models").read())["data"]}
    pricing = catalog["openai/gpt-4o-mini"]["pricing"]
    expected = reply.usage.prompt_tokens * float(pricing["prompt"]) + reply.usage.completion_tokens * float(
        pricing["completion"])
    assert reply.usage.cost_source == "estimated"
    assert reply.cost == pytest.approx(expected)
    o4_magics.ask("again [[no-usage]]", model="openai/gpt-4o-mini")
    sdk_fetches = [r for r in o4_emulator.requests
                   if r.path.endswith("/models") and "urllib" not in r.headers.get("user-agent", "")]
    assert len(sdk_fetches) == 1  # fetched once per session (the other fetch was this test's own urllib)


def test_oversized_prompt_refused_before_sending(shell, o4_emulator):
    shell.user_ns["huge"] = "lorem ipsum dolor sit amet " * 60_000
    result, captured = shell.run("%o4 --no-interp " + "word " * 10 + "\n")
    assert result.success
    result, captured = shell.run("import o4_magics\ntry:\n    o4_magics.ask(huge)\nexcept Exception as e:\n    err = e")
    error = shell.user_ns["err"]
    assert "beyond openai/o4-mini's 200,000-token context" in str(error)
    assert len(o4_emulator.chat_requests) == 1


def test_retries_shown_in_footer(shell, magics, o4_emulator):
    magics.max_retries = 2
    _, captured = shell.run("%o4 busy [[status:503:times=1]]")
    assert "after 1 retry" in final_markdown(captured)


def test_models_catalog_is_kept_for_the_next_kernel(shell, o4_emulator, o4_home):
    import os
    import stat

    import o4_magics
    from o4_magics.call.session import Session

    o4_magics.ask("hi [[no-usage]]", model="openai/gpt-4o-mini")
    saved = o4_home / "models.json"
    assert saved.exists() and stat.S_IMODE(os.stat(saved).st_mode) == 0o600
    fetched = [r for r in o4_emulator.requests if r.path.endswith("/models")]
    fresh = Session()  # a new kernel
    assert fresh.known_prices("openai/gpt-4o-mini")["openai/gpt-4o-mini"].prompt > 0
    assert [r for r in o4_emulator.requests if r.path.endswith("/models")] == fetched  # not fetched again
