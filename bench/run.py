#!/usr/bin/python3
"""bench/run.py — chitieu's benchmark harness. Never part of the test suite.

Starts the REAL chitieu-aggregator (durable LMDB, default flags, full tally rule) in a
temp dir on 127.0.0.1 tcp (or ipc), drives it with bench's ct_loadgen and the real
chitieu-collector / chitieu-audit, repeats every point R times and prints
"median [min-max]" per figure, then one JSON line (the last line of stdout).

Sections (--only a,b,...; default all):
  ingest     matrix N collectors x window W: 1x1, 16x1, 1x1000, 4x1000, 16x100
             events/s, ack p50/p99/p999, aggregator CPU us/event, VmHWM, batch, commits/s;
             before and after each 1x1 run, the disk's floor (ct_syncfloor: one-record durable LMDB
             commits) and the 1x1 ack p50 minus that floor
  windows    4x250 and 4x500 (ack latency vs window at the same concurrency)
  curve      4x1000 with CurveZMQ (keys + auth file, loadgen key = admin)
  proto      the prototype pipeline of ../shared/bench (--proto-dir) alternated with
             the 4x1000 fresh-store point: median of the pairwise ratios chitieu/prototype
  feed       commit -> subscriber lag p50/p99 during 4x1000 load, with a real
             chitieu-reporter subscribed as well
  collector  real chitieu-collector, pre-queued outbox (simulate), run --once:
             full window (4096) and window 1 events/s
  growth     one store, empty then filled to 100k, 1M (and 10M with --big; --sizes):
             at each size the 4x1000 ingest rate (fresh events), its ratio to the empty
             store's, ack p50/p99/p999 and the aggregator's memory; from 1M on, the
             time a start takes after a SIGKILL under load (person-state replay);
             --pairs N: also N rounds of (a fresh store, the grown store) back to back,
             the median of their ratios (rate, CPU per event): robust to load drift
  audit      on the growth store at 1M (and 10M): verify and replay events/s, and
             the snq->snp snapshot round trip (while the aggregator runs)
  repl       replication, alternated with the single-node 4x1000 point (fresh stores):
             a primary (--replicate, --sync-followers 1) and one follower (--follow) on
             this machine, ct_loadgen --safe: safe events/s and its ratio to the
             single-node rate, safe-ack p99 against the single-node ack p99, follower
             lag (records, ms) from the primary's /metrics; then PostgreSQL (if
             installed and run as root) alone and with a synchronous standby
             (pg_basebackup, synchronous_commit=on), alternated, with the peer
             benchmark's work (bench/peer_load.c, PostgreSQL only)

Each fresh-store point uses a new data dir; the machine's load (os.getloadavg) is
recorded before and after every section. Figures are medians of the repetitions.
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def load():
    return round(os.getloadavg()[0], 2)


class LagSampler(threading.Thread):
    """Polls the reporter's /metrics every 20 ms during a run and keeps
    chitieu_feed_lag_seconds (receive time minus commit time of the last change the
    reporter applied), in ms, whenever the reporter applied a new update."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url, self.samples, self._stop_ev = url, [], threading.Event()

    def run(self):
        import urllib.request
        last = None
        while not self._stop_ev.wait(0.02):
            try:
                body = urllib.request.urlopen(self.url, timeout=1).read().decode()
            except OSError:
                continue
            lag = seq = None
            for line in body.splitlines():
                if line.startswith("chitieu_feed_lag_seconds "):
                    lag = float(line.split()[1]) * 1000
                elif line.startswith("chitieu_log_seq ") or line.startswith("chitieu_seq "):
                    seq = line.split()[1]
            if lag is not None and (seq is None or seq != last):
                self.samples.append(lag)
                last = seq

    def stop(self):
        self._stop_ev.set()
        self.join(5)


