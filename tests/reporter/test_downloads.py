"""chitieu-reporter's downloads read back by the tools an office uses: the
page's /report.xlsx (openpyxl), /report.csv and /report-staff.csv (Python's
csv module), and the CLI's --format xlsx / staff-csv files, all compared with
the JSON report made at the same log position and clock, which is itself
compared with the aggregator's snapshot (reporter_common). Every file names
the log position (seq) and chain head it was made from.
"""
import csv
import io
import json
import urllib.error
import urllib.request

import reporter_common as rc
from reporter_common import cp, h

NOW = "2023-07-27T12:00:00+07:00"
UNIT_NUM = ("net", "target", "remaining", "gross", "cancelled", "repeats")
UNIT_X10 = ("pct", "expected", "required_daily", "projection")


def get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def pct_x10(count, target):
    """The report's rounding: half away from zero, one decimal."""
    if target == 0:
        return 1000
    n = abs(count) * 1000
    q = (2 * n + target) // (2 * target)
    return -q if count < 0 else q


def staff_rows_of(rep):
    """district code, agent id -> what every staff row must say."""
    tgt = rep["agent_target"]
    out = {}
    for d in rep["districts"]:
        for a in d["members"]:
            row = {"district_code": d["code"], "district_name": d["name"], "agent_id": a["id"],
                   "agent_name": a["name"]}
            both = 1
            for p in rc.PROGS:
                met = int(a[p] >= tgt[p])
                both &= met
                row.update({f"{p}_net": a[p], f"{p}_target": tgt[p],
                            f"{p}_pct": pct_x10(a[p], tgt[p]) / 10, f"{p}_met": met})
            row["met_both"] = both
            out[(d["code"], a["id"])] = row
    return out


def check_position(row, rep, what):
    h.check(int(row["seq"]) == rep["seq"] and row["head"] == rep["head"] and
            row["as_of"] == rep["as_of"] and row["feed"] == rep["feed"],
            f"{what}: position {row['seq']} {row['head']} {row['as_of']} {row['feed']}")


def check_unit_row(row, u, what):
    """A province/district row (csv strings or xlsx values) against the JSON unit."""
    pr = u["programs"][row["program"]]
    for k in UNIT_NUM:
        h.check(float(row[k]) == pr[k], f"{what} {k}: {row[k]} != {pr[k]}")
    for k in UNIT_X10:
        h.check(float(row[k]) == float(pr[k]), f"{what} {k}: {row[k]} != {pr[k]}")
    h.check(row["verdict"] == pr["verdict"], f"{what} verdict")
    n_staff = u["staff"]
    h.check(isinstance(n_staff, int), f"{what}: staff is a count")
    h.check(int(row["staff"]) == n_staff and int(row["staff_met"]) == pr["staff_met"] and
            int(row["staff_met_both"]) == u["staff_met_both"], f"{what} staff")


def check_staff_rows(rows, rep, what):
    want = staff_rows_of(rep)
    h.check(len(rows) == len(want) and len(want) > 100, f"{what}: {len(rows)} rows, {len(want)}")
    seen = set()
    for row in rows:
        key = (int(row["district_code"]), row["agent_id"])
        h.check(key in want and key not in seen, f"{what}: row {key}")
        seen.add(key)
        w = want[key]
        for k, v in w.items():
            got = row[k]
            if isinstance(v, str):
                h.check(got == v, f"{what} {key} {k}: {got!r} != {v!r}")
            else:
                h.check(float(got) == float(v), f"{what} {key} {k}: {got!r} != {v!r}")
        check_position(row, rep, what)


def read_csv(body, what, bom=True):
    h.check(body.startswith(b"\xef\xbb\xbf") == bom, f"{what}: BOM {body[:4]!r}")
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def check_district_csv(rows, rep):
    h.check(len(rows) == 2 * (len(rep["districts"]) + 1), f"csv: {len(rows)} rows")
    by_code = {d["code"]: d for d in rep["districts"]}
    for row in rows:
        u = rep["province"] if row["level"] == "province" else by_code[int(row["district_code"])]
        check_unit_row(row, u, f"csv {row['district_code']} {row['program']}")
        check_position(row, rep, "csv")


def sheet_rows(ws):
    it = ws.iter_rows(values_only=True)
    hdr = next(it)
    return [dict(zip(hdr, r)) for r in it]


