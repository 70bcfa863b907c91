"""The hub policy (#16): an admin's JSON file of defaults and locks, checked at the one door for every front;
%config cannot loosen a lock; a malformed file fails closed. Asserted on the wire, on what users see and on
the ledger."""

from __future__ import annotations

import json
import os

import pytest

import o4_magics
from o4_magics import PolicyError
from o4_magics.call import policy as policy_module

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
    b"\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def policy(tmp_path, monkeypatch):
    """``policy({...})`` (or text) writes the hub policy file that ``$O4_MAGICS_POLICY`` names; returns its path."""
    path = tmp_path / "hub" / "o4_magics_policy.json"
    path.parent.mkdir()
    monkeypatch.setenv("O4_MAGICS_POLICY", str(path))
    stamp = [1_700_000_000_000_000_000]

    def write(content) -> str:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        stamp[0] += 1_000_000_000  # a new mtime each time, as an admin's edit a second later
        os.utime(path, ns=(stamp[0], stamp[0]))
        return str(path)

    return write


def said(captured) -> str:
    return captured.stdout + captured.stderr


@pytest.fixture
def config(shell, caplog):
    """``config("O4Magics.x = v")``: run %config; what it printed (IPython logs a refused value as an error)."""

    def run(line: str) -> str:
        caplog.clear()
        _, captured = shell.run(f"%config {line}")
        return said(captured) + "\n".join(record.getMessage() for record in caplog.records)

    return run


def refused_rows(magics):
    return [row for row in magics.session.ledger.recent(limit=50) if row.status == "refused"]


def test_disabled_refuses_every_front_with_the_admins_message(shell, magics, o4_emulator, make_chat, policy):
    path = policy({"enabled": False, "message": "o4 is paused until Monday; ask #data-help."})
    result, captured = shell.run("%o4 hi")
    assert isinstance(result.error_in_exec, PolicyError)
    line = f"o4: o4-magics is turned off by the hub policy ({path}): o4 is paused until Monday; ask #data-help. Nothing was sent."
    assert said(captured).strip() == line  # one line, no traceback
    with pytest.raises(PolicyError, match="paused until Monday"):
        o4_magics.ask("hi")
    chat = make_chat()
    chat.input.value = "hi"
    chat.send_button.click()
    assert "paused until Monday" in chat.messages()[-1][1] and chat.messages()[-1][0] == "notice"
    assert o4_emulator.chat_requests == []
    rows = refused_rows(magics)
    assert [row.source for row in rows] == ["chat", "ask", "magic"]
    assert all("paused until Monday" in row.error and row.cost_usd == 0 for row in rows)


def test_models_outside_the_patterns_are_refused_naming_file_and_patterns(
    shell, magics, o4_emulator, policy, config
):
    path = policy({"allowed_models": ["openai/o4-mini", "openai/gpt-4o-*"]})
    result, captured = shell.run("%o4 -m anthropic/claude-3.5-haiku hi")
    assert not result.success
    assert (
        f"o4: The hub policy ({path}) does not allow the model 'anthropic/claude-3.5-haiku' (-m/--model), "
        "only openai/o4-mini, openai/gpt-4o-*; nothing was sent. Pick an allowed model with -m, or %config "
        "O4Magics.model." == said(captured).strip()
    )
    assert shell.run("%o4 -m openai/gpt-4o-mini hi")[0].success  # a glob
    assert shell.run("%o4 hi")[0].success
    assert [r.body["model"] for r in o4_emulator.chat_requests] == ["openai/gpt-4o-mini", "openai/o4-mini"]
    assert policy_module.current_policy().allows_model("OpenAI/GPT-4o-Mini")  # ids compare case-insensitively
    refused = config("O4Magics.model = 'mistralai/mistral-large'")
    assert f"O4Magics.model = 'mistralai/mistral-large' is refused by the hub policy ({path})" in refused
    assert magics.model == "openai/o4-mini"
    (row,) = refused_rows(magics)
    assert row.model == "anthropic/claude-3.5-haiku" and row.status == "refused"


def test_effort_is_capped_by_default_and_refused_above_when_asked(shell, magics, o4_emulator, policy, config):
    policy({"max_effort": "low"})
    assert shell.run("%o4 hi")[0].success
    assert o4_emulator.chat_requests[-1].body["reasoning"]["effort"] == "low"  # the setting's medium, capped
    result, captured = shell.run("%o4 -e high hi")
    assert not result.success and "not allow reasoning effort high (-e/--effort), only up to low" in said(
        captured
    )
    with pytest.raises(PolicyError, match=r"effort medium \(effort=\), only up to low"):
        o4_magics.ask("hi", effort="medium")
    refused = config("O4Magics.effort = 'high'")
    assert "O4Magics.effort = 'high' is refused by the hub policy" in refused
    assert "reasoning effort is capped at low" in refused and magics.effort == "medium"
    assert len(o4_emulator.chat_requests) == 1


