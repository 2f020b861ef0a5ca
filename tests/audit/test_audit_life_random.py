"""test_audit_life_random — the randomized invariant run extended with the
campaign's life: 200,000 log entries (CT_LIFE_RANDOM_N) of enrolls, repeats,
cancels (own unit, foreign, of nobody), late events (up to 9 days), voids
(of counted and of cancelled sign-ups), corrections (staff, group, program
moves), target revisions (per unit and per-staff quota, effective in the past
or the future), closes and reopens of days (unit and province) — every entry
judged first by the oracle (tests/integration/oracle.py, the rule written
again from docs/PROTOCOL.md §5.3): what it refuses is not logged, as the
aggregator does, and the refusals are counted to show each path ran.

The log is a real .ctlog; at ten positions and at the end:
  replay (the audit engine, ct_audit_counts, 3 checking threads) = oracle,
  every counter key by key; and on the engine's counters, for every unit and
  program: NET = GROSS - CANCELLED - ΣVOIDED, NET = ΣAGENT = ΣDAY, no
  negative NET/AGENT/DAY/GROUP/GROSS/CANCELLED/VOIDED, and for every close
  in force at seq s: DAY - AFTER_CLOSE(s) = DAY at seq s - 1.
`chitieu-audit verify --file` prints OK at the log's head; the store rebuilt
from it (`chitieu-audit rebuild`: import through the store's write path)
holds exactly the oracle's counters (counts = replay = oracle).
"""
import os
import struct
import time
from collections import Counter, defaultdict

import lmdb

from ctharness import BIN, Workdir, binary, check, main, run

import lifegen as G
import oracle as O

AUDIT = binary("chitieu-audit")
COUNTS = os.path.join(os.path.dirname(BIN.rstrip("/")), "tests", "ct_audit_counts")
N = O.env_int("CT_LIFE_RANDOM_N", 200000)
W = Workdir("ct-audit-life-random")
STATE = {}


def nonzero(c):
    return {k: v for k, v in c.items() if v}


def engine_counts(path, seqs, threads=3):
    r = run([COUNTS, path, str(threads)] + [str(s) for s in sorted(set(seqs))], check=False,
            timeout=600)
    check(r.returncode == 0, f"ct_audit_counts: rc {r.returncode}\n{r.stdout[-2000:]}{r.stderr}")
    out, cur = {}, None
    for ln in r.stdout.splitlines():
        if ln.startswith("at "):
            cur = out.setdefault(int(ln[3:]), {})
        elif ln.startswith("end "):
            out["end_line"] = ln
        else:
            k, v = ln.split()
            cur[bytes.fromhex(k)] = int(v)
    return out


def differ(what, d, a, b):
    """Fails naming the first of the differing keys d (a and b: the two tables)."""
    if d:
        raise AssertionError(f"{what}: {len(d)} counters differ, e.g. {d[0].hex()}: "
                             f"{a.get(d[0], 0)} vs {b.get(d[0], 0)}")


def invariants(c, where):
    """The identities of PROTOCOL §5.3 on one counter table."""
    per = defaultdict(Counter)  # (prog, unit) -> kind -> sum
    for k, v in c.items():
        kind = k[0]
        if kind in (O.K_NET, O.K_GROSS, O.K_CANCELLED, O.K_AGENT, O.K_DAY, O.K_GROUP,
                    O.K_VOIDED, O.K_COMMUNE):
            check(v >= 0, f"{where}: negative counter {k.hex()} = {v}")
        per[(k[1], k[2:4])][kind] += v
    n = 0
    for pu, s in per.items():
        if not any(s[x] for x in (O.K_GROSS, O.K_NET, O.K_CANCELLED, O.K_VOIDED)):
            continue
        n += 1
        check(s[O.K_NET] == s[O.K_GROSS] - s[O.K_CANCELLED] - s[O.K_VOIDED],
              f"{where} {pu}: NET {s[O.K_NET]} != GROSS {s[O.K_GROSS]} - CANCELLED "
              f"{s[O.K_CANCELLED]} - VOIDED {s[O.K_VOIDED]}")
        check(s[O.K_NET] == s[O.K_AGENT] == s[O.K_DAY],
              f"{where} {pu}: NET {s[O.K_NET]} AGENT {s[O.K_AGENT]} DAY {s[O.K_DAY]}")
        check(s[O.K_GROUP] <= s[O.K_NET], f"{where} {pu}: GROUP over NET")
    return n


