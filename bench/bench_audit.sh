#!/usr/bin/env bash
# bench_audit.sh — audit speed: verify and replay rate (events/s) on a synthetic
# store of N events (default 1000000) built through the real store API by
# ct_audit_mkstore (build/tests/). Not part of the test suite.
#   bench/bench_audit.sh [N] [BUILD_DIR]
# Prints, per measure, the median of 3 runs with min-max, then one JSON line.
# The store is built once in a temp dir (warm page cache for the runs) and removed.
set -euo pipefail
N=${1:-1000000}
B=${2:-$(cd "$(dirname "$0")/.." && pwd)/build}
AUDIT=$B/bin/chitieu-audit
MK=$B/tests/ct_audit_mkstore
[[ -x $AUDIT && -x $MK ]] || { echo "build first: $AUDIT and $MK" >&2; exit 2; }
D=$(mktemp -d /tmp/ct-bench-audit-XXXXXX)
trap 'rm -rf "$D"' EXIT
echo "building a store of $N events in $D ..." >&2
t0=$(date +%s.%N)
"$MK" "$D/store" "$N" 1 8192 >/dev/null
t1=$(date +%s.%N)
echo "store built in $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s" >&2

rate() { # label command... -> prints "label median min max" (events/s)
  local label=$1; shift
  local rs=()
  for _ in 1 2 3; do
    local s e
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "$label: command failed: $*" >&2; exit 1; }
    e=$(date +%s.%N)
    rs+=("$(awk "BEGIN{printf \"%d\", $N / ($e - $s)}")")
  done
  IFS=$'\n' sorted=($(sort -n <<<"${rs[*]}")); unset IFS
  echo "$label ${sorted[1]} ${sorted[0]} ${sorted[2]}"
}

results=()
results+=("$(rate verify "$AUDIT" verify --data "$D/store" --quiet)")
results+=("$(rate verify_1thread "$AUDIT" verify --data "$D/store" --quiet --threads 1)")
results+=("$(rate verify_no_ids "$AUDIT" verify --data "$D/store" --quiet --no-ids)")
results+=("$(rate replay "$AUDIT" replay --data "$D/store" --seq "$N" --format json --quiet)")
"$AUDIT" export --data "$D/store" --format ctlog --output "$D/all.ctlog" --quiet
results+=("$(rate verify_file "$AUDIT" verify --file "$D/all.ctlog" --quiet)")
printf "%-16s %12s %12s %12s\n" measure "median ev/s" min max
json="{\"events\":$N"
for r in "${results[@]}"; do
  read -r l med mn mx <<<"$r"
  printf "%-16s %12s %12s %12s\n" "$l" "$med" "$mn" "$mx"
  json+=",\"$l\":{\"median\":$med,\"min\":$mn,\"max\":$mx}"
done
echo "$json}"
