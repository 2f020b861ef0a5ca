#!/usr/bin/env bash
# bench-peers.sh — chitieu vs PostgreSQL vs Redis, side by side in one run.
#
# Installs postgresql, redis-server, libpq-dev, libhiredis-dev from Debian if
# missing; builds chitieu (Release, build-bench/) and bench/peer_load.c; starts
# THROWAWAY instances in a temp dir on 127.0.0.1 only (PostgreSQL via initdb +
# pg_ctl as the 'postgres' user, default synchronous_commit and fsync; Redis
# with appendonly yes, appendfsync always, no RDB) plus one chitieu-aggregator;
# runs the same logical work per event (insert with a unique id skipping
# duplicates + district/agent x program counters, durable before the answer)
# with 1, 8 and 32 concurrent clients, repeated R times, then prints medians and
# chitieu / peer ratios measured in this run. Stops and removes everything it
# started (also on Ctrl-C or failure).
#
#   scripts/bench-peers.sh [--reps R] [--seconds S] [--keep]
#   (env CT_BENCH_BUILD=DIR, CT_BENCH_COMMIT=HASH: use chitieu binaries built elsewhere)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPS=3
SECS=4
KEEP=0
while (($#)); do
  case "$1" in
    --reps) REPS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n 2,17p "$0"; exit 0 ;;
    *) echo "bench-peers: unknown option $1" >&2; exit 2 ;;
  esac
done

need=()
for p in postgresql redis-server libpq-dev libhiredis-dev python3-zmq python3-msgpack; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  echo "bench-peers: installing ${need[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
"$ROOT/scripts/install-deps.sh"

BUILD="${CT_BENCH_BUILD:-$ROOT/build-bench}"  # CT_BENCH_BUILD: use binaries built elsewhere
if [[ ! -x "$BUILD/bin/ct_loadgen" || ! -x "$BUILD/bin/chitieu-aggregator" ]]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCT_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j2 >/dev/null
fi

TMP=$(mktemp -d /tmp/ct-peers-XXXXXX)
chmod 755 "$TMP"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGDATA="$TMP/pg"
AGG_PID=
REDIS_PID=
PG_STARTED=0
cleanup() {
  set +e
  [[ -n "$AGG_PID" ]] && kill -TERM "$AGG_PID" 2>/dev/null && wait "$AGG_PID" 2>/dev/null
  [[ -n "$REDIS_PID" ]] && kill -TERM "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
  if ((PG_STARTED)); then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1
  fi
  if ((KEEP)); then echo "bench-peers: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Wshadow -Wconversion \
  -Wno-sign-conversion -I"$(pg_config --includedir)" "$ROOT/bench/peer_load.c" -o "$TMP/peer_load" \
  $(pkg-config --cflags --libs hiredis) -lpq -lpthread

port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- PostgreSQL (throwaway cluster, trust auth, loopback + a socket in TMP) ---
PGPORT=$(port)
mkdir -p "$PGDATA" "$TMP/pgsock" && chown postgres "$PGDATA" "$TMP/pgsock"
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres >"$TMP/initdb.log" 2>&1
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w \
  -o "-p $PGPORT -k $TMP/pgsock -c listen_addresses=127.0.0.1 -c max_connections=100" start >/dev/null
PG_STARTED=1
PGCONN="host=127.0.0.1 port=$PGPORT user=postgres dbname=postgres"
psql -q "$PGCONN" -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE ev (id bytea PRIMARY KEY, district int NOT NULL, agent text NOT NULL,
                 program smallint NOT NULL, body bytea NOT NULL);
CREATE TABLE cnt_district (district int, program smallint, n bigint NOT NULL,
                           PRIMARY KEY (district, program));
CREATE TABLE cnt_agent (agent text, program smallint, n bigint NOT NULL,
                        PRIMARY KEY (agent, program));
SQL
echo "bench-peers: PostgreSQL $(psql -tA "$PGCONN" -c 'show server_version') on 127.0.0.1:$PGPORT," \
  "synchronous_commit=$(psql -tA "$PGCONN" -c 'show synchronous_commit')," \
  "fsync=$(psql -tA "$PGCONN" -c 'show fsync')" >&2

# --- Redis (AOF, fsync on every write) ---
RPORT=$(port)
mkdir -p "$TMP/redis"
redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$TMP/redis" --appendonly yes \
  --appendfsync always --save "" --daemonize no --logfile "$TMP/redis.log" &
REDIS_PID=$!
for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
echo "bench-peers: Redis $(redis-server --version | awk '{print $3}') on 127.0.0.1:$RPORT," \
  "appendfsync=$(redis-cli -p "$RPORT" config get appendfsync | tail -1)" >&2

# --- chitieu aggregator ---
CPORT=$(port); FPORT=$(port); SPORT=$(port)
"$BUILD/bin/chitieu-aggregator" --data "$TMP/chitieu" --insecure --ingest "tcp://127.0.0.1:$CPORT" \
  --feed "tcp://127.0.0.1:$FPORT" --snapshot "tcp://127.0.0.1:$SPORT" --stats-interval 0 \
  2>"$TMP/agg.log" &
AGG_PID=$!
for _ in $(seq 200); do grep -q 'msg="ready"' "$TMP/agg.log" && break; sleep 0.05; done

/usr/bin/python3 "$ROOT/bench/peers.py" --reps "$REPS" --seconds "$SECS" --peer-load "$TMP/peer_load" \
  --loadgen "$BUILD/bin/ct_loadgen" --chitieu "tcp://127.0.0.1:$CPORT" --agg-pid "$AGG_PID" \
  --pg "$PGCONN" --redis "127.0.0.1:$RPORT" --roster "$ROOT/examples/lamdong-2023/staff.csv" \
  --commit "${CT_BENCH_COMMIT:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}"
