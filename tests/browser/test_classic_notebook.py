"""Classic Notebook 6.5.7 with ipywidgets 7.7.1 (the widget protocol Colab speaks), from Colab's package set
(.venv-colab/, built by scripts/colab_job.sh), in headless Chromium against the offline emulator.

One notebook: %load_ext, a %%o4 reply, a 402 error, %o4_usage and %o4_chat (a message typed and sent with the
Send button), run with Cell → Run All; then what the page shows, and what the saved file holds for viewers
without widgets. Screenshot: docs/img/classic-notebook.png (refreshed with O4_DOC_IMAGES=1).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import REPO
from .lab import LabServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

COLAB_PYTHON = REPO / ".venv-colab" / "bin" / "python"
COST = re.compile(r"\$0\.\d*[1-9]")  # a plain dollar amount above zero, e.g. $0.00123
CELLS = [
    "%load_ext o4_magics",
    "import sys, IPython, ipykernel, ipywidgets\n"
    "print('versions', sys.version.split()[0], IPython.__version__, ipykernel.__version__, ipywidgets.__version__)",
    "%%o4\nWhat is a p-value?",
    "%o4_usage",
    "%o4_chat",
    "%o4 hello [[status:402]]",  # last: a failed cell stops Run All
]
#: The notebook is loaded, its kernel connected and idle (classic's own globals).
_KERNEL_READY = """
() => {
  const nb = window.Jupyter && Jupyter.notebook;
  return Boolean(nb && nb._fully_loaded && nb.kernel && nb.kernel.is_connected()
    && document.querySelector('#kernel_indicator_icon.kernel_idle_icon'));
}
"""
_ALL_EXECUTED = """
(expected) => {
  const cells = Jupyter.notebook.get_cells().filter((c) => c.cell_type === 'code');
  const done = cells.filter((c) => typeof c.input_prompt_number === 'number').length;
  return done >= expected && !cells.some((c) => c.input_prompt_number === '*')
    && Boolean(document.querySelector('#kernel_indicator_icon.kernel_idle_icon'));
}
"""


def colab_venv() -> Path:
    """.venv-colab/'s python, built or checked by scripts/colab_job.sh --venv-only; skips when it cannot be."""
    job = subprocess.run(
        ["bash", str(REPO / "scripts" / "colab_job.sh"), "--venv-only"], capture_output=True, text=True
    )
    said = (job.stdout + job.stderr).strip()
    if job.returncode != 0:
        pytest.fail(f"scripts/colab_job.sh --venv-only failed:\n{said[-3000:]}")
    if "SKIPPED" in said:
        pytest.skip(said)
    return COLAB_PYTHON


class ClassicServer(LabServer):
    """``jupyter notebook`` 6.5 from .venv-colab/, in the same private environment as the JupyterLab tests."""

    def __init__(self, python: Path, root: Path, workdir: Path, emulator_url: str) -> None:
        super().__init__(root, workdir, emulator_url)
        self.python = python
        self.log_path = workdir / "classic-notebook.log"

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env["PATH"] = f"{self.python.parent}{os.pathsep}{env.get('PATH', '')}"  # kernels: the venv's python
        env["JUPYTER_PREFER_ENV_PATH"] = "1"
        return env

    def start(self, timeout: float = 60.0) -> ClassicServer:
        command = [
            str(self.python),
            "-m",
            "notebook",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--NotebookApp.port_retries=0",
            f"--NotebookApp.token={self.token}",
            f"--NotebookApp.notebook_dir={self.root}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        self.process = subprocess.Popen(
            command,
            cwd=self.root,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        import time
        import urllib.error

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"jupyter notebook exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                self.api("GET", "/api/status", timeout=2)
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"jupyter notebook did not answer within {timeout:.0f} s:\n{self.log_tail()}")


