"""Fault scenario 2: crash-point sweep of the aggregator's commit path.

tests/integration/crashshim.c (LD_PRELOAD, test only) makes the aggregator
_exit(86) at the k-th step of a life:
  before_commit k   entering the k-th write mdb_txn_commit (batch not durable)
  after_commit k    the k-th write commit returned (durable, no ack sent yet)
  send k            entering the k-th zmq_send (ack routing id / body, feed
                    update, snapshot: "mid-ack" and after-ack points)
  fail_commit k     (no crash) the k-th write commit fails with EIO: the
                    aggregator must nack "retry", keep running, and commit the
                    resend
for EVERY k of a fixed workload (a dry run with CT_CRASH_LOG counts the steps).
A Python collector sends ROUNDS submits of EVENTS events one at a time,
recording what was acked; after the crash the oracle checks A subset of L,
then the aggregator restarts without the shim and the collector resends every
unacked event until acked. Specific expectations per point are asserted too
(before_commit: the batch is not in the log; after_commit: it is, and its
resend is acked "duplicate"). One data directory accumulates the whole sweep;
the oracle block is judged at the end.

Env: CT_CRASH_ROUNDS (default 4), CT_CRASH_EVENTS (default 3).
"""
import os
import signal
import time

import ctharness as H
import ctproto as P
import oracle as O

ROUNDS = O.env_int("CT_CRASH_ROUNDS", 4)
EVENTS = O.env_int("CT_CRASH_EVENTS", 3)
CRASH_CODE = 86


def shim_path():
    p = os.environ.get("CT_CRASHSHIM") or os.path.join(H.BIN, "..", "tests", "libctcrashshim.so")
    H.check(os.path.exists(p), f"crash shim not built: {p}")
    return os.path.abspath(p)


def shim_env(extra):
    e = {"LD_PRELOAD": shim_path()}
    if H.SANITIZE:
        e["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
                             ).lstrip(":")
    e.update(extra)
    return e


class Sweep:
    def __init__(self, wd, rss):
        self.wd, self.rss = wd, rss
        self.agg = O.Agg(wd, rss)
        self.orc = O.Oracle("crash-point sweep")
        self.seq = 0
        self.acked = set()
        self.dup_acks = 0
        self.retry_acks = 0
        self.resends = 0
        self.crashes = 0
        self.not_reached = 0
        self.orc.acked = lambda: set(self.acked)

    def batch(self):
        out = []
        for _ in range(EVENTS):
            self.seq += 1
            out.append(O.ev(b"crashpt1", self.seq, district=O.DISTRICTS[1 + self.seq % 5]))
        self.orc.generated(out)
        return out

    def settle(self, reply, evs):
        got = set()
        if reply is None or reply["k"] != "ack":
            return got
        for i, st, code in reply["r"]:
            if st in (P.ACCEPTED, P.DUPLICATE):
                self.acked.add(i)
                got.add(i)
                self.dup_acks += st == P.DUPLICATE
            elif st == P.RETRY:
                self.retry_acks += 1
            else:
                raise AssertionError(f"event rejected: {P.ERR_NAME.get(code, code)}")
        return got

    def call(self, c, evs):
        """Submit and wait for the reply, giving up as soon as the process died."""
        tok = c.send(evs)
        deadline = time.time() + 10 * O.SLOW
        while time.time() < deadline:
            r = c.recv(0.05)
            if r is not None and r.get("n") == tok:
                return r
            if not self.agg.alive():
                return None
        return None

    def life(self, env, crash_expected):
        """One aggregator life under the shim; returns (died, last batch or None)."""
        self.agg.start(env=shim_env(env), wait=False)
        try:
            self.agg.proc.wait_log(r'msg="ready"', timeout=30 * O.SLOW)
        except AssertionError:
            rc = self.agg.proc.wait(10)
            H.check(rc == CRASH_CODE and crash_expected, f"aggregator exit {rc} before ready")
            self.crashes += 1
            return True, None  # died opening the store
        c = P.Client(self.agg.eps["ingest"])
        last = None
        try:
            for _ in range(ROUNDS):
                last = self.batch()
                r = self.call(c, last)
                if r is None:
                    break
                self.settle(r, last)
                if any(st == P.RETRY for _, st, _ in r["r"]):
                    r = self.call(c, last)  # resend once, must commit now
                    self.resends += len(last)
                    got = self.settle(r, last)
                    H.check(got == {O.eid_of(x) for x in last},
                            f"resend after a failed commit not acked: {r!r}")
                last = None
        finally:
            c.close()
        if crash_expected is False:
            if "CT_FAIL_COMMIT" in env:
                self.agg.proc.wait_log(r'store commit failed: I/O or LMDB error.*acked=none '
                                       r'answer=retry', timeout=5 * O.SLOW)
            self.agg.stop()
            return False, None
        try:
            rc = self.agg.proc.wait(2 * O.SLOW)  # heartbeats send every 1 s
        except Exception:  # noqa: BLE001 — step not reached in this life
            rc = None
        if rc is None:
            # not reached while serving: the step may be in the shutdown path
            self.agg.proc.signal(signal.SIGTERM)
            rc = self.agg.proc.wait(30 * O.SLOW)
            if rc == 0:
                self.not_reached += 1
                return False, None
            H.check(rc == CRASH_CODE, f"aggregator exit {rc} on SIGTERM;\n" + self.agg.proc.tail())
            self.crashes += 1
            return True, None
        H.check(rc == CRASH_CODE, f"aggregator exit {rc}, expected the shim's {CRASH_CODE};\n"
                                  + self.agg.proc.tail())
        self.crashes += 1
        return True, last

    def recover(self):
        """Restart without the shim; resend everything unacked until acked."""
        self.orc.check_acked_now(self.agg.data)
        self.agg.start()
        c = P.Client(self.agg.eps["ingest"])
        try:
            todo = [raw for i, raw in self.orc.S.items() if i not in self.acked]
            for k in range(0, len(todo), EVENTS):
                part = todo[k:k + EVENTS]
                self.resends += len(part)
                got = self.settle(c.call(part, timeout=10 * O.SLOW), part)
                H.check(got == {O.eid_of(x) for x in part}, "resend not acked")
        finally:
            c.close()
        self.agg.stop()


