#!/usr/bin/env bash
# The one command that runs every statecar test on a fresh machine (README:
# "Run all tests"). It installs what the tests need (Debian packages for the
# real Redis and PostgreSQL servers, npm packages for the JavaScript SDK
# tests), then runs, in order:
#   1. lint: gofmt, go vet and staticcheck over the whole module;
#   2. go test over the main module (unit, model, crash, fault-injection,
#      fuzz-seed, end-to-end, torture and conformance tests), then all of
#      it again under the race detector;
#   3. the Go SDK tests (tests/gosdk, a separate module);
#   4. the JavaScript SDK tests (tests/js, node's test runner).
# Any failure fails the script. Runs as root on CI (apt-get) or as a user who
# already has the packages installed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

step() { printf '\n==== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

need_pkgs=()
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_pkgs+=(postgresql)
command -v node >/dev/null 2>&1 || need_pkgs+=(nodejs npm)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  step "installing ${need_pkgs[*]}"
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
    # The Debian packages start their own servers; the tests start private
    # ones on free ports, so stop the system ones to save memory.
    (service redis-server stop || true) >/dev/null 2>&1
    (service postgresql stop || true) >/dev/null 2>&1
  else
    echo "missing packages: ${need_pkgs[*]} (run as root or install them)" >&2
    exit 1
  fi
fi

step "lint: gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))
if [ -n "$bad" ]; then echo "gofmt needed:"; echo "$bad"; exit 1; fi
step "lint: go vet"
go vet ./...

bindir=$(mktemp -d)
trap 'rm -rf "$bindir"' EXIT
step "lint: staticcheck"
# Pinned: the module proxy here serves exact versions.
GOBIN="$bindir" go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
"$bindir/staticcheck" ./...

step "build the statecar binary"
go build -o "$bindir/statecar" ./cmd/statecar
export STATECAR_BIN="$bindir/statecar"

step "go test (main module)"
go test -count=1 -timeout 30m ./...

step "go test server/grpc on grpc-go's transport (STATECAR_GRPC_TRANSPORT=grpc-go)"
STATECAR_GRPC_TRANSPORT=grpc-go go test -count=1 -timeout 10m ./server/grpc/

step "go test -race (main module)"
go test -count=1 -race -timeout 30m ./...

step "Go SDK tests (tests/gosdk)"
(cd tests/gosdk && go test -count=1 -timeout 10m ./...)

step "JavaScript SDK tests (tests/js)"
bash tests/js/run.sh

step "all tests passed"
