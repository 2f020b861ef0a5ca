"""lifegen — campaign logs with life entries for the audit tests, built in
Python as real .ctlog files (ctlogfile) and judged by the oracle's Tally
(tests/integration/oracle.py, the tally rule written again from
docs/PROTOCOL.md §5.3):

  life(kind, eid, t, by, r, **fields) -> bytes   a life entry (§2.2), keys in the
                                                  canonical order
  Builder                                         a log being written: event(),
                                                  void(), correct(), target(), close(),
                                                  reopen(); each entry goes through the
                                                  oracle first and only an accepted one
                                                  is logged (as the aggregator does)
  random_log(n, seed)                             a Builder filled with n random entries
                                                  (enrolls, repeats, cancels, late events,
                                                  voids, corrections incl. program moves,
                                                  targets, closes and reopens), with the
                                                  oracle's counters kept at checkpoints
"""
import csv
import hashlib
import os
import random
import struct
from collections import Counter

import msgpack

import ctlogfile
import ctproto as P
import oracle as O

CAMPAIGN = "lamdong-2023"
START = 1689987600000  # 2023-07-22T08:00:00+07:00
END = 1690822800000    # 2023-08-01T00:00:00+07:00
DAY_MS = 86400000
KEY_ORDER = ("k", "v", "id", "t", "c", "by", "r", "d", "p", "h", "e", "q", "np", "a", "w", "g",
             "n", "day", "ef")


def _staff():
    out = {}
    path = os.path.join(os.environ.get("CT_SOURCE_DIR", os.path.join(
        os.path.dirname(__file__), "..", "..")), "examples", "lamdong-2023", "staff.csv")
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.setdefault(int(row["district"]), []).append(row["agent_id"])
    return out


STAFF = _staff()


def life(kind, eid, t, by, r, campaign=CAMPAIGN, **fields):
    """A life entry's canonical bytes: k v id t c by r, then the kind's fields
    in the order d p h e q np a w g n day ef (PROTOCOL §2.2)."""
    m = {"k": kind, "v": 1, "id": bytes(eid), "t": t, "c": campaign, "by": by, "r": r}
    for k in KEY_ORDER[7:]:
        if k in fields:
            v = fields.pop(k)
            m[k] = bytes(v) if isinstance(v, (bytes, bytearray)) else v
    assert not fields, f"unknown fields {fields}"
    return msgpack.packb(m, use_bin_type=True)


def person(i):
    return hashlib.blake2b(b"lifegen person " + struct.pack(">Q", i), digest_size=32).digest()


class Builder:
    """A log (ctlogfile.Log) whose every entry the oracle accepted first."""

    ORIGIN = bytes.fromhex("c0ffee0000000001")
    ADMIN = bytes.fromhex("ad00000000000001")

    def __init__(self, communes=None):
        self.log = ctlogfile.Log(CAMPAIGN)
        self.tally = O.Tally(communes, version=3)
        self.n_event = 0
        self.n_admin = 0
        self.refused = Counter()
        self.outcomes = Counter()

    def add(self, raw, received_ms):
        """Logs raw if the oracle accepts it; returns its seq, or None and the
        refusal's code in self.last_refusal."""
        seq = len(self.log.records) + 1
        rms = max(received_ms, self.log.records[-1][1]) if self.log.records else received_ms
        try:
            out = self.tally.apply(seq, rms, raw)
        except O.Refused as r:
            self.refused[r.code] += 1
            self.last_refusal = r.code
            return None
        self.outcomes[out] += 1
        return self.log.add(raw, rms)

    def event(self, received_ms, district, agent, prog, pidx, action="enroll", t=None,
              group=None, commune=None):
        self.n_event += 1
        raw = P.event(P.event_id(self.ORIGIN, self.n_event), received_ms if t is None else t,
                      district, agent, program=prog, action=action, person=person(pidx),
                      group=group, commune=commune)
        return self.add(raw, received_ms)

    def _life(self, received_ms, kind, by, reason, **fields):
        self.n_admin += 1
        raw = life(kind, P.event_id(self.ADMIN, self.n_admin), received_ms, by, reason, **fields)
        return self.add(raw, received_ms)

    def target_of(self, seq):
        """(id, person, unit, program) of the enroll event at seq."""
        e = msgpack.unpackb(self.log.records[seq - 1][3], raw=False)
        return bytes(e["id"]), bytes(e["h"]), e["d"], e["p"]

    def void(self, received_ms, seq, by="admin", reason="nhập nhầm", program=None):
        eid, h, d, p = self.target_of(seq)
        return self._life(received_ms, "void", by, reason, d=d, p=program or p, h=h, e=eid, q=seq)

    def correct(self, received_ms, seq, by="admin", reason="sửa cán bộ", program=None, **new):
        eid, h, d, p = self.target_of(seq)
        return self._life(received_ms, "correct", by, reason, d=d, p=program or p, h=h, e=eid,
                          q=seq, **new)

    def target(self, received_ms, prog, unit, n, ef, by="admin", reason="giao bổ sung"):
        return self._life(received_ms, "target", by, reason, d=unit, p=prog, n=n, ef=ef)

    def close(self, received_ms, unit, day, by="admin", reason="chốt số liệu"):
        return self._life(received_ms, "close", by, reason, d=unit, day=day)

    def reopen(self, received_ms, unit, day, by="admin", reason="mở lại để bổ sung"):
        return self._life(received_ms, "reopen", by, reason, d=unit, day=day)


