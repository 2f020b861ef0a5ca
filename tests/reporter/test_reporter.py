"""chitieu-reporter against a real aggregator (real ZeroMQ over ipc, real LMDB,
real signals). Every figure the reporter prints is compared with figures
computed independently from the aggregator's own snapshot (reporter_common).

  late joiner      thousands of events, then the reporter joins (--once, then
                   periodic with --output), then more events: exact figures
  SIGSTOP          the reporter is stopped under load (feed HWM small so the
                   PUB drops), resumed: it logs the gap, resyncs, exact figures
  restart          the aggregator restarts on the same data, then on a fresh
                   data directory (log position goes backwards): exact figures
  feed states      aggregator SIGSTOPped: live -> lagging -> stale -> live
  formats          --format json/csv/table parse (json and csv modules)
  secure           CURVE on both sockets with an authorized reporter key
  usage            --help, bad options (exit 2), --once timeout (exit 1)
  campaign         a copy of the campaign with another personal quota: exit 2
                   naming both fingerprints, no report written; accepted with
                   --accept-campaign-change (the copy's targets, a warning)
"""
import csv
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import time

import reporter_common as rc
from reporter_common import cp, h

NOW = "2023-07-26T20:00:00+07:00"


def reporter_args(ep, *extra):
    return [h.binary("chitieu-reporter"), "--insecure", "--feed", ep["feed"], "--snapshot",
            ep["snapshot"], *extra]


def wait_report_at(path, seq, timeout=30):
    def ok():
        rep = rc.read_json_file(path)
        return rep if rep and rep["seq"] == seq else None
    return rc.wait_until(ok, timeout, f"report at seq {seq} in {path}")


def test_late_joiner():
    with h.Workdir("rep-late") as wd:
        agg, ep = rc.start_aggregator(wd)
        cl = cp.Client(ep["ingest"])
        gen = rc.Generator(11)
        rc.submit_all(cl, gen.batch(5000), per_call=250)
        snp = rc.snapshot(ep)
        h.check(snp["s"] == 5000, f"seq {snp['s']}")
        r = h.run(reporter_args(ep, "--once", "--format", "json", "--now", NOW))
        lines = r.stdout.splitlines()
        h.check(len(lines) == 1, f"--once json printed {len(lines)} lines")
        rep = json.loads(lines[0])
        rc.assert_report_equals(rep, snp)
        h.check(rep["as_of"] == NOW and rep["phase"] == "running", rep["as_of"])
        h.check(rep["feed"] == "live", rep["feed"])

        # A periodic reporter joins late, then more events arrive (many commits).
        # A reporter killed mid-write left its temporary (pid gone): the next
        # write of the same file removes it.
        out = wd.sub("status.json")
        dead = subprocess.Popen(["true"])
        dead.wait()
        stale = wd.sub(f".status.json.tmp.{dead.pid}.Ab12Cd")
        with open(stale, "w") as f:
            f.write('{"seq": 1')
        rp = wd.start(reporter_args(ep, "--interval", "0.3", "--format", "json", "--output", out,
                                    "--now", NOW), name="reporter")
        rp.wait_log(r'msg="snapshot applied" seq=5000')
        for _ in range(60):
            rc.submit_all(cl, gen.batch(50), per_call=50)
        snp2 = rc.snapshot(ep)
        h.check(snp2["s"] == 8000, f"seq {snp2['s']}")
        rep2 = wait_report_at(out, snp2["s"])
        rc.assert_report_equals(rep2, snp2)
        h.check(not [f for f in os.listdir(wd.path) if ".tmp." in f], "temp files left behind")
        h.check(not os.path.exists(stale), "a killed reporter's temporary was not removed")
        h.check(rp.stop() == 0, "reporter exit code")
        h.check(not [ln for ln in rp.lines if "gap detected" in ln], "unexpected gap")
        cl.close()


def test_sigstop_gap():
    with h.Workdir("rep-stop") as wd:
        agg, ep = rc.start_aggregator(wd, ["--feed-hwm", "10"])
        cl = cp.Client(ep["ingest"])
        gen = rc.Generator(22)
        rc.submit_all(cl, gen.batch(500))
        out = wd.sub("status.json")
        rp = wd.start(reporter_args(ep, "--interval", "0.3", "--format", "json", "--output", out,
                                    "--now", NOW, "--feed-hwm", "50"), name="reporter")
        rp.wait_log(r'msg="snapshot applied" seq=500')
        wait_report_at(out, 500)
        rp.signal(signal.SIGSTOP)
        try:
            for _ in range(1500):       # 1500 commits while the reporter is stopped
                rc.submit_all(cl, gen.batch(8), per_call=8)
        finally:
            rp.signal(signal.SIGCONT)
        m = rp.wait_log(r"gap detected at seq (\d+), snapshot at seq (\d+)", timeout=30)
        at, snap_at = int(m.group(1)), int(m.group(2))
        h.check(500 <= at < snap_at <= 500 + 1500 * 8, f"gap at {at}, snapshot at {snap_at}")
        # more load after the resync, then exact figures
        for _ in range(20):
            rc.submit_all(cl, gen.batch(10), per_call=10)
        snp = rc.snapshot(ep)
        h.check(snp["s"] == 500 + 1500 * 8 + 200, f"seq {snp['s']}")
        rep = wait_report_at(out, snp["s"])
        rc.assert_report_equals(rep, snp)
        h.check(rp.stop() == 0, "reporter exit code")
        print(f"  gap detected at seq {at}, snapshot at seq {snap_at}")
        cl.close()


