"""chitieu-collector's life-entry commands (void, correct, target, close,
reopen, reorg; docs/collector.md) with real processes and real outbox files:
what each queues, byte for byte as docs/PROTOCOL.md §2.2 says (read back from
the outbox's LMDB file), and every refusal that must queue nothing.

Delivery goes through a real chitieu-aggregator; the answers to life entries
themselves are checked end to end in test_life_e2e.py.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import ctharness as H  # noqa: E402
import ctproto as P  # noqa: E402
import lmdb  # noqa: E402
import msgpack  # noqa: E402

HASH1 = "11" * 32
HASH2 = "22" * 32


def col(*args, check=True, env=None):
    return H.run([H.binary("chitieu-collector"), *args], check=check, env=env)


def start_agg(wd, name="agg"):
    eps = {"ingest": wd.ipc(name + "-in"), "feed": wd.ipc(name + "-feed"),
           "snapshot": wd.ipc(name + "-snap"), "data": wd.sub(name + "-data")}
    p = wd.start([H.binary("chitieu-aggregator"), "--campaign", H.CAMPAIGN, "--data", eps["data"],
                  "--ingest", eps["ingest"], "--feed", eps["feed"], "--snapshot",
                  eps["snapshot"], "--stats-interval", "0", "--insecure"], name=name)
    p.wait_log(r'msg="ready"')
    return p, eps


def deliver(ob, eps):
    col("run", "--outbox", ob, "--server", eps["ingest"], "--insecure", "--once", "--give-up",
        "60", "--stats-interval", "0")


def outbox_entries(ob):
    """{seq: decoded map} of the entries waiting in the outbox's "outbox" db."""
    env = lmdb.open(ob, readonly=True, max_dbs=8, lock=False)
    try:
        db = env.open_db(b"outbox", create=False)
        with env.begin(db=db) as txn:
            return {int.from_bytes(k, "big"): (bytes(v), msgpack.unpackb(bytes(v), raw=False))
                    for k, v in txn.cursor()}
    finally:
        env.close()


def status(ob):
    out = {}
    for line in col("status", "--outbox", ob).stdout.splitlines():
        k, _, v = line.partition(":")
        out[k.strip()] = v.strip()
    return out


def queued_id(r):
    m = re.match(r"queued ([0-9a-f]{32})", r.stdout)
    H.check(m is not None, f"no 'queued ID': {r.stdout!r} {r.stderr!r}")
    return m.group(1)


def refused(r, code, text, ob, queued_before):
    H.check(r.returncode == code, f"exit {r.returncode}, want {code}: {r.stdout!r} {r.stderr!r}")
    H.check(text in r.stderr, f"{text!r} not in {r.stderr!r}")
    H.check(int(status(ob)["queued"]) == queued_before, "something was queued")


