"""Read-ahead on the replication stream (docs/PROTOCOL.md §3.4, "rq" "n"), with
real processes on ipc endpoints and real LMDB.

  (a) a follower written in Python from §3.4 alone (pyzmq, msgpack, hashlib's
      blake2b) against chitieu-aggregator: an "rq" without "n" is answered
      from "s" (a follower that predates read-ahead); with "n" it is answered
      from "n", and "n" never counts as durable (the ack's "f" stays); a
      report ("s" = "n" after an ask from "n") makes its records safe and is
      not answered, even when the ask was answered already; "n" < "s" is
      bad_value;
  (b) chitieu's follower against a primary that predates read-ahead
      (--test-no-read-ahead: an "rq" with "n" gets "err" unknown_key): it
      says so once, asks one batch at a time, and ends at the primary's head
      with every event safe, equal counts and the same verified head.
"""
import hashlib

import msgpack
import zmq

import ctharness as H
import ctproto as P
import oracle as O
import test_replication as R

ZERO = b"\x00" * 32


def rq(s, h, n=None):
    m = {"v": 1, "k": "rq", "s": s, "h": h}
    if n is not None:
        m["n"] = n
    return msgpack.packb(m, use_bin_type=True)


class PyFollower:
    """A DEALER on the replication socket that checks every "rb" it gets."""

    def __init__(self, endpoint):
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.identity = b"follower-py0123456789abcdef"
        self.sock.connect(endpoint)
        self.hashes = {0: ZERO}  # seq -> chain hash of the records received

    def send(self, frame):
        self.sock.send(frame)

    def recv(self, timeout=10.0):
        H.check(self.sock.poll(int(timeout * 1000 * O.SLOW)), "no answer from the primary")
        return msgpack.unpackb(self.sock.recv(), raw=False)

    def batch(self, p, n):
        """The next message: an "rb" with p and n records that chain."""
        m = self.recv()
        H.check(m.get("k") == "rb", f"want rb, got {m}")
        H.check(m["p"] == p and len(m["r"]) == n, f"want p={p} with {n} records, got "
                f"p={m['p']} with {len(m['r'])}")
        H.check(m["ph"] == self.hashes[p], f"ph at {p}")
        prev = m["ph"]
        for i, rec in enumerate(m["r"]):
            seq = p + 1 + i
            h = hashlib.blake2b(prev + b"\x94" + rec[1:-34], digest_size=32).digest()
            H.check(rec[0] == 0x95 and rec[-34:-32] == b"\xc4\x20" and rec[-32:] == h,
                    f"record {seq} does not chain")
            H.check(msgpack.unpackb(rec, raw=False)[0] == seq, f"record {seq}: seq")
            self.hashes[seq] = prev = h
        return m

    def barrier(self):
        """Every "rq" sent before is taken: the primary answers them in order,
        and this one ("n" < "s") at once with err bad_value."""
        self.send(rq(1, ZERO, n=0))
        m = self.recv()
        H.check(m.get("k") == "err" and m["c"] == P.ERR["bad_value"], f"barrier: {m}")

    def close(self):
        self.sock.close(0)


