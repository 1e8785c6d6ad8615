#!/usr/bin/env bash
# bench/record.sh — the runs behind the figures in docs/benchmarks.md
# ("Peers side by side"). Takes about 12 minutes on 2 cores.
#
#   bash bench/record.sh            # everything
#   D=3s SCALE_D=2s bash bench/record.sh   # a quick smoke run
#   KEYS_MAX=1e7 bash bench/record.sh      # add the 10^7-key point (several more minutes)
#
# Output: bench/results/record.txt (the whole log, with the machine),
# bench/results/peers-*.json and docs/img/peers-*.svg. Set DAPRD to a daprd
# binary to add daprd-redis and daprd-mem to every comparison.
set -euo pipefail
cd "$(dirname "$0")/.."

D=${D:-5s}
WARM=${WARM:-2s}
SCALE_D=${SCALE_D:-4s}
REPEAT=${REPEAT:-3}
KEYS_MAX=${KEYS_MAX:-1e6}
mkdir -p bench/results bin
log=bench/results/record.txt

go build -o bin/scload ./bench/cmd/scload
go build -o bin/peers ./bench/cmd/peers
# statecar is built from the committed tree (HEAD), not from files being
# edited, so that the figures belong to one commit.
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
# shellcheck disable=SC2046 # top-level paths of HEAD except tests/
git archive HEAD -- $(git ls-tree --name-only HEAD | grep -v '^tests$') | tar -x -C "$src"
(cd "$src" && go build -o "$src/statecar" ./cmd/statecar)
cp "$src/statecar" bin/statecar
export STATECAR_BIN=$PWD/bin/statecar

sidecars=statecar,statecar-mem
if [ -n "${DAPRD:-}" ]; then sidecars=$sidecars,daprd-redis,daprd-mem; fi
all=$sidecars,redis-scload,redis

{
	echo "# bench/record.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) D=$D WARM=$WARM SCALE_D=$SCALE_D KEYS_MAX=$KEYS_MAX REPEAT=$REPEAT"
	echo "## machine"
	lscpu | head -20
	echo "loadavg: $(cat /proc/loadavg)"
	go version
	redis-server --version
	echo "statecar: built from commit $(git rev-parse --short HEAD)"

	echo "## generator ceiling: scload and wrk against trivial servers (c=32)"
	bin/scload -trivial -c 32 -d "$D" -warmup "$WARM"
	bin/scload -trivial -proto grpc -c 32 -d "$D" -warmup "$WARM"
	bin/scload -serve-trivial 127.0.0.1:18089 & tpid=$!
	sleep 0.5
	bin/scload -target 127.0.0.1:18089 -c 32 -d "$D" -warmup "$WARM" -preload false -label trivial-ext
	if command -v wrk >/dev/null; then wrk -t2 -c32 -d"$D" http://127.0.0.1:18089/v1.0/state/statestore/k1; fi
	kill "$tpid"; wait "$tpid" 2>/dev/null || true

	echo "## peers, HTTP, c=32, 100 B values, 10^4 keys (get and save: median of $REPEAT interleaved rounds)"
	for w in get save; do
		bin/peers -workload "$w" -systems "$all" -c 32 -d "$D" -warmup "$WARM" -repeat "$REPEAT"
	done
	for w in msave bulk tx; do
		bin/peers -workload "$w" -systems "$all" -c 32 -d "$D" -warmup "$WARM"
	done
	echo "## peers, gRPC (one channel), get and save"
	bin/peers -workload get -proto grpc -systems "$sidecars" -c 32 -d "$D" -warmup "$WARM"
	bin/peers -workload save -proto grpc -systems "$sidecars" -c 32 -d "$D" -warmup "$WARM"
	echo "## mixed zipfian workload (redis-benchmark cannot mix) and query (statecar only)"
	bin/peers -workload get:80,save:20 -dist zipf -systems "$sidecars,redis-scload" -c 32 -d "$D" -warmup "$WARM"
	bin/peers -workload query -systems statecar -keys 1000 -c 8 -d "$D" -warmup "$WARM"
	echo "## scale curves"
	bin/peers -workload get -scale conns -systems statecar,redis-scload,redis -d "$SCALE_D" -warmup 1s
	bin/peers -workload save -scale conns -systems statecar,redis-scload,redis -d "$SCALE_D" -warmup 1s
	bin/peers -workload get -scale keys -keys-max "$KEYS_MAX" -systems statecar,redis-scload,redis -d "$SCALE_D" -warmup 1s
	echo "# done $(date -u +%Y-%m-%dT%H:%M:%SZ) loadavg: $(cat /proc/loadavg)"
} 2>&1 | tee "$log"
