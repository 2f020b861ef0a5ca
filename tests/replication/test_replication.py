"""Replication (docs/replication.md): a follower appends the primary's log, the
primary's acks carry committed and safe, and collectors keep an event until
safe covers it. Real processes on ipc endpoints, real LMDB, real signals.

  (a) primary + follower in CURVE mode (role follower) under load from three
      collectors: every event ends safe (outboxes empty), the follower's
      counts, head and origin bindings equal the primary's, chitieu-audit
      verify OK on both with the same seq and head;
  (b) the follower stopped under load: acks continue (committed), safe
      stalls, the alert shows, the collectors keep exactly the new events
      (status "unsafe:"); the follower back: it catches up, outboxes drain,
      its snapshot equals the primary's;
  (c) a record flipped in transit (--test-flip-shipped) is refused by the
      follower, which exits 1 naming the seq and keeps what it had; started
      again it catches up; a follower whose own log differs is refused;
  (d) SIGKILL of the primary after commits no follower confirmed: those
      events are still in the collectors' outboxes; after the restart
      everything ends safe, counted once;
  (e) a follower started with another campaign (a copy with agent_target =
      3) refuses the primary's records: exit 1 naming both fingerprints, its
      store stays empty;
  (f) --sync-followers 2 with two insecure followers: each has its own
      routing id (drawn and kept in its store), and safe reaches the head;
  (g) the follower down: `run --once --give-up 3` ends (exit 1) naming the
      events kept, which stay in the outbox;
  (h) a safe watermark belongs to one log: the collector's endpoint served
      by another store (safe 0, its follower absent) after the first one
      made 50 events safe: the events it commits at seqs 1..20 stay kept.
"""
import os
import re
import shutil
import signal
import time

import msgpack

import ctharness as H
import ctproto as P
import oracle as O

PER = O.env_int("CT_REPL_EVENTS", 300)


