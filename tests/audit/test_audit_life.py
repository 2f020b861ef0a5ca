"""test_audit_life — chitieu-audit over logs holding campaign life entries
(docs/PROTOCOL.md §2.2, §5.3): real .ctlog files written record by record
(ctlogfile: the §6 record and hash chain) and handed to the real binary.

  - a hand-computed log (a void, a correction moving a sign-up between staff,
    a correction moving it to the other program, a void of a cancelled
    sign-up, a revision effective in the past, a close, a late event for the
    closed day, a reopen, a re-enroll after the void): exact counters from
    the engine equal the hand figures and the oracle's (tests/integration/
    oracle.py) key by key, at every position; NET = GROSS - CANCELLED -
    ΣVOIDED; the closed figure DAY - AFTER_CLOSE equals DAY before the close;
  - replay --seq/--time of a position before the life entries is byte for
    byte the same from a longer log;
  - trace: an event's whole history (the event, its void or correction with
    actor, reason, outcome), table and jsonl, by --seq, --event, --person;
  - life: every life entry, table / CSV with BOM / JSON, --kind and --unit;
  - tamper: a void's reason altered (hash mismatch at its seq); a life entry
    re-inserted and the chain rehashed that the rule refuses (divergence at
    that seq, with the rule's code); a void naming another event's id, one
    naming its own position, an undeclared reorganization (divergences);
  - a store rebuilt from the log (store import through the same rule): its
    counters equal the oracle's; a stored VOIDED, TARGET and CLOSE counter
    changed are each named by verify; export jsonl/csv carry the entries.
"""
import csv
import io
import json
import os
import struct
import sys

import msgpack

from ctharness import BIN, Workdir, binary, check, main, run

try:
    import lmdb
except ImportError:  # pyenv interpreters do not see Debian's dist-packages
    sys.path.append("/usr/lib/python3/dist-packages")
    import lmdb

import ctlogfile
import lifegen as G
import oracle as O

AUDIT = binary("chitieu-audit")
COUNTS = os.path.join(os.path.dirname(BIN.rstrip("/")), "tests", "ct_audit_counts")
T = 1690246800000  # 2023-07-25T08:00:00+07:00
H = 3600000
DAY = 20230725
W = Workdir("ct-audit-life")


