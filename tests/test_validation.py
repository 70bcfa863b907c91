"""Everything is checked before anything is sent, and every message sends the user the right way (hostile-use
findings F5, F10-F17, F21-F24, F26 of the first review)."""

from __future__ import annotations

import pytest
from conftest import TEST_KEY, final_markdown

import o4_magics
from o4_magics import ConfigError, ContextError, O4Error, ReplyFormatError


def failed_text(shell, cell):
    result, captured = shell.run(cell)
    text = captured.stdout + captured.stderr
    assert not result.success, text
    assert "Traceback" not in text
    return text


# -- F10: -o is checked before the call is sent and billed ------------------------------------------------------
@pytest.mark.parametrize("name", ["1bad", "my.attr", "class", "a b"])
def test_a_bad_out_name_is_refused_before_sending(shell, o4_emulator, name):
    text = failed_text(shell, f"%o4 -o '{name}' hello")
    assert "-o/--out needs a plain variable name" in text
    assert o4_emulator.chat_requests == []


# -- F5 / F17: %o4_explain names ---------------------------------------------------------------------------------
def test_explain_a_typo_is_a_name_error_with_a_suggestion(shell, o4_emulator):
    shell.run("sales = [1, 2, 3]\nsales")
    text = failed_text(shell, "%o4_explain salse")
    assert "name 'salse' is not defined" in text and "Did you mean 'sales'?" in text
    assert o4_emulator.chat_requests == []


def test_explain_a_question_line_still_explains_the_last_output(shell, o4_emulator):
    shell.run("sales = [1, 2, 3]\nsales")
    result, _ = shell.run("%o4_explain why is it so short?")
    assert result.success
    sent = o4_emulator.chat_requests[-1].body["messages"][-1]["content"]
    assert sent.startswith("why is it so short?") and "### _ (list" in sent


@pytest.mark.parametrize("line", ["%o4_explain df?", "%o4_explain d['my key']", "%o4_explain d['my key'] is it odd?"])
def test_explain_takes_help_marks_and_subscripts(shell, o4_emulator, line):
    shell.run("import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\nd = {'my key': [1, 2, 3]}")
    result, captured = shell.run(line)
    assert result.success, captured.stdout + captured.stderr
    sent = o4_emulator.chat_requests[-1].body["messages"][-1]["content"]
    assert ("### df" in sent) if "df" in line else ("### d['my key']" in sent)
    if "is it odd?" in line:
        assert sent.startswith("is it odd?")


# -- F11: -i with a missing file ----------------------------------------------------------------------------------
def test_a_missing_image_file_says_so(shell, o4_emulator):
    text = failed_text(shell, "%o4 -i missing.png what is it")
    assert "-i missing.png: no such file" in text and "not defined" not in text


# -- F12: ask() fails only with O4Error subclasses ---------------------------------------------------------------
def test_ask_json_that_is_not_json_is_an_o4_error_recorded_as_failed(shell, magics, o4_emulator):
    with pytest.raises(ReplyFormatError, match="not valid JSON"):
        o4_magics.ask("[[verbatim]]no json here", format="json")
    assert len(o4_emulator.chat_requests) == 1
    assert magics.session.ledger.recent(limit=1)[0].status == "error"


def test_ask_json_after_prose_takes_the_json_block(shell, o4_emulator):
    reply = o4_magics.ask('[[verbatim]]Here you go:\n\n```json\n{"a": 1}\n```\n', format="json")
    assert reply.parsed == {"a": 1}


@pytest.mark.parametrize(
    "images, message",
    [([b"not an image"], "images="), (["/no/such/file.png"], "image file not found")],
)
def test_ask_bad_images_are_context_errors(shell, o4_emulator, images, message):
    with pytest.raises(ContextError, match=message) as caught:
        o4_magics.ask("hi", images=images)
    assert isinstance(caught.value, O4Error)
    assert o4_emulator.chat_requests == []


def test_every_public_error_is_an_o4_error():
    for name in o4_magics.__all__:
        value = getattr(o4_magics, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, o4_magics.O4Error), name


