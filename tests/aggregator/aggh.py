"""aggh — helpers for the aggregator's integration tests (real binary, real LMDB).

start(wd, ...)        starts chitieu-aggregator on ipc endpoints in the Workdir,
                      waits for msg="ready"; returns (Proc, endpoints dict)
Store(path)           read-only view of a data directory with python3-lmdb:
                      log records, ids, counts; verify_chain() recomputes the
                      BLAKE2b chain exactly as docs/PROTOCOL.md §6 says.
ev(...)               a valid event for the lamdong-2023 campaign.
"""
import csv
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import lmdb  # noqa: E402  (python3-lmdb)
import msgpack  # noqa: E402

import ctharness as H  # noqa: E402
import ctproto as P  # noqa: E402

# 2023-07-25T08:00:00+07:00, inside the campaign window
T0 = 1690246800000
DAY = 86400000
CAMPAIGN_ID = "lamdong-2023"


def agents_by_district():
    out = {}
    path = os.path.join(H.SRC, "examples", "lamdong-2023", "staff.csv")
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.setdefault(int(row["district"]), []).append(row["agent_id"])
    return out


AGENTS = agents_by_district()


def ev(origin, seq, district=672, program="bhxh_tn", action="enroll", person=None, t=None,
       agent=None, **kw):
    """A valid event: id = origin||seq, a distinct person per (origin, seq) by default."""
    if person is None:
        person = hashlib.blake2b(origin + struct.pack(">Q", seq), digest_size=32).digest()
    if agent is None:
        ags = AGENTS[district]
        agent = ags[seq % len(ags)]
    return P.event(P.event_id(origin, seq), T0 + seq if t is None else t, district, agent,
                   program=program, action=action, person=person, **kw)


def start(wd, name="agg", secure=None, extra=(), data=None, wait=True, env=None):
    """secure = (server_key_file, auth_file) or None for --insecure."""
    eps = {"ingest": wd.ipc(name + "-in"), "feed": wd.ipc(name + "-feed"),
           "snapshot": wd.ipc(name + "-snap")}
    data = data or wd.sub(name + "-data")
    args = [H.binary("chitieu-aggregator"), "--data", data, "--ingest", eps["ingest"],
            "--feed", eps["feed"], "--snapshot", eps["snapshot"], "--stats-interval", "1"]
    if secure:
        args += ["--keys", secure[0], "--auth", secure[1]]
    else:
        args += ["--insecure"]
    args += list(extra)
    p = wd.start(args, name=name, env=env)
    if wait:
        p.wait_log(r'msg="ready"')
    eps["data"] = data
    return p, eps


class Store:
    """Read-only view of an aggregator data directory (open while stopped or live)."""

    def __init__(self, path):
        self.env = lmdb.open(path, readonly=True, max_dbs=8, lock=True, subdir=True)
        self.log = self.env.open_db(b"log", create=False)
        self.ids = self.env.open_db(b"ids", create=False)
        self.counts = self.env.open_db(b"counts", create=False)
        self.meta = self.env.open_db(b"meta", create=False)

    def close(self):
        self.env.close()

    def records(self):
        """[(key seq, raw value)] in key order."""
        with self.env.begin(db=self.log) as t:
            return [(struct.unpack(">Q", k)[0], bytes(v)) for k, v in t.cursor()]

    def head(self):
        with self.env.begin(db=self.meta) as t:
            v = t.get(b"head")
        return struct.unpack(">Q", v[:8])[0], bytes(v[8:])

    def id_set(self):
        with self.env.begin(db=self.ids) as t:
            return {bytes(k): struct.unpack(">Q", v[:8])[0] for k, v in t.cursor()}

    def count_map(self):
        with self.env.begin(db=self.counts) as t:
            return {bytes(k): struct.unpack(">q", v)[0] for k, v in t.cursor()}

    def verify_chain(self):
        """Recomputes every record hash; returns (n, head hash). Raises on any break."""
        prev = b"\x00" * 32
        n = 0
        for seq, raw in self.records():
            rec = msgpack.unpackb(raw, raw=False)
            assert rec[0] == seq == n + 1, f"seq {rec[0]} at key {seq}, expected {n + 1}"
            # body = array(4) of the first four elements, exactly as stored
            assert raw[0] == 0x95 and raw[-34:-32] == b"\xc4\x20"
            body = b"\x94" + raw[1:-34]
            h = hashlib.blake2b(prev + body, digest_size=32).digest()
            assert h == bytes(rec[4]), f"hash mismatch at seq {seq}"
            prev = h
            n += 1
        hs, hh = self.head()
        assert hs == n and hh == prev, f"head ({hs}) != last record ({n})"
        return n, prev

    def events(self):
        """[(seq, collector, event dict)] from the log."""
        out = []
        for seq, raw in self.records():
            rec = msgpack.unpackb(raw, raw=False)
            out.append((seq, rec[2], msgpack.unpackb(rec[3], raw=False)))
        return out


def net_key(district, program):
    return P.key(P.COUNT_NET, program, district)


def expected_net(events):
    """NET per (district, program) for logs where every event is a distinct-person enroll."""
    out = {}
    for _, _, e in events:
        k = net_key(e["d"], e["p"])
        out[k] = out.get(k, 0) + 1
    return out


def snapshot(eps, curve=None):
    r = P.Reader(eps["feed"], eps["snapshot"], curve=curve)
    try:
        return r.snapshot(timeout=10)
    finally:
        r.close()


def secure_setup(wd, collectors=(), reporters=(), admins=()):
    """Makes a server key pair and client key pairs; writes the auth file.
    collectors: [(name, district)]. Returns dict name -> (pub, sec) plus
    'server' and the paths 'server_key', 'auth'."""
    keys = {}
    spub, ssec = P.curve_keypair()
    base = wd.sub("server")
    P.write_keyfiles(base, spub, ssec)
    keys["server"] = (spub, ssec)
    lines = ["# test authorization file"]
    for name, d in collectors:
        pub, sec = P.curve_keypair()
        keys[name] = (pub, sec)
        lines.append(f"{pub} collector {d} {name}")
    for name in reporters:
        pub, sec = P.curve_keypair()
        keys[name] = (pub, sec)
        lines.append(f"{pub} reporter {name}")
    for name in admins:
        pub, sec = P.curve_keypair()
        keys[name] = (pub, sec)
        lines.append(f"{pub}   admin   {name}")
    auth = wd.sub("authorized.txt")
    with open(auth, "w") as f:
        f.write("\n".join(lines) + "\n")
    keys["server_key"] = base + ".key"
    keys["auth"] = auth
    return keys


def curve_for(keys, name):
    return (keys["server"][0], keys[name][0], keys[name][1])
