"""Shared fixtures: a private O4_MAGICS_HOME, an IPython shell with the extension loaded, the emulator.

The emulator fixture ``o4_emulator`` comes from o4_magics' own pytest plugin (o4_magics.testing).
"""

from __future__ import annotations

import atexit
import time

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config

#: A key recognisable anywhere it might leak.
TEST_KEY = "sk-or-v1-LEAKCHECK0123456789abcdef0123456789abcdef"


class TestShell(InteractiveShell):
    """A plain IPython shell for tests (as IPython's own tests build one): no history file, no terminal."""

    __test__ = False

    def run(self, cell: str):
        """Run ``cell``; return (ExecutionResult, captured outputs and stdout)."""
        with capture_output() as captured:
            result = self.run_cell(cell, store_history=True)
        return result, captured


def markdown_outputs(captured) -> list[str]:
    """Markdown of every display publish, with escaped dollars read as "$", as users see them."""
    return [out.data["text/markdown"].replace("\\\\$", "$") for out in captured.outputs if "text/markdown" in out.data]


def final_markdown(captured) -> str:
    texts = markdown_outputs(captured)
    return texts[-1] if texts else ""


@pytest.fixture(autouse=True)
def o4_home(tmp_path, monkeypatch):
    """Every test gets its own ledger/cache directory and a clean environment."""
    home = tmp_path / "o4home"
    monkeypatch.setenv("O4_MAGICS_HOME", str(home))
    for name in ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "JPY_SESSION_NAME"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def keyed_env(o4_emulator, monkeypatch):
    """Environment pointing at the emulator with the test key."""
    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY)
    monkeypatch.setenv("OPENROUTER_BASE_URL", o4_emulator.base_url)
    return o4_emulator


@pytest.fixture
def bare_shell():
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = TestShell.instance(config=config)
    # Each shell's exit hook runs gc.collect() at interpreter exit (IPython 7.34: ~0.4 s a shell, minutes for
    # the suite); these shells hold nothing to save.
    atexit.unregister(shell.atexit_operations)
    yield shell
    TestShell.clear_instance()
    InteractiveShell.clear_instance()


@pytest.fixture
def shell(bare_shell, keyed_env):
    """A shell with ``%load_ext o4_magics`` done, talking to the emulator."""
    bare_shell.run_line_magic("load_ext", "o4_magics")
    yield bare_shell
    for magics in bare_shell.configurables:
        if type(magics).__name__ == "O4Magics":
            magics.session.pool.close()


@pytest.fixture
def magics(shell):
    return next(c for c in shell.configurables if type(c).__name__ == "O4Magics")


@pytest.fixture
def make_chat(magics, shell):
    """Build chat widgets on the test shell's session (closed after the test)."""
    from o4_magics.widgets.chat import ChatWidget

    made = []

    def make(**options):
        chat = ChatWidget(magics.session, capture=getattr(magics, "capture", None), user_ns=shell.user_ns, **options)
        made.append(chat)
        return chat

    yield make
    for chat in made:
        chat.close()
        chat.wait(5)


@pytest.fixture
def panels(monkeypatch):
    """Every UsagePanel a test builds (through %o4_usage too), also as ``UsagePanel.built``; closed afterwards,
    so none keeps listening."""
    from o4_magics.widgets import usage_panel

    built = []

    class RecordedPanel(usage_panel.UsagePanel):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    RecordedPanel.built = built
    monkeypatch.setattr(usage_panel, "UsagePanel", RecordedPanel)
    yield built
    for panel in built:
        panel.close()


def type_and_send(chat, text):
    """Type ``text`` into a chat and click Send; wait for the reply to end."""
    chat.input.value = text
    chat.send_button.click()
    assert chat.wait(10), "the reply did not finish"


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)
