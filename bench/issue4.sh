#!/usr/bin/env bash
# bench/issue4.sh — issue #4's performance paragraph through the real binary:
# statecar's State HTTP API driven by wrk against redis-server driven by
# redis-benchmark, on the same machine in the same minutes.
#
#   bash bench/issue4.sh                 # 3 interleaved rounds, 10 s per workload
#   ROUNDS=1 D=5s bash bench/issue4.sh   # a quick run
#   PROFILE=1 bash bench/issue4.sh       # + CPU and allocation profiles of statecar under GET and SAVE
#
# Settings (environment):
#   D=10s          wrk duration per workload
#   ROUNDS=3       rounds; each round runs every workload once (statecar, then redis)
#   THREADS=2      wrk -t and redis-benchmark --threads (client threads; both
#                  compete with the server for the same cores)
#   CONNS=32       connections (wrk -c, redis-benchmark -c)
#   N=300000       redis-benchmark -n per test
#   METRICS=true   statecar --enable-metrics (true is daprd's default: every
#                  request updates dapr_http_server_* series)
#   STATECAR_BIN   use this binary instead of building ./cmd/statecar
#   OUT=dir        keep raw outputs here (default: a temp dir, printed)
#   WORKLOADS="get save bulk tx"  the statecar workloads to run (redis runs anyway)
#
# statecar runs with its default store (state.pebble, durability sync: every
# save is fsynced before its 204), --app-id bench, --log-level warn, a fresh
# temporary --data-dir, on free loopback ports. 10,000 keys k0..k9999 are
# preloaded with 100-byte values (a 98-character JSON string). redis-server
# runs with --save '' --appendonly no (no persistence at all).
#
# Workloads (wrk Lua scripts in bench/wrk/):
#   get   GET /v1.0/state/statestore/k<random>
#   save  POST /v1.0/state/statestore, one item, random key, 100-byte value
#   bulk  POST /v1.0/state/statestore/bulk, 100 random keys
#   tx    POST /v1.0/state/statestore/transaction, 10 upserts of random keys
#   redis GET / SET: redis-benchmark -c 32 -d 100 -r 10000 -n 300000 --threads 2 -t set (then -t get) --csv
#
# Besides req/s and wrk's / redis-benchmark's p50 and p99, the table gives
# each server's CPU time per request (utime+stime from /proc/<pid>/stat over
# the run): on a shared 2-core machine that is the figure least disturbed by
# other load.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

D=${D:-10s}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
N=${N:-300000}
METRICS=${METRICS:-true}
PROFILE=${PROFILE:-0}
WORKLOADS=${WORKLOADS:-get save bulk tx}
OUT=${OUT:-$(mktemp -d /tmp/issue4.XXXXXX)}
mkdir -p "$OUT"

for tool in wrk redis-server redis-benchmark curl; do
	command -v "$tool" >/dev/null || { echo "issue4.sh: $tool not found" >&2; exit 1; }
done

# shellcheck source=bench/lib.sh
. bench/lib.sh # (the script runs from the repository root)

bin=$(statecar_bin "$OUT")

data=$(mktemp -d /tmp/issue4-data.XXXXXX)
hp=$(freeport); gp=$(freeport); mp=$(freeport); pp=$(freeport); rp=$(freeport)
sc_pid=""; rd_pid=""
cleanup() {
	[ -n "$sc_pid" ] && kill "$sc_pid" 2>/dev/null && wait "$sc_pid" 2>/dev/null
	[ -n "$rd_pid" ] && kill "$rd_pid" 2>/dev/null && wait "$rd_pid" 2>/dev/null
	rm -rf "$data"
	true
}
trap cleanup EXIT

args=(--app-id bench --dapr-http-port "$hp" --dapr-grpc-port "$gp" --metrics-port "$mp"
	--dapr-listen-addresses 127.0.0.1 --metrics-listen-address 127.0.0.1
	--data-dir "$data" --log-level warn --enable-metrics="$METRICS")
if [ "$PROFILE" = 1 ]; then args+=(--enable-profiling --profile-port "$pp"); fi
"$bin" "${args[@]}" >"$OUT/statecar.log" 2>&1 &
sc_pid=$!
redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no >"$OUT/redis.log" 2>&1 &
rd_pid=$!

base=http://127.0.0.1:$hp
for _ in $(seq 100); do
	if [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/v1.0/healthz")" = 204 ] &&
		redis-cli -p "$rp" ping >/dev/null 2>&1; then break; fi
	sleep 0.1
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/v1.0/healthz")" = 204 ] || { echo "statecar did not start" >&2; cat "$OUT/statecar.log" >&2; exit 1; }

# Preload k0..k9999 with 100-byte values, 100 items per save.
val="\"$(printf 'v%.0s' $(seq 98))\""
for b in $(seq 0 99); do
	body="["
	for i in $(seq 0 99); do
		[ "$i" -gt 0 ] && body+=","
		body+="{\"key\":\"k$((b * 100 + i))\",\"value\":$val}"
	done
	body+="]"
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$body" "$base/v1.0/state/statestore")
	[ "$code" = 204 ] || { echo "preload: status $code" >&2; exit 1; }