def test_protocol_from_doc():
    with H.Workdir("ahead-a") as wd:
        rss = O.RssSampler()
        p = R.primary(wd, rss)
        p.start()
        c = P.Client(p.eps["ingest"])
        evs = O.mixed_events(b"ahead001", 1, 340)
        H.check(c.call(evs[:300], w=True)["s"] == 300, "first 300 committed")
        f = PyFollower(wd.ipc("rep"))
        # without "n": from "s"
        f.send(rq(0, ZERO))
        H.check(f.batch(0, 300)["c"] == 300, "committed 300")
        # read-ahead at the head: held; "n" is not durable (f stays 0)
        f.send(rq(0, ZERO, n=300))
        f.barrier()
        r = c.call(evs[300:301], w=True)
        H.check(r["s"] == 301 and r["f"] == 0, f"read-ahead counted as durable: {r}")
        f.batch(300, 1)  # the held request, answered at the commit
        # ask from 310 (held), report 310: safe, no answer
        H.check(c.call(evs[301:310])["s"] == 310, "310 committed")
        f.send(rq(0, ZERO, n=301))
        f.batch(301, 9)
        f.send(rq(0, ZERO, n=310))
        f.send(rq(310, f.hashes[310], n=310))
        f.barrier()
        r = c.call(evs[310:311], w=True)
        H.check(r["s"] == 311 and r["f"] == 310, f"report not counted: {r}")
        f.batch(310, 1)
        # a report after its ask was answered already: not answered again
        H.check(c.call(evs[311:320])["s"] == 320, "320 committed")
        f.send(rq(311, f.hashes[311], n=311))
        f.batch(311, 9)
        f.send(rq(311, f.hashes[311], n=311))  # the report of 311 (ask from 311 answered)
        f.send(rq(311, f.hashes[311], n=320))  # the ask from 320: held
        f.barrier()  # an answer to the report would come before the barrier's err
        H.check(c.call(evs[320:321])["s"] == 321, "321 committed")
        f.batch(320, 1)  # not a second answer from 311
        f.send(rq(321, f.hashes[321], n=321))
        f.barrier()
        r = c.call(evs[321:322], w=True)
        H.check(r["s"] == 322 and r["f"] == 321, f"report of 321: {r}")
        f.batch(321, 1)  # an "rq" with "n" = "s" is an ask when it names a new position
        # n < s: bad_value
        f.send(rq(322, f.hashes[322], n=321))
        m = f.recv()
        H.check(m.get("k") == "err" and m["c"] == P.ERR["bad_value"], f"n < s: {m}")
        # a follower without read-ahead, as before: from "s"
        H.check(c.call(evs[322:340])["s"] == 340, "340 committed")
        f.send(rq(322, f.hashes[322]))
        f.batch(322, 18)
        f.send(rq(340, f.hashes[340]))
        f.barrier()
        r = c.call(O.mixed_events(b"ahead002", 1, 1), w=True)
        H.check(r["s"] == 341 and r["f"] == 340, f"classic report of 340: {r}")
        f.batch(340, 1)
        f.close()
        c.close()
        p.stop()
        rss.close()


def test_primary_without_read_ahead():
    with H.Workdir("ahead-b") as wd:
        rss = O.RssSampler()
        p = R.primary(wd, rss, extra=["--test-no-read-ahead"])
        p.start()
        # what such a primary answers to "n"
        c = P.Client(p.eps["ingest"])
        H.check(c.call(O.mixed_events(b"ahead003", 1, 5))["s"] == 5, "5 committed")
        c.close()
        f = PyFollower(wd.ipc("rep"))
        f.send(rq(0, ZERO, n=0))
        m = f.recv()
        H.check(m.get("k") == "err" and m["c"] == P.ERR["unknown_key"], f"err: {m}")
        f.close()
        fol = R.follower(wd, rss)
        fol.start()
        cols = [O.Collector(wd, rss, f"c{d}", d) for d in (672, 673)]
        for i, col in enumerate(cols):
            col.simulate(600 + i, R.PER)
            col.start(p.eps["ingest"], ["--window", "128", "--batch", "16"])
        O.wait_until(lambda: all(O.outbox_empty(col) for col in cols), 60 * O.SLOW,
                     "every event safe (outboxes empty)")
        for col in cols:
            col.stop()
        n = 5 + 2 * R.PER
        O.wait_until(lambda: R.verify(fol.data)[0] == n, 30 * O.SLOW, "follower at the head")
        R.same_store(p, fol, n)
        said = [x for x in fol.proc.lines if "the primary does not take read-ahead" in x]
        H.check(len(said) == 1, f"the fallback logged {len(said)} times")
        fol.stop()
        p.stop()
        rss.close()


if __name__ == "__main__":
    H.main([test_protocol_from_doc, test_primary_without_read_ahead])
