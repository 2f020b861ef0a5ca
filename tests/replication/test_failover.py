"""Failover (docs/replication.md): promotion, epochs, a former primary fenced and
rejoined, collectors with a list of endpoints. Real processes on ipc
endpoints, real LMDB, real signals; exact counts.

  (1+4) SIGKILL of the primary after commits its follower never confirmed;
        the follower is promoted (--promote, epoch 2): every event is counted
        exactly once on it, audit verify OK. The old primary restarted is
        refused by collectors (stale_epoch, nothing stored) and by a follower
        of the new epoch (exits 1); --rejoin discards its unsafe tail (kept
        aside), and it follows the new primary to the same head;
  (2)   the primary's whole data directory deleted: the promoted follower
        holds every event ever acked safe, and a report replayed on the old
        primary before the loss is reproduced byte for byte;
  (6)   kill-and-promote cycles under load from 13 collectors: the oracle
        reads 0 lost, 0 duplicated, 0 fabricated (CT_FAILOVER_CYCLES, 20 by
        default; 200 with CT_LONG=1, the long run, not in CI).
"""
import os
import re
import shutil
import signal
import time

import ctharness as H
import ctproto as P
import oracle as O

PER = O.env_int("CT_REPL_EVENTS", 300)
CYCLES = O.env_int("CT_FAILOVER_CYCLES", 200 if os.environ.get("CT_LONG") == "1" else 20)
DISTRICTS = [68, 672, 673, 674, 675, 676, 677, 678, 679, 680, 681, 682, 683]
NOW = "2023-07-27T12:00:00+07:00"


