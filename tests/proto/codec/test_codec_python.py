"""test_codec_python — interoperability: an independent encoder (python3-msgpack
+ hashlib.blake2b, as a third-party collector would use them, following
docs/PROTOCOL.md) must produce byte for byte the frames that the C
codec prints (tests/codec_examples), and the same log-record hash.
"""
import os
import re
import subprocess
import sys

try:
    import msgpack
except ImportError:  # a non-Debian python3 first on PATH: use the system one
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise
import hashlib

bin_dir = os.environ.get("CT_BIN") or os.path.join(os.path.dirname(__file__), "../../../build/bin")
exe = os.path.join(bin_dir, "..", "tests", "codec_examples")
out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout

dumps = {}
for block in out.split("\n\n"):
    m = re.match(r"(.*?) \((\d+) bytes\):\n(.*)", block.strip(), re.S)
    if not m:
        continue
    data = bytes.fromhex("".join(l.split(":", 1)[1] for l in m.group(3).splitlines()))
    assert len(data) == int(m.group(2)), m.group(1)
    dumps[m.group(1)] = data
head = re.search(r"hash of that record .*: ([0-9a-f]{64})", out).group(1)

origin = bytes([0x4C, 0x44, 0x36, 0x37, 0x32, 0x00, 0x01, 0x02])
person = bytes(range(0xA0, 0xC0))
full = {"v": 1, "id": origin + (42).to_bytes(8, "big"), "t": 1690000000123,
        "c": "lamdong-2023", "d": 672, "w": "Phường 1", "a": "LD672-007", "p": "bhxh_tn",
        "x": "enroll", "h": person, "m": 12, "amt": 1980000, "g": "nq143"}
minimal = {"v": 1, "id": origin + (43).to_bytes(8, "big"), "t": 1690000000123,
           "c": "lamdong-2023", "d": 672, "a": "LD672-007", "p": "bhyt_hgd", "x": "cancel",
           "h": person}
pack = lambda o: msgpack.packb(o, use_bin_type=True)
ev1, ev2 = pack(full), pack(minimal)
sub = pack({"v": 1, "k": "sub", "n": 7, "e": [ev1, ev2]})
ack = pack({"v": 1, "k": "ack", "n": 7, "s": 1001,
            "r": [[full["id"], 1, 0, 998], [minimal["id"], 0, 0, 1001]]})
collector = "rq>{0h/9lYBfl7^vh:<[n8=wJ#dFJ9zDkYqTHr+e"
body = pack([1, 1690000000500, collector, ev1])
h = hashlib.blake2b(bytes(32) + body, digest_size=32).digest()
rec = pack([1, 1690000000500, collector, ev1, h])

# feed update: "ph" (head before the batch) right after "p", counters as [key bin, int]
net_key = bytes([1, 0]) + (672).to_bytes(2, "big")
agent_key = bytes([4, 0]) + (672).to_bytes(2, "big") + b"LD672-007"
upd = pack({"v": 1, "k": "upd", "s": 1, "p": 0, "ph": bytes(32), "h": h, "t": 1690000000600,
            "c": [[net_key, 1], [agent_key, 1]]})

tel = msgpack.packb({"v": 1, "k": "tel", "n": 9, "d": 672, "o": origin, "t": 1690000000000,
                     "q": 12, "u": 2, "rj": 1, "sv": "0.9.0", "ot": 1689990000000},
                    use_bin_type=True)
import ctproto as P  # noqa: E402

# life entries (§2.2), written with ctproto's encoders: a void of ev1 (seq 1), a close
void = P.life_void(origin + (44).to_bytes(8, "big"), 1690003600000, "LD672-001", "nhập trùng",
                   672, "bhxh_tn", person, full["id"], 1)
close = P.life_close(bytes.fromhex("4851363800000001") + (1).to_bytes(8, "big"), 1690045200000,
                     "admin", "đã báo cáo", 0, 20230722)
checks = [("event", ev1), ("event", ev2), ("sub", sub), ("ack", ack), ("log record", rec),
          ("upd", upd), ("tel", tel), ("life void", void), ("life close", close)]
fails = 0
for key, mine in checks:
    theirs = [v for k, v in dumps.items() if k.startswith(key)]
    ok = mine in theirs
    print(f"{key:12s} {len(mine):4d} bytes  {'identical' if ok else 'DIFFERENT'}")
    fails += not ok
ok = h.hex() == head
print(f"chain hash   {'identical' if ok else 'DIFFERENT'} {h.hex()}")
fails += not ok
assert len(dumps) == 9, dumps.keys()
ok = P.is_life(void) and P.is_life(close) and not P.is_life(ev1) and not P.is_life(sub)
print(f"dispatch     {'identical' if ok else 'DIFFERENT'}")
fails += not ok

