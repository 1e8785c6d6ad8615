#!/usr/bin/env bash
# Runs the JavaScript SDK tests against statecar: builds the binary when
# STATECAR_BIN is unset, installs the pinned npm packages when node_modules
# is missing (npm ci, from package-lock.json), then runs node's test runner.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ -z "${STATECAR_BIN:-}" ]; then
  bindir=$(mktemp -d)
  trap 'rm -rf "$bindir"' EXIT
  (cd "$root" && go build -o "$bindir/statecar" ./cmd/statecar)
  export STATECAR_BIN="$bindir/statecar"
fi
cd "$here"
if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi
exec node --test --test-concurrency=1 test/*.test.js
