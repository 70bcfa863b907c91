"""F1's class: everything sent, shown, cached or recorded passes one redactor. Generated credentials of every kind,
put into dataframes, dicts, strings, exceptions and environment mappings, reach neither the wire nor an output,
the ledger, the cache, the thread, nor ``Reply.text``; the dry run and the footer say how many were redacted."""

from __future__ import annotations

import json

import pytest
from conftest import TEST_KEY, final_markdown, markdown_outputs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_redact import MAKERS, leaked, make_sample

import o4_magics

CONTAINERS = {
    "string": lambda text: f"value = {text!r}",
    "dict": lambda text: f"value = {{'service': 'billing', 'credential': {text!r}, 'retries': 3}}",
    "dataframe": lambda text: (
        "import pandas as pd\n" f"value = pd.DataFrame({{'name': ['a', 'b'], 'config': [{text!r}, 'none']}})"
    ),
    "exception": lambda text: f"value = RuntimeError('connection failed with ' + {text!r})",
    "environ": lambda text: f"import os\nvalue = dict(os.environ, SERVICE_CONFIG={text!r})",
}
FRONTS = {
    "interpolate": "%o4 -n why is my setup failing? {value}",
    "var": "%o4 -n -v value why is my setup failing?",
    "explain": "%o4_explain -n value",
}
#: credential-shaped kinds (a random "configured" secret is only a secret to a redactor told about it)
SHAPED = sorted(name for name in MAKERS if name != "configured")
samples = st.builds(make_sample, st.sampled_from(SHAPED), st.integers(0, 2**32 - 1))


def _stored_bytes(home) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(home.glob("*")) if path.is_file())


def _everything(shell, magics, o4_emulator, o4_home, captured) -> str:
    wire = json.dumps([request.body for request in o4_emulator.chat_requests])
    shown = "\n".join(markdown_outputs(captured)) + captured.stdout + captured.stderr
    turns = json.dumps([[turn.user, turn.assistant] for turn in magics.session.threads.get("main").turns])
    magics.session.ledger.close()
    stored = _stored_bytes(o4_home).decode("utf-8", "replace")
    return "\n".join([wire, shown, turns, stored])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sample=samples, container=st.sampled_from(sorted(CONTAINERS)), front=st.sampled_from(sorted(FRONTS)))
def test_a_credential_in_a_value_reaches_nothing(shell, magics, o4_emulator, o4_home, sample, container, front):
    o4_emulator.clear()
    magics.cache = True
    shell.run(CONTAINERS[container](sample.text))
    result, captured = shell.run(FRONTS[front])
    assert result.success, captured.stdout + captured.stderr
    everything = _everything(shell, magics, o4_emulator, o4_home, captured)
    assert not leaked(sample, everything)
    sent = json.dumps([request.body for request in o4_emulator.chat_requests])
    if "[redacted: " in sent:
        assert "credential" in final_markdown(captured).rsplit("<sub>", 1)[-1]  # the footer counts them


def test_the_environment_with_the_key_sends_no_key(shell, magics, o4_emulator, o4_home):
    """The review's repro: {os.environ} sent the whole environment, key included, and kept it in the thread."""
    _, captured = shell.run("import os\n")
    _, captured = shell.run("%o4 -n {os.environ} why is my proxy not picked up?")
    shell.run("%o4 and a follow-up")
    _, dry = shell.run("%o4 --dry-run -v os.environ check")
    everything = _everything(shell, magics, o4_emulator, o4_home, captured) + final_markdown(dry)
    assert TEST_KEY not in everything and TEST_KEY[-12:] not in everything
    assert "[redacted: api key]" in json.dumps(o4_emulator.chat_requests[0].body)
    assert "credential" in final_markdown(captured).rsplit("<sub>", 1)[-1]
    assert "redacted from the message" in final_markdown(dry)


def test_a_reply_that_echoes_the_key_is_redacted_everywhere(shell, magics, o4_emulator, o4_home):
    magics.cache = True
    tail = " and the rest of the answer keeps streaming for a while" * 3
    echo = f"Your key is {TEST_KEY} and an AWS key AKIAIOSFODNN7EXAMPLE is in the log{tail}."
    o4_emulator.queue_reply(echo)  # the server's reply carries them: the prompt never did
    result, captured = shell.run("%o4 -n -o answer [[slow:0.01]] what is in my log?")
    assert result.success
    assert len(markdown_outputs(captured)) > 3  # it was drawn while streaming too
    everything = _everything(shell, magics, o4_emulator, o4_home, captured)
    assert TEST_KEY not in everything and "AKIAIOSFODNN7EXAMPLE" not in everything
    assert "[redacted: api key]" in shell.user_ns["answer"]
    assert "2 credentials redacted" in final_markdown(captured)
    o4_emulator.queue_reply(echo)
    reply = o4_magics.ask("and again?", new=True)
    assert TEST_KEY not in reply.text and reply.redactions == 2


def test_error_messages_never_carry_the_key(shell, magics, o4_emulator, monkeypatch):
    magics.base_url = o4_emulator.base_url + f"/{TEST_KEY}"
    result, captured = shell.run("%o4 [[status:404]] hi")
    assert TEST_KEY not in captured.stdout + captured.stderr
    assert all(TEST_KEY not in row.error for row in magics.session.ledger.recent(limit=5))


@pytest.mark.parametrize("front", ["chat", "ask"])
def test_other_fronts_redact_too(shell, magics, o4_emulator, make_chat, front):
    from conftest import type_and_send

    shell.run(f"cfg = {{'token': 'ghp_{'a1B2' * 9}'}}")
    if front == "chat":
        chat = make_chat()
        chat.picker.value = "cfg"
        type_and_send(chat, "what is wrong?")
    else:
        o4_magics.ask("what is wrong?", vars={"cfg": shell.user_ns["cfg"]})
    assert "a1B2a1B2a1B2" not in json.dumps(o4_emulator.chat_requests[-1].body)
