"""Fault scenario: campaign life entries across kill -9 of the aggregator.

A Python submitter (window, resend until acked; the aggregator runs
--insecure, so it may issue every kind) first delivers enrollments, then —
while the aggregator is killed with kill -9 at random moments and restarted
— voids and corrections (of staff, and to the other program) of those
sign-ups, target revisions, closes of days, and late enrollments for the
closed days; after the drain, reopens of the closed days. Resends of a life
entry are deduplicated by its id like an event's. Every target is distinct
and every close names another (unit, day), so no order the resends produce
makes the rule refuse one: a reject is a failure.

The oracle (tests/integration/oracle.py) judges the run as for the other
fault scenarios — nothing acked lost, no duplicate, nothing fabricated — and
its recount R models the life entries (PROTOCOL §5.3): C (the aggregator's
counts over the wire) = R key by key, chitieu-audit verify OK, its replay and
the reporter's figures = C. Then `chitieu-audit life` lists exactly the life
entries generated, each with its kind's outcome.

Env: CT_FAULT_CYCLES (default 10), CT_FAULT_SEED.
"""
import json
import random
import time

import msgpack

import ctharness as H
import ctproto as P
import oracle as O

CYCLES = O.env_int("CT_FAULT_CYCLES", 10)
SEED = O.env_int("CT_FAULT_SEED", int(time.time()))
KEY_ORDER = ("k", "v", "id", "t", "c", "by", "r", "d", "p", "h", "e", "q", "np", "a", "w", "g",
             "n", "day", "ef")
ADMIN = b"pyadmin1"


def life(seq, kind, t, reason, **f):
    """A life entry (PROTOCOL §2.2), keys in the canonical order."""
    m = {"k": kind, "v": 1, "id": P.event_id(ADMIN, seq), "t": t, "c": "lamdong-2023",
         "by": "admin", "r": reason}
    for k in KEY_ORDER[7:]:
        if k in f:
            m[k] = f[k]
    return msgpack.packb(m, use_bin_type=True)


