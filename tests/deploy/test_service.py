#!/usr/bin/env python3
"""test_service.py — the service-manager side of the long-running processes,
without systemd: each of aggregator, reporter and `collector run` is started
with NOTIFY_SOCKET (a datagram socket of this test), WATCHDOG_USEC and
JOURNAL_STREAM naming its stderr file, as systemd would. Checks READY=1 after
the endpoints are bound, WATCHDOG=1 pings, RELOADING=1 then READY=1 on the
aggregator's SIGHUP, STOPPING=1 on SIGTERM, and the "<N>" priority prefix on
every log line (none when JOURNAL_STREAM names another file)."""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from ctharness import BIN, free_port  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


class Service:
    def __init__(self, tmp, name, args):
        self.sock_path = os.path.join(tmp, name + ".notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        self.sock.settimeout(0.2)
        self.err_path = os.path.join(tmp, name + ".err")
        self.err = open(self.err_path, "w+")
        st = os.fstat(self.err.fileno())
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHITIEU_")}
        env.update(CHITIEU_CONFIG="", NOTIFY_SOCKET=self.sock_path, WATCHDOG_USEC="300000",
                   JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        self.p = subprocess.Popen([os.path.join(BIN, args[0])] + args[1:], env=env,
                                  stdout=subprocess.DEVNULL, stderr=self.err)
        self.msgs = []

    def wait_msg(self, text, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            for i, m in enumerate(self.msgs):
                if text in m.split("\n"):
                    del self.msgs[: i + 1]
                    return True
            try:
                self.msgs.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        return False

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(20)
        self.err.seek(0)
        return rc, self.err.read()


def priorities_ok(text):
    lines = [l for l in text.splitlines() if l]
    want = {"debug": "<7>", "info": "<6>", "warn": "<4>", "error": "<3>"}
    return lines and all(
        l.startswith(want[re.search(r" level=(\w+) ", l).group(1)]) for l in lines)


def main():
    tmp = tempfile.mkdtemp(prefix="ct-svc-")
    p1, p2, p3 = free_port(), free_port(), free_port()
    ing, feed, snap = ("tcp://127.0.0.1:%d" % p for p in (p1, p2, p3))
    agg = Service(tmp, "agg", ["chitieu-aggregator", "--data", os.path.join(tmp, "store"),
                               "--insecure", "--ingest", ing, "--feed", feed, "--snapshot", snap])
    check(agg.wait_msg("READY=1"), "aggregator READY=1")
    check(agg.wait_msg("WATCHDOG=1", 5), "aggregator WATCHDOG=1")
    rep = Service(tmp, "rep", ["chitieu-reporter", "--insecure", "--feed", feed, "--snapshot",
                               snap, "--interval", "3600", "--output", os.path.join(tmp, "r.txt")])
    check(rep.wait_msg("READY=1"), "reporter READY=1")
    check(rep.wait_msg("WATCHDOG=1", 5), "reporter WATCHDOG=1")
    outbox = os.path.join(tmp, "outbox")
    subprocess.run([os.path.join(BIN, "chitieu-collector"), "init", "--outbox", outbox,
                    "--district", "672"], check=True, capture_output=True,
                   env=dict(os.environ, CHITIEU_CONFIG=""))
    col = Service(tmp, "col", ["chitieu-collector", "run", "--outbox", outbox, "--server", ing,
                               "--insecure"])
    check(col.wait_msg("READY=1"), "collector READY=1")
    check(col.wait_msg("WATCHDOG=1", 5), "collector WATCHDOG=1")
    check(col.wait_msg("WATCHDOG=1", 5), "collector second WATCHDOG=1")

    # the aggregator reloads on SIGHUP (insecure: nothing to reload, still said)
    agg.p.send_signal(signal.SIGHUP)
    check(agg.wait_msg("RELOADING=1"), "aggregator RELOADING=1")
    check(agg.wait_msg("READY=1"), "aggregator READY=1 after reload")

    for name, svc in (("collector", col), ("reporter", rep), ("aggregator", agg)):
        rc, err = svc.stop()
        check(rc == 0, "%s exit %d" % (name, rc))
        check(svc.wait_msg("STOPPING=1"), "%s STOPPING=1" % name)
        check(priorities_ok(err), "%s: every line has its <N>:\n%s" % (name, err))

    # JOURNAL_STREAM naming another file: the lines as before, no prefix
    with open(os.path.join(tmp, "plain.err"), "w+") as f:
        env = dict(os.environ, CHITIEU_CONFIG="", JOURNAL_STREAM="1:1")
        subprocess.run([os.path.join(BIN, "chitieu-aggregator"), "--insecure", "--data",
                        "/proc/nonexistent/store"], stderr=f, env=env)
        f.seek(0)
        text = f.read()
        check(re.match(r"^\d{4}-\d\d-\d\dT[^ ]+Z level=error comp=aggregator msg=\"cannot open store\"",
                       text), "no prefix outside the journal: %r" % text)
    if failures:
        sys.exit(1)
    print("ok")


main()
