"""ctlogfile — log records and .ctlog export files in pure Python, written from
docs/PROTOCOL.md §6 (the record and its hash chain) and docs/audit.md (the
ctlog format), so tests can hand real files to the real chitieu-audit:

  record(seq, received_ms, collector, entry, prev) -> (stored bytes, hash)
  Log()                     a log being written: add(entry, received_ms) -> seq;
                            .records [(seq, received_ms, collector, entry, hash, stored)]
  Log.ctlog(from_seq=1, to_seq=None, trailer=True) -> bytes of the export
  Log.rehash(from_seq)      recompute every hash from from_seq on (a forger who
                            rewrites the chain after changing a record)
  read_ctlog(bytes)         -> (header dict, [(seq, received_ms, collector, entry)])
"""
import hashlib

import msgpack

ZERO = b"\x00" * 32


def _pack(x):
    return msgpack.packb(x, use_bin_type=True)


def record(seq, received_ms, collector, entry, prev):
    """The stored record and its hash: hash = BLAKE2b-256(prev || body)."""
    body = _pack([seq, received_ms, collector, bytes(entry)])
    h = hashlib.blake2b(prev + body, digest_size=32).digest()
    return _pack([seq, received_ms, collector, bytes(entry), h]), h


def header(campaign, from_seq, prev):
    return _pack({"v": 1, "k": "ctlog", "campaign": campaign, "from": from_seq, "prev": prev})


def trailer(count, last, head):
    return _pack({"k": "end", "count": count, "last": last, "head": head})


class Log:
    """A hash-chained log built in memory, seq 1, 2, ..."""

    def __init__(self, campaign="lamdong-2023", collector="insecure"):
        self.campaign, self.collector = campaign, collector
        self.records = []  # (seq, received_ms, collector, entry, hash, stored)

    def head(self):
        return self.records[-1][4] if self.records else ZERO

    def add(self, entry, received_ms, collector=None):
        """Appends one entry; received_ms is clamped to be non-decreasing
        (as the aggregator does). Returns its seq."""
        seq = len(self.records) + 1
        if self.records:
            received_ms = max(received_ms, self.records[-1][1])
        col = collector or self.collector
        stored, h = record(seq, received_ms, col, entry, self.head())
        self.records.append((seq, received_ms, col, bytes(entry), h, stored))
        return seq

    def replace(self, seq, entry=None, received_ms=None):
        """Changes record seq in place WITHOUT fixing the chain (tampering)."""
        s, r, c, e, h, _ = self.records[seq - 1]
        e = bytes(entry) if entry is not None else e
        r = received_ms if received_ms is not None else r
        stored = _pack([s, r, c, e, h])  # the old hash: no longer matches its chain
        self.records[seq - 1] = (s, r, c, e, h, stored)

    def insert(self, seq, entry, received_ms=None):
        """Inserts an entry at seq, renumbering the rest (then rehash to
        forge a consistent chain)."""
        rms = received_ms if received_ms is not None else self.records[seq - 2][1]
        recs = [(r[1], r[2], r[3]) for r in self.records]
        recs.insert(seq - 1, (rms, self.collector, bytes(entry)))
        self.records = []
        for r, c, e in recs:
            self.add(e, r, c)

    def rehash(self, from_seq=1):
        """Recomputes every hash from from_seq on (a consistent forged chain)."""
        recs = self.records
        for i in range(from_seq - 1, len(recs)):
            s, r, c, e, _, _ = recs[i]
            prev = recs[i - 1][4] if i else ZERO
            stored, h = record(s, r, c, e, prev)
            recs[i] = (s, r, c, e, h, stored)

    def ctlog(self, from_seq=1, to_seq=None, with_trailer=True):
        to_seq = to_seq or len(self.records)
        prev = self.records[from_seq - 2][4] if from_seq > 1 else ZERO
        out = [header(self.campaign, from_seq, prev)]
        out += [r[5] for r in self.records[from_seq - 1:to_seq]]
        if with_trailer and to_seq >= from_seq:
            out.append(trailer(to_seq - from_seq + 1, to_seq, self.records[to_seq - 1][4]))
        return b"".join(out)

    def write(self, path, **kw):
        with open(path, "wb") as f:
            f.write(self.ctlog(**kw))
        return path


def read_ctlog(data):
    """(header, [(seq, received_ms, collector, entry)]) of a .ctlog's bytes."""
    u = msgpack.Unpacker(raw=False)
    u.feed(data)
    objs = list(u)
    hdr = objs[0]
    recs = [(o[0], o[1], o[2], bytes(o[3])) for o in objs[1:] if isinstance(o, list)]
    return hdr, recs
