"""Aggregator ingest: acks, dedup, every validation rule, bad messages, and many
concurrent submitters with overlapping resends — against the real binary.

Every test asserts exact figures from the aggregator's acks, its snapshot, and
its LMDB files read directly (python3-lmdb), including the hash chain."""
import os
import signal
import threading

import aggh as A
from aggh import H, P


def test_ack_duplicate_conflict():
    with H.Workdir("agg-basic") as wd:
        agg, eps = A.start(wd)
        c = P.Client(eps["ingest"])
        o = os.urandom(8)
        evs = [A.ev(o, i) for i in range(1, 6)] + [A.ev(o, 6, program="bhyt_hgd")]
        r = c.call(evs)
        assert r["k"] == "ack" and r["n"] == 1, r
        assert [x[1:] for x in r["r"]] == [(P.ACCEPTED, 0)] * 6, r
        assert [x[0] for x in r["r"]] == [P.event_id(o, i) for i in range(1, 7)]
        assert r["s"] == 6
        r = c.call(evs[:3])                       # resend: duplicates
        assert [x[1:] for x in r["r"]] == [(P.DUPLICATE, 0)] * 3, r
        assert r["s"] == 6
        other = A.ev(o, 2, program="bhyt_hgd")    # same id, other bytes
        r = c.call([other, A.ev(o, 7)])
        assert [x[1:] for x in r["r"]] == [(P.REJECTED, P.ERR["conflict"]), (P.ACCEPTED, 0)], r
        snp = A.snapshot(eps)
        assert snp["s"] == 7
        assert snp["c"][A.net_key(672, "bhxh_tn")] == 6
        assert snp["c"][A.net_key(672, "bhyt_hgd")] == 1
        c.close()
        assert agg.stop() == 0
        assert any('msg="stopped"' in ln for ln in agg.lines)
        st = A.Store(eps["data"])
        n, head = st.verify_chain()
        assert n == 7 and head == snp["h"] or n == 7
        assert len(st.id_set()) == 7
        assert all(col == "insecure" for _, col, _ in st.events())
        st.close()


def _bad_utf8(o, seq):
    b = A.ev(o, seq, commune="XX")
    assert b.count(b"\xa2XX") == 1
    return b.replace(b"\xa2XX", b"\xa2\xff\xfe")


def _dup_key(o, seq):
    b = A.ev(o, seq)
    assert b[0] & 0xF0 == 0x80
    return bytes([b[0] + 1]) + b[1:] + b"\xa1v\x01"


