"""The pushed safe watermark (docs/PROTOCOL.md §3.2 "Pushed watermark": "sp" in a
"sub", "sf" from the primary), with real processes on ipc endpoints, real LMDB
and real signals.

  (a) a client written from §3.2 alone (pyzmq, msgpack) against a primary with
      a follower: a "sub" with "sp" is acked with "f" below its events' "q"
      (the follower cannot hold them yet), then, with nothing more sent, an
      "sf" arrives in canonical key order (v k s f ep) with f >= every q; no
      second "sf" once f covers them; a client without "sp" gets its ack and
      no "sf"; "sp" without "w", and "sp" other than 1, are "err" bad_value;
  (b) chitieu-collector against a primary whose follower is stopped (SIGSTOP)
      while 40 events are committed: the outbox keeps them (unsafe 40) with
      no resend to learn safe; the follower continued (SIGCONT): the outbox
      drains on the pushed "sf" alone (safe_pushes >= 1, safe_polls = 0, the
      primary answered no duplicate; its /metrics counts the pushes and no
      collector left waiting);
  (c) an "sf" from an older epoch than the collector's outbox is refused like
      an ack of that epoch (the events stay, "refusing an ack from a former
      primary"); one of the current epoch drains them (a Python stub
      aggregator that acks with "f" 0 and pushes by hand);
  (d) an aggregator that predates "sp" (a Python stub answering "err"
      unknown_key to it): the collector says so once, sends without "sp" and
      delivers every event exactly once.
"""
import signal
import time
import urllib.request

import msgpack
import zmq

import ctharness as H
import ctproto as P
import oracle as O
import test_replication as R


def sub(token, events, w=True, ep=None, sp=None):
    m = {"v": 1, "k": "sub", "n": token, "e": list(events)}
    if w:
        m["w"] = 1
    if ep is not None:
        m["ep"] = ep
    if sp is not None:
        m["sp"] = sp
    return msgpack.packb(m, use_bin_type=True)


def recv_raw(sock, timeout):
    """(decoded message, its keys in wire order) or (None, None)."""
    if not sock.poll(int(timeout * 1000)):
        return None, None
    frame = sock.recv()
    pairs = msgpack.unpackb(frame, raw=False, object_pairs_hook=list)
    return P.decode(frame), [k for k, _ in pairs]


def dealer(endpoint):
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.linger = 0
    s.sndtimeo = 10000
    s.connect(endpoint)
    return s


def test_push_protocol():
    with H.Workdir("push-a") as wd:
        rss = O.RssSampler()
        p = R.primary(wd, rss)
        p.start()
        fol = R.follower(wd, rss)
        fol.start()
        fol.proc.wait_log(r'msg="replication: following"')
        a, b = dealer(p.eps["ingest"]), dealer(p.eps["ingest"])
        b.send(sub(1, O.mixed_events(b"pushb001", 1, 5), ep=1))
        a.send(sub(1, O.mixed_events(b"pusha001", 1, 5), ep=1, sp=1))
        ack, _ = recv_raw(a, 10 * O.SLOW)
        H.check(ack and ack["k"] == "ack" and ack["n"] == 1, f"no ack: {ack}")
        q = max(ack["q"])
        H.check(all(s == 0 for s, in [(x[1],) for x in ack["r"]]), f"not accepted: {ack['r']}")
        H.check(ack["f"] < q, f"f {ack['f']} already covers q {q}: nothing to push")
        sf, keys = recv_raw(a, 30 * O.SLOW)
        H.check(sf and sf["k"] == "sf", f"no sf pushed: {sf}")
        H.check(keys == ["v", "k", "s", "f", "ep"], f"sf keys {keys}")
        while sf["f"] < q:  # safe may move in steps
            nxt, _ = recv_raw(a, 30 * O.SLOW)
            H.check(nxt and nxt["k"] == "sf" and nxt["f"] > sf["f"], f"after {sf}: {nxt}")
            sf = nxt
        H.check(sf["s"] >= sf["f"] >= q and sf["ep"] == 1, f"sf {sf}, q {q}")
        print(f"ack f={ack['f']} q={q}; pushed sf s={sf['s']} f={sf['f']} ep={sf['ep']}",
              flush=True)
        ackb, _ = recv_raw(b, 10 * O.SLOW)
        H.check(ackb and ackb["k"] == "ack" and "f" in ackb, f"b: {ackb}")
        # covered: nothing more to either of them
        for s in (a, b):
            extra, _ = recv_raw(s, 1.0)
            H.check(extra is None, f"unexpected message {extra}")
        # "sp" needs "w" and must be 1; nothing of either is stored
        n0 = len(O.read_log(p.data))
        for tok, frame in ((7, sub(7, O.mixed_events(b"pusha002", 1, 1), w=False, sp=1)),
                           (8, sub(8, O.mixed_events(b"pusha003", 1, 1), sp=2))):
            a.send(frame)
            e, _ = recv_raw(a, 10 * O.SLOW)
            H.check(e and e["k"] == "err" and e["n"] == tok and e["c"] == P.ERR["bad_value"],
                    f"token {tok}: {e}")
        H.check(len(O.read_log(p.data)) == n0, "a refused submit stored something")
        a.close()
        b.close()
        fol.stop()
        p.stop()
        rss.close()


