"""Two kernels and a chat widget writing one ledger at once: 1,000 calls, no row lost."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from o4_magics.store.ledger import Ledger

KERNEL = textwrap.dedent(
    """
    import sys, threading
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from traitlets.config import Config
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "o4_magics")
    magics_calls, chat_calls = int(sys.argv[1]), int(sys.argv[2])

    def chat_loop():
        from o4_magics.widgets.chat import ChatWidget
        magics = next(c for c in shell.configurables if type(c).__name__ == "O4Magics")
        chat = ChatWidget(magics.session, thread="chat", user_ns={})
        for index in range(chat_calls):
            chat.send(f"chat {index}")
            assert chat.wait(30)

    worker = threading.Thread(target=chat_loop)
    worker.start()
    for index in range(magics_calls):
        with capture_output():
            shell.run_cell(f"%o4 -n -t t{index % 5} kernel call {index}")
    worker.join()
    """
)


@pytest.mark.timeout(300)
def test_two_kernels_and_a_chat_lose_no_row(keyed_env, o4_home):
    kernels = [
        subprocess.Popen([sys.executable, "-c", KERNEL, "400", "200"], env={**os.environ, "JPY_SESSION_NAME": "a.ipynb"}),
        subprocess.Popen([sys.executable, "-c", KERNEL, "400", "0"], env={**os.environ, "JPY_SESSION_NAME": "b.ipynb"}),
    ]
    assert [kernel.wait(280) for kernel in kernels] == [0, 0]
    ledger = Ledger(o4_home)
    assert ledger.totals()["calls"] == 1000 == len(keyed_env.chat_requests)
    by_notebook = {row["notebook"]: row["calls"] for row in ledger.per_notebook()}
    assert by_notebook == {"a.ipynb": 600, "b.ipynb": 400}
    assert ledger.totals()["cost_usd"] == pytest.approx(sum(g["total_cost"] for g in keyed_env.generations.values()))