REASONS = ["nhập nhầm cán bộ", "sai chương trình", 'trùng, "nhập hai lần"', "a, b; c",
           "đơn vị chuyển", "x" * 256]
UNITS = (68, 672, 673, 674, 675)
GROUPS = ("", "nq143", "nongdan")


def day_of(ms):
    return O.local_day(ms)


def random_log(n, seed, checkpoints=()):
    """n accepted entries (about 1 in 6 a life entry); returns (builder, {seq:
    Counter}) with the oracle's counters right after each checkpoint seq."""
    rng = random.Random(seed)
    b = Builder()
    snaps = {}
    want = sorted(checkpoints)
    span = END - START + 3 * DAY_MS  # receive times run past the window's end
    npers = max(50, n // 6)
    enrolled = []  # seqs of counted enrolls (void/correct candidates)
    days = sorted({day_of(START + i * DAY_MS) for i in range(10)})
    while len(b.log.records) < n:
        k = len(b.log.records)
        clock = START + span * k // n
        r = rng.random()
        if r < 0.60 or not enrolled:
            # an enroll: usually on time, sometimes late by up to 9 days
            late = rng.choice((0, 0, 0, 5000, 600000, 4 * 3600000, 30 * 3600000,
                               60 * 3600000, 5 * DAY_MS, 9 * DAY_MS))
            t = min(END - 60000, max(START, clock - late - rng.randrange(1000)))
            d = rng.choice(UNITS)
            seq = b.event(max(clock, t), d, rng.choice(STAFF[d]), rng.choice(("bhxh_tn",
                                                                               "bhyt_hgd")),
                          rng.randrange(npers), t=t, group=rng.choice(GROUPS) or None)
            if seq and b.tally.outcomes[seq] == "counted":
                enrolled.append(seq)
        elif r < 0.72:
            # a cancel of a recent sign-up (own unit, or a foreign one), or of nobody
            q = rng.choice(enrolled[-200:])
            _, h, d, p = b.target_of(q)
            e = msgpack.unpackb(b.log.records[q - 1][3], raw=False)
            if rng.random() < 0.2:
                d = rng.choice(UNITS)
            b.n_event += 1
            raw = P.event(P.event_id(b.ORIGIN, b.n_event), min(END - 60000, max(START, clock)),
                          d, rng.choice(STAFF[d]), program=e["p"], action="cancel", person=h)
            b.add(raw, clock)
        elif r < 0.80:
            q = rng.choice(enrolled[-500:] if rng.random() < 0.8 else enrolled)
            st = b.tally.state.get((b.target_of(q)[3], b.target_of(q)[1]))
            prog = None
            if st is None or st["seq"] != q or st["moved"]:  # moved by a correction
                prog = "bhyt_hgd" if b.target_of(q)[3] == "bhxh_tn" else "bhxh_tn"
            b.void(clock, q, by=rng.choice(("admin", STAFF[b.target_of(q)[2]][0])),
                   reason=rng.choice(REASONS), program=prog)
        elif r < 0.90:
            q = rng.choice(enrolled[-500:])
            _, h, d, p = b.target_of(q)
            new = {}
            x = rng.random()
            if x < 0.3:
                new["np"] = "bhyt_hgd" if p == "bhxh_tn" else "bhxh_tn"
            if x > 0.2:
                new["a"] = rng.choice(STAFF[d])
            if rng.random() < 0.3:
                new["g"] = rng.choice(GROUPS)
            if not new:
                new["a"] = rng.choice(STAFF[d])
            b.correct(clock, q, reason=rng.choice(REASONS), **new)
        elif r < 0.93:
            b.target(clock, rng.choice(("bhxh_tn", "bhyt_hgd")), rng.choice((0,) + UNITS),
                     rng.randrange(1, 500), START + rng.randrange(span))
        elif r < 0.97:
            b.close(clock, rng.choice((0,) + UNITS), rng.choice(days))
        else:
            b.reopen(clock, rng.choice((0,) + UNITS), rng.choice(days))
        seq = len(b.log.records)
        while want and seq >= want[0]:
            if seq == want[0]:
                snaps[want[0]] = Counter(b.tally.c)
            want.pop(0)
    return b, snaps
