#!/usr/bin/env bash
# Colab's package set: build .venv-colab/ on Python 3.13 holding Colab's exact versions (tests/colab/pins.txt),
# install o4-magics into it the normal way, check that pip changed none of those versions, and run the magics,
# context, usage, chat and ask() tests there, plus example notebooks on a real ipykernel 6.17.1 kernel.
#
#   scripts/colab_job.sh               build or reuse the venv, check the pins, run the Colab tests
#   scripts/colab_job.sh --venv-only   build or reuse the venv and check the pins (the classic Notebook test)
#   scripts/colab_job.sh -k chat       extra arguments go to pytest
#
# The venv is rebuilt only when the pins, pyproject.toml or this script change (a stamp remembers). Without a
# Python 3.13 it prints why and skips (exit 0); O4_COLAB_PYTHON=/path/to/python3.13 picks one.
set -euo pipefail
cd "$(dirname "$0")/.."
PINS=tests/colab/pins.txt
VENV=.venv-colab
#: On .venv-colab but not in Colab's list: Colab ships IPython 7.34 without jedi (IPython requires it, pip adds
#: it), and the test tools.
UNPINNED="jedi pytest-timeout hypothesis sortedcontainers"
#: The Colab subset of tests/: magics, context, usage, chat, ask(), stream shapes (openai 2.x) and the notebooks,
#: plus tests/colab/.
COLAB_TESTS=(
  tests/colab
  tests/test_magics_core.py
  tests/test_context_magics.py
  tests/test_context_dataframe.py
  tests/test_context_objects.py
  tests/test_context_images.py
  tests/test_usage_budget_cache.py
  tests/test_usage_panel.py
  tests/test_chat_widget.py
  tests/test_errors.py
  tests/test_fault_matrix.py
  tests/test_stream_chunks.py
  tests/test_secrets.py
  tests/test_concurrency.py
  tests/test_notebooks.py
  tests/test_example_notebooks.py
)
say() { echo "colab job: $*"; }

find_python() {
  local candidate
  for candidate in "${O4_COLAB_PYTHON:-}" "$(command -v python3.13 || true)" \
    $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13 2>/dev/null | sort -V -r); do
    if [ -n "$candidate" ] && [ -x "$candidate" ] &&
      "$candidate" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# pip freeze's lines for the pinned names, normalized (lower case, "-" for "_" and "."), sorted.
pinned_freeze() {
  "$VENV/bin/python" - "$PINS" <<'EOF'
import re, subprocess, sys
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
pins = {norm(line.split("==")[0]) for line in open(sys.argv[1]) if "==" in line and not line.startswith("#")}
freeze = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True)
found = {}
for line in freeze.stdout.splitlines():
    if "==" in line:
        name, version = line.split("==", 1)
        found[norm(name)] = version
for name in sorted(pins):
    print(f"{name}=={found.get(name, '(not installed)')}")
EOF
}

expected_pins() {
  python3 - "$PINS" <<'EOF'
import re, sys
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
lines = [line.strip() for line in open(sys.argv[1]) if "==" in line and not line.startswith("#")]
for name, version in sorted((norm(name), version) for name, version in (line.split("==", 1) for line in lines)):
    print(f"{name}=={version}")
EOF
}

check_pins() {
  local diff_out
  if ! diff_out="$(diff -u <(expected_pins) <(pinned_freeze) --label "$PINS (Colab)" --label "$VENV (pip freeze)")"; then
    say "FAILED: pip changed Colab's packages in $VENV (pinned, then as installed):"
    echo "$diff_out"
    return 1
  fi
}

# What `pip install o4-magics` would do on Colab itself (no constraints file there): nothing pinned may move.
check_plain_install() {
  local report="$VENV/plain-install.json"
  "$VENV/bin/python" -m pip install -q --dry-run --report "$report" -e . >>"$VENV/install.log" 2>&1
  "$VENV/bin/python" - "$report" "$PINS" <<'EOF'
import json, re, sys
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
pins = {norm(l.split("==")[0]): l.split("==")[1].strip() for l in open(sys.argv[2]) if "==" in l and not l.startswith("#")}
moved = [
    f"  {item['metadata']['name']}: Colab has {pins[norm(item['metadata']['name'])]}, pip would install {item['metadata']['version']}"
    for item in json.load(open(sys.argv[1]))["install"]
    if norm(item["metadata"]["name"]) in pins
]
if moved:
    sys.exit("colab job: FAILED: a plain `pip install` would replace Colab's packages:\n" + "\n".join(moved))
EOF
}

build_venv() {
  local python="$1"
  say "building $VENV with $("$python" --version) (Colab's pins, then o4-magics; about a minute with pip's cache)"
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
  : >"$VENV/install.log"
  if ! "$VENV/bin/python" -m pip install -q -r "$PINS" >>"$VENV/install.log" 2>&1; then
    tail -20 "$VENV/install.log"
    say "FAILED: could not install Colab's pins (log: $VENV/install.log)"
    return 1
  fi
  check_plain_install || return 1
  # The normal install: o4-magics with its dependencies, the pins as constraints; then the test tools.
  if ! "$VENV/bin/python" -m pip install -q -c "$PINS" -e . pytest-timeout hypothesis >>"$VENV/install.log" 2>&1; then
    tail -20 "$VENV/install.log"
    say "FAILED: installing o4-magics into Colab's package set failed (log: $VENV/install.log)"
    return 1
  fi
}

main() {
  local venv_only=0
  if [ "${1:-}" = "--venv-only" ]; then
    venv_only=1
    shift
  fi
  local python
  if ! python="$(find_python)"; then
    say "SKIPPED: no Python 3.13 on this machine (Colab's runtime is Python 3.13). Looked at \$O4_COLAB_PYTHON," \
      "python3.13 on PATH and ${PYENV_ROOT:-$HOME/.pyenv}/versions/3.13*; install one (pyenv install 3.13) to run it."
    return 0
  fi
  local started=$SECONDS
  local want
  want="$(cat "$PINS" pyproject.toml scripts/colab_job.sh | sha256sum | cut -c1-16) $python"
  if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.o4-colab-stamp" 2>/dev/null)" != "$want" ]; then
    build_venv "$python" || return 1
    echo "$want" >"$VENV/.o4-colab-stamp"
  fi
  check_pins || return 1
  say "pins untouched: $(grep -c '==' "$PINS") packages at Colab's versions; not on Colab: $UNPINNED" \
    "($(( SECONDS - started )) s)"
  [ "$venv_only" = 1 ] && return 0
  # Kernels started by the tests must be this venv's (ipykernel 6.17.1): its bin first, its kernelspec first.
  PATH="$PWD/$VENV/bin:$PATH" JUPYTER_PREFER_ENV_PATH=1 O4_COLAB_JOB=1 \
    "$VENV/bin/python" -m pytest -p no:cacheprovider "${COLAB_TESTS[@]}" "$@" || return 1
  say "passed in $(( SECONDS - started )) s"
}

main "$@"
