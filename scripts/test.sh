#!/usr/bin/env bash
# The whole test suite, as CI runs it: install, then build and test in four
# legs — normal build (build/), ASan+UBSan build (build-asan/, which also runs
# the allocation-failure sweeps with leak checking), ThreadSanitizer build
# (build-tsan/) — then a short libFuzzer run of every fuzz target. Exits
# non-zero on any failure.
#   scripts/test.sh [--quick]   --quick: normal build only, no fuzzing
#
# What each leg runs and why, and how the legs share the 2 cores: .ci/run.
#
# Invariants: every build directory is configured with every option the leg
# relies on (a cache left by scripts/demo.sh with CT_TESTS=OFF cannot turn a
# leg into "no tests"); a leg that runs zero tests, or whose ctest summary line
# cannot be read, fails the script; a failed background build or fuzz run fails
# it; a ThreadSanitizer report in any process of the TSan leg (including
# processes whose exit code a test does not check) fails it. The closing line
# is "suite: N passed, 0 failed".
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0; [[ "${1:-}" == "--quick" ]] && quick=1
scripts/install-deps.sh --test
jobs=$(nproc)

passed=0
timings=()
# build_leg DIR cmake-args...
build_leg() {
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCT_TESTS=ON -DCT_FUZZ=OFF "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

# test_leg NAME DIR [ctest-args...]
test_leg() {
  local name=$1 dir=$2; shift 2
  local t0=$SECONDS rc=0
  (cd "$dir" && ctest --output-on-failure --no-tests=error -j "$jobs" --timeout 600 "$@") 2>&1 |
    tee "$dir/ctest.log" || rc=$?
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
  timings+=("$name tests: $n tests, $((SECONDS - t0)) s")
}

# wait_job PID LOG WHAT: fails the script with the log's tail if the job failed.
wait_job() {
  local rc=0
  wait "$1" || rc=$?
  if ((rc != 0)); then
    echo "test.sh: $3 failed (exit $rc); the end of $2:" >&2
    tail -n 60 "$2" >&2
    exit 1
  fi
}

echo "=== normal build"
t0=$SECONDS
build_leg build -DCT_SANITIZE=OFF -DCT_TSAN=OFF
timings+=("normal build: $((SECONDS - t0)) s")
if ((quick)); then
  test_leg normal build
  printf 'time: %s\n' "${timings[@]}"
  echo "suite: $passed passed, 0 failed"
  exit 0
fi

echo "=== AddressSanitizer+UBSan, ThreadSanitizer and fuzz builds, then fuzzing (background: build-bg.log)"
bg_log=$PWD/build-bg.log
# the background job runs in its own process group (set -m), ended with the script
trap 'if [[ -n ${bg:-} ]]; then kill -- -"$bg" 2>/dev/null || true; fi' EXIT
set -m
(
  set -e
  renice -n 10 -p "$BASHPID" >/dev/null || true
  t0=$SECONDS
  build_leg build-asan -DCT_SANITIZE=ON -DCT_TSAN=OFF
  build_leg build-tsan -DCT_SANITIZE=OFF -DCT_TSAN=ON
  scripts/fuzz.sh --build-only
  echo "background builds: $((SECONDS - t0)) s"
  t1=$SECONDS
  echo "=== fuzzing (short)"
  scripts/fuzz.sh "${CT_FUZZ_SECONDS:-60}"
  echo "background builds and fuzzing: $((SECONDS - t0)) s (fuzzing $((SECONDS - t1)) s)"
) >"$bg_log" 2>&1 &
bg=$!
set +m

echo "=== normal build: tests"
test_leg normal build
wait_job "$bg" "$bg_log" "the sanitizer and fuzz builds or the fuzzing"
sed -n '/^=== fuzzing/,$p' "$bg_log"
timings+=("$(tail -n 1 "$bg_log") (beside the normal tests)")

echo "=== AddressSanitizer + UndefinedBehaviorSanitizer build: tests (not normal-only; fewer kill cycles)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  CT_FAILOVER_CYCLES=3 CT_AUTO_FAILOVER_CYCLES=3 CT_FAULT_CYCLES=5 \
  test_leg asan build-asan -LE 'normal-only'

echo "=== ThreadSanitizer build: tests labelled unit or tsan (not normal-only or no-tsan)"
tsan_logs=$PWD/build-tsan/tsan-reports
rm -rf "$tsan_logs"; mkdir -p "$tsan_logs"
TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp:second_deadlock_stack=1:history_size=4:log_path=$tsan_logs/tsan" \
  test_leg tsan build-tsan -L 'unit|tsan' -LE 'normal-only|no-tsan'
if compgen -G "$tsan_logs/tsan.*" >/dev/null; then
  echo "test.sh: tsan: ThreadSanitizer reports:" >&2
  head -n 60 "$tsan_logs"/tsan.* >&2
  exit 1
fi

echo "=== normal, ASan+UBSan and TSan builds passed; fuzzing found nothing"
printf 'time: %s\n' "${timings[@]}"
echo "suite: $passed passed, 0 failed"
