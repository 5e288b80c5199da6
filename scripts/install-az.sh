#!/usr/bin/env bash
# Installs what the Azure CLI real-client test (cli/az_test.go) needs:
# Debian's azure-cli package (az with MSAL for Python). Nothing else is
# fetched: no pip, no extensions; the test runs az unchanged.
# Runs as root (CI) or with sudo. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=lib.sh
. scripts/lib.sh

if ! command -v az >/dev/null 2>&1; then
  echo "== installing azure-cli (Debian package)"
  retry as_root apt-get update
  retry as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends azure-cli
fi
# The installed version, without running az (az --version checks online for
# a newer release).
echo "azure-cli $(dpkg-query -W -f='${Version}' azure-cli 2>/dev/null || echo '(not from a Debian package)') at $(command -v az)"
