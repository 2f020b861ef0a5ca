"""chitieu-collector against the real chitieu-aggregator: real processes, real
ipc sockets in a temp dir, real LMDB outboxes, real signals (kill -9).

Every figure is exact: the aggregator's snapshot sequence (= log records) and
counters, the collector's own status counters.
"""
import os
import re
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import ctharness as H  # noqa: E402
import ctproto as P  # noqa: E402

SAMPLE = os.path.join(H.SRC, "examples", "lamdong-2023", "sample-signups.csv")
HASH1 = "11" * 32


def col(*args, check=True, timeout=120):
    return H.run([H.binary("chitieu-collector"), *args], check=check, timeout=timeout)


def start_agg(wd, name="agg", secure=None, eps=None):
    eps = eps or {"ingest": wd.ipc(name + "-in"), "feed": wd.ipc(name + "-feed"),
                  "snapshot": wd.ipc(name + "-snap"), "data": wd.sub(name + "-data")}
    args = [H.binary("chitieu-aggregator"), "--campaign", H.CAMPAIGN, "--data", eps["data"],
            "--ingest", eps["ingest"], "--feed", eps["feed"], "--snapshot", eps["snapshot"],
            "--stats-interval", "0"]
    args += ["--keys", secure[0], "--auth", secure[1]] if secure else ["--insecure"]
    p = wd.start(args, name=name)
    p.wait_log(r'msg="ready"')
    return p, eps


def start_run(wd, outbox, server, *extra, name="run"):
    return wd.start([H.binary("chitieu-collector"), "run", "--outbox", outbox, "--server", server,
                     *extra], name=name)


def status(outbox):
    out = {}
    for line in col("status", "--outbox", outbox).stdout.splitlines():
        k, _, v = line.partition(":")
        out[k.strip()] = v.strip()
    for k in ("queued", "delivered", "rejected", "recorded"):
        out[k] = int(out[k])
    return out


def snapshot(eps, curve=None):
    r = P.Reader(eps["feed"], eps["snapshot"], curve=curve)
    try:
        m = r.snapshot(timeout=10)
    finally:
        r.close()
    H.check(m is not None and m["k"] == "snp", f"no snapshot: {m!r}")
    return m


def receive_free(c):
    """The counters that do not depend on when the aggregator received each
    enroll: the arrival counters (PROTOCOL §5.3: LATE_CLOSED, LATE_HIST,
    LATE_MAX, AFTER_DAY, RECV_DAY) differ between two deliveries of the same
    events; of these, the number of enrolls LATE_HIST describes per program
    and unit must not."""
    out = {k: v for k, v in c.items() if k[0] not in (P.COUNT_LATE_CLOSED, P.COUNT_LATE_HIST,
                                                      P.COUNT_LATE_MAX, P.COUNT_AFTER_DAY,
                                                      P.COUNT_RECV_DAY)}
    for k, v in c.items():
        if k[0] == P.COUNT_LATE_HIST:
            out[k[:4]] = out.get(k[:4], 0) + v
    return out


def count(m, kind, program, district):
    return m["c"].get(P.key(kind, program, district), 0)


