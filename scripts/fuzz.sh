#!/usr/bin/env bash
# Runs every Go fuzz target of the module for $FUZZTIME each (default 10m),
# one after the other, and prints one summary line per target.
#
#   FUZZTIME=2m scripts/fuzz.sh                 # all targets
#   FUZZTIME=30s scripts/fuzz.sh ./api          # targets of some packages
#   FUZZPARALLEL=2 ...                          # fuzz workers (default: go's)
#
# A failure leaves the crasher in <pkg>/testdata/fuzz/<Target>/ (commit it as
# a regression seed once fixed) and makes the script exit 1. Plain `go test`
# runs the seeds only; this is the long run (issue #7, docs/reliability.md).
set -u
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-10m}"
par=()
if [ -n "${FUZZPARALLEL:-}" ]; then par=(-parallel "$FUZZPARALLEL"); fi
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then pkgs=(./...); fi
status=0
summary=()
for pkg in $(go list "${pkgs[@]}"); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u)
	for t in $targets; do
		echo "=== $pkg $t for $FUZZTIME"
		log=$(mktemp)
		go test "$pkg" -run '^$' -fuzz "^${t}\$" -fuzztime "$FUZZTIME" "${par[@]}" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | awk '{print $2}')
		corpus=$(grep -o 'new interesting: [0-9]*' "$log" | tail -1 | awk '{print $3}')
		if [ "$rc" -eq 0 ]; then res=ok; else res=FAIL; status=1; fi
		summary+=("$res $pkg $t execs=${execs:-?} new-interesting=${corpus:-?}")
		rm -f "$log"
	done
done
echo "=== summary (FUZZTIME=$FUZZTIME)"
printf '%s\n' "${summary[@]}"
exit $status
