"""Feed chain: the reporter's view equals the aggregator's counts once the feed
is quiet, even when the aggregator restarts on a FRESH store whose first
commit ends exactly at the reporter's seq (real aggregator, real reporter,
ipc sockets, real LMDB).

  fresh store, same seq   reporter at seq 100 of store A; the aggregator
                          restarts on an empty data directory B and commits
                          0 -> 100 and 100 -> 105 at once. The second update
                          has p == 100 == the reporter's seq but "ph" (B's head
                          at 100) != the reporter's head (A's): the reporter
                          must resync by snapshot, not apply it onto A's
                          counts. Asserts the exact figures and the head.
"""
import time

import reporter_common as rc
from reporter_common import cp, h
from test_reporter import reporter_args, wait_report_at

NOW = "2023-07-27T12:00:00+07:00"


def test_fresh_store_same_seq():
    with h.Workdir("rep-chain") as wd:
        agg, ep = rc.start_aggregator(wd)
        cl = cp.Client(ep["ingest"])
        rc.submit_all(cl, rc.Generator(1).batch(100), per_call=100)
        snp_a = rc.snapshot(ep)
        h.check(snp_a["s"] == 100, f"seq {snp_a['s']}")
        out = wd.sub("status.json")
        rp = wd.start(reporter_args(ep, "--interval", "0.3", "--format", "json", "--output", out,
                                    "--now", NOW), name="reporter")
        rc.assert_report_equals(wait_report_at(out, 100), snp_a)
        time.sleep(2.5)  # the reporter is settled on store A
        h.check(agg.stop() == 0, "aggregator exit code")
        args = list(agg.args)
        args[args.index("--data") + 1] = wd.sub("data-fresh")
        agg = wd.start(args, name="aggregator2")
        agg.wait_log(r'msg="ready"')
        cl.close()
        cl = cp.Client(ep["ingest"])
        time.sleep(0.3)  # the reporter's SUB reconnects (first heartbeat comes after 1 s)
        gen = rc.Generator(2)
        rc.submit_all(cl, gen.batch(100), per_call=100)  # one commit: 0 -> 100
        rc.submit_all(cl, gen.batch(5), per_call=5)  # one commit: 100 -> 105
        snp_b = rc.snapshot(ep)
        h.check(snp_b["s"] == 105, f"seq {snp_b['s']}")
        h.check(snp_b["h"] != snp_a["h"], "fresh store has another chain")
        rep = wait_report_at(out, 105)
        time.sleep(2.5)  # feed quiet: heartbeats only
        rep = rc.read_json_file(out)
        h.check(rep["seq"] == 105, f"reporter seq {rep['seq']}")
        h.check(rep["head"] == snp_b["h"].hex(), "reporter head != aggregator head")
        rc.assert_report_equals(rep, snp_b)
        # exact figures: store B holds Generator(2)'s 105 events only
        net = sum(v for (kind, _p, _d, _x), v in
                  ((cp.parse_key(k), v) for k, v in snp_b["c"].items()) if kind == 1)
        h.check(sum(rep["province"]["programs"][p]["net"] for p in rc.PROGS) == net,
                "province net")
        h.check(net > 0, "store B counted something")
        h.check(rp.stop() == 0, "reporter exit code")
        h.check(agg.stop() == 0, "aggregator exit code")
        cl.close()


if __name__ == "__main__":
    h.main([test_fresh_store_same_seq])