def test_aggregator_restart():
    with h.Workdir("rep-restart") as wd:
        agg, ep = rc.start_aggregator(wd)
        cl = cp.Client(ep["ingest"])
        gen = rc.Generator(33)
        rc.submit_all(cl, gen.batch(1000))
        out = wd.sub("status.json")
        rp = wd.start(reporter_args(ep, "--interval", "0.3", "--format", "json", "--output", out,
                                    "--now", NOW), name="reporter")
        wait_report_at(out, 1000)
        # 1. restart on the same data: the log continues
        h.check(agg.stop() == 0, "aggregator exit code")
        time.sleep(0.5)
        agg = wd.start(agg.args, name="aggregator2")
        agg.wait_log(r'msg="ready"')
        cl.close()
        cl = cp.Client(ep["ingest"])
        rc.submit_all(cl, gen.batch(700), per_call=70)
        snp = rc.snapshot(ep)
        h.check(snp["s"] == 1700, f"seq {snp['s']}")
        rc.assert_report_equals(wait_report_at(out, 1700), snp)
        # 2. restart on a fresh data directory: the log position goes backwards
        h.check(agg.stop() == 0, "aggregator exit code")
        args = list(agg.args)
        args[args.index("--data") + 1] = wd.sub("data2")
        agg = wd.start(args, name="aggregator3")
        agg.wait_log(r'msg="ready"')
        cl.close()
        cl = cp.Client(ep["ingest"])
        rc.submit_all(cl, rc.Generator(44).batch(300), per_call=30)
        snp = rc.snapshot(ep)
        h.check(snp["s"] == 300, f"seq {snp['s']}")
        rc.assert_report_equals(wait_report_at(out, 300), snp)
        rp.wait_log(r"snapshot at seq 300|went backwards")
        h.check(rp.stop() == 0, "reporter exit code")
        cl.close()


def test_feed_states():
    """live -> lagging (no heartbeat for 3 s) -> stale (nothing for 10 s) while
    the aggregator is stopped; live again with exact figures once it resumes."""
    with h.Workdir("rep-states") as wd:
        agg, ep = rc.start_aggregator(wd)
        cl = cp.Client(ep["ingest"])
        gen = rc.Generator(99)
        rc.submit_all(cl, gen.batch(300))
        out = wd.sub("status.json")
        rp = wd.start(reporter_args(ep, "--interval", "0.3", "--format", "json", "--output", out,
                                    "--now", NOW), name="reporter")
        state = lambda want: (lambda: (rc.read_json_file(out) or {}).get("feed") == want)  # noqa
        rc.wait_until(state("live"), 20, "feed live")
        agg.signal(signal.SIGSTOP)
        try:
            rc.wait_until(state("lagging"), 20, "feed lagging")
            rc.wait_until(state("stale"), 30, "feed stale")
        finally:
            agg.signal(signal.SIGCONT)
        rc.wait_until(state("live"), 30, "feed live again")
        rc.submit_all(cl, gen.batch(100))
        snp = rc.snapshot(ep)
        rep = wait_report_at(out, snp["s"])
        rc.assert_report_equals(rep, snp)
        h.check(rp.stop() == 0, "reporter exit code")
        cl.close()


