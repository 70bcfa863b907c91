"""Helpers for the browser tests: a JupyterLab server in a private environment, and page-level actions.

The server runs from this interpreter (``python -m jupyterlab``) with every Jupyter/IPython directory in a
temporary folder, so nothing from the machine (settings, workspaces, kernels' profiles) leaks in, and with
user settings that keep JupyterLab quiet and deterministic (no news/update checks, every cell in the DOM).
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: The test key the kernel sees (the emulator accepts any key without "invalid" in it).
BROWSER_TEST_KEY = "sk-or-v1-BROWSERTEST0123456789abcdef0123456789abcdef"

#: JupyterLab user settings: no news or update checks (no internet), every cell attached to the DOM (the
#: default windowing would let offscreen cells go unrendered), no autosave races with the tests.
USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}
#: Settings and env variables that could point JupyterLab or IPython at the machine's own files.
_PRIVATE_DIRS = {
    "JUPYTER_CONFIG_DIR": "config",
    "JUPYTER_DATA_DIR": "data",
    "JUPYTER_RUNTIME_DIR": "runtime",
    "JUPYTERLAB_SETTINGS_DIR": "lab-settings",
    "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces",
    "IPYTHONDIR": "ipython",
    "MPLCONFIGDIR": "matplotlib",
    "O4_MAGICS_HOME": "o4home",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """``jupyter lab`` on a free loopback port with a random token, serving ``root``."""

    def __init__(self, root: Path, workdir: Path, emulator_url: str) -> None:
        self.root = root
        self.workdir = workdir
        self.emulator_url = emulator_url
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "jupyterlab.log"
        self.process: subprocess.Popen | None = None

    def environment(self) -> dict[str, str]:
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("JUPYTER", "JPY_", "OPENROUTER_", "O4_MAGICS", "IPYTHON"))
        }
        for name, sub in _PRIVATE_DIRS.items():
            path = self.workdir / sub
            path.mkdir(parents=True, exist_ok=True)
            env[name] = str(path)
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env["JUPYTER_PREFER_ENV_PATH"] = "1"
        env["OPENROUTER_BASE_URL"] = self.emulator_url
        env["OPENROUTER_API_KEY"] = BROWSER_TEST_KEY
        env["PYTHONUNBUFFERED"] = "1"
        for name, value in USER_SETTINGS.items():
            path = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
        return env

    def start(self, timeout: float = 60.0) -> LabServer:
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--allow-root",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.expose_app_in_browser=True",
            "--LanguageServerManager.autodetect=False",
        ]
        if importlib.util.find_spec("notebook") is not None:  # Notebook 7 is served by the same server
            command.append("--JupyterNotebookApp.expose_app_in_browser=True")
        env = self.environment()
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends the kernels with it
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status", timeout=2)
                return self
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"jupyter lab did not answer /api/status within {timeout:.0f} s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def api(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read()
        return json.loads(text) if text else None

    def start_kernel(self, notebook: str) -> str:
        """Start the notebook's session through the REST API (no "Select Kernel" dialog); its kernel id."""
        session = self.api(
            "POST",
            "/api/sessions",
            {"path": notebook, "type": "notebook", "name": notebook, "kernel": {"name": "python3"}},
        )
        return session["kernel"]["id"]

    def url(self, notebook: str, workspace: str) -> str:
        """The notebook in a workspace of its own, so one test's open tabs never load in another's page."""
        return f"{self.base}/lab/workspaces/{workspace}/tree/{notebook}?token={self.token}"

    def add_notebook(self, name: str, sources: list[str]) -> str:
        import nbformat

        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {
            "display_name": "Python 3",
            "language": "python",
            "name": "python3",
        }
        notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
        nbformat.write(notebook, self.root / name)
        return name


def copy_notebooks(source: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for path in source.glob("*.ipynb"):
        shutil.copy2(path, target / path.name)
    return target


# -- page actions ----------------------------------------------------------------------------------------

#: The notebook in the current tab.
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"
CODE_PROMPTS = f"{NOTEBOOK} .jp-CodeCell .jp-InputArea-prompt"

#: The current notebook is loaded and its kernel connected and idle (``window.jupyterapp`` exists because the
#: server runs with LabApp.expose_app_in_browser). Synchronous on purpose: waitForFunction takes a returned
#: promise itself as truthy. Idle comes after the kernel_info reply JupyterLab asks for on connecting.
_KERNEL_READY = """
() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const context = panel && panel.sessionContext;
  const kernel = context && context.session && context.session.kernel;
  return Boolean(
    kernel && panel.context.isReady && context.isReady &&
    kernel.connectionStatus === "connected" && kernel.status === "idle"
  );
}
"""

_ALL_EXECUTED = """
([selector, expected]) => {
  const prompts = [...document.querySelectorAll(selector)].map((e) => e.textContent.trim());
  const done = prompts.filter((t) => /^\\[\\d+\\]:$/.test(t)).length;
  return done >= expected && !prompts.some((t) => t.includes("*"));
}
"""


def open_notebook(page: Any, lab: LabServer, notebook: str, workspace: str, timeout: float = 60_000) -> None:
    """Load JupyterLab on ``notebook`` and wait until its kernel is connected and idle."""
    open_url(page, lab.url(notebook, workspace), timeout)


def open_url(page: Any, url: str, timeout: float = 60_000) -> None:
    """Load a JupyterLab or Notebook 7 page showing one notebook; wait until its kernel is connected and idle."""
    page.goto(url, wait_until="domcontentloaded", timeout=timeout)
    page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=timeout)
    page.wait_for_function(_KERNEL_READY, timeout=timeout, polling=100)
    # JupyterLab: hide the file browser (wider cells, tidier screenshots); Notebook 7 has no left area.
    page.evaluate("() => window.jupyterapp.shell.collapseLeft && window.jupyterapp.shell.collapseLeft()")


