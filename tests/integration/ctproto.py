"""ctproto — chitieu's wire protocol in pure Python (python3-msgpack + python3-zmq).

Written from docs/PROTOCOL.md and proto/*.h only; it doubles as proof that a
compatible collector or reporter can be written in another language. Tests
import it to talk to the real chitieu-aggregator.

  event(...)                 -> bytes   canonical schema-v1 event (MessagePack map)
  life_void/correct/target/close/reopen/reorg(...)
                             -> bytes   canonical life entries (PROTOCOL.md §2.2)
  submit(token, [ev bytes])  -> bytes   "sub"
  snapshot_request()         -> bytes   "snq"
  update(s, p, ph, h, t, c)  -> bytes   "upd" (as the aggregator's feed publishes it)
  decode(frame)              -> dict    any message; "ack"/"err"/"upd"/"hb"/"snp" are
                                        normalised (see decode())
  Client(endpoint, ...)      a DEALER collector: send(events) -> ack dict
  Reader(feed, snapshot,...) a SUB + snapshot client (Clone pattern helpers)

Counter keys: kind(1) | program(1) | district(2 BE) | dim; see key()/parse_key(),
key_check() and the key_* helpers of the kinds 10..21 (§5.1, tally version 3).
"""
import hashlib
import os
import re
import struct
import time

import msgpack
import zmq

PROTOCOL_VERSION = 1
SCHEMA_VERSION = 1

ACCEPTED, DUPLICATE, REJECTED, RETRY = 0, 1, 2, 3
STATUS_NAMES = {0: "accepted", 1: "duplicate", 2: "rejected", 3: "retry"}

PROGRAMS = {"bhxh_tn": 0, "bhyt_hgd": 1}
COUNT_NET, COUNT_GROSS, COUNT_CANCELLED, COUNT_AGENT, COUNT_DAY, COUNT_GROUP, \
    COUNT_REPEAT, COUNT_CANCEL_NOOP, COUNT_COMMUNE = range(1, 10)
COUNT_VOIDED, COUNT_CORRECTED, COUNT_TARGET, COUNT_CLOSE, COUNT_AFTER_CLOSE, \
    COUNT_LATE_CLOSED, COUNT_LATE_HIST, COUNT_LATE_MAX, COUNT_AFTER_DAY, COUNT_RECV_DAY, \
    COUNT_REORG, COUNT_LIFE = range(10, 22)
COUNT_NAMES = ["net", "gross", "cancelled", "agent", "day", "group", "repeat", "cancel_noop",
               "commune", "voided", "corrected", "target", "close", "after_close", "late_closed",
               "late_hist", "late_max", "after_day", "recv_day", "reorg", "life"]
TALLY_VERSION = 3
COMMUNES_MAX = 1024
LATE_BUCKETS = 8
# the LIFE counter's values (PROTOCOL.md §5.3) and the life entries' "k"
LIFE_KINDS = {"void": 1, "correct": 2, "target": 3, "close": 4, "reopen": 5, "reorg": 6}
# person state flags (PROTOCOL.md §7)
PS_ENROLLED, PS_VOIDED, PS_MOVED = 1, 2, 4


def commune_code(communes, name):
    """The commune code (docs/PROTOCOL.md §4.4): 1-based index of name in the
    unit's commune list sorted bytewise; 0 for no name, no list or not listed."""
    if not name or not communes:
        return 0
    ordered = sorted(communes, key=lambda c: c.encode())
    return ordered.index(name) + 1 if name in ordered else 0


def commune_dim(code):
    return struct.pack(">H", code)


def person_state_encode(enrolled, district, day, seq, agent, group="", commune=0,
                        voided=False, moved=False):
    """The person state (docs/PROTOCOL.md §7): version 1 when commune is 0,
    version 2 (commune code u16 after seq) otherwise; at most one of the flags
    enrolled, voided (bit 1), moved (bit 2)."""
    a, g = agent.encode(), (group or "").encode()
    assert len(a) <= 32 and len(g) <= 32 and 0 <= commune <= COMMUNES_MAX
    assert int(bool(enrolled)) + int(bool(voided)) + int(bool(moved)) <= 1
    flags = (PS_ENROLLED if enrolled else 0) | (PS_VOIDED if voided else 0) | \
        (PS_MOVED if moved else 0)
    out = bytes([2 if commune else 1, flags])
    out += struct.pack(">IIQ", district, day, seq)
    if commune:
        out += struct.pack(">H", commune)
    return out + bytes([len(a)]) + a + bytes([len(g)]) + g


