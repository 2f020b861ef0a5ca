"""oracle — the fault suite's one oracle, plus the process wrappers the
fault scenarios share.

For a run it records
  S  events generated (Python submitters: every event they were given;
     real chitieu-collector processes: every entry ever seen in their LMDB
     outbox, read with python3-lmdb while the aggregator could not drain it),
  A  events the collectors saw acked (submitters: ack accepted/duplicate;
     real collectors: entries of S that left the outbox without being moved
     to "rejected" — the collector deletes an event only on such an ack),
  L  log records (read straight from the aggregator's LMDB store),
  C  the aggregator's counts (snapshot over the wire, ctproto.Reader),
  R  a recount of the log: an independent Python implementation of the tally
     rule (docs/PROTOCOL.md §5, and §5.3 for the campaign's life entries —
     voids, corrections, targets, closed days, reorganizations — and the
     lateness counters; class Tally) over L, AND chitieu-audit verify + replay,
  F  the reporter's final view (chitieu-reporter --once --format json),
and check() prints ONE block of figures and fails the test when
  |A \\ L| > 0, duplicate ids in L, |L \\ S| > 0 (fabricated or altered bytes),
  C != R (every counter key), |S \\ L| > 0 after the drain (minus the events
  the scenario expects to be rejected), F != C, or chain verification fails.
Invariants of the harness itself: A is read BEFORE L (so an event acked at
read time was committed before L was read); nothing here writes to a store.
"""
import csv
import hashlib
import os
import random
import re
import signal
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections import Counter, deque

import lmdb
import msgpack
import zmq

import ctharness as H
import ctproto as P

SLOW = 3.0 if H.SANITIZE or os.environ.get("CT_VALGRIND") == "1" else 1.0
if os.environ.get("CT_VALGRIND") == "1":
    SLOW = 20.0
T0 = 1690246800000  # 2023-07-25T08:00:00+07:00, inside the Lam Dong window
NOW_ISO = "2023-07-31T12:00+07:00"  # fixed report clock for F and R
TZ_MS = 7 * 3600 * 1000


def env_int(name, default):
    v = os.environ.get(name)
    return int(v) if v else default


def _agents_by_district(path=None):
    out = {}
    path = path or os.path.join(H.SRC, "examples", "lamdong-2023", "staff.csv")
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.setdefault(int(row["district"]), []).append(row["agent_id"])
    return out


AGENTS = _agents_by_district()
DISTRICTS = sorted(AGENTS)


def ev(origin, seq, district=672, program=None, action="enroll", person=None, t=None,
       agent=None, **kw):
    """A valid event; a distinct person per (origin, seq) unless given."""
    if person is None:
        person = hashlib.blake2b(origin + struct.pack(">Q", seq), digest_size=32).digest()
    if agent is None:
        ags = AGENTS[district]
        agent = ags[seq % len(ags)]
    if program is None:
        program = "bhxh_tn" if seq % 3 == 0 else "bhyt_hgd"
    return P.event(P.event_id(origin, seq), T0 + seq * 1000 if t is None else t, district, agent,
                   program=program, action=action, person=person, **kw)


def mixed_events(origin, first, n, district=672, rng=None):
    """n events with enrolls, repeats and cancels (exercises the whole tally)."""
    rng = rng or random.Random(first)
    out = []
    persons = []
    for s in range(first, first + n):
        r = rng.random()
        if persons and r < 0.05:
            p, prog = rng.choice(persons)
            out.append(ev(origin, s, district, program=prog, action="cancel", person=p))
        elif persons and r < 0.08:
            p, prog = rng.choice(persons)
            out.append(ev(origin, s, district, program=prog, person=p))
        else:
            p = hashlib.blake2b(origin + struct.pack(">Q", s), digest_size=32).digest()
            prog = "bhxh_tn" if s % 3 == 0 else "bhyt_hgd"
            g = "nq143" if s % 7 == 0 else None
            out.append(ev(origin, s, district, program=prog, person=p, group=g))
            persons.append((p, prog))
    return out


def eid_of(raw):
    return bytes(msgpack.unpackb(raw, raw=False)["id"])


# ---- memory -------------------------------------------------------------------

