"""chitieu-aggregator --metrics: the Prometheus endpoint read by the strict
parser of tests/reporter/test_http.py (HELP/TYPE before samples, counters
named _total, histograms cumulative with +Inf == _count). Events accepted,
repeated and rejected over real ZeroMQ; every figure checked exactly against
what the client was answered: events received, results, rejects by reason,
batch sizes summing to the events, one commit-latency observation per
commit, open connections, the log's head, the committed and safe watermarks.
A bad --metrics address exits 2; a port in use exits 1.
"""
import os
import socket
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reporter"))

import aggh  # noqa: E402
from aggh import H, P  # noqa: E402
from test_http import parse_metrics  # noqa: E402


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        H.check(r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8",
                f"content type {r.headers['Content-Type']}")
        return parse_metrics(r.read().decode("utf-8"))


def wait_metrics(port, pred, what, timeout=15):
    deadline = time.time() + timeout
    m = None
    while time.time() < deadline:
        m = scrape(port)
        if pred(m):
            return m
        time.sleep(0.1)
    raise AssertionError(f"timeout waiting for {what}: {m}")


def test_metrics():
    with H.Workdir("agg-metrics") as wd:
        port = H.free_port()
        agg, ep = aggh.start(wd, extra=["--metrics", f"127.0.0.1:{port}", "--replicate",
                                        wd.ipc("repl")])
        agg.wait_log(r'msg="metrics ready" addr=127.0.0.1 port=%d' % port)
        m = scrape(port)
        H.check(m[("chitieu_aggregator_events_received_total", "")] == 0, "starts at 0")
        H.check(m[("chitieu_aggregator_commit_duration_seconds_count", "")] == 0, "no commit yet")
        cl = P.Client(ep["ingest"])
        origin = os.urandom(8)
        good = [aggh.ev(origin, i) for i in range(1, 301)]
        # an agent of another district, and one on no roster
        other = aggh.AGENTS[sorted(d for d in aggh.AGENTS if d != 672)[0]][0]
        bad_district = [aggh.ev(origin, i, agent=other) for i in range(301, 311)]
        bad = [P.event(P.event_id(origin, 400 + i), aggh.T0, 672, "XX-NOBODY",
                       person=os.urandom(32)) for i in range(5)]
        calls = [good[:100], good[100:300], good[:50], bad_district + bad]
        answers = {}
        for batch in calls:
            r = cl.call(batch, timeout=30)
            H.check(r and r["k"] == "ack", f"no ack {r!r:.200}")
            for _, st, code in r["r"]:
                key = ("accepted", "duplicate", "rejected", "retry")[st]
                answers[key] = answers.get(key, 0) + 1
                if st == P.REJECTED:
                    k = "reason:" + P.ERR_NAME[code]
                    answers[k] = answers.get(k, 0) + 1
        sent = sum(len(b) for b in calls)
        m = wait_metrics(port, lambda m: m[("chitieu_aggregator_events_received_total", "")] == sent,
                         f"{sent} events received")
        for res in ("accepted", "duplicate", "rejected", "retry"):
            got = m[("chitieu_aggregator_events_total", 'result="%s"' % res)]
            H.check(got == answers.get(res, 0), f"{res}: {got} != {answers.get(res, 0)}")
        reasons = {lab[len('reason="'):-1]: v for (n, lab), v in m.items()
                   if n == "chitieu_aggregator_rejects_total"}
        H.check(reasons == {k[7:]: v for k, v in answers.items() if k.startswith("reason:")},
                f"rejects by reason {reasons} vs {answers}")
        H.check(answers["accepted"] == 300 and answers["duplicate"] == 50, f"answers {answers}")
        commits = m[("chitieu_aggregator_commits_total", "")]
        H.check(commits >= 2, f"commits {commits}")
        H.check(m[("chitieu_aggregator_commit_duration_seconds_count", "")] == commits,
                "one latency observation per commit")
        H.check(0 < m[("chitieu_aggregator_commit_duration_seconds_sum", "")] < commits * 5,
                "commit seconds")
        H.check(m[("chitieu_aggregator_batch_events_sum", "")] == sent and
                m[("chitieu_aggregator_batch_events_count", "")] ==
                m[("chitieu_aggregator_batches_total", "")], "batch histogram")
        H.check(m[("chitieu_aggregator_batch_events_bucket", 'le="+Inf"')] >= len(calls) and
                m[("chitieu_aggregator_batch_events_bucket", 'le="50"')] <= 2,
                "batch sizes")
        snp_seq = 300
        H.check(m[("chitieu_aggregator_log_seq", "")] == snp_seq, "log seq")
        H.check(m[("chitieu_aggregator_committed_seq", "")] == snp_seq and
                m[("chitieu_aggregator_safe_seq", "")] == snp_seq, "watermarks (no sync followers)")
        H.check(m[("chitieu_aggregator_safe_stalled_seconds", "")] == 0, "not stalled")
        H.check(m[("chitieu_aggregator_open_connections", "")] >= 1, "our connection is open")
        # one update per call that appended records (each call is one message, one round)
        H.check(m[("chitieu_aggregator_feed_updates_total", "")] == 2,
                f"feed updates {m[('chitieu_aggregator_feed_updates_total', '')]}")
        cl.close()
        m = wait_metrics(port, lambda m: m[("chitieu_aggregator_open_connections", "")] == 0,
                         "the connection closed")
        # not found / method
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/nope", timeout=5)
            H.check(False, "404 expected")
        except urllib.error.HTTPError as e:
            H.check(e.code == 404, f"{e.code}")
        H.check(agg.stop() == 0, "aggregator exit")

        # bad address: exit 2; port taken: exit 1
        r = H.run([H.binary("chitieu-aggregator"), "--data", wd.sub("d2"), "--insecure",
                   "--ingest", wd.ipc("i2"), "--feed", wd.ipc("f2"), "--snapshot", wd.ipc("s2"),
                   "--metrics", "nowhere:99999"], check=False, timeout=30)
        H.check(r.returncode == 2 and "--metrics" in r.stderr, f"bad address: {r.returncode}")
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        taken = s.getsockname()[1]
        r = H.run([H.binary("chitieu-aggregator"), "--data", wd.sub("d3"), "--insecure",
                   "--ingest", wd.ipc("i3"), "--feed", wd.ipc("f3"), "--snapshot", wd.ipc("s3"),
                   "--metrics", f"127.0.0.1:{taken}"], check=False, timeout=30)
        s.close()
        H.check(r.returncode == 1 and "cannot listen" in r.stderr, f"port taken: {r.returncode}")


if __name__ == "__main__":
    H.main([test_metrics])
