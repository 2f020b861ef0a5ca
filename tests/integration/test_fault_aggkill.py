"""Fault scenarios 1 and 5: the aggregator killed with kill -9 at
random moments under load from several concurrent collectors, and paused with
SIGSTOP past the collectors' resend timeout.

Load: real chitieu-collector `run` processes (one per district, kept running
across the aggregator's lives, so they reconnect and resend by themselves) and
one Python submitter that behaves like a collector (window, resend until
acked) and sees every ack exactly. Events are added while the aggregator is
dead, so S (every outbox entry ever seen) is exact. After every kill the
oracle checks, before the restart, that every event acked so far is in the
log (A is read before L). At the end everything drains and the full oracle
block is printed and judged.

Env: CT_FAULT_CYCLES (default 20), CT_FAULT_EVENTS (events per collector per
cycle, default 300), CT_FAULT_SEED, CT_FAULT_STOPS (SIGSTOP rounds, default 3).
"""
import os
import random
import signal
import time

import ctharness as H
import oracle as O

CYCLES = O.env_int("CT_FAULT_CYCLES", 20)
PER = O.env_int("CT_FAULT_EVENTS", 300)
SEED = O.env_int("CT_FAULT_SEED", int(time.time()))
STOPS = O.env_int("CT_FAULT_STOPS", 3)


def test_kill9_aggregator_under_load():
    rng = random.Random(SEED)
    print(f"seed={SEED} cycles={CYCLES} events/collector/cycle={PER}", flush=True)
    with H.Workdir("fault-aggkill") as wd:
        rss = O.RssSampler()
        agg = O.Agg(wd, rss)
        orc = O.Oracle(f"kill -9 aggregator x{CYCLES}")
        cols = [orc.add_collector(O.Collector(wd, rss, f"col{d}", d)) for d in O.DISTRICTS[1:4]]
        origin = b"pyfault1"
        sub = orc.add_submitter(O.Submitter(agg.eps["ingest"], window=32, batch=8, resend=1.0,
                                            name="py"))
        for c in cols:
            c.start(agg.eps["ingest"], ["--window", "256", "--batch", "32", "--resend-ms", "500"])
        nxt = 1
        under_load = 0
        for cycle in range(CYCLES):
            for i, c in enumerate(cols):
                c.simulate(SEED * 1000 + cycle * 10 + i, PER)
            evs = O.mixed_events(origin, nxt, PER // 2, district=O.DISTRICTS[4], rng=rng)
            nxt += len(evs)
            orc.generated(evs)
            sub.add(evs)
            orc.read_outboxes()  # aggregator dead: nothing can drain between simulate and here
            agg.start()
            time.sleep(rng.uniform(0.0, 0.25) * O.SLOW)
            agg.kill9()
            left = sub.outstanding() + sum(len(c.read()[1]) for c in cols)
            under_load += left > 0
            a, n = orc.check_acked_now(agg.data)
            print(f"cycle {cycle + 1:3d}: acked so far {a}, log {n}, outstanding at kill {left}",
                  flush=True)
        orc.extra["kills with events outstanding"] = f"{under_load}/{CYCLES}"
        t0 = time.time()
        agg.start()
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 120 * O.SLOW, "outboxes drained")
        sub.wait_drained(120 * O.SLOW)
        orc.extra["final drain s"] = f"{time.time() - t0:.2f}"
        for c in cols:
            c.stop()
        sub.close()
        agg.wait_stats()
        rss.close()
        orc.check(agg, rss)
        agg.stop()


def test_sigstop_past_resend_timeout():
    """Resends race the originals: duplicates received > 0, counted 0."""
    rng = random.Random(SEED + 1)
    with H.Workdir("fault-sigstop") as wd:
        rss = O.RssSampler()
        agg = O.Agg(wd, rss)
        orc = O.Oracle(f"SIGSTOP aggregator x{STOPS}")
        cols = [orc.add_collector(O.Collector(wd, rss, f"col{d}", d)) for d in O.DISTRICTS[1:3]]
        sub = orc.add_submitter(O.Submitter(agg.eps["ingest"], window=64, batch=16, resend=0.3,
                                            name="py"))
        agg.start()
        for c in cols:
            c.start(agg.eps["ingest"], ["--window", "512", "--batch", "64", "--resend-ms", "200"])
        origin = b"pystop01"
        nxt = 1
        for r in range(STOPS):
            agg.signal(signal.SIGSTOP)
            for i, c in enumerate(cols):
                c.simulate(SEED * 1000 + r * 10 + i, PER)
            orc.read_outboxes()  # paused: nothing drains
            evs = O.mixed_events(origin, nxt, PER, district=O.DISTRICTS[4], rng=rng)
            nxt += len(evs)
            orc.generated(evs)
            sub.add(evs)
            # the collectors send to a stopped process (the connections are up):
            # originals wait in the kernel's socket buffers, resends follow
            time.sleep(1.5 * O.SLOW)  # > both resend timeouts
            agg.signal(signal.SIGCONT)
            time.sleep(rng.uniform(0.0, 0.3))
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 120 * O.SLOW, "outboxes drained")
        sub.wait_drained(120 * O.SLOW)
        for c in cols:
            c.stop()
        sub.close()
        agg.wait_stats()
        rss.close()
        res = orc.check(agg, rss)
        H.check(res["agg"]["duplicates"] > 0, "no duplicate was received: the race did not happen")
        H.check(sub.dup_acks > 0, "the Python submitter saw no duplicate ack")
        agg.stop()


if __name__ == "__main__":
    H.main([test_kill9_aggregator_under_load, test_sigstop_past_resend_timeout])