def audit(*args, rc=None):
    r = run([AUDIT] + list(args), check=False)
    if rc is not None and r.returncode != rc:
        raise AssertionError(f"{args} exited {r.returncode}, wanted {rc}\n"
                             f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r


def engine_counts(path, *seqs, threads=1):
    """{seq: {key bytes: value}} from the audit engine (ct_audit_counts), at
    each of seqs and at the end (key "end")."""
    r = run([COUNTS, path, str(threads)] + [str(s) for s in seqs], check=False)
    check(r.returncode == 0, f"ct_audit_counts {path}: rc {r.returncode}\n{r.stdout}{r.stderr}")
    out, cur = {}, None
    for ln in r.stdout.splitlines():
        if ln.startswith("at "):
            cur = out.setdefault(int(ln[3:]), {})
        elif ln.startswith("end "):
            out["end"] = out[int(ln.split()[1].split("=")[1])]
            out["end_line"] = ln
        else:
            k, v = ln.split()
            cur[bytes.fromhex(k)] = int(v)
    return out


def nonzero(c):
    return {k: v for k, v in c.items() if v}


def k(kind, prog, unit, dim=b""):
    return O._k(kind, prog, unit, dim)


def build_small():
    """The hand-computed log; returns (builder, {name: seq})."""
    b = G.Builder()
    s = {}
    s["e1"] = b.event(T + 1000, 672, "LD672-001", "bhxh_tn", 1, t=T, group="nq143")
    s["e2"] = b.event(T + 61000, 672, "LD672-002", "bhxh_tn", 2, t=T + 60000)
    s["e3"] = b.event(T + 121000, 672, "LD672-003", "bhyt_hgd", 3, t=T + 120000)
    s["e4"] = b.event(T + 181000, 673, "LD673-001", "bhxh_tn", 4, t=T + 180000)
    s["c4"] = b.event(T + 241000, 673, "LD673-001", "bhxh_tn", 4, t=T + 240000,
                      action="cancel")
    s["v1"] = b.void(T + 2 * H, s["e1"], by="admin", reason='nhập nhầm, "trùng"')
    s["x2"] = b.correct(T + 2 * H + 1, s["e2"], by="LD672-001", reason="sai cán bộ",
                        a="LD672-005")
    s["x3"] = b.correct(T + 2 * H + 2, s["e3"], by="admin", reason="sai chương trình",
                        np="bhxh_tn", a="LD672-004")
    s["v4"] = b.void(T + 2 * H + 3, s["e4"], reason="hủy nhầm")
    s["tg"] = b.target(T + 3 * H, "bhxh_tn", 672, 30, T - 24 * H, reason="giao bổ sung")
    s["cl"] = b.close(T + 20 * H, 672, DAY, reason="chốt ngày 25")
    s["e5"] = b.event(T + 48 * H, 672, "LD672-006", "bhxh_tn", 5, t=T + 300000)
    s["ro"] = b.reopen(T + 49 * H, 672, DAY, reason="bổ sung số liệu")
    s["e1b"] = b.event(T + 50 * H, 672, "LD672-001", "bhxh_tn", 1, t=T + 400000)
    check(None not in s.values() and list(s.values()) == list(range(1, 15)),
          f"the oracle refused part of the hand log: {s} {b.refused}")
    return b, s


SMALL, SEQ = build_small()
SMALL_PATH = SMALL.log.write(W.sub("small.ctlog"))


def test_encoders_agree():
    """lifegen's encoder and the oracle's keys, written here from the spec, give
    the bytes of ctproto's (the protocol's python mirror): two independent
    readings of PROTOCOL §2.2 and §5.1."""
    import ctproto as P
    eid, e, h = b"\xad" * 16, b"\x01" * 16, b"\x02" * 32
    pairs = [
        (G.life("void", eid, T, "admin", "r", d=672, p="bhxh_tn", h=h, e=e, q=7),
         P.life_void(eid, T, "admin", "r", 672, "bhxh_tn", h, e, 7)),
        (G.life("correct", eid, T, "LD672-001", "r", d=672, p="bhxh_tn", h=h, e=e, q=7,
                np="bhyt_hgd", a="LD672-002", w="", g="nq143"),
         P.life_correct(eid, T, "LD672-001", "r", 672, "bhxh_tn", h, e, 7,
                        new_program="bhyt_hgd", agent="LD672-002", commune="", group="nq143")),
        (G.life("target", eid, T, "admin", "r", d=0, p="bhyt_hgd", n=3, ef=T - 1),
         P.life_target(eid, T, "admin", "r", 0, "bhyt_hgd", 3, T - 1)),
        (G.life("close", eid, T, "admin", "r", d=0, day=DAY),
         P.life_close(eid, T, "admin", "r", 0, DAY)),
        (G.life("reopen", eid, T, "admin", "r", d=673, day=DAY),
         P.life_reopen(eid, T, "admin", "r", 673, DAY)),
        (G.life("reorg", eid, T, "admin", "r", n="merge", ef=T),
         P.life_reorg(eid, T, "admin", "r", "merge", T)),
    ]
    for mine, theirs in pairs:
        check(mine == theirs, f"{mine.hex()} != {theirs.hex()}")
    d4, sq = struct.pack(">I", DAY), struct.pack(">Q", 9)
    keys = [(k(O.K_VOIDED, "bhxh_tn", 672, "A"), P.key_voided("bhxh_tn", 672, "A")),
            (k(O.K_TARGET, "bhyt_hgd", 0, struct.pack(">QQ", T, 9)),
             P.key_target("bhyt_hgd", 0, T, 9)),
            (k(O.K_CLOSE, 0, 672, d4), P.key_close(672, DAY)),
            (k(O.K_AFTER_CLOSE, "bhxh_tn", 672, d4 + sq),
             P.key_after_close("bhxh_tn", 672, DAY, 9)),
            (k(O.K_LATE_HIST, "bhxh_tn", 672, b"\x07"), P.key_late_hist("bhxh_tn", 672, 7)),
            (k(O.K_REORG, 0, 0, "merge"), P.key_reorg("merge")),
            (k(O.K_LIFE, 0, 672, sq), P.key_life(672, 9))]
    for mine, theirs in keys:
        check(mine == theirs, f"{mine.hex()} != {theirs.hex()}")
    for late in (0, 899999, 900000, 3599999, 6 * H, 24 * H - 1, 48 * H, 72 * H, 7 * 24 * H,
                 -5):
        check(O.late_bucket(late) == P.late_bucket(late), f"bucket of {late}")


def test_hand_computed_counts():
    """Every counter of the engine = the oracle's, at every position, and the
    hand-computed figures."""
    seqs = list(range(1, 15))
    got = engine_counts(SMALL_PATH, *seqs)
    t = O.Tally(version=3)
    for seq, rms, _, raw, _, _ in SMALL.log.records:
        t.apply(seq, rms, raw)
        diff = O.diff_counts(nonzero(got[seq]), nonzero(t.c))
        check(not diff, f"seq {seq}: engine vs oracle differ in {[x.hex() for x in diff]}")
    c = got["end"]
    bx, by_ = "bhxh_tn", "bhyt_hgd"
    want = {
        k(O.K_GROSS, bx, 672): 5, k(O.K_NET, bx, 672): 4, k(O.K_CANCELLED, bx, 672): 0,
        k(O.K_VOIDED, bx, 672, "LD672-001"): 1, k(O.K_CORRECTED, bx, 672): 2,
        k(O.K_AGENT, bx, 672, "LD672-001"): 1, k(O.K_AGENT, bx, 672, "LD672-002"): 0,
        k(O.K_AGENT, bx, 672, "LD672-004"): 1, k(O.K_AGENT, bx, 672, "LD672-005"): 1,
        k(O.K_AGENT, bx, 672, "LD672-006"): 1, k(O.K_GROUP, bx, 672, "nq143"): 0,
        k(O.K_GROSS, by_, 672): 0, k(O.K_NET, by_, 672): 0,
        k(O.K_AGENT, by_, 672, "LD672-003"): 0,
        k(O.K_GROSS, bx, 673): 1, k(O.K_NET, bx, 673): 0, k(O.K_CANCELLED, bx, 673): 0,
        k(O.K_VOIDED, bx, 673, "LD673-001"): 1,
        k(O.K_DAY, bx, 672, struct.pack(">I", DAY)): 4,
        k(O.K_TARGET, bx, 672, struct.pack(">QQ", T - 24 * H, SEQ["tg"])): 30,
        k(O.K_CLOSE, 0, 672, struct.pack(">I", DAY)): 0,
        k(O.K_AFTER_CLOSE, bx, 672, struct.pack(">IQ", DAY, SEQ["cl"])): 1,
        k(O.K_LATE_CLOSED, bx, 672, struct.pack(">I", DAY)): 1,
        k(O.K_AFTER_DAY, bx, 672, struct.pack(">I", DAY)): 2,
        k(O.K_RECV_DAY, bx, 672, struct.pack(">I", 20230727)): 2,
        k(O.K_LATE_HIST, bx, 672, b"\x04"): 1,  # e5, 47 h 55 min late: bucket < 48 h
        k(O.K_LATE_HIST, bx, 672, b"\x05"): 1,  # e1b, 49 h 53 min late: bucket < 72 h
        k(O.K_LATE_HIST, bx, 672, b"\x00"): 2,  # e1, e2: 1 s
        k(O.K_LATE_MAX, bx, 672): (50 * H - 400000) // 1000,
    }
    for seq, kind in ((SEQ["v1"], 1), (SEQ["x2"], 2), (SEQ["x3"], 2), (SEQ["tg"], 3),
                      (SEQ["cl"], 4), (SEQ["ro"], 5)):
        want[k(O.K_LIFE, 0, 672, struct.pack(">Q", seq))] = kind
    want[k(O.K_LIFE, 0, 673, struct.pack(">Q", SEQ["v4"]))] = 1
    bad = {x.hex(): (c.get(x, 0), v) for x, v in want.items() if c.get(x, 0) != v}
    check(not bad, f"hand figures (got, want): {bad}")
    # NET = GROSS - CANCELLED - sum VOIDED, per unit and program
    for prog in (bx, by_):
        for u in (672, 673):
            voided = sum(v for x, v in c.items() if x[0] == O.K_VOIDED and x[1:4] ==
                         k(0, prog, u)[1:4])
            check(c.get(k(O.K_NET, prog, u), 0) == c.get(k(O.K_GROSS, prog, u), 0) -
                  c.get(k(O.K_CANCELLED, prog, u), 0) - voided, f"NET identity {prog} {u}")
    # the closed figure: while the close was in force (seq 12), DAY - AFTER_CLOSE = DAY at 10
    dk = k(O.K_DAY, bx, 672, struct.pack(">I", DAY))
    ak = k(O.K_AFTER_CLOSE, bx, 672, struct.pack(">IQ", DAY, SEQ["cl"]))
    check(got[SEQ["e5"]][dk] - got[SEQ["e5"]][ak] == got[SEQ["cl"] - 1][dk] == 2,
          f"closed figure {got[SEQ['e5']][dk]} - {got[SEQ['e5']][ak]} vs "
          f"{got[SEQ['cl'] - 1][dk]}")
    # the same with three checking threads
    got3 = engine_counts(SMALL_PATH, threads=3)
    check(got3["end"] == c and got3["end_line"] == got["end_line"], "threads 3 differ")
    r = audit("verify", "--file", SMALL_PATH, rc=0)
    check(r.stdout == f"OK seq=14 head={SMALL.log.head().hex()}\n", r.stdout)
    check("life entries: 7 applied" in r.stderr, r.stderr)


def test_replay_reproduces():
    """A report at a position before the life entries, from a short log and
    from the whole log, byte for byte; --time = --seq."""
    short = SMALL.log.write(W.sub("short.ctlog"), to_seq=5)
    for fmt in ("table", "json", "csv"):
        a = audit("replay", "--file", short, "--seq", "5", "--format", fmt, "--staff", rc=0)
        b = audit("replay", "--file", SMALL_PATH, "--seq", "5", "--format", fmt, "--staff", rc=0)
        check(a.stdout == b.stdout and a.stdout, f"replay --seq 5 ({fmt}) differs")
    at = SMALL.log.records[SEQ["cl"] - 1][1]
    iso = "2023-07-26T04:00:00+07:00"
    check(at == T + 20 * H, "close receive time")
    a = audit("replay", "--file", SMALL_PATH, "--time", iso, "--format", "json", rc=0)
    b = audit("replay", "--file", SMALL_PATH, "--seq", str(SEQ["cl"]), "--now", iso,
              "--format", "json", rc=0)
    check(a.stdout == b.stdout, "replay --time vs --seq")
    rep = json.loads(a.stdout.splitlines()[0])
    check(rep["seq"] == SEQ["cl"], rep["seq"])


def test_partial_export():
    """An export starting after the sign-ups its voids and corrections name:
    verify recounts it, leaves those entries out and says so (not a
    divergence: the log before the export is not in the file)."""
    part = SMALL.log.write(W.sub("part.ctlog"), from_seq=SEQ["v1"])
    r = audit("verify", "--file", part, rc=0)
    check(r.stdout == f"OK seq=14 head={SMALL.log.head().hex()}\n", r.stdout)
    check("life entries: 3 applied" in r.stderr and "note: 4 life entries name records or days "
          f"before the export's first seq {SEQ['v1']}" in r.stderr, r.stderr)
    got = engine_counts(part)
    check(got["end"].get(k(O.K_CLOSE, 0, 672, struct.pack(">I", DAY)), 0) == 0 and
          got["end"].get(k(O.K_LIFE, 0, 672, struct.pack(">Q", SEQ["cl"]))) == 4 and
          k(O.K_LIFE, 0, 672, struct.pack(">Q", SEQ["v1"])) not in got["end"], "partial recount")
    # trace and life need the log from seq 1
    r = audit("life", "--file", part, rc=1)
    check("needs the log from seq 1" in r.stderr, r.stderr)


def test_trace_history():
    r = audit("trace", "--file", SMALL_PATH, "--seq", str(SEQ["e1"]), "--format", "jsonl", rc=0)
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    check([x["seq"] for x in rows] == [SEQ["e1"], SEQ["v1"]], rows)
    check(rows[0]["outcome"] == "COUNTED" and rows[0]["action"] == "enroll", rows[0])
    v = rows[1]
    check(v["kind"] == "void" and v["outcome"] == "VOIDED" and v["actor"] == "admin" and
          v["reason"] == 'nhập nhầm, "trùng"' and v["event_seq"] == SEQ["e1"] and
          v["event_id"] == rows[0]["event_id"] and v["unit"] == 672, v)
    # by id: the correction that moved the sign-up between staff
    eid = rows[0]["event_id"]
    e2 = json.loads(audit("trace", "--file", SMALL_PATH, "--seq", str(SEQ["e2"]), "--format",
                          "jsonl", rc=0).stdout.splitlines()[0])["event_id"]
    rows = [json.loads(x) for x in audit("trace", "--file", SMALL_PATH, "--event", e2,
                                         "--format", "jsonl", rc=0).stdout.splitlines()]
    check([x["seq"] for x in rows] == [SEQ["e2"], SEQ["x2"]], rows)
    check(rows[1]["new_agent"] == "LD672-005" and rows[1]["actor"] == "LD672-001" and
          rows[1]["outcome"] == "CORRECTED" and rows[1]["new_program"] is None, rows[1])
    # by person: the program move
    ph = G.person(3).hex()
    r = audit("trace", "--file", SMALL_PATH, "--person", ph[:16], rc=0)
    lines = r.stdout.splitlines()
    check(lines[0].split()[:3] == ["seq", "occurred", "received"] and len(lines) == 3, lines)
    check(lines[2].split()[0] == str(SEQ["x3"]) and "CORRECTED" in lines[2] and
          "np=bhxh_tn a=LD672-004" in lines[2] and 'reason="sai chương trình"' in lines[2],
          lines[2])
    # the cancelled sign-up and its void
    r = audit("trace", "--file", SMALL_PATH, "--person", G.person(4).hex(), "--format", "jsonl",
              rc=0)
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    check([(x["seq"], x["outcome"]) for x in rows] ==
          [(SEQ["e4"], "COUNTED"), (SEQ["c4"], "CANCELLED"), (SEQ["v4"], "VOIDED")], rows)
    # an event without history; bad ids
    r = audit("trace", "--file", SMALL_PATH, "--seq", str(SEQ["e5"]), rc=0)
    check(len(r.stdout.splitlines()) == 2, r.stdout)
    audit("trace", "--file", SMALL_PATH, "--event", "xyz", rc=2)
    audit("trace", "--file", SMALL_PATH, "--seq", "0", rc=2)


def test_life_listing():
    r = audit("life", "--file", SMALL_PATH, rc=0)
    lines = r.stdout.splitlines()
    check(lines[0].split()[:5] == ["seq", "received", "kind", "unit", "actor"], lines[0])
    life_seqs = [SEQ[x] for x in ("v1", "x2", "x3", "v4", "tg", "cl", "ro")]
    check([int(x.split()[0]) for x in lines[1:]] == life_seqs, lines)
    check("life: 7 entries listed" in r.stderr, r.stderr)
    row = lines[1 + life_seqs.index(SEQ["cl"])]
    check(" close " in row and " 672 " in row and "CLOSED" in row and "day=2023-07-25" in row and
          'reason="chốt ngày 25"' in row, row)
    # JSON
    js = json.loads(audit("life", "--file", SMALL_PATH, "--format", "json", rc=0).stdout)
    check(js["campaign"] == "lamdong-2023" and js["seq"] == 14 and js["count"] == 7 and
          js["head"] == SMALL.log.head().hex(), {x: js[x] for x in js if x != "entries"})
    ents = {e["seq"]: e for e in js["entries"]}
    tg = ents[SEQ["tg"]]
    check(tg["kind"] == "target" and tg["target"] == 30 and tg["program"] == "bhxh_tn" and
          tg["effective_ms"] == T - 24 * H and tg["effective"] == "2023-07-24T08:00:00+07:00" and
          tg["outcome"] == "TARGET_SET" and tg["person"] is None, tg)
    x3 = ents[SEQ["x3"]]
    check(x3["new_program"] == "bhxh_tn" and x3["program"] == "bhyt_hgd" and
          x3["new_agent"] == "LD672-004" and x3["new_group"] is None, x3)
    check(ents[SEQ["ro"]]["outcome"] == "REOPENED" and ents[SEQ["ro"]]["day"] == "2023-07-25",
          ents[SEQ["ro"]])
    # CSV with BOM
    raw = audit("life", "--file", SMALL_PATH, "--format", "csv", "--output", W.sub("life.csv"),
                rc=0)
    data = open(W.sub("life.csv"), "rb").read()
    check(data.startswith(b"\xef\xbb\xbf"), data[:8])
    rows = list(csv.DictReader(io.StringIO(data[3:].decode(), newline="")))
    check([int(x["seq"]) for x in rows] == life_seqs, rows)
    v1 = rows[0]
    check(v1["reason"] == 'nhập nhầm, "trùng"' and v1["kind"] == "void" and
          v1["outcome"] == "VOIDED" and v1["target"] == "" and v1["event_seq"] == "1", v1)
    # filters
    r = audit("life", "--file", SMALL_PATH, "--kind", "void", "--format", "json", rc=0)
    check([e["seq"] for e in json.loads(r.stdout)["entries"]] == [SEQ["v1"], SEQ["v4"]], r.stdout)
    r = audit("life", "--file", SMALL_PATH, "--kind", "close,reopen", "--format", "json", rc=0)
    check([e["seq"] for e in json.loads(r.stdout)["entries"]] == [SEQ["cl"], SEQ["ro"]], r.stdout)
    r = audit("life", "--file", SMALL_PATH, "--unit", "673", "--format", "json", rc=0)
    check([e["seq"] for e in json.loads(r.stdout)["entries"]] == [SEQ["v4"]], r.stdout)
    r = audit("life", "--file", SMALL_PATH, "--unit", "0", "--format", "json", rc=0)
    check(json.loads(r.stdout)["entries"] == [], r.stdout)
    for bad in (["--kind", "cancel"], ["--kind", "void,"], ["--format", "xml"],
                ["--unit", "70000"]):
        audit("life", "--file", SMALL_PATH, *bad, rc=2)
    r = run([AUDIT, "life", "--help"])
    check(r.stdout.startswith("usage: chitieu-audit life") and "--kind" in r.stdout, r.stdout)


def tampered(name, log):
    return log.write(W.sub(name + ".ctlog"))


def fresh_small():
    b, _ = build_small()
    return b.log


def verify_file(path, want_prefix):
    outs = [audit("verify", "--file", path, "--threads", str(n), rc=1).stdout for n in (1, 3)]
    check(outs[0] == outs[1], f"threads 1 vs 3:\n{outs[0]}\n{outs[1]}")
    check(outs[0].startswith(want_prefix), f"{path}: {outs[0]!r}, wanted {want_prefix!r}")
    return outs[0]


def test_tamper_reason():
    """A logged void's reason altered: the chain breaks at its seq."""
    log = fresh_small()
    e = msgpack.unpackb(log.records[SEQ["v1"] - 1][3], raw=False)
    e["r"] = "lý do khác"
    log.replace(SEQ["v1"], msgpack.packb(e, use_bin_type=True))
    verify_file(tampered("reason", log),
                f"FAIL seq {SEQ['v1']}: hash mismatch (record altered or reordered)\n")


def test_tamper_refused_reinserted():
    """Life entries re-inserted with a rehashed chain that the rule refuses:
    a divergence at that seq naming the rule's code."""
    cases = (("v1", SEQ["v4"] + 1, "void refused by the tally rule (already_voided"),
             ("cl", SEQ["cl"] + 1, "close refused by the tally rule (already_closed"),
             ("ro", SEQ["ro"] + 1, "reopen refused by the tally rule (not_closed"),
             ("x2", SEQ["x3"] + 1, "correct refused by the tally rule (bad_value"))
    for name, at, what in cases:
        log = fresh_small()
        log.insert(at, log.records[SEQ[name] - 1][3])
        log.rehash()
        verify_file(tampered("reins-" + name, log), f"FAIL seq {at}: {what}")
    # a void of a sign-up re-enrolled since (the person's state has moved on)
    log = fresh_small()
    raw = G.life("void", b"\xad" * 8 + struct.pack(">Q", 99), T + 60 * H, "admin", "x",
                 d=672, p="bhxh_tn", h=G.person(1), e=bytes(msgpack.unpackb(log.records[0][3])["id"]), q=SEQ["e1"])
    log.add(raw, T + 60 * H)
    verify_file(tampered("stale", log),
                "FAIL seq 15: void refused by the tally rule (not_current")


def test_tamper_target_check():
    """A void naming another event's id, or its own position, or a move to a
    program the person is enrolled in: divergences (the aggregator refuses
    them with unknown_event / correct_conflict)."""
    log = fresh_small()
    e = msgpack.unpackb(log.records[SEQ["v1"] - 1][3], raw=False)
    other = msgpack.unpackb(log.records[SEQ["e2"] - 1][3], raw=False)["id"]
    e["e"] = bytes(other)
    log.replace(SEQ["v1"], msgpack.packb(e, use_bin_type=True))
    log.rehash()
    out = verify_file(tampered("wrong-id", log), f"FAIL seq {SEQ['v1']}: void names seq 1, which "
                      f"does not hold enroll event {bytes(other).hex()} of person "
                      f"{G.person(1).hex()[:16]}... in unit 672 (unknown_event)")
    check(out.count("\n") == 1, out)
    log = fresh_small()
    e["e"] = msgpack.unpackb(log.records[0][3], raw=False)["id"]
    e["q"] = SEQ["v1"]
    log.replace(SEQ["v1"], msgpack.packb(e, use_bin_type=True))
    log.rehash()
    verify_file(tampered("self", log), f"FAIL seq {SEQ['v1']}: void names seq {SEQ['v1']}, "
                "which is not before it (unknown_event)")
    # a unit other than the sign-up's
    log = fresh_small()
    e = msgpack.unpackb(log.records[SEQ["v4"] - 1][3], raw=False)
    e["d"] = 672
    log.replace(SEQ["v4"], msgpack.packb(e, use_bin_type=True))
    log.rehash()
    verify_file(tampered("unit", log), f"FAIL seq {SEQ['v4']}: void names seq {SEQ['e4']}, "
                "which does not hold enroll event")
    # an undeclared reorganization; a life entry that does not decode
    log = fresh_small()
    log.add(G.life("reorg", b"\xad" * 16, T, "admin", "sáp nhập", n="merge-2025", ef=T), T + 61 * H)
    verify_file(tampered("reorg", log), "FAIL seq 15: life entry fails the campaign check "
                "(unknown_reorg")
    log = fresh_small()
    bad = msgpack.unpackb(log.records[SEQ["tg"] - 1][3], raw=False)
    bad["n"] = 0
    log.replace(SEQ["tg"], msgpack.packb(bad, use_bin_type=True))
    log.rehash()
    verify_file(tampered("undecodable", log), f"FAIL seq {SEQ['tg']}: life entry does not "
                "decode (bad_value")


def rebuild_small():
    d = W.sub("rebuilt")
    if not os.path.exists(os.path.join(d, "data.mdb")):
        r = audit("rebuild", "--input", SMALL_PATH, "--data", d)
        check(r.returncode == 0, f"rebuild of a log with life entries (needs the store's "
              f"write path through ct_tally_entry):\n{r.stdout}{r.stderr}")
    return d


def store_counts(d):
    env = lmdb.open(d, readonly=True, max_dbs=8, lock=False, subdir=True)
    try:
        with env.begin(db=env.open_db(b"counts", create=False)) as t:
            return {bytes(x): struct.unpack(">q", bytes(v))[0] for x, v in t.cursor()}
    finally:
        env.close()


def test_store_counts_and_tamper():
    """The store rebuilt from the log holds the oracle's counters; a stored
    VOIDED, TARGET and CLOSE counter changed are each named by verify."""
    d = rebuild_small()
    c = store_counts(d)
    want = O.recount([(r[0], r[1], r[3]) for r in SMALL.log.records])
    diff = O.diff_counts(nonzero(c), nonzero(want))
    check(not diff, f"store vs oracle: {[x.hex() for x in diff]}")
    r = audit("verify", "--data", d, rc=0)
    check(r.stdout == f"OK seq=14 head={SMALL.log.head().hex()}\n", r.stdout)
    t = W.sub("rebuilt-tampered")
    import shutil
    shutil.copytree(d, t)
    if os.path.exists(os.path.join(t, "lock.mdb")):
        os.unlink(os.path.join(t, "lock.mdb"))
    vk = k(O.K_VOIDED, "bhxh_tn", 672, "LD672-001")
    tk = k(O.K_TARGET, "bhxh_tn", 672, struct.pack(">QQ", T - 24 * H, SEQ["tg"]))
    ck = k(O.K_CLOSE, 0, 672, struct.pack(">I", DAY))
    env = lmdb.open(t, max_dbs=8, map_size=1 << 30, subdir=True)
    with env.begin(write=True, db=env.open_db(b"counts", create=False)) as tx:
        tx.put(vk, struct.pack(">q", 2))
        tx.put(tk, struct.pack(">q", 300))
        tx.put(ck, struct.pack(">q", SEQ["cl"]))  # the day closed again behind the log's back
    env.close()
    r = audit("verify", "--data", t, rc=1)
    want = ("FAIL count kind=voided program=bhxh_tn district=672 dim=LD672-001: "
            "stored 2, recount 1\n"
            "FAIL count kind=target program=bhxh_tn district=672 dim=")
    lines = r.stdout.splitlines()
    check(len(lines) == 3 and r.stdout.startswith(want) and
          "stored 300, recount 30" in lines[1] and
          lines[2].startswith("FAIL count kind=close program=") and
          lines[2].endswith(f"stored {SEQ['cl']}, recount 0"), r.stdout)


def test_export_life_rows():
    d = rebuild_small()
    out = W.sub("small.jsonl")
    audit("export", "--data", d, "--format", "jsonl", "--output", out, rc=0)
    rows = [json.loads(x) for x in open(out, encoding="utf-8")]
    check([x["seq"] for x in rows] == list(range(1, 15)), "jsonl seqs")
    check(rows[SEQ["v1"] - 1]["kind"] == "void" and "action" not in rows[SEQ["v1"] - 1] and
          rows[SEQ["v1"] - 1]["reason"] == 'nhập nhầm, "trùng"', rows[SEQ["v1"] - 1])
    check(rows[0]["action"] == "enroll" and "kind" not in rows[0], rows[0])
    out = W.sub("small.csv")
    audit("export", "--data", d, "--format", "csv", "--output", out, rc=0)
    rows = list(csv.DictReader(open(out, encoding="utf-8", newline="")))
    check([r["action"] for r in rows][SEQ["v1"] - 1:SEQ["ro"]] ==
          ["void", "correct", "correct", "void", "target", "close", "enroll", "reopen"],
          [r["action"] for r in rows])
    x2 = rows[SEQ["x2"] - 1]
    check(x2["agent"] == "LD672-001" and x2["district"] == "672" and x2["program"] == "bhxh_tn",
          x2)
    # the export of a store with life entries rebuilds to the same head
    f = W.sub("again.ctlog")
    audit("export", "--data", d, "--format", "ctlog", "--output", f, rc=0)
    check(open(f, "rb").read() == open(SMALL_PATH, "rb").read(), "ctlog export differs")


if __name__ == "__main__":
    with W:
        main([test_encoders_agree, test_hand_computed_counts, test_replay_reproduces,
              test_partial_export, test_trace_history,
              test_life_listing, test_tamper_reason, test_tamper_refused_reinserted,
              test_tamper_target_check, test_store_counts_and_tamper, test_export_life_rows])