def person_state_decode(b):
    """Inverse of person_state_encode; ValueError ("store_corrupt") otherwise."""
    def bad():
        return ValueError("store_corrupt")
    if len(b) < 20 or b[0] not in (1, 2) or b[1] not in (0, PS_ENROLLED, PS_VOIDED, PS_MOVED):
        raise bad()
    district, day, seq = struct.unpack(">IIQ", b[2:18])
    n, commune = 18, 0
    if b[0] == 2:
        if len(b) < 22:
            raise bad()
        commune = struct.unpack(">H", b[18:20])[0]
        if not 1 <= commune <= COMMUNES_MAX:
            raise bad()
        n = 20
    al = b[n]
    n += 1
    if al > 32 or n + al + 1 > len(b) or 0 in b[n:n + al]:
        raise bad()
    agent = b[n:n + al].decode()
    n += al
    gl = b[n]
    n += 1
    if gl > 32 or n + gl != len(b) or 0 in b[n:n + gl]:
        raise bad()
    return {"enrolled": b[1] == PS_ENROLLED, "voided": b[1] == PS_VOIDED,
            "moved": b[1] == PS_MOVED, "district": district, "day": day, "seq": seq,
            "agent": agent, "group": b[n:].decode(), "commune": commune}


def _load_errors():
    """name -> number, read from proto/ct_error.h (the one source of truth)."""
    src = os.environ.get("CT_SOURCE_DIR") or os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", ".."))
    table = {}
    try:
        with open(os.path.join(src, "proto", "ct_error.h"), encoding="utf-8") as f:
            for m in re.finditer(r'X\((CT_\w+),\s*(\d+),\s*"(\w+)"', f.read()):
                table[m.group(3)] = int(m.group(2))
    except OSError:
        pass
    return table


ERR = _load_errors()           # e.g. ERR["forbidden"] == 61
ERR_NAME = {v: k for k, v in ERR.items()}


# ---- events ---------------------------------------------------------------

def event_id(origin, seq):
    """16-byte id: origin (8 bytes) || seq (uint64 BE)."""
    assert len(origin) == 8
    return bytes(origin) + struct.pack(">Q", seq)


def person_ref(national_id, key=b"\x00" * 32):
    """Keyed BLAKE2b-256 of the 12-digit national ID (as collectors do)."""
    return hashlib.blake2b(national_id.encode(), digest_size=32, key=key).digest()


def event(eid, t_ms, district, agent, program="bhxh_tn", action="enroll", person=None,
          campaign="lamdong-2023", commune=None, months=None, amount=None, group=None,
          extra=None, v=SCHEMA_VERSION):
    """Canonical encoding: keys in schema order, smallest encodings."""
    if person is None:
        person = hashlib.blake2b(eid, digest_size=32).digest()
    m = {"v": v, "id": eid, "t": t_ms, "c": campaign, "d": district}
    if commune is not None:
        m["w"] = commune
    m["a"] = agent
    m["p"] = program
    m["x"] = action
    m["h"] = person
    if months is not None:
        m["m"] = months
    if amount is not None:
        m["amt"] = amount
    if group is not None:
        m["g"] = group
    if extra:
        m.update(extra)
    return msgpack.packb(m, use_bin_type=True)


def decode_event(b):
    return msgpack.unpackb(b, raw=False)


# ---- life entries (PROTOCOL.md §2.2) ---------------------------------------

def _life(kind, eid, t_ms, by, reason, campaign, keys, extra):
    """Canonical life entry: k v id t c by r, then the kind's keys in table
    order (keys: [(name, value)] already in that order; None values left out)."""
    m = {"k": kind, "v": SCHEMA_VERSION, "id": bytes(eid), "t": t_ms, "c": campaign, "by": by,
         "r": reason}
    for k, v in keys:
        if v is not None:
            m[k] = bytes(v) if isinstance(v, (bytes, bytearray)) else v
    if extra:
        m.update(extra)
    return msgpack.packb(m, use_bin_type=True)