def verify(data):
    r = H.run([H.binary("chitieu-audit"), "verify", "--data", data], check=False)
    m = re.search(r"OK seq=(\d+) head=([0-9a-f]{64})", r.stdout)
    H.check(r.returncode == 0 and m, f"verify {data}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return int(m.group(1)), m.group(2)


def counts(data):
    st = O.Store(data)
    try:
        return st.counts(), len(st.log())
    finally:
        st.close()


def origins(data):
    """{origin: key} of a store's origins database."""
    st = O.Store(data)
    try:
        db = st.env.open_db(b"origins", create=False)
        with st.env.begin(db=db) as t:
            return {bytes(k): bytes(v) for k, v in t.cursor()}
    finally:
        st.close()


def status(outbox):
    out = {}
    r = H.run([H.binary("chitieu-collector"), "status", "--outbox", outbox])
    for line in r.stdout.splitlines():
        k, _, v = line.partition(":")
        out[k.strip()] = v.strip()
    return out


def primary(wd, rss, k=1, extra=(), secure=None):
    return O.Agg(wd, rss, "prim", secure=secure,
                 extra=["--replicate", wd.ipc("rep"), "--sync-followers", str(k),
                        "--no-future-check", *extra])


def follower(wd, rss, name="fol", secure=None, extra=()):
    return O.Agg(wd, rss, name, secure=secure, extra=["--follow", wd.ipc("rep"), *extra])


def same_store(p, f, n):
    """Both verify OK at seq n with the same head and equal counts."""
    sp, sf = verify(p.data), verify(f.data)
    H.check(sp == sf and sp[0] == n, f"primary {sp} follower {sf}, want seq {n}")
    cp, lp = counts(p.data)
    cf, lf = counts(f.data)
    H.check(lp == lf == n, f"log sizes {lp} {lf}")
    H.check(cp == cf, f"counts differ: {O.diff_counts(cp, cf)}")
    return sp


def test_follower_curve_under_load():
    with H.Workdir("repl-a") as wd:
        rss = O.RssSampler()
        keys = {}
        lines = []
        for name in ("server", "fol", "c672", "c673", "c674"):
            pub, sec = P.curve_keypair()
            P.write_keyfiles(wd.sub(name), pub, sec)
            keys[name] = pub
        lines.append(f"{keys['fol']} follower fol")
        # the follower's own server key pair serves its feed; the follower key may not submit
        for name, d in (("c672", 672), ("c673", 673), ("c674", 674)):
            lines.append(f"{keys[name]} collector {d} {name}")
        with open(wd.sub("auth.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        sec = (wd.sub("server.key"), wd.sub("auth.txt"))
        p = primary(wd, rss, secure=sec)
        p.start()
        p.proc.wait_log(r'replication: safe = fsynced here and by followers')
        fol = follower(wd, rss, secure=(wd.sub("fol.key"), wd.sub("auth.txt")),
                       extra=["--primary-key", wd.sub("server.pub")])
        fol.start()
        fol.proc.wait_log(r'msg="replication: following"')
        cols = [O.Collector(wd, rss, n, d) for n, d in (("c672", 672), ("c673", 673),
                                                        ("c674", 674))]
        for i, c in enumerate(cols):
            c.simulate(100 + i, PER)
        for c in cols:
            c.start(p.eps["ingest"], ["--window", "256", "--batch", "32"],
                    curve_files=(wd.sub(c.name + ".key"), wd.sub("server.pub")))
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 120 * O.SLOW,
                     "every event safe (outboxes empty)")
        for c in cols:
            c.stop()
        n = 3 * PER
        O.wait_until(lambda: verify(fol.data)[0] == n, 30 * O.SLOW, "follower at the head")
        seq, head = same_store(p, fol, n)
        # the follower holds the primary's origin bindings (a promoted one needs them)
        op, of = origins(p.data), origins(fol.data)
        H.check(len(op) == 3 and op == of, f"origins: primary {len(op)}, follower {len(of)}")
        p.proc.wait_log(rf'role=primary committed={n} safe={n} unsafe_records=0 '
                        r'sync_followers=1 followers=1 ')
        # the follower's key may not submit events: its ZAP domain is replicate only
        c = P.Client(p.eps["ingest"], curve=(keys["server"], keys["fol"],
                                             open(wd.sub("fol.key")).read().split()[-1]))
        H.check(c.call(O.mixed_events(b"folsub01", 1, 1), timeout=2) is None,
                "a follower key was let in on the ingest socket")
        c.close()
        print(f"seq={seq} head={head[:16]} events={n}", flush=True)
        fol.stop()
        p.stop()
        rss.close()


def test_follower_down_under_load():
    with H.Workdir("repl-b") as wd:
        rss = O.RssSampler()
        p = primary(wd, rss)
        p.start()
        fol = follower(wd, rss)
        fol.start()
        cols = [O.Collector(wd, rss, f"c{d}", d) for d in (672, 673)]
        for i, c in enumerate(cols):
            c.simulate(200 + i, PER)
            c.start(p.eps["ingest"], ["--window", "128", "--batch", "16", "--resend-ms", "500"])
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 60 * O.SLOW, "first drain")
        fol.stop()
        # committed acks go on without the follower; safe stays
        before = {c.name: set(c.read()[1]) for c in cols}
        H.check(all(not b for b in before.values()), "outboxes not empty")
        for i, c in enumerate(cols):
            c.simulate(300 + i, PER)
        new = {c.name: set(c.read()[1]) for c in cols}
        n = 4 * PER
        O.wait_until(lambda: len(O.read_log(p.data)) == n, 60 * O.SLOW, "all committed")
        time.sleep(1.5)
        for c in cols:
            H.check(set(c.read()[1]) == new[c.name],
                    f"{c.name}: outbox changed while safe stalled")
            st = status(c.outbox)
            H.check(st["queued"] == str(PER) and st["unsafe"] == str(PER),
                    f"{c.name} status: {st}")
        m = p.proc.wait_log(r'msg="ALERT: safe watermark stalled while committed moves" '
                            rf'committed={n} safe={2 * PER} ', timeout=15 * O.SLOW)
        print(m.group(0)[:120], flush=True)
        fol.start()
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 60 * O.SLOW,
                     "outboxes drained after the follower came back")
        for c in cols:
            H.check(status(c.outbox)["unsafe"] == "0", "unsafe left")
            c.stop()
        O.wait_until(lambda: verify(fol.data)[0] == n, 30 * O.SLOW, "follower at the head")
        same_store(p, fol, n)
        # the follower serves snapshots: equal to the primary's
        rp = P.Reader(p.eps["feed"], p.eps["snapshot"])
        rf = P.Reader(fol.eps["feed"], fol.eps["snapshot"])
        sp, sf = rp.snapshot(), rf.snapshot()
        H.check((sp["s"], sp["h"], sp["c"]) == (sf["s"], sf["h"], sf["c"]), "snapshots differ")
        rp.close()
        rf.close()
        # every event counted once: the log holds each id once
        ids = [O.eid_of(raw) for _, _, raw in O.read_log(p.data)]
        H.check(len(ids) == len(set(ids)) == n, f"log {len(ids)} ids, {len(set(ids))} distinct")
        fol.stop()
        p.stop()
        rss.close()


