"""The aggregator group on the reporter (PROTOCOL.md §3.6 "gr", docs/replication.md
"What the reporter shows"): a real etcd cluster of 3 members, a group of 2
aggregators (--etcd, --group g), a reporter on each and one with the endpoint
list (primary, follower) that moves to the next aggregator when it loses one.

  - an "stq" without "gr" (an older reporter) gets a "sta" without it;
  - before: both reporters' /status.json name the same primary (its advertised
    endpoint), the exact epoch (the leader key's etcd revision, as the primary
    logged it), its own role, both members at the same head with lag 0; the
    reporter /metrics carry chitieu_hq_group_* with those values and pass
    `promtool check metrics`; the page (headless Chromium) says
    "Primary: <endpoint> since HH:MM, epoch <N>";
  - SIGKILL of the primary: the survivor is elected; the reporter on it names
    it as primary with the higher epoch, exactly (the survivor's log line),
    in /status.json, /metrics and on the page; the endpoint-list reporter moves
    to the survivor and names it with that epoch too.
Skipped (exit 77) only when the etcd binary is absent.
"""
import json
import os
import sys
import urllib.error
import urllib.request

import ctharness as H
import ctproto as P
import oracle as O

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "reporter"))
import cdp  # noqa: E402
import etcdcluster as E  # noqa: E402
import test_auto_failover as A  # noqa: E402



def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()


def metrics(base):
    body = get(base + "/metrics")
    H.promtool_check(body, "the reporter's /metrics")
    return H.prom_samples(body)


def group_of(base):
    try:
        sj = json.loads(get(base + "/status.json"))
    except urllib.error.HTTPError:  # 503 until the reporter has its first report
        return None
    return (sj.get("hq") or {}).get("group")


def reporter(wd, nodes, port):
    """A reporter on the endpoint list of nodes (in that order)."""
    a = [H.binary("chitieu-reporter"), "--campaign", H.CAMPAIGN, "--insecure", "--interval",
         "60", "--format", "json", "--output", wd.sub(f"rep-{port}.json"), "--http",
         f"127.0.0.1:{port}"]
    for n in nodes:
        a += ["--feed", n.eps["feed"], "--snapshot", n.eps["snapshot"]]
    return wd.start(a, name="reporter-" + "-".join(n.name for n in nodes))