done
[ "$(curl -s "$base/v1.0/state/statestore/k9999")" = "$val" ] || { echo "preload: k9999 not readable" >&2; exit 1; }

# to_ms converts wrk's latency figures (123.45us, 1.20ms, 1.01s) to ms.
to_ms() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); printf "%.3f", v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); printf "%.3f", v} else if (v ~ /s$/) {sub(/s$/,"",v); printf "%.3f", v*1000} else print "?" }'; }

results=$OUT/results.tsv
: >"$results"

# cpu_us_per_req TICKS0 TICKS1 RPS SECONDS: the server's CPU per request.
cpu_us_per_req() { awk -v a="$1" -v b="$2" -v r="$3" -v s="$4" -v t="$tck" 'BEGIN { if (r * s > 0) printf "%.1f", (b - a) / t * 1e6 / (r * s); else print "?" }'; }

# engine prints the statecar_* WAL figures (needs METRICS=true).
engine() {
	curl -s "http://127.0.0.1:$mp/metrics" | awk '/^statecar_(wal_fsyncs_total|wal_fsync_seconds_total|kv_applies_total)\{/{sub(/\{.*\}/,"",$1); print $1, $2}'
}

# run_wrk ROUND NAME: one wrk run of bench/wrk/NAME.lua; appends a row.
# For the durable workloads it also reports the WAL's fsyncs during the run
# (mean fsync time, batches per fsync) from the statecar_* metrics.
run_wrk() {
	local round=$1 name=$2 url=$base/v1.0/state/statestore f=$OUT/wrk-$2-$1.txt
	local e0=""
	if [ "$METRICS" = true ]; then e0=$(engine); fi
	local c0 c1
	c0=$(cpu_ticks "$sc_pid")
	WRK_DIR=$root/bench/wrk wrk -t"$THREADS" -c"$CONNS" -d"$D" --latency -s "$root/bench/wrk/$name.lua" "$url" >"$f" 2>&1
	c1=$(cpu_ticks "$sc_pid")
	if [ -n "$e0" ] && { [ "$name" = save ] || [ "$name" = tx ]; }; then
		{ echo "$e0" | sed 's/^/before /'; engine | sed 's/^/after /'; } | awk -v n="$name" -v r="$round" '
			{ v[$1, $2] = $3 }
			END { f = v["after","statecar_wal_fsyncs_total"] - v["before","statecar_wal_fsyncs_total"]
				t = v["after","statecar_wal_fsync_seconds_total"] - v["before","statecar_wal_fsync_seconds_total"]
				a = v["after","statecar_kv_applies_total"] - v["before","statecar_kv_applies_total"]
				if (f > 0) printf "wal during %s round %s: %d fsyncs, mean fsync %.3f ms, %.1f batches per fsync\n", n, r, f, 1000 * t / f, a / f }' | tee -a "$OUT/wal.txt" >&2
	fi
	local rps p50 p99 bad
	rps=$(awk '/^Requests\/sec:/{print $2}' "$f")
	p50=$(to_ms "$(awk '$1=="50%"{print $2}' "$f")")
	p99=$(to_ms "$(awk '$1=="99%"{print $2}' "$f")")
	bad=$(awk '/Non-2xx or 3xx responses:/{print $NF}' "$f")
	if [ -n "$bad" ]; then echo "warning: $name round $round: $bad non-2xx responses (see $f)" >&2; fi
	local secs
	secs=$(awk '/requests in/{for (i = 1; i <= NF; i++) if ($i == "in") {v = $(i+1); sub(/s,$/, "", v); print v}}' "$f")
	printf 'statecar\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$rps" "$p50" "$p99" "$(cpu_us_per_req "$c0" "$c1" "$rps" "$secs")" >>"$results"
}

# profile NAME: while wrk runs NAME, take an 8 s CPU profile and the
# allocations made during the run.
profile() {
	local name=$1 pu=http://127.0.0.1:$pp/debug/pprof
	curl -s -o "$OUT/allocs-$name-before.pb.gz" "$pu/allocs"
	WRK_DIR=$root/bench/wrk wrk -t"$THREADS" -c"$CONNS" -d10s -s "$root/bench/wrk/$name.lua" "$base/v1.0/state/statestore" >"$OUT/wrk-$name-profile.txt" 2>&1 &
	local wpid=$!
	sleep 1
	curl -s -o "$OUT/cpu-$name.pb.gz" "$pu/profile?seconds=8"
	wait "$wpid"
	curl -s -o "$OUT/allocs-$name-after.pb.gz" "$pu/allocs"
	echo "## CPU profile under $name ($(awk '/^Requests\/sec:/{print $2}' "$OUT/wrk-$name-profile.txt") req/s while profiling)"
	go tool pprof -top -nodecount 40 "$bin" "$OUT/cpu-$name.pb.gz" 2>/dev/null | sed -n '1,50p'
	echo "## allocations during the $name run (alloc_objects)"
	go tool pprof -top -nodecount 25 -sample_index=alloc_objects -diff_base "$OUT/allocs-$name-before.pb.gz" "$bin" "$OUT/allocs-$name-after.pb.gz" 2>/dev/null | sed -n '1,35p'
}

