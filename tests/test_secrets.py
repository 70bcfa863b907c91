"""The key never leaves memory: not in outputs, errors, the ledger, the cache, logs, reprs or files."""

from __future__ import annotations

import logging
import os
import stat

from conftest import TEST_KEY


def test_key_absent_from_everything_written(shell, magics, o4_emulator, o4_home, caplog):
    caplog.set_level(logging.DEBUG)
    cells = [
        "%o4 hello",
        "%o4 --cache hello",
        "%o4 --cache hello",
        "%o4 [[status:401]]",
        "%o4 [[status:402]]",
        "%o4 [[midstream-error]]",
        "%o4 --dry-run show me",
        "%config O4Magics",
    ]
    seen = []
    for cell in cells:
        result, captured = shell.run(cell)
        seen.append(captured.stdout + captured.stderr)
        seen.extend(str(out.data) for out in captured.outputs)
        if result.error_in_exec is not None:
            seen.append(str(result.error_in_exec) + repr(result.error_in_exec))
    seen.append(caplog.text)
    seen.append(repr(magics.session) + repr(magics.session.pool) + repr(magics.config))
    seen.extend(repr(config) for config in magics.session.pool._clients)
    assert not [text for text in seen if TEST_KEY in text]
    files = [os.path.join(root, name) for root, _, names in os.walk(o4_home) for name in names]
    assert any(name.endswith("usage.sqlite") for name in files)
    for path in files:
        with open(path, "rb") as handle:
            assert TEST_KEY.encode() not in handle.read(), path
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert stat.S_IMODE(os.stat(o4_home).st_mode) == 0o700


def test_o4_key_asks_without_echo_and_is_used(shell, o4_emulator, monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY")
    typed = "sk-or-v1-TYPEDKEY-abcdef0123456789abcdef0123456789"
    prompts = []
    monkeypatch.setattr("getpass.getpass", lambda prompt="": prompts.append(prompt) or typed)
    result, captured = shell.run("%o4_key")
    assert result.success and "hidden" in prompts[0]
    shell.run("%o4 hello")
    assert o4_emulator.chat_requests[-1].headers["authorization"] == f"Bearer {typed}"
    history = "\n".join(shell.history_manager.input_hist_raw)
    assert typed not in history and typed not in captured.stdout
    shell.run("%o4_key --clear")
    result, captured = shell.run("%o4 hello")
    assert not result.success and "OPENROUTER_API_KEY" in captured.stdout + captured.stderr


def test_corrupt_ledger_warns_and_the_call_still_works(shell, magics, o4_emulator, o4_home, recwarn):
    o4_home.mkdir(parents=True, exist_ok=True)
    (o4_home / "usage.sqlite").write_bytes(b"this is not a database" * 100)
    result, captured = shell.run("%o4 hello")
    assert result.success
    assert "Offline answer" in captured.outputs[-1].data["text/markdown"]
    assert any("usage ledger" in str(w.message) and "move it aside" in str(w.message).lower() for w in recwarn)
    assert magics.session.ledger.pending  # kept in memory, written once the file is usable again
