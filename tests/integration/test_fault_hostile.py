"""Fault scenario 9: hostile input on an AUTHENTICATED connection
(CurveZMQ, a collector key for district 672), while another authorized
collector (district 673) keeps submitting valid events.

Sent by the hostile peer, each checked for its exact reason code:
  - every truncation of valid submit frames (message level) and of valid
    events inside a well-formed submit (event level);
  - N random frames (CI 50k, long run 1M: CT_HOSTILE_RANDOM): random bytes
    biased to MessagePack map headers, random MessagePack documents, random
    byte mutations of valid events whose every event was also tampered so
    that it cannot stay valid (the id is replaced by a 15-byte one);
  - a frame over the 8 MiB limit (answered frame_too_large), one over the
    9 MiB transport cap (the connection is cut, the peer reconnects), a
    submit with too many events;
  - valid MessagePack with wrong types, missing / extra / duplicate keys, huge
    declared sizes, depth 33, invalid UTF-8, over-long strings, bad version,
    bad ids / person refs, unknown campaign / district / agent / group,
    agent of another district, another district's event (forbidden);
  - a valid event sent twice (duplicate: acked, counted once) and the same id
    with other content (conflict);
  - events far outside the campaign window and from a skewed collector clock
    (in the future beyond max_future).
A campaign whose window contains "now" (the Lâm Đồng file with start/end
moved) makes the future check reachable. Checked: every hostile item got its
reason, nothing of it is in the log or the counts (oracle), the aggregator's
RSS stays bounded, and the other collector's events were all acked accepted
during the flood (its ack count grew while the random frames flowed).
"""
import hashlib
import os
import random
import struct
import time
from collections import Counter

import msgpack

import ctharness as H
import ctproto as P
import oracle as O

N_RANDOM = O.env_int("CT_HOSTILE_RANDOM", 50000)
NOW = int(time.time() * 1000)


