"""The campaign's life in the reporter, end to end: a real aggregator takes
enrollments and life entries (a void, a correction that moves a sign-up to
another staff member, a target revision effective in the past, a per-staff
quota revision, a close of a day for the province, a late enroll for that
closed day, a unit's close and its reopen), a real reporter with a fixed
clock serves the report, chitieu-audit replays the live store, and a
headless Chromium loads the page:

- /status.json's life figures equal the ones computed here from the
  aggregator's snapshot by the rules of docs/reporter.md (targets in force by
  (ef, seq), originals, voided / corrected beside cancelled, the official
  figure of the closed day = DAY - AFTER_CLOSE, late after close, lateness
  percentiles from LATE_HIST, the changes by seq, the rankings' order);
- the pace uses the target in force (pct = net / revised target);
- /metrics carries the life series (promtool accepts it) with the same values;
- the four life CSVs served by the reporter are byte for byte the ones
  `chitieu-audit replay --format *-csv` prints at the same seq and clock, and
  the replay's JSON has the same life member;
- the page's Changes panel, closed days, late data and office ranking show
  exactly those figures.
"""
import base64
import csv
import io
import json
import os
import shutil
import struct
import subprocess
import urllib.error
import urllib.request
from fractions import Fraction

import msgpack

import cdp
import reporter_common as rc
from reporter_common import cp, h

NOW = "2023-07-27T12:00:00+07:00"
NOW_MS = 1690434000000
TZ = 7 * 3600000
(VOIDED, CORRECTED, TARGET, CLOSE, AFTER_CLOSE, LATE_CLOSED, LATE_HIST, LATE_MAX, AFTER_DAY,
 RECV_DAY, REORG, LIFE) = range(10, 22)
KINDS = {1: "void", 2: "correct", 3: "target", 4: "close", 5: "reopen", 6: "reorg"}
ORIGIN = b"lifetest"
ARTIFACTS = os.path.join(os.path.dirname(os.path.abspath(h.BIN)), "test-artifacts")


def ms(iso_local):
    """'2023-07-24T10:00' in +07:00 -> ms."""
    import datetime
    dt = datetime.datetime.fromisoformat(iso_local + "+07:00")
    return int(dt.timestamp() * 1000)


BY, WHY = "admin-hq", "kiểm thử"


def lid(num):
    return cp.event_id(ORIGIN, num)


def one(cl, entry):
    r = cl.call([entry], timeout=10, w=True)
    h.check(r is not None and r["k"] == "ack", f"no ack: {r!r:.200}")
    h.check(r["r"][0][1] == cp.ACCEPTED, f"refused: {r['r'][0]} {msgpack.unpackb(entry)}")
    return r["q"][0]


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read()
    except urllib.error.HTTPError as e:
        if e.code != 503:
            raise
        return None


def parts(k):
    return k[0], k[1], int.from_bytes(k[2:4], "big"), k[4:]


def day_str(d):
    return rc.day_str(d)


# ---------------------------------------------------------------- the rules, in Python

def targets_in_force(c, camp_targets, staff, quota0):
    """{(p, unit): target} and {p: quota} at NOW by docs/reporter.md."""
    best = {}
    for k, v in c.items():
        kind, p, u, dim = parts(k)
        if kind != TARGET:
            continue
        ef, seq = struct.unpack(">QQ", dim)
        if ef <= NOW_MS and ((p, u) not in best or (ef, seq) > best[(p, u)][0]):
            best[(p, u)] = ((ef, seq), v)
    quota = {p: best[(p, 0)][1] if (p, 0) in best else quota0[p] for p in (0, 1)}
    out = {}
    for (p, u), t in camp_targets.items():
        if (p, u) in best:
            out[(p, u)] = best[(p, u)][1]
        elif (p, 0) in best:
            out[(p, u)] = best[(p, 0)][1] * staff[u]
        else:
            out[(p, u)] = t
    return out, quota


def late_pct(hist):
    n = sum(hist)
    p50 = p90 = None
    cum = 0
    for b, x in enumerate(hist):
        cum += x
        if p50 is None and n and 2 * cum >= n:
            p50 = b
        if p90 is None and n and 10 * cum >= 9 * n:
            p90 = b
    return n, p50, p90