def test_group_on_reporter():
    with H.Workdir("grp-st") as wd:
        etcd, rss, nodes, p, ep0 = A.setup(wd, ("a", "b"))
        f = nodes[1] if p is nodes[0] else nodes[0]
        adv = {n.name: wd.ipc(n.name + "-rep") for n in nodes}
        cl = P.Client(p.eps["ingest"])
        origin = b"\x47\x52\x50\x00\x00\x00\x00\x01"
        r = cl.call([O.ev(origin, s, 672) for s in range(1, 6)], timeout=30)
        H.check(r and r["k"] == "ack" and all(x[1] == 0 for x in r["r"]), f"submit: {r}")
        cl.close()
        # "gr" only to who asks for it: an older reporter's plain "stq" gets none
        rd = P.Reader(f.eps["feed"], f.eps["snapshot"])
        m = rd.status(timeout=10)
        H.check(m and m["k"] == "sta" and "gr" not in m, f"plain stq: {m}")
        m = O.wait_until(lambda: (lambda m: m if m and m.get("gr", {}).get("epoch") == ep0 and
                                  m["gr"]["leader"] == adv[p.name] else None)(
                                      rd.status(timeout=10, group=True)),
                         30 * O.SLOW, "the follower's gr")
        H.check(m["gr"]["mode"] == "etcd" and m["gr"]["role"] == "follower" and
                m["gr"]["name"] == "g" and not m["gr"]["accepting"], f"gr: {m['gr']}")
        rd.close()
        port = H.free_port_block(3)
        base = {p.name: f"http://127.0.0.1:{port}", f.name: f"http://127.0.0.1:{port + 1}"}
        lst = f"http://127.0.0.1:{port + 2}"  # the list primary, follower: moves on a loss
        reps = [reporter(wd, [p], port), reporter(wd, [f], port + 1),
                reporter(wd, [p, f], port + 2)]
        for rp in reps:
            rp.wait_log(r'msg="http ready"')

        def settled(n, leader, epoch, head):
            def ok():
                g = group_of(base[n.name])
                if not g or g.get("leader") != leader or g.get("epoch") != epoch:
                    return None
                ms = {m["endpoint"]: m for m in g["members"]}
                if len(ms) != 2 or any(m["head"] != head or m["lag_records"] for m in ms.values()):
                    return None
                return g
            return ok
        for n in nodes:
            g = O.wait_until(settled(n, adv[p.name], ep0, 5), 60 * O.SLOW,
                             f"{n.name}'s reporter: the group with leader {p.name}, epoch {ep0}")
            H.check(g["mode"] == "etcd" and g["name"] == "g" and g["etcd_ok"] and
                    g["role"] == ("leader" if n is p else "follower") and
                    g["accepting"] == (n is p) and g["since_ms"] > 0, f"{n.name}: {g}")
            lead = [m["endpoint"] for m in g["members"] if m["leader"]]
            H.check(lead == [adv[p.name]], f"{n.name}: leader member {lead}")
            mm = metrics(base[n.name])
            H.check(mm["chitieu_hq_group_epoch"] == ep0, f"metric epoch {mm}")
            H.check(mm[f'chitieu_hq_group_is_leader{{member="{adv[p.name]}"}}'] == 1 and
                    mm[f'chitieu_hq_group_is_leader{{member="{adv[f.name]}"}}'] == 0,
                    "is_leader metric")
            H.check(mm[f'chitieu_hq_group_member_lag_records{{member="{adv[f.name]}"}}'] == 0,
                    "lag metric")
            role = "leader" if n is p else "follower"
            H.check(mm[f'chitieu_hq_group_role{{role="{role}"}}'] == 1, "role metric")

        br = None
        if os.path.exists(cdp.CHROMIUM):
            br = cdp.Browser(base[f.name] + "/?lang=en", wd.sub("chromium-profile"),
                             size="1200,900")
            want = f"Primary: {adv[p.name]} since "
            br.wait(f"(() => {{ const g = document.getElementById('hq-group');"
                    f" return g.dataset.epoch === '{ep0}' &&"
                    f" g.textContent.includes({json.dumps(want)}) &&"
                    f" g.textContent.includes(', epoch {ep0};') &&"
                    f" g.textContent.includes('followers: {adv[f.name]} lag 0 records'); }})()",
                    30 * O.SLOW, "the page names the primary and the epoch")
        else:
            print("  chromium missing: the page is not checked")

        since = A.marks(nodes)
        p.kill9()
        q, ep1 = A.wait_primary([f], since, 60 * O.SLOW)
        H.check(q is f and ep1 > ep0, f"epoch {ep1} after {ep0}")
        g = O.wait_until(lambda: (lambda g: g if g and g.get("leader") == adv[f.name] and
                                  g.get("accepting") else None)(group_of(base[f.name])),
                         60 * O.SLOW, "the survivor's reporter names it primary")
        H.check(g["epoch"] == ep1 and g["role"] == "leader" and g["leader"] == adv[f.name],
                f"after the failover: {g} (epoch {ep1} expected)")
        lead = [m["endpoint"] for m in g["members"] if m["leader"]]
        H.check(lead == [adv[f.name]], f"leader member after the failover: {lead}")
        mm = metrics(base[f.name])
        H.check(mm["chitieu_hq_group_epoch"] == ep1 and
                mm[f'chitieu_hq_group_is_leader{{member="{adv[f.name]}"}}'] == 1 and
                mm['chitieu_hq_group_role{role="leader"}'] == 1 and
                mm["chitieu_hq_group_accepting"] == 1, "metrics after the failover")
        # the reporter with the endpoint list moves to the survivor and says the same
        g = O.wait_until(lambda: (lambda g: g if g and g.get("leader") == adv[f.name] and
                                  g.get("accepting") else None)(group_of(lst)),
                         90 * O.SLOW, "the endpoint-list reporter names the survivor primary")
        H.check(g["epoch"] == ep1 and g["role"] == "leader", f"list reporter: {g}")
        if br:
            br.wait(f"(() => {{ const g = document.getElementById('hq-group');"
                    f" return g.dataset.epoch === '{ep1}' &&"
                    f" g.dataset.leader === {json.dumps(adv[f.name])} &&"
                    f" g.textContent.includes({json.dumps('Primary: ' + adv[f.name] + ' since ')})"
                    f" && g.textContent.includes(', epoch {ep1}'); }})()",
                    30 * O.SLOW, "the page names the new primary and the higher epoch")
            text = br.js("document.getElementById('hq-group').textContent")
            print(f"page after the failover: {text}", flush=True)
            br.js("document.getElementById('lang-vi').click()")
            br.wait(f"document.getElementById('hq-group').textContent.includes("
                    f"{json.dumps('Máy chính: ' + adv[f.name])})", 10, "Vietnamese")
            br.close()
        for rp in reps:
            rp.stop()
        f.stop()
        etcd.stop_all()
        rss.close()


if __name__ == "__main__":
    if not E.Etcd.available():
        print("SKIP etcd is not installed (Debian: etcd-server)", flush=True)
        sys.exit(77)
    H.main([test_group_on_reporter])