# -- F13 / F14 / F15: base URL, key, debug --------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["http://[::1/api/v1", "ftp://example.com/api", "http://exa mple.com/api"])
def test_a_bad_base_url_is_one_message_and_a_refused_row(shell, magics, o4_emulator, url):
    magics.base_url = url
    text = failed_text(shell, "%o4 hi")
    assert "base URL" in text and "nothing was sent" in text and TEST_KEY not in text
    assert magics.session.ledger.recent(limit=1)[0].status == "refused"
    with pytest.raises(ConfigError):
        o4_magics.ask("hi")


def test_a_base_url_with_a_trailing_newline_works(shell, magics, o4_emulator):
    magics.base_url = o4_emulator.base_url + "\n"
    result, _ = shell.run("%o4 hi")
    assert result.success and len(o4_emulator.chat_requests) == 1


def test_a_base_url_with_credentials_is_refused_and_never_shown(shell, magics, o4_emulator):
    magics.base_url = o4_emulator.base_url.replace("http://", "http://alice:hunter2pw@")
    text = failed_text(shell, "%o4 hi")
    assert "user name or password" in text and "hunter2pw" not in text
    assert "hunter2pw" not in repr(magics.session)
    assert all("hunter2pw" not in row.error for row in magics.session.ledger.recent(limit=5))
    assert o4_emulator.chat_requests == []


def test_a_key_with_a_trailing_newline_is_trimmed(shell, o4_emulator, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY + "\n  ")
    result, _ = shell.run("%o4 hi")
    assert result.success
    assert o4_emulator.chat_requests[-1].headers["authorization"] == f"Bearer {TEST_KEY}"


def test_a_key_with_spaces_inside_is_called_malformed(shell, o4_emulator, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY[:10] + " " + TEST_KEY[10:])
    text = failed_text(shell, "%o4 hi")
    assert "API key is malformed" in text and TEST_KEY[10:] not in text
    assert o4_emulator.chat_requests == []


def test_debug_shows_the_real_cause(shell, magics, o4_emulator):
    magics.debug = True
    magics.max_retries = 0
    result, captured = shell.run("%o4 [[status:502]]")
    text = captured.stdout + captured.stderr
    assert not result.success
    assert "InternalServerError" in text or "APIStatusError" in text  # the SDK's exception, chained
    assert TEST_KEY not in text


# -- F16: the natural first cell ---------------------------------------------------------------------------------
def test_loading_and_asking_in_one_cell(bare_shell, keyed_env):
    result, captured = bare_shell.run("%load_ext o4_magics\n%o4 what is a p-value?\nx = 2")
    assert result.success and bare_shell.user_ns["x"] == 2
    assert keyed_env.chat_requests[-1].body["messages"][-1]["content"] == "what is a p-value?"
    result, captured = bare_shell.run("len?")  # IPython's own help is back
    assert result.success and "Docstring" in captured.stdout


# -- F18: -f code ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "reply, cell, note",
    [
        ("Here:\n\n~~~python\nx = 1\n~~~\n", "x = 1", ""),
        ("1. First:\n\n   ```python\n   y = 2\n   ```\n", "y = 2", ""),
        ("Run:\n\n```bash\nls -la\n```\n", "%%bash\nls -la", "shell code"),
        ("Just prose, no code.", None, "holds no code block"),
        ("```sql\nSELECT 1\n```", None, "is sql, not Python"),
    ],
)
def test_format_code_puts_python_in_a_cell_or_says_why_not(shell, o4_emulator, monkeypatch, reply, cell, note):
    added = []
    monkeypatch.setattr(shell, "set_next_input", lambda text, replace=False: added.append(text))
    result, captured = shell.run(f"%%o4 -f code\n[[verbatim]]{reply}")
    assert result.success
    assert added == ([cell] if cell else [])
    if note:
        assert note in captured.stdout