def test_tampered_record_refused():
    with H.Workdir("repl-c") as wd:
        rss = O.RssSampler()
        p = primary(wd, rss, k=0, extra=["--test-flip-shipped", "150"])
        p.start()
        p.proc.wait_log(r'replication: safe equals committed \(--sync-followers 0\)')
        c = P.Client(p.eps["ingest"])
        evs = O.mixed_events(b"tamper01", 1, 300)
        r = c.call(evs[:100])
        H.check(r and r["s"] == 100 and "f" not in r, f"ack {r}")
        # the ack to a sub without "w" is the form of the release before the
        # watermark: 3-element items, no "f", no "ep" (raw bytes: fixarray 3)
        c.sock.send(P.submit(901, evs[:2]))
        raw = msgpack.unpackb(c.sock.recv(), raw=False)
        H.check(raw["n"] == 901 and [len(x) for x in raw["r"]] == [3, 3] and
                "f" not in raw and "ep" not in raw, f"plain ack {raw}")
        r = c.call(evs[:2], w=True)
        H.check(r["q"] == [1, 2] and r["f"] == 100 and r["ep"] == 1, f"ack to w {r}")
        fol = follower(wd, rss)
        fol.start()
        O.wait_until(lambda: verify(fol.data)[0] == 100, 20 * O.SLOW, "follower at 100")
        r = c.call(evs[100:])  # one commit: records 101..300 ship in one batch
        H.check(r and r["s"] == 300, f"ack {r}")
        rc = fol.proc.wait(30 * O.SLOW)
        H.check(rc == 1, f"follower exit {rc}")
        m = fol.proc.wait_log(r'the record shipped for seq 150 does not (chain|decode)')
        print(m.group(0), flush=True)
        H.check(verify(fol.data)[0] == 100, "the follower applied part of a refused batch")
        # the byte was flipped once: started again, it catches up
        fol.start()
        O.wait_until(lambda: verify(fol.data)[0] == 300, 20 * O.SLOW, "follower at 300")
        same_store(p, fol, 300)
        # a store with another log: the primary refuses its head, it stops
        other = O.Agg(wd, rss, "other")
        other.start()
        c2 = P.Client(other.eps["ingest"])
        H.check(c2.call(O.mixed_events(b"other001", 1, 10))["s"] == 10, "other store")
        c2.close()
        other.stop()
        bad = follower(wd, rss, name="bad", extra=[])
        bad.data = other.data
        bad.start(wait=False)
        rc = bad.proc.wait(30 * O.SLOW)
        H.check(rc == 1, f"diverged follower exit {rc}")
        bad.proc.wait_log(r'diverge at or before seq 10')
        p.proc.wait_log(r"a follower's log is not a prefix of ours")
        c.close()
        fol.stop()
        p.stop()
        rss.close()


def test_sigkill_primary_unconfirmed():
    with H.Workdir("repl-d") as wd:
        rss = O.RssSampler()
        p = primary(wd, rss)
        p.start()
        fol = follower(wd, rss)
        fol.start()
        cols = [O.Collector(wd, rss, f"c{d}", d) for d in (672, 673, 674)]
        for i, c in enumerate(cols):
            c.simulate(400 + i, PER // 2)
            c.start(p.eps["ingest"], ["--window", "128", "--batch", "16", "--resend-ms", "500"])
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 60 * O.SLOW, "first drain")
        fol.signal(signal.SIGSTOP)  # confirms nothing from now on
        for i, c in enumerate(cols):
            c.simulate(500 + i, PER)
        new = {c.name: set(c.read()[1]) for c in cols}
        n = 3 * (PER // 2) + 3 * PER
        O.wait_until(lambda: len(O.read_log(p.data)) == n, 60 * O.SLOW, "all committed")
        p.kill9()
        log_ids = {O.eid_of(raw) for _, _, raw in O.read_log(p.data)}
        for c in cols:
            left = set(c.read()[1])
            H.check(left == new[c.name],
                    f"{c.name}: {len(left)} in the outbox, {len(new[c.name])} unconfirmed")
            H.check(new[c.name] <= log_ids, "committed events missing from the primary's log")
        fol.signal(signal.SIGCONT)
        p.start()
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 60 * O.SLOW,
                     "outboxes drained after the restart")
        for c in cols:
            c.stop()
        O.wait_until(lambda: verify(fol.data)[0] == n, 30 * O.SLOW, "follower at the head")
        same_store(p, fol, n)
        ids = [O.eid_of(raw) for _, _, raw in O.read_log(p.data)]
        H.check(len(ids) == len(set(ids)) == n, "an event counted twice or lost")
        fol.stop()
        p.stop()
        rss.close()


