#!/usr/bin/env bash
# bench/issue5.sh — issue #5's performance paragraph through the real binary:
# GetState and SaveState over gRPC beside GET and single-item SAVE over
# HTTP/1.1, driven by ONE client program for both protocols: h2load (nghttp2,
# C), so that the comparison measures the sidecar rather than the client.
# (scload's gRPC driver uses grpc-go, whose client costs several times a
# whole HTTP/1.1 request on these two cores; see docs/benchmarks.md.)
#
#   bash bench/issue5.sh                 # 3 interleaved rounds, 8 s per run
#   ROUNDS=1 D=4 bash bench/issue5.sh    # a quick run
#
# Settings (environment):
#   D=8            seconds per run (h2load -D), after WARM=1 s of warm-up
#   ROUNDS=3       rounds; each runs every (workload, path) once, interleaved
#   STATECAR_BIN   use this binary instead of building ./cmd/statecar
#   OUT=dir        keep raw outputs here (default: a temp dir, printed)
#   WRK=1          also run wrk -t2 -c32 on the HTTP path (issue 4's client)
#
# Paths, all with 32 requests in flight:
#   http     HTTP/1.1, 32 connections, one request each (h2load --h1 -c32 -t2)
#   grpc-1   gRPC, 1 HTTP/2 connection, 32 concurrent streams (-c1 -m32 -t1;
#            h2load drives one connection from one thread, as one SDK client)
#   grpc-8   gRPC, 8 connections, 4 streams each (-c8 -m4 -t2)
# Workloads: get (GET /v1.0/state/statestore/k1 | Dapr/GetState of k1) and
# save (POST one item {"key":"k1", 100-byte value} | Dapr/SaveState of the
# same item); the default store (state.pebble, every save fsynced before its
# reply). h2load sends one fixed request per path, so every run reads or
# writes the same key on both protocols.
#
# Every gRPC reply is HTTP 200 whatever its grpc-status, so after each gRPC
# run the script checks statecar's dapr_grpc_io_server_completed_rpcs: every
# call of the run must have completed with grpc_server_status="OK".
#
# Per run: req/s, p50/p99 from h2load's per-request log (--log-file), and the
# server's CPU time per request (utime+stime from /proc/<pid>/stat).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

D=${D:-8}
WARM=${WARM:-1}
ROUNDS=${ROUNDS:-3}
WRK=${WRK:-1}
OUT=${OUT:-$(mktemp -d /tmp/issue5.XXXXXX)}
mkdir -p "$OUT"

for tool in h2load curl python3; do
	command -v "$tool" >/dev/null || { echo "issue5.sh: $tool not found (apt-get install nghttp2-client curl python3)" >&2; exit 1; }
done

# shellcheck source=bench/lib.sh
. bench/lib.sh # (the script runs from the repository root)

bin=$(statecar_bin "$OUT")

data=$(mktemp -d /tmp/issue5-data.XXXXXX)
hp=$(freeport); gp=$(freeport); mp=$(freeport)
sc_pid=""
cleanup() {
	[ -n "$sc_pid" ] && kill "$sc_pid" 2>/dev/null && wait "$sc_pid" 2>/dev/null
	rm -rf "$data"
	true
}
trap cleanup EXIT

"$bin" --app-id bench --dapr-http-port "$hp" --dapr-grpc-port "$gp" --metrics-port "$mp" \
	--dapr-listen-addresses 127.0.0.1 --metrics-listen-address 127.0.0.1 \
	--data-dir "$data" --log-level warn >"$OUT/statecar.log" 2>&1 &
sc_pid=$!
base=http://127.0.0.1:$hp
gbase=http://127.0.0.1:$gp/dapr.proto.runtime.v1.Dapr
for _ in $(seq 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/v1.0/healthz")" = 204 ] && break
	sleep 0.1
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/v1.0/healthz")" = 204 ] || { echo "statecar did not start" >&2; cat "$OUT/statecar.log" >&2; exit 1; }

# Request bodies: the HTTP JSON and the gRPC messages (5-byte gRPC prefix +
# protobuf), both for key k1 and the same 100-byte value (a 98-character
# JSON string; over gRPC the value bytes are that JSON text).
val="\"$(printf 'v%.0s' $(seq 98))\""
printf '[{"key":"k1","value":%s}]' "$val" >"$OUT/save.json"
python3 - "$OUT" "$val" <<'EOF'
import struct, sys
out, val = sys.argv[1], sys.argv[2].encode()
def field(n, b):
    if isinstance(b, str): b = b.encode()
    return bytes([(n << 3) | 2]) + varint(len(b)) + b
