#!/usr/bin/env bash
# bench/issue8.sh — issue #8's latency goal: what statecar on state.redis adds
# over a raw Redis round trip, with a do-nothing TCP proxy as the floor.
#
#   bash bench/issue8.sh                             # build ./cmd/statecar, 3 rounds
#   STATECAR_BINS="/tmp/a /tmp/b" bash bench/issue8.sh   # compare binaries, interleaved
#
# One redis-server (no persistence) on a free loopback port, and in front of
# it, when socat is installed, a do-nothing TCP proxy (socat, C): every
# sidecar adds at least the two hops that proxy adds. Each statecar binary
# runs with one state.redis component on that server. Every system is
# driven by the same generator (scload) with GET of random keys among
# 10,000 preloaded 100-byte values:
#   redis      scload's RESP driver straight to redis-server (GET)
#   rscript    MIX=save only: the same driver running statecar's state.redis
#              write script (EVALSHA, keys "h<n>"), the raw round trip of the
#              work a save does in daprd's hash layout
#   proxy      the same through socat
#   sc:<bin>   scload's HTTP driver to statecar (GET /v1.0/state/statestore/k)
# at C=1 (closed loop, one request at a time: the latency of a hop) and at
# C32=32 (throughput). Rounds interleave the systems; the summary gives the
# median per system of p50/p90/p99 (µs), req/s and the sidecar's CPU time
# per request, and "added p50" = statecar's p50 minus redis's.
#
# Settings: D=5s per run, ROUNDS=3, C32=32 (0 skips), OUT=dir for raw outputs,
# MIX=get (scload's -mix; MIX=save: single-item saves, SET on the raw systems),
# RATE=R runs every load open loop at R req/s (scload -rate; latency from the
# planned send time) instead of closed loop, e.g. RATE=1000 C32=0: a light load.
set -euo pipefail
cd "$(dirname "$0")/.."

D=${D:-5s}
MIX=${MIX:-get}
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-}
C32=${C32:-32}
OUT=${OUT:-$(mktemp -d /tmp/issue8.XXXXXX)}
mkdir -p "$OUT"
command -v redis-server >/dev/null || { echo "issue8.sh: redis-server not found" >&2; exit 1; }

# shellcheck source=bench/lib.sh
. bench/lib.sh # (the script runs from the repository root)

scload=$OUT/scload
go build -o "$scload" ./bench/cmd/scload
bins=${STATECAR_BINS:-}
if [ -z "$bins" ]; then
	go build -o "$OUT/statecar" ./cmd/statecar
	bins=$OUT/statecar
fi

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

rp=$(freeport)
redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no >"$OUT/redis.log" 2>&1 &
pids+=($!)
systems=("redis:127.0.0.1:$rp")
[ "$MIX" = save ] && systems+=("rscript:127.0.0.1:$rp")
if command -v socat >/dev/null; then
	pp=$(freeport)
	socat "TCP-LISTEN:$pp,bind=127.0.0.1,reuseaddr,fork,nodelay" "TCP:127.0.0.1:$rp,nodelay" &
	pids+=($!)
	systems+=("proxy:127.0.0.1:$pp")
fi

mkdir -p "$OUT/res"
cat >"$OUT/res/statestore.yaml" <<EOF
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.redis
  version: v1
  metadata:
  - name: redisHost
    value: 127.0.0.1:$rp
EOF
declare -A scpid
i=0
for b in $bins; do
	i=$((i + 1))
	hp=$(freeport); gp=$(freeport); mp=$(freeport)
	"$b" --app-id "i8b$i" --dapr-http-port "$hp" --dapr-grpc-port "$gp" --metrics-port "$mp" \
		--dapr-listen-addresses 127.0.0.1 --metrics-listen-address 127.0.0.1 \
		--resources-path "$OUT/res" --data-dir "$OUT/data$i" --log-level warn >"$OUT/statecar$i.log" 2>&1 &
	pids+=($!)
	name="sc$i"
	scpid[$name]=$!
	systems+=("$name:127.0.0.1:$hp")
	echo "$name = $b" | tee -a "$OUT/header.txt"
done
sleep 1.5
for s in "${systems[@]}"; do
	n=${s%%:*}; a=${s#*:}
	case "$n" in sc*) for _ in $(seq 50); do curl -sf -o /dev/null "http://$a/v1.0/healthz" && break; sleep 0.1; done ;; esac
