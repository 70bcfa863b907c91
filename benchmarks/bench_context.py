"""Benchmark: describe_value on a 10,000,000 x 20 mixed-type DataFrame vs dumping it or df.describe().

Run: ``python benchmarks/bench_context.py [--rows N]``. Prints a table and writes
``benchmarks/results/context.json``. The ``to_string()`` baseline is measured on ``df.head(200_000)`` and scaled
up linearly to the full frame (the full dump would take minutes and gigabytes); its token count is estimated on
the first 2,000,000 characters and scaled by length.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from o4_magics.context import describe_value, estimate_tokens

RESULTS = Path(__file__).parent / "results" / "context.json"
HEAD_ROWS = 200_000
TOKEN_SAMPLE_CHARS = 2_000_000


def build_frame(n_rows: int) -> pd.DataFrame:
    """20 columns: int64/int32/int8, float64 with NaNs, float32, object strings with None, categoricals,
    datetimes, bools."""
    rng = np.random.default_rng(7)
    base = rng.random(n_rows, dtype=np.float32)
    codes = rng.integers(0, 5000, n_rows, dtype=np.int32)
    price = rng.standard_normal(n_rows) * 15 + 120
    price[::89] = np.nan
    users = np.array([f"customer_{i:05d}" for i in range(5000)], dtype=object)[codes]
    users[::113] = None
    cities = ["Paris", "London", "Berlin", "Madrid", "Rome", "Oslo", "Vienna", "Riga", "Porto", "Lyon"]
    columns = {
        "order_id": np.arange(n_rows, dtype=np.int64),
        "price": price,
        "quantity": (base * 50).astype(np.int32),
        "discount": base * 0.3,
        "city": pd.Categorical.from_codes(codes % len(cities), cities),
        "customer": pd.Series(users, dtype=object),
        "ordered_at": np.datetime64("2021-01-01T00:00:00", "s")
        + (codes.astype(np.int64) * 17_000).astype("timedelta64[s]"),
        "returned": base < 0.05,
        "channel": pd.Categorical.from_codes(codes % 3, ["web", "store", "phone"]),
        "rating": (codes % 5 + 1).astype(np.int8),
    }
    for i in range(10):
        columns[f"metric_{i}"] = (
            (price * (i + 1)).astype(np.float32) if i % 2 else codes.astype(np.int64) * (i + 1)
        )
    return pd.DataFrame(columns, copy=False)


def timed(function):
    """(result, seconds) of one call."""
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def measure(n_rows: int) -> dict:
    """Run the three ways of putting the frame into a prompt and collect time, characters and tokens."""
    frame, build_seconds = timed(lambda: build_frame(n_rows))
    describe_value(frame.head(1000), "warmup")
    block, ours_seconds = timed(lambda: describe_value(frame, "df", max_tokens=2000))
    head_rows = min(HEAD_ROWS, n_rows)
    head_text, head_seconds = timed(lambda: frame.head(head_rows).to_string())
    scale = n_rows / head_rows
    sample = head_text[:TOKEN_SAMPLE_CHARS]
    dump_tokens = estimate_tokens(sample) * len(head_text) / len(sample) * scale
    summary, describe_seconds = timed(lambda: frame.describe().to_string())
    results = {
        "rows": n_rows,
        "columns": frame.shape[1],
        "frame_build_seconds": round(build_seconds, 2),
        "machine": f"{platform.machine()}, Python {platform.python_version()}, pandas {pd.__version__}",
        "describe_value": {"seconds": ours_seconds, "chars": len(block.text), "tokens": block.tokens},
        "to_string": {
            "seconds": head_seconds * scale,
            "chars": round(len(head_text) * scale),
            "tokens": round(dump_tokens),
            "note": f"measured on df.head({head_rows:,}) and scaled x{scale:g}",
        },
        "describe_only": {
            "seconds": describe_seconds,
            "chars": len(summary),
            "tokens": estimate_tokens(summary),
        },
    }
    for baseline in ("to_string", "describe_only"):
        results[f"{baseline}_vs_describe_value"] = {
            key: round(results[baseline][key] / results["describe_value"][key], 2)
            for key in ("seconds", "chars", "tokens")
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    results = measure(args.rows)
    print(f"{results['rows']:,} x {results['columns']} frame (built in {results['frame_build_seconds']} s)")
    print(f"{'method':<16}{'seconds':>10}{'chars':>16}{'est. tokens':>16}")
    for key, title in (
        ("describe_value", "describe_value"),
        ("to_string", "to_string()*"),
        ("describe_only", "describe()"),
    ):
        row = results[key]
        print(f"{title:<16}{row['seconds']:>10.3f}{row['chars']:>16,}{row['tokens']:>16,}")
    print(f"* {results['to_string']['note']}")
    for baseline in ("to_string", "describe_only"):
        ratios = results[f"{baseline}_vs_describe_value"]
        print(
            f"{baseline} / describe_value: time x{ratios['seconds']}, chars x{ratios['chars']}, tokens x{ratios['tokens']}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"saved {RESULTS}")


if __name__ == "__main__":
    main()
