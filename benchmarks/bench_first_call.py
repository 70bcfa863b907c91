"""The first call after ``%load_ext`` on a real kernel: ``%load_ext``'s cost, the first ``%%o4`` (2 s later)
against a steady-state call, and how much a cell run right after ``%load_ext`` is slowed, with and without
the background warm-up, each against baselines measured in the same run (fresh kernels, interleaved).

Run: .venv/bin/python benchmarks/bench_first_call.py [--samples 5]   (or scripts/bench)
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import report  # noqa: E402
from _kernel import EmulatorProcess, Kernel, bench_env, median_ms, precompile, spread_ms  # noqa: E402

PROMPT = "%%o4 -n\nHello [[long:500]]"
LOAD = "_t = time.perf_counter(); get_ipython().run_line_magic('load_ext', 'o4_magics'); print(time.perf_counter() - _t)"
NO_WARM_UP = "\nget_ipython().run_line_magic('config', 'O4Magics.warm_up = False')"
#: A CPU-bound cell, timed inside the kernel.
BUSY_CELL = "_t = time.perf_counter(); sum(range(10**7)); print(time.perf_counter() - _t)"
STEADY_CALLS = 5
WAIT_S = 2.0


def first_call(base_url: str, warm_up: bool) -> tuple[float, float, float]:
    """(%load_ext seconds in the kernel, first %%o4 seconds 2 s later, median of the next calls)."""
    with Kernel(bench_env(base_url)) as kernel:
        kernel.run("import time")
        load = float(kernel.run(LOAD + ("" if warm_up else NO_WARM_UP)).stdout().split()[0])
        time.sleep(WAIT_S)
        first = kernel.run(PROMPT).seconds
        steady = sorted(kernel.run(PROMPT).seconds for _ in range(STEADY_CALLS))[STEADY_CALLS // 2]
    return load, first, steady


def busy_after(base_url: str, setup: str, delay: float) -> float:
    """Seconds of BUSY_CELL run ``delay`` s after a cell running ``setup`` (in a fresh kernel)."""
    with Kernel(bench_env(base_url)) as kernel:
        kernel.run("import time")
        kernel.run(setup)
        if delay:
            time.sleep(delay)
        return float(kernel.run(BUSY_CELL).stdout().split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5, help="fresh kernels per figure (default 5)")
    args = parser.parse_args()
    precompile()
    loads: dict[bool, list[float]] = {True: [], False: []}
    firsts: dict[bool, list[float]] = {True: [], False: []}
    steadies: dict[bool, list[float]] = {True: [], False: []}
    busy: dict[str, list[float]] = {}
    setups = {
        "baseline (no extension)": ("pass", 0.0),
        "right after %load_ext, warm-up on": (LOAD, 0.0),
        "0.4 s after %load_ext, warm-up on": (LOAD, 0.4),
        "right after %load_ext, warm-up off": (LOAD + NO_WARM_UP, 0.0),
    }
    with EmulatorProcess() as emulator:
        for sample in range(args.samples):
            for warm_up in (True, False):
                load, first, steady = first_call(emulator.base_url, warm_up)
                loads[warm_up].append(load)
                firsts[warm_up].append(first)
                steadies[warm_up].append(steady)
            for name, (setup, delay) in setups.items():
                busy.setdefault(name, []).append(busy_after(emulator.base_url, setup, delay))
            print(f"sample {sample + 1}/{args.samples} done", file=sys.stderr)
    rows: list[dict[str, object]] = []
    for warm_up in (True, False):
        label = "warm-up on" if warm_up else "warm-up off"
        ratios = [first / steady for first, steady in zip(firsts[warm_up], steadies[warm_up], strict=True)]
        rows.append(
            {
                "measure": f"%load_ext o4_magics (in kernel), {label}",
                "ms": spread_ms(loads[warm_up]),
                "ratio": "target ~15 ms",
            }
        )
        rows.append(
            {
                "measure": f"steady-state %%o4, 500 words, {label}",
                "ms": spread_ms(steadies[warm_up]),
                "ratio": "1.00x",
            }
        )
        rows.append(
            {
                "measure": f"first %%o4, {WAIT_S:.0f} s after %load_ext, {label}",
                "ms": spread_ms(firsts[warm_up]),
                "ratio": f"{sorted(ratios)[len(ratios) // 2]:.2f}x (target <= 1.5x)",
            }
        )
    base = busy["baseline (no extension)"]
    for name, samples in busy.items():
        ratios = [value / ref for value, ref in zip(samples, base, strict=True)]
        rows.append(
            {
                "measure": f"sum(range(10**7)) {name}",
                "ms": spread_ms(samples),
                "ratio": f"{median_ms(samples) / median_ms(base):.2f}x (median of pairs "
                f"{sorted(ratios)[len(ratios) // 2]:.2f}x; target <= 1.2x)",
            }
        )
    report("first_call", rows)


if __name__ == "__main__":
    main()
