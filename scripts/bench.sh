#!/usr/bin/env bash
# bench.sh — chitieu's benchmark entry point (never part of the test suite).
# Installs what is missing, builds an optimised tree in build-bench/ (Release,
# no tests), then runs bench/run.py: ingest matrix, CURVE point, the prototype
# pipeline of ../shared/bench alternated with the 4x1000 point (ratio printed;
# skipped if absent), feed lag, the real collector end to end, cost growth
# from the empty store (ratio to the empty point, ack p50/p99/p999 per size),
# audit/snapshot speed, and replication (primary + follower on this machine,
# safe rate and safe-ack latency against the single-node point, follower lag;
# PostgreSQL alone vs with a synchronous standby). Prints a table (median
# [min-max] of the repetitions) and a final JSON line.
#   scripts/bench.sh                  full run (~5-10 min on 2 cores)
#   scripts/bench.sh --quick          smoke run (~1 min)
#   scripts/bench.sh --big            also the 10M-event store (adds ~10 min, ~6 GB disk)
#   scripts/bench.sh --only growth --sizes 1000000,2000000
#   scripts/bench.sh --only proto --proto-dir /work/shared/bench
#   scripts/bench.sh --only ingest,feed --reps 3 --json-out /tmp/bench.json
#   scripts/bench.sh --only repl --reps 3   replicated point + PostgreSQL standby
# Two or more builds in the same run: bench/ab.sh (whole passes) and
# bench/abpoint.py (one point, finely alternated; see their tops).
# Peers (PostgreSQL, Redis) side by side: scripts/bench-peers.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/install-deps.sh"
for p in python3-zmq python3-msgpack; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
    if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$p" >/dev/null
  }
done
BUILD="$ROOT/build-bench"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCT_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j2 >/dev/null
exec /usr/bin/python3 "$ROOT/bench/run.py" --bin "$BUILD/bin" "$@"
