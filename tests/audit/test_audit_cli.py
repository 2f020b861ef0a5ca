"""test_audit_cli — chitieu-audit against real LMDB stores.

Stores are built through the real store API by ct_audit_mkstore (synthetic,
deterministic campaign logs: repeats, cancels, foreign cancels, groups), then
tampered with directly in the LMDB file (python3-lmdb), and every command is
run as a real process:
  - tamper: flipped event byte, deleted record, swapped records, a record
    that does not decode, changed count, deleted ids entry, broken ctlog
    file -> exit 1 naming the first divergence precisely; untouched store -> exit 0 "OK seq=N head=H";
  - export ctlog -> verify --file -> rebuild into a fresh dir -> identical log,
    counts and head; export jsonl/csv parse and hold no national ID;
  - replay --time equals replay --seq at the same position;
  - a campaign listing communes: COMMUNE counters equal the Python tally from
    the spec, a tampered one is named; a store without meta tally_version is
    refused by the aggregator and accepted after export + rebuild;
  - trace filters; usage errors exit 2.
"""
import csv
import datetime
import io
import json
import os
import shutil
import struct
import sys

from ctharness import BIN, Workdir, binary, check, main, run

try:
    import lmdb
except ImportError:  # pyenv interpreters do not see Debian's dist-packages
    sys.path.append("/usr/lib/python3/dist-packages")
    import lmdb
import msgpack

AUDIT = binary("chitieu-audit")
MKSTORE = os.path.join(os.path.dirname(BIN.rstrip("/")), "tests", "ct_audit_mkstore")
N = 3000
NOW = "2023-07-27T12:00:00+07:00"


def mkstore(path, n=N, seed=5):
    r = run([MKSTORE, path, str(n), str(seed), "500"])
    line = r.stdout.strip()
    seq, head = line.split()
    return int(seq.split("=")[1]), head.split("=")[1]