def test_life_report():
    roster = rc.roster()
    a672 = [a for a, d, _ in roster if d == 672]
    staff = {}
    for _, d, _ in roster:
        staff[d] = staff.get(d, 0) + 1
    A, B = a672[0], a672[1]
    with h.Workdir("page-life") as wd:
        agg, ep = rc.start_aggregator(wd, ["--campaign", h.CAMPAIGN])
        cl = cp.Client(ep["ingest"])
        rc.submit_all(cl, rc.Generator(23).batch(300), per_call=100)
        p1, p2, p3 = (cp.person_ref("0790%08d" % i) for i in (1, 2, 3))
        e1 = cp.event(cp.event_id(ORIGIN, 1), ms("2023-07-24T10:00"), 672, A, program="bhyt_hgd",
                      person=p1)
        e2 = cp.event(cp.event_id(ORIGIN, 2), ms("2023-07-24T11:00"), 672, A, program="bhxh_tn",
                      person=p2, months=12)
        s1, s2 = one(cl, e1), one(cl, e2)
        t = ms("2023-07-26T09:00")
        s_void = one(cl, cp.life_void(lid(101), t, BY, WHY, 672, "bhyt_hgd", p1, lid(1), s1))
        s_corr = one(cl, cp.life_correct(lid(102), t, BY, WHY, 672, "bhxh_tn", p2, lid(2), s2,
                                         agent=B))
        s_t1 = one(cl, cp.life_target(lid(103), t, BY, WHY, 672, "bhyt_hgd", 40,
                                      ms("2023-07-23T00:00")))
        s_t2 = one(cl, cp.life_target(lid(104), t, BY, WHY, 0, "bhxh_tn", 3,
                                      ms("2023-07-22T00:00")))
        s_t3 = one(cl, cp.life_target(lid(105), t, BY, WHY, 673, "bhyt_hgd", 99,
                                      ms("2023-07-30T00:00")))  # pending at NOW
        s_close = one(cl, cp.life_close(lid(106), t, BY, WHY, 0, 20230724))
        one(cl, cp.event(cp.event_id(ORIGIN, 3), ms("2023-07-24T15:00"), 672, A,
                         program="bhyt_hgd", person=p3))  # late, for the closed day
        s_c2 = one(cl, cp.life_close(lid(107), t, BY, WHY, 672, 20230725))
        s_reopen = one(cl, cp.life_reopen(lid(108), t, BY, WHY, 672, 20230725))
        snp = rc.snapshot(ep)
        seq = snp["s"]
        c = dict(snp["c"])

        # ------------------------------------------------ the reporter
        port = h.free_port()
        base = f"http://127.0.0.1:{port}"
        rp = wd.start([h.binary("chitieu-reporter"), "--campaign", h.CAMPAIGN, "--feed",
                       ep["feed"], "--snapshot", ep["snapshot"], "--insecure", "--interval", "60",
                       "--format", "json", "--output", wd.sub("r.json"), "--now", NOW, "--http",
                       f"127.0.0.1:{port}"], name="reporter")
        rp.wait_log(r'msg="http ready"')
        rep = rc.wait_until(lambda: (lambda r: r if r.get("seq") == seq else None)(
            json.loads(get(base + "/status.json") or b"{}")), 30, f"report at seq {seq}")
        L = rep.get("life")
        h.check(L is not None, "the report has a life member")
        by_code = {d["code"]: d for d in rep["districts"]}

        # targets in force, originals, pace
        camp = {}
        for d in rep["districts"]:
            for p, pi in cp.PROGRAMS.items():
                camp[(pi, d["code"])] = d["programs"][p]["target_original"]
        tif, quota = targets_in_force(c, camp, staff, {0: 1, 1: 2})
        h.check(tif[(1, 672)] == 40 and quota == {0: 3, 1: 2}, f"in force {tif[(1, 672)]} {quota}")
        h.check(tif[(1, 673)] == camp[(1, 673)], "the pending revision is not in force")
        for d in rep["districts"]:
            for p, pi in cp.PROGRAMS.items():
                f = d["programs"][p]
                h.check(f["target"] == tif[(pi, d["code"])],
                        f"{d['code']} {p} target {f['target']}")
                x10 = (Fraction(f["net"] * 1000, f["target"]) + Fraction(1, 2)).__floor__() \
                    if f["target"] else 1000  # half away from zero (net >= 0)
                h.check(round(f["pct"] * 10) == x10, f"{d['code']} {p} pct {f['pct']} != {x10}/10")
        h.check(rep["agent_target"] == {"bhxh_tn": 3, "bhyt_hgd": 2}, rep["agent_target"])
        h.check(L["quota_original"] == {"bhxh_tn": 1, "bhyt_hgd": 2}, L["quota_original"])
        h.check([(t["seq"], t["pending"]) for t in L["targets"]] ==
                [(s_t2, False), (s_t1, False), (s_t3, True)], f"targets {L['targets']}")
        # voided / corrected apart from cancelled
        for d in rep["districts"]:
            for p, pi in cp.PROGRAMS.items():
                v = sum(x for k, x in c.items() if parts(k)[:3] == (VOIDED, pi, d["code"]))
                co = c.get(cp.key(CORRECTED, pi, d["code"]), 0)
                ca = c.get(cp.key(cp.COUNT_CANCELLED, pi, d["code"]), 0)
                f = d["programs"][p]
                h.check((f["voided"], f["corrected"], f["cancelled"]) == (v, co, ca),
                        f"{d['code']} {p}: {f}")
        h.check(by_code[672]["programs"]["bhyt_hgd"]["voided"] >= 1, "the void shows")
        h.check(by_code[672]["programs"]["bhxh_tn"]["corrected"] >= 1, "the correction shows")
        # the changes by seq
        want_ch = sorted((struct.unpack(">Q", parts(k)[3])[0], KINDS[v], parts(k)[2])
                         for k, v in c.items() if k[0] == LIFE)
        got_ch = [(x["seq"], x["kind"], x["unit"]) for x in L["changes"]]
        h.check(got_ch == want_ch, f"changes {got_ch} != {want_ch}")
        h.check([x[0] for x in got_ch] == [s_void, s_corr, s_t1, s_t2, s_t3, s_close, s_c2,
                                          s_reopen], f"seqs {got_ch}")
        h.check(next(x for x in L["changes"] if x["seq"] == s_close).get("day") == "2023-07-24",
                "the close names its day")
        h.check("day" not in next(x for x in L["changes"] if x["seq"] == s_c2), "reopened: no day")
        # the closed day: official = DAY - AFTER_CLOSE, late after close
        d24 = next(x for x in L["days"] if x["day"] == "2023-07-24")
        h.check(d24["close_seq"] == s_close and d24["closed_by"] == "province", f"{d24}")
        dim24 = struct.pack(">I", 20230724)
        for p, pi in cp.PROGRAMS.items():
            cur = sum(x for k, x in c.items() if parts(k)[0] == cp.COUNT_DAY and k[1] == pi and
                      parts(k)[3] == dim24)
            ac = sum(x for k, x in c.items() if k[0] == AFTER_CLOSE and k[1] == pi and
                     parts(k)[3] == dim24 + struct.pack(">Q", s_close))
            lc = sum(x for k, x in c.items() if k[0] == LATE_CLOSED and k[1] == pi and
                     parts(k)[3] == dim24)
            h.check((d24["recorded"][p], d24["official"][p], d24["late_after_close"][p]) ==
                    (cur, cur - ac, lc), f"day 24 {p}: {d24}")
        h.check(d24["late_after_close"]["bhyt_hgd"] == 1 and
                d24["official"]["bhyt_hgd"] == d24["recorded"]["bhyt_hgd"] - 1,
                "the late enroll is after the close, not in the official figure")
        # lateness per district
        for x in L["late"]["districts"]:
            hist = [sum(v for k, v in c.items() if k[0] == LATE_HIST and parts(k)[2] == x["code"]
                        and parts(k)[3] == bytes([b])) for b in range(8)]
            n, p50, p90 = late_pct(hist)
            mx = max([v for k, v in c.items() if k[0] == LATE_MAX and parts(k)[2] == x["code"]],
                     default=0)
            h.check((x["hist"], x["counted"], x["p50_bucket"], x["p90_bucket"], x["max_s"]) ==
                    (hist, n, p50, p90, mx), f"late {x['code']}: {x}")
        # rankings: own attainment, then net, voided, code
        for p, pi in cp.PROGRAMS.items():
            rows = []
            for d in rep["districts"]:
                f = d["programs"][p]
                att = Fraction(f["net"], f["target"]) if f["target"] else Fraction(1)
                rows.append((-att, -f["net"], f["voided"], d["code"]))
            want = [r[3] for r in sorted(rows)]
            got = [x["code"] for x in L["ranking"]["offices"][p]]
            h.check(got == want, f"office ranking {p}: {got} != {want}")

        # /metrics: the life series, valid for promtool
        body = get(base + "/metrics")
        h.promtool_check(body, "the reporter's /metrics with life series")
        m = h.prom_samples(body)
        for d in rep["districts"]:
            for p in rc.PROGS:
                lab = f'{{district="{d["code"]}",program="{p}"}}'
                f = d["programs"][p]
                h.check((m["chitieu_voided" + lab], m["chitieu_corrected" + lab],
                         m["chitieu_target_original" + lab], m["chitieu_target" + lab]) ==
                        (f["voided"], f["corrected"], f["target_original"], f["target"]),
                        f"metrics {d['code']} {p}")
        for x in L["late"]["districts"]:
            lab = f'{{district="{x["code"]}"}}'
            h.check((m["chitieu_late_max_seconds" + lab], m["chitieu_received_after_day" + lab],
                     m["chitieu_late_after_close" + lab]) ==
                    (x["max_s"], x["after_day"], x["late_after_close"]), f"metrics late {x}")

        # ------------------------------------------------ downloads == audit replay
        audit = h.binary("chitieu-audit")
        csv_rows = {}
        for name, fmt in (("changes", "changes-csv"), ("days", "days-csv"), ("late", "late-csv"),
                          ("ranking", "ranking-csv")):
            body = rc.wait_until(lambda: get(f"{base}/report-{name}.csv"), 30, name)
            h.check(body.startswith(b"\xef\xbb\xbf"), f"{name}: BOM")
            rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
            h.check(rows and all(r["seq"] == str(seq) for r in rows), f"{name}: rows at seq")
            r = subprocess.run([audit, "replay", "--data", wd.sub("data"), "--campaign",
                                h.CAMPAIGN, "--seq", str(seq), "--now", NOW, "--format", fmt,
                                "--feed-label", "live"], capture_output=True)
            h.check(r.returncode == 0, f"replay {fmt}: {r.stderr.decode()[-400:]}")
            h.check(r.stdout == body[3:], f"replay's {name} CSV == the reporter's, byte for byte")
            csv_rows[name] = rows
        # the workbook's life sheets hold the CSVs' rows
        try:
            import openpyxl

            def xlsx_at_seq():
                b = get(base + "/report.xlsx")
                if b is None:
                    return None
                wb = openpyxl.load_workbook(io.BytesIO(b), read_only=True)
                ok = "changes" in wb.sheetnames and \
                    str(next(wb["changes"].iter_rows(min_row=2, values_only=True))[-3]) == str(seq)
                wb.close()
                return b if ok else None
            wb = openpyxl.load_workbook(io.BytesIO(rc.wait_until(xlsx_at_seq, 30, "workbook")),
                                        read_only=True)
            h.check(wb.sheetnames[-4:] == ["changes", "days", "late", "ranking"], wb.sheetnames)
            for name, rows in csv_rows.items():
                it = wb[name].iter_rows(values_only=True)
                hdr = next(it)
                got = [{k: "" if v is None else (f"{v:.1f}" if k == "pct" else
                                                 str(int(v)) if isinstance(v, float) else str(v))
                        for k, v in zip(hdr, r)} for r in it]
                h.check(got == rows, f"sheet {name} != its CSV: {got[:1]} {rows[:1]}")
            wb.close()
        except ImportError:
            print("  skipped the workbook check: openpyxl is not installed")
        r = subprocess.run([audit, "replay", "--data", wd.sub("data"), "--campaign", h.CAMPAIGN,
                            "--seq", str(seq), "--now", NOW, "--format", "json"],
                           capture_output=True, check=True)
        h.check(json.loads(r.stdout)["life"] == L, "replay's life member == the reporter's")

        # ------------------------------------------------ the page
        if not os.path.exists(cdp.CHROMIUM):
            h.skip("browser parts: chromium is not installed")
        else:
            br = cdp.Browser(base + "/", wd.sub("chromium-profile"), size="1200,900")
            try:
                br.wait(f"document.body.dataset.seq === '{seq}'", 30, "page at seq")
                got = br.js("""(() => {
                  const o = { hidden: document.getElementById('life-panel').hidden, changes: [], days: [], late: {}, offices: {} };
                  for (const r of document.querySelectorAll('#life-changes tbody tr'))
                    o.changes.push([Number(r.dataset.seq), r.dataset.kind, Number(r.dataset.unit)]);
                  for (const r of document.querySelectorAll('#life-days tbody tr')) {
                    const f = {}; for (const td of r.querySelectorAll('td[data-program]')) f[td.dataset.program] = Number(td.dataset.v);
                    o.days.push([r.dataset.day, Number(r.dataset.unit), Number(r.dataset.closeSeq), f]); }
                  for (const r of document.querySelectorAll('#life-late tbody tr'))
                    o.late[r.dataset.district] = [Number(r.cells[1].dataset.v), r.cells[2].dataset.v, Number(r.cells[4].dataset.v)];
                  const tb = document.querySelector('#rank-offices tbody');
                  for (const r of tb ? tb.rows : []) for (const td of r.querySelectorAll('td[data-code]'))
                    (o.offices[td.cellIndex] = o.offices[td.cellIndex] || []).push(Number(td.dataset.code));
                  o.voided = Number(document.querySelector('#life-summary [data-program="bhyt_hgd"] .voided').dataset.v);
                  o.target = Number(document.querySelector('#life-summary [data-program="bhyt_hgd"] .target').dataset.v);
                  return o; })()""")
                print(f"  page: {len(got['changes'])} changes, {len(got['days'])} closed days, "
                      f"{len(got['late'])} late rows")
                h.check(not got["hidden"], "the Changes panel is shown")
                h.check(got["changes"] == [list(x) for x in reversed(got_ch)],
                        f"page changes {got['changes']}")
                want_days = [[x["day"], 0, x["close_seq"], x["official"]] for x in L["days"]
                             if x["close_seq"]]
                for d in rep["districts"]:
                    want_days += [[x["day"], d["code"], x["close_seq"], x["official"]]
                                  for x in d["life_days"]
                                  if x["close_seq"] and x["closed_by"] in ("unit", "part")]
                h.check(got["days"] == want_days, f"page days {got['days']} != {want_days}")
                want_late = {str(x["code"]): [x["counted"], "" if x["p50_s"] is None else
                                              str(x["p50_s"]), x["max_s"]]
                             for x in L["late"]["districts"]}
                pv = L["late"]["province"]
                want_late["0"] = [pv["counted"], "" if pv["p50_s"] is None else str(pv["p50_s"]),
                                  pv["max_s"]]
                h.check(got["late"] == want_late, f"page late {got['late']}")
                h.check(got["offices"] == {"1": [x["code"] for x in
                                                 L["ranking"]["offices"]["bhxh_tn"]],
                                           "5": [x["code"] for x in
                                                 L["ranking"]["offices"]["bhyt_hgd"]]},
                        f"page ranking {got['offices']}")
                pp = rep["province"]["programs"]["bhyt_hgd"]
                h.check(got["voided"] == pp["voided"] and got["target"] == pp["target"],
                        f"page summary {got['voided']} {got['target']}")
                # both languages name everything the panel shows
                miss = br.js("Object.keys(T.vi).filter(k => !(k in T.en))"
                             ".concat(Object.keys(T.en).filter(k => !(k in T.vi)))")
                h.check(miss == [], f"keys in one language only: {miss}")
                br.js("document.getElementById('lang-en').click()")
                br.wait("document.querySelector('#life-panel h2').textContent === 'Changes'", 10,
                        "English panel")
                h.check(br.js("document.querySelector('#life-changes tbody tr[data-kind=\"close\"]')"
                              ".cells[1].textContent") == "day closed", "English kinds")
                br.js("document.getElementById('lang-vi').click()")
                # the district's cards and a staff member's view: voided beside
                br.js("location.hash = '#/d/672'")
                br.wait("document.body.dataset.view === 'district'", 10, "district 672")
                card = br.js("""(() => { const o = {}; for (const c of document.querySelectorAll('#view-district .card[data-program]'))
                  o[c.dataset.program] = [Number(c.querySelector('.voided').dataset.v), Number(c.querySelector('.corrected').dataset.v),
                                          Number(c.querySelector('.target_original').dataset.v)]; return o; })()""")
                want = {p: [by_code[672]["programs"][p][k] for k in ("voided", "corrected",
                                                                     "target_original")]
                        for p in rc.PROGS}
                h.check(card == want, f"district cards {card} != {want}")
                br.js(f"location.hash = '#/d/672/s/{A}'")
                br.wait("document.body.dataset.view === 'staff'", 10, "staff view")
                sv = br.js("""(() => { const o = {}; for (const v of document.querySelectorAll('#agent [data-program]'))
                  o[v.dataset.program] = Number(v.querySelector('.voided').dataset.v); return o; })()""")
                member = next(m for m in by_code[672]["members"] if m["id"] == A)
                h.check(sv == member["voided"] and member["voided"]["bhyt_hgd"] == 1,
                        f"staff view voided {sv} != {member['voided']}")
                br.js("location.hash = '#/'")
                br.wait("document.body.dataset.view === 'province'", 10, "province")
                br.js("for (const d of document.querySelectorAll('#life-panel details')) d.open = true;"
                      "document.getElementById('life-panel').scrollIntoView()")
                shot = br.call("Page.captureScreenshot", format="png")
                os.makedirs(ARTIFACTS, exist_ok=True)
                with open(os.path.join(ARTIFACTS, "reporter-life.png"), "wb") as f:
                    f.write(base64.b64decode(shot["data"]))
            finally:
                br.close()
                shutil.rmtree(wd.sub("chromium-profile"), ignore_errors=True)
        h.check(rp.stop() == 0, "reporter exit")
        cl.close()
        agg.stop()


if __name__ == "__main__":
    h.main([test_life_report])
