#!/usr/bin/env bash
# The whole test suite, as CI runs it: install, then build and test in four
# legs — normal build (build/), ASan+UBSan build (build-asan/, which also runs
# the allocation-failure sweeps with leak checking), ThreadSanitizer build
# (build-tsan/, the tests labelled unit or tsan) — then a short libFuzzer run of
# every fuzz target. Exits non-zero on any failure.
#   scripts/test.sh [--quick]   --quick: normal build only, no fuzzing
#
# Invariants: every build directory is configured with every option the leg
# relies on (a cache left by scripts/demo.sh with CT_TESTS=OFF cannot turn a
# leg into "no tests"); a leg that runs zero tests, or whose ctest summary line
# cannot be read, fails the script; a ThreadSanitizer report in any process of
# the TSan leg (including processes whose exit code a test does not check)
# fails it. The closing line is "suite: N passed, 0 failed".
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0; [[ "${1:-}" == "--quick" ]] && quick=1
scripts/install-deps.sh --test
jobs=$(nproc)

passed=0
timings=()
# run_suite NAME DIR [ctest-args... --] cmake-args...
run_suite() {
  local name=$1 dir=$2; shift 2
  local ctest_args=()
  while (($#)) && [[ $1 != -- ]]; do ctest_args+=("$1"); shift; done
  [[ ${1:-} == -- ]] && shift
  local t0=$SECONDS
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCT_TESTS=ON -DCT_FUZZ=OFF "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  local rc=0
  (cd "$dir" && ctest --output-on-failure --no-tests=error -j "$jobs" --timeout 600 \
     "${ctest_args[@]}") 2>&1 | tee "$dir/ctest.log" || rc=$?
  local line n failed
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$dir/ctest.log" | tail -1 || true)
  if [[ -z $line ]]; then
    echo "test.sh: $name: no ctest summary line in $dir/ctest.log (exit $rc)" >&2
    exit 1
  fi
  n=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
  failed=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
  if ((rc != 0 || failed != 0)); then
    echo "test.sh: $name: $failed of $n tests failed (ctest exit $rc)" >&2
    if compgen -G "$dir/tsan-reports/tsan.*" >/dev/null; then head -n 60 "$dir"/tsan-reports/tsan.* >&2; fi
    exit 1
  fi
  if ((n == 0)); then
    echo "test.sh: $name: ran no tests" >&2
    exit 1
  fi
  passed=$((passed + n))
  timings+=("$name: $n tests, $((SECONDS - t0)) s")
}

echo "=== normal build"
run_suite normal build -- -DCT_SANITIZE=OFF -DCT_TSAN=OFF
if ((quick)); then
  printf 'time: %s\n' "${timings[@]}"
  echo "suite: $passed passed, 0 failed"
  exit 0
fi

echo "=== AddressSanitizer + UndefinedBehaviorSanitizer build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite asan build-asan -- -DCT_SANITIZE=ON -DCT_TSAN=OFF

echo "=== ThreadSanitizer build (tests labelled unit or tsan)"
tsan_logs=$PWD/build-tsan/tsan-reports
rm -rf "$tsan_logs"; mkdir -p "$tsan_logs"
TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp:second_deadlock_stack=1:history_size=4:log_path=$tsan_logs/tsan" \
  run_suite tsan build-tsan -L 'unit|tsan' -- -DCT_SANITIZE=OFF -DCT_TSAN=ON
if compgen -G "$tsan_logs/tsan.*" >/dev/null; then
  echo "test.sh: tsan: ThreadSanitizer reports:" >&2
  head -n 60 "$tsan_logs"/tsan.* >&2
  exit 1
fi

echo "=== fuzzing (short)"
t0=$SECONDS
scripts/fuzz.sh "${CT_FUZZ_SECONDS:-60}"
timings+=("fuzz: $((SECONDS - t0)) s")
echo "=== normal, ASan+UBSan and TSan builds passed; fuzzing found nothing"
printf 'time: %s\n' "${timings[@]}"
echo "suite: $passed passed, 0 failed"