def varint(v):
    o = b""
    while True:
        c = v & 0x7f; v >>= 7
        if v: o += bytes([c | 0x80])
        else: return o + bytes([c])
def grpc(m): return b"\x00" + struct.pack(">I", len(m)) + m
# GetStateRequest{store_name=1, key=2}
open(out + "/get.grpc", "wb").write(grpc(field(1, "statestore") + field(2, "k1")))
# SaveStateRequest{store_name=1, states=2: StateItem{key=1, value=2}}
open(out + "/save.grpc", "wb").write(grpc(field(1, "statestore") + field(2, field(1, "k1") + field(2, val))))
EOF
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$OUT/save.json" "$base/v1.0/state/statestore")
[ "$code" = 204 ] || { echo "preload: status $code" >&2; exit 1; }
[ "$(curl -s "$base/v1.0/state/statestore/k1")" = "$val" ] || { echo "preload: k1 not readable" >&2; exit 1; }
# One gRPC call of each kind by curl: grpc-status 0, and GetState returns the value.
for m in get save; do
	M=GetState; [ $m = save ] && M=SaveState
	hdr=$(curl -s --http2-prior-knowledge -H 'content-type: application/grpc' -H 'te: trailers' \
		--data-binary @"$OUT/$m.grpc" -D - -o "$OUT/$m.reply" "$gbase/$M")
	echo "$hdr" | grep -q '^grpc-status: 0' || { echo "gRPC $M check failed:"; echo "$hdr"; exit 1; } >&2
done
grep -q "$(printf 'v%.0s' $(seq 98))" "$OUT/get.reply" || { echo "gRPC GetState did not return the value" >&2; exit 1; }

# grpc_ok METHOD: completed RPCs of METHOD with status OK; grpc_all: with any status.
grpc_count() { curl -s "http://127.0.0.1:$mp/metrics" | awk -v m="/dapr.proto.runtime.v1.Dapr/$1" -v s="$2" '
	/^dapr_grpc_io_server_completed_rpcs\{/ && index($0, "grpc_server_method=\"" m "\"") && (s == "" || index($0, "grpc_server_status=\"" s "\"")) {n += $NF}
	END {printf "%d", n}'; }

results=$OUT/results.tsv
: >"$results"

# run ROUND WORKLOAD PATH
run() {
	local round=$1 w=$2 p=$3 f=$OUT/$2-$3-$1 args=() M=GetState
	[ "$w" = save ] && M=SaveState
	case "$p" in
	http)
		args=(--h1 -c32 -m1 -t2)
		if [ "$w" = save ]; then args+=(-d "$OUT/save.json" -H 'Content-Type: application/json'); fi
		if [ "$w" = get ]; then args+=("$base/v1.0/state/statestore/k1"); else args+=("$base/v1.0/state/statestore"); fi
		;;
	grpc-1) args=(-c1 -m32 -t1 -H 'content-type: application/grpc' -H 'te: trailers' -d "$OUT/$w.grpc" "$gbase/$M") ;;
	grpc-8) args=(-c8 -m4 -t2 -H 'content-type: application/grpc' -H 'te: trailers' -d "$OUT/$w.grpc" "$gbase/$M") ;;
	esac
	local ok0 all0 c0 c1
	ok0=$(grpc_count "$M" OK); all0=$(grpc_count "$M" "")
	c0=$(cpu_ticks "$sc_pid")
	h2load -D "$D" --warm-up-time "$WARM" --log-file "$f.log" "${args[@]}" >"$f.txt" 2>&1
	c1=$(cpu_ticks "$sc_pid")
	local n2xx
	n2xx=$(awk '/^status codes:/{print $3}' "$f.txt")
	local rps
	rps=$(awk '/^finished in/{gsub(/,/,"",$4); print $4}' "$f.txt")
	if [ "$p" != http ]; then
		local ok all
		ok=$(( $(grpc_count "$M" OK) - ok0 )); all=$(( $(grpc_count "$M" "") - all0 ))
		if [ "$all" -ne "$ok" ]; then echo "error: $w $p round $round: $((all - ok)) of $all gRPC calls did not end OK" >&2; exit 1; fi
	fi
	local bad
	bad=$(awk '/^requests:/{for (i = 1; i <= NF; i++) if ($(i+1) ~ /^(failed|errored|timeout),?$/) s += $i} END {print s + 0}' "$f.txt")
	[ "$bad" = 0 ] || echo "warning: $w $p round $round: $bad failed/errored requests (see $f.txt)" >&2
	# p50/p99 from the per-request log (3rd column: microseconds), req/s as h2load reports it.
	python3 - "$f.log" "$round" "$w" "$p" "$rps" "$c0" "$c1" "$tck" "$D" "$WARM" >>"$results" <<'EOF'
