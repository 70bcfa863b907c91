"""Load-cost comparison: ``%load_ext o4_magics`` vs ``%load_ext jupyter_ai_magics`` vs a bare IPython shell.

Each figure is the median of 5 fresh interpreters, timed in process (interpreter start-up excluded): creating
the IPython shell (``import IPython`` + ``InteractiveShell.instance()``), then ``%load_ext``. It also counts the
modules each step adds to ``sys.modules`` and names the biggest packages pulled in.

jupyter-ai-magics runs in its own venv, ``benchmarks/.venvs/jupyter-ai`` (git-ignored), created and filled with
``pip install jupyter-ai-magics`` on the first run and reused afterwards. If that fails, the reason is printed and
the rest is measured anyway.

Run: .venv/bin/python benchmarks/bench_compare.py   (or scripts/bench for every benchmark)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _common import report  # noqa: E402

RUNS = 5
HERE = Path(__file__).resolve().parent
JAI_VENV = HERE / ".venvs" / "jupyter-ai"
JAI_PYTHON = JAI_VENV / "bin" / "python"
JAI_MARKER = JAI_VENV / ".installed"
INSTALL_TIMEOUT_S = 1200

#: Packages worth naming when a load pulls them in.
HEAVY = (
    "openai", "langchain", "langchain_core", "langchain_community", "langchain_openai", "langsmith", "pydantic",
    "pydantic_core", "pandas", "numpy", "matplotlib", "PIL", "ipywidgets", "httpx", "aiohttp", "requests",
    "tiktoken", "sqlalchemy", "yaml", "jinja2", "tenacity", "anyio", "importlib_metadata", "click", "typer",
)

#: Runs in a fresh interpreter: times shell creation and the load, lists the modules each step added.
PROBE = r"""
import json, sys, time
start = set(sys.modules)
t0 = time.perf_counter()
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config
config = Config()
config.HistoryManager.hist_file = ":memory:"
shell = InteractiveShell.instance(config=config)
t1 = time.perf_counter()
after_shell = set(sys.modules)
ext = sys.argv[1]
if ext:
    shell.run_line_magic("load_ext", ext)
t2 = time.perf_counter()
import IPython
print(json.dumps({
    "shell_s": t1 - t0,
    "load_s": t2 - t1,
    "shell_added": sorted(after_shell - start),
    "load_added": sorted(set(sys.modules) - after_shell),
    "loaded": (not ext) or ext in shell.extension_manager.loaded,
    "ipython": IPython.__version__,
}))
"""


def probe(python: Path | str, ext: str, runs: int = RUNS) -> dict:
    """Medians of ``runs`` fresh interpreters, and the module lists of the last run."""
    samples = []
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    for _ in range(runs):
        out = subprocess.run([str(python), "-c", PROBE, ext], capture_output=True, text=True, env=env, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}")
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
    last = samples[-1]
    if not last["loaded"]:
        raise RuntimeError(f"%load_ext {ext} did not load the extension")
    return {
        "shell_s": statistics.median(s["shell_s"] for s in samples),
        "load_s": statistics.median(s["load_s"] for s in samples),
        "shell_added": last["shell_added"],
        "load_added": last["load_added"],
        "ipython": last["ipython"],
    }


def biggest(modules: list[str], n: int = 5) -> str:
    """The top-level packages with the most modules among ``modules``, heavy ones first: ``pkg (count)``."""
    counts = Counter(name.split(".")[0] for name in modules if not name.startswith("_"))
    if not counts:
        return "-"
    heavy = sorted((pkg for pkg in counts if pkg in HEAVY), key=lambda pkg: -counts[pkg])
    others = [pkg for pkg, _ in counts.most_common() if pkg not in HEAVY]
    return ", ".join(f"{pkg} ({counts[pkg]})" for pkg in (heavy + others)[:n])


def jupyter_ai_python() -> Path | None:
    """The jupyter-ai venv's python, created and filled on first use; None (reason printed) if that fails."""
    if JAI_MARKER.exists() and JAI_PYTHON.exists():
        return JAI_PYTHON
    try:
        if not JAI_PYTHON.exists():
            print(f"creating {JAI_VENV.relative_to(HERE.parent)} ...", flush=True)
            base = getattr(sys, "_base_executable", sys.executable)
            subprocess.run([base, "-m", "venv", str(JAI_VENV)], check=True, capture_output=True, text=True)
        print("pip install jupyter-ai-magics (first run only) ...", flush=True)
        out = subprocess.run(
            [str(JAI_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q", "jupyter-ai-magics"],
            capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
        )
        if out.returncode != 0:
            tail = " ".join((out.stderr or out.stdout).strip().splitlines()[-3:])
            raise RuntimeError(f"pip install jupyter-ai-magics failed: {tail}")
        version = subprocess.run(
            [str(JAI_PYTHON), "-c", "import importlib.metadata as m; print(m.version('jupyter-ai-magics'))"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        JAI_MARKER.write_text(f"jupyter-ai-magics=={version}\n")
        return JAI_PYTHON
    except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
        detail = getattr(exc, "stderr", None) or str(exc)
        print(f"skipping jupyter-ai-magics: {str(detail).strip()[:500]}", flush=True)
        return None


def installed_version(python: Path, dist: str) -> str:
    out = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({dist!r}))"],
        capture_output=True, text=True,
    )
    return out.stdout.strip() or "?"


def main() -> None:
    rows: list[dict[str, object]] = []
    ours = probe(sys.executable, "o4_magics")
    o4_load = ours["load_s"]

    def row(measure: str, env: str, seconds: float, base: float, added: list[str]) -> dict[str, object]:
        return {
            "measure": measure,
            "venv": env,
            "median": f"{seconds * 1000:.1f} ms",
            "vs bare shell": f"{seconds / base:.2f}x",
            "vs o4_magics": f"{seconds / o4_load:.1f}x" if measure.startswith("%load_ext") else "-",
            "modules added": len(added),
            "biggest packages pulled in": biggest(added),
        }

    project = f"project (IPython {ours['ipython']})"
    rows.append(row("bare IPython shell creation", project, ours["shell_s"], ours["shell_s"], ours["shell_added"]))
    rows.append(row("%load_ext o4_magics", project, o4_load, ours["shell_s"], ours["load_added"]))

    python = jupyter_ai_python()
    if python is not None:
        try:
            theirs = probe(python, "jupyter_ai_magics")
        except (RuntimeError, subprocess.SubprocessError) as exc:
            print(f"skipping jupyter-ai-magics: %load_ext failed: {exc}", flush=True)
        else:
            env = f"jupyter-ai {installed_version(python, 'jupyter-ai-magics')} (IPython {theirs['ipython']})"
            rows.append(row("bare IPython shell creation", env, theirs["shell_s"], theirs["shell_s"],
                            theirs["shell_added"]))
            rows.append(row("%load_ext jupyter_ai_magics", env, theirs["load_s"], theirs["shell_s"],
                            theirs["load_added"]))
    report("compare", rows)


if __name__ == "__main__":
    main()