def test_void_and_correct_of_own_signup():
    with H.Workdir("life-cli") as wd:
        agg, eps = start_agg(wd)
        ob = wd.sub("ob")
        col("init", "--outbox", ob, "--district", "672", "--campaign", H.CAMPAIGN)
        e1 = queued_id(col("add", "--outbox", ob, "--agent", "LD672-001", "--program", "bhxh_tn",
                           "--person-hash", HASH1, "--time", "2023-07-24T09:30",
                           "--commune", "Phường 1", "--group", "nq143"))
        base = ["--outbox", ob, "--event", e1]
        # not acknowledged yet: said, exit 1, nothing queued
        r = col("void", *base, "--reason", "nhập sai", "--by", "lead1", check=False)
        refused(r, 1, f"sign-up {e1} is not acknowledged by headquarters yet", ob, 1)
        deliver(ob, eps)
        # the reason is mandatory: absent, empty, too long, empty in a config file
        r = col("void", *base, "--by", "lead1", check=False)
        refused(r, 2, "a reason is mandatory: give --reason TEXT", ob, 0)
        r = col("void", *base, "--reason", "", "--by", "lead1", check=False)
        refused(r, 2, "--reason: must not be empty", ob, 0)
        r = col("void", *base, "--reason", "  \t ", "--by", "lead1", check=False)
        refused(r, 2, "--reason: must not be empty", ob, 0)
        r = col("void", *base, "--reason", "x" * 257, "--by", "lead1", check=False)
        refused(r, 2, "--reason: at most 256 bytes (got 257)", ob, 0)
        conf = wd.sub("collector.conf")
        with open(conf, "w") as f:
            f.write("# office defaults\nagent = LD672-003\n[void]\nreason =\n")
        r = col("void", "--config", conf, *base, check=False)
        refused(r, 2, f"{conf}:4: reason: must not be empty", ob, 0)
        # another outbox's id; a cancel; a correction that changes nothing
        other = "00" * 8 + "0000000000000001"
        r = col("void", "--outbox", ob, "--event", other, "--reason", "x", check=False)
        refused(r, 2, f"event {other} is not one of this outbox's", ob, 0)
        r = col("correct", *base, "--agent", "LD672-001", "--reason", "x", check=False)
        refused(r, 2, "this correction changes nothing", ob, 0)
        r = col("correct", *base, "--reason", "x", check=False)
        refused(r, 2, "correct needs at least one of --agent, --program, --commune, --group", ob, 0)
        r = col("correct", *base, "--agent", "LD999-001", "--reason", "x", check=False)
        refused(r, 2, "correct refused by the campaign (unknown_agent)", ob, 0)
        r = col("void", *base, "--seq", "1", "--reason", "x", check=False)
        refused(r, 2, "with --seq, give --program, --person-ref and --unit too", ob, 0)

        # the void: exactly the entry of PROTOCOL §2.2; --by from the configured agent
        with open(conf, "w") as f:
            f.write("agent = LD672-003\n")
        r = col("void", "--config", conf, *base, "--reason", "nhập sai người")
        vid = queued_id(r)
        H.check(f"kind=void event={e1} q=1 unit=672 program=bhxh_tn by=LD672-003 "
                f"why=\"nhập sai người\"" in r.stdout, r.stdout)
        ents = outbox_entries(ob)
        H.check(len(ents) == 1, f"outbox {ents}")
        raw, m = ents[int(vid[16:], 16)]
        H.check(list(m) == ["k", "v", "id", "t", "c", "by", "r", "d", "p", "h", "e", "q"],
                f"keys {list(m)}")
        H.check(raw[:3] == b"\x8c\xa1k", "a life entry's first key is 'k'")
        H.check((m["k"], m["v"], m["id"].hex(), m["c"], m["by"], m["r"], m["d"], m["p"],
                 m["h"].hex(), m["e"].hex(), m["q"]) ==
                ("void", 1, vid, "lamdong-2023", "LD672-003", "nhập sai người", 672, "bhxh_tn",
                 HASH1, e1, 1), f"entry {m}")
        H.check(vid[:16] == e1[:16] and int(vid[16:], 16) == 2, "same origin, the next seq")
        H.check(raw == P.life_void(bytes.fromhex(vid), m["t"], "LD672-003", "nhập sai người", 672,
                                   "bhxh_tn", bytes.fromhex(HASH1), bytes.fromhex(e1), 1),
                "the bytes of the python mirror (canonical)")
        # a second one while the first waits for HQ's answer
        r = col("correct", *base, "--program", "bhyt_hgd", "--reason", "x", check=False)
        refused(r, 1, "is still waiting for headquarters' answer", ob, 1)


