#!/usr/bin/env bash
# The whole test suite, as CI runs it: install, then build and test twice
# (normal build in build/, ASan+UBSan build in build-asan/), then a short
# libFuzzer run of every fuzz target. Exits non-zero on any failure.
#   scripts/test.sh [--quick]   --quick: normal build only, no fuzzing
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0; [[ "${1:-}" == "--quick" ]] && quick=1
scripts/install-deps.sh --test
jobs=$(nproc)

passed=0
run_suite() { # dir cmake-args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 600) | tee "$dir/ctest.log"
  local n
  n=$(sed -n 's/.*tests passed, 0 tests failed out of \([0-9]*\).*/\1/p' "$dir/ctest.log")
  passed=$((passed + ${n:-0}))
}

echo "=== normal build"
run_suite build
if ((quick)); then echo "suite: $passed passed, 0 failed"; exit 0; fi
echo "=== AddressSanitizer + UndefinedBehaviorSanitizer build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DCT_SANITIZE=ON
echo "=== fuzzing (short)"
scripts/fuzz.sh "${CT_FUZZ_SECONDS:-60}"
echo "=== normal and ASan+UBSan builds passed; fuzzing found nothing"
echo "suite: $passed passed, 0 failed"
