"""Lists of aggregators for collectors and reporters, each with its own CURVE
server key (docs/replication.md "Endpoint lists"). Real processes on ipc
endpoints, real LMDB, real signals; exact counts.

  A primary and a follower, each serving with its own key pair.
  (a) collectors given [follower, primary] with one --server-key each: one
      with the right keys hears not_primary from the follower (its
      handshake with the follower's key succeeded) and moves on; one with a
      wrong key for the follower hears nothing there and moves on silence;
      every event ends safe;
  (b) a reporter given [dead endpoint, follower, primary] with a key each
      (one of them wrong: the dead one) reports the exact counts at the
      head from the follower; the follower is killed (kill -9): the
      reporter moves to the primary, resyncs from its snapshot, and reports
      the exact counts of the new head (events committed after the kill);
  (c) a reporter whose key for the follower is wrong moves on to the
      primary and reports exactly;
  (d) a second follower bootstraps over the wire (--bootstrap) with its
      CURVE key, to the primary's head.
"""
import json
import os
import re
import time

import ctharness as H
import ctproto as P
import oracle as O

PER = O.env_int("CT_REPL_EVENTS", 300)
NOW = "2023-07-27T12:00:00+07:00"


def keypair(wd, name):
    pub, sec = P.curve_keypair()
    P.write_keyfiles(wd.sub(name), pub, sec)
    return pub


def counts(data):
    st = O.Store(data)
    try:
        return st.counts(), len(st.log())
    finally:
        st.close()


def head(data):
    r = H.run([H.binary("chitieu-audit"), "verify", "--data", data], check=False)
    m = re.search(r"OK seq=(\d+) head=([0-9a-f]{64})", r.stdout)
    H.check(r.returncode == 0 and m, f"verify {data}: {r.stdout}\n{r.stderr}")
    return int(m.group(1)), m.group(2)


def reporter(wd, name, eps, keyfiles):
    out = wd.sub(name + ".json")
    a = [H.binary("chitieu-reporter"), "--campaign", H.CAMPAIGN, "--format", "json",
         "--output", out, "--interval", "0.5", "--now", NOW, "--keys", wd.sub(name + ".key")]
    for (feed, snap), k in zip(eps, keyfiles):
        a += ["--feed", feed, "--snapshot", snap, "--server-key", k]
    return wd.start(a, name=name), out


def report_at(out, data, n):
    """Waits until the reporter's file is at seq n; checks it against the store."""
    want_c, log_n = counts(data)
    H.check(log_n == n, f"store at {log_n}, want {n}")
    _, want_h = head(data)
    rep = {}

    def at_n():
        nonlocal rep
        try:
            with open(out) as f:
                rep = json.loads(f.read().splitlines()[-1])
        except (OSError, ValueError, IndexError):
            return False
        return rep.get("seq") == n

    O.wait_until(at_n, 60 * O.SLOW, f"reporter at seq {n}")
    H.check(rep["head"] == want_h, f"reporter head {rep['head'][:16]} != {want_h[:16]}")
    bad = O.report_mismatches(rep, want_c)
    H.check(not bad, f"reporter figures differ: {bad[:5]}")
    return rep