def run_all(page: Any) -> None:
    """Run → Run All Cells, through the menu bar as a user would."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def wait_all_executed(page: Any, code_cells: int, timeout: float = 90_000) -> None:
    """Wait until ``code_cells`` cells show an execution count and none is queued or running."""
    page.wait_for_function(_ALL_EXECUTED, arg=[CODE_PROMPTS, code_cells], timeout=timeout, polling=200)
    page.wait_for_selector(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']",
        timeout=timeout,
    )


def code_cell_count(path: Path) -> int:
    import nbformat

    return sum(cell.cell_type == "code" for cell in nbformat.read(path, as_version=4).cells)


def code_cell(page: Any, source_text: str) -> Any:
    """The code cell whose input contains ``source_text``."""
    return page.locator(f"{NOTEBOOK} .jp-CodeCell").filter(
        has=page.locator(".jp-InputArea", has_text=source_text)
    )


def output_area(cell: Any) -> Any:
    return cell.locator(".jp-OutputArea").first


def run_notebook(page: Any, lab: LabServer, notebook: str, workspace: str) -> None:
    """Start the notebook's kernel, open it, Run All Cells and wait until every code cell has run."""
    lab.start_kernel(notebook)
    open_notebook(page, lab, notebook, workspace)
    run_all(page)
    wait_all_executed(page, code_cell_count(lab.root / notebook))


def save_picture(element: Any, path: Path, max_bytes: int = 150_000) -> Path:
    """A PNG of ``element`` (cropped to it) at ``path``, downscaled until it is under ``max_bytes``."""
    element.screenshot(path=str(path), animations="disabled", caret="hide")
    if path.stat().st_size > max_bytes:
        from PIL import Image

        with Image.open(path) as image:
            picture = image.convert("RGB")
        scale = 0.9
        while True:
            size = (int(picture.width * scale), int(picture.height * scale))
            picture.resize(size, Image.LANCZOS).save(path, optimize=True)
            if path.stat().st_size <= max_bytes or scale < 0.3:
                break
            scale *= 0.85
    return path


# -- the untrusted-payload notebook (also executed by nbclient in tests/test_nbconvert_inert.py) -----------

#: The file the notebook reads its payloads from (a JSON list of reply texts), in the kernel's directory.
PAYLOADS_FILE = "untrusted_payloads.json"
UNTRUSTED_SETUP = f"""\
import json
import pandas as pd
payloads = json.load(open({PAYLOADS_FILE!r}))
for i, payload in enumerate(payloads):  # what the tools look at: a dataframe cell and a dict holding each payload
    globals()[f"df{{i}}"] = pd.DataFrame({{"note": [payload]}})
    globals()[f"d{{i}}"] = {{"note": payload}}"""
#: (a) each payload is a %%o4 reply (the emulator answers what follows its [[verbatim]] marker), so it is also
#: the prompt: both sides of a turn the chat shows later.
UNTRUSTED_REPLIES = """\
for payload in payloads:
    get_ipython().run_cell_magic("o4", "--no-interp", "[[verbatim]]" + payload)"""
#: (c) in tool results: the model describes df{i} and d{i}; the emulator's answer quotes both results (on a
#: thread of their own: the chat, on the main thread, shows the replies' turns only).
UNTRUSTED_TOOLS = """\
for i in range(len(payloads)):
    get_ipython().run_cell_magic(
        "o4", "--tools --no-interp -t tools", '[[call:describe:{"name": "df%d"}|describe:{"name": "d%d"}]]' % (i, i)
    )"""
#: (d) the exact request a dry run shows: the payloads in the prompt, the tool turns above as history.
UNTRUSTED_DRY_RUN = (
    """get_ipython().run_cell_magic("o4", "--dry-run --no-interp -t tools", "\\n\\n".join(payloads))"""
)
UNTRUSTED_CELLS = [
    "%load_ext o4_magics",
    UNTRUSTED_SETUP,
    UNTRUSTED_REPLIES,
    UNTRUSTED_TOOLS,
    UNTRUSTED_DRY_RUN,
    "%o4_chat",  # (b) the chat shows the thread's turns: every payload as a user message and as a reply
]