def proc_status(pid):
    """{VmRSS, VmHWM, RssAnon, RssFile} in kB, or {} if gone. RssFile counts the
    pages of mapped files (LMDB maps its whole data file): heap growth is RssAnon."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:", "RssFile:")):
                    k, v = line.split(":")
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


class RssSampler(threading.Thread):
    """Samples VmHWM of registered processes every 0.1 s; peak per label."""

    def __init__(self):
        super().__init__(daemon=True)
        self.procs = []  # (label, Proc)
        self.peak = {}
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.start()

    def add(self, label, proc):
        with self.lock:
            self.procs.append((label, proc))

    def sample(self):
        with self.lock:
            procs = [(lbl, p) for lbl, p in self.procs if p.p.poll() is None]
        for lbl, p in procs:
            hwm = proc_status(p.pid).get("VmHWM")
            if hwm:
                with self.lock:
                    self.peak[lbl] = max(self.peak.get(lbl, 0), hwm)

    def run(self):
        while not self.stop_ev.wait(0.1):
            self.sample()

    def close(self):
        self.sample()
        self.stop_ev.set()


# ---- the aggregator across its lives --------------------------------------------

STATS_RX = re.compile(r'msg="stats".*accepted=(\d+) duplicates=(\d+) rejected=(\d+) '
                      r'rejects="([^"]*)" retry=(\d+) bad_messages=(\d+) commit_failures=(\d+)')


class Agg:
    """chitieu-aggregator on ipc endpoints of a Workdir; start/kill/restart on one data dir."""

    def __init__(self, wd, rss, name="agg", secure=None, campaign=None, data=None, extra=()):
        self.wd, self.rss, self.name = wd, rss, name
        self.eps = {"ingest": wd.ipc(name + "-in"), "feed": wd.ipc(name + "-feed"),
                    "snapshot": wd.ipc(name + "-snap")}
        self.data = data or wd.sub(name + "-data")
        self.secure = secure  # (server key file, auth file)
        self.campaign = campaign or H.CAMPAIGN
        self.extra = list(extra)
        self.lives = []
        self.ready_times = []
        self.proc = None

    def args(self, extra=()):
        a = [H.binary("chitieu-aggregator"), "--campaign", self.campaign, "--data", self.data,
             "--ingest", self.eps["ingest"], "--feed", self.eps["feed"],
             "--snapshot", self.eps["snapshot"], "--stats-interval", "1"]
        a += ["--keys", self.secure[0], "--auth", self.secure[1]] if self.secure else ["--insecure"]
        return a + self.extra + list(extra)

    def start(self, extra=(), env=None, wait=True):
        """Starts a new life; returns seconds from spawn to msg="ready"."""
        t0 = time.time()
        self.proc = self.wd.start(self.args(extra), name=self.name, env=env)
        self.lives.append(self.proc)
        self.rss.add("aggregator", self.proc)
        if wait:
            self.proc.wait_log(r'msg="ready"', timeout=30 * SLOW)
            dt = time.time() - t0
            self.ready_times.append(dt)
            return dt
        return None

    def alive(self):
        return self.proc is not None and self.proc.p.poll() is None

    def kill9(self):
        self.rss.sample()
        self.proc.kill9()

    def stop(self):
        self.rss.sample()
        rc = self.proc.stop(timeout=30 * SLOW)
        H.check(rc == 0, f"aggregator exit {rc} on SIGTERM;\n{self.proc.tail()}")

    def signal(self, sig):
        self.proc.signal(sig)

    def stats(self):
        """Sum over lives of each life's last stats line."""
        tot = Counter()
        rej = Counter()
        for p in self.lives:
            last = None
            for line in p.lines:
                m = STATS_RX.search(line)
                if m:
                    last = m
            if not last:
                continue
            for i, k in enumerate(("accepted", "duplicates", "rejected"), 1):
                tot[k] += int(last.group(i))
            tot["retry"] += int(last.group(5))
            tot["bad_messages"] += int(last.group(6))
            tot["commit_failures"] += int(last.group(7))
            for item in filter(None, last.group(4).split(",")):
                k, _, v = item.partition(":")
                rej[k] += int(v)
        return tot, rej

    def wait_stats(self):
        """Waits for a stats line newer than now (so it covers all work so far)."""
        n = len(self.proc.lines)
        self.proc.wait_log(r'msg="stats"', timeout=10 * SLOW, start=n)


# ---- collectors ------------------------------------------------------------------

