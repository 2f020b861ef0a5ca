"""Campaign life entries (docs/PROTOCOL.md §2.2, §5.3, §9) through the real
chitieu-aggregator: real sockets, real LMDB, real processes and signals.

  kinds        void (of an enrolled and of a cancelled sign-up), correct (agent;
               program), target, close, a late enroll for the closed day and its
               void, reopen: each accepted, the snapshot's counters changed by
               exactly the hand-computed amounts and nothing else; one log line
               per accepted entry; the metrics by kind; a resend is a duplicate;
  refusals     not_current, already_voided, correct_conflict, bad_value (a
               correction that changes nothing), already_closed, not_closed,
               unknown_event (q past the head, q naming a cancel, a life entry, another
               person or unit), wrong_campaign, unknown_reorg, hostile bytes: each
               answered with its exact code, the log head and every counter
               unchanged; a refused entry's id stays free (the corrected entry with
               the same id is accepted, not a conflict);
  authorization  a collector key: void / correct of its own unit only; close,
               target, another unit's void: forbidden (nothing stored); an admin
               key: every kind;
  restart      SIGTERM and SIGKILL (person states replayed from the log, life
               entries included): counters and head identical, and the person
               states exact (already_voided, correct_conflict, a void of the moved
               sign-up under its new program);
  follower     a primary with life entries and an insecure follower: identical
               counters, head and log.
The reorg kind, which needs a campaign that declares reorganizations, is in
test_agg_life_reorg.py.
"""
import os
import re
import struct
import time
import urllib.request

import msgpack

import aggh as A
from aggh import H, P
import oracle as O

CAMP = A.CAMPAIGN_ID
D0 = 20230725  # the local day of A.T0
(VOIDED, CORRECTED, TARGET, CLOSE, AFTER_CLOSE, LATE_CLOSED, LATE_HIST, LATE_MAX, AFTER_DAY,
 RECV_DAY, REORG, LIFE) = range(10, 22)
NET, GROSS, CANCELLED, AGENT, DAY = (P.COUNT_NET, P.COUNT_GROSS, P.COUNT_CANCELLED,
                                     P.COUNT_AGENT, P.COUNT_DAY)


def life(kind, eid, by="LD672-001", r="sai nhân viên", c=CAMP, t=None, **kw):
    """A life entry in canonical form (§2.2) through ctproto's encoders; the
    kind's keys by their wire names (d p h e q np a w g n day ef)."""
    t = A.T0 + 10 ** 6 if t is None else t
    if kind == "void":
        return P.life_void(eid, t, by, r, kw["d"], kw["p"], kw["h"], kw["e"], kw["q"], campaign=c)
    if kind == "correct":
        return P.life_correct(eid, t, by, r, kw["d"], kw["p"], kw["h"], kw["e"], kw["q"],
                              new_program=kw.get("np"), agent=kw.get("a"), commune=kw.get("w"),
                              group=kw.get("g"), campaign=c)
    if kind == "target":
        return P.life_target(eid, t, by, r, kw["d"], kw["p"], kw["n"], kw["ef"], campaign=c)
    if kind in ("close", "reopen"):
        f = P.life_close if kind == "close" else P.life_reopen
        return f(eid, t, by, r, kw["d"], kw["day"], campaign=c)
    assert kind == "reorg", kind
    return P.life_reorg(eid, t, by, r, kw["n"], kw["ef"], campaign=c)


def person(tag):
    return P.person_ref("%012d" % tag)


def K(kind, program, district, dim=b""):
    return P.key(kind, program, district, dim)


def day_dim(d):
    return struct.pack(">I", d)


def seq_dim(s):
    return struct.pack(">Q", s)


def diff(before, after):
    """{key: after - before} of the keys whose value changed (absent = 0)."""
    out = {}
    for k in set(before) | set(after):
        d = after.get(k, 0) - before.get(k, 0)
        if d:
            out[k] = d
    return out