def life_void(eid, t_ms, by, reason, district, program, person, event_id_, seq,
              campaign="lamdong-2023", extra=None):
    """Void of the sign-up credited by the enroll event event_id_ at log seq
    seq (person = its 32-byte reference; program = where it counts now)."""
    return _life("void", eid, t_ms, by, reason, campaign,
                 [("d", district), ("p", program), ("h", person), ("e", event_id_),
                  ("q", seq)], extra)


def life_correct(eid, t_ms, by, reason, district, program, person, event_id_, seq,
                 new_program=None, agent=None, commune=None, group=None,
                 campaign="lamdong-2023", extra=None):
    """Correction of a sign-up: at least one of new_program, agent, commune
    ("" = none), group ("" = none)."""
    return _life("correct", eid, t_ms, by, reason, campaign,
                 [("d", district), ("p", program), ("h", person), ("e", event_id_),
                  ("q", seq), ("np", new_program), ("a", agent), ("w", commune),
                  ("g", group)], extra)


def life_target(eid, t_ms, by, reason, district, program, n, ef,
                campaign="lamdong-2023", extra=None):
    """Target revision of (program, unit district; 0 = the per-staff quota)
    to n (1..1000000) from ef (ms)."""
    return _life("target", eid, t_ms, by, reason, campaign,
                 [("d", district), ("p", program), ("n", n), ("ef", ef)], extra)


def life_close(eid, t_ms, by, reason, district, day, campaign="lamdong-2023", extra=None):
    """Close of the campaign-local day YYYYMMDD for a unit (0 = the province)."""
    return _life("close", eid, t_ms, by, reason, campaign, [("d", district), ("day", day)],
                 extra)


def life_reopen(eid, t_ms, by, reason, district, day, campaign="lamdong-2023", extra=None):
    return _life("reopen", eid, t_ms, by, reason, campaign, [("d", district), ("day", day)],
                 extra)


def life_reorg(eid, t_ms, by, reason, name, ef, campaign="lamdong-2023", extra=None):
    """Puts the campaign file's [reorg NAME] in force from ef (ms, >= 1)."""
    return _life("reorg", eid, t_ms, by, reason, campaign, [("n", name), ("ef", ef)], extra)


def is_life(b):
    """The entry dispatch of §2.2: a map whose first key is the string "k"."""
    try:
        m = msgpack.unpackb(b, raw=False, strict_map_key=False)
    except Exception:  # noqa: BLE001 — anything unreadable is not a life entry
        return False
    return isinstance(m, dict) and len(m) > 0 and next(iter(m)) == "k"


def late_bucket(late_ms):
    """LATE_HIST bucket (0..7) of a lateness in ms (negative counts as 0)."""
    for b, upper in enumerate((15 * 60000, 3600000, 6 * 3600000, 24 * 3600000,
                               48 * 3600000, 72 * 3600000, 7 * 86400000)):
        if late_ms < upper:
            return b
    return 7


# ---- messages -------------------------------------------------------------

def submit(token, events, w=False):
    """A "sub"; w=True asks for the watermark form of the ack (items with q,
    then f and ep)."""
    m = {"v": PROTOCOL_VERSION, "k": "sub", "n": token, "e": list(events)}
    if w:
        m["w"] = 1
    return msgpack.packb(m, use_bin_type=True)


def snapshot_request():
    return msgpack.packb({"v": PROTOCOL_VERSION, "k": "snq"}, use_bin_type=True)


def telemetry(token, district, origin, clock_ms, waiting, unsafe, rejected, version,
              oldest_ms=None):
    """An office's "tel" (PROTOCOL.md §3.6), keys in canonical order:
    v k n d o t q u rj sv [ot]; the aggregator answers "err" with c = 0
    when it recorded it, and never logs or counts it."""
    m = {"v": PROTOCOL_VERSION, "k": "tel", "n": token, "d": district, "o": bytes(origin),
         "t": clock_ms, "q": waiting, "u": unsafe, "rj": rejected, "sv": version}
    if oldest_ms is not None:
        m["ot"] = oldest_ms
    return msgpack.packb(m, use_bin_type=True)


def status_request(group=False):
    m = {"v": PROTOCOL_VERSION, "k": "stq"}
    if group:
        m["gr"] = 1
    return msgpack.packb(m, use_bin_type=True)


def parse_key(b):
    """Counter key bytes -> (kind, program, district, dim bytes)."""
    kind, prog = b[0], b[1]
    district = struct.unpack(">H", b[2:4])[0]
    return kind, prog, district, bytes(b[4:])


