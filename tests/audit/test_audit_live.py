"""test_audit_live — chitieu-audit against the real pipeline.

A real chitieu-aggregator (insecure, ipc) receives events from a Python
collector (tests/integration/ctproto.py); a real chitieu-reporter prints
reports (--once, fixed --now) with the log position it reflects. Then:
  - replay --seq <the reporter's seq> --now <its clock> --feed-label <its
    label> reproduces each report BYTE FOR BYTE (json, table, csv, --staff),
    also after the log has grown further;
  - verify runs on the LIVE data directory (read-only) while the aggregator
    keeps ingesting, and reports OK with the head;
  - export (live) -> rebuild into a fresh directory -> identical counts and
    chain head;
  - the exported events re-sent through the wire protocol to a fresh
    aggregator -> identical counts (the counts dbi compared key by key, and
    the replayed report figures);
  - a jsonl export re-entered through real chitieu-collector outboxes (one per
    district, person_hash import, run --once) into a fresh aggregator ->
    identical counts.
"""
import hashlib
import json
import os
import struct
import sys

try:
    import lmdb
    import msgpack
    import zmq  # noqa: F401
except ImportError:  # pyenv interpreters do not see Debian's dist-packages
    sys.path.append("/usr/lib/python3/dist-packages")
    import lmdb
    import msgpack

import ctharness as H  # noqa: E402
import ctproto as P  # noqa: E402
from ctharness import check, run  # noqa: E402

AUDIT = H.binary("chitieu-audit")
T0 = 1690246800000  # 2023-07-25T08:00:00+07:00
NOW = "2023-07-28T09:15:00+07:00"


