"""Core benchmark: %load_ext cost, a %%o4 call vs the raw openai SDK, and streaming display traffic.

Run: .venv/bin/python benchmarks/bench_core.py   (or scripts/bench for every benchmark)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

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

        with capture_output() as captured:
            started = time.perf_counter()
            shell.run_cell("%%o4 -n\nA very long answer [[long:20000]]")
            elapsed = time.perf_counter() - started
        outputs = captured.outputs
        final = outputs[-1].data["text/markdown"]
        sent = sum(len(value) for out in outputs for value in out.data.values())
        words = final.split("<sub>")[0]
        chunks = len(words.split())
        naive = _naive_bytes(words)
        rows.append({"measure": "20,000-word stream: display updates", "value": f"{len(outputs)} in {elapsed:.1f} s",
                     "ratio": f"{len(outputs) / elapsed:.1f}/s (target ~10/s)"})
        rows.append({"measure": "20,000-word stream: bytes to frontend", "value": f"{sent:,}",
                     "ratio": f"{sent / len(final):.1f}x final reply (target <= 60x)"})
        rows.append({"measure": "naive per-token re-render bytes", "value": f"{naive:,}",
                     "ratio": f"{naive / len(final):.0f}x final reply ({chunks:,} chunks)"})
    report("core", rows)


def _naive_bytes(text: str) -> int:
    """Bytes a per-chunk full re-render would send: the whole prefix after every word."""
    total = position = 0
    for word in text.split(" "):
        position += len(word) + 1
        total += position
    return total


if __name__ == "__main__":
    main()
