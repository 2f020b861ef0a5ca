#!/usr/bin/env bash
# The long variants of the fault and hostile-input suite and the
# integration tests under valgrind. Never run by ctest / CI (too long); run by
# hand before a release and record the printed oracle blocks in
# docs/RELIABILITY.md.
#
#   scripts/faults-long.sh [--quick] [--no-valgrind] [--valgrind-only] [--fuzz SECONDS]
#
#   (default)        200 kill -9 cycles (also 200 kill-and-promote failover
#                    cycles of tests/replication, and 200 automatic failover
#                    cycles with a 3-member etcd), crash sweep over 12 rounds x 8 events,
#                    40 collector kills, aggregator down 180 s, 1,000,000 random
#                    hostile frames, 20k-event disk/map full, reader churn 1000;
#                    then every Python integration test of the tree once with
#                    every chitieu binary under valgrind memcheck
#                    (--error-exitcode, definite leaks are errors).
#   --quick          a shortened long run (60 cycles, down 60 s, 200k frames;
#                    valgrind on the fault suite's short variants only)
#   --fuzz SECONDS   also run scripts/fuzz.sh for that many seconds
# Environment: CT_FAULT_BUILD (default build-faults), PYTHON.
# Output: every test's log in $CT_FAULT_BUILD/faults-long/, the oracle blocks
# on stdout, a summary table last; exit 1 if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
quick=0 valgrind=1 long=1 fuzz=0
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --no-valgrind) valgrind=0 ;;
    --valgrind-only) long=0 ;;
    --fuzz) fuzz=$2; shift ;;
    *) echo "usage: scripts/faults-long.sh [--quick] [--no-valgrind] [--valgrind-only] [--fuzz S]" >&2
       exit 2 ;;
  esac
  shift
done
build=${CT_FAULT_BUILD:-build-faults}
py=${PYTHON:-python3}
$py -c 'import zmq, msgpack, lmdb' 2>/dev/null || py=/usr/bin/python3
$py -c 'import zmq, msgpack, lmdb' || { echo "faults-long.sh: need python3-zmq, python3-msgpack, python3-lmdb" >&2; exit 2; }

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPython3_EXECUTABLE="$(command -v $py)" >/dev/null || exit 2
cmake --build "$build" -j "$(nproc)" --target chitieu-aggregator chitieu-collector chitieu-reporter \
  chitieu-audit chitieu-keys ctcrashshim >/dev/null || { echo "build failed" >&2; exit 2; }
# helpers some integration tests run from CT_BIN/../tests (best effort: test code of other
# modules may be mid-edit)
cmake --build "$build" -j "$(nproc)" --target ct_audit_mkstore >/dev/null 2>&1 || true
out="$build/faults-long"
mkdir -p "$out"
export CT_SOURCE_DIR=$PWD CT_BIN=$PWD/$build/bin CT_CRASHSHIM=$PWD/$build/tests/libctcrashshim.so
export PYTHONPATH=$PWD/tests/integration

declare -a results=()
run() { # name env... -- script
  local name=$1; shift
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  local t0=$SECONDS rc=0
  echo "=== $name (${envs[*]})"
  env "${envs[@]}" "$py" "$@" >"$out/$name.log" 2>&1 || rc=$?
  # the oracle blocks and the per-test verdicts
  awk '/^==== oracle:/{p=1} p&&/^(ok|FAIL) /{p=0} p||/^(ok|FAIL) |passed, .* failed$/' "$out/$name.log"
  results+=("$(printf '%-28s %-6s %5ds' "$name" "$([[ $rc == 0 ]] && echo ok || echo FAIL)" $((SECONDS - t0)))")
  return 0
}