def key(kind, program, district, dim=b""):
    if isinstance(program, str):
        program = PROGRAMS[program]
    if isinstance(dim, str):
        dim = dim.encode()
    return bytes([kind, program]) + struct.pack(">H", district) + dim


# keys of tally version 3 (PROTOCOL.md §5.1); program None = the kind has none (0)
def key_voided(program, district, agent):
    return key(COUNT_VOIDED, program, district, agent)


def key_corrected(program, district):
    return key(COUNT_CORRECTED, program, district)


def key_target(program, district, ef, seq):
    return key(COUNT_TARGET, program, district, struct.pack(">QQ", ef, seq))


def key_close(district, day):
    return key(COUNT_CLOSE, 0, district, struct.pack(">I", day))


def key_after_close(program, district, day, close_seq):
    return key(COUNT_AFTER_CLOSE, program, district, struct.pack(">IQ", day, close_seq))


def key_late_closed(program, district, day):
    return key(COUNT_LATE_CLOSED, program, district, struct.pack(">I", day))


def key_late_hist(program, district, bucket):
    return key(COUNT_LATE_HIST, program, district, bytes([bucket]))


def key_late_max(program, district):
    return key(COUNT_LATE_MAX, program, district)


def key_after_day(program, district, day):
    return key(COUNT_AFTER_DAY, program, district, struct.pack(">I", day))


def key_recv_day(program, district, day):
    return key(COUNT_RECV_DAY, program, district, struct.pack(">I", day))


def key_reorg(name):
    return key(COUNT_REORG, 0, 0, name)


def key_life(district, seq):
    return key(COUNT_LIFE, 0, district, struct.pack(">Q", seq))


# kind -> (dim min, dim max, has a program, unit rule: None any, True nonzero, False zero)
_KEY_RULES = {
    COUNT_VOIDED: (1, 32, True, True), COUNT_CORRECTED: (0, 0, True, True),
    COUNT_TARGET: (16, 16, True, None), COUNT_CLOSE: (4, 4, False, None),
    COUNT_AFTER_CLOSE: (12, 12, True, True), COUNT_LATE_CLOSED: (4, 4, True, True),
    COUNT_LATE_HIST: (1, 1, True, True), COUNT_LATE_MAX: (0, 0, True, True),
    COUNT_AFTER_DAY: (4, 4, True, True), COUNT_RECV_DAY: (4, 4, True, True),
    COUNT_REORG: (1, 32, False, False), COUNT_LIFE: (8, 8, False, None),
}


def key_check(b):
    """ct_count_key_parse: True when b is a valid counter key of tally version 3."""
    if not 4 <= len(b) <= 36 or not COUNT_NET <= b[0] <= COUNT_LIFE or b[1] >= len(PROGRAMS):
        return False
    kind, prog, district, dim = parse_key(b)
    if kind in _KEY_RULES:
        lo, hi, has_prog, unit = _KEY_RULES[kind]
        return (lo <= len(dim) <= hi and (has_prog or prog == 0)
                and (unit is None or (district != 0) == unit)
                and (kind != COUNT_LATE_HIST or dim[0] < LATE_BUCKETS))
    if kind in (COUNT_AGENT, COUNT_GROUP):
        return 1 <= len(dim) <= 32
    if kind == COUNT_DAY:
        return len(dim) == 4
    if kind == COUNT_COMMUNE:
        return len(dim) == 2 and 1 <= struct.unpack(">H", dim)[0] <= COMMUNES_MAX
    return not dim


def key_str(b):
    """ct_count_key_str: "kind=after_close program=bhxh_tn district=672 dim=20230722,seq=5"."""
    kind, prog, district, dim = parse_key(b)
    name = COUNT_NAMES[kind - 1] if COUNT_NET <= kind <= COUNT_LIFE else "unknown"
    names = {v: k for k, v in PROGRAMS.items()}
    pname = "-" if kind in (COUNT_CLOSE, COUNT_REORG, COUNT_LIFE) and prog == 0 \
        else names.get(prog, "?")
    if kind in (COUNT_DAY, COUNT_CLOSE, COUNT_LATE_CLOSED, COUNT_AFTER_DAY,
                COUNT_RECV_DAY) and len(dim) == 4:
        d = " dim=%d" % struct.unpack(">I", dim)
    elif kind == COUNT_COMMUNE and len(dim) == 2:
        d = " dim=%d" % struct.unpack(">H", dim)
    elif kind == COUNT_AFTER_CLOSE and len(dim) == 12:
        d = " dim=%d,seq=%d" % struct.unpack(">IQ", dim)
    elif kind == COUNT_TARGET and len(dim) == 16:
        d = " dim=%d,seq=%d" % struct.unpack(">QQ", dim)
    elif kind == COUNT_LIFE and len(dim) == 8:
        d = " dim=%d" % struct.unpack(">Q", dim)
    elif kind == COUNT_LATE_HIST and len(dim) == 1:
        d = " dim=%d" % dim[0]
    elif dim:
        d = " dim=" + "".join(chr(c) if 0x21 <= c < 0x7f else "\\x%02x" % c for c in dim)
    else:
        d = ""
    return f"kind={name} program={pname} district={district}{d}"


