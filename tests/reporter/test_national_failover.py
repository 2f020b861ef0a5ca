"""National mode over a province's endpoint list (docs/national.md "A
province with several aggregators"): province 901 is a primary and its
follower (feed = primary, follower), province 902 one aggregator; real
aggregators, real collectors (chitieu-collector run --once) on ipc sockets,
real SIGKILL and --promote.

  failover     the primary is SIGKILLed: the national reporter moves to the
               follower (feed.json names it) with the same figures; the
               follower is promoted (epoch 2) and takes more events: 901's
               row advances to its new head with the exact figures of
               chitieu-audit replay, national-replay reproduces the report
               from the promoted store, the page shows 901's new figures
  fenced       the former primary restarted on its old store (epoch 1) while
               the promoted one is stopped: the reporter leaves it on its
               status ("older epoch"), and once the promoted one is back its
               figures are reported again, exact
"""
import os
import time

import reporter_common as rc
from reporter_common import h
import test_national as tn


class Node:
    """One aggregator of province 901 (gen-a)."""

    def __init__(self, wd, name):
        self.wd, self.name = wd, name
        self.ep = {k: wd.ipc(f"{name}-{k}") for k in ("ingest", "feed", "snap", "rep")}
        self.data = wd.sub(f"data-{name}")
        self.proc = None

    def args(self, extra):
        return [h.binary("chitieu-aggregator"), "--data", self.data, "--insecure", "--campaign",
                tn.PROVS[1][1], "--ingest", self.ep["ingest"], "--feed", self.ep["feed"],
                "--snapshot", self.ep["snap"], "--stats-interval", "0", *extra]

    def start(self, extra, ready=r'msg="ready"'):
        self.proc = self.wd.start(self.args(extra), name=self.name)
        self.proc.wait_log(ready, timeout=30)


def deliver(wd, ingest, seed, count, tag):
    for d in tn.PROVS[1][2]:
        ob = wd.sub(f"outbox-{d}-{tag}")
        h.run([h.binary("chitieu-collector"), "init", "--outbox", ob, "--district", str(d),
               "--campaign", tn.PROVS[1][1]])
        h.run([h.binary("chitieu-collector"), "simulate", "--outbox", ob, "--seed",
               str(seed * 1000 + d), "--count", str(count)])
        h.run([h.binary("chitieu-collector"), "run", "--once", "--outbox", ob, "--server", ingest,
               "--insecure", "--stats-interval", "0", "--give-up", "30"], timeout=60)


def page_shows(wd, base, code):
    """The page's row of province `code` shows /status.json's net figures."""
    import cdp
    if not os.path.exists(cdp.CHROMIUM):
        return False
    br = cdp.Browser(base + "/", wd.sub("chromium-profile"), size="1400,1000")
    try:
        br.wait("document.querySelectorAll('#nat-bhxh_tn tr.prov').length === 2", 20, "page")
        for q in rc.PROGS:
            rep, got = tn.page_read(br, base, f"""Number(document.querySelector(
                '#nat-{q} tr.prov[data-code="{code}"]').children[3].dataset.v)""", f"{code} {q}")
            want = tn.prov_of(rep, code)["programs"][q]["net"]
            h.check(got == want, f"page {code} {q}: {got} != {want}")
    finally:
        br.close()
    return True