{
	echo "# bench/issue4.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) D=$D ROUNDS=$ROUNDS THREADS=$THREADS CONNS=$CONNS N=$N METRICS=$METRICS"
	echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- api server component/embedded || echo ' (+ uncommitted changes in api/server/component/embedded)')"
	lscpu | awk -F: '/^CPU\(s\)|^Model name/{gsub(/^ +/,"",$2); print $1": "$2}'
	echo "loadavg at start: $(cat /proc/loadavg)"
} | tee "$OUT/header.txt"

for r in $(seq "$ROUNDS"); do
	for w in $WORKLOADS; do run_wrk "$r" "$w"; done
	f=$OUT/redis-$r.csv
	# One test per redis-benchmark run, so that the server's CPU is known per test.
	for t in set get; do
		c0=$(cpu_ticks "$rd_pid")
		redis-benchmark -p "$rp" -c "$CONNS" -n "$N" -d 100 -r 10000 --threads "$THREADS" -t "$t" --csv >"$f.$t" 2>&1
		c1=$(cpu_ticks "$rd_pid")
		# "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
		awk -F, -v r="$r" -v cpu="$c1 $c0 $tck $N" '$1=="\"SET\"" || $1=="\"GET\"" {gsub(/"/,""); split(cpu, c, " ");
			printf "redis\t%s\t%s\t%s\t%s\t%s\t%.1f\n", tolower($1), r, $2, $5, $7, (c[1] - c[2]) / c[3] * 1e6 / c[4]}' "$f.$t" >>"$results"
	done
	echo "round $r done, loadavg $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done

if [ "$PROFILE" = 1 ]; then
	{ profile get; profile save; } | tee "$OUT/profile.txt"
fi

# Median of each column over the rounds, with the req/s spread.
summary() {
	sort -t$'\t' -k1,1 -k2,2 "$results" | awk -F'\t' '
	function med(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j+1] = a[j]; a[j+1] = t }
		return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
	{ k = $1 "\t" $2; if (!(k in n)) order[++m] = k; n[k]++; R[k, n[k]] = $4 + 0; P5[k, n[k]] = $5 + 0; P9[k, n[k]] = $6 + 0; C[k, n[k]] = $7 + 0 }
	END {
		for (i = 1; i <= m; i++) { k = order[i]; c = n[k]; lo = hi = R[k,1]
			for (j = 1; j <= c; j++) { r[j] = R[k,j]; p5[j] = P5[k,j]; p9[j] = P9[k,j]; cp[j] = C[k,j]; if (R[k,j] < lo) lo = R[k,j]; if (R[k,j] > hi) hi = R[k,j] }
			printf "%s\t%.0f\t%.0f\t%.0f\t%.3f\t%.3f\t%.1f\t%d\n", k, med(r, c), lo, hi, med(p5, c), med(p9, c), med(cp, c), c }
	}'
}
summary >"$OUT/summary.tsv"

rps_of() { awk -F'\t' -v s="$1" -v w="$2" '$1==s && $2==w {print $3}' "$OUT/summary.tsv"; }
{
	echo
	echo "system    workload            req/s (median)   spread (min-max)     p50 ms   p99 ms  server CPU us/req  rounds"
	while IFS=$'\t' read -r sys wl med lo hi p50 p99 cpu c; do
		case $wl in
		get) label="GET";; save) label="SAVE 1 item (fsync)";; bulk) label="bulk get 100 keys";;
		tx) label="tx 10 upserts (fsync)";; set) label="SET";; *) label=$wl;; esac
		printf '%-9s %-20s %14s   %-20s %7s  %7s  %17s  %s\n' "$sys" "$label" "$med" "$lo-$hi" "$p50" "$p99" "$cpu" "$c"
	done <"$OUT/summary.tsv"
	echo
	g=$(rps_of statecar get); s=$(rps_of statecar save); rg=$(rps_of redis get); rs=$(rps_of redis set)
	awk -v g="$g" -v s="$s" -v rg="$rg" -v rs="$rs" 'BEGIN {
		printf "ratio statecar GET / redis GET   = %.2f   (goal >= 1.5)\n", g / rg
		printf "ratio statecar SAVE / redis SET  = %.2f   (goal >= 1.0; statecar fsyncs every save, redis persists nothing)\n", s / rs }'
	if [ -s "$OUT/wal.txt" ]; then cat "$OUT/wal.txt"; fi
	echo "loadavg at end: $(cat /proc/loadavg)"
	echo "raw outputs: $OUT"
} | tee "$OUT/table.txt"