def update(s, p, ph, h, t, counts, campaign=None):
    """A feed "upd" in canonical key order: v k s p ph h t c [ci cf]; counts is
    {key bytes: int} or [(key, int)] in the order to send; campaign is None or
    (id str, fingerprint 32 bytes), the campaign the counts were made under."""
    items = counts.items() if isinstance(counts, dict) else counts
    m = {"v": PROTOCOL_VERSION, "k": "upd", "s": s, "p": p, "ph": bytes(ph), "h": bytes(h),
         "t": t, "c": [[bytes(k), v] for k, v in items]}
    if campaign is not None:
        m["ci"], m["cf"] = campaign[0], bytes(campaign[1])
    return msgpack.packb(m, use_bin_type=True)


def decode(frame):
    """Decodes any chitieu message. Returns a dict with "k" and:
       ack: n, s, r = [(id|None, status, code)], q = [log seq of each item's record:
            accepted = its new record, duplicate = the original one, else 0]
       err: n (or None), c
       upd: s, p, ph, h, t, c = {key bytes: value}   (ph: head at seq p)
       hb:  s, h, t
       snp: s, h, t, c = {key bytes: value}
       upd and snp may carry ci (campaign id str) and cf (its fingerprint, 32 bytes)
       sta: t ro ep c f sk al sm, fl = [dict id acked lag_records lag_ms silent_ms],
            of = [dict d o seen t q u rj ot sv]"""
    m = msgpack.unpackb(frame, raw=False, strict_map_key=False)
    if not isinstance(m, dict) or m.get("v") != PROTOCOL_VERSION:
        raise ValueError(f"not a chitieu v1 message: {m!r:.200}")
    k = m.get("k")
    if k == "ack":
        m["q"] = [x[3] if len(x) == 4 else 0 for x in m["r"]]
        m["r"] = [(bytes(x[0]) if x[0] is not None else None, x[1], x[2]) for x in m["r"]]
    elif k in ("upd", "snp"):
        m["c"] = {bytes(kv[0]): kv[1] for kv in m["c"]}
    elif k == "sta":
        m["fl"] = [dict(zip(("id", "acked", "lag_records", "lag_ms", "silent_ms"), x))
                   for x in m["fl"]]
        m["of"] = [dict(zip(("d", "o", "seen", "t", "q", "u", "rj", "ot", "sv"), x))
                   for x in m["of"]]
        if "gr" in m:
            g = dict(zip(("name", "mode", "leader", "role", "epoch", "since", "lease_left_ms",
                          "etcd_ok", "accepting", "members"), m["gr"]))
            g["members"] = [dict(zip(("endpoint", "epoch", "head", "lag_records", "lag_ms"), x))
                            for x in g["members"]]
            m["gr"] = g
    return m


# ---- clients ----------------------------------------------------------------

def curve_keypair():
    """(public, secret) Z85 as str."""
    pub, sec = zmq.curve_keypair()
    return pub.decode(), sec.decode()


