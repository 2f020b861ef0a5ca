#!/usr/bin/python3
"""replay.py — the 2023 Lâm Đồng campaign with a mid-campaign merger of two
districts, end to end: a real chitieu-aggregator ingests ten days of
simulated sign-ups; an admin's "reorg" life entry (docs/PROTOCOL.md §2.2)
puts [reorg dahuoai-merge] of campaign.ini in force from
2023-07-27T00:00+07:00 (queued and delivered by `chitieu-collector reorg` and
`run --once` from the provincial office's outbox when the build has that
command, else sent by a python sender); a real chitieu-reporter prints the status by the
units in force and by the original units; chitieu-audit replay reproduces
both byte for byte from the data directory, and reproduces the report made
before the merger byte for byte after it.

    /usr/bin/python3 examples/lamdong-2023-merge/replay.py [--bin build/bin] [--keep DIR]

Needs python3-msgpack and python3-zmq (tests/integration/ctproto.py speaks
the protocol). Exit 0 when every reproduction is identical.
"""
import argparse
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))

import msgpack  # noqa: E402
import ctproto as P  # noqa: E402

CAMPAIGN = os.path.join(HERE, "campaign.ini")
CAMPAIGN_ID = "lamdong-2023"
START = 1689987600000  # 2023-07-22T08:00:00+07:00
HOUR = 3600000
EF = 1690390800000  # 2023-07-27T00:00:00+07:00, the merger's effective time
NOW = "2023-07-31T20:00:00+07:00"  # the reports' clock
NOW_BEFORE = "2023-07-26T20:00:00+07:00"  # a report made before the merger
ORIGIN = b"merge-ex"


