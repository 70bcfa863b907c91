# Sourced by scripts/test and scripts/demo: make sure .venv exists and holds the package with EXTRAS.
# Re-installs only when pyproject.toml changed since the last install (a stamp file remembers).
set -euo pipefail
EXTRAS="${EXTRAS:-test}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "o4-magics: creating .venv with $($PY --version)" >&2
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
stamp=".venv/.o4-installed-$EXTRAS"
want="$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "o4-magics: installing the package with [$EXTRAS] into .venv" >&2
  if ! .venv/bin/python -m pip install -q -e ".[$EXTRAS]" > .venv/install.log 2>&1; then
    tail -20 .venv/install.log >&2
    echo "o4-magics: installing failed (full log: .venv/install.log)" >&2
    exit 1
  fi
  .venv/bin/python -c "import o4_magics"
  echo "$want" > "$stamp"
fi