def write_keyfiles(base, public, secret):
    """Writes base.key (0600) and base.pub in chitieu's key file format."""
    fd = os.open(base + ".key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"public = {public}\nsecret = {secret}\n")
    with open(base + ".pub", "w") as f:
        f.write(f"public = {public}\n")


def _secure(sock, curve):
    """curve = (server_public, client_public, client_secret) or None."""
    if curve:
        server_pub, pub, sec = curve
        sock.curve_serverkey = server_pub.encode() if isinstance(server_pub, str) else server_pub
        sock.curve_publickey = pub.encode() if isinstance(pub, str) else pub
        sock.curve_secretkey = sec.encode() if isinstance(sec, str) else sec


class Client:
    """A minimal collector: DEALER, one submit at a time or pipelined."""

    def __init__(self, endpoint, curve=None, ctx=None, identity=None):
        self.ctx = ctx or zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        # a send with no peer blocks; a test must fail (zmq.Again), not hang
        self.sock.sndtimeo = 10000
        if identity:
            self.sock.identity = identity
        _secure(self.sock, curve)
        self.sock.connect(endpoint)
        self.token = 0

    def send(self, events, token=None, w=False):
        """Sends one submit, returns its token."""
        if token is None:
            self.token += 1
            token = self.token
        self.sock.send(submit(token, events, w))
        return token

    def send_raw(self, frame):
        self.sock.send(frame)

    def recv(self, timeout=10.0):
        """One decoded reply, or None on timeout."""
        if self.sock.poll(int(timeout * 1000)):
            return decode(self.sock.recv())
        return None

    def call(self, events, timeout=10.0, w=False):
        """Submit and wait for the reply with that token."""
        tok = self.send(events, w=w)
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.recv(max(0.01, deadline - time.time()))
            if r is not None and r.get("n") == tok:
                return r
        return None

    def close(self):
        self.sock.close(0)


class Reader:
    """Feed subscriber + snapshot client (the Clone pattern)."""

    def __init__(self, feed, snapshot, curve=None, ctx=None):
        self.ctx = ctx or zmq.Context.instance()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.linger = 0
        _secure(self.sub, curve)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(feed)
        self.snap_ep = snapshot
        self.curve = curve
        self.seq = None
        self.head = None
        self.counts = {}
        self.gaps = 0
        self.snapshots = 0

    def snapshot(self, timeout=10.0):
        """Takes a snapshot (new DEALER each time); returns the snp dict or None."""
        d = self.ctx.socket(zmq.DEALER)
        d.linger = 0
        # a DEALER's send blocks while it has no peer (a refused CURVE
        # handshake can drop the only one): bound it like the receive
        d.sndtimeo = int(timeout * 1000)
        _secure(d, self.curve)
        d.connect(self.snap_ep)
        try:
            try:
                d.send(snapshot_request())
            except zmq.Again:
                return None
            if not d.poll(int(timeout * 1000)):
                return None
            m = decode(d.recv())
        finally:
            d.close(0)
        if m.get("k") == "snp":
            self.seq, self.head, self.counts = m["s"], m["h"], dict(m["c"])
            self.snapshots += 1
        return m

    def status(self, timeout=10.0, group=False):
        """Asks for the aggregator's status ("stq"); the decoded "sta" (or
        "err"), None on timeout."""
        d = self.ctx.socket(zmq.DEALER)
        d.linger = 0
        d.sndtimeo = int(timeout * 1000)
        _secure(d, self.curve)
        d.connect(self.snap_ep)
        try:
            try:
                d.send(status_request(group))
            except zmq.Again:
                return None
            if not d.poll(int(timeout * 1000)):
                return None
            return decode(d.recv())
        finally:
            d.close(0)

    def apply(self, m):
        """Applies one feed message; returns 'applied'/'ignored'/'gap'."""
        if m["k"] == "upd":
            if self.seq is None or m["s"] <= self.seq:
                return "ignored"
            if m["p"] != self.seq:
                self.gaps += 1
                return "gap"
            if self.head is not None and m.get("ph") is not None and m["ph"] != self.head:
                self.gaps += 1  # same seq, another log (aggregator on a fresh store)
                return "gap"
            self.counts.update(m["c"])
            self.seq, self.head = m["s"], m["h"]
            return "applied"
        if m["k"] == "hb" and self.seq is not None and m["s"] > self.seq:
            self.gaps += 1
            return "gap"
        if (m["k"] == "hb" and self.seq is not None and m["s"] == self.seq
                and self.head is not None and m["h"] != self.head):
            self.gaps += 1
            return "gap"
        return "ignored"

    def poll(self, timeout=1.0):
        """Receives feed messages for up to timeout; resyncs on a gap."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                return
            if not self.sub.poll(int(left * 1000)):
                return
            m = decode(self.sub.recv())
            if self.apply(m) == "gap":
                self.snapshot()

    def close(self):
        self.sub.close(0)
