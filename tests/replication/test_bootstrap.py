"""Bootstrap of a follower from a consistent copy of the primary's store
(docs/replication.md "Bootstrap a large follower"). Real processes on ipc
endpoints, real LMDB, real signals; exact counts.

  A primary with CT_BOOT_EVENTS events (20,000 by default) under load from
  four collectors; while it runs and takes more, `--copy-store DEST` makes a
  hot copy with its manifest. A new follower started with `--from-copy DEST`
  checks it, installs it and follows the log tail from the copy's head;
  more events come; the follower's `chitieu-audit verify` head equals the
  primary's at the same seq and both stores' counts are equal. A copy with
  one byte flipped is refused (exit 1, nothing installed); started again on
  its existing store the follower ignores --from-copy and resumes. A
  follower started with `--bootstrap` fetches a copy the primary makes for
  it over the replication socket ("cq"/"cc"), installs it after the same
  checks and follows the tail: same head, same counts, only the tail
  shipped as records. A client of cq/cc written in Python from PROTOCOL.md
  alone fetches the same copy: its digest, head and chain check.
"""
import hashlib
import os
import re
import shutil
import time

import msgpack
import zmq

import ctharness as H
import oracle as O

N = O.env_int("CT_BOOT_EVENTS", 20000)
DISTRICTS = (672, 673, 674, 675)


def verify(data):
    r = H.run([H.binary("chitieu-audit"), "verify", "--data", data], check=False,
              timeout=120 * O.SLOW)
    m = re.search(r"OK seq=(\d+) head=([0-9a-f]{64})", r.stdout)
    H.check(r.returncode == 0 and m, f"verify {data}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return int(m.group(1)), m.group(2)


def counts(data):
    st = O.Store(data)
    try:
        return st.counts(), len(st.log())
    finally:
        st.close()


def fetch_copy_py(endpoint, dest):
    """A follower's side of "cq"/"cc" written from PROTOCOL.md §3.4 alone (pyzmq + msgpack):
    returns the last chunk's fields after writing the copy to dest/data.mdb."""
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.ROUTING_ID, b"py-bootstrap")
    s.connect(endpoint)
    os.makedirs(dest)
    cid, off, data, last = 0, 0, bytearray(), None
    try:
        s.send(msgpack.packb({"v": 1, "k": "cq", "i": 0, "o": 0}))
        while True:
            H.check(s.poll(20000 * O.SLOW), "no cc from the primary")
            m = msgpack.unpackb(s.recv(), raw=False)
            H.check(m["k"] == "cc" and list(m) == ["v", "k", "i", "z", "o", "d", "s", "h", "ep",
                                                   "dg", "ci", "cf"], f"not a cc: {list(m)}")
            if m["z"] == 0:
                time.sleep(1)
                s.send(msgpack.packb({"v": 1, "k": "cq", "i": 0, "o": 0}))
                continue
            if m["i"] != cid:
                cid, off, data = m["i"], 0, bytearray()
            H.check(m["o"] == off, f"chunk at {m['o']}, asked {off}")
            data += m["d"]
            off += len(m["d"])
            last = m
            if off == m["z"]:
                break
            s.send(msgpack.packb({"v": 1, "k": "cq", "i": cid, "o": off}))
    finally:
        s.close()
    H.check(hashlib.blake2b(bytes(data), digest_size=32).digest() == last["dg"],
            "the copy's bytes do not have the digest the chunks announce")
    with open(os.path.join(dest, "data.mdb"), "wb") as f:
        f.write(data)
    return last