def agents():
    import csv
    out = {}
    with open(os.path.join(H.SRC, "examples", "lamdong-2023", "staff.csv"), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.setdefault(int(row["district"]), []).append(row["agent_id"])
    return out


AGENTS = agents()
DISTRICTS = sorted(AGENTS)


def make_events(origin, start, n):
    """Deterministic mix: enrolls, repeat enrolls, cancels (own and foreign), groups."""
    evs = []
    for i in range(start, start + n):
        d = DISTRICTS[i % len(DISTRICTS)]
        ag = AGENTS[d][(i // len(DISTRICTS)) % len(AGENTS[d])]
        prog = "bhyt_hgd" if i % 3 else "bhxh_tn"
        pid = i if i % 7 else i - 7  # every 7th re-uses an earlier person: repeat
        action = "enroll"
        if i % 11 == 0:
            action, pid = "cancel", i - 11  # cancel an earlier sign-up
            if i % 22 == 0:  # ... from another district: no effect
                d = DISTRICTS[(i + 1) % len(DISTRICTS)]
                ag = AGENTS[d][0]
        if action == "cancel" and (pid % 3 != 0) != (prog == "bhyt_hgd"):
            prog = "bhyt_hgd" if pid % 3 else "bhxh_tn"
        person = hashlib.blake2b(b"p" + struct.pack(">Q", pid), digest_size=32).digest()
        kw = {}
        if action == "enroll" and i % 5 == 0:
            kw["group"] = "nq143"
        if action == "enroll" and i % 4 == 0:
            kw.update(months=12, amount=1188000, commune="Xã Lát")
        evs.append(P.event(P.event_id(origin, i), T0 + i * 60000, d, ag, program=prog,
                           action=action, person=person, **kw))
    return evs


def send_all(client, evs, batch=40):
    for k in range(0, len(evs), batch):
        r = client.call(evs[k:k + batch], timeout=20)
        check(r is not None and r["k"] == "ack", f"no ack: {r}")
        bad = [x for x in r["r"] if x[1] != P.ACCEPTED]
        check(not bad, f"not accepted: {bad[:3]}")


def start_agg(wd, name):
    eps = {"ingest": wd.ipc(name + "-in"), "feed": wd.ipc(name + "-feed"),
           "snapshot": wd.ipc(name + "-snap"), "data": wd.sub(name + "-data")}
    p = wd.start([H.binary("chitieu-aggregator"), "--data", eps["data"], "--ingest",
                  eps["ingest"], "--feed", eps["feed"], "--snapshot", eps["snapshot"],
                  "--insecure", "--stats-interval", "1"], name=name)
    p.wait_log(r'msg="ready"')
    return p, eps


def reporter_once(eps, fmt, staff=False):
    args = [H.binary("chitieu-reporter"), "--feed", eps["feed"], "--snapshot", eps["snapshot"],
            "--insecure", "--once", "--format", fmt, "--now", NOW]
    if staff:
        args.append("--staff")
    return run(args, timeout=60).stdout


def position(json_report):
    """(seq, head, feed label) the reporter printed."""
    j = json.loads(json_report.splitlines()[0])
    pos = j.get("position") or j
    seq = pos.get("seq")
    head = pos.get("head")
    feed = pos.get("feed") or j.get("feed")
    check(isinstance(seq, int) and isinstance(head, str) and feed, f"no position in {j}")
    return seq, head, feed


def replay(data, seq, fmt, feed, staff=False):
    args = [AUDIT, "replay", "--data", data, "--seq", str(seq), "--now", NOW, "--format", fmt,
            "--feed-label", feed, "--quiet"]
    if staff:
        args.append("--staff")
    return run(args).stdout


# Arrival counters (PROTOCOL §5.3: LATE_CLOSED, LATE_HIST, LATE_MAX, AFTER_DAY,
# RECV_DAY) describe when the aggregator received each enroll: a resend changes
# them. Everything else must come out identical; of these, the number of
# enrolls each describes per (program, unit) must too.
ARRIVAL = (15, 16, 17, 18, 19)


# The report's figures made of those arrival counters (docs/reporter.md: the
# "late" member, and per day what was received when): a resend changes them.
ARRIVAL_FIGURES = {"late", "after_day", "received", "received_outside", "received_cum",
                   "late_after_close", "max_s"}


def without_arrival(j):
    if isinstance(j, dict):
        return {k: without_arrival(v) for k, v in j.items() if k not in ARRIVAL_FIGURES}
    if isinstance(j, list):
        return [without_arrival(v) for v in j]
    return j


def counts_of(path):
    """The counters that do not depend on receive times, plus per (kind,
    program, unit) the sums of LATE_HIST and RECV_DAY (one per counted enroll)."""
    env = lmdb.open(path, readonly=True, max_dbs=8, lock=False, subdir=True)
    try:
        db = env.open_db(b"counts", create=False)
        with env.begin(db=db) as t:
            raw = {bytes(k): bytes(v) for k, v in t.cursor().iternext() if v != b"\0" * 8}
    finally:
        env.close()
    out = {k: v for k, v in raw.items() if k[0] not in ARRIVAL}
    for k, v in raw.items():
        if k[0] in (16, 19):
            out[k[:4]] = out.get(k[:4], 0) + struct.unpack(">q", v)[0]
    return out


def test_live_replay_verify_export_rebuild_resend():
    with H.Workdir("ct-audit-live") as wd:
        agg, eps = start_agg(wd, "agg")
        origin = b"AUDITLV1"
        c = P.Client(eps["ingest"])
        send_all(c, make_events(origin, 1, 400))
        # 1. the reporter's reports, reproduced byte for byte by the replay
        js = reporter_once(eps, "json")
        seq, head, feed = position(js)
        check(seq == 400, f"reporter at seq {seq}")
        shown = {("json", False): js, ("table", False): reporter_once(eps, "table"),
                 ("csv", True): reporter_once(eps, "csv", staff=True)}
        # the log grows past what the reporter showed
        send_all(c, make_events(origin, 401, 350))
        for (fmt, staff), text in shown.items():
            got = replay(eps["data"], seq, fmt, feed, staff)
            check(got == text, f"replay {fmt} differs from the reporter's report:\n"
                               f"--- reporter\n{text}\n--- replay\n{got}")
        js2 = reporter_once(eps, "json")
        seq2, head2, feed2 = position(js2)
        check(seq2 == 750, f"reporter at seq {seq2}")
        check(replay(eps["data"], seq2, "json", feed2) == js2, "replay at 750")
        # 2. verify on the live data directory, while ingest goes on
        c2 = P.Client(eps["ingest"])
        c2.send(make_events(origin, 751, 50))
        r = run([AUDIT, "verify", "--data", eps["data"]], check=False)
        check(r.returncode == 0 and r.stdout.startswith("OK seq="), r.stdout + r.stderr)
        r2 = c2.recv(20)
        check(r2 and r2["k"] == "ack" and all(x[1] == P.ACCEPTED for x in r2["r"]), f"{r2}")
        # 3. export while live, then stop; verify and rebuild
        ctl = wd.sub("live.ctlog")
        run([AUDIT, "export", "--data", eps["data"], "--format", "ctlog", "--output", ctl])
        c.close()
        c2.close()
        check(agg.stop() == 0, "aggregator exit")
        ok = run([AUDIT, "verify", "--data", eps["data"]]).stdout
        check(ok.startswith("OK seq=800 head="), ok)
        check(run([AUDIT, "verify", "--file", ctl]).stdout == ok, "verify --file")
        rb = run([AUDIT, "rebuild", "--input", ctl, "--data", wd.sub("rebuilt")]).stdout
        check(rb.startswith(ok.strip() + " counters="), rb)
        check(counts_of(eps["data"]) == counts_of(wd.sub("rebuilt")), "rebuilt counts")
        # 4. resend the exported events to a fresh aggregator
        evs = []
        with open(ctl, "rb") as f:
            u = msgpack.Unpacker(f, raw=False)
            header = next(u)
            check(header["k"] == "ctlog" and header["from"] == 1, f"{header}")
            for obj in u:
                if isinstance(obj, list):
                    evs.append(obj[3])
        check(len(evs) == 800, f"{len(evs)} events in export")
        agg2, eps2 = start_agg(wd, "agg2")
        c3 = P.Client(eps2["ingest"])
        send_all(c3, evs, batch=100)
        c3.close()
        check(agg2.stop() == 0, "aggregator 2 exit")
        check(counts_of(eps["data"]) == counts_of(eps2["data"]), "resent counts differ")
        ok2 = run([AUDIT, "verify", "--data", eps2["data"]]).stdout
        check(ok2.startswith("OK seq=800 head="), ok2)
        a = json.loads(replay(eps["data"], 800, "json", "replay"))
        b = json.loads(replay(eps2["data"], 800, "json", "replay"))
        for j in (a, b):  # the position differs (other receive times): compare figures
            (j.get("position") or j).pop("head", None)
        a, b = without_arrival(a), without_arrival(b)
        check(a == b, "replayed figures differ after resend")


def district_events(origin, per_district=60, districts=(68, 672, 676, 683)):
    """Persons stay in their district (repeats and cancels too), so per-district
    delivery (one collector per office) keeps every person's events in order."""
    evs = []
    seq = 0
    for j in range(per_district):
        for d in districts:
            seq += 1
            ags = AGENTS[d]
            ag = ags[j % len(ags)]
            prog = "bhyt_hgd" if j % 3 else "bhxh_tn"
            pj, action = j, "enroll"
            if j % 7 == 0 and j >= 7:
                pj = j - 7  # repeat enroll of an earlier person
                prog = "bhyt_hgd" if pj % 3 else "bhxh_tn"
            if j % 11 == 0 and j >= 11:
                pj, action = j - 11, "cancel"
                prog = "bhyt_hgd" if pj % 3 else "bhxh_tn"
            person = hashlib.blake2b(b"q" + struct.pack(">QQ", d, pj), digest_size=32).digest()
            kw = {}
            if action == "enroll" and j % 5 == 0:
                kw["group"] = "nongdan"
            if action == "enroll" and j % 4 == 1:
                kw.update(months=6, amount=594000, commune="Phường 2")
            evs.append(P.event(P.event_id(origin, seq), T0 + seq * 90000, d, ag, program=prog,
                               action=action, person=person, **kw))
    return evs


def test_resend_through_collectors():
    """export (jsonl) -> one chitieu-collector per district (person_hash import,
    run --once) -> a fresh aggregator: identical counts."""
    import csv
    with H.Workdir("ct-audit-coll") as wd:
        agg, eps = start_agg(wd, "agg")
        c = P.Client(eps["ingest"])
        send_all(c, district_events(b"AUDITCO1"))
        c.close()
        check(agg.stop() == 0, "aggregator exit")
        out = wd.sub("all.jsonl")
        run([AUDIT, "export", "--data", eps["data"], "--format", "jsonl", "--output", out])
        rows = [json.loads(x) for x in open(out, encoding="utf-8")]
        check(len(rows) == 240, f"{len(rows)} rows")
        agg2, eps2 = start_agg(wd, "agg2")
        coll = H.binary("chitieu-collector")
        cols = ["agent_id", "program", "action", "person_hash", "commune", "occurred_at",
                "months", "amount", "group"]
        for d in sorted({r["district"] for r in rows}):
            f = wd.sub(f"d{d}.csv")
            with open(f, "w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(cols)
                for r in rows:
                    if r["district"] == d:
                        w.writerow([r["agent"], r["program"], r["action"], r["person"],
                                    r["commune"] or "", r["occurred"], r["months"] or "",
                                    r["amount_vnd"] or "", r["group"] or ""])
            ob = wd.sub(f"outbox-{d}")
            run([coll, "init", "--district", str(d), "--outbox", ob])
            run([coll, "import", f, "--outbox", ob])
            run([coll, "run", "--outbox", ob, "--server", eps2["ingest"], "--insecure",
                 "--once"], timeout=120)
        check(agg2.stop() == 0, "aggregator 2 exit")
        check(counts_of(eps["data"]) == counts_of(eps2["data"]),
              "counts differ after resending through collectors")
        ok = run([AUDIT, "verify", "--data", eps2["data"]]).stdout
        check(ok.startswith("OK seq=240 head="), ok)


if __name__ == "__main__":
    H.main([test_live_replay_verify_export_rebuild_resend, test_resend_through_collectors])