def test_life_entries_across_kill9():
    rng = random.Random(SEED)
    print(f"seed={SEED} cycles={CYCLES}", flush=True)
    with H.Workdir("fault-life") as wd:
        rss = O.RssSampler()
        agg = O.Agg(wd, rss)
        orc = O.Oracle(f"life entries, kill -9 aggregator x{CYCLES}")
        sub = orc.add_submitter(O.Submitter(agg.eps["ingest"], window=32, batch=8, resend=1.0,
                                            name="py"))
        origin = b"pylife01"
        evs = []
        for d in (672, 673, 674):
            evs += O.mixed_events(origin, len(evs) + 1, 400, district=d, rng=rng)
        orc.generated(evs)
        sub.add(evs)
        agg.start()
        sub.wait_drained(120 * O.SLOW)
        # the sign-ups as logged: their seqs (a void or correction names one)
        t = O.Tally(version=3)
        enrolls = []
        for seq, rms, _, raw in O.read_records(agg.data):
            if t.apply(seq, rms, raw) == "counted":
                enrolls.append((seq, msgpack.unpackb(raw, raw=False)))
        # still enrolled by that sign-up (a later cancel would make a correction not_current)
        enrolls = [(q, e) for q, e in enrolls
                   if t.state[(e["p"], e["h"])]["seq"] == q and t.state[(e["p"], e["h"])]["on"]]
        H.check(len(enrolls) > 300, f"{len(enrolls)} sign-ups")
        rng.shuffle(enrolls)
        lives, n = [], 0
        now = O.T0 + 3 * 86400000
        for i, (q, e) in enumerate(enrolls[:260]):
            n += 1
            base = dict(d=e["d"], p=e["p"], h=e["h"], e=e["id"], q=q)
            if i < 100:
                lives.append(life(n, "void", now, "nhập nhầm", **base))
            elif i < 200:
                others = [a for a in O.AGENTS[e["d"]] if a != e["a"]]
                lives.append(life(n, "correct", now, "sai cán bộ", **base, a=rng.choice(others)))
            else:  # to the other program (each person is enrolled in one program only)
                np_ = "bhyt_hgd" if e["p"] == "bhxh_tn" else "bhxh_tn"
                lives.append(life(n, "correct", now, "sai chương trình", **base, np=np_))
        for unit in (0, 672, 673, 674):
            for p in ("bhxh_tn", "bhyt_hgd"):
                n += 1
                lives.append(life(n, "target", now, "giao bổ sung", d=unit, p=p,
                                  n=rng.randrange(1, 400), ef=O.T0 - 86400000))
        closes = [(672, 20230725), (673, 20230725), (0, 20230726)]
        for unit, day in closes:
            n += 1
            lives.append(life(n, "close", now, "chốt số liệu", d=unit, day=day))
        # late enrollments for the closed days (occurred on them, received now)
        late = []
        for d, day_ms in ((672, O.T0), (673, O.T0 + 3600000), (674, O.T0 + 86400000)):
            for j in range(40):
                late.append(O.ev(origin, 5000 + len(late), d, t=day_ms + j * 60000))
        orc.generated(lives + late)
        # a slower submitter for the life entries: the kills land while they are in flight
        sub.close()
        sub = orc.add_submitter(O.Submitter(agg.eps["ingest"], window=8, batch=2, resend=0.5,
                                            name="py-life", pace=0.01))
        agg.kill9()
        under_load = 0
        for cycle in range(CYCLES):
            chunk = lives[cycle * len(lives) // CYCLES:(cycle + 1) * len(lives) // CYCLES]
            sub.add(chunk)  # while the aggregator is dead
            agg.start()
            time.sleep(rng.uniform(0.0, 0.3) * O.SLOW)
            agg.kill9()
            left = sub.outstanding()
            under_load += left > 0
            a, nl = orc.check_acked_now(agg.data)
            print(f"cycle {cycle + 1}: acked so far {a}, log {nl}, outstanding at kill {left}",
                  flush=True)
        orc.extra["kills with entries outstanding"] = f"{under_load}/{CYCLES}"
        agg.start()
        sub.wait_drained(120 * O.SLOW)
        # the closes are in the log: late enrollments for their days, one more kill
        sub.add(late)
        time.sleep(rng.uniform(0.0, 0.2) * O.SLOW)
        agg.kill9()
        orc.check_acked_now(agg.data)
        agg.start()
        sub.wait_drained(120 * O.SLOW)
        reopens = []
        for unit, day in closes[:2]:
            n += 1
            reopens.append(life(n, "reopen", now, "mở lại để bổ sung", d=unit, day=day))
        orc.generated(reopens)
        sub.add(reopens)
        sub.wait_drained(60 * O.SLOW)
        sub.close()
        agg.wait_stats()
        rss.close()
        orc.extra["life entries generated"] = n
        res = orc.check(agg, rss)
        r = H.run([H.binary("chitieu-audit"), "life", "--data", agg.data, "--format", "json",
                   "--quiet"], check=False)
        H.check(r.returncode == 0, f"life: {r.returncode} {r.stderr}")
        js = json.loads(r.stdout)
        got = sorted((x["kind"], x["outcome"]) for x in js["entries"])
        want = sorted([("void", "VOIDED")] * 100 + [("correct", "CORRECTED")] * 160 +
                      [("target", "TARGET_SET")] * 8 + [("close", "CLOSED")] * 3 +
                      [("reopen", "REOPENED")] * 2)
        H.check(got == want and js["count"] == n, f"life listing: {js['count']} entries")
        c = res["C"]
        late_closed = sum(v for k, v in c.items() if k[0] == O.K_LATE_CLOSED)
        H.check(late_closed > 0, "no enroll counted for a closed day")
        agg.stop()


if __name__ == "__main__":
    H.main([test_life_entries_across_kill9])
