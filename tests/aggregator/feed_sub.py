"""feed_sub — a feed subscriber process for the aggregator's feed tests.

usage: feed_sub.py FEED_EP SNAPSHOT_EP
Subscribes, takes a snapshot (Clone pattern), applies updates, resyncs by
snapshot on a gap; prints "ready" once synced. On SIGTERM it prints one JSON
line: {"seq", "gaps", "snapshots", "applied", "counts": {hex key: value}}."""
import json
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ctproto as P  # noqa: E402

stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
r = P.Reader(sys.argv[1], sys.argv[2])
applied = 0
import time  # noqa: E402
time.sleep(0.3)                      # let the subscription reach the PUB
r.snapshot()
print("ready", flush=True)
while not stop:
    try:
        if not r.sub.poll(100):
            continue
        m = P.decode(r.sub.recv())
    except InterruptedError:
        continue
    res = r.apply(m)
    if res == "applied":
        applied += 1
    elif res == "gap":
        r.snapshot()
print(json.dumps({"seq": r.seq, "gaps": r.gaps, "snapshots": r.snapshots, "applied": applied,
                  "counts": {k.hex(): v for k, v in r.counts.items()}}), flush=True)
