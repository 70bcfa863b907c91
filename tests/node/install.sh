#!/usr/bin/env bash
# Install the node harness (tests/node: markdown-it + @vscode/markdown-it-katex as VS Code renders, marked +
# @jupyterlab/rendermime's removeMath as JupyterLab renders) with `npm ci`, once per package-lock.json.
# Without npm it says so and exits 0: tests/test_display_vscode.py then skips with that reason.
set -uo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null 2>&1; then
  echo "o4-magics: npm is not installed, so the VS Code/JupyterLab renderer tests will be skipped" >&2
  exit 0
fi
stamp="node_modules/.o4-installed"
want="$(sha256sum package-lock.json | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "o4-magics: installing the node render harness (npm ci, about 10 s)" >&2
if npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2; then
  echo "$want" > "$stamp"
else
  echo "o4-magics: npm ci failed in tests/node" >&2
  exit 1
fi