def test_campaign_mismatch_refused():
    with H.Workdir("repl-e") as wd:
        rss = O.RssSampler()
        src = os.path.dirname(H.CAMPAIGN)
        other = wd.sub("other-campaign")
        shutil.copytree(src, other)
        ini = os.path.join(other, "campaign.ini")
        text = open(ini).read()
        H.check("agent_target = 1\n" in text, "campaign copy: agent_target = 1 not found")
        with open(ini, "w") as f:
            f.write(text.replace("agent_target = 1\n", "agent_target = 3\n", 1))
        p = primary(wd, rss, k=0)
        p.start()
        c = P.Client(p.eps["ingest"])
        H.check(c.call(O.mixed_events(b"campfp01", 1, 20))["s"] == 20, "primary ack")
        c.close()
        fol = O.Agg(wd, rss, "fol", campaign=ini, extra=["--follow", wd.ipc("rep")])
        fol.start(wait=False)
        rc = fol.proc.wait(30 * O.SLOW)
        H.check(rc == 1, f"follower with another campaign: exit {rc}")
        m = fol.proc.wait_log(r"counts with campaign (\S+) fingerprint ([0-9a-f]{64}); this "
                              r"follower was started with campaign (\S+) fingerprint "
                              r"([0-9a-f]{64})")
        H.check(m.group(2) != m.group(4), f"fingerprints: {m.group(0)}")
        print(m.group(0)[:200], flush=True)
        H.check(counts(fol.data)[1] == 0, "the follower stored records of another campaign")
        p.stop()
        rss.close()


def test_two_followers_k2():
    with H.Workdir("repl-f") as wd:
        rss = O.RssSampler()
        p = primary(wd, rss, k=2)
        p.start()
        f1 = follower(wd, rss, name="fol1")
        f2 = follower(wd, rss, name="fol2")
        f1.start()
        f2.start()
        c = P.Client(p.eps["ingest"])
        r = c.call(O.mixed_events(b"twofol01", 1, 40), w=True)
        H.check(r and r["s"] == 40, f"ack {r}")
        c.close()
        m = p.proc.wait_log(r'role=primary committed=40 safe=40 unsafe_records=0 '
                            r'sync_followers=2 followers=2 safe_stalled_ms=0 detail="([^"]*)"',
                            timeout=20 * O.SLOW)
        ids = [d.split(":acked=")[0] for d in m.group(1).split(",")]
        H.check(len(ids) == 2 and ids[0] != ids[1] and all("follower-" in i for i in ids),
                f"follower ids {ids}")
        for f in (f1, f2):
            O.wait_until(lambda f=f: verify(f.data)[0] == 40, 20 * O.SLOW, "follower at 40")
        f1.stop()
        f2.stop()
        p.stop()
        rss.close()


def test_once_give_up_follower_down():
    with H.Workdir("repl-g") as wd:
        rss = O.RssSampler()
        p = primary(wd, rss, k=1)  # its follower never comes
        p.start()
        c = O.Collector(wd, rss, "c672", 672)
        c.simulate(700, 30)
        t0 = time.time()
        c.start(p.eps["ingest"], ["--once", "--give-up", "3"])
        rc = c.proc.wait(30 * O.SLOW)
        took = time.time() - t0
        H.check(rc == 1, f"run --once --give-up 3 exit {rc}")
        m = c.proc.wait_log(r"the safe watermark of \S+ has not advanced for 3 s \(safe=0; a "
                            r"follower down\?\): 30 events committed at HQ but not confirmed "
                            r"safe, all kept in the outbox")
        print(m.group(0), f"after {took:.1f}s", flush=True)
        H.check(took < 15 * O.SLOW, f"gave up after {took:.1f} s")
        st = status(c.outbox)
        H.check(st["queued"] == "30" and st["unsafe"] == "30", f"status {st}")
        H.check(len(O.read_log(p.data)) == 30, "not committed at HQ")
        p.stop()
        rss.close()


def test_safe_belongs_to_one_log():
    with H.Workdir("repl-h") as wd:
        rss = O.RssSampler()
        a = O.Agg(wd, rss, "agg", extra=["--no-future-check"])  # safe = committed
        a.start()
        c = O.Collector(wd, rss, "c672", 672)
        c.simulate(800, 50)
        c.start(a.eps["ingest"], ["--resend-ms", "300"])
        O.wait_until(lambda: O.outbox_empty(c), 30 * O.SLOW, "50 events safe on the first store")
        a.stop()
        # the same endpoint, served by another store whose follower is absent
        b = O.Agg(wd, rss, "agg", data=wd.sub("other-data"),
                  extra=["--no-future-check", "--replicate", wd.ipc("rep"),
                         "--sync-followers", "1"])
        b.start()
        c.simulate(801, 20)
        O.wait_until(lambda: len(O.read_log(b.data)) == 20, 30 * O.SLOW, "20 committed there")
        time.sleep(1.5)
        st = status(c.outbox)
        H.check(st["queued"] == "20" and st["unsafe"] == "20",
                f"events deleted on another log's safe watermark: {st}")
        c.stop()
        b.stop()
        rss.close()


if __name__ == "__main__":
    H.main([test_follower_curve_under_load, test_follower_down_under_load,
            test_tampered_record_refused, test_sigkill_primary_unconfirmed,
            test_campaign_mismatch_refused, test_two_followers_k2,
            test_once_give_up_follower_down, test_safe_belongs_to_one_log])
