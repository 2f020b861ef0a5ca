#!/usr/bin/env bash
# The main job in one command: the Lâm Đồng 2023 campaign, live, on one machine.
#
# Installs what is missing, builds, generates CurveZMQ keys and an authorization
# file, then runs one aggregator, one reporter and one collector per office
# (12 districts + the provincial office) against examples/lamdong-2023/. The
# collectors replay the 10-day campaign compressed into about a minute; the
# reporter prints the live quota table; at the end the final report is printed
# and `chitieu-audit verify` checks the log. Everything started is stopped on
# exit (also on Ctrl-C); the data stays in one directory for rerunning the
# reporter or the audit by hand.
#
#   scripts/demo.sh [--data DIR] [--speed F] [--fill F] [--keep-running] [--no-build]
#                   [--reuse] [--short] [--port P]
#   --data DIR      where keys, store, outboxes and logs go (default ./demo-data)
#   --speed F       campaign seconds per real second (default 14400: 10 days in ~60 s)
#   --fill F        average share of their quota the simulated staff reach (default 0.97)
#   --keep-running  leave the processes running at the end (Ctrl-C stops them)
#   --reuse         run again on existing data (no new sign-ups are simulated)
#   --no-build      skip install and build; use build/bin (or $CT_BIN)
#   --short         10 days in ~10 s, reports every 2 s (used by the test)
#   --port P        first of five TCP ports on 127.0.0.1 (default 7701; the fourth is the
#                   Đà Lạt office screen, the fifth the headquarters' live page)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

data="$root/demo-data"
speed=14400          # campaign seconds per real second: 10 days in 60 s
fill=0.97            # how close, on average, the staff get to their quota
keep=0; build=1; reuse=0; interval=5
usage() { awk 'NR>1 && /^#/ {sub(/^# ?/, ""); print; next} NR>1 {exit}' "$0"; }
while (($#)); do
  case "$1" in
    --data) data=$2; shift ;;
    --speed) speed=$2; shift ;;
    --fill) fill=$2; shift ;;
    --keep-running) keep=1 ;;
    --no-build) build=0 ;;
    --reuse) reuse=1 ;;
    --short) speed=86400; interval=2 ;;   # 10 days in 10 s (used by the test)
    --port) CT_DEMO_PORT=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "demo: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

if ((build)); then
  scripts/install-deps.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCT_TESTS=OFF >/dev/null
  cmake --build build -j "$(nproc)" >/dev/null
fi
bin="${CT_BIN:-$root/build/bin}"
campaign="$root/examples/lamdong-2023/campaign.ini"
start_iso="2023-07-22T08:00:00+07:00"
offices=(68 672 673 674 675 676 677 678 679 680 681 682 683)

if ((reuse == 0)); then rm -rf "$data"; fi
mkdir -p "$data"/{keys,logs,outbox}
chmod 700 "$data" "$data/keys"
ingest="tcp://127.0.0.1:${CT_DEMO_PORT:-7701}"
feed="tcp://127.0.0.1:$(( ${CT_DEMO_PORT:-7701} + 1 ))"
snap="tcp://127.0.0.1:$(( ${CT_DEMO_PORT:-7701} + 2 ))"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted, stopping everything"; exit 130' INT TERM

k="$data/keys"
if [[ ! -f "$k/aggregator.key" ]]; then
  echo "== generating keys in $k"
  "$bin/chitieu-keys" gen "$k/aggregator" >/dev/null
  "$bin/chitieu-keys" gen "$k/reporter" >/dev/null
  "$bin/chitieu-keys" person-key "$k/person.key" >/dev/null
  : > "$k/authorized.txt"
  echo "# chitieu authorization: <public key> <role> [district] [name]" >> "$k/authorized.txt"
  echo "$("$bin/chitieu-keys" show "$k/reporter.pub") reporter hq-reporter" >> "$k/authorized.txt"
  for d in "${offices[@]}"; do
    "$bin/chitieu-keys" gen "$k/collector-$d" >/dev/null
    echo "$("$bin/chitieu-keys" show "$k/collector-$d.pub") collector $d office-$d" >> "$k/authorized.txt"
  done
