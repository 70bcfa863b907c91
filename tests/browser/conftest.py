"""Fixtures for the browser tests: the emulator, a private JupyterLab server, and headless Chromium.

Everything is session-scoped (one emulator, one JupyterLab, one browser) and each test opens its notebook in
a page and a JupyterLab workspace of its own. The tests skip, saying why, when Chromium (/usr/bin/chromium,
installed by scripts/ensure_chromium.sh), Playwright or JupyterLab is missing. Playwright's own browser
download is never used: the system Chromium is launched directly.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .lab import CHROMIUM, CHROMIUM_ARGS, LabServer, copy_notebooks, save_picture

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
DOC_IMAGES = REPO / "docs" / "img"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: real-browser end-to-end test (JupyterLab in headless Chromium via Playwright)"
    )


def missing_requirement() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (run scripts/ensure_chromium.sh as root: apt-get install -y chromium)"
    for module, package in (("playwright", "playwright"), ("jupyterlab", "jupyterlab>=4.2,<5")):
        if importlib.util.find_spec(module) is None:
            return f"the Python package {package!r} is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="session")
def browser_tmp() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="o4-browser-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def emulator() -> Iterator[object]:
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    from o4_magics.testing import Emulator

    with Emulator() as emu:
        yield emu


@pytest.fixture(scope="session")
def lab(emulator, browser_tmp: Path) -> Iterator[LabServer]:
    """JupyterLab serving a temporary copy of notebooks/, its kernels pointed at the emulator."""
    root = copy_notebooks(REPO / "notebooks", browser_tmp / "notebooks")
    server = LabServer(root, browser_tmp / "jupyter", emulator.base_url).start()
    try:
        yield server
    finally:
        server.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy2(server.log_path, ARTIFACTS / "jupyterlab.log")


@pytest.fixture(scope="session")
def chromium(browser_tmp: Path) -> Iterator[object]:
    """A persistent Chromium context on a fresh user-data dir (the system /usr/bin/chromium)."""
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(browser_tmp / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1024, "height": 900},
            device_scale_factor=1,
        )
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(chromium, request) -> Iterator[object]:
    """A new tab; on failure its screenshot goes to test-artifacts/<test>-failure.png."""
    tab = chromium.new_page()
    messages: list[str] = []
    tab.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    yield tab
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        try:
            tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}-failure.png"), full_page=True)
        except Exception:  # best effort: the page may be gone
            pass
        if messages:
            print("\n".join(messages))
    tab.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def doc_picture(artifacts: Path):
    """``doc_picture(element, "chat.png")``: a cropped PNG (< 150 KB) in test-artifacts/, and in docs/img/ when
    that one is missing or O4_DOC_IMAGES=1 (each run's picture differs a little: ports, times, costs, so the
    README's copies are only refreshed on request)."""
    refresh = os.environ.get("O4_DOC_IMAGES", "").strip().lower() not in ("", "0", "false", "no")

    def save(element, name: str) -> Path:
        path = save_picture(element, artifacts / f"cropped-{name}")
        target = DOC_IMAGES / name
        if refresh or not target.exists():
            DOC_IMAGES.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        return path

    return save