# the person state (§7), versions 1 and 2, against the bytes test_tally.c asserts
ps_v1 = bytes.fromhex("01010000 02a00134 b2420102 03040506 0708") + b"\x09LD672-007\x05nq143"
ps_v2 = bytes.fromhex("02010000 02a00134 b2420102 03040506 07080102") + b"\x09LD672-007\x05nq143"
for want, code in ((ps_v1, 0), (ps_v2, 0x0102)):
    mine = P.person_state_encode(True, 672, 20230722, 0x0102030405060708, "LD672-007", "nq143",
                                 commune=code)
    st = P.person_state_decode(want)
    ok = mine == want and st["commune"] == code and st["agent"] == "LD672-007"
    bad = 0
    for i in range(len(want)):  # every truncation
        try:
            P.person_state_decode(want[:i])
        except ValueError:
            bad += 1
    for v in (0, 3, 255):  # other versions
        try:
            P.person_state_decode(bytes([v]) + want[1:])
        except ValueError:
            bad += 1
    ok = ok and bad == len(want) + 3
    print(f"person v{want[0]}  {len(want):4d} bytes  {'identical' if ok else 'DIFFERENT'}")
    fails += not ok
# the flags voided (bit 1) and moved (bit 2), against the bytes test_tally_life.c asserts
ps_voided = bytes.fromhex("01020000 02a00134 b2420102 03040506 0708") + b"\x09LD672-007\x05nq143"
mine = P.person_state_encode(False, 672, 20230722, 0x0102030405060708, "LD672-007", "nq143",
                             voided=True)
st = P.person_state_decode(ps_voided)
ok = mine == ps_voided and st["voided"] and not st["enrolled"] and not st["moved"]
moved = P.person_state_decode(bytes([1, 4]) + ps_voided[2:])
ok = ok and moved["moved"] and not moved["voided"]
for f in (3, 5, 6, 7, 8, 0x80):
    try:
        P.person_state_decode(bytes([1, f]) + ps_voided[2:])
        ok = False
    except ValueError:
        pass
print(f"person flags {len(ps_voided):4d} bytes  {'identical' if ok else 'DIFFERENT'}")
fails += not ok
# counter keys of kinds 10..21 (§5.1): the cases test_tally_life.c asserts of ct_count_key_parse
key_cases = [(10, 0, 672, 1, True), (10, 1, 672, 32, True), (10, 0, 672, 0, False),
             (10, 0, 672, 33, False), (10, 0, 0, 2, False), (10, 2, 672, 2, False),
             (11, 1, 672, 0, True), (11, 1, 672, 1, False), (11, 1, 0, 0, False),
             (12, 1, 672, 16, True), (12, 1, 0, 16, True), (12, 1, 672, 15, False),
             (13, 0, 0, 4, True), (13, 0, 672, 4, True), (13, 1, 672, 4, False),
             (14, 1, 672, 12, True), (14, 1, 0, 12, False), (15, 1, 672, 4, True),
             (15, 1, 0, 4, False), (16, 1, 672, 1, True), (16, 1, 672, 2, False),
             (17, 0, 672, 0, True), (17, 0, 0, 0, False), (18, 0, 672, 4, True),
             (19, 1, 672, 4, True), (19, 1, 672, 3, False), (20, 0, 0, 1, True),
             (20, 0, 0, 32, True), (20, 0, 0, 0, False), (20, 0, 1, 5, False),
             (20, 1, 0, 5, False), (21, 0, 0, 8, True), (21, 0, 672, 8, True),
             (21, 1, 672, 8, False), (21, 0, 672, 7, False), (22, 0, 672, 0, False)]
ok = all(P.key_check(bytes([k, p]) + u.to_bytes(2, "big") + bytes(n)) == want
         for k, p, u, n, want in key_cases)
ok = ok and [P.key_check(P.key_late_hist(0, 672, b)) for b in range(9)] == [True] * 8 + [False]
ok = ok and P.key_str(P.key_target("bhyt_hgd", 0, 1689958800000, 7)) == \
    "kind=target program=bhyt_hgd district=0 dim=1689958800000,seq=7"
ok = ok and P.key_str(P.key_life(0, 9)) == "kind=life program=- district=0 dim=9"
ok = ok and P.key_str(P.key_reorg("merge-2023")) == "kind=reorg program=- district=0 dim=merge-2023"
bounds = [(-1, 0), (0, 0), (899999, 0), (900000, 1), (3599999, 1), (3600000, 2),
          (21600000, 3), (86400000, 4), (172800000, 5), (259200000, 6), (604799999, 6),
          (604800000, 7)]
ok = ok and all(P.late_bucket(ms) == b for ms, b in bounds)
print(f"keys 10..21  {len(key_cases):4d} cases  {'identical' if ok else 'DIFFERENT'}")
fails += not ok
sys.exit(1 if fails else 0)