done
# Preload once through the first sidecar and once raw (same server, different key layouts).
first=
for s in "${systems[@]}"; do case "$s" in sc*) first=$s; break ;; esac; done
"$scload" -target "${first#*:}" -mix get -c 4 -d 1s -warmup 0s -preload true -progress false >/dev/null 2>&1
"$scload" -proto redis -target "${systems[0]#*:}" -mix get -c 4 -d 1s -warmup 0s -preload true -progress false >/dev/null 2>&1

results=$OUT/results.tsv
: >"$results"
{
	echo "# bench/issue8.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) D=$D ROUNDS=$ROUNDS MIX=$MIX${RATE:+ RATE=$RATE}"
	echo "commit $(git rev-parse --short HEAD)"
	lscpu | awk -F: '/^CPU\(s\)|^Model name/{gsub(/^ +/,"",$2); print $1": "$2}'
	echo "loadavg at start: $(cat /proc/loadavg)"
} | tee -a "$OUT/header.txt"

for r in $(seq "$ROUNDS"); do
	for c in 1 $C32; do
		[ "$c" = 0 ] && continue
		for s in "${systems[@]}"; do
			n=${s%%:*}; a=${s#*:}
			proto=http; extra=()
			case "$n" in
			redis | proxy) proto=redis ;;
			rscript) proto=redis; extra=(-redis-save script -key-prefix h) ;;
			esac
			pid=${scpid[$n]:-}
			c0=0; [ -n "$pid" ] && c0=$(cpu_ticks "$pid")
			line=$("$scload" -proto "$proto" -target "$a" -mix "$MIX" "${extra[@]}" -c "$c" ${RATE:+-rate "$RATE"} -d "$D" -warmup 1s -preload false -progress false 2>&1 | grep ' latency us ' || true)
			c1=0; [ -n "$pid" ] && c1=$(cpu_ticks "$pid")
			echo "$r c=$c $n: $line" >>"$OUT/runs.txt"
			echo "$line" | awk -v n="$n" -v c="$c" -v r="$r" -v c0="$c0" -v c1="$c1" -v t="$tck" -v d="${D%s}" '{
				# With RATE the line has a second set of percentiles "from the actual
				# send" (service time, without timer lateness in the generator):
				# being last, those are the ones kept.
				for (i = 1; i <= NF; i++) { if ($i == "p50") p50 = $(i+1); if ($i == "p90") p90 = $(i+1); if ($i == "p99") p99 = $(i+1); if ($i == "req/s,") rps = $(i-1) }
				sub(/;$/, "", p99)
				cpu = (c1 > 0 && rps > 0) ? (c1 - c0) / t * 1e6 / (rps * (d + 1)) : 0
				printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\n", n, c, r, rps, p50, p90, p99, cpu }' >>"$results"
		done
	done
	echo "round $r done, loadavg $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done

python3 - "$results" <<'EOF' | tee "$OUT/summary.txt"
import sys, statistics as st
rows = [l.split("\t") for l in open(sys.argv[1]) if l.strip()]
by = {}
for n, c, r, rps, p50, p90, p99, cpu in rows:
    by.setdefault((int(c), n), []).append([float(x) for x in (rps, p50, p90, p99, cpu)])
script = any(k[1] == "rscript" for k in by)
hdr = f"{'c':>3} {'system':7} {'req/s':>8} {'p50 us':>8} {'p90 us':>8} {'p99 us':>8} {'sidecar CPU us/req':>19} {'added p50':>10}"
print(hdr + (f" {'over rscript':>12}" if script else ""))
for c in sorted({k[0] for k in by}):
    base = st.median(v[1] for v in by.get((c, "redis"), [[0, 0, 0, 0, 0]]))
    sbase = st.median(v[1] for v in by.get((c, "rscript"), [[0, 0, 0, 0, 0]]))
    for (cc, n), v in sorted(by.items(), key=lambda kv: (kv[0][0], {"redis": 0, "rscript": 1, "proxy": 2}.get(kv[0][1], 3), kv[0][1])):
        if cc != c: continue
        m = [st.median(x[i] for x in v) for i in range(5)]
        cpu = f"{m[4]:.1f}" if n.startswith("sc") else "-"
        add = f"{m[1] - base:+.0f}" if n != "redis" else ""
        over = f" {m[1] - sbase:+12.0f}" if script and n.startswith("sc") else ""
        print(f"{c:>3} {n:7} {m[0]:8.0f} {m[1]:8.1f} {m[2]:8.1f} {m[3]:8.1f} {cpu:>19} {add:>10}{over}")
EOF
echo "raw outputs: $OUT"
