"""``--private`` sends no cell value from any path, and caching off stores nothing (review findings F2-F4).

One property over every attachment kind, front end and history state: a marker value put into the
notebook never reaches the wire in a private call.
"""

from __future__ import annotations

import json
import secrets
import sqlite3

import pytest
from conftest import type_and_send

import o4_magics

KINDS = {
    # name -> code defining `value` holding MARK (the name `value` is attached)
    "dataframe": "import pandas as pd\nvalue = pd.DataFrame({'ssn': ['MARK', 'x'], 'n': [1, 2]})",
    "series": "import pandas as pd\nvalue = pd.Series(['MARK', 'y'], name='s')",
    "dict": "value = {'token': 'MARK', 'n': 3}",
    "list": "value = ['MARK'] * 3",
    "string": "value = 'MARK is the secret'",
    "exception": "value = ValueError('bad row MARK')",
    "array": "import numpy as np\nvalue = np.array(['MARK', 'b'])",
}
FRONTS = ("interpolate", "var", "explain", "chat", "ask")
HISTORY = ("fresh", "after-a-public-call")


def _wire(o4_emulator) -> str:
    return json.dumps([request.body for request in o4_emulator.chat_requests])


def _send_private(front, shell, make_chat, magics):
    if front == "interpolate":
        return shell.run("%o4 --private describe {value}")
    if front == "var":
        return shell.run("%o4 --private -v value describe it")
    if front == "explain":
        return shell.run("%o4_explain --private value")
    if front == "chat":
        magics.private = True
        chat = make_chat()
        chat.picker.value = "value"
        type_and_send(chat, "describe it")
        return None
    return o4_magics.ask("describe it", vars={"value": shell.user_ns["value"]}, private=True)


@pytest.mark.parametrize("history", HISTORY)
@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_private_call_sends_no_value_from_any_path(shell, magics, o4_emulator, make_chat, kind, front, history):
    mark = "ZQX" + secrets.token_hex(6).upper()
    shell.run(KINDS[kind].replace("MARK", mark))
    if history == "after-a-public-call":
        shell.run("%o4 tell me about {value}")  # the value goes out once, publicly, into the thread
        assert mark in _wire(o4_emulator)
    o4_emulator.clear()
    _send_private(front, shell, make_chat, magics)
    assert len(o4_emulator.chat_requests) == 1, "the private call was not sent"
    assert mark not in _wire(o4_emulator)


def test_the_private_setting_also_leaves_history_out(shell, magics, o4_emulator):
    shell.run("s = 'ZQXMARKER5'")
    shell.run("%o4 -n tell me about {s}")
    shell.run("%config O4Magics.private = True")
    shell.run("%o4 and now privately")
    assert "ZQXMARKER5" not in json.dumps(o4_emulator.chat_requests[-1].body)
    shell.run("%o4 a second private question")  # private turns may follow private calls
    users = [m["content"] for m in o4_emulator.chat_requests[-1].body["messages"] if m["role"] == "user"]
    assert users == ["and now privately", "a second private question"]


def test_explain_private_masks_the_failing_cells_literals(shell, o4_emulator):
    shell.run("import pandas as pd\npatients = pd.DataFrame({'ssn': ['123-45-6789']})")
    shell.run("patients.loc[0, 'ssn'] + 5  # note 987")
    shell.run("%o4_explain --private")
    sent = json.dumps(o4_emulator.chat_requests[-1].body)
    assert "123-45-6789" not in sent and "987" not in sent
    assert "patients.loc[<num>, \\\"<str>\\\"] + <num>" in sent  # the code's shape is still there


def test_private_refuses_images_with_a_message(shell, o4_emulator):
    shell.run("import numpy as np\npicture = np.zeros((8, 8, 3), dtype='uint8')")
    result, captured = shell.run("%o4 --private -i picture what is it")
    assert not result.success and "--private sends no cell values" in captured.stdout + captured.stderr
    assert o4_emulator.chat_requests == []


def test_explain_private_figure_sends_no_picture(shell, o4_emulator):
    shell.run("import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2])")
    shell.run("%o4_explain --private fig")
    content = o4_emulator.chat_requests[-1].body["messages"][-1]["content"]
    assert isinstance(content, str)  # text only: no image part


def test_caching_off_stores_nothing(shell, magics, o4_home, o4_emulator):
    for question in ("one", "two", "three"):
        shell.run(f"%o4 --private {question}")
        shell.run(f"%o4 {question}")
    cache = o4_home / "cache.sqlite"
    if cache.exists():
        with sqlite3.connect(cache) as db:
            assert db.execute("SELECT COUNT(*) FROM cache").fetchone() == (0,)


def test_caching_on_stores_only_the_reply_text(shell, magics, o4_home, o4_emulator):
    shell.run("%o4 --cache -n a question [[reasoning:20]]")
    with sqlite3.connect(o4_home / "cache.sqlite") as db:
        (payload,) = db.execute("SELECT payload FROM cache").fetchone()
    stored = json.loads(payload)
    assert set(stored) == {"text", "model", "provider", "finish_reason"}
    assert "Planning the answer" not in payload  # reasoning is never cached