def test_every_validation_rule():
    """Each invalid event gets its specific code; valid neighbours are accepted;
    nothing of an invalid event is stored."""
    with H.Workdir("agg-valid") as wd:
        agg, eps = A.start(wd)
        c = P.Client(eps["ingest"])
        o = os.urandom(8)
        cases = [
            ("wrong_campaign", A.ev(o, 101, campaign="other-2023")),
            ("unknown_district", A.ev(o, 102, district=999, agent="LD672-001")),
            ("unknown_agent", A.ev(o, 103, agent="LD672-999")),
            ("agent_not_in_district", A.ev(o, 104, district=672, agent="LD673-001")),
            ("unknown_program", A.ev(o, 105, program="bhyt_xyz")),
            ("outside_window", A.ev(o, 106, t=A.T0 - 10 * A.DAY)),
            ("outside_window", A.ev(o, 107, t=A.T0 + 30 * A.DAY)),
            ("unknown_group", A.ev(o, 108, group="nope")),
            ("bad_version", A.ev(o, 109, v=2)),
            ("unknown_key", A.ev(o, 110, extra={"zz": 1})),
            ("wrong_type", A.ev(o, 111, extra={"d": "672"})),
            ("bad_person_ref", A.ev(o, 112, person=b"\x01" * 31)),
            ("string_too_long", A.ev(o, 113, commune="x" * 200)),
            ("bad_utf8", _bad_utf8(o, 114)),
            ("trailing_bytes", A.ev(o, 115) + b"\x00"),
            ("duplicate_key", _dup_key(o, 116)),
            ("not_map", P.msgpack.packb([1, 2, 3])),
            ("bad_value", A.ev(o, 117, action="undo")),
            ("bad_value", A.ev(o, 118, months=0)),
        ]
        # missing field: an event without the agent
        m = P.decode_event(A.ev(o, 119))
        del m["a"]
        cases.append(("missing_field", P.msgpack.packb(m, use_bin_type=True)))
        m = P.decode_event(A.ev(o, 120))
        m["id"] = b"\x01" * 15
        cases.append(("bad_event_id", P.msgpack.packb(m, use_bin_type=True)))
        frames, expect = [], []
        for i, (code, b) in enumerate(cases):
            frames.append(A.ev(o, 1 + i))          # a valid neighbour before each
            expect.append((P.ACCEPTED, 0))
            frames.append(b)
            expect.append((P.REJECTED, P.ERR[code]))
        r = c.call(frames)
        got = [x[1:] for x in r["r"]]
        for i, (g, e) in enumerate(zip(got, expect)):
            name = cases[i // 2][0] if i % 2 else "valid"
            assert g == e, f"item {i} ({name}): got {g} ({P.ERR_NAME.get(g[1])}), want {e}"
        assert len(got) == len(expect)
        nvalid = len(cases)
        assert r["s"] == nvalid
        snp = A.snapshot(eps)
        assert snp["s"] == nvalid
        assert snp["c"][A.net_key(672, "bhxh_tn")] == nvalid
        assert sum(v for k, v in snp["c"].items() if k[0] == P.COUNT_NET) == nvalid
        assert agg.stop() == 0
        st = A.Store(eps["data"])
        assert st.verify_chain()[0] == nvalid
        ids = st.id_set()
        assert set(ids) == {P.event_id(o, 1 + i) for i in range(len(cases))}
        st.close()


def test_bad_messages():
    """A message that does not decode gets one "err" (with its token when
    readable) and changes nothing; the connection keeps working."""
    with H.Workdir("agg-badmsg") as wd:
        agg, eps = A.start(wd)
        c = P.Client(eps["ingest"])
        o = os.urandom(8)
        c.send_raw(b"\xff\x00garbage")
        r = c.recv()
        assert r == {"v": 1, "k": "err", "n": None, "c": P.ERR["trailing_bytes"]}, r
        c.send_raw(b"\xc1")                     # the reserved byte
        r = c.recv()
        assert r == {"v": 1, "k": "err", "n": None, "c": P.ERR["malformed"]}, r
        c.send_raw(P.snapshot_request())
        r = c.recv()
        assert r == {"v": 1, "k": "err", "n": None, "c": P.ERR["bad_message_kind"]}, r
        c.send_raw(b"\xdd\x00\xff\xff\xff")     # declares 16M elements, has none
        r = c.recv()
        assert r["k"] == "err" and r["c"] == P.ERR["declared_size"], r
        big = [A.ev(o, i) for i in range(1, 4098)]  # one more than allowed
        c.send(big, token=77)
        r = c.recv(30)
        assert r["k"] == "err" and r["n"] == 77 and r["c"] == P.ERR["too_many"], r
        c.sock.send_multipart([P.submit(5, [A.ev(o, 1)]), b"extra"])
        r = c.recv()
        assert r["k"] == "err" and r["c"] == P.ERR["malformed"], r
        m = P.msgpack.packb({"v": 1, "k": "sub", "n": 9, "e": [A.ev(o, 1)], "x": 1},
                            use_bin_type=True)
        c.send_raw(m)
        r = c.recv()
        assert r["k"] == "err" and r["n"] == 9 and r["c"] == P.ERR["unknown_key"], r
        snp = A.snapshot(eps)
        assert snp["s"] == 0 and snp["c"] == {}
        r = c.call([A.ev(o, 1)])                  # still works
        assert r["r"][0][1:] == (P.ACCEPTED, 0) and r["s"] == 1
        # an empty submit is refused by the protocol (bad_value), with its token
        r = c.call([])
        assert r["k"] == "err" and r["n"] == c.token and r["c"] == P.ERR["bad_value"], r
        assert agg.stop() == 0


def test_concurrent_submitters_with_resends():
    """6 concurrent collectors, pipelined, each also resending another's events
    (same bytes) and its own: exact counts, log == distinct valid events."""
    NW, N, BATCH, WINDOW = 6, 1500, 50, 8
    districts = [672, 673, 676, 678, 679, 68]
    origins = [os.urandom(8) for _ in range(NW)]
    events = [[A.ev(origins[w], i, district=districts[w],
                    program="bhxh_tn" if i % 3 == 0 else "bhyt_hgd") for i in range(1, N + 1)]
              for w in range(NW)]
    with H.Workdir("agg-conc") as wd:
        agg, eps = A.start(wd)
        results = [None] * NW
        errors = []

        def worker(w):
            try:
                c = P.Client(eps["ingest"])
                mine = events[w]
                theirs = events[(w + 1) % NW]
                chunks = []
                for i in range(0, N, BATCH):
                    chunks.append(mine[i:i + BATCH])
                    if (i // BATCH) % 3 == 0:
                        chunks.append(theirs[i:i + BATCH])  # overlapping resend
                    if (i // BATCH) % 5 == 0:
                        chunks.append(mine[max(0, i - BATCH):i + BATCH])  # own resend
                status = {}
                inflight = {}
                k = 0
                while k < len(chunks) or inflight:
                    while k < len(chunks) and len(inflight) < WINDOW:
                        tok = c.send(chunks[k])
                        inflight[tok] = chunks[k]
                        k += 1
                    r = c.recv(30)
                    assert r is not None and r["k"] == "ack", r
                    sent = inflight.pop(r["n"])
                    assert len(r["r"]) == len(sent)
                    for (eid, st, code) in r["r"]:
                        assert st in (P.ACCEPTED, P.DUPLICATE) and code == 0, (st, code)
                        status.setdefault(eid, []).append(st)
                results[w] = status
                c.close()
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        ts = [threading.Thread(target=worker, args=(w,)) for w in range(NW)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        assert not errors, errors
        # each distinct id accepted exactly once over all acks
        accepted = {}
        for st in results:
            for eid, sts in st.items():
                accepted[eid] = accepted.get(eid, 0) + sts.count(P.ACCEPTED)
        assert len(accepted) == NW * N
        assert all(v == 1 for v in accepted.values()), "an id was accepted twice"
        snp = A.snapshot(eps)
        assert snp["s"] == NW * N
        for w, d in enumerate(districts):
            n_bhxh = len([i for i in range(1, N + 1) if i % 3 == 0])
            assert snp["c"][A.net_key(d, "bhxh_tn")] == n_bhxh
            assert snp["c"][A.net_key(d, "bhyt_hgd")] == N - n_bhxh
        agg.wait_log(r'msg="stats".* accepted=%d ' % (NW * N), timeout=10)
        assert agg.stop() == 0
        st = A.Store(eps["data"])
        assert st.verify_chain()[0] == NW * N
        assert set(st.id_set()) == set(accepted)
        assert A.expected_net(st.events()) == {k: v for k, v in st.count_map().items()
                                                if k[0] == P.COUNT_NET}
        st.close()


def test_sigterm_and_restart_keeps_everything():
    with H.Workdir("agg-restart") as wd:
        agg, eps = A.start(wd)
        c = P.Client(eps["ingest"])
        o = os.urandom(8)
        r = c.call([A.ev(o, i) for i in range(1, 101)])
        assert r["s"] == 100
        c.close()
        agg.signal(signal.SIGINT)
        assert agg.wait(20) == 0
        agg2, eps2 = A.start(wd, data=eps["data"])
        agg2.wait_log(r'msg="ready".*head_seq=100 ')
        c = P.Client(eps2["ingest"])
        r = c.call([A.ev(o, i) for i in range(95, 106)])
        assert [x[1] for x in r["r"]] == [P.DUPLICATE] * 6 + [P.ACCEPTED] * 5
        assert r["s"] == 105
        c.close()
        assert agg2.stop() == 0


def _campaign_around_now(wd):
    """The shipped campaign with its window moved around today (for in_future)."""
    src = os.path.join(H.SRC, "examples", "lamdong-2023")
    with open(os.path.join(src, "campaign.ini"), encoding="utf-8") as f:
        ini = f.read()
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc)
    start = (now - datetime.timedelta(days=2)).strftime("%Y-%m-%dT00:00:00+00:00")
    end = (now + datetime.timedelta(days=8)).strftime("%Y-%m-%dT00:00:00+00:00")
    import re
    ini = re.sub(r"(?m)^start = .*$", "start = " + start, ini)
    ini = re.sub(r"(?m)^end = .*$", "end = " + end, ini)
    ini = re.sub(r"(?m)^roster = .*$", "roster = " + os.path.join(src, "staff.csv"), ini)
    path = wd.sub("campaign-now.ini")
    with open(path, "w", encoding="utf-8") as f:
        f.write(ini)
    return path


def test_in_future_and_no_future_check():
    """occurred-at more than max_future (300 s) ahead of the aggregator's clock is
    rejected as in_future; --no-future-check accepts it."""
    import time
    with H.Workdir("agg-future") as wd:
        camp = _campaign_around_now(wd)
        o = os.urandom(8)
        now_ms = int(time.time() * 1000)
        near = A.ev(o, 1, t=now_ms + 60_000)           # within max_future
        far = A.ev(o, 2, t=now_ms + 3_600_000)         # an hour ahead
        agg, eps = A.start(wd, name="a1", extra=["--campaign", camp])
        c = P.Client(eps["ingest"])
        r = c.call([near, far])
        assert [x[1:] for x in r["r"]] == [(P.ACCEPTED, 0), (P.REJECTED, P.ERR["in_future"])], r
        c.close()
        assert agg.stop() == 0
        agg, eps = A.start(wd, name="a2", extra=["--campaign", camp, "--no-future-check"])
        c = P.Client(eps["ingest"])
        r = c.call([near, far])
        assert [x[1:] for x in r["r"]] == [(P.ACCEPTED, 0), (P.ACCEPTED, 0)], r
        c.close()
        assert agg.stop() == 0


def _campaign_copy(wd, name, drop_agent=None):
    """The shipped campaign + roster copied into wd (roster optionally without
    one agent). Returns (ini path, fingerprint = BLAKE2b-256(ini || roster))."""
    import hashlib
    src = os.path.join(H.SRC, "examples", "lamdong-2023")
    with open(os.path.join(src, "staff.csv"), "rb") as f:
        roster = f.read()
    if drop_agent:
        roster = b"".join(ln for ln in roster.splitlines(keepends=True)
                          if not ln.startswith(drop_agent.encode() + b","))
    rpath = wd.sub(name + "-staff.csv")
    with open(rpath, "wb") as f:
        f.write(roster)
    with open(os.path.join(src, "campaign.ini"), "rb") as f:
        ini = f.read()
    import re
    ini = re.sub(rb"(?m)^roster = .*$", b"roster = " + rpath.encode(), ini)
    path = wd.sub(name + ".ini")
    with open(path, "wb") as f:
        f.write(ini)
    return path, hashlib.blake2b(ini + roster, digest_size=32).digest()


def test_campaign_fingerprint():
    """A store refuses to run with an edited campaign (exit 2 naming both
    fingerprints) unless --accept-campaign-change, which records the new one
    (meta "fingerprint" and "fingerprint@<head seq>"); a resend of an event
    accepted before the edit (its agent now off the roster) is a duplicate;
    chitieu-audit verify warns (exit 0) when given another campaign file."""
    with H.Workdir("agg-fingerprint") as wd:
        o = os.urandom(8)
        evs = [A.ev(o, i) for i in (1, 2, 3)]
        gone = P.decode_event(evs[2])["a"]
        camp_a, fp_a = _campaign_copy(wd, "camp-a")
        camp_b, fp_b = _campaign_copy(wd, "camp-b", drop_agent=gone)
        assert fp_a != fp_b
        data = wd.sub("data")
        agg, eps = A.start(wd, name="a1", extra=["--campaign", camp_a], data=data)
        c = P.Client(eps["ingest"])
        r = c.call(evs)
        assert [x[1:] for x in r["r"]] == [(P.ACCEPTED, 0)] * 3, r
        c.close()
        assert agg.stop() == 0
        # edited campaign, no flag: refused, exit 2, both fingerprints named
        agg, eps = A.start(wd, name="a2", extra=["--campaign", camp_b], data=data, wait=False)
        assert agg.wait(20) == 2
        agg.wait_log(r"store fingerprint %s\.\.\., campaign fingerprint %s\.\.\.; .*"
                     r"--accept-campaign-change" % (fp_a.hex()[:16], fp_b.hex()[:16]))
        # with the flag: runs, logs a warning, records the change
        agg, eps = A.start(wd, name="a3", data=data,
                           extra=["--campaign", camp_b, "--accept-campaign-change"])
        agg.wait_log(r'level=warn .*msg="campaign changed; new fingerprint accepted.*old=%s new=%s '
                     r'head_seq=3' % (fp_a.hex()[:16], fp_b.hex()[:16]))
        c = P.Client(eps["ingest"])
        r = c.call([evs[2], A.ev(o, 4, agent=gone)])  # resend (lost ack); new event
        assert [x[1:] for x in r["r"]] == [(P.DUPLICATE, 0),
                                           (P.REJECTED, P.ERR["unknown_agent"])], r
        c.close()
        assert agg.stop() == 0
        # the new fingerprint is now the store's: no flag needed
        agg, eps = A.start(wd, name="a4", extra=["--campaign", camp_b], data=data)
        assert agg.stop() == 0
        st = A.Store(data)
        try:
            with st.env.begin(db=st.meta) as t:
                meta = {bytes(k): bytes(v) for k, v in t.cursor()}
        finally:
            st.close()
        assert meta[b"fingerprint"] == fp_b and meta[b"fingerprint@3"] == fp_b, meta.keys()
        assert [k for k in meta if k.startswith(b"fingerprint@")] == [b"fingerprint@3"]
        # audit verify: a warning (not a failure) when given another campaign
        # file than the store's current one (a benign edit: a comment line)
        camp_c = wd.sub("camp-c.ini")
        with open(camp_a, "rb") as f, open(camp_c, "wb") as g:
            ini_c = f.read() + b"# edited: comment only\n"
            g.write(ini_c)
        data2 = wd.sub("data2")
        agg, eps = A.start(wd, name="b1", extra=["--campaign", camp_a], data=data2)
        c = P.Client(eps["ingest"])
        r = c.call(evs)
        assert [x[1:] for x in r["r"]] == [(P.ACCEPTED, 0)] * 3, r
        c.close()
        assert agg.stop() == 0
        agg, eps = A.start(wd, name="b2", data=data2,
                           extra=["--campaign", camp_c, "--accept-campaign-change"])
        assert agg.stop() == 0
        audit = H.binary("chitieu-audit")
        r = H.run([audit, "verify", "--data", data2, "--campaign", camp_a, "--quiet"],
                  check=False)
        assert r.returncode == 0 and r.stdout.startswith("OK seq=3 "), (r.returncode, r.stdout)
        with open(os.path.join(H.SRC, "examples", "lamdong-2023", "staff.csv"), "rb") as f:
            import hashlib
            fp_c = hashlib.blake2b(ini_c + f.read(), digest_size=32).digest()
        assert ("warning: the campaign file's fingerprint %s... differs from the store's current "
                "one %s..." % (fp_a.hex()[:16], fp_c.hex()[:16])) in r.stderr, r.stderr
        r = H.run([audit, "verify", "--data", data2, "--campaign", camp_c, "--quiet"],
                  check=False)
        assert r.returncode == 0 and "warning" not in r.stderr, (r.returncode, r.stdout, r.stderr)


def test_usage_errors():
    agg = H.binary("chitieu-aggregator")
    r = H.run([agg, "--help"])
    for opt in ("--campaign", "--data", "--ingest", "--feed", "--snapshot", "--map-size",
                "--batch-max", "--keys", "--auth", "--insecure", "--stats-interval",
                "--max-connections", "--no-future-check"):
        assert opt in r.stdout, opt
    assert H.run([agg, "--version"]).stdout.startswith("chitieu-aggregator ")
    assert H.run([agg], check=False).returncode == 2
    assert H.run([agg, "--data", "/tmp/x"], check=False).returncode == 2  # neither mode
    assert H.run([agg, "--data", "/tmp/x", "--insecure", "--keys", "k"], check=False).returncode == 2
    assert H.run([agg, "--data", "/tmp/x", "--insecure", "--map-size", "12Q"],
                 check=False).returncode == 2
    with H.Workdir("agg-usage") as wd:
        bad = wd.sub("bad-campaign.ini")
        with open(bad, "w") as f:
            f.write("[campaign]\nid = x\nbogus = 1\n")
        r = H.run([agg, "--data", wd.sub("d"), "--insecure", "--campaign", bad], check=False)
        assert r.returncode == 2 and "bad-campaign.ini:" in r.stderr, r.stderr


if __name__ == "__main__":
    H.main([test_ack_duplicate_conflict, test_every_validation_rule, test_bad_messages,
            test_concurrent_submitters_with_resends, test_sigterm_and_restart_keeps_everything,
            test_in_future_and_no_future_check, test_campaign_fingerprint, test_usage_errors])
