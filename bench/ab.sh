#!/usr/bin/env bash
# bench/ab.sh — several builds measured in the same run: bench/run.py with
# each bin directory in turn, ROUNDS times, so that the machine's load falls
# on all alike; quote the medians over the rounds, and their ratios.
#   bench/ab.sh OUTDIR ROUNDS BIN_A BIN_B [BIN_C...] -- [run.py options...]
# Run i of build v writes OUTDIR/<i>-<v>.txt (table and JSON line; run.py
# prints the 1-min load average per section) and OUTDIR/<i>-<v>.log.
set -euo pipefail
out=$1 rounds=$2
shift 2
bins=()
while [[ $# -gt 0 && $1 != -- ]]; do bins+=("$1"); shift; done
[[ $# -gt 0 ]] && shift
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  v=0
  for bin in "${bins[@]}"; do
    v=$((v + 1))
    echo "round $r build $v: $bin (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    /usr/bin/python3 "$here/run.py" --bin "$bin" "$@" >"$out/$r-$v.txt" 2>"$out/$r-$v.log"
    tail -n 1 "$out/$r-$v.txt"
  done
done
