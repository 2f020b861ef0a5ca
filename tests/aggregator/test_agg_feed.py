"""Aggregator feed + snapshot service: the Clone pattern against the real binary.

- a late subscriber gets a snapshot, then gap-free updates, and ends with the
  aggregator's exact counts;
- a SIGSTOP'd subscriber process (feed HWM small) loses updates while ingest
  goes on at full speed, detects the gap on SIGCONT and resyncs by snapshot to
  the exact counts;
- heartbeats carry the head.
"""
import json
import os
import signal
import sys

import aggh as A
from aggh import H, P


def test_late_subscriber_gap_free():
    with H.Workdir("agg-feed-late") as wd:
        agg, eps = A.start(wd)
        c = P.Client(eps["ingest"])
        o = os.urandom(8)
        seq = 0
        for _ in range(20):                          # 2000 events before the reader
            r = c.call([A.ev(o, seq + i, program="bhyt_hgd" if i % 2 else "bhxh_tn")
                        for i in range(1, 101)])
            seq += 100
        assert r["s"] == 2000
        rd = P.Reader(eps["feed"], eps["snapshot"])
        rd.poll(0.5)                                 # subscribe first
        snp = rd.snapshot()
        assert snp["s"] == 2000 and rd.counts[A.net_key(672, "bhxh_tn")] == 1000
        transitions = []
        for b in range(30):                          # 30 more commits, 50 events each
            c.call([A.ev(o, seq + i, district=673 if b % 2 else 672) for i in range(1, 51)])
            seq += 50
            before = rd.seq
            while True:
                if not rd.sub.poll(5000):
                    raise AssertionError(f"no update after commit {b}")
                m = P.decode(rd.sub.recv())
                res = rd.apply(m)
                if res == "applied":
                    transitions.append((before, m["p"], m["s"]))
                    break
                assert res != "gap", "gap on a quiet, fast subscriber"
        assert rd.gaps == 0
        assert all(p == before for before, p, _ in transitions)
        assert rd.seq == 3500
        final = A.snapshot(eps)
        assert final["s"] == rd.seq and final["h"] == rd.head
        assert final["c"] == rd.counts
        assert rd.counts[A.net_key(673, "bhxh_tn")] == 750
        # heartbeats carry the current head
        deadline = 0
        while deadline < 30:
            m = P.decode(rd.sub.recv()) if rd.sub.poll(1500) else None
            deadline += 1
            if m and m["k"] == "hb":
                assert m["s"] == 3500 and m["h"] == final["h"]
                break
        else:
            raise AssertionError("no heartbeat")
        rd.close()
        c.close()
        assert agg.stop() == 0


def test_stopped_subscriber_resyncs():
    with H.Workdir("agg-feed-stop") as wd:
        agg, eps = A.start(wd, extra=["--feed-hwm", "5"])
        sub = wd.start([sys.executable, os.path.join(A.HERE, "feed_sub.py"), eps["feed"],
                        eps["snapshot"]], name="feed_sub")
        sub.wait_log(r"^ready$", stream="stdout")
        c = P.Client(eps["ingest"])
        o = os.urandom(8)
        c.call([A.ev(o, 1)])
        sub.signal(signal.SIGSTOP)
        # 300 commits of 100 events over every agent and day: each update
        # carries hundreds of counters, far more than HWM + socket buffers
        dists = sorted(A.AGENTS)
        nxt = 2
        for k in range(300):
            batch = []
            for i in range(100):
                d = dists[(k + i) % len(dists)]
                batch.append(A.ev(o, nxt, district=d, t=A.T0 + (nxt % 6) * A.DAY + nxt,
                                  program="bhyt_hgd" if nxt % 3 else "bhxh_tn"))
                nxt += 1
            r = c.call(batch, timeout=20)
            assert r and r["k"] == "ack" and all(x[1] == P.ACCEPTED for x in r["r"]), r
        sub.signal(signal.SIGCONT)
        c.call([A.ev(o, nxt)])                       # one more update after the resume
        final = A.snapshot(eps)
        assert final["s"] == 30002
        import time
        time.sleep(2.5)                              # let it catch up (heartbeats too)
        sub.signal(signal.SIGTERM)
        assert sub.wait(20) == 0
        state = json.loads(sub.out_lines[-1])
        assert state["gaps"] >= 1, state
        assert state["snapshots"] >= 2, state
        assert state["seq"] == 30002
        assert {bytes.fromhex(k): v for k, v in state["counts"].items()} == final["c"]
        c.close()
        assert agg.stop() == 0


if __name__ == "__main__":
    H.main([test_late_subscriber_gap_free, test_stopped_subscriber_resyncs])
