#!/usr/bin/env bash
# Runs every Fuzz* target in the module for FUZZTIME each (default 30s).
# Not for CI: CI runs the committed seed corpora as ordinary tests
# (`go test ./...` executes each Fuzz target on testdata/fuzz/<Name>/*).
#
#   scripts/fuzz.sh                 # every target, 30s each
#   FUZZTIME=5m scripts/fuzz.sh     # longer
#   scripts/fuzz.sh ./m365/...      # only these packages
#
# New crashers are written by `go test` to <pkg>/testdata/fuzz/<Name>/ —
# commit them as seeds once fixed. Exit status is non-zero if any target failed.
set -euo pipefail

cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-30s}"
PKGS=("$@")
[ ${#PKGS[@]} -eq 0 ] && PKGS=(./...)

failed=()
ran=0
for pkg in $(go list "${PKGS[@]}"); do
	# `go test -list` prints the matching test names, then "ok <pkg>".
	if ! listing=$(go test -run '^$' -list '^Fuzz' "$pkg" 2>&1); then
		echo "$listing" >&2
		failed+=("$pkg (does not build)")
		continue
	fi
	targets=$(printf '%s\n' "$listing" | grep -E '^Fuzz[A-Za-z0-9_]*$' || true)
	for t in $targets; do
		ran=$((ran + 1))
		echo "==> $pkg $t (${FUZZTIME})"
		if ! go test -run '^$' -fuzz "^${t}\$" -fuzztime "$FUZZTIME" "$pkg"; then
			failed+=("$pkg $t")
		fi
	done
done

echo
echo "fuzz targets run: $ran"
if [ ${#failed[@]} -gt 0 ]; then
	echo "FAILED:"
	printf '  %s\n' "${failed[@]}"
	exit 1
fi
if [ "$ran" -eq 0 ]; then
	echo "no Fuzz targets found" >&2
	exit 1
fi
echo "all fuzz targets passed"
