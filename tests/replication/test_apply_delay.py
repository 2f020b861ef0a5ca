"""A follower makes records durable first and counts them after
(docs/PROTOCOL.md §3.4, docs/replication.md "Lag and apply lag"). Real
processes on ipc endpoints, real LMDB, real signals; exact counts.

  (a) a follower with --apply-delay 600000 under a small load: the primary's
      safe reaches committed (the collectors' outboxes drain) while the
      follower has counted none of it: its "ship" holds exactly 1..n, its
      log is empty, its stats line says head_seq=n applied_seq=0 and the
      primary's follower table applied=0. A copy of the follower's store
      (--copy-store) installed for a new follower begins at the log head
      (seq 0: the uncounted records dropped) and catches up. SIGKILL, restart
      without the
      delay: it counts the backlog, and its counts, log and head equal the
      primary's (audit verify on both);
  (b) a follower holding received, uncounted records (apply delay) is
      stopped; a copy of its store started as a primary counts them all
      before "ready" (head_seq n, nothing left in "ship"); the store promoted
      (--promote): the new
      epoch begins at seq n, every record is counted exactly once (counts =
      the former primary's) and audit verify is OK.
"""
import re
import shutil
import struct

import ctharness as H
import oracle as O

PER = O.env_int("CT_REPL_EVENTS", 300)


def verify(data):
    r = H.run([H.binary("chitieu-audit"), "verify", "--data", data], check=False)
    m = re.search(r"OK seq=(\d+) head=([0-9a-f]{64})", r.stdout)
    H.check(r.returncode == 0 and m, f"verify {data}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return int(m.group(1)), m.group(2)


def store_view(data):
    """(counts, log length, ship keys) of a data directory."""
    st = O.Store(data)
    try:
        db = st.env.open_db(b"ship", create=False)
        with st.env.begin(db=db) as t:
            ship = [struct.unpack(">Q", bytes(k))[0] for k, _ in t.cursor()]
        return st.counts(), len(st.log()), ship
    finally:
        st.close()


def primary(wd, rss):
    return O.Agg(wd, rss, "prim", extra=["--replicate", wd.ipc("rep"), "--sync-followers", "1",
                                         "--no-future-check"])


def follower(wd, rss, delay_ms):
    return O.Agg(wd, rss, "fol", extra=["--follow", wd.ipc("rep"), "--no-future-check",
                                        "--apply-delay", str(delay_ms)])


def load(wd, rss, p, seed):
    """Two collectors, PER events each; returns when every one is safe."""
    cols = [O.Collector(wd, rss, f"c{d}", d) for d in (672, 673)]
    for i, c in enumerate(cols):
        c.simulate(seed + i, PER)
        c.start(p.eps["ingest"], ["--window", "128", "--batch", "16", "--resend-ms", "500"])
    O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 60 * O.SLOW,
                 "every event safe (on the follower's disk)")
    for c in cols:
        c.stop()
    return 2 * PER