class Submitter(threading.Thread):
    """A Python collector (DEALER) that behaves like chitieu-collector: a window of
    events in flight, resend after a timeout, drop an event only on an ack
    accepted/duplicate, keep rejected ones with their reason."""

    def __init__(self, endpoint, curve=None, window=64, batch=16, resend=1.0, name="py",
                 pace=0.0):
        super().__init__(daemon=True)
        self.endpoint, self.curve, self.window, self.batch = endpoint, curve, window, batch
        self.resend_s, self.name, self.pace = resend, name, pace
        self.lock = threading.Lock()
        self.events = {}
        self.pending = deque()
        self.inflight = {}
        self.tokens = {}
        self.acked = set()
        self.ack_times = []
        self.rejected = {}
        self.resends = 0
        self.dup_acks = 0
        self.retry_acks = 0
        self.errs = Counter()
        self.sent_msgs = 0
        self.stop_ev = threading.Event()
        self.error = None
        self.hold_until = 0.0  # back off after a "retry" ack (store unavailable)
        self.start()

    def add(self, raws):
        with self.lock:
            for raw in raws:
                i = eid_of(raw)
                self.events[i] = raw
                self.pending.append(i)

    def outstanding(self):
        with self.lock:
            return len(self.pending) + len(self.inflight)

    def acked_set(self):
        with self.lock:
            return set(self.acked)

    def run(self):
        try:
            self._run()
        except Exception as e:  # noqa: BLE001 — surfaced by wait_drained
            self.error = e

    def _run(self):
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.sndhwm = 100000
        P._secure(sock, self.curve)
        sock.connect(self.endpoint)
        token = 0
        while not self.stop_ev.is_set():
            now = time.time()
            with self.lock:
                while self.pending and len(self.inflight) < self.window and \
                        now >= self.hold_until:
                    ids = []
                    while self.pending and len(ids) < self.batch and \
                            len(self.inflight) + len(ids) < self.window:
                        ids.append(self.pending.popleft())
                    token += 1
                    try:
                        sock.send(P.submit(token, [self.events[i] for i in ids]), zmq.NOBLOCK)
                    except zmq.Again:
                        self.pending.extendleft(reversed(ids))
                        break
                    self.sent_msgs += 1
                    self.tokens[token] = ids
                    for i in ids:
                        self.inflight[i] = now
                    if self.pace:
                        break
                for i, t in list(self.inflight.items()):
                    if now - t > self.resend_s:
                        del self.inflight[i]
                        self.pending.append(i)
                        self.resends += 1
            if not sock.poll(int(self.pace * 1000) if self.pace else 10):
                continue
            while True:
                try:
                    m = P.decode(sock.recv(zmq.NOBLOCK))
                except zmq.Again:
                    break
                with self.lock:
                    self._on_reply(m)

    def _on_reply(self, m):
        if m["k"] == "err":
            self.errs[P.ERR_NAME.get(m["c"], m["c"])] += 1
            for i in self.tokens.pop(m.get("n"), []):
                if i in self.inflight:
                    del self.inflight[i]
                    self.pending.append(i)
            return
        if m["k"] != "ack":
            return
        self.tokens.pop(m["n"], None)
        for i, st, code in m["r"]:
            if st == P.DUPLICATE:
                self.dup_acks += 1
            if i is None or i not in self.events:
                continue
            if st in (P.ACCEPTED, P.DUPLICATE):
                if i not in self.acked:
                    self.acked.add(i)
                    self.ack_times.append(time.time())
                self.inflight.pop(i, None)
            elif st == P.REJECTED:
                self.rejected[i] = P.ERR_NAME.get(code, code)
                self.inflight.pop(i, None)
            elif st == P.RETRY:
                self.retry_acks += 1
                self.hold_until = time.time() + 0.05
                if self.inflight.pop(i, None) is not None:
                    self.pending.append(i)

    def wait_drained(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.error:
                raise self.error
            if self.outstanding() == 0:
                return
            time.sleep(0.05)
        raise AssertionError(f"submitter {self.name}: {self.outstanding()} events not acked "
                             f"after {timeout:.0f} s")

    def close(self):
        self.stop_ev.set()
        self.join(5)


class Collector:
    """A real chitieu-collector: outbox dir + `run` processes across lives."""

    def __init__(self, wd, rss, name, district, campaign=None):
        self.wd, self.rss, self.name, self.district = wd, rss, name, district
        self.outbox = wd.sub(name)
        self.campaign = campaign or H.CAMPAIGN
        self.lives = []
        self.proc = None
        H.run([H.binary("chitieu-collector"), "init", "--outbox", self.outbox, "--district",
               str(district), "--campaign", self.campaign])

    def simulate(self, seed, count):
        H.run([H.binary("chitieu-collector"), "simulate", "--outbox", self.outbox, "--seed",
               str(seed), "--count", str(count)], timeout=60 * SLOW)

    def read(self):
        """(origin, {id: raw} queued, {id: (code, raw)} rejected, meta dict)."""
        env = lmdb.open(self.outbox, readonly=True, max_dbs=8, lock=True, subdir=True)
        try:
            dbs = {n: env.open_db(n.encode(), create=False) for n in ("meta", "outbox", "rejected")}
            with env.begin() as t:
                meta = {bytes(k).decode(): bytes(v) for k, v in t.cursor(db=dbs["meta"])}
                origin = meta["origin"]
                q = {origin + bytes(k): bytes(v) for k, v in t.cursor(db=dbs["outbox"])}
                rj = {origin + bytes(k): (struct.unpack(">H", bytes(v[:2]))[0], bytes(v[2:]))
                      for k, v in t.cursor(db=dbs["rejected"])}
        finally:
            env.close()
        return origin, q, rj, meta

    def start(self, endpoint, extra=(), curve_files=None):
        a = [H.binary("chitieu-collector"), "run", "--outbox", self.outbox, "--server", endpoint,
             "--stats-interval", "1"]
        a += ["--keys", curve_files[0], "--server-key", curve_files[1]] if curve_files \
            else ["--insecure"]
        self.proc = self.wd.start(a + list(extra), name=self.name)
        self.lives.append(self.proc)
        self.rss.add("collector", self.proc)
        # its signal handlers are in place once it logs this (a SIGTERM sent
        # earlier would kill it with the default action)
        self.proc.wait_log(r'msg="delivering"', timeout=30 * SLOW)
        return self.proc

    def kill9(self):
        self.rss.sample()
        self.proc.kill9()

    def stop(self):
        self.rss.sample()
        rc = self.proc.stop(timeout=30 * SLOW)
        H.check(rc == 0, f"collector {self.name} exit {rc};\n{self.proc.tail()}")

    def resends(self):
        """Sum over lives of the last 'resent=' figure each life logged."""
        tot = 0
        for p in self.lives:
            last = 0
            for line in p.lines:
                m = re.search(r"\bresent=(\d+)", line)
                if m:
                    last = int(m.group(1))
            tot += last
        return tot


# ---- the oracle ------------------------------------------------------------------

class Store:
    """Read-only view of an aggregator data directory (python3-lmdb)."""

    def __init__(self, path):
        self.env = lmdb.open(path, readonly=True, max_dbs=8, lock=True, subdir=True)

    def close(self):
        self.env.close()

    def log(self):
        """[(seq, collector, raw event)]"""
        db = self.env.open_db(b"log", create=False)
        out = []
        with self.env.begin(db=db) as t:
            for k, v in t.cursor():
                rec = msgpack.unpackb(bytes(v), raw=False)
                out.append((struct.unpack(">Q", bytes(k))[0], rec[2], bytes(rec[3])))
        return out

    def records(self):
        """[(seq, received_ms, collector, raw entry)]"""
        db = self.env.open_db(b"log", create=False)
        out = []
        with self.env.begin(db=db) as t:
            for k, v in t.cursor():
                rec = msgpack.unpackb(bytes(v), raw=False)
                out.append((struct.unpack(">Q", bytes(k))[0], rec[1], rec[2], bytes(rec[3])))
        return out

    def counts(self):
        db = self.env.open_db(b"counts", create=False)
        with self.env.begin(db=db) as t:
            return {bytes(k): struct.unpack(">q", bytes(v))[0] for k, v in t.cursor()}


def read_log(data):
    if not os.path.exists(os.path.join(data, "data.mdb")):
        return []
    st = Store(data)
    try:
        return st.log()
    finally:
        st.close()


def read_records(data):
    """[(seq, received_ms, collector, raw entry)] of a data directory's log."""
    if not os.path.exists(os.path.join(data, "data.mdb")):
        return []
    st = Store(data)
    try:
        return st.records()
    finally:
        st.close()


def local_day(t_ms):
    d = time.gmtime((t_ms + TZ_MS) // 1000)
    return d.tm_year * 10000 + d.tm_mon * 100 + d.tm_mday


# counter kinds (docs/PROTOCOL.md §5.1): the oracle names them itself, so it
# does not lean on the implementation's python mirror for them
(K_NET, K_GROSS, K_CANCELLED, K_AGENT, K_DAY, K_GROUP, K_REPEAT, K_CANCEL_NOOP, K_COMMUNE,
 K_VOIDED, K_CORRECTED, K_TARGET, K_CLOSE, K_AFTER_CLOSE, K_LATE_CLOSED, K_LATE_HIST,
 K_LATE_MAX, K_AFTER_DAY, K_RECV_DAY, K_REORG, K_LIFE) = range(1, 22)
LIFE_KINDS = {"void": 1, "correct": 2, "target": 3, "close": 4, "reopen": 5, "reorg": 6}
LATE_BOUNDS_MS = (15 * 60000, 3600000, 6 * 3600000, 24 * 3600000, 48 * 3600000,
                  72 * 3600000, 7 * 86400000)


def late_bucket(late_ms):
    """The LATE_HIST bucket of a lateness (§5.3): 0 < 15 min ... 7 >= 7 days."""
    late_ms = max(0, late_ms)
    for i, b in enumerate(LATE_BOUNDS_MS):
        if late_ms < b:
            return i
    return 7


def _k(kind, prog, d, dim=b""):
    p = P.PROGRAMS[prog] if isinstance(prog, str) else prog
    if isinstance(dim, str):
        dim = dim.encode()
    return bytes([kind, p]) + struct.pack(">H", d) + dim


def _u32(v):
    return struct.pack(">I", v)


class Refused(ValueError):
    """A logged entry the rule refuses (the aggregator never logs one)."""

    def __init__(self, seq, code):
        super().__init__(f"seq {seq}: refused ({code})")
        self.seq, self.code = seq, code


class Tally:
    """The tally rule (docs/PROTOCOL.md §5 and §5.3, tally versions 2 and 3),
    written again in Python from the spec, over log records in seq order.
    communes: unit code -> its commune list (units absent list none).
    apply() returns the outcome name, or raises Refused (the state is then
    unchanged)."""

    def __init__(self, communes=None, version=3):
        self.communes = communes or {}
        self.version = version
        self.c = Counter()
        self.state = {}      # (program, person) -> dict
        self.enrolls = {}    # seq -> (id, person, unit) of enroll events (the log check)
        self.outcomes = {}   # seq -> outcome name

    # -- helpers
    def _day_delta(self, prog, u, day, delta):
        """DAY(prog, u, day) += delta, and AFTER_CLOSE for every close in force."""
        c = self.c
        c[_k(K_DAY, prog, u, _u32(day))] += delta
        if self.version < 3:
            return
        for unit in (u, 0):
            s = c.get(_k(K_CLOSE, 0, unit, _u32(day)), 0)
            if s:
                c[_k(K_AFTER_CLOSE, prog, u, _u32(day) + struct.pack(">Q", s))] += delta

    def _credit(self, prog, d, agent, day, group, code, delta, gross=False):
        c = self.c
        c[_k(K_NET, prog, d)] += delta
        if gross:
            c[_k(K_GROSS, prog, d)] += delta
        c[_k(K_AGENT, prog, d, agent)] += delta
        self._day_delta(prog, d, day, delta)
        if group:
            c[_k(K_GROUP, prog, d, group)] += delta
        if code:
            c[_k(K_COMMUNE, prog, d, P.commune_dim(code))] += delta

    def _closed(self, u, day):
        return any(self.c.get(_k(K_CLOSE, 0, unit, _u32(day)), 0) for unit in (u, 0))

    # -- the rule
    def apply(self, seq, received_ms, raw):
        e = msgpack.unpackb(raw, raw=False)
        if "k" in e and next(iter(e)) == "k":
            if self.version < 3:
                raise ValueError(f"seq {seq}: a life entry under tally version {self.version}")
            out = self._life(seq, e)
        else:
            out = self._event(seq, received_ms, e)
        self.outcomes[seq] = out
        return out

    def _event(self, seq, received_ms, e):
        c = self.c
        prog, d, h = e["p"], e["d"], bytes(e["h"])
        k = (prog, h)
        s = self.state.get(k)
        if e["x"] == "enroll":
            self.enrolls[seq] = (bytes(e["id"]), h, d)
            if s is not None and s["on"]:
                c[_k(K_REPEAT, prog, d)] += 1
                return "repeat"
            day = local_day(e["t"])
            code = P.commune_code(self.communes.get(d), e.get("w"))
            self._credit(prog, d, e["a"], day, e.get("g"), code, 1, gross=True)
            if self.version >= 3:
                late = max(0, received_ms - e["t"])
                rday = local_day(received_ms)
                c[_k(K_LATE_HIST, prog, d, bytes([late_bucket(late)]))] += 1
                mk = _k(K_LATE_MAX, prog, d)
                if late // 1000 > c.get(mk, 0):
                    c[mk] = late // 1000
                c[_k(K_RECV_DAY, prog, d, _u32(rday))] += 1
                if rday > day:
                    c[_k(K_AFTER_DAY, prog, d, _u32(day))] += 1
                if self._closed(d, day):
                    c[_k(K_LATE_CLOSED, prog, d, _u32(day))] += 1
            self.state[k] = {"on": True, "d": d, "a": e["a"], "day": day, "g": e.get("g") or "",
                             "w": code, "seq": seq, "voided": False, "moved": False}
            return "counted"
        if s is not None and s["on"] and s["d"] == d:
            self._credit(prog, d, s["a"], s["day"], s["g"], s["w"], -1)
            c[_k(K_CANCELLED, prog, d)] += 1
            s["on"] = False
            return "cancelled"
        c[_k(K_CANCEL_NOOP, prog, d)] += 1
        return "cancel_foreign" if s is not None and s["on"] else "cancel_noop"

    def _current(self, s, q, d):
        return s is not None and s["seq"] == q and s["d"] == d and not s["voided"] \
            and not s["moved"]

    def _life(self, seq, e):
        c = self.c
        kind = e["k"]
        if kind in ("void", "correct"):
            q, d, h, prog = e["q"], e["d"], bytes(e["h"]), e["p"]
            if self.enrolls.get(q) != (bytes(e["e"]), h, d):
                raise Refused(seq, "unknown_event")
            s = self.state.get((prog, h))
            if kind == "void":
                if s is not None and s["seq"] == q and s["d"] == d and s["voided"]:
                    raise Refused(seq, "already_voided")
                if not self._current(s, q, d):
                    raise Refused(seq, "not_current")
                if s["on"]:
                    self._credit(prog, d, s["a"], s["day"], s["g"], s["w"], -1)
                    s["on"] = False
                else:
                    c[_k(K_CANCELLED, prog, d)] -= 1
                c[_k(K_VOIDED, prog, d, s["a"])] += 1
                s["voided"] = True
                out = "voided"
            else:
                if not self._current(s, q, d) or not s["on"]:
                    raise Refused(seq, "not_current")
                na = e.get("a", s["a"])
                ng = e["g"] if "g" in e else s["g"]
                nw = P.commune_code(self.communes.get(d), e["w"]) if "w" in e else s["w"]
                np_ = e.get("np", prog)
                if np_ == prog:
                    if (na, ng, nw) == (s["a"], s["g"], s["w"]):
                        raise Refused(seq, "bad_value")
                    if na != s["a"]:
                        c[_k(K_AGENT, prog, d, s["a"])] -= 1
                        c[_k(K_AGENT, prog, d, na)] += 1
                    if ng != s["g"]:
                        if s["g"]:
                            c[_k(K_GROUP, prog, d, s["g"])] -= 1
                        if ng:
                            c[_k(K_GROUP, prog, d, ng)] += 1
                    if nw != s["w"]:
                        if s["w"]:
                            c[_k(K_COMMUNE, prog, d, P.commune_dim(s["w"]))] -= 1
                        if nw:
                            c[_k(K_COMMUNE, prog, d, P.commune_dim(nw))] += 1
                    c[_k(K_CORRECTED, prog, d)] += 1
                    s.update(a=na, g=ng, w=nw)
                else:
                    o = self.state.get((np_, h))
                    if o is not None and o["on"]:
                        raise Refused(seq, "correct_conflict")
                    self._credit(prog, d, s["a"], s["day"], s["g"], s["w"], -1, gross=True)
                    self._credit(np_, d, na, s["day"], ng, nw, 1, gross=True)
                    c[_k(K_CORRECTED, np_, d)] += 1
                    s.update(on=False, moved=True)
                    self.state[(np_, h)] = {"on": True, "d": d, "a": na, "day": s["day"],
                                            "g": ng, "w": nw, "seq": s["seq"], "voided": False,
                                            "moved": False}
                out = "corrected"
            unit = d
        elif kind == "target":
            unit = e["d"]
            c[_k(K_TARGET, e["p"], unit, struct.pack(">QQ", e["ef"], seq))] += e["n"]
            out = "target_set"
        elif kind in ("close", "reopen"):
            unit = e["d"]
            ck = _k(K_CLOSE, 0, unit, _u32(e["day"]))
            if kind == "close":
                if c.get(ck, 0):
                    raise Refused(seq, "already_closed")
                c[ck] = seq
                out = "closed"
            else:
                if not c.get(ck, 0):
                    raise Refused(seq, "not_closed")
                c[ck] = 0
                out = "reopened"
        elif kind == "reorg":
            unit = 0
            rk = _k(K_REORG, 0, 0, e["n"])
            if e["ef"] < 1:  # before the state is read
                raise Refused(seq, "bad_value")
            if c.get(rk, 0):
                raise Refused(seq, "already_applied")
            c[rk] = e["ef"]
            out = "reorg_set"
        else:
            raise ValueError(f"seq {seq}: unknown life entry kind {kind!r}")
        c[_k(K_LIFE, 0, unit, struct.pack(">Q", seq))] = LIFE_KINDS[kind]
        return out


def recount(records, communes=None, version=3):
    """The counters of a log (docs/PROTOCOL.md §5, §5.3) by Tally. records:
    (seq, received_ms, raw) tuples in log order, or (tally version 2 only,
    which needs no receive time) the raw entries alone. A record the rule
    refuses raises Refused."""
    t = Tally(communes, version)
    for i, r in enumerate(records, 1):
        if isinstance(r, (bytes, bytearray)):
            if version >= 3:
                raise ValueError("tally version 3 needs each record's seq and received_ms")
            t.apply(i, 0, bytes(r))
        else:
            t.apply(r[0], r[1], bytes(r[-1]))
    return t.c


def store_tally_version(data):
    """The tally version a data directory's counters were computed with
    (meta tally_version; 1 when absent)."""
    if not os.path.exists(os.path.join(data, "data.mdb")):
        return P.TALLY_VERSION
    env = lmdb.open(data, readonly=True, max_dbs=8, lock=True, subdir=True)
    try:
        db = env.open_db(b"meta", create=False)
        with env.begin(db=db) as t:
            v = t.get(b"tally_version")
    finally:
        env.close()
    return struct.unpack(">I", bytes(v))[0] if v else 1


def diff_counts(a, b):
    """Keys whose values differ (a missing key counts as 0)."""
    return sorted(k for k in set(a) | set(b) if a.get(k, 0) != b.get(k, 0))


FIG_KEYS = (("net", P.COUNT_NET), ("gross", P.COUNT_GROSS), ("cancelled", P.COUNT_CANCELLED),
            ("repeats", P.COUNT_REPEAT))


def report_mismatches(rep, counts):
    """Figures of a status JSON (reporter or replay) that differ from the counters."""
    bad = []
    tot = Counter()
    for d in rep["districts"]:
        for prog, f in d["programs"].items():
            for name, kind in FIG_KEYS:
                want = counts.get(P.key(kind, prog, d["code"]), 0)
                tot[(prog, name)] += want
                if f.get(name) != want:
                    bad.append(f"{d['code']}/{prog}/{name}: report {f.get(name)} counters {want}")
    for prog, f in rep["province"]["programs"].items():
        for name, _ in FIG_KEYS:
            if f.get(name) != tot[(prog, name)]:
                bad.append(f"province/{prog}/{name}: report {f.get(name)} counters "
                           f"{tot[(prog, name)]}")
    return bad


class Oracle:
    """Collects S and A during a scenario; check() computes L, C, R, F and judges."""

    def __init__(self, name):
        self.name = name
        self.S = {}            # id -> raw bytes
        self.expect_reject = {}  # id -> raw: must never reach the log
        self.submitters = []
        self.collectors = []
        self.extra = {}        # extra figures printed in the block
        self.recovery = []     # seconds
        self.acked_missing_during = 0
        self.checks_during = 0
        self.rejects = Counter()

    def add_submitter(self, s):
        self.submitters.append(s)
        return s

    def add_collector(self, c):
        self.collectors.append(c)
        return c

    def generated(self, raws):
        for raw in raws:
            self.S[eid_of(raw)] = raw

    def read_outboxes(self):
        """Adds every queued outbox entry to S; returns A from the collectors."""
        acked = set()
        for c in self.collectors:
            origin, q, rj, _ = c.read()
            for i, raw in q.items():
                prev = self.S.setdefault(i, raw)
                H.check(prev == raw, f"outbox {c.name}: id {i.hex()} changed bytes")
            for i, (code, raw) in rj.items():
                self.S.setdefault(i, raw)
            c.rejected_now = rj
            for i in self.S:
                if i[:8] == origin and i not in q and i not in rj:
                    acked.add(i)
        return acked

    def acked(self):
        a = set()
        for s in self.submitters:
            a |= s.acked_set()
        a |= self.read_outboxes()
        return a

    def check_acked_now(self, data):
        """Jepsen-style mid-run check: every event acked so far is in the log now."""
        a = self.acked()  # A before L
        ids = {eid_of(raw) for _, _, raw in read_log(data)}
        missing = a - ids
        self.checks_during += 1
        self.acked_missing_during += len(missing)
        if missing:
            raise AssertionError(f"{self.name}: {len(missing)} acked events missing from the log "
                                 f"(first {sorted(missing)[0].hex()})")
        return len(a), len(ids)

    def check(self, agg, rss=None, reporter=True, campaign=None, curve=None, reporter_files=None,
              expect_all_delivered=True):
        """The block of figures; raises AssertionError listing every failed check."""
        campaign = campaign or agg.campaign
        A = self.acked()
        records = read_records(agg.data)
        log = [(q, col, raw) for q, _, col, raw in records]
        L = [eid_of(raw) for _, _, raw in log]
        Lset = set(L)
        Lraw = {eid_of(raw): raw for _, _, raw in log}
        # C: over the wire
        rd = P.Reader(agg.eps["feed"], agg.eps["snapshot"], curve=curve)
        try:
            snp = rd.snapshot(timeout=20 * SLOW)
        finally:
            rd.close()
        fails = []
        H.check(snp is not None and snp["k"] == "snp", f"no snapshot: {snp!r}")
        C = {k: v for k, v in snp["c"].items()}
        # R: independent recount + chitieu-audit
        R = recount([(q, rms, raw) for q, rms, _, raw in records],
                    version=store_tally_version(agg.data))
        audit = H.run([H.binary("chitieu-audit"), "verify", "--data", agg.data, "--campaign",
                       campaign], check=False, timeout=120 * SLOW)
        verify_line = (audit.stdout.strip().splitlines() or ["(no output)"])[-1]
        head_hex = snp["h"].hex() if isinstance(snp["h"], (bytes, bytearray)) else str(snp["h"])
        chain_ok = audit.returncode == 0 and verify_line == f"OK seq={len(log)} head={head_hex}"
        if not chain_ok:
            fails.append(f"chain verification: rc={audit.returncode} {verify_line!r} "
                         f"(snapshot seq={snp['s']} head={head_hex}){audit.stderr[-300:]}")
        seqs = [s for s, _, _ in log]
        if seqs != list(range(1, len(log) + 1)) or snp["s"] != len(log):
            fails.append(f"log seqs not 1..N or snapshot seq {snp['s']} != {len(log)}")
        acked_missing = len(A - Lset)
        dups = len(L) - len(Lset)
        fabricated = sum(1 for i in Lset if i not in self.S or self.S[i] != Lraw[i])
        rejected_in_log = sum(1 for i in Lset if i in self.expect_reject)
        expected_undelivered = {i for i in self.S if i in self.expect_reject}
        for c in self.collectors:
            expected_undelivered |= set(getattr(c, "rejected_now", {}))
        for s in self.submitters:
            expected_undelivered |= set(s.rejected)
        undelivered = len(set(self.S) - Lset - expected_undelivered)
        # every reject a collector or submitter saw must be one the scenario provoked:
        # a valid event refused by the aggregator is a broken promise, not a non-delivery
        unexpected_rejects = len(expected_undelivered - set(self.expect_reject))
        c_vs_r = diff_counts(C, R)
        rep_r = rep_f = None
        r_bad = f_bad = []
        if log:
            r = H.run([H.binary("chitieu-audit"), "replay", "--data", agg.data, "--campaign",
                       campaign, "--seq", str(len(log)), "--format", "json", "--now", NOW_ISO,
                       "--feed-label", "live"], check=False, timeout=120 * SLOW)
            if r.returncode == 0:
                import json
                rep_r = r.stdout
                r_bad = report_mismatches(json.loads(r.stdout.splitlines()[-1]), C)
            else:
                r_bad = [f"replay failed rc={r.returncode}: {r.stderr[-300:]}"]
        f_detail = ""
        if reporter:
            a = [H.binary("chitieu-reporter"), "--campaign", campaign, "--feed", agg.eps["feed"],
                 "--snapshot", agg.eps["snapshot"], "--once", "--format", "json", "--now",
                 NOW_ISO, "--timeout", str(int(30 * SLOW))]
            a += ["--keys", reporter_files[0], "--server-key", reporter_files[1]] \
                if reporter_files else ["--insecure"]
            r = H.run(a, check=False, timeout=60 * SLOW)
            if r.returncode == 0:
                import json
                rep_f = r.stdout
                f = json.loads(r.stdout.splitlines()[-1])
                f_bad = report_mismatches(f, C)
                if f["seq"] != len(log) or f["head"] != head_hex:
                    f_bad = f_bad + [f"reporter at seq {f['seq']} head {f['head'][:16]}, log at "
                                     f"{len(log)} {head_hex[:16]}"]
                if rep_r is not None and rep_r != rep_f:
                    f_detail = " (reporter JSON != audit replay JSON byte for byte)"
                    f_bad = f_bad + ["F bytes != R bytes"]
                elif rep_r is not None:
                    f_detail = " (reporter JSON == audit replay JSON, byte for byte)"
            else:
                f_bad = [f"reporter failed rc={r.returncode}: {r.stderr[-300:]}"]
        # resends, duplicates, rejects
        resends = sum(s.resends for s in self.submitters) + sum(c.resends() for c in self.collectors)
        agg_tot, agg_rej = agg.stats()
        rej = Counter(self.rejects)
        for s in self.submitters:
            rej.update(s.rejected.values())
            for k, v in s.errs.items():
                rej["msg:" + str(k)] += v
        for c in self.collectors:
            for _, (code, _) in getattr(c, "rejected_now", {}).items():
                rej[P.ERR_NAME.get(code, code)] += 1
        rec = sorted(self.recovery or agg.ready_times)
        peak = dict(rss.peak) if rss else {}

        def fig(label, value, ok=None):
            mark = "" if ok is None else ("  ok" if ok else "  FAIL")
            return f"  {label:<34} {value}{mark}"

        lines = [f"==== oracle: {self.name} ====",
                 fig("generated |S|", len(self.S)),
                 fig("acked |A|", len(A)),
                 fig("log records |L|", len(L)),
                 fig("acked-but-missing |A\\L|", acked_missing, acked_missing == 0),
                 fig("  (mid-run checks, missing)", f"{self.checks_during}, "
                     f"{self.acked_missing_during}", self.acked_missing_during == 0),
                 fig("duplicates in log", dups, dups == 0),
                 fig("fabricated/altered |L\\S|", fabricated + rejected_in_log,
                     fabricated + rejected_in_log == 0),
                 fig("C vs R mismatches (keys/figures)", f"{len(c_vs_r)}/{len(r_bad)} "
                     f"of {len(set(C) | set(R))} counters", not c_vs_r and not r_bad),
                 fig("undelivered after drain |S\\L|", undelivered,
                     undelivered == 0 or not expect_all_delivered),
                 fig("  expected rejects (not in L)", len(expected_undelivered)),
                 fig("unexpected rejects", unexpected_rejects, unexpected_rejects == 0),
                 fig("F vs C mismatches", f"{len(f_bad)}{f_detail}" if reporter else "n/a",
                     not f_bad if reporter else None),
                 fig("chain verification", verify_line, chain_ok),
                 fig("resends (collector side)", resends),
                 fig("duplicates received (aggregator)", agg_tot.get("duplicates", 0)),
                 fig("duplicate acks seen by submitters", sum(s.dup_acks for s in self.submitters)),
                 fig("retry (store unavailable) acks", agg_tot.get("retry", 0)),
                 fig("commit failures (aggregator)", agg_tot.get("commit_failures", 0)),
                 fig("rejects by reason (client side)", dict(sorted(rej.items())) or "{}"),
                 fig("rejects by reason (aggregator)", dict(sorted(agg_rej.items())) or "{}"),
                 fig("aggregator lives", len(agg.lives)),
                 fig("recovery time s (n/median/max)",
                     f"{len(rec)}/{statistics.median(rec):.3f}/{max(rec):.3f}" if rec else "n/a"),
                 fig("peak RSS VmHWM kB", peak or "n/a")]
        for k, v in self.extra.items():
            lines.append(fig(k, v))
        print("\n".join(lines), flush=True)
        if acked_missing:
            fails.append(f"{acked_missing} acked events missing from the log")
        if dups:
            fails.append(f"{dups} duplicate ids in the log")
        if fabricated or rejected_in_log:
            fails.append(f"{fabricated} fabricated/altered and {rejected_in_log} "
                         "expected-reject events in the log")
        if c_vs_r:
            fails.append(f"C vs R: {len(c_vs_r)} counters differ, e.g. {c_vs_r[0].hex()} "
                         f"C={C.get(c_vs_r[0], 0)} R={R.get(c_vs_r[0], 0)}")
        if r_bad:
            fails.append("replay vs C: " + "; ".join(r_bad[:5]))
        if unexpected_rejects:
            fails.append(f"{unexpected_rejects} events rejected that the scenario did not expect")
        if undelivered and expect_all_delivered:
            fails.append(f"{undelivered} generated events never reached the log")
        if f_bad:
            fails.append("F vs C: " + "; ".join(f_bad[:5]))
        H.check(not fails, f"oracle {self.name} FAILED:\n  " + "\n  ".join(fails))
        return {"S": len(self.S), "A": len(A), "L": len(L), "C": C, "agg": agg_tot,
                "rejects": rej}


def wait_until(fn, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timeout ({timeout:.0f} s) waiting for {what}")


def outbox_empty(c):
    _, q, _, _ = c.read()
    return not q


def stop_all(*procs):
    for p in procs:
        if p is not None and p.p.poll() is None:
            try:
                p.p.send_signal(signal.SIGCONT)
            except OSError:
                pass


def secure_setup(wd, collectors=(), reporters=()):
    """Server key pair + client key pairs + authorization file (ctproto only).
    collectors: [(name, district)]. Returns dict with 'server', names, 'server_key',
    'server_pub', 'auth' and per-name key files '<name>_key'."""
    keys = {}
    spub, ssec = P.curve_keypair()
    P.write_keyfiles(wd.sub("server"), spub, ssec)
    keys["server"] = (spub, ssec)
    lines = ["# fault suite authorization file"]
    for name, d in collectors:
        pub, sec = P.curve_keypair()
        keys[name] = (pub, sec)
        P.write_keyfiles(wd.sub(name + "-curve"), pub, sec)
        keys[name + "_key"] = wd.sub(name + "-curve") + ".key"
        lines.append(f"{pub} collector {d} {name}")
    for name in reporters:
        pub, sec = P.curve_keypair()
        keys[name] = (pub, sec)
        P.write_keyfiles(wd.sub(name + "-curve"), pub, sec)
        keys[name + "_key"] = wd.sub(name + "-curve") + ".key"
        lines.append(f"{pub} reporter {name}")
    with open(wd.sub("authorized.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    keys["server_key"] = wd.sub("server") + ".key"
    keys["server_pub"] = wd.sub("server") + ".pub"
    keys["auth"] = wd.sub("authorized.txt")
    return keys


def curve_for(keys, name):
    return (keys["server"][0], keys[name][0], keys[name][1])


def subprocess_reader_holding_txn(data):
    """A separate process that opens the store and holds a read transaction;
    returns the Popen once it printed 'held'."""
    code = ("import lmdb,sys,time\n"
            "e=lmdb.open(sys.argv[1],readonly=True,max_dbs=8,lock=True)\n"
            "t=e.begin(); t.get(b'x')\n"
            "print('held',flush=True)\n"
            "time.sleep(3600)\n")
    p = subprocess.Popen([sys.executable, "-c", code, data], stdout=subprocess.PIPE, text=True)
    H.check(p.stdout.readline().strip() == "held", "reader did not start")
    return p