def test_formats():
    with h.Workdir("rep-fmt") as wd:
        agg, ep = rc.start_aggregator(wd)
        cl = cp.Client(ep["ingest"])
        rc.submit_all(cl, rc.Generator(55).batch(2000))
        snp = rc.snapshot(ep)
        exp = rc.expected(snp)
        # CSV: header + 13 districts x 2 programs + 2 province rows
        r = h.run(reporter_args(ep, "--once", "--format", "csv", "--now", NOW))
        rows = list(csv.DictReader(io.StringIO(r.stdout, newline="")))
        h.check(len(rows) == 28, f"{len(rows)} csv rows")
        for row in rows:
            p = row["program"]
            if row["level"] == "province":
                h.check(int(row["net"]) == exp["province"][p]["net"], "province net")
                h.check(int(row["target"]) == (184 if p == "bhxh_tn" else 368), "target")
            else:
                d = int(row["district_code"])
                h.check(int(row["net"]) == exp["districts"][d][p]["net"], f"net {d} {p}")
                h.check(int(row["cancelled"]) == exp["districts"][d][p]["cancelled"], "canc")
            h.check(int(row["seq"]) == snp["s"] and row["head"] == exp["head"], "position")
            float(row["pct"]), float(row["required_daily"]), float(row["projection"])
        # JSON with --staff: staff below quota are listed, consistent with staff_met
        r = h.run(reporter_args(ep, "--once", "--format", "json", "--staff", "--now", NOW))
        rep = json.loads(r.stdout)
        rc.assert_report_equals(rep, snp)
        for d in rep["districts"]:
            both = d["staff_met_both"]
            h.check(len(d["below_quota"]) == d["staff"] - both, f"below quota {d['code']}")
        # table, to a file replaced atomically
        out = wd.sub("report.txt")
        h.run(reporter_args(ep, "--once", "--staff", "--output", out, "--now",
                            "2023-08-02T00:00:00+07:00"))
        with open(out, encoding="utf-8") as f:
            text = f.read()
        for s in ("Thành phố Đà Lạt", "Huyện Đạ Tẻh", "Toàn tỉnh", "FINAL",
                  f"seq {snp['s']}", exp["head"], "Staff below their personal quota"):
            h.check(s in text, f"table lacks {s!r}")
        # before the start
        r = h.run(reporter_args(ep, "--once", "--format", "json", "--now",
                                "2023-07-01T00:00:00+07:00"))
        rep = json.loads(r.stdout)
        h.check(rep["phase"] == "not_started", rep["phase"])
        h.check(rep["province"]["programs"]["bhxh_tn"]["verdict"] == "not_started", "verdict")
        # simulated clock: campaign time runs FACTOR times faster from START
        r = h.run(reporter_args(ep, "--once", "--format", "json", "--sim-clock",
                                "2023-07-22T08:00:00+07:00,86400"))
        rep = json.loads(r.stdout)
        h.check(rc.START_MS <= rep["as_of_ms"] < rc.START_MS + 86400 * 1000 * 60,
                f"sim clock {rep['as_of']}")
        cl.close()


def keypair():
    """A CURVE key pair whose Z85 public key has no '#' (Z85 allows it, the
    authorization file's comment syntax would cut the line there)."""
    while True:
        pub, sec = cp.curve_keypair()
        if "#" not in pub:
            return pub, sec


def test_secure():
    with h.Workdir("rep-sec") as wd:
        spub, ssec = keypair()
        cp.write_keyfiles(wd.sub("server"), spub, ssec)
        rpub, rsec = keypair()
        cp.write_keyfiles(wd.sub("reporter"), rpub, rsec)
        apub, asec = keypair()
        with open(wd.sub("auth.txt"), "w") as f:
            f.write(f"{rpub} reporter hq\n{apub} admin tester\n")
        ep = {"ingest": wd.ipc("ingest"), "feed": wd.ipc("feed"), "snapshot": wd.ipc("snap")}
        agg = wd.start([h.binary("chitieu-aggregator"), "--data", wd.sub("data"),
                        "--keys", wd.sub("server.key"), "--auth", wd.sub("auth.txt"),
                        "--ingest", ep["ingest"], "--feed", ep["feed"], "--snapshot",
                        ep["snapshot"], "--stats-interval", "0"], name="aggregator")
        agg.wait_log(r'msg="ready"')
        cl = cp.Client(ep["ingest"], curve=(spub, apub, asec))
        rc.submit_all(cl, rc.Generator(66).batch(400))
        base = [h.binary("chitieu-reporter"), "--feed", ep["feed"], "--snapshot", ep["snapshot"],
                "--once", "--format", "json", "--timeout", "10", "--now", NOW]
        r = h.run(base + ["--keys", wd.sub("reporter.key"), "--server-key", wd.sub("server.pub")])
        rep = json.loads(r.stdout)
        h.check(rep["seq"] == 400, f"seq {rep['seq']}")
        # an unknown reporter key gets nothing
        xpub, xsec = cp.curve_keypair()
        cp.write_keyfiles(wd.sub("stranger"), xpub, xsec)
        r = h.run(base[:-4] + ["--timeout", "3", "--keys", wd.sub("stranger.key"),
                               "--server-key", wd.sub("server.pub")], check=False)
        h.check(r.returncode == 1 and r.stdout == "", f"stranger got {r.returncode} {r.stdout[:80]}")
        cl.close()


