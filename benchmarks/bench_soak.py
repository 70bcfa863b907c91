"""Soak: 500 calls in one shell (magics, chat widget, ask(); 10% injected faults) with memory measured at the
start and the end, and the ledger checked against what the emulator received.

Run: .venv/bin/python benchmarks/bench_soak.py [CALLS]
"""

from __future__ import annotations

import gc
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from _common import report  # noqa: E402

FAULTS = ["[[status:402]]", "[[status:503]]", "[[drop]]", "[[midstream-error]]", "[[malformed]]"]
#: The stated bound: resident memory growth between call 50 and the last call.
MAX_GROWTH_MB = 50.0


def rss_mb() -> float:
    """This process's resident memory (Linux /proc; tracemalloc would slow 500 calls several-fold)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def start_emulator() -> tuple[subprocess.Popen, str]:
    """The emulator in its own process, so its request log does not count in this process's memory."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "o4_magics.testing", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}/api/v1"
    for _ in range(100):
        try:
            urllib.request.urlopen(base_url + "/models", timeout=1)
            return process, base_url
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the emulator did not start")


def emulator_json(base_url: str, path: str) -> dict:
    request = urllib.request.Request(base_url + path, headers={"Authorization": "Bearer sk-or-v1-soak"})
    return json.loads(urllib.request.urlopen(request, timeout=5).read())["data"]


def run_calls(shell, chat, calls: int) -> tuple[float, float, float]:
    """Make the calls; return (seconds, RSS MB after call 50, RSS MB at the end)."""
    from IPython.utils.capture import capture_output

    import o4_magics

    started = time.perf_counter()
    baseline = 0.0
    for index in range(calls):
        fault = FAULTS[(index // 10) % len(FAULTS)] if index % 10 == 9 else ""
        prompt = f"question {index} {fault}".strip()
        kind = ("line", "cell", "chat", "ask", "line")[index % 5]
        with capture_output():
            if kind == "line":
                shell.run_cell(f"%o4 {prompt}")
            elif kind == "cell":
                shell.run_cell(f"%%o4\n{prompt}")
            elif kind == "chat":
                chat.send(prompt)
                chat.wait(30)
            else:
                try:
                    o4_magics.ask(prompt)
                except o4_magics.errors.O4Error:
                    pass
        if index == 49:
            gc.collect()
            baseline = rss_mb()
    elapsed = time.perf_counter() - started
    gc.collect()
    return elapsed, baseline, rss_mb()


def main(calls: int = 500) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    from o4_magics.widgets.chat import ChatWidget

    os.environ["O4_MAGICS_HOME"] = tempfile.mkdtemp(prefix="o4soak-")
    process, base_url = start_emulator()
    try:
        os.environ.update(OPENROUTER_BASE_URL=base_url, OPENROUTER_API_KEY="sk-or-v1-soak")
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        shell = InteractiveShell.instance(config=config)
        shell.run_line_magic("load_ext", "o4_magics")
        magics = next(c for c in shell.configurables if type(c).__name__ == "O4Magics")
        magics.max_retries = 0
        session = magics.session
        chat = ChatWidget(session, capture=magics.capture, user_ns=shell.user_ns)
        elapsed, baseline, final = run_calls(shell, chat, calls)
        chat.close()
        rows = session.ledger.recent(limit=calls + 10)
        billed = [row for row in rows if row.cost_source == "openrouter"]
        mismatched = [row for row in billed
                      if abs(emulator_json(base_url, f"/generation?id={row.generation_id}")["total_cost"]
                             - row.cost_usd) > 1e-12]
        key_usage = emulator_json(base_url, "/key")["usage"]
    finally:
        process.terminate()
        process.wait(5)
    growth = final - baseline
    statuses = ", ".join(f"{s}={sum(r.status == s for r in rows)}" for s in ("ok", "error", "incomplete"))
    report("soak", [
        {"measure": "calls (10% faults, max_retries 0)", "value": f"{calls} in {elapsed:.1f} s", "check": ""},
        {"measure": "ledger rows", "value": f"{len(rows)}", "check": "match" if len(rows) == calls else "MISMATCH"},
        {"measure": "statuses", "value": statuses, "check": ""},
        {"measure": "billed rows whose cost equals /generation", "value": f"{len(billed) - len(mismatched)} / {len(billed)}",
         "check": "match" if not mismatched else "MISMATCH"},
        {"measure": "cost: ledger billed / emulator /key total", "value":
         f"${sum(r.cost_usd for r in billed):.4f} / ${key_usage:.4f}", "check": "(/key also bills cut streams)"},
        {"measure": "resident memory after call 50 -> end", "value": f"{baseline:.1f} MB -> {final:.1f} MB",
         "check": f"+{growth:.1f} MB (bound {MAX_GROWTH_MB:.0f} MB): {'ok' if growth < MAX_GROWTH_MB else 'OVER'}"},
    ])


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
