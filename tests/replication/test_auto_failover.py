"""Automatic failover (docs/replication.md "Automatic failover"): a real etcd
cluster of 3 members on loopback elects the primary of a group of
aggregators (--etcd, --group); epochs are the leader key's etcd revision.
Real processes, real signals, real LMDB; exact counts through the fault
suite's oracle (0 lost, 0 duplicated, 0 fabricated).

  (1) SIGKILL of the primary under load from 13 collectors, 3 aggregators,
      the default lease (5 s): another member is primary by itself, the
      collectors move by themselves; the killed one, restarted, follows (after
      discarding an unsafe tail if it had one). The failover time is printed.
  (2) SIGSTOP of the primary beyond its lease: the follower takes over; on
      SIGCONT the old primary answers the submits queued meanwhile with
      not_primary (none of them reaches any log), steps down and follows.
  (3) one etcd member killed: nothing changes (same epoch, acks go on); a
      majority killed: the primary stops taking events and says so, nothing
      is lost; members back: it takes events again.
  (4) the primary in its own network namespace, joined by a veth pair: the
      link set down partitions it from etcd, the follower and the collectors;
      the follower takes over, the old primary stops taking events by itself;
      link up: it steps down and follows (needs root and `ip`; else skipped);
  (6) etcd over TLS with client certificates: a member with the client
      certificate leads; one without it cannot reach etcd, says so and stays
      read-only (needs openssl; else skipped);
  (7) CurveZMQ: the members share the server key pair (listed with the role
      follower), collectors with their own keys; SIGKILL of the primary, the
      other member takes over, the killed one follows again: every event once;
  (8) the election prefers the latest epoch over the longest log: a former
      primary restarted with a long unsafe tail (acked committed to a client
      that never resends) does not win against a follower of a later epoch
      holding fewer records, among them events acked safe (deleted from the
      outbox): those stay on the group's log;
  (9) --group-size 3 with K = 1: with the primary and a follower killed at
      once, the survivor (which may lack events acked safe) does not campaign
      and says so; with one of them back, a primary is elected;
  (5) failover cycles (SIGKILL of whoever is primary, restart) under 13
      collectors: CT_AUTO_FAILOVER_CYCLES (20; 200 with CT_LONG=1).
Skipped (exit 77) only when the etcd binary is absent.
"""
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import ctharness as H
import ctproto as P
import oracle as O

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import etcdcluster as E  # noqa: E402

LONG = os.environ.get("CT_LONG") == "1"
CYCLES = O.env_int("CT_AUTO_FAILOVER_CYCLES", 200 if LONG else 20)
DISTRICTS = [68, 672, 673, 674, 675, 676, 677, 678, 679, 680, 681, 682, 683]
PRIMARY_RX = re.compile(r'msg="group: primary: taking events" group_epoch=(\d+)')