def proc_cpu_s(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read().rsplit(")", 1)[1].split()
        return (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


class FollowerLagSampler(threading.Thread):
    """Polls a primary's /metrics every 50 ms (the aggregator refreshes it every
    250 ms) and keeps (chitieu_aggregator_follower_lag_records, _seconds in ms) of
    the first follower: its durable lag. Given the follower's /metrics with
    names=("chitieu_aggregator_apply_lag_records", "chitieu_aggregator_apply_lag_seconds"),
    its apply lag (received, not yet counted; a build without them: no samples)."""

    def __init__(self, url, names=("chitieu_aggregator_follower_lag_records{",
                                   "chitieu_aggregator_follower_lag_seconds{")):
        super().__init__(daemon=True)
        self.url, self.samples, self._stop_ev = url, [], threading.Event()
        self.names = names

    def run(self):
        import urllib.request
        while not self._stop_ev.wait(0.05):
            try:
                body = urllib.request.urlopen(self.url, timeout=1).read().decode()
            except OSError:
                continue
            rec = ms = None
            for line in body.splitlines():
                if line.startswith(self.names[0]):
                    rec = int(float(line.split()[-1]))
                elif line.startswith(self.names[1]):
                    ms = float(line.split()[-1]) * 1000
            if rec is not None and ms is not None:
                self.samples.append((rec, ms))

    def stop(self):
        self._stop_ev.set()
        self.join(5)


class PgPair:
    """A throwaway PostgreSQL primary on 127.0.0.1 and a standby made with
    pg_basebackup, as the 'postgres' user in a temp dir (default fsync and
    synchronous_commit=on). mode('single'): the standby is stopped and
    synchronous_standby_names is empty; mode('sync'): the standby runs and is the
    synchronous one (a commit returns after the standby flushed its WAL)."""

    def __init__(self, bindir, tmp):
        self.bin, self.dir = bindir, os.path.join(tmp, "pg")
        self.pdata, self.sdata = os.path.join(self.dir, "primary"), os.path.join(self.dir, "standby")
        self.pport, self.sport = free_port(), free_port()
        self.conninfo = f"host=127.0.0.1 port={self.pport} user=postgres dbname=postgres"
        self.running = {"primary": False, "standby": False}
        self.version = ""

    def pgu(self, *args, check=True):
        return subprocess.run(["runuser", "-u", "postgres", "--"] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              check=check)

    def ctl(self, which, action):
        data = self.pdata if which == "primary" else self.sdata
        port = self.pport if which == "primary" else self.sport
        if action == "start":
            self.pgu(os.path.join(self.bin, "pg_ctl"), "-D", data, "-l",
                     os.path.join(self.dir, which + ".log"), "-w", "-o",
                     f"-p {port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                     "-c max_connections=100", "start")
        else:
            self.pgu(os.path.join(self.bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop",
                     check=False)
        self.running[which] = action == "start"

    def sql(self, q):
        return self.pgu(os.path.join(self.bin, "psql"), "-tA", "-v", "ON_ERROR_STOP=1",
                        self.conninfo, "-c", q).stdout.strip()

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o777)
        shutil.chown(self.dir, "postgres")
        os.chmod(os.path.dirname(self.dir), 0o755)
        self.pgu(os.path.join(self.bin, "initdb"), "-D", self.pdata, "-A", "trust", "-U",
                 "postgres")
        with open(os.path.join(self.pdata, "pg_hba.conf"), "a") as f:
            f.write("host replication postgres 127.0.0.1/32 trust\n")
        self.ctl("primary", "start")
        self.sql("CREATE TABLE ev (id bytea PRIMARY KEY, district int NOT NULL, agent text NOT "
                 "NULL, program smallint NOT NULL, body bytea NOT NULL); CREATE TABLE cnt_district"
                 " (district int, program smallint, n bigint NOT NULL, PRIMARY KEY (district, "
                 "program)); CREATE TABLE cnt_agent (agent text, program smallint, n bigint NOT "
                 "NULL, PRIMARY KEY (agent, program));")
        self.pgu(os.path.join(self.bin, "pg_basebackup"), "-D", self.sdata, "-h", "127.0.0.1",
                 "-p", str(self.pport), "-U", "postgres", "-R", "-X", "stream")
        self.version = self.sql("show server_version")
        log(f"  PostgreSQL {self.version}: primary 127.0.0.1:{self.pport}, standby "
            f"127.0.0.1:{self.sport} (pg_basebackup -R), synchronous_commit="
            f"{self.sql('show synchronous_commit')}, fsync={self.sql('show fsync')}")

    def mode(self, m):
        if m == "single":
            if self.running["standby"]:
                self.ctl("standby", "stop")
            self.sql("ALTER SYSTEM SET synchronous_standby_names = ''")
            self.sql("SELECT pg_reload_conf()")
            return
        if not self.running["standby"]:
            self.ctl("standby", "start")
        self.sql("ALTER SYSTEM SET synchronous_standby_names = '*'")
        self.sql("SELECT pg_reload_conf()")
        for _ in range(200):
            if self.sql("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") \
                    == "1":
                return
            time.sleep(0.05)
        sys.exit("bench: the PostgreSQL standby did not become synchronous")

    def stop(self):
        for w in ("standby", "primary"):
            if self.running[w]:
                self.ctl(w, "stop")


class Bench:
    def __init__(self, args):
        self.a = args
        self.bin = os.path.abspath(args.bin)
        self.tmp = tempfile.mkdtemp(prefix="ct-bench-", dir=args.tmp)
        self.results = {}
        self.loads = {}
        self.procs = []

    def b(self, name):
        p = os.path.join(self.bin, name)
        if not os.path.exists(p):
            sys.exit(f"bench: {p} not built (cmake --build ... first)")
        return p

    # ---- processes -------------------------------------------------------
    def endpoints(self, name):
        if self.a.transport == "ipc":
            return {k: f"ipc://{self.tmp}/{name}-{k}" for k in ("ingest", "feed", "snapshot")}
        return {k: f"tcp://127.0.0.1:{free_port()}" for k in ("ingest", "feed", "snapshot")}

    def start_agg(self, name, data=None, secure=None, extra=()):
        eps = self.endpoints(name)
        data = data or os.path.join(self.tmp, name + "-data")
        self.starts = getattr(self, "starts", 0) + 1
        logf = open(os.path.join(self.tmp, f"{name}.{self.starts}.log"), "w")
        self.lastlog = {**getattr(self, "lastlog", {}), name: logf.name}
        args = [self.b("chitieu-aggregator"), "--data", data, "--ingest", eps["ingest"],
                "--feed", eps["feed"], "--snapshot", eps["snapshot"], "--stats-interval", "5"]
        args += ["--keys", secure[0], "--auth", secure[1]] if secure else ["--insecure"]
        args += list(extra)
        p = subprocess.Popen(args, stdout=logf, stderr=logf)
        self.procs.append(p)
        logpath = logf.name
        deadline = time.time() + 20
        while time.time() < deadline:
            with open(logpath) as f:
                if 'msg="ready"' in f.read():
                    break
            if p.poll() is not None:
                sys.exit(f"bench: aggregator exited early, see {logpath}")
            time.sleep(0.02)
        else:
            sys.exit(f"bench: aggregator not ready, see {logpath}")
        return p, eps, data

    def stop(self, p, timeout=30):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def loadgen(self, eps, n, w, m, agg=None, feed=False, secure=None, label="", batch=256,
                cancel=3, timeout=120, safe=False):
        args = [self.a.loadgen or self.b("ct_loadgen"), "--server", eps["ingest"],
                "--collectors", str(n),
                "--window", str(w), "--events", str(m), "--batch", str(batch),
                "--cancel-pct", str(cancel), "--label", label, "--timeout", str(timeout)]
        if safe:
            args += ["--safe"]
        if agg:
            args += ["--agg-pid", str(agg.pid)]
        if feed:
            args += ["--feed", eps["feed"]]
        if secure:
            args += ["--server-key", secure[0], "--keys", secure[1]]
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            log(r.stderr)
            sys.exit(f"bench: ct_loadgen failed ({r.returncode}): {' '.join(args)}")
        return json.loads(r.stdout.strip().splitlines()[-1])

    def floor_bin(self):
        p = self.a.floor or os.path.join(self.bin, "ct_syncfloor")
        return p if os.path.exists(p) else None

    def sync_floor(self, name, commits=500):
        """The disk's floor under a one-at-a-time ack, in the data dirs' file system:
        ct_syncfloor's one-record durable LMDB commits (p50/p99 ms)."""
        r = subprocess.run([self.floor_bin(), os.path.join(self.tmp, name), str(commits)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            log(r.stderr)
            sys.exit(f"bench: ct_syncfloor failed ({r.returncode})")
        return json.loads(r.stdout.strip().splitlines()[-1])

    def cleanup(self):
        for p in list(self.procs):
            self.stop(p, 10)
        if not self.a.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            log(f"bench: kept {self.tmp}")

    # ---- statistics -------------------------------------------------------
    @staticmethod
    def agg(runs, key):
        vals = [r[key] for r in runs if r.get(key) is not None]
        if not vals:
            return None
        return {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
                "n": len(vals)}

    def reps(self, cheap=True):
        return self.a.reps if self.a.reps else (5 if cheap else 3)

    # ---- sections ---------------------------------------------------------
    def ingest_point(self, n, w, m, reps, secure=None, label=None, feed=False, reporter=False):
        label = label or f"{n}x{w}"
        runs = []
        one = n == 1 and w == 1 and not secure and self.floor_bin()
        for i in range(reps):
            fl = self.sync_floor(f"floor-{label}-{i}") if one else None
            p, eps, data = self.start_agg(f"ing-{label}-{i}", secure=secure and secure[0:2])
            rep = None
            sampler = None
            if reporter:
                hport = free_port()
                rep = subprocess.Popen([self.b("chitieu-reporter"), "--feed", eps["feed"],
                                        "--snapshot", eps["snapshot"], "--insecure",
                                        "--interval", "1", "--format", "json", "--output",
                                        os.path.join(self.tmp, "report.json"), "--http",
                                        f"127.0.0.1:{hport}"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                self.procs.append(rep)
                time.sleep(0.5)
                sampler = LagSampler(f"http://127.0.0.1:{hport}/metrics")
                sampler.start()
            r = self.loadgen(eps, n, w, m, agg=p, feed=feed,
                             secure=secure and (secure[2], secure[3]), label=label)
            if sampler:
                sampler.stop()
                lags = sorted(sampler.samples)
                if lags:
                    r["reporter_lag_p50_ms"] = lags[len(lags) // 2]
                    r["reporter_lag_p99_ms"] = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
                    r["reporter_lag_samples"] = len(lags)
            r["agg_rss_anon_kb"] = proc_status(p.pid).get("RssAnon")
            if rep:
                r["reporter_hwm_kb"] = proc_status(rep.pid).get("VmHWM")
                self.stop(rep)
            self.stop(p)
            shutil.rmtree(data, ignore_errors=True)
            if fl:  # the floor before and after the run: their mean p50, the larger p99
                fl2 = self.sync_floor(f"floor-{label}-{i}b")
                r["floor_p50_ms"] = (fl["p50_ms"] + fl2["p50_ms"]) / 2
                r["floor_p99_ms"] = max(fl["p99_ms"], fl2["p99_ms"])
                r["over_floor_ms"] = r["lat_p50_ms"] - fl["p50_ms"]
            runs.append(r)
            log(f"  {label} run {i + 1}/{reps}: {r['events_per_s']:.0f} ev/s, ack p50 "
                f"{r['lat_p50_ms']:.2f} p99 {r['lat_p99_ms']:.2f} ms, batch {r['batch_avg']:.0f}"
                + (f", feed lag p50 {r['feed_lag_p50_ms']:.2f} p99 {r['feed_lag_p99_ms']:.2f} ms"
                   if feed else ""))
        keys = ["events_per_s", "lat_p50_ms", "lat_p99_ms", "lat_p999_ms", "agg_cpu_us_per_event",
                "agg_hwm_kb", "loadgen_hwm_kb", "batch_avg", "commits_per_s",
                "agg_write_bytes_per_event", "agg_rss_anon_kb", "loadgen_cpu_us_per_event"]
        if one:
            keys += ["floor_p50_ms", "floor_p99_ms", "over_floor_ms"]
        if feed:
            keys += ["feed_lag_p50_ms", "feed_lag_p99_ms", "feed_updates", "feed_gaps"]
        if reporter:
            keys += ["reporter_hwm_kb", "reporter_lag_p50_ms", "reporter_lag_p99_ms",
                     "reporter_lag_samples"]
        out = {k: self.agg(runs, k) for k in keys}
        out["events"] = m
        return out

    def sec_ingest(self):
        q = self.a.quick
        matrix = [(1, 1, 300 if q else 3000), (16, 1, 2000 if q else 24000),
                  (1, 1000, 20000 if q else 200000), (4, 1000, 20000 if q else 200000),
                  (16, 100, 20000 if q else 200000)]
        if self.a.points:
            matrix = [x for x in matrix if f"{x[0]}x{x[1]}" in self.a.points.split(",")]
        res = {}
        for n, w, m in matrix:
            log(f"ingest {n}x{w}, {m} events")
            res[f"{n}x{w}"] = self.ingest_point(n, w, m, self.reps(True))
        self.results["ingest"] = res

    def sec_windows(self):
        """Window sweep at 4 collectors: latency follows in-flight / rate (Little's law)."""
        m = 20000 if self.a.quick else 200000
        res = {}
        for w in (250, 500):
            log(f"windows 4x{w}, {m} events")
            res[f"4x{w}"] = self.ingest_point(4, w, m, self.reps(False))
        self.results["windows"] = res

    def sec_proto(self):
        """The pipeline's limit: ../shared/bench's prototype (ZeroMQ, msgpack, one durable
        LMDB transaction per batch, ordered keys, no validation), alternated with the
        4x1000 fresh-store point; the ratio is the median of the pairwise ratios."""
        script = os.path.join(self.a.proto_dir, "run-prototype.sh")
        if not os.path.exists(script):
            self.results["proto"] = {"note": f"prototype not found ({script}); skipped"}
            return
        m = 20000 if self.a.quick else 200000
        runs, ratios = [], []
        for i in range(self.reps(True)):
            r = subprocess.run([script, "4", str(m // 4), "1000"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
            mo = re.search(r"events_per_s=(\d+)", r.stdout)
            if r.returncode != 0 or not mo:
                log(r.stderr[-2000:])
                sys.exit("bench: prototype failed")
            pe = float(mo.group(1))
            c = self.ingest_point(4, 1000, m, 1, label="4x1000-vs-proto")
            ce = c["events_per_s"]["median"]
            runs.append({"proto_eps": pe, "chitieu_eps": ce, "ratio": ce / pe,
                         "lat_p99_ms": c["lat_p99_ms"]["median"]})
            ratios.append(ce / pe)
            log(f"  proto run {i + 1}: prototype {pe:.0f} ev/s, chitieu {ce:.0f} ev/s, "
                f"ratio {ce / pe:.2f}")
        self.results["proto"] = {k: self.agg(runs, k) for k in
                                 ("proto_eps", "chitieu_eps", "ratio", "lat_p99_ms")}
        self.results["proto"]["events"] = m

    def sec_curve(self):
        kd = os.path.join(self.tmp, "keys")
        os.makedirs(kd, exist_ok=True)
        kb = self.b("chitieu-keys")
        srv = subprocess.run([kb, "gen", os.path.join(kd, "server")], check=True,
                             stdout=subprocess.PIPE, text=True).stdout.strip()
        cli = subprocess.run([kb, "gen", os.path.join(kd, "loadgen")], check=True,
                             stdout=subprocess.PIPE, text=True).stdout.strip()
        auth = os.path.join(kd, "auth")
        with open(auth, "w") as f:
            f.write(f"{cli} admin bench-loadgen\n")
        del srv
        secure = (os.path.join(kd, "server.key"), auth, os.path.join(kd, "server.pub"),
                  os.path.join(kd, "loadgen.key"))
        m = 20000 if self.a.quick else 200000
        log(f"curve 4x1000, {m} events")
        self.results["curve"] = {"4x1000": self.ingest_point(4, 1000, m, self.reps(False),
                                                             secure=secure, label="curve-4x1000")}

    def sec_feed(self):
        m = 20000 if self.a.quick else 200000
        log(f"feed lag under 4x1000 load, {m} events, reporter subscribed")
        self.results["feed"] = self.ingest_point(4, 1000, m, self.reps(False), label="feed-4x1000",
                                                 feed=True, reporter=True)

    def collector_run(self, window, count, i):
        ob = os.path.join(self.tmp, f"ob-{window}-{i}")
        cb = self.b("chitieu-collector")
        subprocess.run([cb, "init", "--outbox", ob, "--district", "672"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([cb, "simulate", "--outbox", ob, "--count", str(count), "--seed",
                        str(100 + i)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        p, eps, data = self.start_agg(f"col-{window}-{i}")
        s0 = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
        t0 = time.monotonic()
        r = subprocess.run(["/usr/bin/time", "-f", "%M", cb, "run", "--outbox", ob, "--server",
                            eps["ingest"], "--insecure", "--once", "--window", str(window),
                            "--stats-interval", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        t1 = time.monotonic()
        s1 = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
        if r.returncode != 0:
            log(r.stderr[-3000:])
            sys.exit("bench: chitieu-collector run failed")
        m = re.search(r'msg="delivery finished".*?accepted=(\d+)', r.stderr)
        accepted = int(m.group(1)) if m else 0
        tick = os.sysconf("SC_CLK_TCK")
        cpu = (int(s1[11]) + int(s1[12]) - int(s0[11]) - int(s0[12])) / tick
        hwm = proc_status(p.pid).get("VmHWM")
        col_hwm = int(r.stderr.strip().splitlines()[-1])
        self.stop(p)
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(ob, ignore_errors=True)
        return {"events_per_s": accepted / (t1 - t0), "accepted": accepted, "secs": t1 - t0,
                "agg_cpu_us_per_event": cpu * 1e6 / max(accepted, 1), "agg_hwm_kb": hwm,
                "collector_hwm_kb": col_hwm, "mean_ack_ms": (t1 - t0) * 1000 / max(accepted, 1)}

    def sec_collector(self):
        res = {}
        for window, count in ((4096, 20000 if self.a.quick else 200000),
                              (1, 300 if self.a.quick else 1000)):
            runs = []
            for i in range(self.reps(False)):
                r = self.collector_run(window, count, i)
                if r["accepted"] != count:
                    sys.exit(f"bench: collector delivered {r['accepted']} of {count}")
                runs.append(r)
                log(f"  collector window {window} run {i + 1}: {r['events_per_s']:.0f} ev/s "
                    f"({count} events, {r['secs']:.2f} s wall incl. start)")
            res[f"window{window}"] = {k: self.agg(runs, k) for k in
                                      ("events_per_s", "mean_ack_ms", "agg_cpu_us_per_event",
                                       "agg_hwm_kb", "collector_hwm_kb")}
            res[f"window{window}"]["events"] = count
        self.results["collector"] = res

    # ---- replication --------------------------------------------------------
    def repl_point(self, m, i):
        """One replicated run: fresh primary + follower, 4x1000 --safe, lag sampled."""
        rep_ep = f"tcp://127.0.0.1:{free_port()}"
        mport = free_port()
        p, eps, data = self.start_agg(f"repl-p-{i}", extra=["--replicate", rep_ep,
                                                           "--sync-followers", "1",
                                                           "--metrics", f"127.0.0.1:{mport}"])
        fport = free_port()
        f, _, fdata = self.start_agg(f"repl-f-{i}", extra=["--follow", rep_ep,
                                                           "--metrics", f"127.0.0.1:{fport}"])
        sampler = FollowerLagSampler(f"http://127.0.0.1:{mport}/metrics")
        applied = FollowerLagSampler(f"http://127.0.0.1:{fport}/metrics",
                                     ("chitieu_aggregator_apply_lag_records ",
                                      "chitieu_aggregator_apply_lag_seconds "))
        sampler.start()
        applied.start()
        r = self.loadgen(eps, 4, 1000, m, agg=p, label="repl-4x1000", safe=True)
        sampler.stop()
        applied.stop()
        ar = sorted(x[0] for x in applied.samples)
        am = sorted(x[1] for x in applied.samples)
        if ar:
            r["apply_lag_records_p99"] = ar[min(len(ar) - 1, int(len(ar) * 0.99))]
            r["apply_lag_ms_p99"] = am[min(len(am) - 1, int(len(am) * 0.99))]
            r["apply_lag_ms_p50"] = am[len(am) // 2]
        lr = sorted(x[0] for x in sampler.samples)
        lm = sorted(x[1] for x in sampler.samples)
        if lr:
            r["lag_records_p99"] = lr[min(len(lr) - 1, int(len(lr) * 0.99))]
            r["lag_ms_p99"] = lm[min(len(lm) - 1, int(len(lm) * 0.99))]
            r["lag_ms_p50"] = lm[len(lm) // 2]
            r["lag_samples"] = len(lr)
        r["follower_cpu_s"] = proc_cpu_s(f.pid)
        self.stop(f)
        self.stop(p)
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(fdata, ignore_errors=True)
        return r

    def sec_repl(self):
        m = 20000 if self.a.quick else 200000
        runs = []
        for i in range(self.reps(False)):
            log(f"repl round {i + 1}: single node 4x1000, then primary + follower (safe)")
            c = self.ingest_point(4, 1000, m, 1, label="4x1000-vs-repl")
            r = self.repl_point(m, i)
            se, sp = c["events_per_s"]["median"], c["lat_p99_ms"]["median"]
            run = {"single_eps": se, "single_p99_ms": sp, "safe_eps": r["safe_events_per_s"],
                   "safe_p50_ms": r["safe_p50_ms"], "safe_p99_ms": r["safe_p99_ms"],
                   "committed_p99_ms": r["lat_p99_ms"], "ratio": r["safe_events_per_s"] / se,
                   "p99_ratio": r["safe_p99_ms"] / sp if sp else None,
                   "lag_records_p99": r.get("lag_records_p99"), "lag_ms_p99": r.get("lag_ms_p99"),
                   "lag_ms_p50": r.get("lag_ms_p50"), "lag_samples": r.get("lag_samples"),
                   "apply_lag_records_p99": r.get("apply_lag_records_p99"),
                   "apply_lag_ms_p50": r.get("apply_lag_ms_p50"),
                   "apply_lag_ms_p99": r.get("apply_lag_ms_p99"),
                   "primary_cpu_us": r["agg_cpu_us_per_event"],
                   "follower_cpu_us": r["follower_cpu_s"] * 1e6 / max(r["safe_events"], 1)}
            runs.append(run)
            log(f"  single {se:.0f} ev/s p99 {sp:.1f} ms | replicated safe "
                f"{run['safe_eps']:.0f} ev/s (x{run['ratio']:.2f}), safe p50 "
                f"{run['safe_p50_ms']:.1f} p99 {run['safe_p99_ms']:.1f} ms, lag p99 "
                f"{run['lag_records_p99']} records / {run['lag_ms_p99']} ms, apply lag p99 "
                f"{run['apply_lag_records_p99']} records / {run['apply_lag_ms_p99']} ms")
        keys = ("single_eps", "single_p99_ms", "safe_eps", "safe_p50_ms", "safe_p99_ms",
                "committed_p99_ms", "ratio", "p99_ratio", "lag_records_p99", "lag_ms_p99",
                "lag_ms_p50", "lag_samples", "apply_lag_records_p99", "apply_lag_ms_p50",
                "apply_lag_ms_p99", "primary_cpu_us", "follower_cpu_us")
        res = {k: self.agg(runs, k) for k in keys}
        res["events"] = m
        res["pg"] = self.pg_pair()
        self.results["repl"] = res

    def pg_pair(self):
        """PostgreSQL alone vs with a synchronous standby, alternated (bench/peer_load.c's
        work; PostgreSQL only, built here without Redis)."""
        bins = sorted(d for d in (os.path.join("/usr/lib/postgresql", v, "bin") for v in
                                  (os.listdir("/usr/lib/postgresql")
                                   if os.path.isdir("/usr/lib/postgresql") else []))
                      if os.path.exists(os.path.join(d, "pg_basebackup")))
        if self.a.no_pg:
            return {"note": "PostgreSQL point skipped (--no-pg)"}
        if not bins or os.getuid() != 0 or not shutil.which("pg_config"):
            return {"note": "PostgreSQL point skipped (needs postgresql, libpq-dev, root)"}
        pg = PgPair(bins[-1], self.tmp)
        try:
            pl = os.path.join(self.tmp, "peer_load")
            inc = subprocess.run(["pg_config", "--includedir"], stdout=subprocess.PIPE,
                                 text=True, check=True).stdout.strip()
            subprocess.run(["cc", "-O2", "-std=c11", "-D_POSIX_C_SOURCE=200809L",
                            "-DPEER_NO_REDIS", f"-I{inc}", os.path.join(HERE, "peer_load.c"),
                            "-o", pl, "-lpq", "-lpthread"], check=True)
            pg.start()
            roster = os.path.join(SRC, "examples", "lamdong-2023", "staff.csv")
            secs = 2 if self.a.quick else 4
            points = [("8 clients, 1 per txn", 8, 1), ("32 clients x 100 per txn", 32, 100)]
            out = {"version": pg.version, "points": {}}
            for name, n, batch in points:
                runs = []
                for i in range(self.reps(False)):
                    row = {}
                    for mode in ("single", "sync"):
                        pg.mode(mode)
                        r = subprocess.run([pl, "--pg", pg.conninfo, "--roster", roster,
                                            "--clients", str(n), "--seconds", str(secs),
                                            "--batch", str(batch)], stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True)
                        if r.returncode != 0:
                            log(r.stderr[-2000:])
                            sys.exit("bench: peer_load failed")
                        j = json.loads(r.stdout.strip().splitlines()[-1])
                        row[f"{mode}_eps"] = j["events_per_s"]
                        row[f"{mode}_p99_ms"] = j["lat_p99_ms"]
                        row[f"{mode}_p50_ms"] = j["lat_p50_ms"]
                    row["ratio"] = row["sync_eps"] / row["single_eps"]
                    row["p99_ratio"] = row["sync_p99_ms"] / row["single_p99_ms"]
                    runs.append(row)
                    log(f"  PostgreSQL {name} round {i + 1}: alone {row['single_eps']:.0f} ev/s "
                        f"p99 {row['single_p99_ms']:.1f} ms | sync standby {row['sync_eps']:.0f} "
                        f"ev/s p99 {row['sync_p99_ms']:.1f} ms (x{row['ratio']:.2f})")
                out["points"][name] = {k: self.agg(runs, k) for k in runs[0]}
            return out
        finally:
            pg.stop()

    # growth + audit share one store
    def head_seq(self, name):
        """head_seq from the last 'ready' line of aggregator NAME's log."""
        with open(self.lastlog[name]) as f:
            m = re.findall(r'msg="ready".*?head_seq=(\d+)', f.read())
        return int(m[-1]) if m else 0

    def snapshot_rt(self, ep, reps):
        import msgpack
        import zmq
        ctx = zmq.Context.instance()
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(ep)
        req = msgpack.packb({"v": 1, "k": "snq"})
        times, size, n = [], 0, 0
        for i in range(reps + 1):
            t0 = time.perf_counter()
            s.send(req)
            if not s.poll(30000):
                sys.exit("bench: no snapshot reply")
            rep = s.recv()
            t1 = time.perf_counter()
            if i:  # first one connects
                times.append((t1 - t0) * 1000)
            size = len(rep)
            n = len(msgpack.unpackb(rep, raw=True)[b"c"])
        s.close()
        return times, size, n

    def audit_at(self, data, seq, p, eps):
        ab = self.b("chitieu-audit")
        res = {}
        for cmd, extra in (("verify", ["--quiet"]), ("replay", ["--seq", str(seq), "--format",
                                                                "json"])):
            runs = []
            for i in range(self.reps(False)):
                ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.monotonic()
                r = subprocess.run([ab, cmd, "--data", data] + extra, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
                t1 = time.monotonic()
                ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
                if r.returncode != 0:
                    log(r.stdout[-2000:], r.stderr[-2000:])
                    sys.exit(f"bench: audit {cmd} failed")
                runs.append({"events_per_s": seq / (t1 - t0), "secs": t1 - t0,
                             "cpu_us_per_event": cpu * 1e6 / max(seq, 1)})
                log(f"  audit {cmd} @{seq}: {seq / (t1 - t0):.0f} ev/s ({t1 - t0:.2f} s, "
                    f"CPU {cpu:.2f} s)")
            res[cmd] = {k: self.agg(runs, k) for k in ("events_per_s", "secs", "cpu_us_per_event")}
        times, size, n = self.snapshot_rt(eps["snapshot"], 5)
        log(f"  snapshot @{seq}: {statistics.median(times):.2f} ms, {n} counters, {size} bytes")
        res["snapshot_ms"] = {"median": statistics.median(times), "min": min(times),
                              "max": max(times), "n": len(times)}
        res["snapshot_counters"] = n
        res["snapshot_bytes"] = size
        res["events"] = seq
        return res

    def growth_pairs(self, eps, p, tgt, mm):
        """--pairs N: N rounds, each a fresh store's 4x1000 point (its own aggregator,
        started for it) and the grown store's, back to back, the order reversed every
        other round: the ratio of each pair is measured under the same load, which the
        separate empty point minutes earlier is not on a shared machine."""
        ratios, cpu_ratios, acc = [], [], 0
        for i in range(self.a.pairs):
            r = {}
            for which in (("fresh", "grown") if i % 2 == 0 else ("grown", "fresh")):
                if which == "grown":
                    r[which] = self.loadgen(eps, 4, 1000, mm, agg=p, label=f"pair-{tgt}")
                    acc += int(r[which]["accepted"])
                    continue
                fdata = os.path.join(self.tmp, "pair-fresh-data")
                shutil.rmtree(fdata, ignore_errors=True)
                q, qeps, _ = self.start_agg("pair", data=fdata)
                r[which] = self.loadgen(qeps, 4, 1000, mm, agg=q, label="pair-fresh")
                self.stop(q)
                shutil.rmtree(fdata, ignore_errors=True)
            ratios.append(r["grown"]["events_per_s"] / r["fresh"]["events_per_s"])
            cpu_ratios.append(r["fresh"]["agg_cpu_us_per_event"] /
                              max(r["grown"]["agg_cpu_us_per_event"], 1e-9))
            log(f"  pair {i + 1} at {tgt}: fresh {r['fresh']['events_per_s']:.0f} ev/s "
                f"{r['fresh']['agg_cpu_us_per_event']:.2f} us/ev, grown "
                f"{r['grown']['events_per_s']:.0f} ev/s {r['grown']['agg_cpu_us_per_event']:.2f}"
                f" us/ev, p99 {r['grown']['lat_p99_ms']:.1f} ms: x{ratios[-1]:.2f}")

        def stat(xs):
            return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}
        return {"ratio": stat(ratios), "cpu_ratio": stat(cpu_ratios), "n": len(ratios),
                "accepted": acc}

    def sec_growth_audit(self, do_growth, do_audit):
        targets = [0, 100000, 1000000] + ([10000000] if self.a.big else [])
        if self.a.sizes:
            targets = [0] + [int(x) for x in self.a.sizes.split(",")]
        if self.a.quick:
            targets = [0, 20000, 100000]
        data = os.path.join(self.tmp, "grow-data")
        p, eps, _ = self.start_agg("grow", data=data)
        growth, audit = {}, {}
        seq = 0
        mm = 10000 if self.a.quick else 50000
        for tgt in targets:
            if seq < tgt:
                t0 = time.monotonic()
                log(f"growth: filling to {tgt} (4x1000)")
                r = self.loadgen(eps, 4, 1000, tgt - seq, agg=p, label=f"fill-{tgt}",
                                 timeout=300)
                seq += int(r["accepted"])
                growth.setdefault("fills", []).append(
                    {"to": tgt, "events_per_s": r["events_per_s"],
                     "lat_p99_ms": r["lat_p99_ms"], "secs": round(time.monotonic() - t0, 2)})
            if do_audit and tgt >= (100000 if self.a.quick else 1000000):
                # stop the aggregator so nothing else competes; then restart it
                self.stop(p)
                p, eps, _ = self.start_agg("grow", data=data)
                seq = self.head_seq("grow")
                audit[str(tgt)] = self.audit_at(data, seq, p, eps)
            if do_growth:
                runs = []
                for i in range(self.reps(False)):
                    r = self.loadgen(eps, 4, 1000, mm, agg=p, label=f"at-{tgt}")
                    seq += int(r["accepted"])
                    st = proc_status(p.pid)
                    r.update({"rss_anon_kb": st.get("RssAnon"), "rss_file_kb": st.get("RssFile"),
                              "vm_hwm_kb": st.get("VmHWM")})
                    runs.append(r)
                    log(f"  at {tgt}: {r['events_per_s']:.0f} ev/s, p50 {r['lat_p50_ms']:.1f} "
                        f"p99 {r['lat_p99_ms']:.1f} ms, "
                        f"RssAnon {st.get('RssAnon')} kB RssFile {st.get('RssFile')} kB")
                growth[str(tgt)] = {k: self.agg(runs, k) for k in
                                    ("events_per_s", "lat_p50_ms", "lat_p99_ms", "lat_p999_ms",
                                     "agg_cpu_us_per_event", "rss_anon_kb", "rss_file_kb",
                                     "vm_hwm_kb", "batch_avg", "agg_write_bytes_per_event")}
                growth[str(tgt)]["store_events_after"] = seq
                if tgt and self.a.pairs:
                    growth[str(tgt)]["paired"] = self.growth_pairs(eps, p, tgt, 2 * mm)
                    seq += growth[str(tgt)]["paired"].pop("accepted")
                if tgt >= (100000 if self.a.quick else 1000000):
                    # a crash under load: SIGKILL right after a loaded run (pending
                    # person states lost), then time the start to "ready", which
                    # includes the person-state replay from the log
                    p.kill()
                    p.wait()
                    self.procs.remove(p)
                    t0 = time.monotonic()
                    p, eps, _ = self.start_agg("grow", data=data)
                    secs = time.monotonic() - t0
                    with open(self.lastlog["grow"]) as f:
                        mo = re.findall(r'person states replayed from the log" records=(\d+)',
                                        f.read())
                    growth[str(tgt)]["restart"] = {"secs": round(secs, 3),
                                                   "replayed": int(mo[-1]) if mo else 0}
                    log(f"  restart after SIGKILL at {tgt}: ready in {secs:.2f} s, "
                        f"{mo[-1] if mo else 0} records replayed")
        self.stop(p)
        du = subprocess.run(["du", "-sk", data], stdout=subprocess.PIPE, text=True).stdout.split()
        growth["store_kb_final"] = int(du[0]) if du else None
        growth["store_events_final"] = seq
        if not self.a.big and not self.a.sizes:
            growth["note"] = "10M point skipped (run with --big)"
        if do_growth:
            self.results["growth"] = growth
        if do_audit:
            self.results["audit"] = audit
        if not self.a.keep:
            shutil.rmtree(data, ignore_errors=True)

    # ---- report ---------------------------------------------------------------
    def table(self):
        def f(x, unit=""):
            if not x:
                return "-"
            med, lo, hi = x["median"], x["min"], x["max"]
            fmt = (lambda v: f"{v:.0f}") if abs(med) >= 100 else (lambda v: f"{v:.2f}")
            return f"{fmt(med)} [{fmt(lo)}-{fmt(hi)}]{unit}"

        lines = []
        ing = dict(self.results.get("ingest", {}))
        for k, v in self.results.get("windows", {}).items():
            ing[k] = v
        for k, v in self.results.get("curve", {}).items():
            ing["CURVE " + k] = v
        if ing:
            lines.append("INGEST (median [min-max]; durable commit before ack; "
                         f"transport {self.a.transport})")
            lines.append(f"{'point':<14}{'events/s':>26}{'ack p50 ms':>22}{'ack p99 ms':>22}"
                         f"{'ack p999 ms':>22}{'agg us/ev':>20}{'batch':>20}{'commits/s':>20}"
                         f"{'agg HWM kB':>24}{'agg anon kB':>22}{'B written/ev':>22}")
            for k, v in ing.items():
                lines.append(f"{k:<14}{f(v['events_per_s']):>26}{f(v['lat_p50_ms']):>22}"
                             f"{f(v['lat_p99_ms']):>22}{f(v['lat_p999_ms']):>22}"
                             f"{f(v['agg_cpu_us_per_event']):>20}{f(v['batch_avg']):>20}"
                             f"{f(v['commits_per_s']):>20}{f(v['agg_hwm_kb']):>24}{f(v.get('agg_rss_anon_kb')):>22}"
                             f"{f(v.get('agg_write_bytes_per_event')):>22}")
        for k, v in ing.items():
            if v.get("floor_p50_ms"):
                lines.append(f"{k} against the disk's floor (ct_syncfloor: 500 one-record durable "
                             f"LMDB commits before and after each run, same file system): floor p50 "
                             f"{f(v['floor_p50_ms'])} ms, p99 {f(v['floor_p99_ms'])} ms; ack p50 "
                             f"minus floor p50 {f(v['over_floor_ms'])} ms")
        fd = self.results.get("feed")
        if fd:
            lines.append("")
            lines.append(f"FEED lag commit->subscriber (4x1000 load, reporter attached): p50 "
                         f"{f(fd['feed_lag_p50_ms'])} ms, p99 {f(fd['feed_lag_p99_ms'])} ms, "
                         f"updates {f(fd['feed_updates'])}, gaps {f(fd['feed_gaps'])}; "
                         f"reporter's own lag (/metrics chitieu_feed_lag_seconds sampled every "
                         f"20 ms, {f(fd.get('reporter_lag_samples'))} samples): p50 "
                         f"{f(fd.get('reporter_lag_p50_ms'))} ms, p99 "
                         f"{f(fd.get('reporter_lag_p99_ms'))} ms; "
                         f"ingest {f(fd['events_per_s'])} ev/s; reporter HWM "
                         f"{f(fd['reporter_hwm_kb'])} kB")
        col = self.results.get("collector")
        if col:
            lines.append("")
            for k, v in col.items():
                lines.append(f"COLLECTOR (real chitieu-collector, pre-queued outbox, {k}, "
                             f"{v['events']} events): {f(v['events_per_s'])} ev/s, mean per event "
                             f"{f(v['mean_ack_ms'])} ms, collector HWM {f(v['collector_hwm_kb'])} kB")
        pr = self.results.get("proto")
        if pr:
            lines.append("")
            if "ratio" in pr:
                lines.append(f"PROTOTYPE (../shared/bench, 4x1000, {pr['events']} events, fresh "
                             f"store, alternated): prototype {f(pr['proto_eps'])} ev/s, chitieu "
                             f"{f(pr['chitieu_eps'])} ev/s (ack p99 {f(pr['lat_p99_ms'])} ms), "
                             f"ratio chitieu/prototype {f(pr['ratio'])}")
            else:
                lines.append("PROTOTYPE: " + pr["note"])
        rp = self.results.get("repl")
        if rp:
            lines.append("")
            lines.append(f"REPLICATION (4x1000, {rp['events']} events, fresh stores, alternated "
                         "with the single-node point; primary + 1 follower on this machine, "
                         "--sync-followers 1, ct_loadgen --safe)")
            lines.append(f"  single node: {f(rp['single_eps'])} ev/s, ack p99 "
                         f"{f(rp['single_p99_ms'])} ms")
            lines.append(f"  replicated:  safe {f(rp['safe_eps'])} ev/s (x single "
                         f"{f(rp['ratio'])}), safe-ack p50 {f(rp['safe_p50_ms'])} p99 "
                         f"{f(rp['safe_p99_ms'])} ms (x single p99 {f(rp['p99_ratio'])}), "
                         f"committed-ack p99 {f(rp['committed_p99_ms'])} ms")
            lines.append(f"  follower lag (primary /metrics every 50 ms, "
                         f"{f(rp['lag_samples'])} samples): p99 {f(rp['lag_records_p99'])} "
                         f"records, p50 {f(rp['lag_ms_p50'])} ms, p99 {f(rp['lag_ms_p99'])} ms;"
                         f" CPU us/event primary {f(rp['primary_cpu_us'])}, follower "
                         f"{f(rp['follower_cpu_us'])}")
            if rp.get("apply_lag_ms_p99"):
                lines.append(f"  follower apply lag (received, not yet counted; follower /metrics "
                             f"every 50 ms): p99 {f(rp['apply_lag_records_p99'])} records, p50 "
                             f"{f(rp['apply_lag_ms_p50'])} ms, p99 {f(rp['apply_lag_ms_p99'])} ms")
            pgr = rp.get("pg") or {}
            if "points" in pgr:
                for name, v in pgr["points"].items():
                    lines.append(f"  PostgreSQL {pgr['version']} {name}: alone "
                                 f"{f(v['single_eps'])} ev/s p99 {f(v['single_p99_ms'])} ms | "
                                 f"synchronous standby {f(v['sync_eps'])} ev/s p99 "
                                 f"{f(v['sync_p99_ms'])} ms (x alone {f(v['ratio'])}, p99 x "
                                 f"{f(v['p99_ratio'])})")
            elif pgr.get("note"):
                lines.append("  " + pgr["note"])
        gr = self.results.get("growth")
        if gr:
            lines.append("")
            lines.append("COST GROWTH (one store; 4x1000 fresh events at each size; "
                         "x empty = median events/s over the empty store's)")
            e0 = (gr.get("0") or {}).get("events_per_s")
            for k, v in gr.items():
                if isinstance(v, dict) and "events_per_s" in v:
                    rel = (f" (x empty {v['events_per_s']['median'] / e0['median']:.2f})"
                           if e0 else "")
                    lines.append(f"  store {int(k):>10,} events: {f(v['events_per_s'])} ev/s{rel}, "
                                 f"ack p50 {f(v['lat_p50_ms'])} p99 {f(v['lat_p99_ms'])} p999 "
                                 f"{f(v.get('lat_p999_ms'))} ms, agg us/ev "
                                 f"{f(v['agg_cpu_us_per_event'])}, RssAnon {f(v['rss_anon_kb'])}"
                                 f" kB, RssFile {f(v['rss_file_kb'])} kB, written/ev "
                                 f"{f(v.get('agg_write_bytes_per_event'))} B")
            for k, v in gr.items():
                if isinstance(v, dict) and "paired" in v:
                    pv = v["paired"]
                    lines.append(f"  paired with a fresh store at {int(k):,} events ({pv['n']} "
                                 f"rounds): x {f(pv['ratio'])} events/s, x "
                                 f"{f(pv['cpu_ratio'])} in CPU per event (fresh / grown)")
            for k, v in gr.items():
                if isinstance(v, dict) and "restart" in v:
                    lines.append(f"  restart after SIGKILL at {int(k):,} events: ready in "
                                 f"{v['restart']['secs']:.2f} s ({v['restart']['replayed']:,} "
                                 "log records replayed into person states)")
            for fl in gr.get("fills", []):
                lines.append(f"  fill to {fl['to']:,}: {fl['events_per_s']:.0f} ev/s "
                             f"(p99 {fl['lat_p99_ms']:.1f} ms, {fl['secs']} s)")
            if gr.get("note"):
                lines.append("  " + gr["note"])
        au = self.results.get("audit")
        if au:
            lines.append("")
            for k, v in au.items():
                lines.append(f"AUDIT at {int(k):,} events: verify {f(v['verify']['events_per_s'])}"
                             f" ev/s (CPU {f(v['verify'].get('cpu_us_per_event'))} us/ev), "
                             f"replay {f(v['replay']['events_per_s'])} ev/s (CPU "
                             f"{f(v['replay'].get('cpu_us_per_event'))} us/ev), snapshot "
                             f"{f(v['snapshot_ms'])} ms ({v['snapshot_counters']} counters, "
                             f"{v['snapshot_bytes']} bytes)")
        return "\n".join(lines)

    def summary(self):
        def med(x):
            return round(x["median"], 3) if x else None

        s = {"commit": self.a.commit, "load": self.loads, "transport": self.a.transport}
        for k, v in self.results.get("ingest", {}).items():
            s[f"ingest_{k}"] = {"eps": med(v["events_per_s"]), "p50": med(v["lat_p50_ms"]),
                                "p99": med(v["lat_p99_ms"]), "p999": med(v["lat_p999_ms"]),
                                "cpu_us": med(v["agg_cpu_us_per_event"]),
                                "batch": med(v["batch_avg"]), "hwm_kb": med(v["agg_hwm_kb"]),
                                "anon_kb": med(v.get("agg_rss_anon_kb"))}
            if v.get("floor_p50_ms"):
                s[f"ingest_{k}"].update(floor_p50=med(v["floor_p50_ms"]),
                                        floor_p99=med(v["floor_p99_ms"]),
                                        over_floor=med(v["over_floor_ms"]))
        for k, v in self.results.get("windows", {}).items():
            s[f"ingest_{k}"] = {"eps": med(v["events_per_s"]), "p50": med(v["lat_p50_ms"]),
                                "p99": med(v["lat_p99_ms"])}
        for k, v in self.results.get("curve", {}).items():
            s[f"curve_{k}"] = {"eps": med(v["events_per_s"]), "p99": med(v["lat_p99_ms"]),
                               "cpu_us": med(v["agg_cpu_us_per_event"])}
        if "feed" in self.results:
            fd = self.results["feed"]
            s["feed_lag_ms"] = {"p50": med(fd["feed_lag_p50_ms"]), "p99": med(fd["feed_lag_p99_ms"]),
                                "reporter_p50": med(fd.get("reporter_lag_p50_ms")),
                                "reporter_p99": med(fd.get("reporter_lag_p99_ms"))}
        for k, v in self.results.get("collector", {}).items():
            s[f"collector_{k}_eps"] = med(v["events_per_s"])
        pr = self.results.get("proto", {})
        if "ratio" in pr:
            s["proto"] = {"proto_eps": med(pr["proto_eps"]), "chitieu_eps": med(pr["chitieu_eps"]),
                          "ratio": med(pr["ratio"])}
        for k, v in self.results.get("growth", {}).items():
            if isinstance(v, dict) and "events_per_s" in v:
                s[f"growth_{k}"] = {"eps": med(v["events_per_s"]), "p50": med(v["lat_p50_ms"]),
                                    "p99": med(v["lat_p99_ms"]),
                                    "rss_anon_kb": med(v["rss_anon_kb"]),
                                    "write_b_per_ev": med(v.get("agg_write_bytes_per_event"))}
                if "paired" in v:
                    s[f"growth_{k}"]["paired_ratio"] = med(v["paired"]["ratio"])
                    s[f"growth_{k}"]["paired_cpu_ratio"] = med(v["paired"]["cpu_ratio"])
        rp = self.results.get("repl")
        if rp:
            s["repl"] = {k: med(rp.get(k)) for k in ("single_eps", "single_p99_ms", "safe_eps",
                                                     "safe_p99_ms", "ratio", "p99_ratio",
                                                     "lag_records_p99", "lag_ms_p99",
                                                     "apply_lag_records_p99",
                                                     "apply_lag_ms_p99")}
            for name, v in (rp.get("pg") or {}).get("points", {}).items():
                s["repl"]["pg " + name] = {k: med(v.get(k)) for k in
                                           ("single_eps", "sync_eps", "ratio", "single_p99_ms",
                                            "sync_p99_ms")}
        for k, v in self.results.get("audit", {}).items():
            s[f"audit_{k}"] = {"verify_eps": med(v["verify"]["events_per_s"]),
                               "replay_eps": med(v["replay"]["events_per_s"]),
                               "snapshot_ms": med(v["snapshot_ms"])}
        return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(SRC, "build-bench", "bin"))
    ap.add_argument("--only",
                    default="ingest,windows,curve,proto,repl,feed,collector,growth,audit")
    ap.add_argument("--proto-dir", default=os.environ.get(
        "CT_BENCH_PROTO", os.path.join(SRC, "..", "shared", "bench")),
        help="directory of the prototype pipeline (run-prototype.sh)")
    ap.add_argument("--sizes", default=None,
                    help="growth store sizes, comma-separated (default 100000,1000000[,10000000])")
    ap.add_argument("--reps", type=int, default=0, help="repetitions (default 5 cheap / 3)")
    ap.add_argument("--points", default=None,
                    help="ingest matrix points to run, e.g. 1x1,4x1000 (default all)")
    ap.add_argument("--loadgen", default=None,
                    help="ct_loadgen to use (default BIN/ct_loadgen; one for every build in A/B)")
    ap.add_argument("--floor", default=None,
                    help="ct_syncfloor beside the 1x1 point (default BIN/ct_syncfloor; skipped "
                         "if absent; one for every build in A/B)")
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--no-pg", action="store_true", help="repl: skip the PostgreSQL pair")
    ap.add_argument("--big", action="store_true", help="also the 10M-event store")
    ap.add_argument("--pairs", type=int, default=0,
                    help="growth: at each size also N rounds paired with a fresh store")
    ap.add_argument("--transport", choices=("tcp", "ipc"), default="tcp")
    ap.add_argument("--tmp", default=None, help="parent of the temp dir (default $TMPDIR)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json-out", default=None, help="also write the full results here")
    ap.add_argument("--commit", default=None)
    a = ap.parse_args()
    if a.commit is None:
        r = subprocess.run(["git", "-C", SRC, "rev-parse", "--short", "HEAD"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        a.commit = r.stdout.strip() or "unknown"
    only = set(a.only.split(","))
    b = Bench(a)
    try:
        for name, fn in (("ingest", b.sec_ingest), ("windows", b.sec_windows),
                         ("curve", b.sec_curve), ("proto", b.sec_proto), ("repl", b.sec_repl),
                         ("feed", b.sec_feed), ("collector", b.sec_collector)):
            if name in only:
                l0 = load()
                fn()
                b.loads[name] = [l0, load()]
        if "growth" in only or "audit" in only:
            l0 = load()
            b.sec_growth_audit("growth" in only, "audit" in only)
            b.loads["growth_audit"] = [l0, load()]
    finally:
        b.cleanup()
    print(f"chitieu bench @ {a.commit}, {os.cpu_count()} CPUs, loadavg during sections "
          f"(1-min, before/after): {b.loads}")
    print(b.table())
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"commit": a.commit, "results": b.results, "load": b.loads}, f, indent=1)
    print(json.dumps(b.summary(), separators=(",", ":")))


if __name__ == "__main__":
    main()
