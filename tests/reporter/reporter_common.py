"""reporter_common — helpers for the reporter's integration tests: a
deterministic event generator over the real Lâm Đồng roster, a real aggregator
in a Workdir, and the expected report figures computed independently (in
Python) from the aggregator's snapshot, so the reporter's output can be
compared with the aggregator's counts exactly.
"""
import csv
import hashlib
import json
import os
import random
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ctharness as h  # noqa: E402
import ctproto as cp  # noqa: E402

ROSTER = os.path.join(h.SRC, "examples", "lamdong-2023", "staff.csv")
START_MS = 1689987600000   # 2023-07-22T08:00:00+07:00
END_MS = 1690822800000     # 2023-08-01T00:00:00+07:00
TZ_MS = 7 * 3600 * 1000
PROGS = ["bhxh_tn", "bhyt_hgd"]
AGENT_TARGET = {"bhxh_tn": 1, "bhyt_hgd": 2}


def roster():
    with open(ROSTER, encoding="utf-8") as f:
        return [(r["agent_id"], int(r["district"]), r["name"]) for r in csv.DictReader(f)]


class Generator:
    """Realistic stream: enrolls (1:2 programs), some repeats, some cancels,
    some in the nq143 group, times spread over the window."""

    def __init__(self, seed=1):
        self.rng = random.Random(seed)
        self.origin = hashlib.blake2b(str(seed).encode(), digest_size=8).digest()
        self.seq = 0
        self.agents = roster()
        self.enrolled = []  # (program, person, district, agent)

    def next(self):
        r = self.rng
        self.seq += 1
        eid = cp.event_id(self.origin, self.seq)
        t = START_MS + r.randrange(END_MS - START_MS - 1000)
        x = r.random()
        if x < 0.06 and self.enrolled:
            prog, person, district, agent = self.enrolled[r.randrange(len(self.enrolled))]
            return cp.event(eid, t, district, agent, program=prog, action="cancel", person=person)
        if x < 0.10 and self.enrolled:
            prog, person, district, agent = self.enrolled[r.randrange(len(self.enrolled))]
            return cp.event(eid, t, district, agent, program=prog, person=person)
        agent, district, _ = self.agents[r.randrange(len(self.agents))]
        prog = "bhxh_tn" if r.random() < 1 / 3 else "bhyt_hgd"
        person = hashlib.blake2b(b"p" + eid, digest_size=32).digest()
        self.enrolled.append((prog, person, district, agent))
        group = "nq143" if r.random() < 0.2 else None
        return cp.event(eid, t, district, agent, program=prog, person=person, group=group,
                        months=12 if prog == "bhxh_tn" else None)

    def batch(self, n):
        return [self.next() for _ in range(n)]


def start_aggregator(wd, extra=()):
    ep = {"ingest": wd.ipc("ingest"), "feed": wd.ipc("feed"), "snapshot": wd.ipc("snap")}
    agg = wd.start([h.binary("chitieu-aggregator"), "--data", wd.sub("data"), "--insecure",
                    "--ingest", ep["ingest"], "--feed", ep["feed"], "--snapshot", ep["snapshot"],
                    "--stats-interval", "0", *extra], name="aggregator")
    agg.wait_log(r'msg="ready"')
    return agg, ep


def submit_all(client, events, per_call=500):
    """Submits events in calls of per_call; asserts every one accepted."""
    for i in range(0, len(events), per_call):
        r = client.call(events[i:i + per_call], timeout=30)
        h.check(r is not None and r["k"] == "ack", f"no ack: {r!r:.200}")
        bad = [x for x in r["r"] if x[1] != cp.ACCEPTED]
        h.check(not bad, f"not accepted: {bad[:3]}")


def snapshot(ep):
    rd = cp.Reader(ep["feed"], ep["snapshot"])
    try:
        m = rd.snapshot(timeout=10)
        h.check(m is not None and m["k"] == "snp", f"no snapshot: {m!r:.200}")
        return m
    finally:
        rd.close()


def day_str(yyyymmdd):
    return f"{yyyymmdd // 10000:04d}-{yyyymmdd // 100 % 100:02d}-{yyyymmdd % 100:02d}"


