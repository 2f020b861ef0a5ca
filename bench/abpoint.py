#!/usr/bin/python3
"""bench/abpoint.py — one ingest point, several builds, finely alternated: for each
round, every build in turn (the order reversed every other round) runs the point on a
fresh store; prints each run and, per build, the median events/s, ack p50/p99 and the
median of the per-round ratios to the first build. On a shared machine whose load
drifts over minutes, short alternated runs compare builds better than whole
bench/run.py passes (bench/ab.sh). Never part of the test suite.

  bench/abpoint.py --rounds 8 --point 4x1000 --events 200000 A=/tmp/a/bin B=/tmp/b/bin
  bench/abpoint.py --point 1x1 --events 3000 --loadgen /tmp/b/bin/ct_loadgen A=... B=...
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("builds", nargs="+", help="LABEL=BINDIR, the first is the reference")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--point", default="4x1000", help="NxW (collectors x window)")
    ap.add_argument("--events", type=int, default=200000)
    ap.add_argument("--loadgen", default=None, help="one ct_loadgen for every build")
    ap.add_argument("--tmp", default=None)
    a = ap.parse_args()
    n, w = (int(x) for x in a.point.split("x"))
    builds = [b.split("=", 1) for b in a.builds]
    res = {lab: [] for lab, _ in builds}
    loads = []
    for r in range(a.rounds):
        order = builds if r % 2 == 0 else builds[::-1]
        loads.append(run.load())
        for lab, bindir in order:
            ns = argparse.Namespace(bin=bindir, tmp=a.tmp, keep=False, transport="tcp",
                                    loadgen=a.loadgen, reps=1, quick=False, points=None)
            b = run.Bench(ns)
            try:
                out = b.ingest_point(n, w, a.events, 1, label=f"{lab}-{a.point}")
            finally:
                b.cleanup()
            res[lab].append({k: out[k]["median"] for k in ("events_per_s", "lat_p50_ms",
                                                            "lat_p99_ms")})
            print(f"round {r + 1} {lab}: {res[lab][-1]['events_per_s']:.0f} ev/s, p50 "
                  f"{res[lab][-1]['lat_p50_ms']:.2f} p99 {res[lab][-1]['lat_p99_ms']:.2f} ms "
                  f"(load {run.load()})", flush=True)
    ref = builds[0][0]
    summary = {"point": a.point, "events": a.events, "rounds": a.rounds,
               "load_1min": [min(loads), max(loads)]}
    for lab, _ in builds:
        rr = res[lab]
        med = {k: statistics.median(x[k] for x in rr) for k in rr[0]}
        ratio = statistics.median(x["events_per_s"] / y["events_per_s"]
                                  for x, y in zip(rr, res[ref]))
        p99r = statistics.median(x["lat_p99_ms"] / y["lat_p99_ms"] for x, y in zip(rr, res[ref]))
        summary[lab] = {**{k: round(v, 3) for k, v in med.items()},
                        "eps_ratio": round(ratio, 3), "p99_ratio": round(p99r, 3)}
        print(f"{lab}: median {med['events_per_s']:.0f} ev/s, p50 {med['lat_p50_ms']:.2f} "
              f"p99 {med['lat_p99_ms']:.2f} ms; x {ref}: rate {ratio:.2f}, p99 {p99r:.2f}")
    print(json.dumps(summary, separators=(",", ":")))


if __name__ == "__main__":
    main()
