#!/usr/bin/env bash
# The dashboard in a real browser (tests/browser/dashboard.test.js): Debian's Chromium driven by
# playwright-core from npm, never a downloaded browser. Run by CTest (test `dashboard_browser`):
#   scripts/browser-test.sh BUILD_DIR/src/cli/api-broker [SCREENSHOT_DIR]
# The screenshots go to BUILD_DIR/browser-test/screenshots, or SCREENSHOT_DIR (docs/images
# refreshes the README's).
# Installs the npm packages of tests/browser/package-lock.json into BUILD_DIR/browser-test/
# (again only when the lock file changed), then runs the test. Exits 77 (CTest: skipped), with
# the reason, when Chromium or node is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(realpath "${1:?usage: scripts/browser-test.sh PATH/TO/api-broker [SCREENSHOT_DIR]}")"
shots="${2:-}"
chromium="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$chromium" ]]; then
  echo "SKIPPED: no Chromium at $chromium (Debian package chromium): the dashboard is not tested"
  exit 77
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIPPED: no node/npm (Debian packages nodejs, npm): the dashboard is not tested"
  exit 77
fi
deps="$(dirname "$(dirname "$(dirname "$bin")")")/browser-test"  # BUILD_DIR/browser-test
mkdir -p "$deps"
shots="${shots:-$deps/screenshots}"  # docs/images: the README's (refresh them by naming it)
if ! cmp -s "$here/tests/browser/package-lock.json" "$deps/package-lock.json" ||
  [[ ! -d "$deps/node_modules/playwright-core" ]]; then
  cp "$here/tests/browser/package.json" "$here/tests/browser/package-lock.json" "$deps/"
  (cd "$deps" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 300 npm ci --no-audit --no-fund \
    --loglevel=error)
fi
mkdir -p "$shots"
NODE_PATH="$deps/node_modules" CHROMIUM="$chromium" exec timeout 240 \
  node "$here/tests/browser/dashboard.test.js" "$bin" "$shots"