def test_national_failover():
    with h.Workdir("national-failover") as wd:
        a, b = Node(wd, "a"), Node(wd, "b")
        a.start(["--replicate", a.ep["rep"], "--sync-followers", "1"])
        b.start(["--follow", a.ep["rep"]], ready=r'msg="replication: following"')
        other = tn.Province(wd, *tn.PROVS[2])
        other.start()
        other.deliver(2, 10)
        deliver(wd, a.ep["ingest"], 1, 40, "first")
        p901 = tn.Province(wd, *tn.PROVS[1])
        p901.ep = {"feed": f"{a.ep['feed']}, {b.ep['feed']}",
                   "snap": f"{a.ep['snap']}, {b.ep['snap']}"}
        ini = tn.national_ini(wd, [p901, other])
        p901.data = a.data
        p901.snapshot = lambda: rc.snapshot({"feed": a.ep["feed"], "snapshot": a.ep["snap"]})
        out = wd.sub("national.json")
        port = h.free_port()
        base = f"http://127.0.0.1:{port}"
        rp = wd.start([h.binary("chitieu-reporter"), "--insecure", "--national", ini,
                       "--interval", "0.3", "--format", "json", "--output", out, "--now", tn.NOW,
                       "--http", f"127.0.0.1:{port}"], name="national")
        rp.wait_log(r'msg="http ready"')
        raw, rep = tn.settled(out, [p901, other])
        tn.check_exact(rep, [p901, other])
        h.check(tn.feed_doc(base)[901]["endpoint"] == a.ep["feed"], "901 follows the primary")
        seq1, head1 = tn.prov_of(rep, 901)["seq"], tn.prov_of(rep, 901)["head"]

        # the primary dies: the reporter moves to the follower, same position
        a.proc.kill9()
        rp.wait_log(r'msg="trying the next aggregator" from=\S+a-feed\S* to=\S+b-feed\S*',
                    timeout=30)
        tn.wait_for(lambda: tn.feed_doc(base)[901]["endpoint"] == b.ep["feed"] and
                    tn.feed_doc(base)[901]["feed"] == "live", 20, "901 live on the follower")
        _, rep = tn.read_report(out)
        h.check((tn.prov_of(rep, 901)["seq"], tn.prov_of(rep, 901)["head"]) == (seq1, head1),
                f"901 on the follower: {tn.prov_of(rep, 901)['seq']} != {seq1}")

        # the follower is promoted and takes more events: 901 advances, exact
        h.check(b.proc.stop() == 0, "follower exit")
        r = h.run(b.args(["--promote"]), check=False, timeout=60)
        h.check(r.returncode == 0 and "epoch 2" in r.stderr, f"promote: {r.stderr[-400:]}")
        b.start(["--replicate", b.ep["rep"], "--sync-followers", "0"])
        deliver(wd, b.ep["ingest"], 3, 25, "second")
        p901.data = b.data
        p901.snapshot = lambda: rc.snapshot({"feed": b.ep["feed"], "snapshot": b.ep["snap"]})
        raw, rep = tn.settled(out, [p901, other])
        h.check(tn.prov_of(rep, 901)["seq"] > seq1, "901 advanced after the promotion")
        tn.check_exact(rep, [p901, other])
        tn.check_national_replay(wd, ini, raw, rep, [p901, other])
        page_checked = page_shows(wd, base, 901)
        seq2 = tn.prov_of(rep, 901)["seq"]

        # the former primary back on its old store (epoch 1), the promoted one
        # stopped: left on its status; the promoted one back: reported, exact
        a.start(["--replicate", a.ep["rep"], "--sync-followers", "0"])
        h.check(b.proc.stop() == 0, "promoted exit")
        rp.wait_log(r'msg="the aggregator followed runs an older epoch \(fenced\)" '
                    r'endpoint=\S+a-feed\S* epoch=1 seen=2', timeout=60)
        b.start(["--replicate", b.ep["rep"], "--sync-followers", "0"])
        deliver(wd, b.ep["ingest"], 4, 5, "third")
        raw, rep = tn.settled(out, [p901, other])
        h.check(tn.prov_of(rep, 901)["seq"] > seq2, "901 advanced on the promoted store")
        tn.check_exact(rep, [p901, other])
        h.check(tn.feed_doc(base)[901]["fenced"] >= 1, "fenced moves counted")
        h.check(rp.stop() == 0, "reporter exit code")
        for proc in (a.proc, b.proc, other.agg):
            h.check(proc.stop() == 0, "aggregator exit code")
        if not page_checked:
            h.skip("chromium missing: page not checked")


if __name__ == "__main__":
    h.main([test_national_failover])
