"""Which notebook the ledger files a call under, for each way a kernel can be started."""

from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest

from o4_magics.store.identity import notebook_identity


class FakeShell:
    def __init__(self, **user_ns):
        self.user_ns = user_ns


@pytest.fixture(autouse=True)
def no_jupyter_server(monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)


@pytest.fixture
def fake_kernel(monkeypatch):
    """An ``ipykernel`` whose ``get_connection_file`` returns what the test sets."""
    kernel = types.ModuleType("ipykernel")
    kernel.connection_file = "/run/user/1000/jupyter/runtime/kernel-4f1c9a2e-77aa-4d3b-9f0e-1b2c3d4e5f60.json"

    def get_connection_file():
        if kernel.connection_file is None:
            raise RuntimeError("app not specified, and not in a running Kernel")
        return kernel.connection_file

    kernel.get_connection_file = get_connection_file
    monkeypatch.setitem(sys.modules, "ipykernel", kernel)
    return kernel


def test_jupyter_server_session_name_wins(monkeypatch, fake_kernel):
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/ada/work/analysis.ipynb")
    shell = FakeShell(__vsc_ipynb_file__="/elsewhere/other.ipynb")
    assert notebook_identity(shell) == "/home/ada/work/analysis.ipynb"


def test_blank_session_name_is_ignored(monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "  ")
    assert notebook_identity(FakeShell(__vsc_ipynb_file__="/w/vs.ipynb")) == "/w/vs.ipynb"


def test_vscode_notebook_file(fake_kernel):
    assert (
        notebook_identity(FakeShell(__vsc_ipynb_file__="/home/ada/vs/code.ipynb"))
        == "/home/ada/vs/code.ipynb"
    )


def test_kernel_id_from_the_connection_file(fake_kernel):
    assert notebook_identity(FakeShell()) == "kernel:4f1c9a2e-77aa-4d3b-9f0e-1b2c3d4e5f60"


def test_kernel_without_a_running_app_falls_back_to_the_process(fake_kernel):
    fake_kernel.connection_file = None
    assert notebook_identity(FakeShell()) == f"ipython:{os.getpid()}"


def test_terminal_ipython_uses_the_process(monkeypatch):
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert notebook_identity(FakeShell()) == f"ipython:{os.getpid()}"


def test_no_shell_at_all(monkeypatch):
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert notebook_identity() == f"python:{os.getpid()}"


def test_current_shell_is_looked_up_when_none_is_given(monkeypatch):
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: FakeShell(__vsc_ipynb_file__="/w/current.ipynb"))
    assert notebook_identity() == "/w/current.ipynb"


def test_identity_does_not_import_ipykernel():
    code = "import sys; from o4_magics.store.identity import notebook_identity; notebook_identity(); print('ipykernel' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert out.strip() == "False"