def wait_until(fn, timeout=60, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timeout waiting for {what}")


def init(outbox, district):
    col("init", "--outbox", outbox, "--district", str(district), "--campaign", H.CAMPAIGN)


# ---------------------------------------------------------------------------

def test_kill9_while_sending_then_restart():
    """Collector killed with kill -9 mid-delivery; a restarted run delivers the
    rest; every event stored once; counts equal a clean reference run."""
    with H.Workdir("col-kill") as wd:
        agg, eps = start_agg(wd)
        ob = wd.sub("ob")
        init(ob, 676)
        r = col("simulate", "--outbox", ob, "--count", "4000", "--seed", "11")
        H.check("4000 queued" in r.stdout, r.stdout)
        run = start_run(wd, ob, eps["ingest"], "--insecure", "--window", "64", "--batch", "8",
                        "--stats-interval", "0")
        st = wait_until(lambda: (lambda s: s if s["delivered"] > 0 else None)(status(ob)),
                        what="first acks")
        run.kill9()
        after_kill = status(ob)
        print(f"  killed with {after_kill['queued']} queued, {after_kill['delivered']} delivered "
              f"(seen {st['delivered']})")
        r = col("run", "--outbox", ob, "--server", eps["ingest"], "--insecure", "--once",
                "--give-up", "60", "--stats-interval", "0")
        s = status(ob)
        H.check((s["queued"], s["delivered"], s["rejected"], s["recorded"]) == (0, 4000, 0, 4000),
                f"status after restart: {s}")
        closing = f"by=this-run delivered={4000 - after_kill['delivered']} remaining=0 unsafe=0"
        H.check(closing in r.stderr, f"no closing line {closing!r}: {r.stderr[-600:]}")
        m = snapshot(eps)
        H.check(m["s"] == 4000, f"log has {m['s']} records, want 4000 (each event once)")

        # reference: the same simulated stream through a fresh collector and aggregator
        agg2, eps2 = start_agg(wd, name="ref")
        ob2 = wd.sub("ob2")
        init(ob2, 676)
        col("simulate", "--outbox", ob2, "--count", "4000", "--seed", "11")
        col("run", "--outbox", ob2, "--server", eps2["ingest"], "--insecure", "--once",
            "--give-up", "60", "--stats-interval", "0")
        m2 = snapshot(eps2)
        H.check(m2["s"] == 4000, f"reference log {m2['s']}")
        H.check(receive_free(m["c"]) == receive_free(m2["c"]),
                "counts differ from the clean reference run")
        net = count(m, P.COUNT_NET, "bhxh_tn", 676) + count(m, P.COUNT_NET, "bhyt_hgd", 676)
        H.check(net > 3000, f"net {net}")
        agg.stop()
        agg2.stop()


def test_aggregator_down_then_started():
    """Events queued while the aggregator is down are delivered, with no
    action, once it starts."""
    with H.Workdir("col-down") as wd:
        eps = {"ingest": wd.ipc("in"), "feed": wd.ipc("feed"), "snapshot": wd.ipc("snap"),
               "data": wd.sub("data")}
        ob = wd.sub("ob")
        init(ob, 677)
        col("simulate", "--outbox", ob, "--count", "500", "--seed", "2")
        run = start_run(wd, ob, eps["ingest"], "--insecure", "--stats-interval", "1")
        run.wait_log(r'msg="delivering"')
        run.wait_log(r'msg="stats".*connected=no')
        s = status(ob)
        H.check((s["queued"], s["delivered"]) == (500, 0), f"before: {s}")
        # more sign-ups recorded while offline
        for i in range(3):
            col("add", "--outbox", ob, "--agent", "LD677-001", "--program", "bhyt_hgd",
                "--person-hash", f"{i:02x}" * 32, "--time", "2023-07-30T10:00:00+07:00")
        agg, _ = start_agg(wd, eps=eps)
        wait_until(lambda: status(ob)["queued"] == 0, what="outbox drained")
        s = status(ob)
        H.check((s["delivered"], s["rejected"]) == (503, 0), f"after: {s}")
        H.check(snapshot(eps)["s"] == 503, "log records")
        H.check(run.stop() == 0, "run exit code on SIGTERM")
        agg.stop()


def test_import_twice_and_bad_rows():
    """Same CSV twice: nothing new the second time, counts unchanged; bad rows
    reported with their exact line numbers."""
    with H.Workdir("col-import") as wd:
        agg, eps = start_agg(wd)
        key = wd.sub("person.key")
        H.run([H.binary("chitieu-keys"), "person-key", key])
        ob = wd.sub("ob")
        init(ob, 672)
        run = start_run(wd, ob, eps["ingest"], "--insecure", "--stats-interval", "0")
        r = col("import", SAMPLE, "--outbox", ob, "--person-key", key, check=False)
        H.check(r.returncode == 1, f"rc {r.returncode} with bad rows")
        H.check(r.stdout.strip().endswith("16 rows: 10 queued, 0 already queued, 6 bad"), r.stdout)
        bad = [ln for ln in r.stderr.splitlines() if ln.startswith(SAMPLE + ":")]
        want = [(7, "national ID must be exactly 12 digits"),
                (8, "unknown program 'bhyt_ttt'"),
                (9, "agent 'LD673-001' belongs to district 673"),
                (10, "outside the campaign window"),
                (11, "unknown subsidy group 'nq999'"),
                (12, "expected 9 fields, found 6")]
        H.check(len(bad) == len(want), f"bad rows reported: {bad}")
        for ln, (line, what) in zip(bad, want):
            H.check(ln.startswith(f"{SAMPLE}:{line}: ") and what in ln, f"{ln!r} vs {line} {what}")
        H.check("06819000452" not in r.stderr, "a national ID was echoed")
        wait_until(lambda: status(ob)["delivered"] == 10, what="10 delivered")
        m1 = snapshot(eps)
        H.check(m1["s"] == 10, f"log {m1['s']}")
        H.check(count(m1, P.COUNT_NET, "bhxh_tn", 672) == 3, "bhxh_tn net")
        H.check(count(m1, P.COUNT_NET, "bhyt_hgd", 672) == 5, "bhyt_hgd net (6 enrolled, 1 cancelled)")
        H.check(count(m1, P.COUNT_CANCELLED, "bhyt_hgd", 672) == 1, "cancelled")

        r = col("import", SAMPLE, "--outbox", ob, "--person-key", key, check=False)
        H.check(r.returncode == 1, f"rc {r.returncode} with bad rows")
        H.check(r.stdout.strip().endswith("16 rows: 0 queued, 10 already queued, 6 bad"), r.stdout)
        s = status(ob)
        H.check((s["recorded"], s["queued"], s["delivered"]) == (10, 0, 10), f"{s}")
        # --strict turns bad rows into a failure exit code (still nothing new)
        r = col("import", SAMPLE, "--outbox", ob, "--person-key", key, "--strict", check=False)
        H.check(r.returncode == 1, f"--strict rc {r.returncode}")
        m2 = snapshot(eps)
        H.check(m2["s"] == m1["s"] and m2["c"] == m1["c"], "counts changed on re-import")
        H.check(run.stop() == 0, "run rc")
        agg.stop()


def test_import_nul_bytes():
    """A CSV field holding a NUL byte is a bad row with FILE:LINE and the
    column, never queued with the text before the NUL; --strict fails."""
    with H.Workdir("col-nul") as wd:
        ob = wd.sub("ob")
        init(ob, 681)
        path = wd.sub("damaged.csv")
        with open(path, "wb") as f:
            f.write(b"agent_id,program,person_hash,occurred_at,months,amount\n"
                    b"LD681-001,bhxh_tn," + b"11" * 32 + b",2023-07-22T09:15:00\0+05:00,12,3564000\n"
                    b"LD681-001,bhxh_tn," + b"22" * 32 + b",2023-07-22T09:15:00+07:00,12,35\x0064000\n"
                    b"LD681-002\0-junk,bhyt_hgd," + b"33" * 32 + b",2023-07-22T09:15:00+07:00,,\n"
                    b"LD681-002,bhyt_hgd," + b"44" * 32 + b",2023-07-22T09:15:00+07:00,,\n")
        r = col("import", path, "--outbox", ob, "--strict", check=False)
        H.check(r.returncode == 1, f"--strict rc {r.returncode}: {r.stderr}")
        H.check(r.stdout.strip() == f"{path}: 4 rows: 1 queued, 0 already queued, 3 bad", r.stdout)
        bad = [ln for ln in r.stderr.splitlines() if ln.startswith(path + ":")]
        H.check(bad == [f"{path}:2: field 'occurred_at' contains a NUL byte (damaged file?)",
                        f"{path}:3: field 'amount' contains a NUL byte (damaged file?)",
                        f"{path}:4: field 'agent_id' contains a NUL byte (damaged file?)"], f"{bad}")
        H.check(status(ob)["queued"] == 1, "only the undamaged row is queued")


def test_rejected_event_kept_and_not_blocking():
    with H.Workdir("col-rej") as wd:
        agg, eps = start_agg(wd)
        ob = wd.sub("ob")
        init(ob, 672)

        def add(agent, i, *extra):
            return col("add", "--outbox", ob, "--agent", agent, "--program", "bhxh_tn",
                       "--person-hash", f"{i:02x}" * 32, "--time", "2023-07-25T09:00:00+07:00",
                       *extra)
        for i in range(3):
            add("LD672-001", i)
        r = col("add", "--outbox", ob, "--agent", "LD673-001", "--program", "bhxh_tn",
                "--person-hash", "50" * 32, "--time", "2023-07-25T09:00:00+07:00", check=False)
        H.check(r.returncode == 2 and "agent_not_in_district" in r.stderr, r.stderr)
        r = add("LD673-001", 50, "--no-validate")
        bad_id = r.stdout.split()[1]
        for i in range(3, 6):
            add("LD672-002", i)
        r = col("run", "--outbox", ob, "--server", eps["ingest"], "--insecure", "--once",
                "--give-up", "30")
        s = status(ob)
        H.check((s["queued"], s["delivered"], s["rejected"]) == (0, 6, 1), f"{s}")
        r = col("rejected", "--outbox", ob)
        H.check(f"{bad_id} seq=4 reason=agent_not_in_district" in r.stdout, r.stdout)
        H.check("agent=LD673-001" in r.stdout and "1 rejected event" in r.stdout, r.stdout)
        m = snapshot(eps)
        H.check(m["s"] == 6, f"log {m['s']}")
        H.check(count(m, P.COUNT_NET, "bhxh_tn", 672) == 6, "net")
        # nothing is resent on the next run
        col("run", "--outbox", ob, "--server", eps["ingest"], "--insecure", "--once")
        H.check(snapshot(eps)["s"] == 6, "log grew")
        H.check(status(ob)["rejected"] == 1, "rejected count")
        agg.stop()


def test_curve_keys():
    """CurveZMQ: delivered with the right keys; wrong server key or unknown
    client key: nothing stored, outbox kept, clear give-up error."""
    with H.Workdir("col-curve") as wd:
        keys = wd.sub("keys")
        os.makedirs(keys, mode=0o700)
        kb = lambda n: os.path.join(keys, n)  # noqa: E731
        pub = {}
        for n in ("agg", "c672", "stranger", "rep", "other-agg"):
            H.run([H.binary("chitieu-keys"), "gen", kb(n)])
            pub[n] = H.run([H.binary("chitieu-keys"), "show", kb(n) + ".pub"]).stdout.strip()
        auth = kb("authorized.txt")
        with open(auth, "w") as f:
            f.write(f"{pub['c672']} collector 672 office-672\n{pub['rep']} reporter hq\n")
        agg, eps = start_agg(wd, secure=(kb("agg.key"), auth))
        curve = (pub["agg"], pub["rep"], [ln.split("=", 1)[1].strip() for ln in
                                          open(kb("rep.key")) if ln.startswith("secret")][0])
        ob = wd.sub("ob")
        init(ob, 672)
        for i in range(5):
            col("add", "--outbox", ob, "--agent", "LD672-003", "--program", "bhyt_hgd",
                "--person-hash", f"{i + 1:02x}" * 32, "--time", "2023-07-26T10:00:00+07:00")
        r = col("status", "--outbox", ob, "--server", eps["ingest"], "--keys", kb("c672.key"),
                "--server-key", kb("agg.pub"))
        H.check("reachable (handshake ok (CURVE))" in r.stdout, r.stdout)
        # wrong server key / unknown client key: give up, keep everything
        for ck, sk in (("c672", "other-agg"), ("stranger", "agg")):
            r = col("run", "--outbox", ob, "--server", eps["ingest"], "--keys", kb(ck + ".key"),
                    "--server-key", kb(sk + ".pub"), "--once", "--give-up", "2", check=False)
            H.check(r.returncode == 1 and "unreachable" in r.stderr, f"{ck}/{sk}: {r.stderr}")
            H.check(status(ob)["queued"] == 5, "outbox kept")
            r = col("status", "--outbox", ob, "--server", eps["ingest"], "--keys",
                    kb(ck + ".key"), "--server-key", kb(sk + ".pub"), "--timeout", "1500",
                    check=False)
            H.check(r.returncode == 1 and "UNREACHABLE" in r.stdout, r.stdout)
        H.check(snapshot(eps, curve)["s"] == 0, "something got through")
        # a world-readable secret key is refused
        shutil.copy(kb("c672.key"), kb("loose.key"))
        os.chmod(kb("loose.key"), 0o644)
        r = col("run", "--outbox", ob, "--server", eps["ingest"], "--keys", kb("loose.key"),
                "--server-key", kb("agg.pub"), "--once", check=False)
        H.check(r.returncode == 2, f"loose key rc {r.returncode}: {r.stderr}")
        # plaintext against a CURVE server gets nowhere either
        r = col("run", "--outbox", ob, "--server", eps["ingest"], "--insecure", "--once",
                "--give-up", "2", check=False)
        H.check(r.returncode == 1, f"insecure rc {r.returncode}")
        r = col("run", "--outbox", ob, "--server", eps["ingest"], "--keys", kb("c672.key"),
                "--server-key", kb("agg.pub"), "--once", "--give-up", "30")
        s = status(ob)
        H.check((s["queued"], s["delivered"]) == (0, 5), f"{s}")
        m = snapshot(eps, curve)
        H.check(m["s"] == 5 and count(m, P.COUNT_NET, "bhyt_hgd", 672) == 5, f"{m['s']}")
        agg.stop()


def test_requeue_after_authorization_fix():
    """The office's key is authorized for the wrong district: its events are
    rejected "forbidden" and kept; after the authorization file is fixed
    (SIGHUP), `requeue --reason forbidden` sends them again through the
    running deliverer, same ids, counted once."""
    import signal
    with H.Workdir("col-requeue") as wd:
        kb = lambda n: wd.sub(n)  # noqa: E731
        pub = {}
        for n in ("agg", "c672", "rep"):
            H.run([H.binary("chitieu-keys"), "gen", kb(n)])
            pub[n] = H.run([H.binary("chitieu-keys"), "show", kb(n) + ".pub"]).stdout.strip()
        auth = kb("authorized.txt")
        with open(auth, "w") as f:
            f.write(f"{pub['c672']} collector 673 misconfigured\n{pub['rep']} reporter hq\n")
        agg, eps = start_agg(wd, secure=(kb("agg.key"), auth))
        curve = (pub["agg"], pub["rep"], [ln.split("=", 1)[1].strip() for ln in
                                          open(kb("rep.key")) if ln.startswith("secret")][0])
        ob = wd.sub("ob")
        init(ob, 672)
        for i in range(4):
            col("add", "--outbox", ob, "--agent", "LD672-005", "--program", "bhxh_tn",
                "--person-hash", f"{i + 1:02x}" * 32, "--time", "2023-07-27T10:00:00+07:00")
        run = start_run(wd, ob, eps["ingest"], "--keys", kb("c672.key"), "--server-key",
                        kb("agg.pub"), "--stats-interval", "0")
        wait_until(lambda: status(ob)["rejected"] == 4, what="4 rejected")
        r = col("rejected", "--outbox", ob)
        H.check(r.stdout.count("reason=forbidden") == 4, r.stdout)
        H.check(snapshot(eps, curve)["s"] == 0, "forbidden events stored")
        r = col("requeue", "--outbox", ob, "--reason", "unknown_agent")
        H.check(r.stdout.strip() == "requeued 0 events", r.stdout)
        with open(auth, "w") as f:
            f.write(f"{pub['c672']} collector 672 office-672\n{pub['rep']} reporter hq\n")
        agg.signal(signal.SIGHUP)
        agg.wait_log(r'msg="auth reloaded"')
        r = col("requeue", "--outbox", ob, "--reason", "forbidden")
        H.check(r.stdout.strip() == "requeued 4 events", r.stdout)
        wait_until(lambda: status(ob)["delivered"] == 4, what="requeued events delivered")
        s = status(ob)
        H.check((s["queued"], s["rejected"], s["recorded"]) == (0, 0, 4), f"{s}")
        m = snapshot(eps, curve)
        H.check(m["s"] == 4 and count(m, P.COUNT_NET, "bhxh_tn", 672) == 4, f"{m['s']}")
        H.check(run.stop() == 0, "run rc")
        agg.stop()


def test_add_while_running():
    """`add` in other processes while `run` delivers: all delivered."""
    with H.Workdir("col-conc") as wd:
        agg, eps = start_agg(wd)
        ob = wd.sub("ob")
        init(ob, 68)
        run = start_run(wd, ob, eps["ingest"], "--insecure", "--stats-interval", "0")
        ids = []
        for i in range(20):
            r = col("add", "--outbox", ob, "--agent", "LD068-001", "--program",
                    "bhyt_hgd" if i % 3 else "bhxh_tn", "--person-hash", f"{i + 1:02x}" * 32,
                    "--time", f"2023-07-{22 + i % 9:02d}T10:00:00+07:00")
            ids.append(r.stdout.split()[1])
        H.check(ids == sorted(ids) and len(set(ids)) == 20, "ids not in creation order")
        H.check("a `run` is delivering" in col("status", "--outbox", ob).stdout, "status: run")
        H.check([int(x[16:], 16) for x in ids] == list(range(1, 21)), "seqs")
        wait_until(lambda: status(ob)["delivered"] == 20, what="20 delivered")
        H.check(snapshot(eps)["s"] == 20, "log")
        # a second deliverer for the same outbox is refused; `run --once` instead
        # waits for the running one to drain the outbox
        r = col("run", "--outbox", ob, "--server", eps["ingest"], "--insecure", check=False)
        H.check(r.returncode == 2 and "already delivering" in r.stderr, r.stderr)
        for i in range(20, 25):
            col("add", "--outbox", ob, "--agent", "LD068-002", "--program", "bhyt_hgd",
                "--person-hash", f"{i + 1:02x}" * 32, "--time", "2023-07-30T10:00:00+07:00")
        r = col("run", "--outbox", ob, "--server", eps["ingest"], "--insecure", "--once",
                "--give-up", "30")
        H.check("waiting for it to drain" in r.stderr, r.stderr)
        H.check(status(ob)["delivered"] == 25, "drained")
        H.check(snapshot(eps)["s"] == 25, "log")
        H.check(run.stop() == 0, "run rc")
        agg.stop()


def test_aggregator_killed_and_paused_while_delivering():
    """The aggregator is killed (kill -9) and restarted, then paused (SIGSTOP)
    past the resend timeout and resumed, while one collector delivers: the
    collector resends by itself; duplicates are acked, none counted."""
    import signal
    N = 20000  # enough that the kill lands mid-delivery on a fast machine
    with H.Workdir("col-aggkill") as wd:
        agg, eps = start_agg(wd)
        ob = wd.sub("ob")
        init(ob, 678)
        col("simulate", "--outbox", ob, "--count", str(N), "--seed", "5")
        run = start_run(wd, ob, eps["ingest"], "--insecure", "--window", "64", "--batch", "8",
                        "--resend-ms", "200", "--stats-interval", "0")
        wait_until(lambda: status(ob)["delivered"] > 0, what="first acks")
        agg.kill9()
        mid = status(ob)
        # the kill must come while events are still waiting, or nothing is tested
        H.check(mid["queued"] > 0, f"everything was delivered before the kill: {mid}")
        agg, _ = start_agg(wd, name="agg2", eps=eps)
        try:
            wait_until(lambda: status(ob)["delivered"] > mid["delivered"], what="acks after restart")
        except AssertionError:
            print("AGG2:\n" + agg.tail(40)); print("RUN:\n" + run.tail(40)); print(status(ob)); raise
        agg.signal(signal.SIGSTOP)
        time.sleep(1.0)  # several resend timeouts pass
        agg.signal(signal.SIGCONT)
        wait_until(lambda: status(ob)["queued"] == 0, what="outbox drained")
        H.check(run.stop() == 0, "run rc")
        fin = [ln for ln in run.lines if 'msg="delivery finished"' in ln]
        H.check(fin, run.tail())
        print("  " + fin[-1].split('msg="delivery finished" ')[1])
        s = status(ob)
        H.check((s["delivered"], s["rejected"]) == (N, 0), f"{s}")
        m = snapshot(eps)
        H.check(m["s"] == N, f"log has {m['s']} records, want {N}")
        agg.stop()


def test_cli_errors():
    with H.Workdir("col-cli") as wd:
        ob = wd.sub("ob")
        r = col("init", "--outbox", ob, "--district", "999", "--campaign", H.CAMPAIGN, check=False)
        H.check(r.returncode == 2 and "district 999 is not in campaign" in r.stderr, r.stderr)
        # a broken campaign file: file:line
        bad = wd.sub("camp")
        os.makedirs(bad)
        shutil.copy(os.path.join(os.path.dirname(H.CAMPAIGN), "staff.csv"), bad)
        with open(H.CAMPAIGN, encoding="utf-8") as f:
            lines = f.read().splitlines()
        n = next(i for i, ln in enumerate(lines) if ln.startswith("start"))
        lines[n] = "start = the day after tomorrow"
        with open(os.path.join(bad, "campaign.ini"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        r = col("init", "--outbox", ob, "--district", "672", "--campaign",
                os.path.join(bad, "campaign.ini"), check=False)
        H.check(r.returncode == 2 and re.search(rf"campaign\.ini:{n + 1}:", r.stderr), r.stderr)
        # queueing into an uninitialised outbox needs --district
        r = col("add", "--outbox", ob, "--agent", "LD672-001", "--program", "bhxh_tn",
                "--person-hash", HASH1, "--time", "2023-07-25T09:00", check=False)
        H.check(r.returncode == 2 and "not initialised" in r.stderr, r.stderr)
        # implicit init on first queue
        r = col("add", "--outbox", ob, "--district", "672", "--campaign", H.CAMPAIGN, "--agent",
                "LD672-001", "--program", "bhxh_tn", "--person-hash", HASH1, "--time",
                "2023-07-25T09:00")
        H.check(re.search(r"^queued [0-9a-f]{16}0{15}1$", r.stdout, re.M), r.stdout)
        r = col("add", "--outbox", ob, "--district", "673", "--agent", "LD673-001", "--program",
                "bhxh_tn", "--person-hash", HASH1, "--time", "2023-07-25T09:00", check=False)
        H.check(r.returncode == 2 and "wrong district" in r.stderr, r.stderr)
        key = wd.sub("pk")
        H.run([H.binary("chitieu-keys"), "person-key", key])
        for nid, what in (("12345", "12 digits"), ("06812345678x", "12 digits")):
            r = col("add", "--outbox", ob, "--agent", "LD672-001", "--program", "bhxh_tn",
                    "--national-id", nid, "--person-key", key, "--time", "2023-07-25T09:00",
                    check=False)
            H.check(r.returncode == 2 and what in r.stderr and nid not in r.stderr, r.stderr)
        r = col("add", "--outbox", ob, "--agent", "LD672-001", "--program", "bhxh_tn",
                "--national-id", "068123456789", "--time", "2023-07-25T09:00", check=False)
        H.check(r.returncode == 2 and "--person-key" in r.stderr, r.stderr)
        r = col("cancel", "--outbox", ob, "--agent", "LD672-001", "--program", "bhxh_tn",
                "--person-hash", HASH1, "--time", "2023-09-25T09:00", check=False)
        H.check(r.returncode == 2 and "outside the campaign window" in r.stderr, r.stderr)
        H.check(status(ob)["recorded"] == 1, "something was queued by a refused command")
        # usage errors
        for args in (["run", "--outbox", ob, "--server", wd.ipc("x")],
                     ["run", "--outbox", ob, "--server", wd.ipc("x"), "--insecure", "--keys", key],
                     ["add", "--outbox", ob, "--window", "3"],
                     ["frobnicate", "--outbox", ob], ["status"],
                     ["status", "--outbox", wd.sub("typo")],
                     ["run", "--outbox", wd.sub("typo"), "--server", wd.ipc("x"), "--insecure"]):
            r = col(*args, check=False)
            H.check(r.returncode == 2, f"{args}: rc {r.returncode} {r.stderr}")
        H.check(not os.path.exists(wd.sub("typo")), "status/run created an outbox")
        # unreachable endpoint: give up with a clear message, keep the outbox
        r = col("run", "--outbox", ob, "--server", wd.ipc("nobody"), "--insecure", "--once",
                "--give-up", "1", check=False)
        H.check(r.returncode == 1 and "unreachable" in r.stderr, r.stderr)
        H.check(status(ob)["queued"] == 1, "outbox kept")
        H.check('msg="run --once finished with events still in the outbox"' in r.stderr
                and "delivered=0 remaining=1 unsafe=0" in r.stderr, r.stderr)
        # an empty outbox with --once exits 0 even with no server
        ob2 = wd.sub("ob2")
        init(ob2, 675)
        r = col("run", "--outbox", ob2, "--server", wd.ipc("nobody"), "--insecure", "--once")
        H.check(r.returncode == 0, "empty --once")
        H.check('msg="run --once finished: outbox empty"' in r.stderr
                and "delivered=0 remaining=0 unsafe=0" in r.stderr, r.stderr)
        H.check(col("--version").stdout.startswith("chitieu-collector "), "version")
        H.check("import" in col("--help").stdout, "help")


def test_simulate_realtime_and_summary():
    with H.Workdir("col-sim") as wd:
        ob = wd.sub("ob")
        init(ob, 68)
        r = col("simulate", "--outbox", ob, "--seed", "4", "--fill", "0.9",
                "--realtime-factor", "20000000", "--district-defaults")
        m = re.search(r"(\d+) staff, (\d+) bhxh_tn \+ (\d+) bhyt_hgd enrollments, (\d+) repeats, "
                      r"(\d+) cancels = (\d+) events; (\d+) queued, 0 already queued", r.stdout)
        H.check(m, r.stdout)
        staff, e1, e2, rep, canc, total, queued = map(int, m.groups())
        H.check(e1 + e2 + rep + canc == total == queued, r.stdout)
        H.check(status(ob)["queued"] == total, "status")
        r = col("simulate", "--outbox", ob, "--seed", "4", "--fill", "0.9")
        H.check(f"0 queued, {total} already queued" in r.stdout, r.stdout)


def test_help_per_command():
    """`COMMAND --help` shows that command's options only; every command is
    listed by --help, requeue and reissue included."""
    out = col("--help").stdout
    for c in ("init", "add", "cancel", "import", "simulate", "run", "status", "rejected",
              "requeue", "reissue"):
        H.check(re.search(rf"^  {c} ", out, re.M), f"{c} missing from --help:\n{out}")
    add = col("add", "--help").stdout
    H.check(add.startswith("usage: chitieu-collector add "), add)
    for o in ("--agent", "--program", "--national-id", "--person-hash", "--person-key", "--time",
              "--outbox"):
        H.check(o in add, f"{o} missing from add --help")
    for o in ("--window", "--server", "--strict", "--reason"):
        H.check(o not in add, f"{o} shown by add --help")
    run = col("run", "--help").stdout
    H.check("--window" in run and "(default 4096)" in run and "--agent" not in run, run)
    req = col("help", "requeue").stdout
    H.check("--reason" in req and "--window" not in req, req)


def test_copied_outbox_conflict():
    """An outbox copied onto a second machine: both copies hand out the same
    next id; HQ accepts the first and refuses the other as conflict. The
    copy's run log, `rejected` and `status` say what happened and what to do;
    `requeue` will not resend it unchanged; `reissue` queues it again under a
    fresh origin, and both copies then deliver everything."""
    with H.Workdir("col-copy") as wd:
        agg, eps = start_agg(wd)
        ob_a = wd.sub("ob-a")
        init(ob_a, 672)

        def add(ob, hexbyte, agent="LD672-001"):
            r = col("add", "--outbox", ob, "--agent", agent, "--program", "bhxh_tn",
                    "--person-hash", hexbyte * 32, "--time", "2023-07-25T09:00")
            return r.stdout.split()[1]

        def run_once(ob):
            return col("run", "--outbox", ob, "--server", eps["ingest"], "--insecure", "--once",
                       "--stats-interval", "0", "--give-up", "20", check=False)

        add(ob_a, "a1")
        H.check(run_once(ob_a).returncode == 0, "first delivery")
        ob_b = wd.sub("ob-b")
        shutil.copytree(ob_a, ob_b)  # the copy: same origin, same next seq
        id_a = add(ob_a, "a2")
        id_b = add(ob_b, "b2")
        H.check(id_a == id_b, f"the copies hand out the same id: {id_a} {id_b}")
        H.check(run_once(ob_a).returncode == 0, "copy A delivers")
        r = run_once(ob_b)
        H.check(r.returncode == 0, f"copy B run rc {r.returncode}: {r.stderr}")
        H.check(status(ob_b)["rejected"] == 1, "B's sign-up refused")
        H.check("another copy of this outbox" in r.stderr and
                "chitieu-collector reissue --outbox DIR" in r.stderr and "level=error" in r.stderr,
                f"run log does not explain the conflict:\n{r.stderr}")

        r = col("rejected", "--outbox", ob_b)
        H.check(re.search(rf"^{id_b} seq=2 reason=conflict ", r.stdout, re.M), r.stdout)
        H.check("1 sign-up was refused by headquarters as `conflict`" in r.stdout and
                "copied or restored onto a second machine" in r.stdout and
                f"chitieu-collector reissue --outbox {ob_b}" in r.stdout and
                "NOT counted at headquarters" in r.stdout, r.stdout)
        out = col("status", "--outbox", ob_b).stdout
        H.check(re.search(r"^conflicts:  1 sign-up NOT counted at headquarters: the same event "
                          r"ids were used by another copy of this outbox; run `chitieu-collector "
                          rf"reissue --outbox {re.escape(ob_b)}`", out, re.M), out)
        H.check("conflicts:" not in col("status", "--outbox", ob_a).stdout, "A has no conflict")

        for extra in ([], ["--reason", "conflict"]):
            r = col("requeue", "--outbox", ob_b, *extra, check=False)
            H.check(r.returncode == 2 and "requeued 0 events" in r.stdout and
                    "not resending 1 conflict-rejected event unchanged" in r.stderr and
                    "reissue --outbox" in r.stderr, f"requeue {extra}: {r.returncode} {r.stderr}")
        H.check(status(ob_b)["rejected"] == 1, "requeue moved a conflict back")

        origin_before = status(ob_b)["origin"]
        r = col("reissue", "--outbox", ob_b)
        m = re.match(r"reissued 1 event under new ids \(fresh origin ([0-9a-f]{16})\); deliver "
                     r"them with `run`$", r.stdout.strip())
        H.check(m and m.group(1) != origin_before, r.stdout)
        s = status(ob_b)
        H.check(s["origin"] == m.group(1) and (s["queued"], s["rejected"], s["recorded"]) ==
                (1, 0, 2), f"{s}")
        H.check(s["reissued"].startswith("1 "), f"{s}")
        r = col("reissue", "--outbox", ob_b)
        H.check(r.stdout.startswith("nothing to reissue"), r.stdout)
        # both copies go on recording; their ids no longer collide
        id_b3 = add(ob_b, "b3")
        H.check(id_b3.startswith(m.group(1)), f"new sign-up under the fresh origin: {id_b3}")
        add(ob_a, "a3")
        H.check(run_once(ob_b).returncode == 0 and run_once(ob_a).returncode == 0, "deliveries")
        sb, sa = status(ob_b), status(ob_a)
        H.check((sb["queued"], sb["delivered"], sb["rejected"]) == (0, 3, 0), f"B {sb}")
        H.check((sa["queued"], sa["delivered"], sa["rejected"]) == (0, 3, 0), f"A {sa}")
        snap = snapshot(eps)
        H.check(snap["s"] == 5, f"log has {snap['s']} records, want 5 (a1 a2 a3 b2 b3)")
        H.check(count(snap, P.COUNT_NET, "bhxh_tn", 672) == 5, "5 distinct sign-ups counted")
        agg.stop()


if __name__ == "__main__":
    H.main([test_cli_errors, test_help_per_command, test_copied_outbox_conflict,
            test_import_nul_bytes, test_simulate_realtime_and_summary, test_rejected_event_kept_and_not_blocking,
            test_import_twice_and_bad_rows, test_add_while_running, test_aggregator_down_then_started,
            test_kill9_while_sending_then_restart, test_aggregator_killed_and_paused_while_delivering,
            test_curve_keys, test_requeue_after_authorization_fix])
