#!/usr/bin/python3
"""bench/safe_trickle.py — how long one sign-up stays in an office's outbox when the
aggregator is replicated (--sync-followers 1) and the office has nothing else to send.
Never part of the test suite.

For each build (a bin directory), alternated ROUNDS times so that the machine's load falls
on all alike: a fresh primary + one follower on 127.0.0.1 tcp, a real chitieu-collector
`run` on a fresh outbox; then N times: queue one event (`chitieu-collector simulate
--count 1`), and time from its return until the outbox holds nothing (the event committed
at HQ, on the follower's disk, and the collector told so). Between events the collector
is idle. Prints per build the median [min-max] over the rounds of each round's p50 and
p99, and one JSON line.

  bench/safe_trickle.py ROUNDS N BIN_A [BIN_B ...]
"""
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import lmdb


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_log(path, text, p, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path) as f:
            if text in f.read():
                return
        if p.poll() is not None:
            sys.exit(f"safe_trickle: {p.args[0]} exited early, see {path}")
        time.sleep(0.02)
    sys.exit(f"safe_trickle: '{text}' not seen in {path}")


def outbox_entries(path):
    env = lmdb.open(path, readonly=True, max_dbs=8, lock=True, subdir=True)
    try:
        db = env.open_db(b"outbox", create=False)
        with env.begin() as t:
            return t.stat(db)["entries"]
    finally:
        env.close()


def one_round(bin_dir, n, tmp, seed):
    def b(x):
        return os.path.join(bin_dir, x)
    procs = []
    rep = f"tcp://127.0.0.1:{free_port()}"

    def agg(name, extra):
        logp = os.path.join(tmp, name + ".log")
        a = [b("chitieu-aggregator"), "--insecure", "--data", os.path.join(tmp, name),
             "--ingest", f"tcp://127.0.0.1:{free_port()}", "--feed",
             f"tcp://127.0.0.1:{free_port()}", "--snapshot", f"tcp://127.0.0.1:{free_port()}",
             *extra]
        p = subprocess.Popen(a, stdout=subprocess.DEVNULL, stderr=open(logp, "w"))
        procs.append(p)
        wait_log(logp, 'msg="ready"', p)
        return a[a.index("--ingest") + 1]

    lat = []
    try:
        ingest = agg("prim", ["--replicate", rep, "--sync-followers", "1"])
        agg("fol", ["--follow", rep])
        ob = os.path.join(tmp, "outbox")
        cb = b("chitieu-collector")
        subprocess.run([cb, "init", "--outbox", ob, "--district", "672"], check=True,
                       capture_output=True)
        clog = os.path.join(tmp, "collector.log")
        c = subprocess.Popen([cb, "run", "--outbox", ob, "--server", ingest, "--insecure"],
                             stdout=subprocess.DEVNULL, stderr=open(clog, "w"))
        procs.append(c)
        wait_log(clog, 'msg="delivering"', c)
        for i in range(n):
            subprocess.run([cb, "simulate", "--outbox", ob, "--count", "1", "--seed",
                            str(seed * 100000 + i)], check=True, capture_output=True)
            t0 = time.monotonic()
            while outbox_entries(ob):
                if time.monotonic() - t0 > 30:
                    sys.exit(f"safe_trickle: event {i} still queued after 30 s ({bin_dir})")
                time.sleep(0.002)
            lat.append((time.monotonic() - t0) * 1000)
            time.sleep(0.05)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
    lat.sort()
    return {"p50_ms": lat[len(lat) // 2], "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
            "max_ms": lat[-1]}


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    rounds, n, bins = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    res = {b: [] for b in bins}
    for r in range(rounds):
        for b in bins:
            tmp = tempfile.mkdtemp(prefix="ct-trickle-")
            try:
                x = one_round(b, n, tmp, r + 1)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            x["load"] = os.getloadavg()[0]
            res[b].append(x)
            print(f"round {r + 1} {b}: p50 {x['p50_ms']:.1f} p99 {x['p99_ms']:.1f} "
                  f"max {x['max_ms']:.1f} ms (load {x['load']:.2f})", file=sys.stderr, flush=True)
    out = {}
    for b, xs in res.items():
        out[b] = {k: {"median": statistics.median(x[k] for x in xs),
                      "min": min(x[k] for x in xs), "max": max(x[k] for x in xs)}
                  for k in ("p50_ms", "p99_ms", "max_ms", "load")}
        print(f"{b}: queued -> out of the outbox, p50 {out[b]['p50_ms']['median']:.1f} "
              f"[{out[b]['p50_ms']['min']:.1f}-{out[b]['p50_ms']['max']:.1f}] ms, p99 "
              f"{out[b]['p99_ms']['median']:.1f} [{out[b]['p99_ms']['min']:.1f}-"
              f"{out[b]['p99_ms']['max']:.1f}] ms", flush=True)
    print(json.dumps({"rounds": rounds, "events": n, "builds": out}))


if __name__ == "__main__":
    main()
