"""Fault scenario 4: the aggregator down for a long while (CI: 20 s;
long run: minutes) while the collectors keep recording; their memory stays
bounded (RssAnon of each `run` process from /proc must not grow with the
queue; RssFile — the mapped outbox pages — and VmHWM are reported), and when the
aggregator comes back everything is delivered without any action.

Env: CT_DOWN_SECONDS (default 20), CT_DOWN_RATE (events per collector per
second while down, default 400).
"""
import os
import time

import ctharness as H
import oracle as O

DOWN = O.env_int("CT_DOWN_SECONDS", 20)
RATE = O.env_int("CT_DOWN_RATE", 400)


def test_aggregator_down_collectors_keep_recording():
    with H.Workdir("fault-down") as wd:
        rss = O.RssSampler()
        agg = O.Agg(wd, rss)
        orc = O.Oracle(f"aggregator down {DOWN} s")
        cols = [orc.add_collector(O.Collector(wd, rss, f"col{d}", d)) for d in O.DISTRICTS[1:4]]
        agg.start()
        for c in cols:
            c.simulate(1, RATE)
        orc.read_outboxes()  # before any `run`: exact
        for c in cols:
            c.start(agg.eps["ingest"], ["--resend-ms", "500"])
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 60 * O.SLOW, "first drain")
        agg.kill9()
        t_down = time.time()
        early = {}
        late = {}
        sec = 0
        while time.time() - t_down < DOWN:
            sec += 1
            for i, c in enumerate(cols):
                c.simulate(100 + sec * 10 + i, RATE)
            orc.read_outboxes()  # aggregator down: exact
            if sec == 2:
                early = {c.name: O.proc_status(c.proc.pid) for c in cols}
            time.sleep(max(0.0, t_down + sec - time.time()))
        late = {c.name: O.proc_status(c.proc.pid) for c in cols}
        queued = sum(len(c.read()[1]) for c in cols)
        t0 = time.time()
        agg.start()
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 300 * O.SLOW, "drain")
        drain = time.time() - t0
        orc.recovery = [drain]
        rss.sample()
        for c in cols:
            c.stop()
        mem = {n: (early[n].get("RssAnon"), late[n].get("RssAnon"), late[n].get("RssFile"),
                   late[n].get("VmHWM")) for n in late}
        orc.extra.update({
            "down for s / queued meanwhile": f"{time.time() - t0 + DOWN - drain:.0f} / {queued}",
            "drain after restart s (= recovery)": f"{drain:.2f}",
            "collector RssAnon@2s, RssAnon, RssFile, VmHWM@end kB": mem})
        agg.wait_stats()
        rss.close()
        orc.check(agg, rss)
        agg.stop()
        # heap (RssAnon) must not grow with the queue; mapped outbox pages
        # (RssFile) are the kernel's page cache and are reported only
        vg = os.environ.get("CT_VALGRIND") == "1"  # then RssAnon includes valgrind's own
        limit = (512 if vg else 256 if H.SANITIZE else 32) * 1024
        growth = (64 if vg else 128 if H.SANITIZE else 8) * 1024
        for n, (a0, a1, _, _) in mem.items():
            H.check(a1 is not None and a1 < limit, f"{n}: RssAnon {a1} kB over {limit} kB")
            H.check(a0 is not None and a1 - a0 < growth,
                    f"{n}: RssAnon grew {a1 - a0} kB while down ({queued} queued); bound {growth}")

if __name__ == "__main__":
    H.main([test_aggregator_down_collectors_keep_recording])
