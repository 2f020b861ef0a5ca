"""Fault scenarios 7 and 8: readers that stop or die.

7. A reader killed with kill -9 while holding an LMDB read transaction:
   chitieu-audit verify is stopped (SIGSTOP, raised by the test-only crash
   shim right after its k-th read-only mdb_txn_begin — deterministic, no
   race) and a Python reader process holds a read transaction; both are
   kill -9'ed. Checked: `mdb_stat -r` lists the dead readers, the aggregator's
   periodic mdb_reader_check clears them (log line + `mdb_stat -r` empty),
   and the data file does not keep growing under one-event-per-commit churn:
   growth per commit with a live stuck reader (the control) vs after the
   stale ones were cleared.
8. The reporter stopped (SIGSTOP) under load: ingest rate with and without a
   stopped subscriber (ratio reported; only a gross sanity bound, > 0.1), then
   SIGCONT: the reporter detects the gap and resyncs to exact figures.

Env: CT_READER_CHURN (commits per phase, default 400), CT_RATE_EVENTS
(events per rate measurement, default 20000).
"""
import json
import os
import re
import signal
import subprocess
import time

import ctharness as H
import oracle as O
from test_fault_crashpoint import shim_env

CHURN = O.env_int("CT_READER_CHURN", 400)
RATE_N = O.env_int("CT_RATE_EVENTS", 20000)


def mdb_readers(data):
    r = subprocess.run(["mdb_stat", "-r", data], capture_output=True, text=True)
    # lmdb-utils 0.9.24's mdb_stat exits 1 after printing the reader table
    H.check("Reader Table Status" in r.stdout, f"mdb_stat -r failed ({r.returncode}): {r.stderr}")
    pids = set()
    for line in r.stdout.splitlines():
        m = re.match(r"\s*(\d+)\s+[0-9a-f]+\s+(\d+|-)\s*$", line)
        if m:
            pids.add(int(m.group(1)))
    return pids, r.stdout


def data_size(data):
    return os.path.getsize(os.path.join(data, "data.mdb"))


def churn(sub, orc, origin, first, n):
    """n events, window 1: one commit each. Returns bytes the data file grew."""
    return evs_push(sub, orc, O.mixed_events(origin, first, n, district=O.DISTRICTS[7]))


def evs_push(sub, orc, evs):
    orc.generated(evs)
    sub.add(evs)
    sub.wait_drained(120 * O.SLOW)


