"""The warm-up after ``%load_ext``: it waits for an idle kernel, pauses between modules while a cell runs (and
lets a cell that needs a module it holds have it at once), builds the client the first call uses, and stops
when told; on a real kernel it imports openai after ``%load_ext`` returned, never during it."""

from __future__ import annotations

import importlib
import sys
import textwrap
import threading
import time
from importlib.machinery import SourceFileLoader

import pytest
from conftest import TEST_KEY

from o4_magics.call.warmup import WarmUp, warm_up_wanted
from o4_magics.ipython.extension import start_warm_up


def make_package(root, name: str, modules: int = 3) -> None:
    """A package whose ``__init__`` imports modules m0, m1, ...; m0 logs, says it ran, then waits to be released.

    Every module appends (its name, the time) to ``sys.modules['o4warm_log'].ORDER``."""
    package = root / name
    package.mkdir()
    names = [f"m{index}" for index in range(modules)]
    (package / "__init__.py").write_text(f"from . import {', '.join(names)}\n")
    for index, module in enumerate(names):
        body = "import sys, time\nlog = sys.modules['o4warm_log']\nlog.ORDER.append((__name__, time.monotonic()))\n"
        if index == 0:
            body += "log.first_ran.set()\nlog.release.wait(10)\n"
        (package / f"{module}.py").write_text(body)


@pytest.fixture
def warm_log(tmp_path, monkeypatch):
    """A module the test packages log into, and ``tmp_path`` on ``sys.path``."""
    log = type(sys)("o4warm_log")
    log.ORDER, log.first_ran, log.release = [], threading.Event(), threading.Event()
    monkeypatch.setitem(sys.modules, "o4warm_log", log)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield log
    log.release.set()
    for name in [name for name in sys.modules if name.startswith("o4warm_pkg")]:
        del sys.modules[name]


def importing(name: str) -> list:
    return [(name, lambda: importlib.import_module(name))]


def test_only_kernels_and_terminals_warm_up_by_themselves(shell, magics) -> None:
    assert not warm_up_wanted(shell) and getattr(magics, "warmup", None) is None
    ZMQInteractiveShell = type("ZMQInteractiveShell", (), {})
    assert warm_up_wanted(type("ColabShell", (ZMQInteractiveShell,), {})())


def test_waits_while_a_cell_runs_even_between_two_modules_of_one_import(
    shell, magics, tmp_path, warm_log
) -> None:
    make_package(tmp_path, "o4warm_pkg")
    warm = WarmUp(shell, magics.session, idle_s=0.0, steps=importing("o4warm_pkg")).start()
    assert warm_log.first_ran.wait(5)
    # a cell starts while the warm-up is inside the package's import, between m0 and m1
    shell.run_cell(
        "import sys, time; sys.modules['o4warm_log'].release.set(); time.sleep(0.4); _done = time.monotonic()"
    )
    cell_done = shell.user_ns["_done"]
    assert warm.wait(5) and warm.timings.keys() == {"o4warm_pkg"}
    times = dict(warm_log.ORDER)
    assert times["o4warm_pkg.m1"] >= cell_done and times["o4warm_pkg.m2"] >= cell_done
    assert warm.waited_s >= 0.3
    module = sys.modules["o4warm_pkg.m1"]  # the module never sees the pacing loader
    assert type(module.__loader__) is SourceFileLoader and type(module.__spec__.loader) is SourceFileLoader


@pytest.mark.timeout(30)
def test_a_cell_needing_a_module_the_paused_warm_up_holds_gets_it_at_once(
    shell, magics, tmp_path, warm_log
) -> None:
    make_package(tmp_path, "o4warm_pkg_shared")
    warm = WarmUp(shell, magics.session, idle_s=0.0, steps=importing("o4warm_pkg_shared")).start()
    assert warm_log.first_ran.wait(5)
    started = time.monotonic()
    shell.run_cell(
        "import sys; sys.modules['o4warm_log'].release.set(); import o4warm_pkg_shared; _mods = o4warm_pkg_shared.m2"
    )
    assert time.monotonic() - started < 2.0  # no deadlock: the warm-up finished the import at full speed
    assert shell.user_ns["_mods"].__name__ == "o4warm_pkg_shared.m2"
    assert warm.wait(5) and "o4warm_pkg_shared" in warm.timings


def test_starts_only_after_the_kernel_was_idle_for_a_while(shell, magics) -> None:
    ran = threading.Event()
    shell.run_cell("pass")
    warm = WarmUp(shell, magics.session, idle_s=0.3, steps=[("step", ran.set)])
    warm._post_run_cell()  # as if %load_ext had just finished
    warm.start()
    assert not ran.wait(0.15)
    assert ran.wait(3) and warm.wait(3)


def test_builds_the_client_the_first_call_uses(shell, magics, keyed_env) -> None:
    warm = start_warm_up(magics, force=True)
    assert warm is not None and warm.wait(30), warm.errors
    assert not warm.errors and {"openai", "markdown", "redactor", "ledger"} <= warm.timings.keys()
    assert repr(magics.session.pool) == "ClientPool(1 clients)"
    result, captured = shell.run("%%o4\nHello")
    assert result.success and "openai/o4-mini" in captured.outputs[-1].data["text/markdown"]
    assert repr(magics.session.pool) == "ClientPool(1 clients)"  # the warm-up's client served the call


def test_warm_up_false_turns_it_off_before_and_after_it_starts(shell, magics) -> None:
    shell.run_line_magic("config", "O4Magics.warm_up = False")
    assert start_warm_up(magics, force=True) is None
    ran = threading.Event()
    magics.warm_up = True
    warm = WarmUp(
        shell, magics.session, idle_s=0.2, steps=[("step", ran.set)], enabled=lambda: magics.warm_up
    )
    warm.start()
    magics.warm_up = False
    assert warm.wait(3) and not ran.is_set()


def test_unload_stops_it_and_releases_the_shells_events(shell, magics) -> None:
    ran = threading.Event()
    warm = magics.warmup = WarmUp(shell, magics.session, idle_s=0.3, steps=[("step", ran.set)]).start()
    shell.run_line_magic("unload_ext", "o4_magics")
    assert warm.stopped and warm.wait(3) and not ran.is_set()
    assert warm._pre_run_cell not in shell.events.callbacks["pre_run_cell"]


@pytest.mark.timeout(120)
def test_on_a_real_kernel_openai_is_imported_after_load_ext_not_during_it(keyed_env, tmp_path) -> None:
    from jupyter_client import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(tmp_path))
    client = manager.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)

        def run(code: str) -> str:
            out: list[str] = []
            reply = client.execute_interactive(
                code, timeout=60, output_hook=lambda msg: out.append(msg["content"].get("text", ""))
            )
            assert reply["content"]["status"] == "ok", reply["content"]
            return "".join(out)

        code = """
            import sys
            %load_ext o4_magics
            print("during:", "openai" in sys.modules)
        """
        assert run(textwrap.dedent(code)).split() == ["during:", "False"]
        run('magics = next(c for c in get_ipython().configurables if type(c).__name__ == "O4Magics")')
        deadline = time.monotonic() + 30
        while run("print(magics.warmup.done.is_set())").strip() != "True":  # it works while no cell runs
            assert time.monotonic() < deadline, "the warm-up did not finish"
            time.sleep(0.5)
        code = 'print("openai" in sys.modules, repr(magics.session.pool), magics.warmup.errors)'
        assert run(code).split() == ["True", "ClientPool(1", "clients)", "{}"]
        assert TEST_KEY not in run("print(magics.session.pool)")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
