"""The commune level of the drill-down, end to end: a campaign whose units 672
and 673 list communes (672 three, 673 two; the others none), a real
aggregator counting COMMUNE counters, a reporter with the same campaign, a
headless Chromium on its page, and chitieu-audit replay on the live store:

- the aggregator's COMMUNE counters (snapshot) equal the Python tally written
  from docs/PROTOCOL.md §5 (tests/integration/oracle.py) over the same events;
- /status.json names every commune with both programs' net and the rest of
  the unit's net under commune_none; a unit without a list has no commune;
- the page's district view shows exactly those figures, and says that a unit
  without a list has no figures per commune;
- /report-communes.csv (csv module) and the workbook's "communes" sheet
  (openpyxl) hold the same figures at the position they name;
- chitieu-audit replay at that position gives the same communes (JSON) and
  byte for byte the same commune CSV.
"""
import csv
import io
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request

import msgpack

import cdp
import oracle
import reporter_common as rc
from reporter_common import cp, h

NOW = "2023-07-27T12:00:00+07:00"
COMMUNES = {672: ["Xã Tà Nung", "Phường 2", "Phường 1"], 673: ["Phường Lộc Sơn", "Xã Đại Lào"]}


def campaign(wd):
    d = wd.sub("campaign")
    os.makedirs(d)
    src = os.path.join(h.SRC, "examples", "lamdong-2023")
    shutil.copy(os.path.join(src, "staff.csv"), d)
    with open(os.path.join(src, "campaign.ini"), encoding="utf-8") as f:
        ini = f.read()
    for code, names in COMMUNES.items():
        hdr = f"[district {code}]\n"
        i = ini.index(hdr)
        j = ini.index("\n", i + len(hdr)) + 1  # after the name line
        ini = ini[:j] + "".join(f"commune = {n}\n" for n in names) + ini[j:]
    path = os.path.join(d, "campaign.ini")
    with open(path, "w", encoding="utf-8") as f:
        f.write(ini)
    return path


class Gen(rc.Generator):
    """rc.Generator's stream, enrolls naming a commune of their unit (or none,
    or free text where the unit lists none)."""

    def batch(self, n):
        out = []
        for _ in range(n):
            raw = self.next()
            e = msgpack.unpackb(raw, raw=False)
            if e["x"] == "enroll":
                names = COMMUNES.get(e["d"])
                k = self.rng.randrange(len(names) + 1) if names else self.rng.randrange(3)
                w = (names[k] if k < len(names) else None) if names else \
                    ("Thôn 3" if k == 0 else None)
                if w:
                    e["w"] = w
                    raw = cp.event(e["id"], e["t"], e["d"], e["a"], program=e["p"],
                                   person=e["h"], commune=w, months=e.get("m"), group=e.get("g"))
            out.append(raw)
        return out


