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