def delivery_figures(c):
    m = c.proc.wait_log(r'msg="delivery finished".* safe_pushes=(\d+) safe_polls=(\d+)')
    return int(m.group(1)), int(m.group(2))


def metrics(port):
    """{series: value} of the primary's /metrics (checked by promtool)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        body = r.read()
    H.promtool_check(body, "the primary's /metrics")
    return H.prom_samples(body)


def test_push_drains_outbox():
    with H.Workdir("push-b") as wd:
        rss = O.RssSampler()
        port = H.free_port_block(1)
        p = R.primary(wd, rss, extra=["--metrics", f"127.0.0.1:{port}"])
        p.start()
        fol = R.follower(wd, rss)
        fol.start()
        fol.proc.wait_log(r'msg="replication: following"')
        fol.signal(signal.SIGSTOP)
        try:
            c = O.Collector(wd, rss, "c672", 672)
            c.simulate(900, 40)
            c.start(p.eps["ingest"])
            O.wait_until(lambda: len(O.read_log(p.data)) == 40, 30 * O.SLOW, "40 committed")
            O.wait_until(lambda: R.status(c.outbox).get("unsafe") == "40", 30 * O.SLOW,
                         "40 kept as committed, not safe")
            # long enough for a collector that learns safe from acks only to
            # resend a kept event (once a second) to ask for it
            time.sleep(2.5)
            st = R.status(c.outbox)
            H.check(st["queued"] == "40" and st["unsafe"] == "40", f"status {st}")
        finally:
            fol.signal(signal.SIGCONT)
        O.wait_until(lambda: O.outbox_empty(c), 30 * O.SLOW, "outbox drained by the push")
        H.check(R.status(c.outbox)["unsafe"] == "0", "unsafe left")
        c.stop()
        pushes, polls = delivery_figures(c)
        H.check(pushes >= 1 and polls == 0, f"safe_pushes={pushes} safe_polls={polls}")
        p.wait_stats()
        tot, _ = p.stats()
        H.check(tot["accepted"] == 40 and tot["duplicates"] == 0, f"primary stats {tot}")
        # /metrics is handed over by the loop from time to time: wait for safe 40 there
        O.wait_until(lambda: metrics(port).get("chitieu_aggregator_safe_seq") == 40,
                     10 * O.SLOW, "safe 40 on /metrics")
        m = metrics(port)
        H.check(m["chitieu_aggregator_safe_pushes_total"] >= 1 and
                m["chitieu_aggregator_safe_push_waiting"] == 0,
                f"pushes {m.get('chitieu_aggregator_safe_pushes_total')}, waiting "
                f"{m.get('chitieu_aggregator_safe_push_waiting')}")
        print(f"drained by {pushes} push(es), {polls} polls; primary {dict(tot)}", flush=True)
        fol.stop()
        p.stop()
        rss.close()


class StubAgg:
    """An aggregator reduced to its ingest socket: accepts every event (q = its
    position), acks with "f" = f_of(s) and "ep" = epoch; old=True answers a
    "sub" carrying "sp" with "err" unknown_key, as one that predates it."""

    def __init__(self, endpoint, epoch=1, old=False, f_of=lambda s: s):
        self.sock = zmq.Context.instance().socket(zmq.ROUTER)
        self.sock.linger = 0
        self.sock.bind(endpoint)
        self.epoch, self.old, self.f_of = epoch, old, f_of
        self.seq = 0
        self.ids = {}
        self.rids = set()
        self.refused = self.with_sp = self.without_sp = 0

    def pump(self, timeout=0.05):
        while self.sock.poll(int(timeout * 1000)):
            rid, frame = self.sock.recv_multipart()
            self.rids.add(rid)
            m = msgpack.unpackb(frame, raw=False)
            if m.get("k") != "sub":
                continue
            if "sp" in m:
                self.with_sp += 1
            else:
                self.without_sp += 1
            if self.old and "sp" in m:
                self.refused += 1
                err = {"v": 1, "k": "err", "n": m["n"], "c": P.ERR["unknown_key"]}
                self.sock.send_multipart([rid, msgpack.packb(err)])
                continue
            items = []
            for raw in m["e"]:
                eid = O.eid_of(raw)
                if eid in self.ids:
                    items.append([eid, 1, 0, self.ids[eid]])
                else:
                    self.seq += 1
                    self.ids[eid] = self.seq
                    items.append([eid, 0, 0, self.seq])
            ack = {"v": 1, "k": "ack", "n": m["n"], "s": self.seq, "r": items,
                   "f": self.f_of(self.seq), "ep": self.epoch}
            self.sock.send_multipart([rid, msgpack.packb(ack, use_bin_type=True)])
            timeout = 0

    def push(self, s, f, ep):
        sf = msgpack.packb({"v": 1, "k": "sf", "s": s, "f": f, "ep": ep})
        for rid in self.rids:
            self.sock.send_multipart([rid, sf])

    def close(self):
        self.sock.close(0)


def pumped(stub, fn):
    def check():
        stub.pump()
        return fn()
    return check


def test_push_epoch():
    with H.Workdir("push-c") as wd:
        rss = O.RssSampler()
        stub = StubAgg(wd.ipc("stub"), epoch=3, f_of=lambda s: 0)
        c = O.Collector(wd, rss, "c672", 672)
        c.simulate(901, 20)
        c.start(wd.ipc("stub"))
        O.wait_until(pumped(stub, lambda: len(stub.ids) == 20), 30 * O.SLOW, "20 acked")
        O.wait_until(pumped(stub, lambda: R.status(c.outbox).get("unsafe") == "20"),
                     30 * O.SLOW, "20 kept as committed")
        n = len(c.proc.lines)
        stub.push(20, 20, 2)  # a former primary's watermark
        c.proc.wait_log(r'refusing an ack from a former primary.* its_epoch=2 our_epoch=3',
                        timeout=10 * O.SLOW, start=n)
        stub.pump(0.5)
        st = R.status(c.outbox)
        H.check(st["queued"] == "20" and st["unsafe"] == "20", f"an old epoch's f counted: {st}")
        stub.push(20, 20, 3)
        O.wait_until(pumped(stub, lambda: O.outbox_empty(c)), 30 * O.SLOW,
                     "drained by the current epoch's push")
        c.stop()
        pushes, _ = delivery_figures(c)
        H.check(pushes == 2, f"safe_pushes={pushes}")
        stub.close()
        rss.close()


def test_older_aggregator():
    with H.Workdir("push-d") as wd:
        rss = O.RssSampler()
        stub = StubAgg(wd.ipc("stub"), old=True)
        c = O.Collector(wd, rss, "c672", 672)
        c.simulate(902, 30)
        c.start(wd.ipc("stub"))
        O.wait_until(pumped(stub, lambda: O.outbox_empty(c)), 30 * O.SLOW,
                     "delivered to an aggregator without sp")
        c.stop()
        said = [ln for ln in c.proc.lines if "does not push the safe watermark" in ln]
        H.check(len(said) == 1, f"said {len(said)} times")
        H.check(stub.refused >= 1 and stub.without_sp >= 1 and len(stub.ids) == 30,
                f"refused {stub.refused}, without sp {stub.without_sp}, ids {len(stub.ids)}")
        print(f"refused {stub.refused} submits with sp, then {stub.without_sp} without",
              flush=True)
        stub.close()
        rss.close()


if __name__ == "__main__":
    H.main([test_push_protocol, test_push_drains_outbox, test_push_epoch,
            test_older_aggregator])