class Agg:
    """One aggregator and a client; snap() = (head seq, counters)."""

    def __init__(self, wd, name="agg", secure=None, extra=(), data=None):
        self.wd, self.name, self.secure, self.extra = wd, name, secure, list(extra)
        self.data = data
        self.start()

    def start(self):
        self.p, self.eps = A.start(self.wd, name=self.name, secure=self.secure,
                                   extra=self.extra, data=self.data)
        self.data = self.eps["data"]

    def snap(self, curve=None):
        s = A.snapshot(self.eps, curve=curve)
        assert s and s["k"] == "snp", s
        return s["s"], dict(s["c"])

    def records(self):
        """{seq: (received_ms, entry dict)} read from the LMDB file."""
        st = A.Store(self.data)
        try:
            return {seq: (msgpack.unpackb(raw, raw=False)[1],
                          msgpack.unpackb(msgpack.unpackb(raw, raw=False)[3], raw=False))
                    for seq, raw in st.records()}
        finally:
            st.close()


def one(c, entry, want_status=P.ACCEPTED, want_code=0):
    r = c.call([entry])
    assert r and r["k"] == "ack", r
    got = r["r"][0]
    assert got[1:] == (want_status, want_code), (got, P.ERR_NAME.get(got[2]), r)
    return r["s"], got