def test_admin_entries_and_other_office():
    with H.Workdir("life-adm") as wd:
        ob = wd.sub("ob")
        col("init", "--outbox", ob, "--district", "68", "--campaign", H.CAMPAIGN)
        ev = "0102030405060708" + "%016x" % 9
        r = col("void", "--outbox", ob, "--event", ev, "--seq", "17", "--program", "bhyt_hgd",
                "--person-ref", HASH2, "--unit", "673", "--reason", "trùng", "--by", "admin")
        vid = queued_id(r)
        r = col("correct", "--outbox", ob, "--event", ev, "--seq", "17", "--from-program",
                "bhyt_hgd", "--person-ref", HASH2, "--unit", "673", "--group", "",
                "--commune", "", "--reason", "bỏ nhóm", "--by", "admin")
        cid = queued_id(r)
        r = col("target", "--outbox", ob, "--unit", "672", "--program", "bhxh_tn", "--target",
                "1500", "--effective", "2023-07-25T00:00", "--reason", "bổ sung", "--by", "admin")
        tid = queued_id(r)
        H.check("kind=target unit=672 program=bhxh_tn target=1500 "
                "effective=2023-07-25T00:00:00+07:00" in r.stdout, r.stdout)
        qid = queued_id(col("target", "--outbox", ob, "--quota", "--program", "bhyt_hgd",
                            "--target", "40", "--effective", "2023-07-20", "--reason", "q",
                            "--by", "admin"))
        kid = queued_id(col("close", "--outbox", ob, "--day", "2023-07-25", "--reason", "chốt",
                            "--by", "admin"))
        oid = queued_id(col("reopen", "--outbox", ob, "--day", "2023-07-25", "--unit", "672",
                            "--reason", "sửa số", "--by", "admin"))
        raws = {m["id"].hex(): raw for raw, m in outbox_entries(ob).values()}
        ents = {m["id"].hex(): m for _, m in outbox_entries(ob).values()}
        H.check(len(ents) == 6, f"{len(ents)} entries")
        b = bytes.fromhex
        mirror = {
            vid: P.life_void(b(vid), ents[vid]["t"], "admin", "trùng", 673, "bhyt_hgd", b(HASH2),
                             b(ev), 17),
            cid: P.life_correct(b(cid), ents[cid]["t"], "admin", "bỏ nhóm", 673, "bhyt_hgd",
                                b(HASH2), b(ev), 17, commune="", group=""),
            tid: P.life_target(b(tid), ents[tid]["t"], "admin", "bổ sung", 672, "bhxh_tn", 1500,
                               1690218000000),
            qid: P.life_target(b(qid), ents[qid]["t"], "admin", "q", 0, "bhyt_hgd", 40,
                               1689786000000),
            kid: P.life_close(b(kid), ents[kid]["t"], "admin", "chốt", 0, 20230725),
            oid: P.life_reopen(b(oid), ents[oid]["t"], "admin", "sửa số", 672, 20230725),
        }
        for x, want in mirror.items():
            H.check(raws[x] == want, f"{ents[x]['k']}: not the python mirror's bytes")
        v, c, t, q, k, o = (ents[x] for x in (vid, cid, tid, qid, kid, oid))
        H.check((v["e"].hex(), v["q"], v["p"], v["d"], v["h"].hex()) ==
                (ev, 17, "bhyt_hgd", 673, HASH2), f"void {v}")
        H.check(list(c)[7:] == ["d", "p", "h", "e", "q", "w", "g"] and c["w"] == "" and
                c["g"] == "", f"correct {c}")
        H.check((t["d"], t["p"], t["n"], t["ef"]) == (672, "bhxh_tn", 1500, 1690218000000),
                f"target {t}")
        H.check((q["d"], q["p"], q["n"], q["ef"]) == (0, "bhyt_hgd", 40, 1689786000000),
                f"quota {q}")
        H.check((k["k"], k["d"], k["day"], list(k)[7:]) == ("close", 0, 20230725, ["d", "day"]),
                f"close {k}")
        H.check((o["k"], o["d"], o["day"]) == ("reopen", 672, 20230725), f"reopen {o}")
        n = 6
        for args, text in [
                (["close", "--day", "2023-02-30"], "--day: 2023-02-30 is not a calendar date"),
                (["close", "--day", "25/07/2023"], "--day: bad date '25/07/2023'"),
                (["close", "--day", "2023-09-01"], "close refused by the campaign (outside_window)"),
                (["target", "--program", "bhxh_tn", "--target", "5", "--effective", "2023-07-25"],
                 "target needs either --unit D"),
                (["target", "--unit", "672", "--program", "bhxh_tn", "--target", "5",
                  "--effective", "soon"], "--effective: bad time 'soon'"),
                (["target", "--unit", "999", "--program", "bhxh_tn", "--target", "5",
                  "--effective", "2023-07-25"], "target refused by the campaign (unknown_district)"),
                (["reorg", "--name", "nosuch", "--effective", "2023-07-25"],
                 "reorg refused by the campaign (unknown_reorg)"),
                (["void", "--event", ev, "--seq", "17", "--program", "bhyt_hgd", "--person-ref",
                  "zz", "--unit", "673"], "--person-ref: 64 hex digits")]:
            r = col(*args, "--outbox", ob, "--reason", "r", "--by", "admin", check=False)
            refused(r, 2, text, ob, n)


def test_rejected_listing_names_life_entries():
    """A life entry HQ refuses is listed by `rejected` with its kind, target
    and reason (whatever the aggregator's code)."""
    with H.Workdir("life-rej") as wd:
        agg, eps = start_agg(wd)
        ob = wd.sub("ob")
        col("init", "--outbox", ob, "--district", "672", "--campaign", H.CAMPAIGN)
        ev = "0102030405060708" + "%016x" % 9
        vid = queued_id(col("void", "--outbox", ob, "--event", ev, "--seq", "999",
                            "--program", "bhxh_tn", "--person-ref", HASH2, "--unit", "672",
                            "--reason", "không có", "--by", "lead1"))
        deliver(ob, eps)
        r = col("rejected", "--outbox", ob)
        m = re.search(rf"^{vid} seq=1 reason=(\w+) \(([^)]*)\) kind=void event={ev} q=999 "
                      rf"unit=672 program=bhxh_tn by=lead1 why=\"không có\"$", r.stdout, re.M)
        H.check(m is not None, r.stdout)
        H.check("1 rejected event" in r.stdout, r.stdout)
        # requeue and reissue handle it like an event
        r = col("requeue", "--outbox", ob)
        H.check("requeued 1 event" in r.stdout, r.stdout)


if __name__ == "__main__":
    H.main([test_void_and_correct_of_own_signup, test_admin_entries_and_other_office,
            test_rejected_listing_names_life_entries])
