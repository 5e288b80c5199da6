#!/usr/bin/env bash
# The project's test command: every package, race detector on, offline.
# Fuzz targets run their committed seed corpora as ordinary tests.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go test -race -count=1 -timeout 15m ./... "$@"