@pytest.fixture(scope="module")
def classic(emulator, browser_tmp: Path, artifacts: Path) -> Iterator[ClassicServer]:
    """A classic Notebook server for the module; other modules import this fixture and get their own, so its
    folders are new each time."""
    python = colab_venv()
    home = Path(tempfile.mkdtemp(prefix="classic-", dir=browser_tmp))
    root = home / "notebooks"
    root.mkdir()
    server = ClassicServer(python, root, home / "jupyter", emulator.base_url)
    server.workdir.mkdir(exist_ok=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        try:
            (artifacts / "classic-notebook.log").write_bytes(server.log_path.read_bytes())
        except OSError:
            pass


def run_all_cells(page, server: ClassicServer, notebook: str, cells: int) -> None:
    page.goto(f"{server.base}/notebooks/{notebook}?token={server.token}", wait_until="domcontentloaded")
    page.wait_for_function(_KERNEL_READY, timeout=60_000, polling=100)
    page.locator("#menus").get_by_role("link", name="Cell", exact=True).click()  # Cell → Run All
    page.locator("#run_all_cells").click()
    page.wait_for_function(_ALL_EXECUTED, arg=cells, timeout=120_000, polling=200)


def cell(page, source_text: str):
    """The code cell whose input contains ``source_text``."""
    return page.locator(".code_cell").filter(has=page.locator(".input", has_text=source_text))


def test_classic_notebook_with_ipywidgets_7(classic, emulator, page, artifacts, doc_picture):
    from playwright.sync_api import expect

    assert classic.api("GET", "/api")["version"] == "6.5.7"
    name = classic.add_notebook("colab.ipynb", CELLS)
    before = len(emulator.chat_requests)
    run_all_cells(page, classic, name, len(CELLS))

    # The kernel is Colab's: Python 3.13, IPython 7.34, ipykernel 6.17.1, ipywidgets 7.7.1.
    versions = cell(page, "print('versions'").locator(".output_area").inner_text()
    assert re.search(r"versions 3\.13\.\d+ 7\.34\.0 6\.17\.1 7\.7\.1", versions), versions

    # The reply: rendered markdown, and a footer whose cost is a plain "$", not math.
    reply = cell(page, "What is a p-value?").locator(".output_area")
    assert reply.count() == 1  # one display, updated in place
    assert reply.locator("h2").first.inner_text().strip() == "Offline answer"
    # MathJax 2 turns the footer's "\\$" into "$" when it has typeset the output; its first load in a fresh
    # profile can take a few seconds after the cells have run
    expect(reply.locator("sub").last).not_to_contain_text("\\$", timeout=30_000)
    footer = reply.locator("sub").last.inner_text()
    assert "openai/o4-mini" in footer and COST.search(footer) and "\\$" not in footer, footer
    assert reply.locator("sub .MathJax, sub mjx-container, sub .MathJax_Preview").count() == 0

    # The 402: one short message, no traceback.
    outputs = cell(page, "[[status:402]]").locator(".output").first
    expect(outputs).to_contain_text("402", timeout=15_000)  # the error output follows the footer's display
    error = outputs.inner_text()
    assert "credits" in error.lower() and "402" in error and "Traceback" not in error, error
    assert len([line for line in error.splitlines() if line.strip()]) <= 4, error

    # The usage panel, drawn by ipywidgets 7: its totals count both calls, the 402 made after it live.
    panel = cell(page, "%o4_usage").locator(".widget-vbox").first
    totals = panel.locator(".widget-html table").first
    totals.wait_for(timeout=20_000)
    expect(totals.locator("td").first).to_have_text("2", timeout=10_000)
    headers = [c.inner_text().strip() for c in totals.locator("th").all()]
    values = [c.inner_text().strip() for c in totals.locator("td").all()]
    row = dict(zip(headers[-len(values) :], values, strict=True))
    assert row["calls"] == "2" and COST.search(row["cost"]) and int(row["output"].replace(",", "")) > 0, row

    # The chat: type, click Send, read the streamed reply and its footer.
    chat = cell(page, "%o4_chat")
    box = chat.locator("input[type='text']").first
    box.fill("What does a confidence interval mean?")
    chat.get_by_role("button", name="Send").click()
    # (The transcript already holds the %%o4 turn: the chat continues the notebook's main thread.)
    chat_footer = chat.locator(".o4-chat-assistant sub").first  # only the chat's own replies have a footer
    chat_footer.wait_for(timeout=30_000)
    answer = chat.locator(".o4-chat-assistant").filter(has=page.locator("sub")).first
    assert "Offline answer" in answer.inner_text() and "openai/o4-mini" in chat_footer.inner_text()
    expect(chat_footer).not_to_contain_text("\\$")  # MathJax shows the escaped dollar as "$"
    assert COST.search(chat_footer.inner_text()), chat_footer.inner_text()
    users = [text.strip() for text in chat.locator(".o4-chat-user").all_inner_texts()]
    assert any("What does a confidence interval mean?" in text for text in users), users
    assert chat.locator(".o4-chat-assistant").count() == 2
    assert box.input_value() == ""
    expect(chat.locator(".widget-html", has_text="this conversation").last).to_contain_text(
        re.compile(r"this conversation: \$0\.\d+ over 3 calls")  # the %%o4 turn, the 402 and the chat's call
    )
    assert (
        emulator.chat_requests[-1].body["messages"][-1]["content"] == "What does a confidence interval mean?"
    )
    assert len(emulator.chat_requests) - before == 3  # %%o4, the 402 (never retried), the chat

    page.screenshot(path=str(artifacts / "classic-notebook.png"), full_page=True)
    page.get_by_role("button", name="Don't show anymore").click()  # the Notebook 7 banner
    cell(page, "%o4_usage").evaluate("(e) => e.scrollIntoView({block: 'start'})")
    page.wait_for_function("() => !document.querySelector('#MathJax_Message:not([style*=\"none\"])')")
    doc_picture(page.locator("#site"), "classic-notebook.png")

    # After the next cell, the saved file holds static copies for viewers without widgets.
    page.evaluate(
        "() => { const nb = Jupyter.notebook; nb.insert_cell_at_bottom('code').set_text('1 + 1'); }"
    )
    page.evaluate(
        "() => { const nb = Jupyter.notebook; nb.select(nb.ncells() - 1); nb.execute_selected_cells(); }"
    )
    page.wait_for_function(_ALL_EXECUTED, arg=len(CELLS) + 1, timeout=60_000, polling=200)
    chat.locator(".o4-chat-assistant sub").first.wait_for(timeout=10_000)  # the live chat, redrawn
    page.evaluate("() => Jupyter.notebook.save_notebook()")
    saved = saved_outputs(classic, name, page)
    usage = saved["%o4_usage"]
    assert "<table" in usage["text/html"] and "o4 usage" in usage["text/html"]
    lines = usage["text/plain"].splitlines()
    totals_line = lines[next(i for i, line in enumerate(lines) if line.split()[:1] == ["calls"]) + 1]
    assert totals_line.split()[0] == "3", usage["text/plain"]  # the chat's call is counted too
    assert "What does a confidence interval mean?" in saved["%o4_chat"]["text/html"]


def saved_outputs(server: ClassicServer, name: str, page, timeout: float = 10.0) -> dict[str, dict]:
    """The widget outputs' bundles of the saved notebook, by cell source (after the save has landed)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        model = server.api("GET", f"/api/contents/{name}")["content"]
        found = {
            "".join(c["source"]) if isinstance(c["source"], list) else c["source"]: out["data"]
            for c in model["cells"]
            if c["cell_type"] == "code"
            for out in c.get("outputs", [])
            if "application/vnd.jupyter.widget-view+json" in out.get("data", {})
        }
        if len(found) == 2 or time.monotonic() > deadline:
            return found
        time.sleep(0.2)