def verify(data):
    r = H.run([H.binary("chitieu-audit"), "verify", "--data", data], check=False)
    m = re.search(r"OK seq=(\d+) head=([0-9a-f]{64})", r.stdout)
    H.check(r.returncode == 0 and m, f"verify {data}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return int(m.group(1)), m.group(2)


def log_ids(data):
    return [O.eid_of(raw) for _, _, raw in O.read_log(data)]


def as_primary(node, k=1):
    node.extra = ["--replicate", node.wd.ipc(node.name + "-rep"), "--sync-followers", str(k),
                  "--no-future-check"]


def as_follower(node, primary):
    node.extra = ["--follow", primary.wd.ipc(primary.name + "-rep"), "--no-future-check"]


def offline(node, *flags, check_rc=0):
    """--promote (without its follower options) / --rejoin on a stopped node."""
    if "--promote" in flags:
        node.extra = []
    r = H.run(node.args(list(flags)), check=False, timeout=120 * O.SLOW)
    H.check(r.returncode == check_rc, f"{node.name} {flags}: exit {r.returncode}\n{r.stderr}")
    return r


def start_collectors(cols, nodes, extra=()):
    for c in cols:
        c.start(nodes[0].eps["ingest"],
                ["--window", "128", "--batch", "16", "--resend-ms", "500",
                 *[a for n in nodes[1:] for a in ("--server", n.eps["ingest"])], *extra])


def test_promote_after_sigkill_and_rejoin():
    with H.Workdir("fo-1") as wd:
        rss = O.RssSampler()
        a, b = O.Agg(wd, rss, "a"), O.Agg(wd, rss, "b")
        as_primary(a)
        as_follower(b, a)
        a.start()
        b.start()
        b.proc.wait_log(r'msg="replication: following"')
        cols = [O.Collector(wd, rss, f"c{d}", d) for d in (672, 673, 674)]
        for i, c in enumerate(cols):
            c.simulate(600 + i, PER // 2)
        start_collectors(cols, [a, b])
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 60 * O.SLOW, "first drain")
        b.signal(signal.SIGSTOP)  # confirms nothing from now on
        for i, c in enumerate(cols):
            c.simulate(700 + i, PER)
        unconfirmed = {i for c in cols for i in c.read()[1]}
        n = 3 * (PER // 2) + 3 * PER
        O.wait_until(lambda: len(O.read_log(a.data)) == n, 60 * O.SLOW, "all committed on a")
        a.kill9()
        in_outboxes = {i for c in cols for i in c.read()[1]}
        H.check(in_outboxes == unconfirmed,
                f"{len(in_outboxes)} in the outboxes, {len(unconfirmed)} never confirmed")
        H.check(unconfirmed <= set(log_ids(a.data)), "committed events missing from a's log")
        b.signal(signal.SIGCONT)
        b.stop()
        # (what was already in its socket when it stopped may have been applied)
        fork = len(O.read_log(b.data))
        H.check(3 * (PER // 2) <= fork < n, f"the follower has {fork} of {n} records")
        r = offline(b, "--promote")
        H.check(f'promoted: this store is a primary of a new epoch: epoch 2 from seq {fork} '
                in r.stderr, r.stderr)
        as_primary(b, k=0)
        b.start()
        b.proc.wait_log(r'epoch=2 pid=')
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 60 * O.SLOW,
                     "outboxes drained into the promoted follower")
        ids = log_ids(b.data)
        H.check(len(ids) == len(set(ids)) == n, f"{len(ids)} records, {len(set(ids))} distinct")
        H.check(unconfirmed <= set(ids), "an unconfirmed event is missing on the new primary")
        seq_b, head_b = verify(b.data)
        H.check(seq_b == n, f"verify seq {seq_b}")
        for c in cols:
            c.proc.wait_log(r'a newer epoch: a follower was promoted')
        # (4) the old primary comes back: collectors refuse it, nothing is stored
        as_primary(a, k=0)
        a.start()
        a.proc.wait_log(r'epoch=1 pid=')
        before = len(O.read_log(a.data))
        cols[0].stop()
        cols[0].simulate(800, 20)
        late = set(cols[0].read()[1])
        cols[0].start(a.eps["ingest"], ["--resend-ms", "300"])  # the old primary only
        cols[0].proc.wait_log(r'this endpoint is a former primary \(older epoch\)')
        a.proc.wait_log(r'a collector has seen a newer epoch: this aggregator is a former primary')
        H.check(len(O.read_log(a.data)) == before, "the former primary stored a submit")
        cols[0].stop()
        start_collectors(cols[:1], [a, b])  # with both: it moves to b
        O.wait_until(lambda: O.outbox_empty(cols[0]), 30 * O.SLOW, "late events delivered to b")
        H.check(late <= set(log_ids(b.data)), "late events missing on the new primary")
        H.check(len(O.read_log(a.data)) == before, "the former primary stored a submit")
        # a follower of epoch 2 refuses the former primary
        g = O.Agg(wd, rss, "g")
        as_follower(g, b)
        g.start()
        O.wait_until(lambda: len(O.read_log(g.data)) == len(O.read_log(b.data)), 30 * O.SLOW,
                     "g follows b")
        g.stop()
        as_follower(g, a)
        g.start(wait=False)
        H.check(g.proc.wait(30 * O.SLOW) == 1, "a follower of epoch 2 accepted a former primary")
        g.proc.wait_log(r'older than this store.s epoch 2: it is a former primary')
        # rejoin: the unsafe tail discarded (kept aside), then a follows b
        a.stop()
        as_follower(a, b)
        r = offline(a, "--rejoin")
        H.check(f"discarded the unsafe tail seq {fork + 1}..{n} ({n - fork} records of "
                "epoch 1)" in r.stderr, r.stderr)
        kept = [d for d in os.listdir(os.path.dirname(a.data))
                if d.startswith(os.path.basename(a.data) + ".discarded-e1-")]
        H.check(len(kept) == 1, f"kept: {kept}")
        H.check(len(O.read_log(a.data)) == fork, "rejoined store not cut at the fork")
        a.start()
        total = len(O.read_log(b.data))
        O.wait_until(lambda: verify(a.data)[0] == total, 30 * O.SLOW, "a at b's head")
        H.check(verify(a.data) == verify(b.data), "heads differ after the rejoin")
        for c in cols:
            c.stop()
        a.stop()
        b.stop()
        rss.close()


def test_primary_disk_lost():
    with H.Workdir("fo-2") as wd:
        rss = O.RssSampler()
        a, b = O.Agg(wd, rss, "a"), O.Agg(wd, rss, "b")
        as_primary(a)
        as_follower(b, a)
        a.start()
        b.start()
        cols = [O.Collector(wd, rss, f"c{d}", d) for d in (672, 673, 674, 675)]
        for i, c in enumerate(cols):
            c.simulate(900 + i, PER)
        generated = {i for c in cols for i in c.read()[1]}
        start_collectors(cols, [a, b])
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 60 * O.SLOW, "drain")
        # every event left the outboxes: every one was acked safe
        seq, _ = verify(a.data)
        rep = H.run([H.binary("chitieu-audit"), "replay", "--data", a.data, "--seq", str(seq),
                     "--format", "json", "--now", NOW]).stdout
        a.kill9()
        shutil.rmtree(a.data)
        b.stop()
        offline(b, "--promote")
        as_primary(b, k=0)
        b.start()
        ids = log_ids(b.data)
        H.check(set(ids) == generated and len(ids) == len(generated),
                f"new primary: {len(ids)} records for {len(generated)} safe events")
        rep_b = H.run([H.binary("chitieu-audit"), "replay", "--data", b.data, "--seq", str(seq),
                       "--format", "json", "--now", NOW]).stdout
        H.check(rep_b == rep, "the report replayed on the new primary differs")
        print(f"seq={seq} report bytes={len(rep)} identical", flush=True)
        for c in cols:
            c.stop()
        b.stop()
        rss.close()


def test_kill_promote_cycles():
    with H.Workdir("fo-6") as wd:
        rss = O.RssSampler()
        orc = O.Oracle(f"failover: {CYCLES} kill-and-promote cycles, 13 collectors")
        x, y = O.Agg(wd, rss, "x"), O.Agg(wd, rss, "y")
        as_primary(x)
        as_follower(y, x)
        x.start()
        y.start()
        cols = [orc.add_collector(O.Collector(wd, rss, f"c{d}", d)) for d in DISTRICTS]
        for i, c in enumerate(cols):
            c.simulate(1000 + i, 40)
        orc.read_outboxes()
        start_collectors(cols, [x, y])
        t0 = time.time()
        seed = 2000
        for cyc in range(CYCLES):
            # more load: two collectors get a burst (stopped meanwhile so the
            # oracle sees every event before it can leave the outbox)
            for c in (cols[(2 * cyc) % 13], cols[(2 * cyc + 1) % 13]):
                c.stop()
                c.simulate(seed, 30)
                seed += 1
                orc.read_outboxes()
                c.start(x.eps["ingest"], ["--window", "128", "--batch", "16", "--resend-ms",
                                          "500", "--server", y.eps["ingest"]])
            time.sleep(0.3)
            x.kill9()
            y.stop()
            offline(y, "--promote")
            as_primary(y)
            y.start()
            as_follower(x, y)
            offline(x, "--rejoin")
            x.start()
            x, y = y, x
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 120 * O.SLOW,
                     "every event safe after the last promotion")
        O.wait_until(lambda: len(O.read_log(y.data)) == len(O.read_log(x.data)), 30 * O.SLOW,
                     "the follower at the head")
        for c in cols:
            c.stop()
        orc.extra["cycles (kill -9, promote, rejoin)"] = CYCLES
        orc.extra["seconds for the cycles"] = f"{time.time() - t0:.1f}"
        orc.extra["epoch at the end"] = CYCLES + 1
        x.proc.wait_log(rf'epoch={CYCLES + 1} pid=')
        orc.check(x, rss, reporter=False)
        H.check(verify(x.data) == verify(y.data), "follower and primary differ")
        y.stop()
        x.stop()
        rss.close()


if __name__ == "__main__":
    H.main([test_promote_after_sigkill_and_rejoin, test_primary_disk_lost,
            test_kill_promote_cycles])