def live_campaign(wd):
    """lamdong-2023 with its window moved around now (2 days ago .. 8 days ahead)."""
    with open(H.CAMPAIGN, encoding="utf-8") as f:
        src = f.read()

    def iso(ms):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))

    out = []
    for line in src.splitlines():
        if line.startswith("start ="):
            line = "start = " + iso(NOW - 2 * 86400000)
        elif line.startswith("end ="):
            line = "end = " + iso(NOW + 8 * 86400000)
        elif line.startswith("roster ="):
            line = "roster = " + os.path.join(os.path.dirname(H.CAMPAIGN), "staff.csv")
        out.append(line)
    p = wd.sub("live.ini")
    with open(p, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    return p


def enc(d):
    return msgpack.packb(d, use_bin_type=True)


class Hostile:
    def __init__(self, ep, curve):
        self.c = P.Client(ep, curve=curve)
        self.got = Counter()
        self.accepted = []
        self.bad = []

    def event_cases(self, cases, want):
        """cases: {name: event bytes}; one submit each; want: {name: code name}."""
        for name, raw in cases.items():
            r = self.c.call([raw], timeout=10 * O.SLOW)
            H.check(r is not None, f"no reply for event case {name}")
            got = (P.ERR_NAME.get(r["c"]) if r["k"] == "err" else
                   P.ERR_NAME.get(r["r"][0][2]) if r["r"][0][1] == P.REJECTED else
                   P.STATUS_NAMES[r["r"][0][1]])
            self.got["event:" + str(got)] += 1
            if got != want[name]:
                self.bad.append(f"{name}: got {got}, want {want[name]}")

    def frames(self, frames, what, want=None):
        """Sends raw frames pipelined; every one must get an "err" (or an ack
        that accepts nothing). Returns the number of replies."""
        replies = 0
        burst = 256
        for k in range(0, len(frames), burst):
            part = frames[k:k + burst]
            for fr in part:
                self.c.send_raw(fr)
            n = 0
            while n < len(part):
                r = self.c.recv(10 * O.SLOW)
                H.check(r is not None, f"{what}: only {n}/{len(part)} replies in a burst")
                n += 1
                if r["k"] == "err":
                    name = P.ERR_NAME.get(r["c"], r["c"])
                    self.got[f"{what}:{name}"] += 1
                    if want and name not in want:
                        self.bad.append(f"{what}: unexpected {name}")
                elif r["k"] == "ack":
                    for i, st, code in r["r"]:
                        if st != P.REJECTED:
                            self.accepted.append((what, i, st))
                        self.got[f"{what}:{P.ERR_NAME.get(code, code)}"] += 1
            replies += n
        return replies


def test_hostile_input_authenticated():
    rng = random.Random(N_RANDOM)
    with H.Workdir("fault-hostile") as wd:
        camp = live_campaign(wd)
        keys = O.secure_setup(wd, collectors=[("hostile", 672), ("good", 673)], reporters=["rep"])
        rss = O.RssSampler()
        agg = O.Agg(wd, rss, secure=(keys["server_key"], keys["auth"]), campaign=camp)
        orc = O.Oracle(f"hostile input ({N_RANDOM} random frames)")
        agg.start()
        good = orc.add_submitter(O.Submitter(agg.eps["ingest"], curve=O.curve_for(keys, "good"),
                                             window=16, batch=4, name="good"))
        gseq = [0]

        def feed_good(n):
            evs = []
            for _ in range(n):
                gseq[0] += 1
                evs.append(O.ev(b"goodcol1", gseq[0], 673, t=NOW - 3600_000 + gseq[0]))
            orc.generated(evs)
            good.add(evs)

        feed_good(200)
        h = Hostile(agg.eps["ingest"], O.curve_for(keys, "hostile"))
        org = b"hostile1"

        def E(seq, **kw):
            kw.setdefault("t", NOW - 3600_000)
            return O.ev(org, seq, 672, **kw)

        base = E(1)
        m = msgpack.unpackb(base, raw=False)

        def mod(**ch):
            d = dict(m)
            for k, v in ch.items():
                if v is None:
                    d.pop(k)
                else:
                    d[k] = v
            return enc(d)

        deep = {"a": 1}
        for _ in range(33):
            deep = [deep]
        agent = m["a"].encode()
        cases = {
            "t as string": (mod(t="x"), "wrong_type"),
            "d as string": (mod(d="672"), "wrong_type"),
            "id as string": (mod(id="abc"), "wrong_type"),
            "missing agent": (mod(a=None), "missing_field"),
            "missing id": (mod(id=None), "missing_field"),
            "extra key": (enc({**m, "zz": 1}), "unknown_key"),
            "duplicate key": (bytes([base[0] + 1]) + b"\xa1v\x01" + base[1:], "duplicate_key"),
            "version 2": (mod(v=2), "bad_version"),
            "unknown program": (mod(p="xx"), "unknown_program"),
            "bad action": (mod(x="delete"), "bad_value"),
            "id of 15 bytes": (mod(id=b"x" * 15), "bad_event_id"),
            "person ref 31 bytes": (mod(h=b"x" * 31), "bad_person_ref"),
            "wrong campaign": (mod(c="other"), "wrong_campaign"),
            "unknown district": (mod(d=9999), "unknown_district"),
            "unknown agent": (mod(a="NOBODY"), "unknown_agent"),
            "agent of another district": (mod(a=O.AGENTS[673][0]), "agent_not_in_district"),
            "unknown group": (mod(g="nogroup"), "unknown_group"),
            "5 days before the window": (mod(t=NOW - 5 * 86400000), "outside_window"),
            "20 days after (far future)": (mod(t=NOW + 20 * 86400000), "outside_window"),
            "skewed clock +1 h": (mod(t=NOW + 3600_000), "in_future"),
            "another district (forbidden)": (enc({**m, "d": 673, "a": O.AGENTS[673][0]}),
                                             "forbidden"),
            "string over its cap": (mod(w="x" * 300), "string_too_long"),
            "huge event": (mod(w="x" * 100000), "frame_too_large"),
            "invalid UTF-8": (base.replace(agent, b"\xff\xfe" + agent[2:]), "bad_utf8"),
            "map32 declaring 2^32-1": (b"\xdf\xff\xff\xff\xff", "declared_size"),
            "array32 declaring 2^24": (b"\xdd\x00\xff\xff\xff", "declared_size"),
            "depth 33": (enc({**m, "w": deep}), "too_deep"),
            "not a map": (enc([1, 2]), "not_map"),
            "trailing byte": (base + b"\x00", "trailing_bytes"),
            "empty": (b"", "frame_empty"),
        }
        # every truncation of valid events (two shapes), inside a valid submit
        full = E(2, group="nq143", months=12, amount=1_000_000, commune="Phường 1")
        for raw in (base, full):
            for k in range(len(raw)):
                cases[f"event truncated {len(raw)}->{k}"] = (raw[:k], None)
        want = {k: v for k, (_, v) in cases.items()}
        evc = {k: raw for k, (raw, _) in cases.items()}
        for k in list(want):
            if want[k] is None:  # a truncation: any rejection code, never accepted
                want[k] = None
        for name, raw in evc.items():
            i = None
            try:
                i = O.eid_of(raw)
            except Exception:  # noqa: BLE001 — most hostile events do not decode
                pass
            if i is not None:
                orc.expect_reject[i] = raw
        trunc = {k: v for k, v in evc.items() if want[k] is None}
        exact = {k: v for k, v in evc.items() if want[k] is not None}
        h.event_cases(exact, want)
        for name, raw in trunc.items():
            r = h.c.call([raw], timeout=10 * O.SLOW)
            H.check(r is not None and r["k"] == "ack" and r["r"][0][1] == P.REJECTED,
                    f"{name}: {r!r}")
            h.got["event truncation:" + P.ERR_NAME.get(r["r"][0][2], "?")] += 1
        # message level
        sub1 = P.submit(7, [base])
        sub3 = P.submit(8, [base, full, E(3)])
        msgs = {
            "array, not a map": (enc([1]), "not_map"),
            "unknown kind": (enc({"v": 1, "k": "zzz", "n": 1, "e": []}), "bad_message_kind"),
            "version 2": (enc({"v": 2, "k": "sub", "n": 1, "e": []}), "bad_version"),
            "no events key": (enc({"v": 1, "k": "sub", "n": 1}), "missing_field"),
            "events not an array": (enc({"v": 1, "k": "sub", "n": 1, "e": 5}), "wrong_type"),
            "event not bin": (enc({"v": 1, "k": "sub", "n": 1, "e": ["x"]}), "wrong_type"),
            "extra key": (enc({"v": 1, "k": "sub", "n": 1, "e": [], "q": 1}), "unknown_key"),
            "trailing byte": (sub1 + b"\xc0", "trailing_bytes"),
            "array32 declaring 2^24": (b"\xdd\x00\xff\xff\xff", "declared_size"),
            "empty frame": (b"", "frame_empty"),
            "depth 33": (enc(deep), "too_deep"),
            "4097 events": (P.submit(9, [base] * 4097), "too_many"),
        }
        for name, (fr, code) in msgs.items():
            h.c.send_raw(fr)
            r = h.c.recv(10 * O.SLOW)
            got = r and (P.ERR_NAME.get(r["c"]) if r["k"] == "err" else r["k"])
            h.got["msg:" + str(got)] += 1
            if got != code:
                h.bad.append(f"message {name}: got {got}, want {code}")
        # every truncation of valid submit frames
        tr = [f[:k] for f in (sub1, sub3) for k in range(len(f))]
        n_tr = h.frames(tr, "frame truncation")
        H.check(n_tr == len(tr), f"{n_tr} replies for {len(tr)} truncated frames")
        rss.sample()
        hwm_before = O.proc_status(agg.proc.pid).get("VmHWM", 0)
        # random frames while the good collector keeps submitting
        acked_before = len(good.acked_set())
        feed_good(400)
        frames = []
        heads = [0x80, 0x81, 0x84, 0x8f, 0xde, 0xdf, 0x90, 0xdc, 0xdd, 0xc4, 0xc6, 0xd9, 0xdb]
        for k in range(N_RANDOM):
            kind = k % 4
            if kind == 0:
                fr = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 48)))
            elif kind == 1:
                fr = bytes([rng.choice(heads)]) + bytes(rng.getrandbits(8)
                                                        for _ in range(rng.randint(0, 40)))
            elif kind == 2:  # a submit of a mutated event whose id can never be valid
                ev = bytearray(mod(id=b"y" * 15, t=NOW - 3600_000 + k))
                for _ in range(rng.randint(1, 4)):
                    ev[rng.randrange(len(ev))] = rng.getrandbits(8)
                fr = P.submit(k, [bytes(ev)])
            else:  # a random MessagePack document shaped like a submit
                fr = enc({"v": rng.choice([1, 1, 2, "1"]), "k": rng.choice(["sub", "snq", "ack", 3]),
                          "n": rng.choice([k, -1, "x", None]),
                          "e": rng.choice([[], [b"\x80"], [b"\x81\xa1v\x01"], "e", [1, 2]])})
            frames.append(fr)
        t0 = time.time()
        n_rand = h.frames(frames, "random")
        dt = time.time() - t0
        H.check(n_rand == N_RANDOM, f"{n_rand} replies for {N_RANDOM} random frames")
        feed_good(200)
        good.wait_drained(60 * O.SLOW)
        H.check(len(good.acked_set()) - acked_before >= 600,
                "the good collector's acks did not flow during the flood")
        # over the protocol's 8 MiB frame limit, under the 9 MiB transport cap:
        # answered frame_too_large (no token: 0x80 is an empty map, then trailing
        # bytes) on the same connection
        h.c.send_raw(b"\x80" * ((8 << 20) + 1))
        r0 = h.c.recv(10 * O.SLOW)
        H.check(r0 is not None and r0["k"] == "err" and r0["n"] is None and
                r0["c"] == P.ERR["frame_too_large"], f"reply to a frame over 8 MiB: {r0}")
        # over the transport cap: the connection is cut; the peer reconnects and is served
        h.c.send_raw(b"\x80" * ((9 << 20) + 1))
        H.check(h.c.recv(2 * O.SLOW) is None, "a reply to a frame over the transport cap")
        # duplicate and conflict
        valid = E(100)
        orc.generated([valid])
        r1 = h.c.call([valid], timeout=20 * O.SLOW)
        r2 = h.c.call([valid], timeout=10 * O.SLOW)
        other = E(100, agent=O.AGENTS[672][1] if O.AGENTS[672][0] != m["a"] else O.AGENTS[672][2])
        r3 = h.c.call([other], timeout=10 * O.SLOW)
        mixed = [E(101), mod(v=2), E(102, t=NOW + 3600_000), E(103)]
        orc.generated([mixed[0], mixed[3]])
        orc.expect_reject[O.eid_of(mixed[2])] = mixed[2]
        r4 = h.c.call(mixed, timeout=10 * O.SLOW)
        st = lambda r: [(P.STATUS_NAMES[s], P.ERR_NAME.get(c)) for _, s, c in r["r"]]  # noqa: E731
        H.check(r1 is not None and st(r1) == [("accepted", "ok")], f"valid after oversize: {r1}")
        H.check(st(r2) == [("duplicate", "ok")], f"resend: {r2}")
        H.check(st(r3) == [("rejected", "conflict")], f"same id, other content: {r3}")
        H.check(st(r4) == [("accepted", "ok"), ("rejected", "bad_version"),
                           ("rejected", "in_future"), ("accepted", "ok")], f"mixed batch: {r4}")
        rss.sample()
        hwm_after = O.proc_status(agg.proc.pid).get("VmHWM", 0)
        h.c.close()
        good.close()
        H.check(not h.accepted, f"hostile items accepted: {h.accepted[:5]}")
        for k, v in h.got.items():
            orc.rejects[k.split(":", 1)[1]] += v
        orc.extra.update({
            "exact-reason cases (event/message)": f"{len(exact)}/{len(msgs)}",
            "truncations (events/frames)": f"{len(trunc)}/{len(tr)}",
            "random frames / replies / s": f"{N_RANDOM} / {n_rand} / {dt:.1f}",
            "aggregator VmHWM before/after flood kB": f"{hwm_before} / {hwm_after}",
            "good collector acked during flood": len(good.acked_set()) - acked_before})
        agg.wait_stats()
        rss.close()
        res = orc.check(agg, rss, campaign=camp, curve=O.curve_for(keys, "rep"),
                        reporter_files=(keys["rep_key"], keys["server_pub"]))
        H.check(not h.bad, "wrong reason codes:\n  " + "\n  ".join(h.bad))
        H.check(res["L"] == gseq[0] + 3, f"log has {res['L']} records, expected the "
                                         f"{gseq[0]} good events + 3 valid hostile-peer ones")
        bound = (512 if H.SANITIZE else 64) * 1024
        H.check(hwm_after - hwm_before < bound,
                f"aggregator VmHWM grew {hwm_after - hwm_before} kB during the flood")
        agg.stop()


if __name__ == "__main__":
    H.main([test_hostile_input_authenticated])