def roster():
    import csv
    out = {}
    with open(os.path.join(SRC, "examples", "lamdong-2023", "staff.csv"), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.setdefault(int(row["district"]), []).append(row["agent_id"])
    return out


def sign_ups(day_from, day_to, seq0):
    """Deterministic sign-ups of days [day_from, day_to) (0 = 22 July): per unit
    and day, 1..3 in each program, staff in turn. After the merger LD683-001
    (moved to 681) records for 681."""
    agents = roster()
    evs, seq = [], seq0
    for day in range(day_from, day_to):
        for d in sorted(agents):
            for prog in ("bhxh_tn", "bhyt_hgd"):
                for i in range((d + day + len(prog)) % 3 + 1):
                    seq += 1
                    unit, agent = d, agents[d][(day + i) % len(agents[d])]
                    t = START + day * 24 * HOUR + (i + 1) * HOUR
                    if d == 683 and agent == "LD683-001" and t >= EF:
                        unit = 681
                    person = hashlib.blake2b(b"p" + struct.pack(">Q", seq), digest_size=32).digest()
                    evs.append(P.event(P.event_id(ORIGIN, seq), t, unit, agent, program=prog,
                                       person=person, campaign=CAMPAIGN_ID))
    return evs, seq


def reorg_entry(seq, name="dahuoai-merge", ef=EF, by="admin",
                reason="Nghị quyết hợp nhất huyện Đạ Tẻh vào huyện Đạ Huoai",
                campaign=CAMPAIGN_ID, origin=ORIGIN):
    """A "reorg" life entry (§2.2): k v id t c by r n ef, issued an hour before ef."""
    return msgpack.packb({"k": "reorg", "v": 1, "id": P.event_id(origin, seq), "t": ef - HOUR,
                          "c": campaign, "by": by, "r": reason, "n": name, "ef": ef},
                         use_bin_type=True)


def collector_has_reorg(bindir):
    """Whether this build's chitieu-collector queues reorg entries."""
    exe = os.path.join(bindir, "chitieu-collector")
    return os.path.exists(exe) and subprocess.run(
        [exe, "reorg", "--help"], capture_output=True, timeout=30).returncode == 0


def collector_reorg(bindir, wd, agg, campaign, name="dahuoai-merge",
                    effective="2023-07-27T00:00:00+07:00",
                    reason="Nghị quyết hợp nhất huyện Đạ Tẻh vào huyện Đạ Huoai"):
    """The admin's way: an outbox of the provincial office (68) queues the
    reorg entry and delivers it (with --insecure every peer may issue it)."""
    exe = os.path.join(bindir, "chitieu-collector")
    ob = os.path.join(wd, "admin-outbox")
    for args in (["init", "--outbox", ob, "--district", "68", "--campaign", campaign],
                 ["reorg", "--outbox", ob, "--campaign", campaign, "--name", name,
                  "--effective", effective, "--reason", reason, "--by", "admin"],
                 ["run", "--outbox", ob, "--campaign", campaign, "--server", agg.eps["in"],
                  "--insecure", "--once", "--give-up", "30"]):
        r = subprocess.run([exe] + args, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise SystemExit(f"chitieu-collector {args[0]}: exit {r.returncode}: {r.stderr}")


def send(client, entries, batch=200):
    for k in range(0, len(entries), batch):
        r = client.call(entries[k:k + batch], timeout=30)
        if r is None or r["k"] != "ack":
            raise SystemExit(f"no ack: {r!r:.300}")
        bad = [x for x in r["r"] if x[1] != P.ACCEPTED]
        if bad:
            raise SystemExit(f"not accepted: {bad[:3]} ({P.ERR_NAME.get(bad[0][2])})")
    return r["s"]


class Aggregator:
    def __init__(self, bindir, wd, campaign):
        os.makedirs(wd, exist_ok=True)
        self.eps = {k: "ipc://" + os.path.join(wd, k) for k in ("in", "feed", "snap")}
        self.data = os.path.join(wd, "data")
        self.log = open(os.path.join(wd, "aggregator.log"), "wb")
        self.p = subprocess.Popen([os.path.join(bindir, "chitieu-aggregator"), "--campaign",
                                   campaign, "--data", self.data, "--insecure", "--ingest",
                                   self.eps["in"], "--feed", self.eps["feed"], "--snapshot",
                                   self.eps["snap"]], stdout=self.log, stderr=subprocess.STDOUT)
        path = os.path.join(wd, "aggregator.log")
        for _ in range(300):
            with open(path, "rb") as f:
                if b'msg="ready"' in f.read():
                    return
            if self.p.poll() is not None:
                raise SystemExit("the aggregator exited: see " + path)
            time.sleep(0.05)
        raise SystemExit("the aggregator is not ready: see " + path)

    def stop(self):
        self.p.terminate()
        rc = self.p.wait(timeout=30)
        self.log.close()
        if rc != 0:
            raise SystemExit(f"aggregator exit code {rc}")


def reporter(bindir, agg, campaign, units, fmt, now):
    return subprocess.run([os.path.join(bindir, "chitieu-reporter"), "--campaign", campaign,
                           "--insecure", "--feed", agg.eps["feed"], "--snapshot",
                           agg.eps["snap"], "--once", "--format", fmt, "--now", now, "--units",
                           units], check=True, capture_output=True, timeout=60).stdout


def replay(bindir, data, campaign, units, fmt, now, seq, feed="live"):
    return subprocess.run([os.path.join(bindir, "chitieu-audit"), "replay", "--campaign",
                           campaign, "--data", data, "--seq", str(seq), "--now", now, "--format",
                           fmt, "--feed-label", feed, "--units", units, "--quiet"], check=True,
                          capture_output=True, timeout=120).stdout


def demo(bindir, wd, campaign=CAMPAIGN, say=print, via_collector=None):
    """Runs the whole example in wd; returns what it printed and reproduced:
    {"before": (seq, json), "seq": N, ("current"|"original", fmt): bytes, ...}."""
    out = {}
    agg = Aggregator(bindir, wd, campaign)
    try:
        cl = P.Client(agg.eps["in"])
        evs, seq = sign_ups(0, 5, 0)  # 22..26 July
        out["seq_before"] = send(cl, evs)
        out["before"] = reporter(bindir, agg, campaign, "current", "json", NOW_BEFORE)
        if via_collector is None:
            via_collector = collector_has_reorg(bindir)
        if via_collector:
            collector_reorg(bindir, wd, agg, campaign)
            say("the reorg entry: chitieu-collector reorg --name dahuoai-merge ... then run --once")
        else:
            seq += 1
            send(cl, [reorg_entry(seq)])
            say("the reorg entry: sent by the python sender (no chitieu-collector reorg here)")
        evs, seq = sign_ups(5, 10, seq)  # 27..31 July
        out["seq"] = send(cl, evs)
        for units in ("current", "original"):
            for fmt in ("json", "table", "csv"):
                out[(units, fmt)] = reporter(bindir, agg, campaign, units, fmt, NOW)
        cl.close()
    finally:
        agg.stop()
    same = True
    for units in ("current", "original"):
        for fmt in ("json", "table", "csv"):
            got = replay(bindir, agg.data, campaign, units, fmt, NOW, out["seq"])
            out[("replay", units, fmt)] = got
            ok = got == out[(units, fmt)]
            same &= ok
            say(f"replay --units {units} --format {fmt}: "
                f"{'identical to the reporter' if ok else 'DIFFERS'} ({len(got)} bytes)")
    got = replay(bindir, agg.data, campaign, "current", "json", NOW_BEFORE, out["seq_before"])
    out["replay_before"] = got
    ok = got == out["before"]
    same &= ok
    say(f"the report made before the merger (seq {out['seq_before']}), replayed after it: "
        f"{'identical' if ok else 'DIFFERS'}")
    out["same"] = same
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(SRC, "build", "bin"),
                    help="directory of the chitieu binaries (default: build/bin)")
    ap.add_argument("--keep", help="run in this directory and keep it")
    a = ap.parse_args()
    wd = a.keep or tempfile.mkdtemp(prefix="ct-merge-")
    os.makedirs(wd, exist_ok=True)
    try:
        out = demo(a.bin, wd)
        for units in ("original", "current"):
            print(f"\n=== chitieu-reporter --units {units} --now {NOW} ===")
            sys.stdout.write(out[(units, "table")].decode())
    finally:
        if not a.keep:
            shutil.rmtree(wd, ignore_errors=True)
    return 0 if out["same"] else 1


if __name__ == "__main__":
    sys.exit(main())