def recv_day(received_ms):
    return int(time.strftime("%Y%m%d", time.gmtime((received_ms + 7 * 3600000) // 1000)))


def late_changes(agg, seq, before_max):
    """The lateness counters a counted enroll at seq adds (§5.3), from its record."""
    rx, e = agg.records()[seq]
    p, d = e["p"], e["d"]
    late = max(0, rx - e["t"])
    bucket = [15 * 60000, 3600000, 6 * 3600000, 24 * 3600000, 48 * 3600000, 72 * 3600000,
              7 * 86400000]
    b = next((i for i, lim in enumerate(bucket) if late < lim), 7)
    out = {K(LATE_HIST, p, d, bytes([b])): 1, K(RECV_DAY, p, d, day_dim(recv_day(rx))): 1}
    local = int(time.strftime("%Y%m%d", time.gmtime((e["t"] + 7 * 3600000) // 1000)))
    if recv_day(rx) > local:
        out[K(AFTER_DAY, p, d, day_dim(local))] = 1
    if late // 1000 > before_max:
        out[K(LATE_MAX, p, d)] = late // 1000 - before_max
    return out


def enroll_changes(p, d, agent, day=D0):
    return {K(NET, p, d): 1, K(GROSS, p, d): 1, K(AGENT, p, d, agent): 1,
            K(DAY, p, d, day_dim(day)): 1}


def test_life_kinds_exact():
    with H.Workdir("agg-life-kinds") as wd:
        port = H.free_port_block(1)
        g = Agg(wd, extra=["--metrics", f"127.0.0.1:{port}"])
        c = P.Client(g.eps["ingest"])
        o = os.urandom(8)
        a1, a2 = A.AGENTS[672][0], A.AGENTS[672][1]
        h1, h2, h3, h4, h5 = (person(i) for i in range(1, 6))
        evs = [A.ev(o, 1, person=h1, agent=a1), A.ev(o, 2, person=h2, agent=a1),
               A.ev(o, 3, person=h3, agent=a1), A.ev(o, 4, person=h5, agent=a2),
               A.ev(o, 5, person=h5, agent=a2, action="cancel")]
        r = c.call(evs)
        assert [x[1:] for x in r["r"]] == [(P.ACCEPTED, 0)] * 5 and r["s"] == 5, r
        s0, c0 = g.snap()
        lm = "bhxh_tn"
        # void of an enrolled sign-up (seq 6)
        s, _ = one(c, life("void", P.event_id(o, 101), d=672, p=lm, h=h1, e=P.event_id(o, 1),
                           q=1))
        assert s == 6
        s1, c1 = g.snap()
        assert s1 == 6 and diff(c0, c1) == {
            K(NET, lm, 672): -1, K(AGENT, lm, 672, a1): -1, K(DAY, lm, 672, day_dim(D0)): -1,
            K(VOIDED, lm, 672, a1): 1, K(LIFE, 0, 672, seq_dim(6)): 1}, diff(c0, c1)
        g.p.wait_log(r'msg="life entry accepted" kind=void unit=672 actor=LD672-001 seq=6 '
                     r'key=insecure')
        # the resend is a duplicate (exactly once)
        r = c.call([life("void", P.event_id(o, 101), d=672, p=lm, h=h1, e=P.event_id(o, 1),
                         q=1)])
        assert r["r"][0][1:] == (P.DUPLICATE, 0) and r["s"] == 6, r
        # void of a cancelled sign-up (seq 7): CANCELLED moves to VOIDED
        one(c, life("void", P.event_id(o, 102), d=672, p=lm, h=h5, e=P.event_id(o, 4), q=4))
        s2, c2 = g.snap()
        assert s2 == 7 and diff(c1, c2) == {
            K(CANCELLED, lm, 672): -1, K(VOIDED, lm, 672, a2): 1,
            K(LIFE, 0, 672, seq_dim(7)): 1}, diff(c1, c2)
        # correct the agent (seq 8)
        one(c, life("correct", P.event_id(o, 103), d=672, p=lm, h=h2, e=P.event_id(o, 2), q=2,
                    a=a2))
        s3, c3 = g.snap()
        assert s3 == 8 and diff(c2, c3) == {
            K(AGENT, lm, 672, a1): -1, K(AGENT, lm, 672, a2): 1, K(CORRECTED, lm, 672): 1,
            K(LIFE, 0, 672, seq_dim(8)): 2}, diff(c2, c3)
        # correct the program (seq 9): the sign-up moves to bhyt_hgd
        hg = "bhyt_hgd"
        one(c, life("correct", P.event_id(o, 104), d=672, p=lm, h=h3, e=P.event_id(o, 3), q=3,
                    np=hg))
        s4, c4 = g.snap()
        want = {K(NET, lm, 672): -1, K(GROSS, lm, 672): -1, K(AGENT, lm, 672, a1): -1,
                K(DAY, lm, 672, day_dim(D0)): -1, K(CORRECTED, hg, 672): 1,
                K(LIFE, 0, 672, seq_dim(9)): 2}
        for k, v in enroll_changes(hg, 672, a1).items():
            want[k] = want.get(k, 0) + v
        assert s4 == 9 and diff(c3, c4) == want, diff(c3, c4)
        # a target revision (seq 10), effective in the past
        ef = A.T0 - 3 * A.DAY
        one(c, life("target", P.event_id(o, 105), by="admin-hq", d=672, p=lm, n=500, ef=ef))
        s5, c5 = g.snap()
        assert s5 == 10 and diff(c4, c5) == {
            K(TARGET, lm, 672, struct.pack(">QQ", ef, 10)): 500,
            K(LIFE, 0, 672, seq_dim(10)): 3}, diff(c4, c5)
        # close the day for the province (seq 11)
        one(c, life("close", P.event_id(o, 106), by="admin-hq", d=0, day=D0))
        s6, c6 = g.snap()
        assert s6 == 11 and diff(c5, c6) == {
            K(CLOSE, 0, 0, day_dim(D0)): 11, K(LIFE, 0, 0, seq_dim(11)): 4}, diff(c5, c6)
        # a late enroll for the closed day (seq 12): counted, and late after the close
        r = c.call([A.ev(o, 6, person=h4, agent=a1)])
        assert r["r"][0][1:] == (P.ACCEPTED, 0) and r["s"] == 12, r
        s7, c7 = g.snap()
        want = enroll_changes(lm, 672, a1)
        want.update(late_changes(g, 12, c6.get(K(LATE_MAX, lm, 672), 0)))
        want[K(LATE_CLOSED, lm, 672, day_dim(D0))] = 1
        want[K(AFTER_CLOSE, lm, 672, day_dim(D0) + seq_dim(11))] = 1
        assert s7 == 12 and diff(c6, c7) == want, (diff(c6, c7), want)
        # the figure as closed is the DAY counter before the close
        assert (c7[K(DAY, lm, 672, day_dim(D0))] -
                c7[K(AFTER_CLOSE, lm, 672, day_dim(D0) + seq_dim(11))]
                == c5[K(DAY, lm, 672, day_dim(D0))])
        # its void while closed (seq 13): AFTER_CLOSE follows DAY
        one(c, life("void", P.event_id(o, 107), d=672, p=lm, h=h4, e=P.event_id(o, 6), q=12))
        s8, c8 = g.snap()
        assert s8 == 13 and diff(c7, c8) == {
            K(NET, lm, 672): -1, K(AGENT, lm, 672, a1): -1, K(DAY, lm, 672, day_dim(D0)): -1,
            K(AFTER_CLOSE, lm, 672, day_dim(D0) + seq_dim(11)): -1,
            K(VOIDED, lm, 672, a1): 1, K(LIFE, 0, 672, seq_dim(13)): 1}, diff(c7, c8)
        # reopen (seq 14)
        one(c, life("reopen", P.event_id(o, 108), by="admin-hq", r="số liệu bổ sung", d=0,
                    day=D0))
        s9, c9 = g.snap()
        assert s9 == 14 and diff(c8, c9) == {
            K(CLOSE, 0, 0, day_dim(D0)): -11, K(LIFE, 0, 0, seq_dim(14)): 5}, diff(c8, c9)
        # NET = GROSS - CANCELLED - sum VOIDED, per program and unit
        for p in (lm, hg):
            voided = sum(v for k, v in c9.items() if k[0] == VOIDED and k[1] == P.PROGRAMS[p]
                         and k[2:4] == struct.pack(">H", 672))
            assert (c9.get(K(NET, p, 672), 0) == c9.get(K(GROSS, p, 672), 0) -
                    c9.get(K(CANCELLED, p, 672), 0) - voided), p
        # the metrics count accepted entries by kind
        want_m = {"void": 3, "correct": 2, "target": 1, "close": 1, "reopen": 1, "reorg": 0}
        deadline = time.time() + 15
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as f:
                m = H.prom_samples(f.read())
            got = {k: m.get(f'chitieu_aggregator_life_entries_total{{kind="{k}"}}')
                   for k in want_m}
            if got == want_m or time.time() > deadline:
                break
            time.sleep(0.2)
        assert got == want_m, got
        c.close()
        assert g.p.stop() == 0
        n, _ = A.Store(g.data).verify_chain()
        assert n == 14


def test_life_refusals():
    with H.Workdir("agg-life-refuse") as wd:
        g = Agg(wd)
        c = P.Client(g.eps["ingest"])
        o = os.urandom(8)
        lm, hg = "bhxh_tn", "bhyt_hgd"
        h1, h2, h3 = person(11), person(12), person(13)
        a1 = A.AGENTS[672][0]
        evs = [A.ev(o, 1, person=h1, agent=a1),                    # 1
               A.ev(o, 2, person=h1, agent=a1, action="cancel"),   # 2
               A.ev(o, 3, person=h1, agent=a1),                    # 3: re-enroll
               A.ev(o, 4, person=h2, agent=a1),                    # 4
               A.ev(o, 5, person=h2, agent=a1, program=hg),        # 5: h2 in both
               A.ev(o, 6, person=h3, agent=a1)]                    # 6
        r = c.call(evs)
        assert [x[1:] for x in r["r"]] == [(P.ACCEPTED, 0)] * 6, r
        one(c, life("void", P.event_id(o, 90), d=672, p=lm, h=h3, e=P.event_id(o, 6), q=6))
        one(c, life("close", P.event_id(o, 91), by="admin", d=672, day=D0))
        head, base = g.snap()
        assert head == 8
        nid = iter(range(200, 400))

        def refused(entry, code):
            r = c.call([entry])
            assert r["r"][0][1:] == (P.REJECTED, P.ERR[code]), (code, r,
                                                                P.ERR_NAME.get(r["r"][0][2]))
            assert r["s"] == head, r
            s, now = g.snap()
            assert s == head and now == base, (code, diff(base, now))

        def lid():
            return P.event_id(o, next(nid))

        # the tally rule's refusals
        refused(life("void", lid(), d=672, p=lm, h=h1, e=P.event_id(o, 1), q=1), "not_current")
        refused(life("correct", lid(), d=672, p=lm, h=h1, e=P.event_id(o, 1), q=1, a=a1),
                "not_current")
        refused(life("void", lid(), d=672, p=lm, h=h3, e=P.event_id(o, 6), q=6),
                "already_voided")
        refused(life("correct", lid(), d=672, p=lm, h=h3, e=P.event_id(o, 6), q=6, g="nq143"),
                "not_current")
        refused(life("correct", lid(), d=672, p=lm, h=h2, e=P.event_id(o, 4), q=4, np=hg),
                "correct_conflict")
        refused(life("correct", lid(), d=672, p=lm, h=h2, e=P.event_id(o, 4), q=4, a=a1),
                "bad_value")
        refused(life("close", lid(), by="admin", d=672, day=D0), "already_closed")
        refused(life("reopen", lid(), by="admin", d=0, day=D0), "not_closed")
        refused(life("reopen", lid(), by="admin", d=672, day=D0 + 1), "not_closed")
        # the log check
        refused(life("void", lid(), d=672, p=lm, h=h2, e=P.event_id(o, 4), q=99), "unknown_event")
        refused(life("void", lid(), d=672, p=lm, h=h1, e=P.event_id(o, 2), q=2), "unknown_event")
        refused(life("void", lid(), d=672, p=lm, h=h3, e=P.event_id(o, 90), q=7),
                "unknown_event")
        refused(life("void", lid(), d=672, p=lm, h=h1, e=P.event_id(o, 4), q=4), "unknown_event")
        refused(life("void", lid(), d=672, p=lm, h=h2, e=P.event_id(o, 3), q=4), "unknown_event")
        r = c.call([A.ev(o, 7, person=h1, district=673, agent=A.AGENTS[673][0],
                         program=hg)])
        assert r["r"][0][1:] == (P.ACCEPTED, 0), r
        head, base = g.snap()
        refused(life("void", lid(), d=672, p=hg, h=h1, e=P.event_id(o, 7), q=9), "unknown_event")
        # the campaign check
        refused(life("void", lid(), c="other-2023", d=672, p=lm, h=h2, e=P.event_id(o, 4), q=4),
                "wrong_campaign")
        refused(life("reorg", lid(), by="admin", n="no-such", ef=A.T0), "unknown_reorg")
        refused(life("close", lid(), by="admin", d=672, day=20230801), "outside_window")
        refused(life("target", lid(), by="admin", d=999, p=lm, n=5, ef=A.T0), "unknown_district")
        refused(life("correct", lid(), d=672, p=lm, h=h2, e=P.event_id(o, 4), q=4,
                     a="LD999-999"), "unknown_agent")
        # hostile bytes (decoding, §2.2)
        good = msgpack.unpackb(life("close", lid(), by="admin", d=673, day=D0), raw=False)

        def mut(**ch):
            m = dict(good)
            m.update(ch)
            return msgpack.packb({k: v for k, v in m.items() if v is not None},
                                 use_bin_type=True)

        refused(mut(v=2), "bad_version")
        refused(mut(k="fly"), "bad_value")
        refused(msgpack.packb({"k": 5, "v": 1}, use_bin_type=True), "wrong_type")
        refused(mut(zz=1), "unknown_key")
        refused(mut(day=None), "missing_field")
        refused(mut(day=20230230), "bad_value")
        refused(mut(r=""), "bad_value")
        refused(mut(by="x" * 33), "string_too_long")
        refused(mut(id=b"\x01" * 15), "bad_event_id")
        refused(mut(r="\x00"), "bad_value")
        refused(life("close", lid(), by="admin", d=673, day=D0)[:-3], "malformed")
        refused(life("correct", lid(), d=672, p=lm, h=h2, e=P.event_id(o, 4), q=4),
                "missing_field")
        refused(life("void", lid(), d=672, p=lm, h=h2, e=P.event_id(o, 4), q=0), "bad_value")
        refused(mut(r="x" * 1100), "frame_too_large")
        # a refused entry leaves its id free: the same id, corrected, is accepted
        eid = lid()
        refused(life("void", eid, d=672, p=lm, h=h1, e=P.event_id(o, 1), q=1), "not_current")
        s, _ = one(c, life("void", eid, d=672, p=lm, h=h1, e=P.event_id(o, 3), q=3))
        assert s == head + 1
        # a batch: entries see the ones before them in the same commit exactly
        e2, e3 = lid(), lid()
        r = c.call([life("void", e2, d=672, p=lm, h=h2, e=P.event_id(o, 4), q=4),
                    life("void", e3, d=672, p=lm, h=h2, e=P.event_id(o, 4), q=4)])
        assert [x[1:] for x in r["r"]] == [(P.ACCEPTED, 0),
                                           (P.REJECTED, P.ERR["already_voided"])], r
        assert r["r"][0][0] == e2 and r["r"][1][0] == e3 and r["s"] == head + 2, r
        c.close()
        assert g.p.stop() == 0
        st = A.Store(g.data)
        n, _ = st.verify_chain()
        ids = st.id_set()
        st.close()
        assert n == head + 2 and len(ids) == n and e3 not in ids


def test_life_authorization():
    with H.Workdir("agg-life-auth") as wd:
        keys = A.secure_setup(wd, collectors=[("c672", 672), ("c673", 673)],
                              reporters=["rep"], admins=["adm"])
        g = Agg(wd, secure=(keys["server_key"], keys["auth"]))
        rep = A.curve_for(keys, "rep")
        c = P.Client(g.eps["ingest"], curve=A.curve_for(keys, "c672"))
        c3 = P.Client(g.eps["ingest"], curve=A.curve_for(keys, "c673"))
        adm = P.Client(g.eps["ingest"], curve=A.curve_for(keys, "adm"))
        o, o3, oa = os.urandom(8), os.urandom(8), os.urandom(8)
        lm = "bhxh_tn"
        h1, h2, h3 = person(21), person(22), person(23)
        r = c.call([A.ev(o, 1, person=h1), A.ev(o, 2, person=h2)])
        assert [x[1:] for x in r["r"]] == [(P.ACCEPTED, 0)] * 2, r
        r = c3.call([A.ev(o3, 1, person=h3, district=673)])
        assert r["r"][0][1:] == (P.ACCEPTED, 0) and r["s"] == 3, r
        head, base = g.snap(curve=rep)
        forbidden = [
            (c, life("close", P.event_id(o, 10), d=672, day=D0)),
            (c, life("reopen", P.event_id(o, 11), d=672, day=D0)),
            (c, life("target", P.event_id(o, 12), d=672, p=lm, n=9, ef=A.T0)),
            (c, life("void", P.event_id(o, 13), d=673, p=lm, h=h3, e=P.event_id(o3, 1), q=3)),
            (c3, life("void", P.event_id(o3, 10), d=672, p=lm, h=h1, e=P.event_id(o, 1), q=1)),
        ]
        for cl, e in forbidden:
            r = cl.call([e])
            assert r["r"][0][1:] == (P.REJECTED, P.ERR["forbidden"]), r
        g.p.wait_log(r'msg="security" event=forbidden .*kind=void')
        s, now = g.snap(curve=rep)
        assert s == head and now == base
        # its own unit: void and correct
        one(c, life("void", P.event_id(o, 20), d=672, p=lm, h=h1, e=P.event_id(o, 1), q=1))
        one(c, life("correct", P.event_id(o, 21), d=672, p=lm, h=h2, e=P.event_id(o, 2), q=2,
                    g="nongdan"))
        # an admin: every kind, any unit
        one(adm, life("void", P.event_id(oa, 1), by="admin", d=673, p=lm, h=h3,
                      e=P.event_id(o3, 1), q=3))
        one(adm, life("target", P.event_id(oa, 2), by="admin", d=0, p=lm, n=3, ef=A.T0))
        one(adm, life("close", P.event_id(oa, 3), by="admin", d=673, day=D0))
        s, _ = one(adm, life("reopen", P.event_id(oa, 4), by="admin", d=673, day=D0))
        assert s == head + 6
        g.p.wait_log(r'msg="life entry accepted" kind=void unit=672 actor=LD672-001 seq=4 '
                     r'key="?%s"?$' % re.escape(keys["c672"][0]))
        for x in (c, c3, adm):
            x.close()
        assert g.p.stop() == 0
        st = A.Store(g.data)
        cols = [col for _, col, _ in st.events()]
        st.close()
        assert cols[3:] == [keys["c672"][0]] * 2 + [keys["adm"][0]] * 4, cols


def _life_script(c, o, base=30, day=D0):
    """Events and life entries whose person states matter afterwards; returns
    the persons, the seqs of their enrolls and the day closed."""
    lm, hg = "bhxh_tn", "bhyt_hgd"
    h1, h2, h3 = person(base + 1), person(base + 2), person(base + 3)
    a1, a2 = A.AGENTS[672][0], A.AGENTS[672][1]
    r = c.call([A.ev(o, 1, person=h1, agent=a1), A.ev(o, 2, person=h2, agent=a1),
                A.ev(o, 3, person=h3, agent=a1)], w=True)
    assert [x[1:] for x in r["r"]] == [(P.ACCEPTED, 0)] * 3, r
    q1, q2, q3 = r["q"]  # the items carry their seqs in the watermark form
    one(c, life("void", P.event_id(o, 10), d=672, p=lm, h=h1, e=P.event_id(o, 1), q=q1))
    one(c, life("correct", P.event_id(o, 11), d=672, p=lm, h=h2, e=P.event_id(o, 2), q=q2,
                np=hg, a=a2))
    one(c, life("close", P.event_id(o, 12), by="admin", d=0, day=day))
    one(c, life("target", P.event_id(o, 13), by="admin", d=672, p=hg, n=77, ef=A.T0))
    return h1, h2, h3, (q1, q2, q3), day


def _after_restart(g, c, o, head, counts, hs):
    h1, h2, _, (q1, q2, _), day = hs
    lm, hg = "bhxh_tn", "bhyt_hgd"
    s, now = g.snap()
    assert s == head and now == counts, diff(counts, now)
    r = c.call([life("void", P.event_id(o, 10), d=672, p=lm, h=h1, e=P.event_id(o, 1), q=q1)])
    assert r["r"][0][1:] == (P.DUPLICATE, 0), r
    r = c.call([life("void", P.event_id(o, 100), d=672, p=lm, h=h1, e=P.event_id(o, 1), q=q1),
                life("void", P.event_id(o, 101), d=672, p=lm, h=h2, e=P.event_id(o, 2), q=q2),
                life("close", P.event_id(o, 102), by="admin", d=0, day=day)])
    assert [x[1:] for x in r["r"]] == [(P.REJECTED, P.ERR["already_voided"]),
                                       (P.REJECTED, P.ERR["not_current"]),
                                       (P.REJECTED, P.ERR["already_closed"])], r
    # the moved sign-up is voided under its new program
    one(c, life("void", P.event_id(o, 103), d=672, p=hg, h=h2, e=P.event_id(o, 2), q=q2))
    s, now = g.snap()
    assert s == head + 1


def test_life_restart():
    with H.Workdir("agg-life-restart") as wd:
        g = Agg(wd)
        c = P.Client(g.eps["ingest"])
        o = os.urandom(8)
        hs = _life_script(c, o)
        head, counts = g.snap()
        assert head == 7
        c.close()
        assert g.p.stop() == 0
        g.start()
        c = P.Client(g.eps["ingest"])
        _after_restart(g, c, o, head, counts, hs)
        # SIGKILL: the person states of the last batches are replayed from the log
        o2 = os.urandom(8)
        hs2 = _life_script(c, o2, base=40, day=D0 + 2)
        head, counts = g.snap()
        c.close()
        g.p.kill9()
        g.start()
        g.p.wait_log(r'msg="person states replayed from the log"')
        c = P.Client(g.eps["ingest"])
        r = c.call([life("close", P.event_id(o2, 1000), by="admin", d=0, day=D0 + 5)])
        assert r["r"][0][1:] == (P.ACCEPTED, 0), r
        head, counts = g.snap()
        _after_restart(g, c, o2, head, counts, hs2)
        c.close()
        assert g.p.stop() == 0


def test_life_follower():
    with H.Workdir("agg-life-follow") as wd:
        rss = O.RssSampler()
        p = O.Agg(wd, rss, "prim", extra=["--replicate", wd.ipc("rep"), "--sync-followers", "1",
                                          "--no-future-check"])
        p.start()
        f = O.Agg(wd, rss, "fol", extra=["--follow", wd.ipc("rep")])
        f.start()
        c = P.Client(p.eps["ingest"])
        o = os.urandom(8)
        _life_script(c, o)
        r = c.call(O.mixed_events(b"lifefol1", 1, 30), w=True)
        assert r and r["s"] == 37, r
        one(c, life("void", P.event_id(o, 50), d=672, p="bhxh_tn", h=person(33),
                    e=P.event_id(o, 3), q=3))
        c.close()

        def at_head():
            st = O.Store(f.data)
            try:
                return len(st.log()) == 38
            finally:
                st.close()

        O.wait_until(at_head, 20 * O.SLOW, "follower at 38")
        f.stop()
        p.stop()
        stores = [O.Store(x.data) for x in (p, f)]
        try:
            (cp, lp), (cf, lf) = [(st.counts(), st.log()) for st in stores]
        finally:
            for st in stores:
                st.close()
        assert len(lp) == len(lf) == 38 and lp == lf
        assert cp == cf, O.diff_counts(cp, cf)
        assert any(k[0] == VOIDED for k in cp) and any(k[0] == TARGET for k in cp)
        rss.close()


if __name__ == "__main__":
    H.main([test_life_kinds_exact, test_life_refusals, test_life_authorization,
            test_life_restart, test_life_follower])
