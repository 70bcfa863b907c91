"""An empty cell after re-running the %o4_chat cell 30 times costs what it did before any chat (#17 F10).

Each chat used to stay alive with its ledger listener and after-cell hook, reading every variable's ``.shape`` or
``len()`` after every cell (16.9 ms instead of 0.17 ms after 30 re-runs). Run: .venv/bin/python
benchmarks/bench_chat_reruns.py (or scripts/bench).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import report  # noqa: E402


def empty_cell_ms(shell, runs: int = 400) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        shell.run_cell("", store_history=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from traitlets.config import Config

    os.environ["O4_MAGICS_HOME"] = tempfile.mkdtemp(prefix="o4bench-")
    os.environ.setdefault("OPENROUTER_API_KEY", "sk-or-v1-bench")
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.run_cell("import numpy as np\nframes = {f'a{i}': np.zeros((100, 10)) for i in range(50)}\n"
                   "globals().update(frames)")
    bare = empty_cell_ms(shell)
    shell.run_line_magic("load_ext", "o4_magics")
    loaded = empty_cell_ms(shell)
    with capture_output():  # one cell, re-run: the frontend sends the same cell id each time
        shell.run_cell("%o4_chat", cell_id="the-chat-cell")
    one_chat = empty_cell_ms(shell)
    with capture_output():
        for _ in range(30):
            shell.run_cell("%o4_chat", cell_id="the-chat-cell")
    after = empty_cell_ms(shell)
    rows = [
        {"measure": "empty cell, no extension (50 arrays defined)", "value": f"{bare:.3f} ms", "ratio": "1.00x"},
        {"measure": "empty cell, %load_ext o4_magics", "value": f"{loaded:.3f} ms", "ratio": f"{loaded / bare:.2f}x"},
        {"measure": "empty cell, one chat shown", "value": f"{one_chat:.3f} ms", "ratio": f"{one_chat / bare:.2f}x"},
        {"measure": "empty cell after 30 more %o4_chat runs", "value": f"{after:.3f} ms",
         "ratio": f"{after / bare:.2f}x (before the fix: 16.9 ms vs 0.17 ms, ~100x)"},
    ]
    report("chat_reruns", rows)


if __name__ == "__main__":
    main()