def expected(snp):
    """The report's count figures, computed from a snapshot's raw counters."""
    c = snp["c"]
    agents = roster()
    districts = sorted({d for _, d, _ in agents})
    out = {"seq": snp["s"], "head": bytes(snp["h"]).hex(), "districts": {}, "province": {},
           "groups": {}, "days": {}}
    for p in PROGS:
        out["province"][p] = {"net": 0, "gross": 0, "cancelled": 0, "repeats": 0, "staff_met": 0}
    for d in districts:
        out["districts"][d] = {}
        for p in PROGS:
            pi = cp.PROGRAMS[p]
            f = {"net": c.get(cp.key(cp.COUNT_NET, pi, d), 0),
                 "gross": c.get(cp.key(cp.COUNT_GROSS, pi, d), 0),
                 "cancelled": c.get(cp.key(cp.COUNT_CANCELLED, pi, d), 0),
                 "repeats": c.get(cp.key(cp.COUNT_REPEAT, pi, d), 0),
                 "staff_met": 0}
            out["districts"][d][p] = f
            for k in ("net", "gross", "cancelled", "repeats"):
                out["province"][p][k] += f[k]
    for a, d, _ in agents:
        for p in PROGS:
            if c.get(cp.key(cp.COUNT_AGENT, cp.PROGRAMS[p], d, a), 0) >= AGENT_TARGET[p]:
                out["districts"][d][p]["staff_met"] += 1
                out["province"][p]["staff_met"] += 1
    for k, v in c.items():
        kind, prog, d, dim = cp.parse_key(k)
        p = PROGS[prog]
        if kind == cp.COUNT_GROUP:
            g = out["groups"].setdefault(dim.decode(), {q: 0 for q in PROGS})
            g[p] += v
        elif kind == cp.COUNT_DAY:
            day = day_str(struct.unpack(">I", dim)[0])
            dd = out["days"].setdefault(day, {q: 0 for q in PROGS})
            dd[p] += v
    return out


def figures_of_report(rep):
    """The same figures, read from the reporter's JSON report."""
    out = {"seq": rep["seq"], "head": rep["head"], "districts": {}, "province": {}, "groups": {},
           "days": {}}
    keys = ("net", "gross", "cancelled", "repeats", "staff_met")
    for d in rep["districts"]:
        out["districts"][d["code"]] = {p: {k: d["programs"][p][k] for k in keys} for p in PROGS}
    out["province"] = {p: {k: rep["province"]["programs"][p][k] for k in keys} for p in PROGS}
    for g in rep["groups"]:
        if any(g[p] for p in PROGS):
            out["groups"][g["id"]] = {p: g[p] for p in PROGS}
    for d in rep["days"]:
        if any(d[p] for p in PROGS):
            out["days"][d["day"]] = {p: d[p] for p in PROGS}
    return out


def strip_zero(exp):
    exp = json.loads(json.dumps(exp))
    exp["groups"] = {k: v for k, v in exp["groups"].items() if any(v.values())}
    exp["days"] = {k: v for k, v in exp["days"].items() if any(v.values())}
    exp["districts"] = {int(k): v for k, v in exp["districts"].items()}
    return exp


def assert_report_equals(rep, snp):
    got = json.loads(json.dumps(figures_of_report(rep)))
    got["districts"] = {int(k): v for k, v in got["districts"].items()}
    exp = strip_zero(expected(snp))
    if got != exp:
        for k in exp:
            if got.get(k) != exp[k]:
                raise AssertionError(f"report differs from the aggregator in {k}:\n"
                                     f" got {json.dumps(got.get(k))[:600]}\n"
                                     f" exp {json.dumps(exp[k])[:600]}")
    # internal consistency of the report itself
    for p in PROGS:
        h.check(rep["province"]["programs"][p]["net"] ==
                sum(d["programs"][p]["net"] for d in rep["districts"]), "province != sum")
        h.check(sum(d[p] for d in rep["days"]) == rep["province"]["programs"][p]["net"],
                "days != net")


def wait_until(pred, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timeout waiting for {what}")


def read_json_file(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None
