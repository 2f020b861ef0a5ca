"""Fault scenario 3: a collector killed with kill -9 while it has
unacked events (in flight or still queued), restarted, several times, with
other collectors running; plus a collector killed while it is QUEUEING
(simulate) — the outbox commit is atomic, so S is whatever the outbox holds.

The aggregator is SIGSTOPped (with the victim connected) so that the killed
collector surely has events in flight (sent, unacked) when it dies; on odd
cycles it is resumed just before the kill (death while acks stream in), on
even cycles after it (the aggregator commits events whose acks go nowhere,
so the victim's next life resends them and gets "duplicate"). Every event in S
must end up in the log exactly once.

Env: CT_COLKILL_CYCLES (default 8), CT_FAULT_EVENTS (default 300).
"""
import random
import signal
import time

import ctharness as H
import oracle as O

CYCLES = O.env_int("CT_COLKILL_CYCLES", 8)
PER = O.env_int("CT_FAULT_EVENTS", 300)


def test_kill9_collector_with_unacked_events():
    rng = random.Random(CYCLES)
    with H.Workdir("fault-colkill") as wd:
        rss = O.RssSampler()
        agg = O.Agg(wd, rss)
        orc = O.Oracle(f"kill -9 collector x{CYCLES}")
        victim = orc.add_collector(O.Collector(wd, rss, "victim", O.DISTRICTS[2]))
        other = orc.add_collector(O.Collector(wd, rss, "other", O.DISTRICTS[3]))
        agg.start()
        run = ["--window", "128", "--batch", "16", "--resend-ms", "300"]
        other.start(agg.eps["ingest"], run)
        inflight_at_kill = 0
        for cycle in range(CYCLES):
            victim.start(agg.eps["ingest"], run)
            victim.proc.wait_log(r'msg="connected"', timeout=10 * O.SLOW)
            agg.signal(signal.SIGSTOP)  # connection up, the aggregator paused
            victim.simulate(7000 + cycle, PER)
            other.simulate(8000 + cycle, PER // 3)
            orc.read_outboxes()  # nothing can be acked now
            time.sleep(0.2)  # the victim sends its window to the paused aggregator
            if cycle % 2:
                agg.signal(signal.SIGCONT)  # die while the acks stream in
                time.sleep(rng.uniform(0.0, 0.03))
                queued = len(victim.read()[1])
                victim.kill9()
            else:
                queued = len(victim.read()[1])
                victim.kill9()  # die with everything unacked; the aggregator will
                agg.signal(signal.SIGCONT)  # commit events whose acks go nowhere
            inflight_at_kill += queued > 0
            time.sleep(0.1)
            orc.check_acked_now(agg.data)
        # a kill while queueing: simulate is interrupted; what it committed is in S
        p = wd.start([H.binary("chitieu-collector"), "simulate", "--outbox", victim.outbox,
                      "--seed", "99", "--count", str(PER * 20)], name="sim")
        time.sleep(0.02)
        p.kill9()
        orc.read_outboxes()
        victim.start(agg.eps["ingest"], run)
        O.wait_until(lambda: O.outbox_empty(victim) and O.outbox_empty(other), 120 * O.SLOW,
                     "outboxes drained")
        victim.stop()
        other.stop()
        orc.extra["kills with unacked events"] = f"{inflight_at_kill}/{CYCLES}"
        H.check(inflight_at_kill > 0, "no kill hit unacked events")
        agg.wait_stats()
        rss.close()
        orc.check(agg, rss)
        agg.stop()


if __name__ == "__main__":
    H.main([test_kill9_collector_with_unacked_events])
