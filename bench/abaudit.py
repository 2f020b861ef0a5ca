#!/usr/bin/python3
"""bench/abaudit.py — audit verify and replay on one existing store, several builds
finely alternated: each round runs every build in turn (order reversed every other
round) for each measure; prints each run and, per build and measure, the median
events/s, wall seconds and CPU microseconds per event (user + system of the child),
and the median of the per-round ratios to the first build. The store is only read.
Never part of the test suite.

  bench/abaudit.py --data /big/store --rounds 3 A=/tmp/a/bin B=/tmp/b/bin
  bench/abaudit.py --data /big/store --measures verify --extra=--threads=1 A=...
"""
import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time


def run_once(binary, data, measure, seq, extra):
    args = [os.path.join(binary, "chitieu-audit"), measure, "--data", data]
    if measure == "verify":
        args += ["--quiet"]
    else:
        args += ["--seq", str(seq), "--format", "json"]
    args += extra
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t1 = time.monotonic()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"abaudit: {' '.join(args)} failed: {r.stderr[-2000:]!r}")
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    return {"eps": seq / (t1 - t0), "secs": t1 - t0, "cpu_us": cpu * 1e6 / seq,
            "out": r.stdout}


def head_seq(binary, data):
    r = subprocess.run([os.path.join(binary, "chitieu-audit"), "verify", "--data", data],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True)
    m = re.search(r"verify: (\d+) records", r.stdout + r.stderr)
    if not m:
        sys.exit("abaudit: cannot read the record count from verify's summary")
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("builds", nargs="+", help="LABEL=BINDIR, the first is the reference")
    ap.add_argument("--data", required=True, help="the store (read only)")
    ap.add_argument("--seq", type=int, default=0, help="the store's head (default: a verify run)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--measures", default="verify,replay")
    ap.add_argument("--extra", action="append", default=[],
                    help="one more argument for every run (repeatable)")
    a = ap.parse_args()
    builds = [b.split("=", 1) for b in a.builds]
    seq = a.seq or head_seq(builds[0][1], a.data)
    print(f"store {a.data}: {seq} records; load {open('/proc/loadavg').read().split()[:3]}",
          flush=True)
    res = {(lb, m): [] for lb, _ in builds for m in a.measures.split(",")}
    for r in range(a.rounds):
        order = builds if r % 2 == 0 else builds[::-1]
        for m in a.measures.split(","):
            for lb, bd in order:
                x = run_once(bd, a.data, m, seq, a.extra)
                res[(lb, m)].append(x)
                print(f"round {r + 1} {lb:>6} {m:7} {x['eps']:>10.0f} ev/s {x['secs']:7.2f} s "
                      f"CPU {x['cpu_us']:.3f} us/ev", flush=True)
    outs = {}
    for m in a.measures.split(","):
        ref = res[(builds[0][0], m)]
        for lb, _ in builds:
            xs = res[(lb, m)]
            ratio = statistics.median(x["eps"] / y["eps"] for x, y in zip(xs, ref))
            print(f"{m:7} {lb:>6}: median {statistics.median(x['eps'] for x in xs):>10.0f} ev/s "
                  f"[{min(x['eps'] for x in xs):.0f}-{max(x['eps'] for x in xs):.0f}], "
                  f"wall {statistics.median(x['secs'] for x in xs):.2f} s, "
                  f"CPU {statistics.median(x['cpu_us'] for x in xs):.3f} us/ev, "
                  f"x{ratio:.3f} vs {builds[0][0]}")
            outs.setdefault(m, set()).add(xs[-1]["out"] if m == "replay" else b"")
    if any(len(v) > 1 for v in outs.values()):
        print("WARNING: the builds' replay outputs differ")
    print(f"load {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
