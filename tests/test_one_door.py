"""One door: the same request through every front end gives the same wire body, the same ledger row (apart from
``source``) and the same message for each invalid option."""

from __future__ import annotations

import pytest
from conftest import final_markdown, type_and_send

import o4_magics
from o4_magics import InvalidRequest

QUESTION = "What is a p-value?"
ROW_FIELDS = ("thread", "model", "provider", "prompt_tokens", "cached_tokens", "completion_tokens",
              "reasoning_tokens", "images", "cost_usd", "cost_source", "status", "error")


def _frame(shell):
    shell.run("import pandas as pd\ndf = pd.DataFrame({'city': ['Oslo', 'Lima'] * 5, 'temp': range(10)})")
    return shell.user_ns["df"]


def via_line_magic(shell, make_chat, attach):
    shell.run(f"%o4 {'-v df ' if attach else ''}{QUESTION}")


def via_cell_magic(shell, make_chat, attach):
    shell.run(f"%%o4 {'-v df' if attach else ''}\n{QUESTION}")


def via_chat(shell, make_chat, attach):
    chat = make_chat()
    if attach:
        chat.picker.value = "df"
    type_and_send(chat, QUESTION)


def via_ask(shell, make_chat, attach):
    o4_magics.ask(QUESTION, vars={"df": shell.user_ns["df"]} if attach else None)


FRONTS = {"line magic": via_line_magic, "cell magic": via_cell_magic, "chat": via_chat, "ask": via_ask}
SOURCES = {"line magic": "magic", "cell magic": "magic", "chat": "chat", "ask": "ask"}


def _sent(shell, magics, o4_emulator, make_chat, front, attach):
    _frame(shell)
    FRONTS[front](shell, make_chat, attach)
    (request,) = o4_emulator.chat_requests
    (row,) = magics.session.ledger.recent(limit=5)
    return request.body, row


@pytest.fixture(scope="module")
def reference():
    return {}


@pytest.mark.parametrize("attach", [False, True], ids=["plain", "with-df"])
@pytest.mark.parametrize("front", list(FRONTS))
def test_every_front_sends_the_same_request_and_records_the_same_row(
    shell, magics, o4_emulator, make_chat, reference, front, attach
):
    body, row = _sent(shell, magics, o4_emulator, make_chat, front, attach)
    assert row.source == SOURCES[front]
    record = {name: getattr(row, name) for name in ROW_FIELDS}
    expected = reference.setdefault(attach, (body, record))
    assert body == expected[0]
    assert record == expected[1]


def _magic_message(shell, line):
    result, captured = shell.run(line)
    assert not result.success
    text = captured.stdout + captured.stderr
    assert "Traceback" not in text
    return text


def _ask_message(**options):
    with pytest.raises(InvalidRequest) as caught:
        o4_magics.ask(QUESTION, **options)
    return str(caught.value)


@pytest.mark.parametrize(
    "line, options, tail",
    [
        ("%o4 --max-tokens -5 hi", {"max_tokens": -5}, "must be a positive whole number, not -5; nothing was sent."),
        ("%o4 --max-tokens 0 hi", {"max_tokens": 0}, "must be a positive whole number, not 0; nothing was sent."),
        ("%o4 -m '' hi", {"model": ""}, "is empty; nothing was sent."),
        ("%o4 -m 'a b' hi", {"model": "a b"}, "must be a model id such as openai/o4-mini, not 'a b'; nothing was sent."),
        ("%o4 -t '' hi", {"thread": ""}, "is empty; nothing was sent."),
    ],
)
def test_an_invalid_option_gets_the_same_message_in_every_front(shell, o4_emulator, line, options, tail):
    magic = _magic_message(shell, line)
    asked = _ask_message(**options)
    assert tail in magic and tail in asked
    assert o4_emulator.chat_requests == []


def test_options_the_magics_restrict_are_checked_by_ask_too(shell, o4_emulator):
    assert "must be one of low, medium, high, not 'extreme'" in _ask_message(effort="extreme")
    assert "must be one of markdown, text, code, json, not 'yaml'" in _ask_message(format="yaml")
    with pytest.raises(InvalidRequest, match="the prompt must be text, not NoneType"):
        o4_magics.ask(None)
    with pytest.raises(InvalidRequest, match="vars= must map names to values"):
        o4_magics.ask(QUESTION, vars=[1, 2])
    assert o4_emulator.chat_requests == []


def test_the_chat_refuses_a_bad_model_before_showing(shell, o4_emulator):
    result, captured = shell.run("%o4_chat -m ''")
    assert not result.success and "-m/--model is empty" in captured.stdout + captured.stderr


def test_ask_uses_the_cache_setting_like_the_magic(shell, magics, o4_emulator):
    magics.cache = True
    first = o4_magics.ask(QUESTION, new=True)
    second = o4_magics.ask(QUESTION, new=True)
    assert len(o4_emulator.chat_requests) == 1
    assert second.status == "cached" and second.text == first.text
    shell.run(f"%o4 -n {QUESTION}")
    assert len(o4_emulator.chat_requests) == 1  # the magic replays the same entry


def test_an_empty_cached_reply_renders_the_same_in_the_magic_and_the_chat(shell, magics, o4_emulator, make_chat):
    magics.cache = True
    shell.run("%o4 -t side say nothing [[empty]]")
    _, captured = shell.run("%o4 -t side say nothing [[empty]]")
    chat = make_chat(thread="other")
    type_and_send(chat, "say nothing [[empty]]")
    type_and_send(chat, "say nothing [[empty]]")
    magic_body = final_markdown(captured).split("<sub>")[0].strip()
    chat_body = chat.messages()[-1][1].split("<sub>")[0].strip()
    assert magic_body == chat_body == "*(the model returned an empty reply)*"


def test_a_cached_replay_keeps_the_budget_warning(shell, magics, o4_emulator):
    magics.cache = True
    shell.run(f"%o4 -n {QUESTION}")
    spent = magics.session.spent()
    magics.budget_usd = spent / 0.855  # 85.5% spent: the warning shows
    _, captured = shell.run(f"%o4 -n {QUESTION}")
    footer = final_markdown(captured).split("<sub>")[-1]
    assert "cached" in footer and "budget:" in footer and "(85%)" in footer
