"""Core benchmark: %load_ext cost and a %%o4 call vs the raw openai SDK, in process. Streaming traffic is
measured on a real kernel by bench_streaming.py (display updates are kernel messages, which capture_output
does not see), and per-call overhead by bench_overhead.py.

Run: .venv/bin/python benchmarks/bench_core.py   (or scripts/bench for every benchmark)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from _common import median_time, report  # noqa: E402

BARE = "from IPython.core.interactiveshell import InteractiveShell; sh = InteractiveShell.instance()"
TIMED_LOAD = (
    BARE + "; import time, sys; t = time.perf_counter(); sh.run_line_magic('load_ext', '{ext}');"
    "print(time.perf_counter() - t)"
)


def load_ext_seconds(ext: str, python: str = sys.executable, runs: int = 7) -> float:
    """Median in-process time of ``%load_ext ext`` in a fresh interpreter with a bare IPython shell."""
    samples = []
    for _ in range(runs):
        out = subprocess.run([python, "-c", TIMED_LOAD.format(ext=ext)], capture_output=True, text=True, check=True)
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def process_seconds(code: str, runs: int = 7) -> float:
    return median_time(lambda: subprocess.run([sys.executable, "-c", code], check=True, capture_output=True), runs)


def shell_with_extension(base_url: str):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    os.environ.update(OPENROUTER_BASE_URL=base_url, OPENROUTER_API_KEY="sk-or-v1-bench")
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "o4_magics")
    return shell


def raw_sdk_call(base_url: str, prompt: str) -> str:
    import openai

    client = raw_sdk_call.client = getattr(raw_sdk_call, "client", None) or openai.OpenAI(
        base_url=base_url, api_key="sk-or-v1-bench"
    )
    parts = []
    stream = client.chat.completions.create(
        model="openai/o4-mini", messages=[{"role": "user", "content": prompt}], stream=True
    )
    for chunk in stream:
        for choice in chunk.choices:
            if choice.delta and choice.delta.content:
                parts.append(choice.delta.content)
    return "".join(parts)


def main() -> None:
    from IPython.utils.capture import capture_output

    from o4_magics.testing import Emulator

    os.environ["O4_MAGICS_HOME"] = tempfile.mkdtemp(prefix="o4bench-")
    rows: list[dict[str, object]] = []

    bare = process_seconds(BARE)
    with_ext = process_seconds(BARE + "; sh.run_line_magic('load_ext', 'o4_magics')")
    in_process = load_ext_seconds("o4_magics")
    rows.append({"measure": "bare IPython shell, process", "value": f"{bare * 1000:.0f} ms", "ratio": "1.00x"})
    rows.append({"measure": "same + %load_ext o4_magics, process", "value": f"{with_ext * 1000:.0f} ms",
                 "ratio": f"{with_ext / bare:.2f}x"})
    rows.append({"measure": "%load_ext o4_magics alone (in process)", "value": f"{in_process * 1000:.1f} ms",
                 "ratio": "target < 50 ms"})

    with Emulator() as emu:
        shell = shell_with_extension(emu.base_url)
        prompt = "Benchmark reply [[long:2000]]"
        raw_sdk_call(emu.base_url, prompt)  # warm both paths (imports, connections)
        with capture_output():
            shell.run_cell(f"%%o4 -n\n{prompt}")

        def magic_call() -> None:
            with capture_output():
                shell.run_cell(f"%%o4 -n\n{prompt}")

        raw = median_time(lambda: raw_sdk_call(emu.base_url, prompt), 7)
        magic = median_time(magic_call, 7)
        rows.append({"measure": "raw openai SDK stream, 2,000 words", "value": f"{raw * 1000:.0f} ms", "ratio": "1.00x"})
        rows.append({"measure": "%%o4 call, same reply", "value": f"{magic * 1000:.0f} ms",
                     "ratio": f"{magic / raw:.2f}x (target <= 1.25x)"})

    report("core", rows)


if __name__ == "__main__":
    main()