def campaign_copy(wd, bhyt_agent_target, name="campaign-copy"):
    """examples/lamdong-2023 copied into wd with bhyt_hgd's agent_target
    changed; returns (ini path, its fingerprint hex)."""
    src = os.path.join(h.SRC, "examples", "lamdong-2023")
    dst = wd.sub(name)
    os.makedirs(dst)
    with open(os.path.join(src, "campaign.ini"), "rb") as f:
        ini = f.read()
    with open(os.path.join(src, "staff.csv"), "rb") as f:
        roster = f.read()
    head, sep, tail = ini.partition(b"[program bhyt_hgd]\nagent_target = 2\n")
    h.check(sep != b"", "campaign.ini layout")
    ini = head + f"[program bhyt_hgd]\nagent_target = {bhyt_agent_target}\n".encode() + tail
    with open(os.path.join(dst, "campaign.ini"), "wb") as f:
        f.write(ini)
    with open(os.path.join(dst, "staff.csv"), "wb") as f:
        f.write(roster)
    return os.path.join(dst, "campaign.ini"), hashlib.blake2b(ini + roster, digest_size=32).hexdigest()


def test_campaign_mismatch():
    with h.Workdir("rep-camp") as wd:
        agg, ep = rc.start_aggregator(wd)
        cl = cp.Client(ep["ingest"])
        rc.submit_all(cl, rc.Generator(3).batch(200), per_call=100)
        snp = rc.snapshot(ep)
        h.check(snp["ci"] == "lamdong-2023" and len(snp["cf"]) == 32, f"snapshot names {snp.get('ci')}")
        theirs = bytes(snp["cf"]).hex()
        ini, ours = campaign_copy(wd, 3)
        h.check(ours != theirs, "the copy's fingerprint differs")
        out = wd.sub("report.json")
        r = h.run(reporter_args(ep, "--campaign", ini, "--once", "--format", "json", "--output",
                                out, "--now", NOW), check=False)
        h.check(r.returncode == 2, f"exit {r.returncode}\n{r.stderr}")
        h.check(ours in r.stderr and theirs in r.stderr, f"both fingerprints named:\n{r.stderr}")
        h.check("--accept-campaign-change" in r.stderr, "the way out named")
        h.check(not os.path.exists(out) and r.stdout == "", "a report was written")
        print("  " + next(ln for ln in r.stderr.splitlines() if theirs in ln))
        # periodic with the live page: the same refusal
        port = h.free_port()
        r = h.run(reporter_args(ep, "--campaign", ini, "--interval", "1", "--http",
                                f"127.0.0.1:{port}"), check=False, timeout=30)
        h.check(r.returncode == 2 and theirs in r.stderr, f"periodic exit {r.returncode}")
        # accepted: the copy's targets (3 x 184 staff), said in the log
        r = h.run(reporter_args(ep, "--campaign", ini, "--once", "--format", "json", "--now", NOW,
                                "--accept-campaign-change"))
        rep = json.loads(r.stdout)
        h.check(rep["province"]["programs"]["bhyt_hgd"]["target"] == 552, "accepted: copy's target")
        h.check("(accepted)" in r.stderr and theirs in r.stderr, "accepted change logged")
        # an identical copy is the same campaign
        ini2, same = campaign_copy(wd, 2, "campaign-same")
        h.check(same == theirs, f"identical copy: {same} != {theirs}")
        r = h.run(reporter_args(ep, "--campaign", ini2, "--once", "--format", "json", "--now", NOW))
        h.check(json.loads(r.stdout)["province"]["programs"]["bhyt_hgd"]["target"] == 368, "368")
        cl.close()


def test_usage():
    rep = h.binary("chitieu-reporter")
    h.check(h.run([rep, "--help"]).returncode == 0, "--help")
    h.check("chitieu-reporter" in h.run([rep, "--version"]).stdout, "--version")
    for bad in (["--bogus"], ["--insecure", "--format", "xml"], ["--insecure", "--interval", "0"],
                [], ["--insecure", "--now", "yesterday"],
                ["--insecure", "--now", NOW, "--sim-clock", NOW + ",10"],
                ["--keys", "/nonexistent.key", "--server-key", "/nonexistent.pub"]):
        r = h.run([rep, *bad], check=False)
        h.check(r.returncode == 2, f"{bad}: exit {r.returncode}")
    with h.Workdir("rep-usage") as wd:
        r = h.run([rep, "--insecure", "--feed", wd.ipc("nofeed"), "--snapshot", wd.ipc("nosnap"),
                   "--once", "--timeout", "1"], check=False)
        h.check(r.returncode == 1 and "no snapshot" in r.stderr, f"timeout: {r.returncode}")


if __name__ == "__main__":
    h.main([test_usage, test_campaign_mismatch, test_late_joiner, test_formats, test_sigstop_gap,
            test_aggregator_restart, test_feed_states, test_secure])
