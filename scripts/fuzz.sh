#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz/ for a share of a time budget.
#   scripts/fuzz.sh [SECONDS]        (default 60; each of the N targets gets SECONDS/N)
#   scripts/fuzz.sh --build-only     build the targets and stop
# Environment: CT_FUZZ_TARGETS="event wire" to run a subset; CT_FUZZ_BUILD=dir
# (default build-fuzz); CT_FUZZ_KEEP=1 keeps the grown corpora (printed path).
# Builds with CC=clang -DCT_FUZZ=ON into build-fuzz/, fuzzes a temporary copy
# of each committed corpus (tests/fuzz/corpus/<t>/ is never modified), keeps
# crash inputs in build-fuzz/fuzz-artifacts/<t>/, prints one line per target
# (runs, wall and CPU seconds) and exits non-zero if any target found a crash,
# leak, timeout or sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
build_only=0; [[ "${1:-}" == "--build-only" ]] && { build_only=1; shift; }
budget=${1:-60}
[[ "$budget" =~ ^[0-9]+$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS | --build-only]" >&2; exit 2; }
build=${CT_FUZZ_BUILD:-build-fuzz}
targets=(${CT_FUZZ_TARGETS:-event entry wire state logrec campaign})
per=$(( budget / ${#targets[@]} ))
(( per >= 1 )) || per=1

command -v clang >/dev/null || { echo "fuzz.sh: clang is required (scripts/install-deps.sh --test)" >&2; exit 2; }
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCT_FUZZ=ON -DCT_TESTS=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null
((build_only)) && exit 0

work=$(mktemp -d "${TMPDIR:-/tmp}/ct-fuzz.XXXXXX")
[[ "${CT_FUZZ_KEEP:-0}" == 1 ]] || trap 'rm -rf "$work"' EXIT
fail=0
total_cpu=0
for t in "${targets[@]}"; do
  corpus="$work/corpus-$t"
  mkdir -p "$corpus" "$build/fuzz-artifacts/$t"
  cp tests/fuzz/corpus/"$t"/* "$corpus"/
  log="$build/fuzz-artifacts/$t/last-run.log"
  TIMEFORMAT='%U %S %R'
  rc=0
  { time "$build/fuzz/fuzz_$t" -max_total_time="$per" -max_len=4096 -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 -dict=tests/fuzz/chitieu.dict \
      -artifact_prefix="$build/fuzz-artifacts/$t/" "$corpus" >"$log" 2>&1 || rc=$?; } 2>"$work/time-$t"
  read -r usr sys wall <"$work/time-$t"
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN{printf "%.1f", u+s}')
  total_cpu=$(awk -v a="$total_cpu" -v b="$cpu" 'BEGIN{printf "%.1f", a+b}')
  size=$(ls "$corpus" | wc -l)
  if (( rc == 0 )); then
    echo "fuzz: $t: OK  runs=$runs wall=${wall}s cpu=${cpu}s corpus=$size"
  else
    echo "fuzz: $t: FAILED (exit $rc) runs=$runs — see $log and $build/fuzz-artifacts/$t/"
    grep -E "ERROR|SUMMARY|invariant failed" "$log" | head -5 || true
    fail=1
  fi
done
echo "fuzz: total CPU ${total_cpu}s over ${#targets[@]} targets; $([[ $fail == 0 ]] && echo 'no findings' || echo 'FINDINGS')"
[[ "${CT_FUZZ_KEEP:-0}" == 1 ]] && echo "fuzz: grown corpora kept in $work"
exit $fail