fi

echo "== starting the aggregator (CurveZMQ, data in $data/store)"
"$bin/chitieu-aggregator" --campaign "$campaign" --data "$data/store" \
  --ingest "$ingest" --feed "$feed" --snapshot "$snap" \
  --keys "$k/aggregator.key" --auth "$k/authorized.txt" --stats-interval 10 \
  2> "$data/logs/aggregator.log" &
pids+=($!)
for _ in $(seq 100); do grep -q 'msg="ready"' "$data/logs/aggregator.log" 2>/dev/null && break; sleep 0.1; done
grep -q 'msg="ready"' "$data/logs/aggregator.log" || { echo "demo: aggregator did not start:"; tail "$data/logs/aggregator.log"; exit 1; }

secure_client=(--server-key "$k/aggregator.pub")
hq_url="http://127.0.0.1:$(( ${CT_DEMO_PORT:-7701} + 4 ))/"
echo "== starting the reporter (live table every ${interval}s, campaign clock x$speed)"
"$bin/chitieu-reporter" --campaign "$campaign" --feed "$feed" --snapshot "$snap" \
  --keys "$k/reporter.key" "${secure_client[@]}" --interval "$interval" \
  --sim-clock "$start_iso,$speed" --http "127.0.0.1:$(( ${CT_DEMO_PORT:-7701} + 4 ))" \
  2> "$data/logs/reporter.log" &
pids+=($!)
for _ in $(seq 50); do grep -q 'msg="http ready"' "$data/logs/reporter.log" 2>/dev/null && break; sleep 0.1; done
grep -q 'msg="http ready"' "$data/logs/reporter.log" || { echo "demo: the reporter's page did not start:"; tail "$data/logs/reporter.log"; exit 1; }
echo "== headquarters' live page: $hq_url  (open it in a browser now)"

echo "== starting 13 collectors (one per office), replaying the campaign"
sim_pids=()
for d in "${offices[@]}"; do
  ob="$data/outbox/$d"
  if [[ ! -d "$ob" ]]; then
    "$bin/chitieu-collector" init --outbox "$ob" --district "$d" --campaign "$campaign" >/dev/null
  fi
  "$bin/chitieu-collector" run --outbox "$ob" --server "$ingest" \
    --keys "$k/collector-$d.key" "${secure_client[@]}" 2> "$data/logs/collector-$d.log" &
  pids+=($!)
  if ((reuse == 0)); then
    "$bin/chitieu-collector" simulate --outbox "$ob" --campaign "$campaign" \
      --person-key "$k/person.key" --fill "$fill" --seed "$d" --realtime-factor "$speed" \
      >> "$data/logs/simulate-$d.log" 2>&1 &
    sim_pids+=($!)
  fi
done

# The Đà Lạt office's own screen (chitieu-collector serve): a newcomer logs in and records a
# sign-up by hand; the office's `run` above delivers it. Its clock starts inside the campaign.
screen_port=$(( ${CT_DEMO_PORT:-7701} + 3 ))
ob672="$data/outbox/672"
screen_pw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | cut -c1-12)
if "$bin/chitieu-collector" users list --outbox "$ob672" | grep -q '^dalat	'; then
  echo "$screen_pw" | "$bin/chitieu-collector" users passwd dalat --outbox "$ob672" >/dev/null
else
  echo "$screen_pw" | "$bin/chitieu-collector" users add dalat --outbox "$ob672" --role lead >/dev/null
fi
"$bin/chitieu-collector" serve --outbox "$ob672" --person-key "$k/person.key" \
  --http "127.0.0.1:$screen_port" --now 2023-07-27T09:00:00+07:00 --server "$ingest" \
  --keys "$k/collector-672.key" "${secure_client[@]}" \
  > "$data/logs/office-672.out" 2> "$data/logs/office-672.log" &
