#!/usr/bin/env bash
# bench/compare.sh — run the Go benchmarks of the hot paths and compare them
# with benchstat against a saved baseline (bench/baseline.txt).
#
#   bench/compare.sh                 # run, then benchstat baseline vs new
#   SAVE=1 bench/compare.sh          # run and make the run the new baseline
#   PKGS='./kv/... ./server/...' COUNT=5 BENCHTIME=500ms bench/compare.sh
#
# Environment:
#   PKGS       packages to benchmark (default ./...)
#   COUNT      runs per benchmark (default 10, what benchstat needs for a
#              confidence interval)
#   BENCHTIME  -benchtime per run (default 1s)
#   BASELINE   baseline file (default bench/baseline.txt)
#   SAVE=1     copy the new run over the baseline after comparing
#
# The new run is kept in bench/results/latest-gobench.txt. benchstat is run
# at a pinned version through the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=${PKGS:-./...}
COUNT=${COUNT:-10}
BENCHTIME=${BENCHTIME:-1s}
BASELINE=${BASELINE:-bench/baseline.txt}
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da
BENCHSTAT=(go run "golang.org/x/perf/cmd/benchstat@${BENCHSTAT_VERSION}")

mkdir -p bench/results
new=bench/results/latest-gobench.txt
# shellcheck disable=SC2086 # PKGS is a list of patterns
go test -run '^$' -bench . -benchmem -count "$COUNT" -benchtime "$BENCHTIME" $PKGS | tee "$new"

if [ ! -s "$BASELINE" ]; then
	echo "compare.sh: no baseline at $BASELINE; saving this run as the baseline" >&2
	cp "$new" "$BASELINE"
	exit 0
fi
echo
echo "== benchstat $BASELINE (old) vs $new (new)"
"${BENCHSTAT[@]}" "$BASELINE" "$new"
if [ "${SAVE:-0}" = 1 ]; then
	cp "$new" "$BASELINE"
	echo "compare.sh: baseline updated" >&2
fi