def test_cache_images_and_tools_are_refused_when_asked_for(
    shell, magics, o4_emulator, make_chat, policy, config
):
    path = policy({"allow_cache": False, "allow_images": False, "allow_tools": False})
    shell.user_ns["png"] = PNG
    for line, words in (
        ("%o4 --cache hi", "the response cache (--cache)"),
        ("%o4 -i png what is this?", "images (-i/--image)"),
        ("%o4 --tools what is in df?", "tools (--tools, the chat's Agent mode, tools=True)"),
    ):
        result, captured = shell.run(line)
        assert not result.success
        assert f"The hub policy ({path}) does not allow {words}; nothing was sent." in said(captured)
    with pytest.raises(PolicyError, match=r"does not allow images \(images=\)"):
        o4_magics.ask("what is this?", images=[PNG])
    chat = make_chat()
    chat.agent.value = True
    chat.input.value = "look at df"
    chat.send_button.click()
    assert "does not allow tools (--tools" in chat.messages()[-1][1]
    refused = config("O4Magics.cache = True")
    assert "O4Magics.cache = True is refused by the hub policy" in refused and magics.cache is False
    assert shell.run("%o4 hi")[0].success  # the rest still works
    assert len(o4_emulator.chat_requests) == 1 and len(refused_rows(magics)) == 5


def test_a_loose_setting_from_a_config_file_loads_then_refuses_with_a_hint(bare_shell, keyed_env, policy):
    policy({"allow_cache": False})
    bare_shell.config.O4Magics.cache = True  # ipython_config.py, read before any %config
    bare_shell.run_line_magic("load_ext", "o4_magics")
    result, captured = bare_shell.run("%o4 hi")
    assert "does not allow the response cache (O4Magics.cache = True)" in said(captured)
    assert "Turn it off with %config O4Magics.cache = False." in said(captured)
    bare_shell.run("%config O4Magics.cache = False")
    assert bare_shell.run("%o4 hi")[0].success and len(keyed_env.chat_requests) == 1


def test_budgets_are_a_floor_and_the_refusal_names_the_policy(shell, magics, o4_emulator, policy, config):
    path = policy({"user_budget_usd": 0.0001, "budget_period": "day"})
    result, captured = shell.run("%o4 hi")
    assert not result.success and o4_emulator.chat_requests == []
    text = said(captured)
    assert f"of your daily budget of $0.0001 (set by the hub policy ({path})); nothing was sent." in text
    assert "%config" not in text.split("nothing was sent.")[1]  # no hint to raise what users cannot raise
    for line, why in (
        ("O4Magics.user_budget_usd = 5", "user_budget_usd is at most 0.0001 USD per day"),
        ("O4Magics.user_budget_usd = None", "user_budget_usd is at most 0.0001 USD per day"),
        ("O4Magics.budget_period = 'month'", "the budget period is day"),
    ):
        refused = config(line)
        assert why in refused and str(path) in refused, line
    assert magics.user_budget_usd is None and magics.budget_period == "month"  # unchanged; the policy's apply
    shell.run("%config O4Magics.user_budget_usd = 0.00005")  # stricter: fine
    assert magics.user_budget_usd == 0.00005


def test_the_stricter_budget_wins(shell, magics, o4_emulator, policy):
    policy({"user_budget_usd": 1.0})
    shell.run("%config O4Magics.user_budget_usd = 0.00001")
    result, captured = shell.run("%o4 hi")
    assert not result.success and "(O4Magics.user_budget_usd); nothing was sent" in said(
        captured
    )  # the user's
    shell.run("%config O4Magics.user_budget_usd = 0.5")
    assert shell.run("%o4 --max-tokens 50 hi")[0].success
    policy({"user_budget_usd": 0.00001})  # now the policy's is the stricter
    assert "(set by the hub policy" in said(shell.run("%o4 hi")[1])
    assert len(o4_emulator.chat_requests) == 1


def test_send_user_forced_on_puts_the_hub_user_on_the_wire(
    shell, magics, o4_emulator, policy, monkeypatch, config
):
    monkeypatch.setenv("JUPYTERHUB_USER", "alice")
    policy({"send_user": True})
    shell.run("%o4 hi")
    assert o4_emulator.chat_requests[-1].body["user"] == "alice"
    assert "O4Magics.send_user = False is refused by the hub policy" in config("O4Magics.send_user = False")
    policy({"send_user": False})
    assert "send_user is locked to False" in config("O4Magics.send_user = True")
    magics.send_user = False
    shell.run("%o4 hi")
    assert "user" not in o4_emulator.chat_requests[-1].body


