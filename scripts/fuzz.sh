#!/usr/bin/env bash
# Runs every Go fuzz target of the module for $FUZZTIME each (default 10m)
# and prints one summary line per target (executions, new corpus entries).
#
#   FUZZTIME=2m scripts/fuzz.sh                 # all targets, one at a time
#   FUZZTIME=30s scripts/fuzz.sh ./api          # targets of some packages
#   FUZZPARALLEL=1 FUZZJOBS=2 ...               # 2 targets at once, 1 worker each
#   FUZZMATCH='^FuzzCanonicalize$' ... ./api    # only targets whose name matches (grep -E)
#
# FUZZPARALLEL is go test's -parallel (fuzz workers per target; default: go's,
# GOMAXPROCS). FUZZJOBS runs that many targets side by side (default 1); on a
# 2-core machine FUZZJOBS=2 FUZZPARALLEL=1 gives each target one core for the
# whole of its $FUZZTIME and halves the wall time.
#
# A failure leaves the crasher in <pkg>/testdata/fuzz/<Target>/ (commit it as
# a regression seed once fixed) and makes the script exit 1. Plain `go test`
# runs the seeds only; this is the long run (issue #7, docs/reliability.md).
set -u
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-10m}"
FUZZJOBS="${FUZZJOBS:-1}"
export FUZZTIME FUZZPARALLEL="${FUZZPARALLEL:-}"
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then pkgs=(./...); fi
logs=$(mktemp -d)
# Compile every package's test binary once, up front, so that the timed runs
# do not share the machine with the compiler.
go test -count=1 -run '^$' "${pkgs[@]}" >/dev/null || exit 1
list=()
for pkg in $(go list "${pkgs[@]}"); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for t in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u | grep -E "${FUZZMATCH:-.}"); do
		list+=("$pkg $t")
	done
done
one() { # one <pkg> <target> <logdir>: runs a target, writes <logdir>/<n>.res
	local pkg=$1 t=$2 log="$3/$(echo "$1.$2" | tr '/' '_')"
	local par=()
	if [ -n "$FUZZPARALLEL" ]; then par=(-parallel "$FUZZPARALLEL"); fi
	local start=$(date +%s)
	go test "$pkg" -run '^$' -fuzz "^${t}\$" -fuzztime "$FUZZTIME" "${par[@]}" >"$log.out" 2>&1
	local rc=$? secs=$(( $(date +%s) - start ))
	local execs=$(grep -o 'execs: [0-9]*' "$log.out" | tail -1 | awk '{print $2}')
	local corpus=$(grep -o 'new interesting: [0-9]*' "$log.out" | tail -1 | awk '{print $3}')
	local res=ok
	if [ "$rc" -ne 0 ]; then res=FAIL; cat "$log.out"; fi
	echo "$res $pkg $t execs=${execs:-?} new-interesting=${corpus:-?} wall=${secs}s" | tee "$log.res"
}
export -f one
printf '%s\n' "${list[@]}" | xargs -P "$FUZZJOBS" -I{} bash -c 'one $1 "$2"' _ {} "$logs" | sed 's/^/done: /'
echo "=== summary (FUZZTIME=$FUZZTIME FUZZJOBS=$FUZZJOBS FUZZPARALLEL=${FUZZPARALLEL:-default}, $(nproc) CPUs)"
cat "$logs"/*.res
! grep -q '^FAIL' "$logs"/*.res
