#!/usr/bin/python3
"""bench/national.py — the national reporter (chitieu-reporter --national) with
N live provincial feeds. Never part of the test suite.

Generates N fictional provinces (GENERATED bench data: 13 units each, --staff
staff spread over them, distinct campaign ids), starts one REAL
chitieu-aggregator per province (ipc, durable LMDB) and one national reporter
following all of them (--http, JSON report every second, the page's documents
with every province's drill-down), then:

  idle   --idle-s seconds of heartbeats only: reporter CPU %, RSS, and the bytes
         a live page's /events stream receives per minute
  load   --load-s seconds with ct_loadgen (1 collector, window --window) on
         every aggregator at once: reporter CPU % and CPU ms per 1000 applied
         updates (sum of the provinces' seq advances), VmHWM, /status.json size,
         and the provinces included at the end

All N aggregators, the N load generators and the reporter share this machine's
cores, so the aggregators' ingest rate is what is left after the reporter; the
reporter's CPU is measured from its own /proc stat (CPU seconds, not wall).
Prints a table and one JSON line (last line of stdout).

  python3 bench/national.py --provinces 34 [--staff 300] [--load-s 20]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
BIN = os.environ.get("CT_BIN", os.path.join(SRC, "build", "bin"))
TCK = os.sysconf("SC_CLK_TCK")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TCK


def mem_kb(pid):
    out = {}
    for ln in open(f"/proc/{pid}/status"):
        k, _, v = ln.partition(":")
        if k in ("VmRSS", "VmHWM"):
            out[k] = int(v.split()[0])
    return out


def gen_province(d, i, staff):
    code = 100 + i
    cid = f"bench-p{i:02d}"
    units = [code * 100 + u for u in range(1, 14)]
    os.makedirs(d, exist_ok=True)
    ini = [f"; GENERATED bench data (bench/national.py): not a real place", "[campaign]",
           f"id = {cid}", f"name = Tỉnh thử {i}", "start = 2023-07-22T08:00:00+07:00",
           "end = 2023-08-01T00:00:00+07:00", "timezone = +07:00", "roster = staff.csv",
           "[program bhxh_tn]", "agent_target = 1", "[program bhyt_hgd]", "agent_target = 2",
           "[group nq143]", "name = Nhóm thử"]
    for u in units:
        ini += [f"[district {u}]", f"name = Đơn vị thử {u}"]
    with open(os.path.join(d, "campaign.ini"), "w", encoding="utf-8") as f:
        f.write("\n".join(ini) + "\n")
    with open(os.path.join(d, "staff.csv"), "w", encoding="utf-8") as f:
        f.write("agent_id,name,district,org\n")
        for s in range(staff):
            f.write(f"B{code}-{s:04d},Cán bộ thử {s},{units[s % len(units)]},bhxh\n")
    return code, os.path.join(d, "campaign.ini")


def sse_bytes(port, seconds):
    """Bytes one live page's /events stream receives in seconds (after the
    first report it is sent on connecting)."""
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=seconds + 5)
    s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(0.5)
    first = time.time() + 2
    n = 0
    end = time.time() + seconds + 2
    while time.time() < end:
        try:
            b = s.recv(1 << 20)
        except socket.timeout:
            continue
        if not b:
            break
        if time.time() >= first:
            n += len(b)
    s.close()
    return n * 60 / seconds


def status(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status.json", timeout=30) as r:
        body = r.read()
    return len(body), json.loads(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--provinces", type=int, default=34)
    ap.add_argument("--staff", type=int, default=300)
    ap.add_argument("--idle-s", type=float, default=10)
    ap.add_argument("--load-s", type=float, default=20)
    ap.add_argument("--window", type=int, default=64)
    a = ap.parse_args()
    wd = tempfile.mkdtemp(prefix="ct-bench-national-")
    procs = []
    try:
        provs = []
        for i in range(a.provinces):
            code, camp = gen_province(os.path.join(wd, f"p{i}"), i, a.staff)
            ep = {k: f"ipc://{wd}/{k}{code}.sock" for k in ("ingest", "feed", "snap")}
            p = subprocess.Popen([os.path.join(BIN, "chitieu-aggregator"), "--data",
                                  os.path.join(wd, f"data{code}"), "--insecure", "--campaign",
                                  camp, "--ingest", ep["ingest"], "--feed", ep["feed"],
                                  "--snapshot", ep["snap"], "--stats-interval", "0",
                                  "--log-level", "warn"], stderr=subprocess.DEVNULL)
            procs.append(p)
            provs.append((code, camp, ep))
        nat = [f"[national]", "id = bench-national", "name = Bench"]
        for code, camp, ep in provs:
            nat += [f"[province {code}]", f"name = Tỉnh thử {code}", f"campaign = {camp}",
                    f"feed = {ep['feed']}", f"snapshot = {ep['snap']}"]
        ini = os.path.join(wd, "national.ini")
        with open(ini, "w", encoding="utf-8") as f:
            f.write("\n".join(nat) + "\n")
        time.sleep(2)
        port = 20000 + os.getpid() % 20000
        rep = subprocess.Popen([os.path.join(BIN, "chitieu-reporter"), "--insecure", "--national",
                                ini, "--interval", "1", "--format", "json", "--output",
                                os.path.join(wd, "national.json"), "--http",
                                f"127.0.0.1:{port}", "--log-level", "warn"],
                               stderr=subprocess.DEVNULL)
        procs.append(rep)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                _, r = status(port)
                if r["provinces_included"] == a.provinces:
                    break
            except Exception:  # noqa: BLE001 — not up yet
                pass
            time.sleep(0.5)
        else:
            raise SystemExit("the national reporter never had every province")
        t0, c0 = time.time(), cpu_s(rep.pid)
        idle_bytes = sse_bytes(port, a.idle_s)
        idle_pct = 100 * (cpu_s(rep.pid) - c0) / (time.time() - t0)
        idle_mem = mem_kb(rep.pid)
        _, r0 = status(port)
        seq0 = {p["code"]: p["seq"] for p in r0["provinces"]}
        log(f"idle: reporter {idle_pct:.1f}% CPU, RSS {idle_mem['VmRSS']} kB")
        gens = []
        for code, camp, ep in provs:
            gens.append(subprocess.Popen(
                [os.path.join(BIN, "ct_loadgen"), "--server", ep["ingest"], "--campaign", camp,
                 "--collectors", "1", "--window", str(a.window), "--batch", "16", "--events",
                 "100000000", "--seconds", str(a.load_s)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        t0, c0 = time.time(), cpu_s(rep.pid)
        for g in gens:
            g.wait(timeout=a.load_s + 120)
        wall = time.time() - t0
        c1 = cpu_s(rep.pid)
        time.sleep(3)  # let the report catch up
        size, r1 = status(port)
        upd = sum(p["seq"] - seq0[p["code"]] for p in r1["provinces"])
        load_mem = mem_kb(rep.pid)
        res = {"provinces": a.provinces, "staff_per_province": a.staff,
               "staff_total": a.provinces * a.staff, "units_total": a.provinces * 13,
               "idle_cpu_pct": round(idle_pct, 2), "idle_rss_kb": idle_mem["VmRSS"],
               "idle_page_bytes_per_min": round(idle_bytes),
               "load_s": round(wall, 1), "events_applied": upd,
               "events_per_s": round(upd / wall), "load_cpu_pct": round(100 * (c1 - c0) / wall, 1),
               "cpu_ms_per_1000_events": round(1000 * (c1 - c0) / max(upd, 1) * 1000, 2),
               "vm_hwm_kb": load_mem["VmHWM"], "status_json_bytes": size,
               "included_after": r1["provinces_included"]}
        print(f"| provinces | staff | idle CPU | idle RSS | idle page | events applied/s | "
              f"load CPU | CPU ms/1000 ev | VmHWM | /status.json |")
        print(f"| {a.provinces} | {a.provinces * a.staff} | {res['idle_cpu_pct']} % | "
              f"{res['idle_rss_kb'] // 1024} MB | {round(idle_bytes / 1024)} KB/min | "
              f"{res['events_per_s']} | {res['load_cpu_pct']} % | "
              f"{res['cpu_ms_per_1000_events']} | {res['vm_hwm_kb'] // 1024} MB | "
              f"{size // 1024} KB |")
        print(json.dumps(res))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(wd, ignore_errors=True)


if __name__ == "__main__":
    main()