pids+=($!)
for _ in $(seq 50); do grep -q 'msg="office screen ready"' "$data/logs/office-672.log" && break; sleep 0.1; done
grep -q 'msg="office screen ready"' "$data/logs/office-672.log" || { echo "demo: the office screen did not start:"; tail "$data/logs/office-672.log"; exit 1; }
screen_msg="office screen of Đà Lạt (district 672): http://127.0.0.1:$screen_port/  login: dalat  password: $screen_pw"
echo "== $screen_msg"

if ((reuse == 0)); then
  # A district office imports its paper forms: a few rows are bad and are refused with reasons;
  # the good ones are queued and the import exits 1 (some rows bad).
  echo "== Đà Lạt office imports examples/lamdong-2023/sample-signups.csv"
  rc=0
  "$bin/chitieu-collector" import "$root/examples/lamdong-2023/sample-signups.csv" \
    --outbox "$data/outbox/672" --campaign "$campaign" --person-key "$k/person.key" || rc=$?
  echo "import exit code $rc (1: some rows are bad, the good ones are queued)"
  ((rc == 1)) || { echo "demo: the sample import exited $rc, not 1" >&2; exit 1; }
  # ...and imports it again by mistake: nothing new is queued (the same bad rows: exit 1 again).
  rc=0
  again=$("$bin/chitieu-collector" import "$root/examples/lamdong-2023/sample-signups.csv" \
    --outbox "$data/outbox/672" --campaign "$campaign" --person-key "$k/person.key" 2>&1) || rc=$?
  tail -1 <<<"$again"
  echo "second import exit code $rc"
  ((rc == 1)) || { echo "demo: the second sample import exited $rc, not 1" >&2; exit 1; }
fi

for p in "${sim_pids[@]}"; do wait "$p"; done
echo "== all sign-ups recorded; waiting for the outboxes to drain"
for d in "${offices[@]}"; do
  "$bin/chitieu-collector" run --once --outbox "$data/outbox/$d" --server "$ingest" \
    --keys "$k/collector-$d.key" "${secure_client[@]}" --give-up 60 2>/dev/null
done
sleep 1

echo
echo "== final report"
"$bin/chitieu-reporter" --campaign "$campaign" --feed "$feed" --snapshot "$snap" \
  --keys "$k/reporter.key" "${secure_client[@]}" --once --staff \
  --now 2023-08-01T00:00:00+07:00 2>/dev/null | tee "$data/final-report.txt"
"$bin/chitieu-reporter" --campaign "$campaign" --feed "$feed" --snapshot "$snap" \
  --keys "$k/reporter.key" "${secure_client[@]}" --once --format json \
  --now 2023-08-01T00:00:00+07:00 --output "$data/final-report.json" 2>/dev/null

if ((keep)); then
  echo "== processes keep running (Ctrl-C stops them); logs in $data/logs"
  echo "== $screen_msg"
  echo "   (record a sign-up there by hand: it is queued in the outbox, delivered to HQ and counted)"
  echo "== headquarters' live page: $hq_url"
  wait
fi
cleanup
pids=()
echo
echo "== audit"
"$bin/chitieu-audit" verify --data "$data/store" --campaign "$campaign"
cat <<MSG

Data is in $data. Try:
  $bin/chitieu-audit verify --data $data/store --campaign $campaign
  $bin/chitieu-audit replay --data $data/store --campaign $campaign --seq 1000 --now 2023-07-27T12:00:00+07:00
  $bin/chitieu-audit trace  --data $data/store --campaign $campaign --district 674
  scripts/demo.sh --reuse --keep-running     (restart the processes on this data, with the
                                             Đà Lạt office screen to record sign-ups by hand
                                             and the headquarters' live page at $hq_url)
MSG
