#!/usr/bin/python3
"""bench/peers.py — the measuring half of scripts/bench-peers.sh (which starts and stops
the throwaway PostgreSQL, Redis and chitieu instances and passes their endpoints).

For 1, 8 and 32 concurrent clients, one event per round trip (each client waits for
the durable answer before the next event): chitieu (ct_loadgen N x window 1),
PostgreSQL (peer_load, one transaction per event), Redis (peer_load, one Lua script
per event, appendfsync always). Then the batched forms: chitieu 4 x window 1000,
PostgreSQL 32 clients x 100 events per transaction, Redis 32 clients x 100 pipelined.
Each point R times, interleaved (chitieu, pg, redis, chitieu, ...) so drifting machine
load hits all three alike; prints medians [min-max] and chitieu / peer ratios.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        sys.exit(f"peers: failed: {' '.join(cmd)}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    for k in ("peer-load", "loadgen", "chitieu", "pg", "redis", "roster", "commit"):
        ap.add_argument("--" + k, required=True)
    ap.add_argument("--agg-pid", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4)
    a = ap.parse_args()

    def chitieu(n, w, batch=256):
        return run([a.loadgen, "--server", a.chitieu, "--collectors", str(n), "--window", str(w),
                    "--batch", str(batch), "--events", "100000000", "--seconds", str(a.seconds),
                    "--agg-pid", a.agg_pid, "--label", f"peers-{n}x{w}"])

    def pg(n, batch=1):
        return run([a.peer_load, "--pg", a.pg, "--roster", a.roster, "--clients", str(n),
                    "--seconds", str(a.seconds), "--batch", str(batch)])

    def redis(n, pipeline=1):
        return run([a.peer_load, "--redis", a.redis, "--roster", a.roster, "--clients", str(n),
                    "--seconds", str(a.seconds), "--pipeline", str(pipeline)])

    points = [("1 client, 1 at a time", lambda: chitieu(1, 1), lambda: pg(1), lambda: redis(1)),
              ("8 clients, 1 at a time", lambda: chitieu(8, 1), lambda: pg(8), lambda: redis(8)),
              ("32 clients, 1 at a time", lambda: chitieu(32, 1), lambda: pg(32),
               lambda: redis(32)),
              ("batched: chitieu 4x1000 | pg 32x100/txn | redis 32x100 pipelined",
               lambda: chitieu(4, 1000), lambda: pg(32, 100), lambda: redis(32, 100))]
    rows = []
    for name, fc, fp, fr in points:
        res = {"chitieu": [], "postgresql": [], "redis": []}
        for i in range(a.reps):
            for key, fn in (("chitieu", fc), ("postgresql", fp), ("redis", fr)):
                r = fn()
                res[key].append(r)
                print(f"  {name} [{i + 1}/{a.reps}] {key}: {r['events_per_s']:.0f} ev/s, "
                      f"p50 {r['lat_p50_ms']:.2f} ms, p99 {r['lat_p99_ms']:.2f} ms",
                      file=sys.stderr, flush=True)
        rows.append((name, res))

    def st(runs, k="events_per_s"):
        v = [r[k] for r in runs]
        return statistics.median(v), min(v), max(v)

    print(f"chitieu vs peers @ {a.commit}, {os.cpu_count()} CPUs, loadavg "
          f"{os.getloadavg()[0]:.2f}, {a.reps} runs x {a.seconds} s per point, median [min-max] "
          "events/s (latency = per round trip: per event, or per 100-event transaction/pipeline)")
    print(f"{'point':<66}{'chitieu':>24}{'PostgreSQL':>24}{'Redis':>24}{'ch/pg':>8}{'ch/redis':>10}")
    summary = {"commit": a.commit, "reps": a.reps, "seconds": a.seconds}
    for name, res in rows:
        c, p, r = st(res["chitieu"]), st(res["postgresql"]), st(res["redis"])
        f = lambda t: f"{t[0]:.0f} [{t[1]:.0f}-{t[2]:.0f}]"  # noqa: E731
        print(f"{name:<66}{f(c):>24}{f(p):>24}{f(r):>24}{c[0] / p[0]:>8.1f}{c[0] / r[0]:>10.1f}")
        lat = {k: st(v, "lat_p50_ms")[0] for k, v in res.items()}
        print(f"{'   ack/commit p50 ms':<66}{lat['chitieu']:>24.2f}{lat['postgresql']:>24.2f}"
              f"{lat['redis']:>24.2f}")
        key = name.split(",")[0].split(":")[0].replace(" ", "_")
        summary[key] = {"chitieu": round(c[0]), "postgresql": round(p[0]), "redis": round(r[0]),
                        "ch_over_pg": round(c[0] / p[0], 2), "ch_over_redis": round(c[0] / r[0], 2)}
    print(json.dumps(summary, separators=(",", ":")))


if __name__ == "__main__":
    main()
