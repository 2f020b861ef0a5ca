import sys, os, argparse, statistics, json
sys.path.insert(0, "/work/wt/perf20/bench")
import run
builds = [("A", "/tmp/p20A/build/bin"), ("AC", "/tmp/p20AC/bin"), ("C", "/tmp/p20C/build/bin")]
res = {b: {"w4096": [], "w1": []} for b, _ in builds}
for r in range(int(sys.argv[1])):
    for lab, bindir in (builds if r % 2 == 0 else builds[::-1]):
        ns = argparse.Namespace(bin=bindir, tmp="/tmp", keep=False, transport="tcp", loadgen=None,
                                reps=1, quick=False, points=None)
        b = run.Bench(ns)
        try:
            for w, cnt, key in ((4096, 100000, "w4096"), (1, 1000, "w1")):
                x = b.collector_run(w, cnt, r)
                ok = x["accepted"] == cnt
                if ok:
                    res[lab][key].append(x["events_per_s"])
                print(f"round {r+1} {lab} window {w}: {x['events_per_s']:.0f} ev/s"
                      f"{'' if ok else ' (ended early: ' + str(x['accepted']) + ' delivered; not counted)'} load {run.load()}", flush=True)
        finally:
            b.cleanup()
for lab, _ in builds:
    print(lab, {k: (round(statistics.median(v)), len(v)) for k, v in res[lab].items() if v})
print(json.dumps(res))