def get(url):
    """The body, or None while the reporter has no report yet (503)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read()
    except urllib.error.HTTPError as e:
        if e.code != 503:
            raise
        return None


def test_commune_drilldown():
    with h.Workdir("page-communes") as wd:
        ini = campaign(wd)
        agg, ep = rc.start_aggregator(wd, extra=("--campaign", ini))
        cl = cp.Client(ep["ingest"])
        events = Gen(47).batch(900)
        rc.submit_all(cl, events, per_call=100)
        snp = rc.snapshot(ep)
        seq = snp["s"]
        h.check(seq == 900, f"seq {seq}")
        c = dict(snp["c"])
        recs = oracle.read_records(wd.sub("data"))
        h.check([r[3] for r in recs] == events, "log holds the events in order")
        want = oracle.recount([(q, rms, raw) for q, rms, _, raw in recs], communes=COMMUNES,
                              version=oracle.store_tally_version(wd.sub("data")))
        diff = oracle.diff_counts(c, want)
        h.check(not diff, f"aggregator vs the spec's tally: {list(diff)[:5]}")
        kind9 = {k for k in c if k[0] == cp.COUNT_COMMUNE}
        h.check({int.from_bytes(k[2:4], "big") for k in kind9} == {672, 673}, "COMMUNE units")

        port = h.free_port()
        base = f"http://127.0.0.1:{port}"
        rp = wd.start([h.binary("chitieu-reporter"), "--campaign", ini, "--feed", ep["feed"],
                       "--snapshot", ep["snapshot"], "--insecure", "--interval", "60", "--format",
                       "json", "--output", wd.sub("r.json"), "--now", NOW, "--http",
                       f"127.0.0.1:{port}"], name="reporter")
        rp.wait_log(r'msg="http ready"')
        rep = rc.wait_until(lambda: (lambda r: r if r.get("seq") == seq else None)(
            json.loads(get(base + "/status.json") or b"{}")), 30, "report at seq 900")
        by_code = {d["code"]: d for d in rep["districts"]}
        for d in rep["districts"]:
            code = d["code"]
            if code not in COMMUNES:
                h.check("communes" not in d and "commune_none" not in d, f"{code}: no list")
                continue
            names = sorted(COMMUNES[code], key=lambda s: s.encode())
            h.check([m["name"] for m in d["communes"]] == names, f"{code}: names in code order")
            h.check([m["code"] for m in d["communes"]] == list(range(1, len(names) + 1)), "codes")
            for p in rc.PROGS:
                pi = cp.PROGRAMS[p]
                tot = 0
                for m in d["communes"]:
                    v = c.get(cp.key(cp.COUNT_COMMUNE, pi, code, cp.commune_dim(m["code"])), 0)
                    h.check(m[p] == v, f"{code} {m['name']} {p}: {m[p]} != {v}")
                    tot += v
                net = c.get(cp.key(cp.COUNT_NET, pi, code), 0)
                h.check(d["commune_none"][p] == net - tot, f"{code} none {p}")
                h.check(tot > 0 and d["commune_none"][p] > 0, f"{code} {p}: both kinds present")

        # downloads: the commune CSV and the workbook's sheet
        body = rc.wait_until(lambda: get(base + "/report-communes.csv"), 30, "commune CSV")
        h.check(body.startswith(b"\xef\xbb\xbf"), "BOM")
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
        h.check(len(rows) == sum(len(v) + 1 for v in COMMUNES.values()), f"{len(rows)} csv rows")
        check_rows(rows, by_code, seq, "csv", lambda x: int(x))
        try:
            import openpyxl
            wb = openpyxl.load_workbook(io.BytesIO(wait_xlsx(base, seq)), read_only=True)
            life = ["changes", "days", "late", "ranking"] if "life" in rep else []
            h.check(wb.sheetnames == ["province", "districts", "staff", "communes"] + life,
                    wb.sheetnames)
            it = wb["communes"].iter_rows(values_only=True)
            hdr = next(it)
            xrows = [dict(zip(hdr, r)) for r in it]
            check_rows(xrows, by_code, seq, "xlsx", lambda x: int(x))
            wb.close()
        except ImportError:
            h.skip("openpyxl is not installed")

        # the audit replays the same figures from the live store
        audit = h.binary("chitieu-audit")
        r = subprocess.run([audit, "replay", "--data", wd.sub("data"), "--campaign", ini, "--seq",
                            str(seq), "--now", NOW, "--format", "json"], capture_output=True,
                           text=True, check=True)
        rj = json.loads(r.stdout)
        for d in rj["districts"]:
            live = by_code[d["code"]]
            h.check(d.get("communes") == live.get("communes") and
                    d.get("commune_none") == live.get("commune_none"), f"replay {d['code']}")
        r = subprocess.run([audit, "replay", "--data", wd.sub("data"), "--campaign", ini, "--seq",
                            str(seq), "--now", NOW, "--format", "commune-csv", "--feed-label", "live"],
                           capture_output=True, check=True)
        h.check(r.stdout == body[3:], "replay's commune CSV == the page's download")

        # the page: each district view lists the communes with both programs
        if not os.path.exists(cdp.CHROMIUM):
            h.skip("browser parts: chromium is not installed")
        else:
            br = cdp.Browser(base + "/", wd.sub("chromium-profile"), size="1200,800")
            try:
                br.wait(f"document.body.dataset.seq === '{seq}'", 30, "page at seq")
                for code in (672, 673, 674):
                    d = by_code[code]
                    br.js(f"location.hash = '#/d/{code}'")
                    br.wait(f"document.getElementById('view-district').dataset.district === '{code}'",
                            10, f"district {code}")
                    got = br.js("""(() => {
                        const o = { rows: {}, names: {}, noList: !document.getElementById('dist-no-list').hidden };
                        for (const r of document.querySelectorAll('#dist-communes tr[data-commune]')) {
                          const f = {}; for (const td of r.querySelectorAll('td.count')) f[td.dataset.program] = Number(td.dataset.v);
                          o.rows[r.dataset.commune] = f; o.names[r.dataset.commune] = r.querySelector('td.name').textContent; }
                        return o; })()""")
                    print(f"  page {code}: {len(got['rows'])} commune rows, no-list note "
                          f"{got['noList']}")
                    if code not in COMMUNES:
                        h.check(got["rows"] == {} and got["noList"], f"page {code}: {got}")
                        continue
                    want_rows = {str(m["code"]): {p: m[p] for p in rc.PROGS} for m in d["communes"]}
                    want_rows["0"] = dict(d["commune_none"])
                    h.check(got["rows"] == want_rows, f"page {code}: {got['rows']} != {want_rows}")
                    h.check([got["names"][str(m["code"])] for m in d["communes"]] ==
                            [m["name"] for m in d["communes"]] and not got["noList"],
                            f"page {code} names {got['names']}")
            finally:
                br.close()
                shutil.rmtree(wd.sub("chromium-profile"), ignore_errors=True)
        h.check(rp.stop() == 0, "reporter exit")
        cl.close()


def wait_xlsx(base, seq):
    """The workbook is remade at most every 2 s: wait for the one at seq."""
    def at_seq():
        import openpyxl
        b = get(base + "/report.xlsx")
        if b is None:
            return None
        wb = openpyxl.load_workbook(io.BytesIO(b), read_only=True)
        it = wb["province"].iter_rows(values_only=True)
        hdr = next(it)
        ok = int(dict(zip(hdr, next(it)))["seq"]) == seq
        wb.close()
        return b if ok else None
    return rc.wait_until(at_seq, 30, "workbook at seq")


def check_rows(rows, by_code, seq, what, num):
    seen = set()
    for row in rows:
        code = num(row["district_code"])
        d = by_code[code]
        cc = num(row["commune_code"])
        m = d["communes"][cc - 1] if cc else None
        h.check(row["district_name"] == d["name"], f"{what}: {row['district_name']}")
        h.check((row["commune_name"] or "") == (m["name"] if m else ""), f"{what}: name {row}")
        for p in rc.PROGS:
            want = m[p] if m else d["commune_none"][p]
            h.check(num(row[f"{p}_net"]) == want, f"{what} {code}/{cc} {p}")
        h.check(num(row["seq"]) == seq, f"{what}: seq")
        seen.add((code, cc))
    h.check(seen == {(k, i) for k, v in COMMUNES.items() for i in range(len(v) + 1)}, what)


if __name__ == "__main__":
    h.main([test_commune_drilldown])