def payload_texts(leak: str, payloads: list[dict]) -> list[str]:
    """The corpus' payloads with ``{leak}`` filled in (the logging server's URL; ``{leak_relative}``: the same
    without its scheme, ``//127.0.0.1:PORT/leak``)."""
    relative = leak.split(":", 1)[1]
    return [payload["reply"].format(leak=leak, leak_relative=relative) for payload in payloads]


# -- an attacker's server, and what a page shows of untrusted text ---------------------------------------

#: A 1x1 transparent PNG: what the logging server answers to every GET (an allowed image then shows).
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360606060000000050001a5f645400000000049454e44ae426082"
)


class LoggingServer:
    """A loopback HTTP server that logs the path of every request it gets (an exfiltration endpoint, or an
    allowed image host): ``with LoggingServer() as server: ... server.paths``."""

    def __init__(self) -> None:
        import http.server
        import threading

        paths: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PIXEL)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(PIXEL)

            do_POST = do_HEAD = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.paths = paths
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_port
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LoggingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


#: What in the rendered text under ``root`` could load or run by itself: elements that fetch, embed, run or
#: submit; inline handlers; styles with url(); links with a script or data scheme. Rendered text means
#: markdown and HTML outputs and widgets' HTML (JupyterLab, Notebook 7, classic), not the widgets' own
#: controls; MathJax's own MathML copy (``mjx-assistive-mml``, classic's ``.MJX_Assistive_MathML``) and MathJax 2's
#: ``<script type="math/tex">`` (the TeX it typeset, data that browsers never run) are skipped.
INERT_PROBLEMS = r"""
(root) => {
  const forbidden = new Set(('img image iframe frame frameset audio video source track picture link object '
    + 'embed applet script noscript style base meta svg use feimage form input button textarea select '
    + 'portal template').split(' '));
  const rendered = root.querySelectorAll('.jp-RenderedMarkdown, .jp-RenderedHTMLCommon, .rendered_html, '
    + '.widget-html-content, .widget-htmlmath-content, .output_markdown, .output_html');
  const seen = new Set();
  const problems = [];
  for (const area of rendered) {
    for (const el of [area, ...area.querySelectorAll('*')]) {
      if (seen.has(el)) continue;
      seen.add(el);
      if (el.closest('mjx-assistive-mml, .MJX_Assistive_MathML, mjx-container math, .MathJax_MathML')) continue;
      const name = el.localName.toLowerCase();
      if (name === 'script' && /^math\/tex/.test(el.type)) continue;  // MathJax 2 keeps the TeX there (not run)
      if (name === 'input' && el.type === 'checkbox' && el.disabled) continue;  // a GFM task list's box
      if (forbidden.has(name)) problems.push(`<${name}> ${el.outerHTML.slice(0, 120)}`);
      for (const attr of el.attributes) {
        const key = attr.name.toLowerCase();
        const value = attr.value.replace(/[\x00-\x20\x7f]+/g, '').toLowerCase();
        if (key.startsWith('on')) problems.push(`<${name} ${key}>`);
        if (key === 'style' && /url\(|@import|expression\(/.test(value)) problems.push(`<${name} style=${value}>`);
        if (['src', 'srcset', 'data', 'poster', 'background', 'action', 'formaction', 'xlink:href'].includes(key))
          problems.push(`<${name} ${key}=${attr.value.slice(0, 80)}>`);
        if (key === 'href' && /^(javascript|vbscript|data|file):/.test(value)) problems.push(`<${name} href=${value}>`);
      }
    }
  }
  return problems;
}
"""


def chat_send(chat: Any, text: str) -> None:
    """Type ``text`` in a chat (several lines: the ¶ box) and click Send, as a user does."""
    area = chat.locator("textarea")
    if area.count() == 0:
        chat.get_by_role("button", name="¶").click()
        area.wait_for()
    area.fill(text)
    chat.get_by_role("button", name="Send").click()


def run_new_cell(page: Any, source: str, wait: bool = True) -> None:
    """Add a code cell with ``source`` at the end of the current notebook and run it (JupyterLab, Notebook 7);
    with ``wait=False``, return once it is sent to the kernel, not when it has run."""
    page.evaluate(
        """async ([source, wait]) => {
          const app = window.jupyterapp;
          const notebook = app.shell.currentWidget.content;
          notebook.activeCellIndex = notebook.widgets.length - 1;
          await app.commands.execute('notebook:insert-cell-below');
          notebook.activeCell.model.sharedModel.setSource(source);
          const ran = app.commands.execute('notebook:run-cell');
          if (wait) await ran;
        }""",
        [source, wait],
    )
