"""Every fault through every entry point: a short message naming cause and fix, partial text kept and marked,
a ledger row with the right status, and the next call working."""

from __future__ import annotations

import socket

import pytest
from conftest import TEST_KEY, final_markdown

# marker, ledger status, what the message must say
HTTP_FAULTS = [
    ("[[status:400]]", "error", "too long for the model's context"),
    ("[[status:401]]", "error", "rejected the API key"),
    ("[[status:402]]", "error", "credits"),
    ("[[status:403]]", "error", "moderation flagged"),
    ("[[status:404]]", "error", "not found on OpenRouter"),
    ("[[status:408]]", "error", "timed out the request (408)"),
    ("[[status:429]]", "error", "Rate limited"),
    ("[[status:429:retry-after=1]]", "error", "Rate limited"),
    ("[[status:500]]", "error", "provider failed (500"),
    ("[[status:502]]", "error", "provider failed (502"),
    ("[[status:503]]", "error", "provider failed (503"),
    ("[[midstream-error]]", "error", "failed part-way"),
    ("[[drop]]", "incomplete", "incomplete"),
    ("[[malformed]]", "error", "malformed"),
    ("[[stall:3]]", "error", "No answer from"),
]
PARTIAL = {"[[midstream-error]]", "[[drop]]", "[[malformed]]", "[[stall:3]]"}
ENTRY_POINTS = ["cell", "line", "explain", "ask"]


def invoke(shell, entry, text):
    """Run one call through an entry point; return (failed?, message shown, captured)."""
    if entry == "ask":
        code = f"import o4_magics\nerr = None\ntry:\n    o4_magics.ask({text!r})\nexcept Exception as e:\n    err = e"
        result, captured = shell.run(code)
        assert result.success
        error = shell.user_ns["err"]
        return error is not None, str(error or ""), captured
    cell = {
        "cell": f"%%o4\n{text}",
        "line": f"%o4 {text}",
        "explain": f"%o4_explain value {text}",
    }[entry]
    result, captured = shell.run(cell)
    shown = captured.stdout + captured.stderr
    assert "Traceback" not in shown
    return not result.success, shown, captured


@pytest.fixture
def matrix_shell(shell, magics):
    magics.max_retries = 1
    magics.timeout = 1.0
    shell.user_ns["value"] = [1, 2, 3]
    return shell


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("marker, status, message", HTTP_FAULTS, ids=[f[0] for f in HTTP_FAULTS])
def test_fault(matrix_shell, magics, o4_emulator, entry, marker, status, message):
    failed, shown, captured = invoke(matrix_shell, entry, f"hello {marker}")
    assert failed and message in shown and TEST_KEY not in shown
    assert len(shown.strip().splitlines()) <= 2  # short: one message line (plus nothing else)
    row = magics.session.ledger.recent(limit=1)[0]
    assert row.status == status and row.source == ("ask" if entry == "ask" else "explain" if entry == "explain" else "magic")
    if marker in PARTIAL and entry != "ask":
        rendered = final_markdown(captured)
        assert "Offline answer" in rendered and ("failed" in rendered or "incomplete" in rendered)
    failed, _, _ = invoke(matrix_shell, entry, "and now a normal question")
    assert not failed


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize(
    "base_url, message",
    [
        (f"http://127.0.0.1:{_closed_port()}/api/v1", "Could not connect to 127.0.0.1"),
        ("http://no-such-host.invalid/api/v1", "Could not connect to no-such-host.invalid"),
    ],
    ids=["refused", "dns"],
)
def test_network_faults(matrix_shell, magics, entry, base_url, message, o4_emulator):
    magics.base_url = base_url
    magics.max_retries = 0
    failed, shown, _ = invoke(matrix_shell, entry, "hello")
    assert failed and message in shown and "OPENROUTER_BASE_URL" in shown
    assert magics.session.ledger.recent(limit=1)[0].status == "error"
    magics.base_url = ""
    assert not invoke(matrix_shell, entry, "hello")[0]


def test_connect_timeout(matrix_shell, magics):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(3):  # fill the accept backlog so the next SYN is never answered
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
        fillers.append(filler)
    try:
        magics.base_url = f"http://127.0.0.1:{listener.getsockname()[1]}/api/v1"
        magics.max_retries = 0
        magics.timeout = 0.5
        failed, shown, _ = invoke(matrix_shell, "line", "hello")
        assert failed and ("No answer from" in shown or "Could not connect" in shown)
    finally:
        for sock in fillers + [listener]:
            sock.close()


@pytest.mark.parametrize("entry", ["cell", "line", "ask"])
def test_empty_and_length_replies(matrix_shell, magics, o4_emulator, entry):
    failed, shown, captured = invoke(matrix_shell, entry, "hello [[empty]]")
    assert not failed
    if entry != "ask":
        assert "empty reply" in final_markdown(captured)
    failed, shown, captured = invoke(matrix_shell, entry, "hello [[length]]")
    assert not failed
    if entry != "ask":
        assert "raise --max-tokens" in final_markdown(captured)
    assert magics.session.ledger.recent(limit=1)[0].status == "ok"


@pytest.mark.parametrize("marker, status, message", HTTP_FAULTS, ids=[f[0] for f in HTTP_FAULTS])
def test_fault_in_chat(matrix_shell, magics, o4_emulator, marker, status, message):
    from o4_magics.widgets.chat import ChatWidget

    chat = ChatWidget(magics.session, capture=magics.capture, user_ns=matrix_shell.user_ns)
    try:
        chat.input.value = f"hello {marker}"
        chat.send_button.click()
        assert chat.wait(15)
        kind, shown = chat.messages()[-1]
        assert message in shown and "Traceback" not in shown and TEST_KEY not in shown
        if marker in PARTIAL:
            assert "Offline answer" in shown
        row = magics.session.ledger.recent(limit=1)[0]
        assert row.status == status and row.source == "chat"
        chat.input.value = "and now a normal question"
        chat.send_button.click()
        assert chat.wait(15)
        assert "Offline answer" in chat.messages()[-1][1] and not chat.busy
    finally:
        chat.close()
