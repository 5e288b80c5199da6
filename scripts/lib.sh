# Shared by the install scripts (source it; not run on its own).

# as_root runs a command as root: directly in CI, else through sudo.
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
