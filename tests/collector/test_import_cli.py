"""test_import_cli — `chitieu-collector import` on Excel files with the real
binary and a real outbox: the exit codes (0 every row good, 1 some rows bad
with the good ones queued, 2 a file refused as a whole or a usage error) and
`--dry-run` (what would be queued and every bad row on the terminal, the
outbox unchanged, then a real import queues exactly what the dry run said).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import ctharness as H  # noqa: E402

FIX = os.path.join(H.SRC, "tests", "collector", "fixtures")
VI = os.path.join(FIX, "excel-vi.csv")
CP1258 = os.path.join(FIX, "excel-cp1258.csv")

VI_BAD = [
    "6: national ID has 11 digits: Excel removed the leading zero: format the column as Text",
    "7: national ID has 10 digits: Excel removed the leading zeros: format the column as Text",
    "8: national ID is a number in scientific notation: Excel rounded it and its digits are "
    "lost: format the column as Text and enter the IDs again",
    "9: bad time '07/24/2023 15:00' (expected dd/mm/yyyy HH:MM[:SS], e.g. 22/07/2023 09:15, or "
    "yyyy-mm-dd HH:MM[:SS], e.g. 2023-07-22 09:15, or ISO 8601 with a zone, e.g. "
    "2023-07-22T09:15:00+07:00)",
    "10: bad time '25/07/2023' (expected dd/mm/yyyy HH:MM[:SS], e.g. 22/07/2023 09:15, or "
    "yyyy-mm-dd HH:MM[:SS], e.g. 2023-07-22 09:15, or ISO 8601 with a zone, e.g. "
    "2023-07-22T09:15:00+07:00)",
    "11: amount must be a whole number of VND (got '891,5')",
    "12: amount must be a whole number of VND (got '1.5000.000')",
]

VI_PLAN = [
    "2: would queue: enroll bhxh_tn, agent LD672-001, 2023-07-22T09:15:00+07:00, commune "
    "Phường 1, 12 months, 3564000 VND, group nongdan",
    "3: would queue: enroll bhyt_hgd, agent LD672-002, 2023-07-22T10:40:05+07:00, commune "
    "Phường 3, 12 months, 972000 VND, group nq143",
    "4: would queue: enroll bhyt_hgd, agent LD672-003, 2023-07-23T08:05:00+07:00, commune "
    "Xã Tà Nung; thôn 2, 12 months, 972000 VND, group nq143",
    "5: would queue: enroll bhxh_tn, agent LD672-004, 2023-07-23T14:20:00+07:00, commune "
    "Phường 8, 6 months, 1500000 VND, group nongdan",
    "13: would queue: cancel bhyt_hgd, agent LD672-002, 2023-07-28T11:00:00+07:00, commune "
    "Phường 3",
]


def col(*args):
    return H.run([H.binary("chitieu-collector"), *args], check=False)


def counts(ob):
    out = {}
    for line in col("status", "--outbox", ob).stdout.splitlines():
        k, _, v = line.partition(":")
        out[k.strip()] = v.strip()
    return int(out["queued"]), int(out["recorded"])


def test_exit_codes_and_dry_run():
    with H.Workdir("col-import-cli") as wd:
        key = wd.sub("person.key")
        H.run([H.binary("chitieu-keys"), "person-key", key])
        ob = wd.sub("ob")

        # a dry run never creates an outbox, nor binds one
        r = col("import", VI, "--outbox", ob, "--person-key", key, "--dry-run", "--district",
                "672")
        H.check(r.returncode == 2, f"dry run without an outbox: rc {r.returncode}")
        H.check(r.stderr.startswith("chitieu-collector: no outbox at"), r.stderr)
        H.check(not os.path.exists(ob), "a dry run created the outbox")
        H.run([H.binary("chitieu-collector"), "init", "--outbox", ob, "--district", "672",
               "--campaign", H.CAMPAIGN])

        # the dry run: every good row planned, every bad row reported, exit 1, nothing queued
        r = col("import", VI, "--outbox", ob, "--person-key", key, "--dry-run")
        H.check(r.returncode == 1, f"dry run rc {r.returncode}: {r.stderr}")
        H.check(r.stdout.splitlines() == [f"{VI}:{p}" for p in VI_PLAN] + [
            f"{VI}: 12 rows: 5 would be queued, 0 already queued, 7 bad (dry run: nothing queued)"],
            r.stdout)
        H.check(r.stderr.splitlines() == [f"{VI}:{b}" for b in VI_BAD], r.stderr)
        H.check(counts(ob) == (0, 0), f"the dry run queued something: {counts(ob)}")
        for nid in ("068190004521", "68301000456"):
            H.check(nid not in r.stdout + r.stderr, "a national ID was echoed")

        # the real import queues exactly that, and exits 1 for the bad rows
        r = col("import", VI, "--outbox", ob, "--person-key", key)
        H.check(r.returncode == 1, f"import rc {r.returncode}")
        H.check(r.stdout == f"{VI}: 12 rows: 5 queued, 0 already queued, 7 bad\n", r.stdout)
        H.check(r.stderr.splitlines() == [f"{VI}:{b}" for b in VI_BAD], r.stderr)
        H.check(counts(ob) == (5, 5), f"{counts(ob)}")

        # again: a dry run and --strict both say nothing new, exit 1, nothing changes
        r = col("import", VI, "--outbox", ob, "--person-key", key, "--dry-run")
        H.check(r.returncode == 1, f"second dry run rc {r.returncode}")
        H.check(r.stdout.splitlines()[-1] == f"{VI}: 12 rows: 0 would be queued, 5 already "
                "queued, 7 bad (dry run: nothing queued)", r.stdout)
        H.check(f"{VI}:2: already queued: enroll bhxh_tn, agent LD672-001," in r.stdout, r.stdout)
        r = col("import", VI, "--outbox", ob, "--person-key", key, "--strict")
        H.check(r.returncode == 1, f"--strict rc {r.returncode}")
        H.check(counts(ob) == (5, 5), f"{counts(ob)}")

        # a file refused as a whole: exit 2, the way out, nothing queued (dry run or not)
        want = (f"chitieu-collector: import stopped: {CP1258}:2: this file is not UTF-8 (byte "
                "0xFD at byte 41 of the line); it looks like Windows-1258 (Vietnamese), what "
                "Excel writes for \"CSV (Comma delimited)\": open it in Excel, choose Save As, "
                "file type \"CSV UTF-8 (Comma delimited)\", and import that file\n")
        for extra in ([], ["--dry-run"]):
            r = col("import", CP1258, "--outbox", ob, "--person-key", key, *extra)
            H.check(r.returncode == 2, f"cp1258 {extra} rc {r.returncode}")
            H.check(r.stderr == want, r.stderr)
        H.check(counts(ob) == (5, 5), f"{counts(ob)}")

        # every row good: exit 0, in a dry run and for real
        good = wd.sub("good.csv")
        with open(good, "wb") as f:
            f.write("\ufeffagent_id;program;national_id;occurred_at;amount\r\n"
                    "LD672-005;bhxh_tn;068190004599;29/07/2023 10:00;1.782.000\r\n"
                    .encode("utf-8"))
        r = col("import", good, "--outbox", ob, "--person-key", key, "--dry-run")
        H.check(r.returncode == 0, f"good dry run rc {r.returncode}: {r.stderr}")
        H.check(r.stdout.splitlines()[-1] == f"{good}: 1 rows: 1 would be queued, 0 already "
                "queued, 0 bad (dry run: nothing queued)", r.stdout)
        r = col("import", good, "--outbox", ob, "--person-key", key)
        H.check(r.returncode == 0, f"good import rc {r.returncode}: {r.stderr}")
        H.check(counts(ob) == (6, 6), f"{counts(ob)}")

        # --dry-run belongs to import only
        r = col("add", "--outbox", ob, "--dry-run")
        H.check(r.returncode == 2, f"add --dry-run rc {r.returncode}")


if __name__ == "__main__":
    H.main([test_exit_codes_and_dry_run])