def test_bootstrap_from_copy():
    with H.Workdir("repl-boot") as wd:
        rss = O.RssSampler()
        p = O.Agg(wd, rss, "prim", extra=["--replicate", wd.ipc("rep"), "--no-future-check"])
        p.start()
        cols = [O.Collector(wd, rss, f"c{d}", d) for d in DISTRICTS]
        per = N // len(cols)
        for i, c in enumerate(cols):
            c.simulate(500 + i, per)
            c.start(p.eps["ingest"], ["--window", "2048", "--batch", "256"])
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 180 * O.SLOW,
                     f"{N} events in the primary")
        # more load while the copy is taken: the copy is of one committed state
        for i, c in enumerate(cols[:2]):
            c.simulate(600 + i, 1000)
        copy = wd.sub("copy")
        r = H.run(p.args(["--copy-store", copy]), check=False, timeout=120 * O.SLOW)
        m = re.search(r'copied seq=(\d+) head=([0-9a-f]{64}) epoch=1 bytes=\d+ digest=[0-9a-f]{64}',
                      r.stderr)
        H.check(r.returncode == 0 and m, f"--copy-store: {r.returncode}\n{r.stderr}")
        cseq = int(m.group(1))
        H.check(cseq >= N, f"copy at seq {cseq} < {N}")
        H.check(verify(copy) == (cseq, m.group(2)), "the copy does not verify at its manifest")
        # a damaged copy is refused and installs nothing
        bad = wd.sub("copy-bad")
        shutil.copytree(copy, bad)
        with open(os.path.join(bad, "data.mdb"), "r+b") as f:
            f.seek(os.path.getsize(os.path.join(bad, "data.mdb")) // 2)
            b = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([b[0] ^ 0x40]))
        fol = O.Agg(wd, rss, "fol", extra=["--follow", wd.ipc("rep"), "--from-copy", bad])
        r = H.run(fol.args(), check=False, timeout=60 * O.SLOW)
        H.check(r.returncode == 1 and "damaged or changed after the copy" in r.stderr,
                f"damaged copy: exit {r.returncode}\n{r.stderr}")
        H.check(not os.path.exists(os.path.join(fol.data, "data.mdb")) and
                not [x for x in os.listdir(wd.path) if x.startswith("fol-data.copy-")],
                "a damaged copy left something behind")
        # the follower from the good copy
        fol.extra = ["--follow", wd.ipc("rep"), "--from-copy", copy]
        fol.start()
        fol.proc.wait_log(rf'msg="bootstrap: started from a copy" detail="installed a copy from '
                          rf'\S+: seq={cseq} head={m.group(2)} epoch=1')
        fol.proc.wait_log(r'msg="replication: following"')
        for c in cols[2:]:
            c.stop()
            c.simulate(700, 500)
            c.start(p.eps["ingest"], ["--window", "2048", "--batch", "256"])
        total = N + 2 * 1000 + 2 * 500
        O.wait_until(lambda: all(O.outbox_empty(c) for c in cols), 120 * O.SLOW,
                     "every event in the primary")
        O.wait_until(lambda: verify(fol.data)[0] == total, 60 * O.SLOW, "follower at the head")
        sp, sf = verify(p.data), verify(fol.data)
        H.check(sp == sf and sp[0] == total, f"primary {sp} follower {sf}, want seq {total}")
        cp, lp = counts(p.data)
        cf, lf = counts(fol.data)
        H.check(lp == lf == total and cp == cf, f"counts differ: {O.diff_counts(cp, cf)}")
        # only the tail was shipped: the follower's first request was from the copy's head
        fol.proc.wait_log(rf'role=follower .* head_seq={total} .* records={total - cseq} ',
                          timeout=30 * O.SLOW)
        fol.stop()
        fol.start()
        fol.proc.wait_log(r'msg="bootstrap: the data directory holds a store; following from '
                          r'its head"')
        fol.stop()
        # over the wire: a follower with --bootstrap fetches a copy the primary makes for it
        wire = O.Agg(wd, rss, "wire", extra=["--follow", wd.ipc("rep"), "--bootstrap"])
        wire.start()
        m2 = wire.proc.wait_log(r'msg="bootstrap: started from a copy" detail="installed a copy '
                                r'from \S+: seq=(\d+) head=([0-9a-f]{64}) epoch=1 ',
                                timeout=120 * O.SLOW)
        p.proc.wait_log(r'msg="replication: a copy of the store is ready for a follower" '
                        rf'copy_id=\d+ seq={m2.group(1)} ')
        wseq = int(m2.group(1))
        H.check(wseq == total, f"wire copy at seq {wseq}, want {total}")
        c = cols[0]
        c.stop()
        c.simulate(800, 300)
        c.start(p.eps["ingest"], ["--window", "2048", "--batch", "256"])
        total2 = total + 300
        O.wait_until(lambda: verify(wire.data)[0] == total2, 60 * O.SLOW, "wire follower at head")
        H.check(verify(wire.data) == verify(p.data), "wire follower and primary differ")
        cw, lw = counts(wire.data)
        cp, lp = counts(p.data)
        H.check(lw == lp == total2 and cw == cp, f"counts differ: {O.diff_counts(cp, cw)}")
        wire.proc.wait_log(rf'role=follower .* head_seq={total2} .* records=300 ',
                           timeout=30 * O.SLOW)
        H.check(not [x for x in os.listdir(wd.path) if ".fetch-" in x],
                "the fetched copy was left behind")
        wire.stop()
        # an independent client of cq/cc (Python, from the spec): digest, head and chain match
        last = fetch_copy_py(wd.ipc("rep"), wd.sub("pycopy"))
        H.check(verify(wd.sub("pycopy")) == (last["s"], last["h"].hex()) and last["ep"] == 1,
                f"the Python-fetched copy: {verify(wd.sub('pycopy'))} vs s={last['s']}")
        for c in cols:
            c.stop()
        p.stop()
        print(f"copy at seq {cseq}; follower and primary at seq {total} head {sp[1][:16]}",
              flush=True)
        rss.close()


if __name__ == "__main__":
    H.main([test_bootstrap_from_copy])