import sys
path, rnd, w, p, rps, c0, c1, tck, d, warm = sys.argv[1:]
lat = sorted(int(l.split("\t")[2]) for l in open(path) if l.strip())
q = lambda x: lat[min(len(lat) - 1, int(x * len(lat)))] / 1000.0
# The CPU ticks cover the warm-up too; h2load's req/s is that of the measured D seconds.
cpu = (int(c1) - int(c0)) / int(tck) * 1e6 / (float(rps) * (float(d) + float(warm)))
print(f"{w}\t{p}\t{rnd}\t{float(rps):.0f}\t{q(0.50):.3f}\t{q(0.99):.3f}\t{cpu:.1f}")
EOF
}

run_wrk() {
	local round=$1 w=$2 f=$OUT/$2-wrk-$1.txt
	command -v wrk >/dev/null || return 0
	local c0 c1
	c0=$(cpu_ticks "$sc_pid")
	WRK_DIR=$root/bench/wrk wrk -t2 -c32 -d"${D}s" --latency -s "$OUT/$w.lua" "$base/v1.0/state/statestore" >"$f" 2>&1
	c1=$(cpu_ticks "$sc_pid")
	awk -v w="$w" -v r="$round" -v c0="$c0" -v c1="$c1" -v t="$tck" -v d="$D" '
		function ms(v) { if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000; if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0; return substr(v, 1, length(v) - 1) * 1000 }
		/^ +50%/ {p50 = ms($2)} /^ +99%/ {p99 = ms($2)} /^Requests\/sec:/ {rps = $2}
		END {printf "%s\twrk-http\t%s\t%.0f\t%.3f\t%.3f\t%.1f\n", w, r, rps, p50, p99, (c1 - c0) / t * 1e6 / (rps * d)}' "$f" >>"$results"
}
cat >"$OUT/get.lua" <<'EOF'
request = function() return wrk.format("GET", "/v1.0/state/statestore/k1") end
EOF
cat >"$OUT/save.lua" <<EOF
local body = io.open("$OUT/save.json"):read("*a")
request = function() return wrk.format("POST", "/v1.0/state/statestore", { ["Content-Type"] = "application/json" }, body) end
EOF

{
	echo "# bench/issue5.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) D=$D ROUNDS=$ROUNDS"
	echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- api server component || echo ' (+ uncommitted changes)')"
	lscpu | awk -F: '/^CPU\(s\)|^Model name/{gsub(/^ +/,"",$2); print $1": "$2}'
	echo "h2load: $(h2load --version 2>&1 | head -1)"
	echo "loadavg at start: $(cat /proc/loadavg)"
} | tee "$OUT/header.txt"

for r in $(seq "$ROUNDS"); do
	for w in get save; do
		for p in http grpc-1 grpc-8; do run "$r" "$w" "$p"; done
		if [ "$WRK" = 1 ]; then run_wrk "$r" "$w"; fi
	done
	echo "round $r done, loadavg $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done

python3 - "$results" <<'EOF' | tee "$OUT/summary.txt"
import sys, statistics as st
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
by = {}
for w, p, r, rps, p50, p99, cpu in rows:
    by.setdefault((w, p), []).append((float(rps), float(p50), float(p99), float(cpu)))
print(f"{'workload':8} {'path':9} {'req/s (median)':>15} {'spread':>15} {'p50 ms':>8} {'p99 ms':>8} {'server CPU us/req':>18}")
med = {}
for (w, p), v in sorted(by.items()):
    m = st.median(x[0] for x in v)
    med[(w, p)] = m
    lo, hi = min(x[0] for x in v), max(x[0] for x in v)
    print(f"{w:8} {p:9} {m:15.0f} {f'{lo:.0f}-{hi:.0f}':>15} {st.median(x[1] for x in v):8.3f} {st.median(x[2] for x in v):8.3f} {st.median(x[3] for x in v):18.1f}")
print()
for w in ("get", "save"):
    h = med.get((w, "http"))
    for p in ("grpc-1", "grpc-8"):
        if h and (w, p) in med:
            print(f"ratio {w:4} {p} / http (h2load, same client) = {med[(w, p)] / h:.2f}   (goal >= 0.80)")
    if h and (w, "wrk-http") in med:
        print(f"      {w:4} http: h2load {h:.0f} req/s, wrk {med[(w, 'wrk-http')]:.0f} req/s")
EOF
echo "raw outputs: $OUT"