def audit(*args, check_rc=None):
    r = run([AUDIT] + list(args), check=False)
    if check_rc is not None and r.returncode != check_rc:
        raise AssertionError(f"{args} exited {r.returncode}, wanted {check_rc}\n"
                             f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r


def verify(*args, check_rc):
    """verify with the engine on one thread, two (one worker + the caller checking
    batches while it waits) and three: same verdict, same words."""
    r1 = audit("verify", *args, "--threads", "1", check_rc=check_rc)
    r2 = audit("verify", *args, "--threads", "2", check_rc=check_rc)
    r3 = audit("verify", *args, "--threads", "3", check_rc=check_rc)
    check(r1.stdout == r2.stdout, f"threads 1 vs 2:\n{r1.stdout}\n{r2.stdout}")
    check(r1.stdout == r3.stdout, f"threads 1 vs 3:\n{r1.stdout}\n{r3.stdout}")
    return r3


class Store:
    """Direct read/write access to a store's LMDB file (the tamperer)."""

    def __init__(self, path):
        self.env = lmdb.open(path, max_dbs=8, map_size=1 << 34, subdir=True)
        self.log = self.env.open_db(b"log", create=False)
        self.ids = self.env.open_db(b"ids", create=False)
        self.counts = self.env.open_db(b"counts", create=False)

    def close(self):
        self.env.close()

    def get(self, seq):
        with self.env.begin(db=self.log) as t:
            return t.get(struct.pack(">Q", seq))

    def put(self, seq, val):
        with self.env.begin(write=True, db=self.log) as t:
            t.put(struct.pack(">Q", seq), val)

    def delete(self, seq):
        with self.env.begin(write=True, db=self.log) as t:
            check(t.delete(struct.pack(">Q", seq)), "delete failed")

    def all(self, db):
        with self.env.begin(db=db) as t:
            return dict(t.cursor().iternext())


def event_of(rec):
    arr = msgpack.unpackb(rec, raw=True)
    return msgpack.unpackb(arr[3], raw=False, strict_map_key=False)


def copy_store(src, dst):
    shutil.copytree(src, dst)
    lock = os.path.join(dst, "lock.mdb")
    if os.path.exists(lock):
        os.unlink(lock)
    return dst


def fresh(w, name):
    """A copy of the pristine store made once per test module."""
    return copy_store(w.sub("pristine"), w.sub(name))


W = Workdir("ct-audit")
SEQ, HEAD = mkstore(W.sub("pristine"))


def test_untouched_verifies():
    check(SEQ == N, f"mkstore made {SEQ}")
    r = verify("--data", W.sub("pristine"), check_rc=0)
    check(r.stdout == f"OK seq={N} head={HEAD}\n", r.stdout)
    r = audit("verify", "--data", W.sub("pristine"), "--no-ids", check_rc=0)
    check(r.stdout == f"OK seq={N} head={HEAD}\n", r.stdout)


def test_flip_event_byte():
    d = fresh(W, "flip")
    s = Store(d)
    k = 1234
    rec = bytearray(s.get(k))
    i = rec.index(b"\xa1h\xc4\x20") + 4 + 7  # a byte of the event's person hash
    rec[i] ^= 0x01
    s.put(k, bytes(rec))
    s.close()
    r = verify("--data", d, check_rc=1)
    check(r.stdout == f"FAIL seq {k}: hash mismatch (record altered or reordered)\n", r.stdout)


def test_flip_collector_and_time():
    # the collector identity is covered by the chain too
    d = fresh(W, "flip2")
    s = Store(d)
    k = 77
    rec = bytearray(s.get(k))
    i = rec.index(b"insecure")
    rec[i] = ord("I")
    s.put(k, bytes(rec))
    s.close()
    r = verify("--data", d, check_rc=1)
    check(r.stdout == f"FAIL seq {k}: hash mismatch (record altered or reordered)\n", r.stdout)
    # ...and so is the receive time: one millisecond later, re-encoded canonically
    d = fresh(W, "flip3")
    s = Store(d)
    k = 501
    arr = msgpack.unpackb(s.get(k), raw=False)
    arr[1] += 1
    s.put(k, msgpack.packb(arr, use_bin_type=True))
    s.close()
    r = verify("--data", d, check_rc=1)
    check(r.stdout == f"FAIL seq {k}: hash mismatch (record altered or reordered)\n", r.stdout)


def test_delete_record():
    d = fresh(W, "delete")
    s = Store(d)
    s.delete(2000)
    s.close()
    r = verify("--data", d, check_rc=1)
    check(r.stdout == "FAIL seq 2000 missing (log jumps from 1999 to 2001)\n", r.stdout)


def test_delete_last_record():
    d = fresh(W, "delete_last")
    s = Store(d)
    s.delete(N)
    s.close()
    r = verify("--data", d, check_rc=1)
    check(r.stdout == f"FAIL seq {N} missing (log ends at {N - 1}, head is at {N})\n", r.stdout)


def test_record_beyond_head():
    d = fresh(W, "beyond")
    s = Store(d)
    rec = msgpack.unpackb(s.get(N), raw=False)
    rec[0] = N + 3  # a record appended behind the head's back
    s.put(N + 3, msgpack.packb(rec, use_bin_type=True))
    s.close()
    r = verify("--data", d, check_rc=1)
    check(r.stdout == f"FAIL seq {N + 3}: record beyond the log's head (seq {N})\n", r.stdout)


def test_swap_records():
    d = fresh(W, "swap")
    s = Store(d)
    a, b = s.get(500), s.get(502)
    s.put(500, b)
    s.put(502, a)
    s.close()
    r = verify("--data", d, check_rc=1)
    check(r.stdout.startswith("FAIL seq 500: hash mismatch (record altered or reordered)"),
          r.stdout)


def test_swap_records_with_rewritten_seq():
    """Reordered AND renumbered (the forger rewrote the seq fields): chain breaks."""
    d = fresh(W, "swap2")
    s = Store(d)
    a = msgpack.unpackb(s.get(600), raw=False)
    b = msgpack.unpackb(s.get(601), raw=False)
    a[0], b[0] = 601, 600
    s.put(600, msgpack.packb(b, use_bin_type=True))
    s.put(601, msgpack.packb(a, use_bin_type=True))
    s.close()
    r = verify("--data", d, check_rc=1)
    check(r.stdout == "FAIL seq 600: hash mismatch (record altered or reordered)\n", r.stdout)


def test_undecodable_record():
    """A stored record that does not decode ends the walk there, whichever
    thread decodes it: an earlier finding wins, a walk that stops before it
    (replay --seq, --time) never reads it."""
    bad_msg = ("FAIL seq 700: hash mismatch (record altered or reordered): the stored record "
               "does not decode or holds another seq\n")
    pristine = Store(W.sub("pristine"))
    t650 = msgpack.unpackb(pristine.get(650), raw=True)[1]
    pristine.close()
    d = fresh(W, "garbage")
    s = Store(d)
    s.put(700, b"\x95\x01")  # an array of 5 that ends after 1 element
    s.close()
    r = verify("--data", d, check_rc=1)
    check(r.stdout == bad_msg, r.stdout)
    for th in ("1", "2"):
        r = audit("replay", "--data", d, "--seq", "700", "--threads", th, check_rc=1)
        check(r.stdout == bad_msg, r.stdout)
        a = audit("replay", "--data", d, "--seq", "699", "--now", NOW, "--format", "json",
                  "--threads", th, check_rc=0)
        b = audit("replay", "--data", W.sub("pristine"), "--seq", "699", "--now", NOW,
                  "--format", "json", "--threads", th, check_rc=0)
        check(a.stdout == b.stdout and a.stdout, "replay before the bad record")
        # by time: the walk stops at the first record received after it
        iso = datetime.datetime.fromtimestamp(t650 // 1000, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (t650 % 1000)
        a = audit("replay", "--data", d, "--time", iso, "--now", NOW, "--format", "json",
                  "--threads", th, check_rc=0)
        b = audit("replay", "--data", W.sub("pristine"), "--time", iso, "--now", NOW,
                  "--format", "json", "--threads", th, check_rc=0)
        check(a.stdout == b.stdout and a.stdout, "replay --time before the bad record")
    d = fresh(W, "garbage-after-gap")
    s = Store(d)
    s.delete(400)
    s.put(700, b"\x95\x01")
    s.close()
    r = verify("--data", d, check_rc=1)
    check(r.stdout == "FAIL seq 400 missing (log jumps from 399 to 401)\n", r.stdout)


def test_change_count():
    d = fresh(W, "count")
    s = Store(d)
    key = bytes([1, 0, 0x02, 0xA0])  # NET, bhxh_tn, district 672
    with s.env.begin(write=True, db=s.counts) as t:
        v = struct.unpack(">q", t.get(key))[0]
        t.put(key, struct.pack(">q", v + 1))
    s.close()
    r = verify("--data", d, check_rc=1)
    want = f"FAIL count kind=net program=bhxh_tn district=672: stored {v + 1}, recount {v}\n"
    check(r.stdout == want, r.stdout)


def test_change_agent_count():
    d = fresh(W, "count_agent")
    s = Store(d)
    counts = s.all(s.counts)
    key = sorted(k for k in counts if k[0] == 4)[3]  # some AGENT counter
    with s.env.begin(write=True, db=s.counts) as t:
        v = struct.unpack(">q", t.get(key))[0]
        t.put(key, struct.pack(">q", v - 2))
    s.close()
    prog = ["bhxh_tn", "bhyt_hgd"][key[1]]
    dist = key[2] << 8 | key[3]
    agent = key[4:].decode()
    r = verify("--data", d, check_rc=1)
    want = (f"FAIL count kind=agent program={prog} district={dist} dim={agent}: "
            f"stored {v - 2}, recount {v}\n")
    check(r.stdout == want, r.stdout)


COMMUNES_672 = ["Xã Tà Nung", "Phường 2", "Phường 1"]  # codes by byte order: P1 1, P2 2, Xã 3


def commune_campaign():
    """The Lâm Đồng campaign with Đà Lạt (672) listing three communes."""
    d = W.sub("communes-campaign")
    if not os.path.isdir(d):
        src = os.path.join(os.environ["CT_SOURCE_DIR"], "examples", "lamdong-2023")
        os.makedirs(d)
        shutil.copy(os.path.join(src, "staff.csv"), d)
        with open(os.path.join(src, "campaign.ini"), encoding="utf-8") as f:
            ini = f.read()
        lines = "".join(f"commune = {c}\n" for c in COMMUNES_672)
        ini = ini.replace("name = Thành phố Đà Lạt\n", "name = Thành phố Đà Lạt\n" + lines, 1)
        with open(os.path.join(d, "campaign.ini"), "w", encoding="utf-8") as f:
            f.write(ini)
    return os.path.join(d, "campaign.ini")


def test_commune_counts():
    """COMMUNE counters (kind 9) of a store whose campaign lists communes: equal
    to the Python recount from the spec, verified, and a tampered one found."""
    import oracle
    ini = commune_campaign()
    d = W.sub("communes")
    r = run([MKSTORE, d, str(N), "11", "500", ini])
    s = Store(d)
    counts = s.all(s.counts)
    raws = [event_of_raw(v) for _, v in sorted(s.all(s.log).items())]
    s.close()
    stored = {k: struct.unpack(">q", v)[0] for k, v in counts.items()}
    recs = oracle.read_records(d)
    check([r[3] for r in recs] == raws, "records")
    want = oracle.recount([(q, rms, raw) for q, rms, _, raw in recs],
                          communes={672: COMMUNES_672}, version=oracle.store_tally_version(d))
    check(not oracle.diff_counts(stored, want), f"store vs spec: {oracle.diff_counts(stored, want)}")
    kind9 = sorted(k for k in stored if k[0] == 9)
    check({k[4:] for k in kind9} == {b"\x00\x01", b"\x00\x02", b"\x00\x03"}, kind9)
    check(all(k[2:4] == b"\x02\xa0" for k in kind9), "COMMUNE counters outside 672")
    for p in (0, 1):
        net = stored.get(bytes([1, p, 2, 0xA0]), 0)
        per = sum(v for k, v in stored.items() if k[0] == 9 and k[1] == p)
        check(0 < per < net, f"program {p}: communes {per} net {net}")
    r = verify("--data", d, "--campaign", ini, check_rc=0)
    check(r.stdout.startswith("OK seq="), r.stdout)
    # the built-in campaign (no lists) recounts no COMMUNE counter: divergence
    r = audit("verify", "--data", d, check_rc=1)
    check("FAIL count kind=commune" in r.stdout, r.stdout)
    # a tampered COMMUNE counter
    key = kind9[1]
    s = Store(d)
    with s.env.begin(write=True, db=s.counts) as t:
        v = struct.unpack(">q", t.get(key))[0]
        t.put(key, struct.pack(">q", v + 3))
    s.close()
    prog = ["bhxh_tn", "bhyt_hgd"][key[1]]
    code = struct.unpack(">H", key[4:6])[0]
    r = verify("--data", d, "--campaign", ini, check_rc=1)
    want = (f"FAIL count kind=commune program={prog} district=672 dim={code}: "
            f"stored {v + 3}, recount {v}\n")
    check(r.stdout == want, r.stdout)


def test_tally_version_rebuild():
    """A store whose counters predate tally version 3 (meta tally_version 2,
    then absent = 1) with records: the aggregator refuses it, naming the
    recount; export + rebuild give a store it accepts, stamped 3."""
    ini = commune_campaign()
    d = W.sub("tally-v1")
    run([MKSTORE, d, "400", "13", "100", ini])
    s = Store(d)
    meta = s.env.open_db(b"meta", create=False)
    with s.env.begin(write=True, db=meta) as t:
        check(t.get(b"tally_version") == b"\x00\x00\x00\x03", "fresh store stamped 3")
        t.put(b"tally_version", b"\x00\x00\x00\x02")
    s.close()
    agg = [os.path.join(BIN, "chitieu-aggregator"), "--campaign", ini, "--insecure", "--ingest",
           "ipc://" + W.sub("tv-i"), "--feed", "ipc://" + W.sub("tv-f"), "--snapshot",
           "ipc://" + W.sub("tv-s"), "--stats-interval", "0"]
    r = run(agg + ["--data", d], check=False, timeout=30)
    check(r.returncode == 1 and "err=bad_version" in r.stderr and
          "chitieu-audit export" in r.stderr and "chitieu-audit rebuild" in r.stderr and
          "tally version 2" in r.stderr, r.stderr)
    s = Store(d)
    with s.env.begin(write=True, db=s.env.open_db(b"meta", create=False)) as t:
        check(t.get(b"tally_version") == b"\x00\x00\x00\x02", "refused store left at 2")
        t.delete(b"tally_version")
    s.close()
    r = run(agg + ["--data", d], check=False, timeout=30)
    check(r.returncode == 1 and "err=bad_version" in r.stderr and
          "chitieu-audit rebuild" in r.stderr and "tally version 1" in r.stderr, r.stderr)
    f = export(d, "ctlog", W.sub("tally-v1.ctlog"), "--campaign", ini)
    nd = W.sub("tally-v2")
    audit("rebuild", "--input", f, "--data", nd, "--campaign", ini, check_rc=0)
    verify("--data", nd, "--campaign", ini, check_rc=0)
    s = Store(nd)
    with s.env.begin(db=s.env.open_db(b"meta", create=False)) as t:
        check(t.get(b"tally_version") == b"\x00\x00\x00\x03", "rebuilt store stamped 3")
    check(any(k[0] == 9 for k in s.all(s.counts)), "rebuilt store has COMMUNE counters")
    check(any(k[0] == 16 for k in s.all(s.counts)), "rebuilt store has LATE_HIST counters")
    s.close()


def event_of_raw(rec):
    return msgpack.unpackb(rec, raw=True)[3]


def test_delete_ids_entry():
    d = fresh(W, "ids")
    s = Store(d)
    k = 321
    ev = event_of(s.get(k))
    with s.env.begin(write=True, db=s.ids) as t:
        check(t.delete(ev["id"]), "ids delete")
    s.close()
    r = verify("--data", d, check_rc=1)
    check(r.stdout == f"FAIL seq {k}: event id {ev['id'].hex()} is missing from the ids index\n",
          r.stdout)


def test_ids_tamper():
    d = fresh(W, "ids2")
    s = Store(d)
    ev100, ev200 = event_of(s.get(100)), event_of(s.get(200))
    with s.env.begin(write=True, db=s.ids) as t:  # two entries swapped
        a, b = t.get(ev100["id"]), t.get(ev200["id"])
        t.put(ev100["id"], b)
        t.put(ev200["id"], a)
    s.close()
    r = verify("--data", d, check_rc=1)
    check(r.stdout == f"FAIL seq 200: the ids index maps event id {ev100['id'].hex()} to it, "
          "but the record holds another event (id or content hash differs)\n", r.stdout)
    d = fresh(W, "ids3")
    s = Store(d)
    ev = event_of(s.get(42))
    with s.env.begin(write=True, db=s.ids) as t:  # content hash altered
        v = bytearray(t.get(ev["id"]))
        v[-1] ^= 1
        t.put(ev["id"], bytes(v))
    s.close()
    r = verify("--data", d, check_rc=1)
    check(r.stdout.startswith(f"FAIL seq 42: the ids index maps event id {ev['id'].hex()} "),
          r.stdout)
    d = fresh(W, "ids4")
    s = Store(d)
    fake = b"\xff" * 16
    with s.env.begin(write=True, db=s.ids) as t:  # an entry pointing past the log
        t.put(fake, struct.pack(">Q", N + 5) + b"\0" * 16)
    s.close()
    r = verify("--data", d, check_rc=1)
    check(r.stdout == f"FAIL ids: event id {fake.hex()} maps to seq {N + 5}, outside the log "
          f"(1..{N})\n", r.stdout)
    r = verify("--data", d, "--no-ids", check_rc=0)


def export(store, fmt, out, *extra):
    audit("export", "--data", store, "--format", fmt, "--output", out, *extra, check_rc=0)
    return out


def test_export_verify_rebuild():
    src = W.sub("pristine")
    f = export(src, "ctlog", W.sub("all.ctlog"))
    r = verify("--file", f, check_rc=0)
    check(r.stdout == f"OK seq={N} head={HEAD}\n", r.stdout)
    nd = W.sub("rebuilt")
    r = audit("rebuild", "--input", f, "--data", nd, check_rc=0)
    check(r.stdout.startswith(f"OK seq={N} head={HEAD} counters="), r.stdout)
    r = verify("--data", nd, check_rc=0)
    check(r.stdout == f"OK seq={N} head={HEAD}\n", r.stdout)
    # byte-identical log and counts; same ids
    a, b = Store(src), Store(nd)
    try:
        check(a.all(a.log) == b.all(b.log), "log differs after rebuild")
        check(a.all(a.counts) == b.all(b.counts), "counts differ after rebuild")
        check(a.all(a.ids) == b.all(b.ids), "ids differ after rebuild")
    finally:
        a.close()
        b.close()
    # the same figures, byte for byte
    r1 = audit("replay", "--data", src, "--seq", str(N), "--now", NOW, "--format", "json",
               check_rc=0)
    r2 = audit("replay", "--data", nd, "--seq", str(N), "--now", NOW, "--format", "json",
               check_rc=0)
    r3 = audit("replay", "--file", f, "--seq", str(N), "--now", NOW, "--format", "json",
               check_rc=0)
    check(r1.stdout == r2.stdout == r3.stdout and len(r1.stdout) > 100, "replays differ")
    # rebuild refuses a directory that already holds a store
    r = audit("rebuild", "--input", f, "--data", nd, check_rc=1)
    check("already holds a store" in r.stderr, r.stderr)


def test_ctlog_file_tamper():
    f = W.sub("all.ctlog")
    if not os.path.exists(f):
        export(W.sub("pristine"), "ctlog", f)
    data = open(f, "rb").read()
    s = Store(W.sub("pristine"))
    rec100 = s.get(100)
    rec101 = s.get(101)
    s.close()
    i = data.index(rec100)
    # flipped byte inside record 100's event
    bad = bytearray(data)
    j = i + rec100.index(b"\xa1h\xc4\x20") + 9
    bad[j] ^= 0x80
    open(W.sub("flip.ctlog"), "wb").write(bad)
    r = verify("--file", W.sub("flip.ctlog"), check_rc=1)
    check(r.stdout == "FAIL seq 100: hash mismatch (record altered or reordered)\n", r.stdout)
    r = audit("rebuild", "--input", W.sub("flip.ctlog"), "--data", W.sub("rb-flip"), check_rc=1)
    check(r.stdout.startswith("FAIL seq 100: hash mismatch"), r.stdout)
    check(not os.path.exists(W.sub("rb-flip", "data.mdb")), "rebuild wrote a store")
    # record 100 removed
    open(W.sub("del.ctlog"), "wb").write(data[:i] + data[i + len(rec100):])
    r = verify("--file", W.sub("del.ctlog"), check_rc=1)
    check(r.stdout == "FAIL seq 100 missing (log jumps from 99 to 101)\n", r.stdout)
    # records 100 and 101 swapped
    sw = data[:i] + rec101 + rec100 + data[i + len(rec100) + len(rec101):]
    open(W.sub("swap.ctlog"), "wb").write(sw)
    r = verify("--file", W.sub("swap.ctlog"), check_rc=1)
    check(r.stdout.startswith("FAIL seq 100: hash mismatch (record altered or reordered)"),
          r.stdout)
    # truncated in the middle of a record
    open(W.sub("trunc.ctlog"), "wb").write(data[:i + 20])
    r = verify("--file", W.sub("trunc.ctlog"), check_rc=1)
    check(r.stdout.startswith("FAIL seq 100: ") and "truncated" in r.stdout, r.stdout)
    # trailer removed: still verifies (trailer optional), says so
    tl = data.rindex(b"\x84\xa1k\xa3end")
    open(W.sub("notrailer.ctlog"), "wb").write(data[:tl])
    r = verify("--file", W.sub("notrailer.ctlog"), check_rc=0)
    check(r.stdout == f"OK seq={N} head={HEAD}\n" and "no trailer" in r.stderr, r.stderr)
    # last record dropped but trailer kept: the trailer catches it
    s = Store(W.sub("pristine"))
    last = s.get(N)
    s.close()
    li = data.index(last)
    open(W.sub("droplast.ctlog"), "wb").write(data[:li] + data[li + len(last):])
    r = verify("--file", W.sub("droplast.ctlog"), check_rc=1)
    check(r.stdout.startswith("FAIL trailer: says 3000 records ending at seq 3000"), r.stdout)
    # not a ctlog at all
    open(W.sub("junk.ctlog"), "wb").write(b"\xdd\x00\xff\xff\xff")
    r = verify("--file", W.sub("junk.ctlog"), check_rc=1)
    check("not a ctlog file" in r.stderr, r.stderr)


def test_partial_export():
    src = W.sub("pristine")
    f = export(src, "ctlog", W.sub("part.ctlog"), "--from-seq", "1001", "--to-seq", "2000")
    rows = [json.loads(x) for x in open(export(src, "jsonl", W.sub("part.jsonl"),
                                                "--from-seq", "1001", "--to-seq", "2000"))]
    check([x["seq"] for x in rows] == list(range(1001, 2001)), "jsonl seqs")
    r = verify("--file", f, check_rc=0)
    check(r.stdout == f"OK seq=2000 head={rows[-1]['hash']}\n", r.stdout)
    r = audit("rebuild", "--input", f, "--data", W.sub("rb-part"), check_rc=1)
    check("needs the log from seq 1" in r.stderr, r.stderr)


def test_jsonl_csv_export():
    src = W.sub("pristine")
    rows = [json.loads(x) for x in open(export(src, "jsonl", W.sub("all.jsonl")))]
    check(len(rows) == N and [x["seq"] for x in rows] == list(range(1, N + 1)), "jsonl rows")
    s = Store(src)
    for x in (rows[0], rows[1233], rows[-1]):
        ev = event_of(s.get(x["seq"]))
        check(x["person"] == ev["h"].hex() and len(x["person"]) == 64, "person hash")
        check(x["event_id"] == ev["id"].hex() and x["agent"] == ev["a"], "event fields")
        check(x["district"] == ev["d"] and x["occurred_ms"] == ev["t"], "event fields")
        check(x["collector"] == "insecure", x["collector"])
    s.close()
    check(all(set(x) >= {"seq", "received", "collector", "hash", "person", "program", "action"}
              for x in rows), "columns")
    check(not any("national" in k for x in rows for k in x), "national id column")
    with_commune = [x for x in rows if x["commune"]]
    check(with_commune and with_commune[0]["commune"] == 'Phường 1, "Đà Lạt"', "commune")
    text = open(export(src, "csv", W.sub("all.csv")), encoding="utf-8", newline="").read()
    crows = list(csv.DictReader(io.StringIO(text, newline="")))
    check(len(crows) == N, f"csv rows {len(crows)}")
    for x, c in zip(rows, crows):
        check(str(x["seq"]) == c["seq"] and x["hash"] == c["hash"] and
              (x["commune"] or "") == c["commune"] and x["received"] == c["received"],
              f"csv row {c['seq']}")
    # time range: received within [from, to], contiguous seqs
    t0, t1 = rows[999]["received"], rows[1499]["received"]
    part = [json.loads(x) for x in open(export(src, "jsonl", W.sub("time.jsonl"),
                                                "--from-time", t0, "--to-time", t1))]
    check([x["seq"] for x in part] == list(range(1000, 1501)), "time range")


def test_replay_time_equals_seq():
    src = W.sub("pristine")
    rows = [json.loads(x) for x in open(W.sub("all.jsonl"))] if os.path.exists(
        W.sub("all.jsonl")) else [json.loads(x) for x in open(export(src, "jsonl",
                                                                      W.sub("all.jsonl")))]
    k = 1777
    t = rows[k - 1]["received"]
    for fmt in ("table", "json", "csv"):
        a = audit("replay", "--data", src, "--time", t, "--format", fmt, "--staff", check_rc=0)
        b = audit("replay", "--data", src, "--seq", str(k), "--now", t, "--format", fmt,
                  "--staff", check_rc=0)
        check(a.stdout == b.stdout and a.stdout, f"replay --time vs --seq ({fmt})")
    js = json.loads(audit("replay", "--data", src, "--seq", str(k), "--now", NOW,
                          "--format", "json", check_rc=0).stdout.splitlines()[0])
    flat = json.dumps(js)
    check(str(k) in flat and rows[k - 1]["hash"] in flat, "position in the report")
    # --output writes the same bytes atomically
    audit("replay", "--data", src, "--seq", str(k), "--now", NOW, "--format", "json",
          "--output", W.sub("r.json"), check_rc=0)
    c = audit("replay", "--data", src, "--seq", str(k), "--now", NOW, "--format", "json",
              check_rc=0)
    check(open(W.sub("r.json")).read() == c.stdout, "--output")
    r = audit("replay", "--data", src, "--seq", str(N + 1), check_rc=1)
    check("beyond the log's head" in r.stderr, r.stderr)


def test_trace():
    src = W.sub("pristine")
    rows = [json.loads(x) for x in open(W.sub("all.jsonl"))]
    agent = rows[10]["agent"]
    out = audit("trace", "--data", src, "--agent", agent, "--format", "jsonl", check_rc=0)
    tr = [json.loads(x) for x in out.stdout.splitlines()]
    want = [x["seq"] for x in rows if x["agent"] == agent]
    check([x["seq"] for x in tr] == want and want, "trace --agent")
    check(set(x["outcome"] for x in tr) <= {"COUNTED", "REPEAT", "CANCELLED", "CANCEL_NOOP",
                                            "CANCEL_FOREIGN"}, "outcomes")
    person = rows[20]["person"]
    tr = [json.loads(x) for x in audit("trace", "--data", src, "--person", person[:12],
                                       "--format", "jsonl", check_rc=0).stdout.splitlines()]
    check([x["seq"] for x in tr] == [x["seq"] for x in rows if x["person"].startswith(
        person[:12])], "trace --person")
    check(tr[0]["outcome"] == "COUNTED" or tr[0]["action"] == "cancel", "first outcome")
    tr = [json.loads(x) for x in audit("trace", "--data", src, "--day", "2023-07-25",
                                       "--district", "672", "--format", "jsonl",
                                       check_rc=0).stdout.splitlines()]
    want = [x["seq"] for x in rows if x["occurred"].startswith("2023-07-25") and
            x["district"] == 672]
    check([x["seq"] for x in tr] == want and want, "trace --day --district")
    # every COUNTED in the whole log minus CANCELLED == NET (the tally at replay)
    allt = [json.loads(x) for x in audit("trace", "--data", src, "--day", "2023-07-25",
                                         "--format", "jsonl", check_rc=0).stdout.splitlines()]
    check(len(allt) > 0, "day rows")
    t = audit("trace", "--data", src, "--agent", agent, check_rc=0)
    lines = t.stdout.splitlines()
    check(lines[0].split()[:3] == ["seq", "occurred", "received"] and len(lines) == len(want) + 0
          or len(lines) > 1, "table")


def test_usage():
    check(run([AUDIT], check=False).returncode == 2, "no command")
    check(run([AUDIT, "--help"]).returncode == 0, "--help")
    check(run([AUDIT, "--version"]).stdout.startswith("chitieu-audit "), "--version")
    for cmd in ("verify", "replay", "export", "rebuild", "trace"):
        r = run([AUDIT, cmd, "--help"])
        check(r.stdout.startswith("usage: chitieu-audit " + cmd), cmd)
    src = W.sub("pristine")
    for args in (["verify"], ["verify", "--data", src, "--file", "x"], ["bogus"],
                 ["verify", "--data", src, "--frob"], ["replay", "--data", src],
                 ["replay", "--data", src, "--seq", "x1"], ["export", "--data", src],
                 ["export", "--data", src, "--format", "xml", "--output", "-"],
                 ["trace", "--data", src], ["trace", "--data", src, "--person", "zz"],
                 ["verify", "--data", W.sub("nope")], ["verify", "--data", src, "--threads", "0"],
                 ["verify", "--data", src, "--campaign", W.sub("nope.ini")]):
        r = run([AUDIT] + args, check=False)
        check(r.returncode == 2, f"{args} -> {r.returncode}: {r.stderr}")


def test_export_write_error():
    """A write error during export names its cause (strerror) and exits 1: the
    output file over RLIMIT_FSIZE (SIGXFSZ ignored, so write() fails with
    EFBIG), and stdout on /dev/full (ENOSPC). No partial file is left."""
    import resource
    import signal
    import subprocess
    src = W.sub("big")
    mkstore(src, n=20000, seed=9)

    def limit_fsize():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    for fmt in ("ctlog", "jsonl", "csv"):
        out = W.sub(f"big.{fmt}")
        r = subprocess.run([AUDIT, "export", "--data", src, "--format", fmt, "--output", out,
                            "--quiet"], capture_output=True, text=True, preexec_fn=limit_fsize)
        check(r.returncode == 1, f"{fmt}: rc {r.returncode}: {r.stderr}")
        check("File too large" in r.stderr and "out of memory" not in r.stderr,
              f"{fmt}: {r.stderr!r}")
        check(not os.path.exists(out) and
              not [x for x in os.listdir(W.path) if x.startswith(f"big.{fmt}.tmp")],
              f"{fmt}: output or temporary file left behind")
    with open("/dev/full", "w") as full:
        r = subprocess.run([AUDIT, "export", "--data", src, "--format", "ctlog", "--output", "-"],
                           stdout=full, stderr=subprocess.PIPE, text=True)
    check(r.returncode == 1, f"/dev/full: rc {r.returncode}: {r.stderr}")
    check("No space left on device" in r.stderr and "out of memory" not in r.stderr,
          f"/dev/full: {r.stderr!r}")


if __name__ == "__main__":
    with W:
        main([test_untouched_verifies, test_flip_event_byte, test_flip_collector_and_time,
              test_delete_record, test_delete_last_record, test_record_beyond_head,
              test_swap_records,
              test_swap_records_with_rewritten_seq, test_undecodable_record, test_change_count, test_change_agent_count,
              test_commune_counts, test_tally_version_rebuild,
              test_delete_ids_entry, test_ids_tamper, test_export_verify_rebuild, test_ctlog_file_tamper,
              test_partial_export, test_jsonl_csv_export, test_replay_time_equals_seq,
              test_trace, test_usage, test_export_write_error])