def check_xlsx(body, rep, what):
    import openpyxl
    h.check(body[:2] == b"PK", f"{what}: not a zip")
    wb = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    # the campaign's life sheets follow when the counters hold life figures
    life = ["changes", "days", "late", "ranking"] if "life" in rep else []
    h.check(wb.sheetnames == ["province", "districts", "staff"] + life, f"{what}: {wb.sheetnames}")
    prov = sheet_rows(wb["province"])
    h.check([r["program"] for r in prov] == rc.PROGS, f"{what}: province rows")
    for r in prov:
        check_unit_row(r, rep["province"], f"{what} province {r['program']}")
        check_position(r, rep, what)
    dist = sheet_rows(wb["districts"])
    h.check(len(dist) == 2 * len(rep["districts"]), f"{what}: {len(dist)} district rows")
    by_code = {d["code"]: d for d in rep["districts"]}
    for r in dist:
        u = by_code[r["district_code"]]
        h.check(r["district_name"] == u["name"], f"{what}: name {r['district_name']}")
        check_unit_row(r, u, f"{what} {r['district_code']} {r['program']}")
        check_position(r, rep, what)
    check_staff_rows(sheet_rows(wb["staff"]), rep, f"{what} staff")
    h.check(isinstance(prov[0]["net"], (int, float)) and isinstance(prov[0]["seq"], (int, float)),
            f"{what}: figures are numbers")
    wb.close()


def test_page_downloads():
    with h.Workdir("rep-dl") as wd:
        agg, ep = rc.start_aggregator(wd)
        cl = cp.Client(ep["ingest"])
        gen = rc.Generator(5)
        rc.submit_all(cl, gen.batch(1200), per_call=200)
        port = h.free_port()
        base = f"http://127.0.0.1:{port}"
        rp = wd.start([h.binary("chitieu-reporter"), "--insecure", "--feed", ep["feed"],
                       "--snapshot", ep["snapshot"], "--interval", "60", "--format", "json",
                       "--output", wd.sub("status.json"), "--now", NOW, "--http",
                       f"127.0.0.1:{port}", "--http-token", "tk"], name="reporter")
        rp.wait_log(r'msg="http ready"')
        rc.submit_all(cl, gen.batch(300), per_call=50)
        snp = rc.snapshot(ep)
        tok = "?token=tk"

        def at_seq():
            st, _, body = get(base + "/status.json" + tok)
            return json.loads(body) if st == 200 and json.loads(body)["seq"] == snp["s"] else None
        rep = rc.wait_until(at_seq, 30, "report at the snapshot")
        rc.assert_report_equals(rep, snp)

        st, _, page = get(base + "/" + tok)
        page = page.decode("utf-8")
        for href in ("report.xlsx", "report.csv", "report-staff.csv"):
            h.check(f'href="{href}" download' in page, f"page lacks the {href} button")
        st, _, _ = get(base + "/report.xlsx")
        h.check(st == 401, f"xlsx without the token: {st}")

        def xlsx_at_seq():
            st, hd, body = get(base + "/report.xlsx" + tok)
            if st != 200:
                return None
            import openpyxl
            wb = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
            seq = next(wb["province"].iter_rows(min_row=2, values_only=True))[-3]
            wb.close()
            return (hd, body) if seq == snp["s"] else None
        hd, body = rc.wait_until(xlsx_at_seq, 30, "workbook at the snapshot")
        h.check(hd["Content-Type"] ==
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" and
                'filename="chitieu-report.xlsx"' in hd["Content-Disposition"], f"xlsx headers {hd}")
        check_xlsx(body, rep, "page xlsx")

        st, hd, body = get(base + "/report-staff.csv" + tok)
        h.check(st == 200 and hd["Content-Type"] == "text/csv; charset=utf-8", f"staff csv {st}")
        check_staff_rows(read_csv(body, "staff csv"), rep, "page staff csv")
        st, _, body = get(base + "/report.csv" + tok)
        check_district_csv(read_csv(body, "csv"), rep)
        h.check(rp.stop() == 0, "reporter exit")

        # The CLI: the same figures from --once at the same position and clock.
        args = [h.binary("chitieu-reporter"), "--insecure", "--feed", ep["feed"], "--snapshot",
                ep["snapshot"], "--once", "--now", NOW]
        out = wd.sub("report.xlsx")
        h.run(args + ["--format", "xlsx", "--output", out])
        with open(out, "rb") as f:
            check_xlsx(f.read(), rep, "cli xlsx")
        r = h.run(args + ["--format", "staff-csv"])
        check_staff_rows(read_csv(r.stdout.encode("utf-8"), "cli staff csv", bom=False), rep,
                         "cli staff csv")
        h.run(args + ["--format", "staff-csv", "--output", wd.sub("staff.csv")])
        with open(wd.sub("staff.csv"), "rb") as f:
            check_staff_rows(read_csv(f.read(), "cli staff csv file"), rep, "cli staff csv file")
        r = h.run(args + ["--format", "xlsx"], check=False)
        h.check(r.returncode == 2 and "--output" in r.stderr, f"xlsx to stdout: {r.returncode}")
        cl.close()


if __name__ == "__main__":
    h.main([test_page_downloads])