# -- F22 / F23: settings are checked when set, and figures read right -----------------------------------------------
@pytest.mark.parametrize(
    "line, message",
    [
        ("%config O4Magics.max_tokens = -5", "O4Magics.max_tokens must be a positive number, not -5"),
        ("%config O4Magics.budget_usd = -1.0", "O4Magics.budget_usd must be zero or more, not -1.0"),
        ("%config O4Magics.timeout = 0", "O4Magics.timeout must be a positive number"),
        ("%config O4Magics.model = ''", "O4Magics.model must be a model id"),
    ],
)
def test_a_bad_setting_is_refused_when_set_and_named(shell, magics, caplog, line, message):
    before = {name: getattr(magics, name) for name in ("max_tokens", "budget_usd", "timeout", "model")}
    shell.run(line)
    assert message in caplog.text and "--max-tokens" not in caplog.text
    assert {name: getattr(magics, name) for name in before} == before  # the bad value was not taken


def test_tiny_budgets_print_their_digits(shell, magics, o4_emulator):
    magics.budget_usd = 0.000001
    text = failed_text(shell, "%o4 hi")
    assert "of its $0.000001 budget" in text and "$0.00 budget" not in text


def test_a_dry_run_over_the_budget_says_it_would_be_refused(shell, magics, o4_emulator):
    magics.budget_usd = 0.0001
    _, captured = shell.run("%o4 --dry-run hi")
    shown = final_markdown(captured)
    assert "The budget would refuse this call" in shown
    assert o4_emulator.chat_requests == []


# -- F24: argparse forms of options ------------------------------------------------------------------------------------
def test_attached_option_values(shell, o4_emulator):
    shell.run("df = [1, 2]")
    result, captured = shell.run("%o4 -vdf -e=low what")
    assert result.success, captured.stdout + captured.stderr
    body = o4_emulator.chat_requests[-1].body
    assert body["reasoning"]["effort"] == "low" and "### df (list" in body["messages"][-1]["content"]


def test_an_unterminated_quote_is_an_error(shell, o4_emulator):
    text = failed_text(shell, '%o4 -t "unterminated hello')
    assert "unterminated quote" in text and o4_emulator.chat_requests == []


def test_a_thread_name_is_trimmed(shell, magics, o4_emulator):
    shell.run("%o4 -t 'main ' first")
    assert [turn.user["content"] for turn in magics.session.threads.get("main").turns] == ["first"]


# -- F26: hints fit the front ------------------------------------------------------------------------------------------
def test_errors_of_ask_and_the_chat_do_not_say_run_the_cell(shell, magics, o4_emulator, make_chat):
    from conftest import type_and_send

    with pytest.raises(o4_magics.StreamError) as caught:
        o4_magics.ask("[[midstream-error]] go")
    assert "run the cell" not in str(caught.value) and "ask() again" in str(caught.value)
    chat = make_chat()
    type_and_send(chat, "[[midstream-error]] go")
    rows = magics.session.ledger.recent(limit=2)
    assert all("run the cell" not in row.error for row in rows)
    assert "send the message again" in rows[0].error


def test_a_bad_base_url_under_verbose_xmode_prints_no_traceback_or_key(shell, magics, o4_emulator):
    """#17 F12: with %xmode Verbose a traceback would print the frames' locals, the key among them."""
    shell.run("%xmode Verbose")
    result, captured = shell.run("%config O4Magics.base_url = 'http://[::1'\n%o4 hi")
    text = captured.stdout + captured.stderr
    assert not result.success and "Traceback" not in text and TEST_KEY not in text
    assert "is not a valid URL" in text


def test_the_cache_is_keyed_by_endpoint(shell, magics, o4_emulator):
    """#17 F14: a reply cached from one server (the emulator) is not replayed against another."""
    from o4_magics.testing import Emulator

    magics.cache = True
    shell.run("%o4 -n same question")
    with Emulator() as other:
        magics.base_url = other.base_url
        result, captured = shell.run("%o4 -n same question")
        assert result.success and len(other.chat_requests) == 1  # sent, not replayed
        assert "· cached" not in final_markdown(captured).rsplit("<sub>", 1)[-1]
