"""Benchmarks on a real kernel: the emulator in its own process, ipykernel through jupyter_client, and every
iopub message of a cell with the time it arrived (what a notebook frontend would receive)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

#: The key the kernel sees (the emulator accepts any key).
BENCH_KEY = "sk-or-v1-" + "b" * 64
DISPLAY_TYPES = ("display_data", "update_display_data", "clear_output")


class EmulatorProcess:
    """``python -m o4_magics.testing --port 0`` in its own process (so it never takes a GIL we measure)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "o4_magics.testing", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)


@dataclass
class CellRun:
    """One executed cell: seconds from sending it to the kernel's idle, and the iopub messages in between."""

    seconds: float
    status: str
    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def of_type(self, *types: str) -> list[tuple[float, dict[str, Any]]]:
        return [(at, msg) for at, msg in self.messages if msg["msg_type"] in types]

    def stdout(self) -> str:
        return "".join(msg["content"].get("text", "") for _, msg in self.of_type("stream"))

    def error(self) -> str:
        found = self.of_type("error")
        return "\n".join(msg["content"]["ename"] + ": " + msg["content"]["evalue"] for _, msg in found)


def content_bytes(msg: dict[str, Any]) -> int:
    """The message's content as it crosses the wire (jupyter_client packs JSON, UTF-8, no ASCII escapes)."""
    return len(json.dumps(msg["content"], ensure_ascii=False, separators=(",", ":")).encode())


def data_bytes(msg: dict[str, Any]) -> int:
    """The bytes of the mime bundle's values alone (the reply's rendering, no JSON framing)."""
    data = msg["content"].get("data") or {}
    return sum(len(str(value).encode()) for value in data.values())


def precompile() -> None:
    """Byte-compile o4_magics as an installed package would be (benchmarks must not time the compiler), and let
    the kernels use the compiled files (this machine may set PYTHONDONTWRITEBYTECODE)."""
    import compileall

    import o4_magics

    compileall.compile_dir(os.path.dirname(o4_magics.__file__), quiet=1)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


class Kernel:
    """An ipykernel (this interpreter's) started with ``env``; ``run(code)`` executes one cell."""

    def __init__(self, env: dict[str, str] | None = None, cwd: str | None = None) -> None:
        from jupyter_client import KernelManager

        self.cwd = cwd or tempfile.mkdtemp(prefix="o4bench-kernel-")
        self.manager = KernelManager(kernel_name="python3")
        full_env = {**os.environ, **(env or {})}
        self.manager.start_kernel(env=full_env, cwd=self.cwd, stderr=subprocess.DEVNULL)
        self.client = self.manager.blocking_client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)

    def run(self, code: str, timeout: float = 900.0, check: bool = True) -> CellRun:
        """Execute ``code``; every iopub message until the kernel is idle again, with its arrival time."""
        client = self.client
        started = time.perf_counter()
        msg_id = client.execute(code, store_history=True)
        messages: list[tuple[float, dict[str, Any]]] = []
        deadline = started + timeout
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError(f"cell did not finish in {timeout} s: {code[:60]!r}")
            msg = client.get_iopub_msg(timeout=remaining)
            at = time.perf_counter()
            messages.append((at, msg))
            if (
                msg["msg_type"] == "status"
                and msg["parent_header"].get("msg_id") == msg_id
                and msg["content"]["execution_state"] == "idle"
            ):
                break
        reply = client.get_shell_msg(timeout=60)
        run = CellRun(at - started, reply["content"]["status"], messages)
        if check and run.status != "ok":
            raise RuntimeError(f"cell failed: {code[:80]!r}\n{run.error()}")
        return run


def bench_env(base_url: str, home: str | None = None) -> dict[str, str]:
    """The environment of a benchmark kernel: the emulator, a key, a private O4_MAGICS_HOME."""
    return {
        "OPENROUTER_BASE_URL": base_url,
        "OPENROUTER_API_KEY": BENCH_KEY,
        "O4_MAGICS_HOME": home or tempfile.mkdtemp(prefix="o4bench-home-"),
        "PYTHONUNBUFFERED": "1",
    }


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def spread_ms(samples: list[float]) -> str:
    """``median (min–max)`` in milliseconds."""
    return f"{median_ms(samples):.1f} ({min(samples) * 1000:.1f}–{max(samples) * 1000:.1f})"
