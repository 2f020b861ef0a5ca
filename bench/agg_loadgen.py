#!/usr/bin/env python3
"""agg_loadgen — quick ingest load for chitieu-aggregator (not part of the suite).

Starts N collector processes (pure Python, tests/integration/ctproto.py), each
with W events in flight (submits of S events), against a running aggregator
(--insecure), and prints the acked-durable rate. Events are pre-encoded so the
client costs little per event.

  python3 bench/agg_loadgen.py --ingest tcp://127.0.0.1:7701 -n 4 -w 1000 -s 100 -e 200000
"""
import argparse
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import ctproto as P  # noqa: E402

T0 = 1690246800000


def worker(args, idx, q):
    import hashlib
    import struct
    o = os.urandom(8)
    agents = ["LD672-%03d" % i for i in range(1, 23)]
    evs = []
    for i in range(1, args.events + 1):
        eid = P.event_id(o, i)
        evs.append(P.event(eid, T0 + i, 672, agents[i % 22],
                           program="bhyt_hgd" if i % 3 else "bhxh_tn",
                           person=hashlib.blake2b(
                               o + struct.pack(">Q", i % args.persons if args.persons else i),
                               digest_size=32).digest()))
    subs = [P.submit(k + 1, evs[i:i + args.size])
            for k, i in enumerate(range(0, len(evs), args.size))]
    c = P.Client(args.ingest)
    q.put(("ready", idx))
    window = max(1, args.window // args.size)
    sent = acked = 0
    inflight = 0
    lat = []
    t_sent = {}
    t0 = time.time()
    while acked < len(subs):
        while inflight < window and sent < len(subs):
            c.send_raw(subs[sent])
            t_sent[sent + 1] = time.perf_counter()
            sent += 1
            inflight += 1
        r = c.recv(30)
        if r is None:
            q.put(("error", "timeout"))
            return
        lat.append(time.perf_counter() - t_sent.pop(r["n"]))
        acked += 1
        inflight -= 1
    q.put(("done", (args.events, time.time() - t0, sorted(lat))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ingest", default="tcp://127.0.0.1:7701")
    ap.add_argument("-n", "--collectors", type=int, default=4)
    ap.add_argument("-w", "--window", type=int, default=1000, help="events in flight")
    ap.add_argument("-s", "--size", type=int, default=100, help="events per submit")
    ap.add_argument("-e", "--events", type=int, default=100000, help="per collector")
    ap.add_argument("--persons", type=int, default=0,
                    help="distinct persons per collector (0 = one per event)")
    args = ap.parse_args()
    q = mp.Queue()
    ps = [mp.Process(target=worker, args=(args, i, q)) for i in range(args.collectors)]
    for p in ps:
        p.start()
    t_start = time.time()
    done = []
    while len(done) < args.collectors:
        kind, val = q.get()
        if kind == "error":
            print("error:", val)
            sys.exit(1)
        if kind == "done":
            done.append(val)
    wall = max(d[1] for d in done)
    total = sum(d[0] for d in done)
    lat = sorted(x for d in done for x in d[2])
    p50 = lat[len(lat) // 2] * 1000
    p99 = lat[int(len(lat) * 0.99)] * 1000
    print(f"collectors={args.collectors} window={args.window} submit={args.size} "
          f"events={total} wall={wall:.2f}s rate={total / wall:.0f}/s "
          f"submit_ack_p50={p50:.1f}ms p99={p99:.1f}ms (setup {time.time() - t_start - wall:.1f}s)")
    for p in ps:
        p.join()


if __name__ == "__main__":
    main()