def test_crash_point_sweep():
    with H.Workdir("fault-crashpt") as wd:
        rss = O.RssSampler()
        sw = Sweep(wd, rss)
        # dry run: how many steps does one life of the workload have?
        log = wd.sub("steps.log")
        sw.life({"CT_CRASH_LOG": log}, crash_expected=False)
        steps = {"commit": 0, "send": 0, "rdonly": 0}
        with open(log) as f:
            for line in f:
                k, n = line.split()
                steps[k] = max(steps[k], int(n))
        print(f"one life: {steps['commit']} write commits, {steps['send']} zmq_send calls",
              flush=True)
        H.check(steps["commit"] >= ROUNDS, f"fewer commits than rounds: {steps}")
        points = ([("CT_CRASH_BEFORE_COMMIT", k) for k in range(1, steps["commit"] + 1)]
                  + [("CT_CRASH_AFTER_COMMIT", k) for k in range(1, steps["commit"] + 1)]
                  + [("CT_CRASH_SEND", k) for k in range(1, steps["send"] + 1)])
        for var, k in points:
            dups0 = sw.dup_acks
            died, last = sw.life({var: str(k)}, crash_expected=True)
            in_log = {O.eid_of(raw) for _, _, raw in O.read_log(sw.agg.data)}
            if died and last is not None and var == "CT_CRASH_BEFORE_COMMIT" and k > 1:
                H.check(not ({O.eid_of(x) for x in last} & in_log),
                        f"{var}={k}: batch durable although the process died before commit")
            if died and last is not None and var == "CT_CRASH_AFTER_COMMIT" and k > 1:
                H.check({O.eid_of(x) for x in last} <= in_log,
                        f"{var}={k}: committed batch missing from the log")
            sw.recover()
            if died and last is not None and var == "CT_CRASH_AFTER_COMMIT" and k > 1:
                H.check(sw.dup_acks > dups0, f"{var}={k}: the resend was not acked duplicate")
            print(f"{var}={k}: {'died' if died else 'not reached'}, log {len(in_log)}", flush=True)
        # an I/O error on each commit: no crash, nack retry, commit on resend
        # (commit 1 opens the store; 2..ROUNDS+1 hold the rounds' batches; a
        # later one, if any, belongs to the shutdown path)
        for k in range(2, ROUNDS + 2):
            sw.life({"CT_FAIL_COMMIT": str(k)}, crash_expected=False)
        sw.agg.start()
        sw.orc.extra.update({
            "crash points swept": f"{len(points)} ({steps['commit']} before-commit, "
                                  f"{steps['commit']} after-commit, {steps['send']} send)",
            "crashes / steps not reached": f"{sw.crashes} / {sw.not_reached}",
            "injected EIO commits": ROUNDS,
            "resends / duplicate acks / retry acks": f"{sw.resends} / {sw.dup_acks} / "
                                                     f"{sw.retry_acks}"})
        H.check(sw.retry_acks >= ROUNDS,
                f"failed commits gave {sw.retry_acks} retry acks")
        rss.close()
        sw.orc.check(sw.agg, rss)
        sw.agg.stop()


if __name__ == "__main__":
    H.main([test_crash_point_sweep])