def test_endpoint_lists_with_keys():
    with H.Workdir("repl-eps") as wd:
        rss = O.RssSampler()
        pk = {n: keypair(wd, n) for n in ("server", "fol", "fol2", "c672", "c673", "rep", "rep2",
                                          "bogus")}
        lines = [f"{pk['fol']} follower fol", f"{pk['fol2']} follower fol2", f"{pk['c672']} collector 672 c672",
                 f"{pk['c673']} collector 673 c673", f"{pk['rep']} reporter rep",
                 f"{pk['rep2']} reporter rep2"]
        with open(wd.sub("auth.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        p = O.Agg(wd, rss, "prim", secure=(wd.sub("server.key"), wd.sub("auth.txt")),
                  extra=["--replicate", wd.ipc("rep"), "--sync-followers", "1",
                         "--no-future-check"])
        p.start()
        fol = O.Agg(wd, rss, "fol", secure=(wd.sub("fol.key"), wd.sub("auth.txt")),
                    extra=["--follow", wd.ipc("rep"), "--primary-key", wd.sub("server.pub"),
                           "--no-future-check"])
        fol.start()
        fol.proc.wait_log(r'msg="replication: following"')
        # (a) collectors: [follower, primary], a key each
        c1, c2 = O.Collector(wd, rss, "c672", 672), O.Collector(wd, rss, "c673", 673)
        c1.simulate(11, PER)
        c2.simulate(12, PER)
        c1.start(fol.eps["ingest"], ["--server", p.eps["ingest"], "--server-key",
                                     wd.sub("server.pub"), "--resend-ms", "500"],
                 curve_files=(wd.sub("c672.key"), wd.sub("fol.pub")))
        c2.start(fol.eps["ingest"], ["--server", p.eps["ingest"], "--server-key",
                                     wd.sub("server.pub"), "--resend-ms", "500"],
                 curve_files=(wd.sub("c673.key"), wd.sub("bogus.pub")))
        O.wait_until(lambda: O.outbox_empty(c1) and O.outbox_empty(c2), 90 * O.SLOW,
                     "every event safe through the endpoint lists")
        c1.proc.wait_log(r'msg="this endpoint is a follower, not the primary; trying the next '
                         r'one" server=\S+fol-in\S* reason=not_primary')
        c2.proc.wait_log(r'msg="trying the next aggregator endpoint" from=\S+fol-in\S* '
                         r'to=\S+prim-in\S* reason=')
        H.check(not any("reason=not_primary" in ln for ln in c2.proc.lines),
                "a collector with a wrong key for the follower was answered by it")
        n = 2 * PER
        O.wait_until(lambda: head(fol.data)[0] == n, 30 * O.SLOW, "follower at the head")
        # a second follower bootstraps over the wire in CURVE mode (its key: role follower)
        fol2 = O.Agg(wd, rss, "fol2", secure=(wd.sub("fol2.key"), wd.sub("auth.txt")),
                     extra=["--follow", wd.ipc("rep"), "--primary-key", wd.sub("server.pub"),
                            "--bootstrap"])
        fol2.start()
        fol2.proc.wait_log(rf'msg="bootstrap: started from a copy" detail="installed a copy '
                           rf'from \S+: seq={n} ', timeout=60 * O.SLOW)
        O.wait_until(lambda: head(fol2.data) == head(p.data), 30 * O.SLOW, "fol2 at the head")
        fol2.stop()
        # (b) reporter: [dead, follower, primary]
        dead = (wd.ipc("nobody-feed"), wd.ipc("nobody-snap"))
        r1, out1 = reporter(wd, "rep", [dead, (fol.eps["feed"], fol.eps["snapshot"]),
                                        (p.eps["feed"], p.eps["snapshot"])],
                            [wd.sub("bogus.pub"), wd.sub("fol.pub"), wd.sub("server.pub")])
        # (c) reporter: [follower with a wrong key, primary]
        r2, out2 = reporter(wd, "rep2", [(fol.eps["feed"], fol.eps["snapshot"]),
                                         (p.eps["feed"], p.eps["snapshot"])],
                            [wd.sub("server.pub"), wd.sub("server.pub")])
        report_at(out1, fol.data, n)
        r1.wait_log(r'msg="trying the next aggregator" from=\S+nobody-feed\S* '
                    r'to=\S+fol-feed\S*')
        H.check(not any("to=" + p.eps["feed"] in ln for ln in r1.lines),
                "reporter 1 moved to the primary while the follower served it")
        report_at(out2, p.data, n)
        r2.wait_log(r'msg="trying the next aggregator" from=\S+fol-feed\S* to=\S+prim-feed\S*')
        # the follower dies; more events reach the primary (committed; not safe)
        fol.kill9()
        c1.stop()
        c1.simulate(13, PER)
        c1.start(p.eps["ingest"], ["--resend-ms", "500"],
                 curve_files=(wd.sub("c672.key"), wd.sub("server.pub")))
        n2 = 3 * PER
        O.wait_until(lambda: len(O.read_log(p.data)) == n2, 60 * O.SLOW, "new events committed")
        rep = report_at(out1, p.data, n2)
        r1.wait_log(r'msg="trying the next aggregator" from=\S+fol-feed\S* to=\S+prim-feed\S*')
        report_at(out2, p.data, n2)
        print(f"reporter moved to the primary: seq={rep['seq']} head={rep['head'][:16]}",
              flush=True)
        for proc in (r1, r2):
            H.check(proc.stop(timeout=30 * O.SLOW) == 0, "reporter exit")
        c1.stop()
        c2.stop()
        p.stop()
        rss.close()


if __name__ == "__main__":
    H.main([test_endpoint_lists_with_keys])