def verify(data):
    r = H.run([H.binary("chitieu-audit"), "verify", "--data", data], check=False)
    m = re.search(r"OK seq=(\d+) head=([0-9a-f]{64})", r.stdout)
    H.check(r.returncode == 0 and m, f"verify {data}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return int(m.group(1)), m.group(2)


def log_ids(data):
    return [O.eid_of(raw) for _, _, raw in O.read_log(data)]


def member(node, etcd, k=1, ttl=None, size=0):
    node.extra = ["--replicate", node.wd.ipc(node.name + "-rep"), "--sync-followers", str(k),
                  "--no-future-check", "--group", "g", "--group-size", str(size), *etcd.args()]
    if ttl:
        node.extra += ["--lease-ttl", str(ttl)]


def marks(nodes):
    return {n.name: len(n.proc.lines) for n in nodes}


def wait_primary(nodes, since, timeout):
    """The node that logs it became primary after its mark in since: (node, epoch)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for n in nodes:
            for line in n.proc.lines[since.get(n.name, 0):]:
                m = PRIMARY_RX.search(line)
                if m:
                    return n, int(m.group(1))
        time.sleep(0.05)
    raise AssertionError("no member became primary within %ss:\n%s" % (
        timeout, "\n".join(n.name + ":\n" + n.proc.tail(15) for n in nodes)))


def start_cols(cols, nodes):
    for c in cols:
        c.start(nodes[0].eps["ingest"],
                ["--window", "128", "--batch", "16", "--resend-ms", "500",
                 *[a for n in nodes[1:] for a in ("--server", n.eps["ingest"])]])


def burst(orc, cols, nodes, seed, count=30):
    """More load: each collector stopped, given count events (read by the
    oracle before any can leave the outbox) and started again."""
    for c in cols:
        c.stop()
        c.simulate(seed, count)
        seed += 1
        orc.read_outboxes()
        start_cols([c], nodes)
    return seed


def setup(wd, names, k=1, ttl=None, n_etcd=3):
    etcd = E.Etcd(wd, n_etcd)
    etcd.start_all()
    rss = O.RssSampler()
    nodes = [O.Agg(wd, rss, n) for n in names]
    for n in nodes:
        member(n, etcd, k, ttl, len(names))
        n.start()
    p, ep = wait_primary(nodes, {}, 60 * O.SLOW)
    return etcd, rss, nodes, p, ep


def test_sigkill_primary_13_collectors():
    with H.Workdir("afo-1") as wd:
        etcd, rss, nodes, p, ep0 = setup(wd, ("a", "b", "c"))
        orc = O.Oracle("automatic failover: SIGKILL of the primary, 13 collectors, 3 members, "
                       "lease 5 s")
        cols = [orc.add_collector(O.Collector(wd, rss, f"c{d}", d)) for d in DISTRICTS]
        for i, c in enumerate(cols):
            c.simulate(3000 + i, 60)
        orc.read_outboxes()
        start_cols(cols, nodes)
        O.wait_until(lambda: len(O.read_log(p.data)) >= 300, 60 * O.SLOW, "load on the primary")
        since = marks(nodes)
        t0 = time.time()
        p.kill9()
        others = [n for n in nodes if n is not p]
        q, ep1 = wait_primary(others, since, 60 * O.SLOW)
        took = time.time() - t0
        H.check(ep1 > ep0, f"epoch {ep1} after {ep0}")
        # every collector gets events after the kill: one whose outbox was drained
        # (safe) before it has nothing to tell the new primary and no reason to move
        burst(orc, cols, others, 5000)
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 120 * O.SLOW,
                     "every event safe on the new primary")
        for c in cols:  # every collector moved by itself to the new epoch (its stats
            # line says so within a second: the outbox may drain before it is printed)
            c.proc.wait_log(rf"epoch={ep1}\b", timeout=10 * O.SLOW)
        # the killed primary comes back: it follows (after a rejoin if it had an unsafe tail)
        since = marks([q])
        p.start()
        p.proc.wait_log(r'msg="group: following the leader"', timeout=60 * O.SLOW)
        rejoined = any("rejoined:" in line for line in p.proc.lines)
        O.wait_until(lambda: all(len(O.read_log(n.data)) == len(O.read_log(q.data))
                                 for n in nodes), 60 * O.SLOW, "every member at the head")
        for c in cols:
            c.stop()
        orc.extra["failover s (kill -9 to new primary)"] = f"{took:.1f}"
        orc.extra["epochs (etcd revisions)"] = f"{ep0} -> {ep1}"
        orc.extra["old primary rejoined with a tail cut"] = "yes" if rejoined else "no"
        print(f"failover took {took:.1f} s (lease 5 s); epoch {ep0} -> {ep1}", flush=True)
        orc.check(q, rss, reporter=True)
        heads = {verify(n.data) for n in nodes}
        H.check(len(heads) == 1, f"members differ: {heads}")
        H.check(not any(PRIMARY_RX.search(line) for line in q.proc.lines[since[q.name]:]),
                "the leader changed again while the old primary came back")
        for n in nodes:
            n.stop()
        etcd.stop_all()
        rss.close()


def late_events(n):
    origin = b"\x5a\x5a\x5a\x5a\x00\x00\x00\x01"
    return [O.ev(origin, s, 672) for s in range(1, n + 1)]


def test_sigstop_primary():
    with H.Workdir("afo-2") as wd:
        etcd, rss, nodes, p, ep0 = setup(wd, ("a", "b"), ttl=2)
        f = nodes[1] if p is nodes[0] else nodes[0]
        cols = [O.Collector(wd, rss, f"c{d}", d) for d in (672, 673, 674)]
        for i, c in enumerate(cols):
            c.simulate(100 + i, 50)
        start_cols(cols, [p, f])
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 60 * O.SLOW, "first drain")
        cl = P.Client(p.eps["ingest"])
        r = cl.call([O.ev(b"\x5a\x5a\x5a\x5a\x00\x00\x00\x02", 1, 672)], timeout=10)
        H.check(r and r["k"] == "ack" and r["r"][0][1] == 0, f"warm-up submit: {r}")
        O.wait_until(lambda: len(O.read_log(f.data)) == len(O.read_log(p.data)), 30 * O.SLOW,
                     "the follower has the warm-up event")
        since = marks(nodes)
        p.signal(signal.SIGSTOP)
        late = late_events(20)
        tok = cl.send(late)  # queued for the paused primary
        q, ep1 = wait_primary([f], since, 30 * O.SLOW)
        H.check(ep1 > ep0, f"epoch {ep1} after {ep0}")
        for i, c in enumerate(cols):  # the collectors go on with the new primary
            c.stop()
            c.simulate(200 + i, 30)
            start_cols([c], [p, f])
        # committed on the new primary (safe needs the old one back as its follower)
        O.wait_until(lambda: len(O.read_log(f.data)) == 3 * 80 + 1, 60 * O.SLOW,
                     "every event committed on the new primary")
        before = len(O.read_log(p.data))
        p.signal(signal.SIGCONT)
        r = cl.recv(15)
        H.check(r is not None and r["k"] == "err" and r["c"] == 71 and r["n"] == tok,
                f"the old primary answered the submit queued in its pause with {r}")
        p.proc.wait_log(r'msg="group: not taking events and not shipping', start=since[p.name],
                        timeout=30 * O.SLOW)
        p.proc.wait_log(r'msg="group: following the leader"', start=since[p.name],
                        timeout=30 * O.SLOW)
        O.wait_until(lambda: len(O.read_log(p.data)) == len(O.read_log(f.data)), 60 * O.SLOW,
                     "the old primary follows the new one")
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 60 * O.SLOW,
                     "every event safe (the old primary confirms as follower)")
        ids = set(log_ids(f.data)) | set(log_ids(p.data))
        H.check(not ({O.eid_of(x) for x in late} & ids), "an event sent in the pause was stored")
        if not any("rejoined:" in x for x in p.proc.lines):
            H.check(len(O.read_log(p.data)) >= before, "log shrank without a rejoin")
        H.check(verify(p.data) == verify(f.data), "heads differ after the old primary stepped down")
        all_ids = log_ids(f.data)
        H.check(len(all_ids) == len(set(all_ids)) == 3 * 80 + 1,
                f"{len(all_ids)} records, {len(set(all_ids))} distinct, want {3 * 80 + 1}")
        cl.close()
        for c in cols:
            c.stop()
        for n in nodes:
            n.stop()
        etcd.stop_all()
        rss.close()


def test_etcd_member_and_majority_down():
    with H.Workdir("afo-3") as wd:
        etcd, rss, nodes, p, ep0 = setup(wd, ("a", "b"), ttl=2)
        orc = O.Oracle("automatic failover: etcd members down")
        cols = [orc.add_collector(O.Collector(wd, rss, f"c{d}", d)) for d in (672, 673, 674)]
        for i, c in enumerate(cols):
            c.simulate(300 + i, 40)
        orc.read_outboxes()
        start_cols(cols, nodes)
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 60 * O.SLOW, "first drain")
        # one member down (a raft follower of etcd: no etcd election): nothing changes
        lead = etcd.leader_index()
        H.check(lead is not None, "no etcd leader")
        victims = [i for i in range(3) if i != lead]
        since = marks(nodes)
        etcd.kill(victims[0])
        time.sleep(3)  # beyond the lease
        seed = burst(orc, cols[:1], nodes, 400, 20)
        O.wait_until(lambda: O.outbox_empty(cols[0]), 30 * O.SLOW, "drain with one member down")
        for n in nodes:
            H.check(not any('msg="group: not taking events' in x or PRIMARY_RX.search(x)
                            for x in n.proc.lines[since[n.name]:]),
                    f"{n.name} changed role with one etcd member down")
        # a majority down: the group stops accepting and says so
        etcd.kill(victims[1])
        p.proc.wait_log(r'msg="group: not taking events and not shipping', start=since[p.name],
                        timeout=30 * O.SLOW)
        # the etcd member left may renew leases while it still believes it leads (until its
        # own election timeout): from then on nothing is accepted
        time.sleep(3)
        since2 = marks(nodes)
        held = len(O.read_log(p.data))
        seed = burst(orc, cols[:2], nodes, seed, 20)
        time.sleep(3)
        p.proc.wait_log(r'READ-ONLY=1', start=since2[p.name], timeout=30 * O.SLOW)
        H.check(len(O.read_log(p.data)) == held,
                f"the primary stored events without etcd ({held} -> {len(O.read_log(p.data))});"
                "\n" + "\n".join(x for x in p.proc.lines[since[p.name]:] if "group" in x))
        for n in nodes:
            H.check(not any("taking events" in x and "not taking" not in x
                            for x in n.proc.lines[since2[n.name]:]),
                    f"{n.name} took events with a majority of etcd down")
        H.check(all(len(c.read()[1]) == 20 for c in cols[:2]), "events left the outboxes")
        since = marks(nodes)
        etcd.start(victims[0])
        etcd.start(victims[1])
        etcd.wait_healthy()
        # etcd back: the group takes events again, nothing lost
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 90 * O.SLOW,
                     "drain after etcd came back")
        leader = None
        for n in nodes:
            if any("taking events" in x and "not taking" not in x
                   for x in n.proc.lines[since[n.name]:]):
                leader = n
        H.check(leader is not None, "nobody took events again")
        O.wait_until(lambda: all(len(O.read_log(n.data)) == len(O.read_log(leader.data))
                                 for n in nodes), 60 * O.SLOW, "every member at the head")
        for c in cols:
            c.stop()
        orc.check(leader, rss, reporter=False)
        for n in nodes:
            n.stop()
        etcd.stop_all()
        rss.close()


class NsAgg(O.Agg):
    """An aggregator run inside a network namespace (ip netns exec keeps the pid)."""

    def __init__(self, wd, rss, name, ns, ip):
        super().__init__(wd, rss, name)
        self.ns = ns
        base = H.free_port_block(4)
        self.eps = {"ingest": f"tcp://{ip}:{base}", "feed": f"tcp://{ip}:{base + 1}",
                    "snapshot": f"tcp://{ip}:{base + 2}"}
        self.rep = f"tcp://{ip}:{base + 3}"

    def args(self, extra=()):
        return ["ip", "netns", "exec", self.ns] + super().args(extra)


def sh(*a):
    subprocess.run(list(a), check=True, capture_output=True, timeout=30)


def test_partition_netns():
    if os.geteuid() != 0 or not shutil.which("ip"):
        H.skip("partition test: needs root and ip(8)")
        return
    ns = f"ctp{os.getpid()}"
    net = f"10.213.{random.randrange(1, 250)}"
    host_ip, ns_ip = net + ".1", net + ".2"
    vh, vn = f"cth{os.getpid() % 100000}", f"ctn{os.getpid() % 100000}"
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", vh, "type", "veth", "peer", "name", vn)
        sh("ip", "link", "set", vn, "netns", ns)
        sh("ip", "addr", "add", host_ip + "/30", "dev", vh)
        sh("ip", "link", "set", vh, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", ns_ip + "/30", "dev", vn)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", vn, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        with H.Workdir("afo-4") as wd:
            etcd = E.Etcd(wd, 3, extra_client_ip=host_ip)
            etcd.start_all()
            rss = O.RssSampler()
            a = NsAgg(wd, rss, "a", ns, ns_ip)
            b = O.Agg(wd, rss, "b")
            b_rep = f"tcp://{host_ip}:{H.free_port_block(1)}"
            a.extra = ["--replicate", a.rep, "--sync-followers", "1", "--no-future-check",
                       "--group", "g", "--lease-ttl", "2", "--group-size", "2",
                       *[x for p in etcd.client for x in ("--etcd", f"http://{host_ip}:{p}")]]
            b.extra = ["--replicate", b_rep, "--sync-followers", "1", "--no-future-check",
                       "--group", "g", "--lease-ttl", "2", "--group-size", "2", *etcd.args()]
            a.start()
            p, ep0 = wait_primary([a], {}, 30 * O.SLOW)
            b.start()
            b.proc.wait_log(r'msg="replication: following"', timeout=30 * O.SLOW)
            orc = O.Oracle("automatic failover: the primary partitioned (netns, veth down)")
            cols = [orc.add_collector(O.Collector(wd, rss, f"c{d}", d))
                    for d in (672, 673, 674, 675)]
            for i, c in enumerate(cols):
                c.simulate(600 + i, 60)
            orc.read_outboxes()
            start_cols(cols, [a, b])
            O.wait_until(lambda: len(O.read_log(a.data)) >= 60, 60 * O.SLOW, "load on a")
            since = marks([a, b])
            sh("ip", "link", "set", vh, "down")  # a is cut off from etcd, b and the collectors
            a.proc.wait_log(r'msg="group: not taking events and not shipping', start=since["a"],
                            timeout=30 * O.SLOW)
            q, ep1 = wait_primary([b], since, 30 * O.SLOW)
            H.check(ep1 > ep0, f"epoch {ep1} after {ep0}")
            burst(orc, cols[:2], [a, b], 700, 20)
            O.wait_until(lambda: len(O.read_log(b.data)) >= 4 * 60, 60 * O.SLOW,
                         "the collectors moved to b")
            held = len(O.read_log(a.data))
            sh("ip", "link", "set", vh, "up")
            a.proc.wait_log(r'msg="group: following the leader"', start=since["a"],
                            timeout=60 * O.SLOW)
            O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 90 * O.SLOW,
                         "every event safe after the partition healed")
            O.wait_until(lambda: len(O.read_log(a.data)) == len(O.read_log(b.data)), 60 * O.SLOW,
                         "a follows b")
            for c in cols:
                c.stop()
            cut = any("discarded the unsafe tail" in x for x in a.proc.lines)
            orc.extra["old primary's log when cut off / after"] = \
                f"{held} / {len(O.read_log(a.data))} (tail cut: {'yes' if cut else 'no'})"
            orc.check(b, rss, reporter=False)
            H.check(verify(a.data) == verify(b.data), "heads differ after the partition")
            a.stop()
            b.stop()
            etcd.stop_all()
            rss.close()
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", vh], capture_output=True)


def test_etcd_tls_client_cert():
    with H.Workdir("afo-6") as wd:
        tls = E.make_tls(wd)
        if tls is None:
            H.skip("TLS test: needs openssl(1)")
            return
        ca, srv, srv_key, cli, cli_key = tls
        etcd = E.Etcd(wd, 1, tls=(ca, srv, srv_key))
        # the members' own health probe uses the server pair as a client (clientAuth usage)
        etcd.start_all()
        rss = O.RssSampler()
        a, b = O.Agg(wd, rss, "a"), O.Agg(wd, rss, "b")
        mport = H.free_port_block(1)
        member(a, etcd, k=1, ttl=2, size=2)
        a.extra += ["--etcd-cacert", ca, "--etcd-cert", cli, "--etcd-key", cli_key,
                    "--metrics", f"127.0.0.1:{mport}"]
        member(b, etcd, k=1, ttl=2, size=2)
        b.extra += ["--etcd-cacert", ca]  # no client certificate: etcd refuses the handshake
        a.start()
        _, ep = wait_primary([a], {}, 30 * O.SLOW)
        cl = P.Client(a.eps["ingest"])
        r = cl.call([O.ev(b"\x5a\x5a\x5a\x5a\x00\x00\x00\x06", 1, 672)], timeout=10)
        H.check(r and r["k"] == "ack" and r["r"][0][1] == 0, f"submit over the TLS-elected leader: {r}")
        cl.close()
        # /metrics shows the group (and promtool accepts the exposition)
        import urllib.request
        deadline = time.time() + 30 * O.SLOW
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5) as m:
                text = m.read().decode()
            if re.search(r"^chitieu_aggregator_group_accepting 1$", text, re.M) or \
                    time.time() > deadline:
                break
            time.sleep(0.3)
        lines = set(text.splitlines())
        for want in ("chitieu_aggregator_group_accepting 1",
                     'chitieu_aggregator_group_role{role="leader"} 1',
                     'chitieu_aggregator_group_role{role="follower"} 0',
                     f'chitieu_aggregator_group_leader{{leader="{a.wd.ipc("a-rep")}"}} 1',
                     "chitieu_aggregator_group_etcd_up 1",
                     f"chitieu_aggregator_group_epoch {ep}"):
            H.check(want in lines, f"/metrics lacks {want!r}:\n{text[-1500:]}\n" + a.proc.tail(40))
        H.promtool_check(text, "the aggregator's /metrics in a group")
        b.start()
        b.proc.wait_log(r'msg="group: etcd cannot be reached', timeout=30 * O.SLOW)
        b.proc.wait_log(r'msg="group" role=unknown accepting=no .*etcd=unreachable.*READ-ONLY=1',
                        timeout=30 * O.SLOW)
        H.check(len(O.read_log(b.data)) == 0, "a member without etcd stored records")
        a.stop()
        b.stop()
        etcd.stop_all()
        rss.close()


def test_secure_group():
    with H.Workdir("afo-7") as wd:
        keys = O.secure_setup(wd, collectors=[("c672", 672), ("c673", 673)])
        with open(keys["auth"], "a") as f:
            f.write(f"{keys['server'][0]} follower hq-members\n")
        etcd = E.Etcd(wd, 3)
        etcd.start_all()
        rss = O.RssSampler()
        nodes = [O.Agg(wd, rss, n, secure=(keys["server_key"], keys["auth"])) for n in "ab"]
        for n in nodes:
            member(n, etcd, k=1, ttl=2, size=2)
            n.start()
        p, ep0 = wait_primary(nodes, {}, 60 * O.SLOW)
        f = nodes[1] if p is nodes[0] else nodes[0]
        f.proc.wait_log(r'msg="replication: following"', timeout=30 * O.SLOW)
        cols = [O.Collector(wd, rss, n, d) for n, d in (("c672", 672), ("c673", 673))]
        gen = set()
        for i, c in enumerate(cols):
            c.simulate(800 + i, 100)
            gen |= set(c.read()[1])
        for c in cols:
            c.start(p.eps["ingest"], ["--resend-ms", "500", "--server", f.eps["ingest"]],
                    curve_files=(keys[c.name + "_key"], keys["server_pub"]))
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 60 * O.SLOW, "safe drain")
        for i, c in enumerate(cols):
            c.stop()
            c.simulate(900 + i, 50)
            gen |= set(c.read()[1])
            c.start(p.eps["ingest"], ["--resend-ms", "500", "--server", f.eps["ingest"]],
                    curve_files=(keys[c.name + "_key"], keys["server_pub"]))
        since = marks(nodes)
        p.kill9()
        q, ep1 = wait_primary([f], since, 30 * O.SLOW)
        H.check(ep1 > ep0, f"epoch {ep1} after {ep0}")
        p.start()
        p.proc.wait_log(r'msg="group: following the leader"', timeout=60 * O.SLOW)
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 60 * O.SLOW,
                     "every event safe after the failover")
        O.wait_until(lambda: len(O.read_log(p.data)) == len(O.read_log(f.data)), 60 * O.SLOW,
                     "the old primary follows")
        ids = log_ids(f.data)
        H.check(len(ids) == len(set(ids)) == len(gen) == 300 and set(ids) == gen,
                f"{len(ids)} records, {len(set(ids))} distinct, {len(gen)} generated")
        H.check(verify(p.data) == verify(f.data), "heads differ")
        for c in cols:
            c.stop()
        for n in nodes:
            n.stop()
        etcd.stop_all()
        rss.close()


def test_latest_epoch_wins_over_longest_log():
    with H.Workdir("afo-8") as wd:
        etcd, rss, nodes, p, ep0 = setup(wd, ("a", "b", "c"), ttl=2)
        fs = [n for n in nodes if n is not p]
        for n in fs:
            n.proc.wait_log(r'msg="replication: following"', timeout=30 * O.SLOW)
        for n in fs:  # they confirm nothing from now on
            n.signal(signal.SIGSTOP)
        cl = P.Client(p.eps["ingest"])
        origin = b"\x5a\x5a\x5a\x5a\x00\x00\x00\x08"
        for k in range(3):
            r = cl.call([O.ev(origin, s, 672) for s in range(100 * k + 1, 100 * k + 101)],
                        timeout=20)
            H.check(r and r["k"] == "ack" and all(i[1] == 0 for i in r["r"]), f"ack {r}")
        cl.close()
        tail = len(O.read_log(p.data))
        H.check(tail == 300, f"{tail} records on the primary")
        p.kill9()
        since = marks(fs)
        for n in fs:
            n.signal(signal.SIGCONT)
        q, ep1 = wait_primary(fs, since, 30 * O.SLOW)
        f = fs[1] if q is fs[0] else fs[0]
        col = O.Collector(wd, rss, "c672", 672)
        col.simulate(4242, 50)
        safe_ids = set(col.read()[1])
        start_cols([col], [q, f])
        O.wait_until(lambda: O.outbox_empty(col), 60 * O.SLOW, "50 events safe on the new primary")
        col.stop()
        H.check(safe_ids <= set(log_ids(f.data)), "the follower lacks a safe event")
        H.check(len(O.read_log(f.data)) < tail, "the follower's log is not the shorter one")
        # the new primary dies; the old one comes back with its longer log of an older epoch
        since = marks([f])
        q.kill9()
        p.start()
        w, ep2 = wait_primary([f, p], since, 30 * O.SLOW)
        H.check(w is f, f"{w.name} (epoch {ep0}, {tail} records) won against the follower of "
                f"epoch {ep1}")
        p.proc.wait_log(r'msg="group: following the leader"', timeout=30 * O.SLOW)
        O.wait_until(lambda: len(O.read_log(p.data)) == len(O.read_log(f.data)), 60 * O.SLOW,
                     "the old primary follows")
        ids = log_ids(f.data)
        H.check(safe_ids <= set(ids), "an event acked safe is missing on the group's log")
        H.check(len(ids) == len(set(ids)), "duplicates on the group's log")
        H.check(verify(p.data) == verify(f.data), "heads differ")
        H.check(any("discarded the unsafe tail" in x for x in p.proc.lines),
                "the old primary did not cut its tail")
        for n in (f, p):
            n.stop()
        etcd.stop_all()
        rss.close()


def current_leader(etcd, nodes, group="g"):
    """The member the group's leader key names now, and its epoch (the key's create_revision):
    under load leadership may have moved since the first election."""
    adv = {n.wd.ipc(n.name + "-rep"): n for n in nodes}
    lead = O.wait_until(lambda: (lambda kv: kv if kv and kv[0] in adv else None)(
        etcd.get(f"/chitieu/{group}/leader")), 30 * O.SLOW, "the group's leader key")
    return adv[lead[0]], lead[1]


def test_too_few_members_no_election():
    with H.Workdir("afo-9") as wd:
        etcd, rss, nodes, p, ep0 = setup(wd, ("a", "b", "c"), ttl=2)
        p, ep0 = current_leader(etcd, nodes)
        fs = [n for n in nodes if n is not p]
        since = marks(nodes)
        p.kill9()
        fs[0].kill9()
        fs[1].proc.wait_log(r'msg="group: not campaigning: too few members seen',
                            start=since[fs[1].name], timeout=30 * O.SLOW)
        time.sleep(3)  # beyond the lease: still no election
        H.check(not any(PRIMARY_RX.search(x) for x in fs[1].proc.lines[since[fs[1].name]:]),
                "a lone member of three became primary with K = 1")
        since = marks([fs[1]])
        fs[0].start()
        q, ep1 = wait_primary([fs[0], fs[1]], {fs[1].name: since[fs[1].name]}, 30 * O.SLOW)
        H.check(ep1 > ep0, f"epoch {ep1} after {ep0}")
        for n in fs:
            n.stop()
        etcd.stop_all()
        rss.close()


def test_failover_cycles():
    with H.Workdir("afo-5") as wd:
        etcd, rss, nodes, p, ep = setup(wd, ("x", "y"), ttl=2)
        orc = O.Oracle(f"automatic failover: {CYCLES} SIGKILL cycles, 13 collectors, lease 2 s")
        cols = [orc.add_collector(O.Collector(wd, rss, f"c{d}", d)) for d in DISTRICTS]
        for i, c in enumerate(cols):
            c.simulate(1000 + i, 40)
        orc.read_outboxes()
        start_cols(cols, nodes)
        t0 = time.time()
        seed = 2000
        took = []
        epochs = [ep]
        for cyc in range(CYCLES):
            seed = burst(orc, [cols[cyc % 13]], nodes, seed, 30)
            time.sleep(0.3)
            since = marks(nodes)
            t1 = time.time()
            p.kill9()
            q, ep = wait_primary([n for n in nodes if n is not p], since, 60 * O.SLOW)
            took.append(time.time() - t1)
            H.check(ep > epochs[-1], f"cycle {cyc}: epoch {ep} after {epochs[-1]}")
            epochs.append(ep)
            p.start()
            p.proc.wait_log(r'msg="group: following the leader"', timeout=60 * O.SLOW)
            p = q
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 120 * O.SLOW,
                     "every event safe after the last failover")
        O.wait_until(lambda: all(len(O.read_log(n.data)) == len(O.read_log(p.data))
                                 for n in nodes), 60 * O.SLOW, "the follower at the head")
        for c in cols:
            c.stop()
        took.sort()
        orc.extra["cycles (kill -9, election, rejoin)"] = CYCLES
        orc.extra["seconds for the cycles"] = f"{time.time() - t0:.1f}"
        orc.extra["failover s (median/max)"] = f"{took[len(took) // 2]:.1f}/{took[-1]:.1f}"
        orc.extra["epochs"] = f"{epochs[0]} .. {epochs[-1]}"
        orc.extra["restarts that cut an unsafe tail"] = sum(
            any("discarded the unsafe tail" in x for x in life.lines)
            for n in nodes for life in n.lives)
        orc.check(p, rss, reporter=False)
        H.check(len({verify(n.data) for n in nodes}) == 1, "follower and primary differ")
        for n in nodes:
            n.stop()
        etcd.stop_all()
        rss.close()


if __name__ == "__main__":
    if not E.Etcd.available():
        print("SKIP etcd is not installed (Debian: etcd-server)", flush=True)
        sys.exit(77)
    H.main([test_sigkill_primary_13_collectors, test_sigstop_primary,
            test_etcd_member_and_majority_down, test_partition_netns, test_etcd_tls_client_cert, test_secure_group,
            test_latest_epoch_wins_over_longest_log, test_too_few_members_no_election,
            test_failover_cycles])