def test_durable_before_counted():
    with H.Workdir("apply-a") as wd:
        rss = O.RssSampler()
        p = primary(wd, rss)
        p.start()
        f = follower(wd, rss, 600000)
        f.start()
        f.proc.wait_log(r'msg="replication: following"', timeout=30 * O.SLOW)
        n = load(wd, rss, p, 100)
        _, logn, ship = store_view(f.data)
        H.check(logn == 0 and ship == list(range(1, n + 1)),
                f"follower: log {logn}, ship {ship[:3]}..{ship[-3:]} ({len(ship)})")
        f.proc.wait_log(rf'role=follower .* head_seq={n} applied_seq=0 apply_lag_records={n} ',
                        timeout=15 * O.SLOW)
        p.proc.wait_log(rf'role=primary committed={n} safe={n} .*:acked={n}:applied=0:.*'
                        rf':apply_lag_records={n}:apply_lag_ms=[1-9]',
                        timeout=15 * O.SLOW)
        # a copy of the follower's store (while it runs) begins at its log
        # head: its received, uncounted records are dropped at install, and
        # the follower made from it receives them again
        copy = wd.sub("copy")
        r = H.run([H.binary("chitieu-aggregator"), "--campaign", f.campaign, "--data", f.data,
                   "--copy-store", copy], check=False, timeout=120 * O.SLOW)
        H.check(r.returncode == 0 and re.search(r"copied seq=0 ", r.stderr),
                f"--copy-store: {r.returncode}\n{r.stderr}")
        g = O.Agg(wd, rss, "g", extra=["--follow", wd.ipc("rep"), "--from-copy", copy])
        g.start()
        g.proc.wait_log(r'msg="bootstrap: started from a copy" detail="installed a copy from '
                        r'\S+: seq=0 ')
        O.wait_until(lambda: store_view(g.data)[1] == n, 30 * O.SLOW, "g counted everything")
        H.check(store_view(g.data)[2] == [], "g kept shipped records")
        g.stop()
        f.kill9()
        f.extra = [a for a in f.extra if a not in ("--apply-delay", "600000")]
        f.start()
        O.wait_until(lambda: store_view(f.data)[1] == n, 30 * O.SLOW, "the backlog counted")
        cp, lp, _ = store_view(p.data)
        cf, lf, sf = store_view(f.data)
        H.check(lp == lf == n and sf == [], f"logs {lp} {lf}, ship {len(sf)}")
        H.check(cp == cf, f"counts differ: {O.diff_counts(cp, cf)}")
        vp, vf = verify(p.data), verify(f.data)
        H.check(vp == vf and vp[0] == n, f"verify: primary {vp} follower {vf}")
        f.stop()
        p.stop()
        rss.close()


def test_promote_counts_received_first():
    with H.Workdir("apply-b") as wd:
        rss = O.RssSampler()
        p = primary(wd, rss)
        p.start()
        f = follower(wd, rss, 600000)
        f.start()
        f.proc.wait_log(r'msg="replication: following"', timeout=30 * O.SLOW)
        n = load(wd, rss, p, 300)
        p.kill9()
        f.stop()  # with an apply delay a stop counts nothing
        _, logn, ship = store_view(f.data)
        H.check(logn == 0 and ship == list(range(1, n + 1)), f"log {logn}, ship {len(ship)}")
        f.extra = []
        # a copy of that stopped store started as a primary: it counts every
        # received record before it takes events
        g = O.Agg(wd, rss, "g", data=wd.sub("g-data"), extra=["--no-future-check"])
        shutil.rmtree(g.data, ignore_errors=True)
        shutil.copytree(f.data, g.data)
        g.start()
        g.proc.wait_log(rf'msg="ready" .* head_seq={n} ', timeout=30 * O.SLOW)
        g.stop()
        _, logn, ship = store_view(g.data)
        H.check(logn == n and ship == [], f"started as primary: log {logn}, ship {len(ship)}")
        r = H.run(f.args(["--promote"]), check=False, timeout=120 * O.SLOW)
        H.check(r.returncode == 0, f"--promote: exit {r.returncode}\n{r.stderr}")
        H.check(f"promoted: this store is a primary of a new epoch: epoch 2 from seq {n} "
                in r.stderr, r.stderr)
        cp, lp, _ = store_view(p.data)
        cf, lf, sf = store_view(f.data)
        H.check(lp == lf == n and sf == [], f"logs {lp} {lf}, ship {len(sf)}")
        H.check(cp == cf, f"counts differ: {O.diff_counts(cp, cf)}")
        vp, vf = verify(p.data), verify(f.data)
        H.check(vp == vf and vp[0] == n, f"verify: former primary {vp} promoted {vf}")
        rss.close()


if __name__ == "__main__":
    H.main([test_durable_before_counted, test_promote_counts_received_first])
