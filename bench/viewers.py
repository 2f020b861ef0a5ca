#!/usr/bin/python3
"""bench/viewers.py — the reporter's live page under N concurrent viewers. Never part of the
test suite.

Starts a real chitieu-aggregator (insecure, ipc) with a store of --events sign-ups, a real
chitieu-reporter --http, then opens N concurrent Server-Sent-Events streams (/events, what a
live page holds) from this process and measures:
  - connections held (all of them got the report; none reset),
  - the reporter's RSS before the viewers, with them, and its growth per viewer,
  - bytes each viewer receives per minute while nothing changes (--idle seconds),
  - update latency to viewers: from the ack of a submit to each viewer holding the report at
    the new seq (p50, p99, max over viewers, --updates rounds),
then prints a table and one JSON line (the last line of stdout).

  bench/viewers.py --bin build/bin --viewers 1000 --idle 60 --updates 5
"""
import argparse
import json
import os
import re
import resource
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
sys.path.insert(0, os.path.join(SRC, "tests", "reporter"))
import ctproto as cp  # noqa: E402
import reporter_common as rc  # noqa: E402


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def wait_http(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"viewers: {url} not ready")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Viewers:
    def __init__(self, port, n):
        self.sel = selectors.DefaultSelector()
        self.socks, self.got, self.total = [], {}, {}
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, i)
            self.socks.append(s)
            self.got[i] = b""
            self.total[i] = 0

    def pump(self, seconds, pred=None, on_done=None):
        """Reads for up to seconds (until every viewer satisfies pred, when given);
        on_done(i, t) is called the first time viewer i satisfies pred."""
        deadline = time.time() + seconds
        done = set()
        while time.time() < deadline:
            if pred and len(done) == len(self.got):
                break
            for key, _ in self.sel.select(0.2):
                try:
                    chunk = key.fileobj.recv(1 << 16)
                except (BlockingIOError, InterruptedError):
                    continue
                if not chunk:
                    raise SystemExit(f"viewers: viewer {key.data} closed")
                i = key.data
                self.got[i] = (self.got[i] + chunk)[-4096:]
                self.total[i] += len(chunk)
                if pred and i not in done and pred(self.got[i]):
                    done.add(i)
                    if on_done:
                        on_done(i, time.time())
        return done

    def close(self):
        for s in self.socks:
            s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(SRC, "build", "bin"))
    ap.add_argument("--viewers", type=int, default=1000)
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--idle", type=float, default=60.0)
    ap.add_argument("--updates", type=int, default=5)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < a.viewers + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, a.viewers + 400), hard))
    td = tempfile.mkdtemp(prefix="ct-viewers-")
    procs = []
    try:
        ep = {k: f"ipc://{td}/{k}" for k in ("ingest", "feed", "snap")}
        agg = subprocess.Popen([os.path.join(a.bin, "chitieu-aggregator"), "--data",
                                f"{td}/data", "--insecure", "--ingest", ep["ingest"], "--feed",
                                ep["feed"], "--snapshot", ep["snap"], "--stats-interval", "0"],
                               stderr=subprocess.DEVNULL)
        procs.append(agg)
        time.sleep(1.0)
        cl = cp.Client(ep["ingest"])
        gen = rc.Generator(7)
        for i in range(0, a.events, 500):
            r = cl.call(gen.batch(min(500, a.events - i)), timeout=60)
            assert r and r["k"] == "ack", r
        seq = a.events
        port = free_port()
        rp = subprocess.Popen([os.path.join(a.bin, "chitieu-reporter"), "--insecure", "--feed",
                               ep["feed"], "--snapshot", ep["snap"], "--interval", "3600",
                               "--format", "json", "--output", f"{td}/rep.json", "--http",
                               f"127.0.0.1:{port}", "--http-max-clients", str(a.viewers + 64)],
                              stderr=subprocess.DEVNULL)
        procs.append(rp)
        wait_http(f"http://127.0.0.1:{port}/status.json")
        time.sleep(1.0)
        rss0 = rss_kb(rp.pid)
        t0 = time.time()
        v = Viewers(port, a.viewers)
        got = v.pump(120, lambda b: f'"seq":{seq},'.encode() in b)
        t_all = time.time() - t0
        held = len(got)
        rss1 = rss_kb(rp.pid)
        # idle: nothing changes
        before = dict(v.total)
        v.pump(a.idle)
        idle_bytes = [v.total[i] - before[i] for i in v.total]
        per_min = statistics.median(idle_bytes) * 60.0 / a.idle
        # update latency: ack -> the viewer holds the report at the new seq
        lat = []
        for _ in range(a.updates):
            r = cl.call(gen.batch(10), timeout=30)
            assert r and r["k"] == "ack", r
            t_ack = time.time()
            seq += 10
            want = f'"seq":{seq},'.encode()
            for i in v.got:
                v.got[i] = b""
            v.pump(30, lambda b, w=want: w in b, lambda i, t: lat.append((t - t_ack) * 1000))
            time.sleep(1.0)
        rss2 = rss_kb(rp.pid)
        v.close()
        cl.close()
        lat.sort()
        q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")  # noqa
        rows = [
            ("viewers opened / held with the report", f"{a.viewers} / {held}"),
            ("time until all held the report", f"{t_all:.1f} s"),
            ("reporter RSS before viewers", f"{rss0 / 1024:.1f} MB"),
            ("reporter RSS with viewers (after updates)", f"{rss1 / 1024:.1f} MB ({rss2 / 1024:.1f} MB)"),
            ("RSS per viewer", f"{(rss1 - rss0) / a.viewers:.1f} KB"),
            ("idle bytes per viewer per minute (median)", f"{per_min:.0f} B"),
            (f"update latency ack -> viewer, p50 / p99 / max ({len(lat)} deliveries)",
             f"{q(0.5):.0f} / {q(0.99):.0f} / {lat[-1] if lat else float('nan'):.0f} ms"),
        ]
        w = max(len(r[0]) for r in rows)
        print(f"{'reporter, live viewers':<{w}}  figure")
        for k, val in rows:
            print(f"{k:<{w}}  {val}")
        print(json.dumps({"viewers": a.viewers, "held": held, "t_all_s": round(t_all, 2),
                          "rss0_kb": rss0, "rss1_kb": rss1, "rss2_kb": rss2,
                          "idle_bytes_per_viewer_min": round(per_min),
                          "lat_p50_ms": round(q(0.5), 1), "lat_p99_ms": round(q(0.99), 1),
                          "lat_max_ms": round(lat[-1], 1) if lat else None,
                          "load": os.getloadavg()}))
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(td, ignore_errors=True)


if __name__ == "__main__":
    main()