if ((long)); then
  if ((quick)); then
    C=60 D=60 R=200000 K=15 E=12000 CH=600 N=50000 ST=5 RND=8 EV=5
  else
    C=200 D=180 R=1000000 K=40 E=20000 CH=1000 N=100000 ST=10 RND=12 EV=8
  fi
  run aggkill CT_FAULT_CYCLES=$C CT_FAULT_EVENTS=500 CT_FAULT_STOPS=$ST -- tests/integration/test_fault_aggkill.py
  run crashpoint CT_CRASH_ROUNDS=$RND CT_CRASH_EVENTS=$EV -- tests/integration/test_fault_crashpoint.py
  run collector CT_COLKILL_CYCLES=$K CT_FAULT_EVENTS=500 -- tests/integration/test_fault_collector.py
  run down CT_DOWN_SECONDS=$D CT_DOWN_RATE=400 -- tests/integration/test_fault_down.py
  run disk CT_DISK_EVENTS=$E -- tests/integration/test_fault_disk.py
  run readers CT_READER_CHURN=$CH CT_RATE_EVENTS=$N -- tests/integration/test_fault_readers.py
  run hostile CT_HOSTILE_RANDOM=$R -- tests/integration/test_fault_hostile.py
  run failover CT_FAILOVER_CYCLES=$C -- tests/replication/test_failover.py
  run auto_failover CT_LONG=1 CT_AUTO_FAILOVER_CYCLES=$C -- tests/replication/test_auto_failover.py
fi

if ((valgrind)); then
  command -v valgrind >/dev/null || { echo "valgrind not installed (apt-get install valgrind)" >&2; exit 2; }
  vbin="$out/valgrind-bin" vlog="$out/valgrind-logs"
  rm -rf "$vbin" "$vlog"
  mkdir -p "$vbin" "$vlog"
  for b in "$PWD/$build"/bin/chitieu-*; do
    cat >"$vbin/$(basename "$b")" <<EOF
#!/bin/sh
exec valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  --track-fds=no --log-file=$PWD/$vlog/$(basename "$b").%p.log "$b" "\$@"
EOF
    chmod +x "$vbin/$(basename "$b")"
  done
  ln -sfn "$PWD/$build/tests" "$out/tests"  # CT_BIN/../tests, as in a build tree
  if ((quick)); then
    tests=(tests/integration/test_fault_*.py)
  else
    tests=($(ls tests/*/test_*.py | grep -v tests/demo/))
  fi
  for t in "${tests[@]}"; do
    n=valgrind-$(basename "$t" .py)
    CT_VALGRIND=1 CT_BIN=$PWD/$vbin run "$n" CT_VALGRIND=1 CT_BIN=$PWD/$vbin \
      CT_FAULT_CYCLES=5 CT_DOWN_SECONDS=10 CT_HOSTILE_RANDOM=5000 CT_COLKILL_CYCLES=3 \
      CT_RATE_EVENTS=5000 CT_AUTO_FAILOVER_CYCLES=3 -- "$t"
  done
  nlogs=$(ls "$vlog" | wc -l)
  nsum=$(grep -l 'ERROR SUMMARY:' "$vlog"/*.log 2>/dev/null | wc -l)
  bad=$(grep -l -E 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]' "$vlog"/*.log 2>/dev/null | wc -l)
  # processes ended by kill -9 (on purpose) print no summary
  echo "=== valgrind: $nlogs processes, $nsum ran to exit (others were kill -9ed), $bad with errors"
  grep -l -E 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]' "$vlog"/*.log 2>/dev/null | head -20
  results+=("$(printf '%-28s %-6s %s' "valgrind (all processes)" "$([[ $bad == 0 ]] && echo ok || echo FAIL)" "$nlogs processes ($nsum to exit), $bad with errors")")
fi

if ((fuzz > 0)); then
  echo "=== fuzz $fuzz s"
  if scripts/fuzz.sh "$fuzz" | tee "$out/fuzz.log"; then
    results+=("$(printf '%-28s %-6s' "fuzz ${fuzz}s" ok)")
  else
    results+=("$(printf '%-28s %-6s' "fuzz ${fuzz}s" FAIL)")
  fi
fi

echo "=== summary"
printf '%s\n' "${results[@]}"
printf '%s\n' "${results[@]}" | grep -q ' FAIL ' && exit 1
exit 0