def test_generate():
    t0 = time.time()
    cps = [N * i // 10 for i in range(1, 10)]
    b, snaps = G.random_log(N, seed=19, checkpoints=cps)
    STATE.update(b=b, snaps=snaps, cps=cps)
    STATE["path"] = b.log.write(W.sub("random.ctlog"))
    out = dict(b.outcomes)
    print(f"  {N} entries in {time.time() - t0:.1f} s; outcomes {out}; refused (not logged) "
          f"{dict(b.refused)}", flush=True)
    for o, least in (("counted", N // 4), ("repeat", N // 10), ("cancelled", N // 40),
                     ("cancel_noop", N // 100), ("cancel_foreign", N // 200),
                     ("voided", N // 50), ("corrected", N // 50), ("target_set", N // 100),
                     ("closed", N // 100), ("reopened", N // 100)):
        check(out.get(o, 0) >= least, f"outcome {o}: {out.get(o, 0)} < {least}")
    for code in ("not_current", "already_voided", "already_closed", "not_closed"):
        check(b.refused[code] > N // 1000, f"refusal {code} exercised {b.refused[code]} times")
    c = b.tally.c
    check(sum(1 for k in c if k[0] == O.K_LATE_HIST) >= 8, "lateness buckets")
    moved = sum(1 for s in b.tally.state.values() if s["moved"])
    check(moved > N // 1000, f"{moved} sign-ups moved to the other program")
    check(sum(1 for k, v in c.items() if k[0] == O.K_AFTER_CLOSE and v) > 20, "after-close")
    check(sum(1 for k, v in c.items() if k[0] == O.K_LATE_CLOSED and v) > 20, "late-closed")


def test_replay_equals_oracle():
    b, snaps, cps = STATE["b"], STATE["snaps"], STATE["cps"]
    c = b.tally.c
    # closes in force at the end: their seq - 1 are positions to compare too
    in_force = sorted({v for k, v in c.items() if k[0] == O.K_CLOSE and v})
    t0 = time.time()
    got = engine_counts(STATE["path"], cps + [s - 1 for s in in_force] + [N])
    print(f"  engine: {len(got) - 1} positions in {time.time() - t0:.1f} s; {len(in_force)} "
          f"closes in force; {got['end_line']}", flush=True)
    for cp in cps:
        differ(f"seq {cp}: replay vs oracle",
               O.diff_counts(nonzero(got[cp]), nonzero(snaps[cp])), got[cp], snaps[cp])
        invariants(got[cp], f"seq {cp}")
    end = got[N]
    differ("end: replay vs oracle", O.diff_counts(end, nonzero(c)), end, c)
    units = invariants(end, "end")
    check(units >= 10, f"{units} (program, unit) pairs")
    # closed figures: for every close in force at seq s, DAY - AFTER_CLOSE(s) = DAY at s - 1
    n = 0
    for k, s in c.items():
        if k[0] != O.K_CLOSE or not s:
            continue
        unit, day = k[2:4], k[4:8]
        for kk, v in end.items():
            if kk[0] != O.K_DAY or kk[4:8] != day or (unit != b"\x00\x00" and kk[2:4] != unit):
                continue
            ac = end.get(bytes([O.K_AFTER_CLOSE]) + kk[1:4] + day + struct.pack(">Q", s), 0)
            check(v - ac == got[s - 1].get(kk, 0),
                  f"close at seq {s}: DAY {kk.hex()} {v} - AFTER_CLOSE {ac} != "
                  f"{got[s - 1].get(kk, 0)} at seq {s - 1}")
            n += 1
    check(n > 20, f"{n} closed figures checked")
    r = run([AUDIT, "verify", "--file", STATE["path"], "--quiet"], check=False, timeout=600)
    check(r.returncode == 0 and r.stdout == f"OK seq={N} head={b.log.head().hex()}\n",
          f"verify: {r.returncode} {r.stdout}{r.stderr}")


def test_store_equals_oracle():
    """counts = replay = oracle: the store rebuilt through the store's write path."""
    d = W.sub("rebuilt")
    r = run([AUDIT, "rebuild", "--input", STATE["path"], "--data", d, "--quiet"], check=False,
            timeout=600)
    check(r.returncode == 0, f"rebuild (needs the store's write path through ct_tally_entry):"
          f" {r.returncode}\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    env = lmdb.open(d, readonly=True, max_dbs=8, lock=False, subdir=True)
    try:
        with env.begin(db=env.open_db(b"counts", create=False)) as t:
            stored = {bytes(k): struct.unpack(">q", bytes(v))[0] for k, v in t.cursor()}
    finally:
        env.close()
    c = STATE["b"].tally.c
    differ("store vs oracle", O.diff_counts(stored, nonzero(c)), stored, c)
    r = run([AUDIT, "verify", "--data", d, "--quiet"], check=False, timeout=600)
    check(r.returncode == 0 and r.stdout.startswith(f"OK seq={N} "), r.stdout + r.stderr)


if __name__ == "__main__":
    with W:
        main([test_generate, test_replay_equals_oracle, test_store_equals_oracle])