def test_stale_reader_cleared_file_bounded():
    with H.Workdir("fault-reader") as wd:
        rss = O.RssSampler()
        agg = O.Agg(wd, rss, extra=["--reader-check", "1"])
        orc = O.Oracle("reader killed holding a read txn")
        agg.start()
        sub = orc.add_submitter(O.Submitter(agg.eps["ingest"], window=1, batch=1, name="py"))
        big = orc.add_submitter(O.Submitter(agg.eps["ingest"], window=512, batch=64, name="bulk"))
        evs_push(big, orc, O.mixed_events(b"rdbulk01", 1, 3000, district=O.DISTRICTS[6]))
        # audit verify stops itself holding its 2nd read transaction (mid-verify)
        audit = wd.start([H.binary("chitieu-audit"), "verify", "--data", agg.data],
                         name="audit", env=shim_env({"CT_STOP_AFTER_RDONLY": "2"}))
        O.wait_until(lambda: open(f"/proc/{audit.pid}/stat").read().split()[2] == "T",
                     20 * O.SLOW, "audit stopped inside a read transaction")
        pyr = O.subprocess_reader_holding_txn(agg.data)
        pids, _ = mdb_readers(agg.data)
        H.check({audit.pid, pyr.pid} <= pids, f"readers {pids} lack {audit.pid}/{pyr.pid}")
        # control: a LIVE stuck reader pins old pages, the file grows with churn
        s0 = data_size(agg.data)
        churn(sub, orc, b"rdchurn1", 1, CHURN)
        grow_stuck = data_size(agg.data) - s0
        n_lines = len(agg.proc.lines)
        audit.kill9()
        pyr.kill()
        pyr.wait()
        pids, table = mdb_readers(agg.data)
        H.check({audit.pid, pyr.pid} <= pids, "dead readers not in the table before the check:\n"
                + table)
        agg.proc.wait_log(r'msg="cleared stale LMDB readers" count=[1-9]', timeout=10 * O.SLOW,
                          start=n_lines)
        pids, table = mdb_readers(agg.data)
        H.check(not ({audit.pid, pyr.pid} & pids), "stale readers still present:\n" + table)
        # after the clear: two more rounds of churn; the file must stop growing
        s1 = data_size(agg.data)
        churn(sub, orc, b"rdchurn2", 1, CHURN)
        s2 = data_size(agg.data)
        churn(sub, orc, b"rdchurn3", 1, CHURN)
        s3 = data_size(agg.data)
        grow_after = [s2 - s1, s3 - s2]
        orc.extra.update({
            "data file growth, stuck reader (control)": f"{grow_stuck} B / {CHURN} commits",
            "data file growth after clear (2 rounds)": f"{grow_after} B / {CHURN} commits each",
            "stale readers cleared": "2 (audit verify stopped in a txn, python reader)"})
        sub.close()
        big.close()
        agg.wait_stats()
        rss.close()
        orc.check(agg, rss)
        H.check(grow_stuck > 0, "control: a stuck reader did not make the file grow")
        H.check(grow_after[1] <= max(grow_stuck // 4, 256 * 1024),
                f"file keeps growing after the stale readers were cleared: {grow_after} "
                f"(stuck-reader control {grow_stuck})")
        agg.stop()


def push_rate(orc, col, agg, n, seed):
    col.simulate(seed, n)
    orc.read_outboxes()  # S before the delivery
    t0 = time.time()
    H.run([H.binary("chitieu-collector"), "run", "--outbox", col.outbox, "--server",
           agg.eps["ingest"], "--insecure", "--once", "--stats-interval", "0"],
          timeout=300 * O.SLOW)
    return n / (time.time() - t0)


def test_reporter_stopped_under_load():
    with H.Workdir("fault-reporter") as wd:
        rss = O.RssSampler()
        agg = O.Agg(wd, rss)
        orc = O.Oracle("reporter SIGSTOP under load")
        col = orc.add_collector(O.Collector(wd, rss, "col", O.DISTRICTS[8]))
        agg.start()
        # S: read the outbox after each simulate, before the `run --once`
        col.simulate(1, 10)
        orc.read_outboxes()
        rate0 = push_rate(orc, col, agg, RATE_N, 2)
        out = wd.sub("report.json")
        rep = wd.start([H.binary("chitieu-reporter"), "--insecure", "--feed", agg.eps["feed"],
                        "--snapshot", agg.eps["snapshot"], "--interval", "0.5", "--format", "json",
                        "--output", out, "--now", O.NOW_ISO,
                        "--feed-hwm", "10"], name="reporter")
        rss.add("reporter", rep)
        rep.wait_log(r'msg="snapshot applied"', timeout=20 * O.SLOW)
        rep.signal(signal.SIGSTOP)
        # read S for the next batch before delivering it (simulate, read, run)
        col.simulate(3, RATE_N)
        orc.read_outboxes()
        t0 = time.time()
        H.run([H.binary("chitieu-collector"), "run", "--outbox", col.outbox, "--server",
               agg.eps["ingest"], "--insecure", "--once", "--stats-interval", "0"],
              timeout=300 * O.SLOW)
        rate1 = RATE_N / (time.time() - t0)
        # many small commits (one feed update each) overflow the stopped
        # subscriber's queues: the reporter must see a gap and resync
        sub = orc.add_submitter(O.Submitter(agg.eps["ingest"], window=1, batch=1, name="py1"))
        evs = O.mixed_events(b"repstop1", 1, CHURN * 5, district=O.DISTRICTS[9])
        orc.generated(evs)
        sub.add(evs)
        sub.wait_drained(120 * O.SLOW)
        sub.close()
        n_log = len(O.read_log(agg.data))
        rep.signal(signal.SIGCONT)

        def caught_up():
            try:
                with open(out) as f:
                    r = json.loads(f.read().splitlines()[-1])
            except (OSError, ValueError, IndexError):
                return None
            return r if r["seq"] == n_log else None

        t1 = time.time()
        r = O.wait_until(caught_up, 30 * O.SLOW, "reporter resync to the log head")
        resync = time.time() - t1
        rd = O.P.Reader(agg.eps["feed"], agg.eps["snapshot"])
        snp = rd.snapshot(10 * O.SLOW)
        rd.close()
        bad = O.report_mismatches(r, snp["c"])
        H.check(not bad, "reporter figures after resync differ: " + "; ".join(bad[:5]))
        gaps = sum(1 for line in rep.lines if 'msg="gap detected"' in line)
        snaps = sum(1 for line in rep.lines if ", snapshot at seq" in line)
        ratio = rate1 / rate0
        orc.recovery = [resync]
        orc.extra.update({
            "ingest events/s without / with stopped reporter": f"{rate0:.0f} / {rate1:.0f}",
            "ratio (with/without)": f"{ratio:.2f}",
            "reporter gaps detected / resync snapshots": f"{gaps} / {snaps}",
            "reporter resync after SIGCONT s": f"{resync:.2f}"})
        agg.wait_stats()
        rss.close()
        orc.check(agg, rss)
        H.check(rep.stop() == 0, "reporter did not stop cleanly")
        H.check(snaps >= 1, "the stopped reporter never resynced by snapshot (no gap?)")
        H.check(ratio > 0.1, f"ingest collapsed with a stopped reporter: ratio {ratio:.2f}")
        agg.stop()


if __name__ == "__main__":
    H.main([test_stale_reader_cleared_file_bounded, test_reporter_stopped_under_load])
