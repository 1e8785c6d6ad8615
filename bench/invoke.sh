#!/usr/bin/env bash
# bench/invoke.sh — service invocation through statecar (HTTP app, GET
# /v1.0/invoke/{own app id}/method/x) beside the app called directly and a
# plain Go reverse proxy (bench/cmd/invokeapp -proxy), with wrk, rounds
# interleaved.
#
#   bash bench/invoke.sh                         # build ./cmd/statecar, 2 rounds
#   STATECAR_BIN=/tmp/statecar ROUNDS=3 D=10s bash bench/invoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
D=${D:-8s}
ROUNDS=${ROUNDS:-2}
C=${C:-32}
command -v wrk >/dev/null || { echo "invoke.sh: wrk not found" >&2; exit 1; }
work=$(mktemp -d /tmp/invoke.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
bin=${STATECAR_BIN:-}
if [ -z "$bin" ]; then
  go build -o "$work/statecar" ./cmd/statecar
  bin=$work/statecar
fi
go build -o "$work/invokeapp" ./bench/cmd/invokeapp
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
app=$(port); prx=$(port); http=$(port)
"$work/invokeapp" -listen "127.0.0.1:$app" & pids+=($!)
"$work/invokeapp" -listen "127.0.0.1:$prx" -proxy "http://127.0.0.1:$app" & pids+=($!)
"$bin" --app-id benchinv --app-port "$app" --dapr-http-port "$http" --dapr-grpc-port "$(port)" \
  --metrics-port "$(port)" --data-dir "$work/data" >"$work/statecar.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$http/v1.0/healthz" && break; sleep 0.1; done
run() { # name url
  local out
  out=$(wrk -t2 -c"$C" -d"$D" --latency "$2")
  printf '%-10s %10s req/s  p50 %8s  p99 %8s\n' "$1" "$(awk '/Requests\/sec/{print $2}' <<<"$out")" \
    "$(awk '$1=="50%"{print $2}' <<<"$out")" "$(awk '$1=="99%"{print $2}' <<<"$out")"
}
for r in $(seq "$ROUNDS"); do
  echo "round $r"
  run direct "http://127.0.0.1:$app/x"
  run goproxy "http://127.0.0.1:$prx/x"
  run statecar "http://127.0.0.1:$http/v1.0/invoke/benchinv/method/x"
done
