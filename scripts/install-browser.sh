#!/usr/bin/env bash
# Installs what the /devicelogin browser test (cli/browser_test.go) needs:
# Debian's Chromium (/usr/bin/chromium) and playwright-core from npm into
# scripts/browser-test/node_modules. Playwright's own browser download is
# never used (it fails offline); the test drives Debian's Chromium.
# Runs as root (CI) or with sudo. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# retry runs a command up to three times (a package mirror can hiccup).
retry() {
  local n
  for n in 1 2 3; do
    if "$@"; then return 0; fi
    echo "(attempt $n of 3 failed: $*)" >&2
    sleep $((n * 5))
  done
  return 1
}

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing chromium (Debian package)"
  retry as_root apt-get update
  retry as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi
chromium --version

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "== installing nodejs and npm (Debian packages)"
  retry as_root apt-get update
  retry as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm
fi
node --version

echo "== installing playwright-core into scripts/browser-test/node_modules"
cd scripts/browser-test
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 retry npm ci --no-audit --no-fund --ignore-scripts
node -e 'require("playwright-core"); console.log("playwright-core", require("playwright-core/package.json").version)'
