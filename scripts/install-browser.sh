#!/usr/bin/env bash
# Installs what the /devicelogin browser test (cli/browser_test.go) needs:
# Debian's Chromium (/usr/bin/chromium) and playwright-core from npm into
# scripts/browser-test/node_modules. Playwright's own browser download is
# never used (it fails offline); the test drives Debian's Chromium.
# Runs as root (CI) or with sudo. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=lib.sh
. scripts/lib.sh

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
