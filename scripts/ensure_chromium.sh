#!/usr/bin/env bash
# Make sure /usr/bin/chromium exists for the browser tests (tests/browser: JupyterLab in headless Chromium).
# Installs Debian's chromium with apt-get when it is missing and we are root; otherwise says why it cannot,
# and the browser tests skip with that reason. Never fails the test run, never downloads Playwright's browser.
set -uo pipefail
CHROMIUM=/usr/bin/chromium
[ -x "$CHROMIUM" ] && exit 0
say() { echo "o4-magics: $*" >&2; }
if [ "$(id -u)" != "0" ]; then
  say "$CHROMIUM is missing and we are not root, so the browser tests will be skipped (install it with: sudo apt-get install -y chromium)."
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "$CHROMIUM is missing and there is no apt-get here, so the browser tests will be skipped."
  exit 0
fi
say "installing chromium with apt-get for the browser tests (about a minute)"
log="$(mktemp)"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends chromium >"$log" 2>&1; then
  # The package lists may be missing or stale on a fresh machine: refresh them once and retry.
  apt-get update -q >>"$log" 2>&1
  apt-get install -y -q --no-install-recommends chromium >>"$log" 2>&1
fi
if [ -x "$CHROMIUM" ]; then
  say "chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  rm -f "$log"
else
  say "could not install chromium, so the browser tests will be skipped. apt-get said:"
  tail -n 15 "$log" >&2
  rm -f "$log"
fi
exit 0
