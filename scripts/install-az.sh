#!/usr/bin/env bash
# Installs what the Azure CLI real-client test (cli/az_test.go) needs:
# Debian's azure-cli package (az with MSAL for Python). Nothing else is
# fetched: no pip, no extensions; the test runs az unchanged.
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

if ! command -v az >/dev/null 2>&1; then
  echo "== installing azure-cli (Debian package)"
  retry as_root apt-get update
  retry as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends azure-cli
fi
# The installed version, without running az (az --version checks online for
# a newer release).
echo "azure-cli $(dpkg-query -W -f='${Version}' azure-cli 2>/dev/null || echo '(not from a Debian package)') at $(command -v az)"