def test_the_policy_sets_the_team_ledger(shell, magics, policy, config):
    url = "postgresql://o4team@db.example.org:5432/o4"
    path = policy({"ledger_url": url})
    assert str(magics.resolved_ledger_url()) == url
    text = config("O4Magics.ledger_url = 'postgresql://me:secret@elsewhere/x'")
    assert f"is refused by the hub policy ({path}): the team ledger is set by the policy" in text
    assert "secret" not in text and magics.ledger_url == ""
    assert str(magics.resolved_ledger_url()) == url


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            '{"enabled": false,}',
            "is not valid JSON (Expecting property name enclosed in double quotes, line 1",
        ),
        ('["openai/o4-mini"]', "must hold one JSON object"),
        ('{"allowed_model": ["x"]}', "has an unknown key 'allowed_model'"),
        ('{"max_effort": "extreme"}', 'max_effort must be one of low, medium, high, not "extreme"'),
        ('{"user_budget_usd": -1}', "user_budget_usd must be a number of US dollars, zero or more, not -1"),
        ('{"allow_cache": "no"}', 'allow_cache must be true or false, not "no"'),
        ('{"ledger_url": "mysql://db/x"}', "ledger_url "),
    ],
)
def test_a_malformed_policy_fails_closed_naming_the_file(
    shell, magics, o4_emulator, policy, content, problem
):
    path = policy(content)
    result, captured = shell.run("%o4 hi")
    assert isinstance(result.error_in_exec, PolicyError)
    assert f"o4: The hub policy file {path} {problem}" in said(captured)
    assert "every call is refused; nothing was sent." in said(captured)
    with pytest.raises(PolicyError, match="every call is refused"):
        o4_magics.ask("hi")
    assert o4_emulator.chat_requests == [] and len(refused_rows(magics)) == 2


def test_a_named_file_that_is_missing_fails_closed(shell, o4_emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("O4_MAGICS_POLICY", str(tmp_path / "nowhere.json"))
    result, captured = shell.run("%o4 hi")
    assert "nowhere.json cannot be read (No such file or directory)" in said(captured)
    assert o4_emulator.chat_requests == []


def test_an_edited_file_takes_effect_at_the_next_call(shell, o4_emulator, policy):
    policy({"enabled": True, "_comment": "open for the workshop"})
    assert shell.run("%o4 hi")[0].success
    policy({"enabled": False, "message": "Workshop over."})
    assert "Workshop over." in said(shell.run("%o4 hi")[1])
    policy({"enabled": True})
    assert shell.run("%o4 hi")[0].success
    assert len(o4_emulator.chat_requests) == 2


def test_found_in_jupyters_system_config_path_not_the_users(shell, o4_emulator, tmp_path, monkeypatch):
    from jupyter_core import paths

    system, env, user = tmp_path / "etc-jupyter", tmp_path / "env-jupyter", tmp_path / "home-jupyter"
    for folder in (system, env, user):
        folder.mkdir()
    monkeypatch.delenv("O4_MAGICS_POLICY", raising=False)
    monkeypatch.setattr(paths, "SYSTEM_CONFIG_PATH", [str(system)])
    monkeypatch.setattr(paths, "ENV_CONFIG_PATH", [str(env)])
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(user))
    (user / "o4_magics_policy.json").write_text('{"enabled": false, "message": "a user file"}')
    assert shell.run("%o4 hi")[0].success  # a user's own config dir is not where an admin's policy lives
    (env / "o4_magics_policy.json").write_text('{"enabled": false, "message": "from the environment"}')
    assert "from the environment" in said(shell.run("%o4 hi")[1])
    (system / "o4_magics_policy.json").write_text('{"enabled": false, "message": "from /etc/jupyter"}')
    assert "from /etc/jupyter" in said(shell.run("%o4 hi")[1])  # the system's comes first
    assert policy_module.policy_path() == str(system / "o4_magics_policy.json")
    assert len(o4_emulator.chat_requests) == 1


def test_no_policy_file_changes_nothing(shell, magics, o4_emulator, monkeypatch, tmp_path):
    from jupyter_core import paths

    monkeypatch.delenv("O4_MAGICS_POLICY", raising=False)
    monkeypatch.setattr(paths, "SYSTEM_CONFIG_PATH", [str(tmp_path)])
    monkeypatch.setattr(paths, "ENV_CONFIG_PATH", [])
    assert policy_module.current_policy() is None
    shell.run("%config O4Magics.cache = True")
    shell.run("%config O4Magics.effort = 'high'")
    assert magics.cache is True and magics.effort == "high"
    assert shell.run("%o4 --tools -m anthropic/claude-3.5-haiku hi")[0].success
    assert "user" not in o4_emulator.chat_requests[-1].body
