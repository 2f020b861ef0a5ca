"""National mode: three provinces (Lâm Đồng and the two GENERATED test
provinces of examples/national-demo), each with its own real aggregator and
real collectors (chitieu-collector run --once) on ipc sockets, followed by one
chitieu-reporter --national.

  exact        every province's row equals chitieu-audit replay of that
               province's store at the seq the report pins (all program
               figures, units, head); the national totals are the sums;
               chitieu-audit national-replay reproduces the report byte for
               byte from the three stores (or a .ctlog export for one) and the
               report's pins; /metrics per province (promtool check metrics)
  stale/live   one aggregator SIGKILLed: that province turns stale (the age of
               its figures shown; dimmed on the page and named in its banner),
               its last figures stay in the totals, the others stay live;
               restarted and fed: live again, totals exact
  other store  one aggregator restarted on an empty data directory: the
               national reporter resyncs that province only (the others'
               views take no snapshot), figures exact
  page         headless Chromium: the national table, a province's units and
               a unit's staff show the figures /status.json has; /report.xlsx
               (openpyxl) and /report.csv (BOM) hold the report's figures
  languages    the VI/EN switch: every label of the three views switches
               (exact texts), the choice survives a reload; the national page
               and the HQ page (a reporter of one province) use the same
               Vietnamese words for a feed state and a verdict
  mismatch     a province whose aggregator runs another campaign file
  curve        CurveZMQ with per-province server keys, one of them wrong
"""
import json
import os
import shutil
import time
import urllib.request

import reporter_common as rc
from reporter_common import h

NOW = "2023-07-27T12:00:00+07:00"
EX = os.path.join(h.SRC, "examples")
PROVS = [  # code, campaign, districts the collectors serve
    (68, os.path.join(EX, "lamdong-2023", "campaign.ini"), (672, 68)),
    (901, os.path.join(EX, "national-demo", "gen-a", "campaign.ini"), (9011, 9013)),
    (902, os.path.join(EX, "national-demo", "gen-b", "campaign.ini"), (9021, 9022)),
]
PROG_KEYS = ("net", "target", "pct", "remaining", "gross", "cancelled", "repeats", "expected",
             "required_daily", "projection", "verdict", "staff_met")


class Province:
    def __init__(self, wd, code, campaign, districts):
        self.wd, self.code, self.campaign, self.districts = wd, code, campaign, districts
        self.ep = {k: wd.ipc(f"{k}{code}") for k in ("ingest", "feed", "snap")}
        self.data = wd.sub(f"data{code}")
        self.agg = None
        self.outboxes = {}

    def start(self, data=None, security=("--insecure",)):
        self.data = data or self.data
        self.agg = self.wd.start(
            [h.binary("chitieu-aggregator"), "--data", self.data, *security, "--campaign",
             self.campaign, "--ingest", self.ep["ingest"], "--feed", self.ep["feed"],
             "--snapshot", self.ep["snap"], "--stats-interval", "0"], name=f"agg{self.code}")
        self.agg.wait_log(r'msg="ready"')

    def deliver(self, seed, count, tag=""):
        """count simulated events per district, through real collectors."""
        for d in self.districts:
            ob = self.wd.sub(f"outbox{self.code}-{d}{tag}")
            if ob not in self.outboxes:
                h.run([h.binary("chitieu-collector"), "init", "--outbox", ob, "--district", str(d),
                       "--campaign", self.campaign])
                self.outboxes[ob] = True
            h.run([h.binary("chitieu-collector"), "simulate", "--outbox", ob, "--seed",
                   str(seed * 1000 + d), "--count", str(count)])
            h.run([h.binary("chitieu-collector"), "run", "--once", "--outbox", ob, "--server",
                   self.ep["ingest"], "--insecure", "--stats-interval", "0", "--give-up", "30"],
                  timeout=60)

    def snapshot(self):
        return rc.snapshot({"feed": self.ep["feed"], "snapshot": self.ep["snap"]})


def national_ini(wd, provs, server_keys=None):
    lines = ["[national]", "id = test-national", "name = Toàn quốc (kiểm thử)",
             "target.bhxh_tn = 250", "target.bhyt_hgd = 450", ""]
    for p in provs:
        lines += [f"[province {p.code}]", f"name = Tỉnh {p.code}", f"campaign = {p.campaign}",
                  f"feed = {p.ep['feed']}", f"snapshot = {p.ep['snap']}"]
        if server_keys:
            lines.append(f"server_key = {server_keys[p.code]}")
        lines.append("")
    path = wd.sub("national.ini")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return path


def read_report(path):
    with open(path, "rb") as f:
        raw = f.read()
    return raw, json.loads(raw)


def wait_for(fn, timeout, what):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out: {what} (last {last!r:.300})")


def prov_of(rep, code):
    return next(p for p in rep["provinces"] if p["code"] == code)


def replay(p, seq, feed):
    r = h.run([h.binary("chitieu-audit"), "replay", "--data", p.data, "--campaign", p.campaign,
               "--seq", str(seq), "--now", NOW, "--format", "json", "--feed-label", feed,
               "--quiet"])
    return json.loads(r.stdout)


def check_exact(rep, provs):
    """Each province's row = its replay at the pinned seq; totals = sums."""
    tot = {q: {"net": 0, "gross": 0, "cancelled": 0, "repeats": 0, "staff_met": 0}
           for q in rc.PROGS}
    h.check(rep["provinces_included"] == len(provs), f"included {rep['provinces_included']}")
    for p in provs:
        row = prov_of(rep, p.code)
        h.check(row["figures"], f"{p.code} has figures")
        rp = replay(p, row["seq"], row["feed"])
        h.check(rp["head"] == row["head"], f"{p.code}: head {row['head']} != replay {rp['head']}")
        for q in rc.PROGS:
            got = {k: row["programs"][q][k] for k in PROG_KEYS}
            want = {k: rp["province"]["programs"][q][k] for k in PROG_KEYS}
            h.check(got == want, f"{p.code} {q}: {got} != replay {want}")
            for k in tot[q]:
                tot[q][k] += want[k]
        h.check([(d["code"], {q: d["programs"][q]["net"] for q in rc.PROGS})
                 for d in row["districts"]] ==
                [(d["code"], {q: d["programs"][q]["net"] for q in rc.PROGS})
                 for d in rp["districts"]], f"{p.code}: units")
    for q in rc.PROGS:
        t = rep["totals"]["programs"][q]
        h.check({k: t[k] for k in tot[q]} == tot[q], f"national {q}: {t} != sum {tot[q]}")
    return tot


def check_national_replay(wd, ini, raw, rep, provs, ctlog=None):
    """ctlog: the code of a province replayed from a .ctlog export of its
    store (to its pinned seq) instead of the store."""
    out = wd.sub("replayed.json")
    srcs = {p.code: p.data for p in provs}
    if ctlog:
        p = next(x for x in provs if x.code == ctlog)
        srcs[ctlog] = wd.sub(f"export{ctlog}.ctlog")
        h.run([h.binary("chitieu-audit"), "export", "--data", p.data, "--campaign", p.campaign,
               "--format", "ctlog", "--to-seq", str(prov_of(rep, ctlog)["seq"]), "--output",
               srcs[ctlog], "--quiet"])
    src = ",".join(f"{c}={d}" for c, d in srcs.items())
    h.run([h.binary("chitieu-audit"), "national-replay", "--national", ini, "--sources", src,
           "--pins", rep["pins"], "--format", "json", "--output", out, "--quiet"])
    with open(out, "rb") as f:
        again = f.read()
    h.check(again == raw, f"national-replay differs:\n{again[:400]!r}\n{raw[:400]!r}")


def feed_doc(base):
    with urllib.request.urlopen(base + "/feed.json", timeout=10) as r:
        return {p["code"]: p for p in json.loads(r.read())["provinces"]}


def settled(out, provs):
    """The report once every province is live at its aggregator's seq."""
    want = {p.code: p.snapshot() for p in provs}

    def ok():
        if not os.path.exists(out):
            return None
        raw, rep = read_report(out)
        for code, snp in want.items():
            row = prov_of(rep, code)
            if row["feed"] != "live" or row["seq"] != snp["s"] or row["head"] != bytes(snp["h"]).hex():
                return None
        return raw, rep
    return wait_for(ok, 20, "every province live at its aggregator's position")


def status(base):
    with urllib.request.urlopen(base + "/status.json", timeout=10) as r:
        return json.loads(r.read())


def page_read(br, base, expr, what):
    """(report, value of expr) read from the page while it shows the report
    /status.json has (the documents move on with the ages: retried)."""
    for _ in range(20):
        rep = status(base)
        got = br.js(f"({{pins: document.body.dataset.seqs, v: ({expr})}})")
        if got["pins"] == rep["pins"] and got["v"] is not None:
            return rep, got["v"]
        time.sleep(0.3)
    raise AssertionError(f"page never showed /status.json's report: {what}")


def check_page(wd, base):
    import cdp
    if not os.path.exists(cdp.CHROMIUM):
        h.skip("chromium missing: page not checked")
        return
    # the page's documents follow the output file at most once a second: wait
    # until they have every province live, so the page is read in that state
    wait_for(lambda: all(p["feed"] == "live" for p in status(base)["provinces"]) or None, 20,
             "/status.json with every province live")
    br = cdp.Browser(base + "/", wd.sub("chromium-profile"), size="1400,1000")
    try:
        br.wait("!!document.body.dataset.seqs && document.querySelectorAll('tr.prov').length > 0",
                20, "page shows a report")
        for q in rc.PROGS:
            rep, (rows, tot) = page_read(br, base, f"""[Array.from(document.querySelectorAll('#nat-{q} tr.prov')).map(tr => ({{
                code: Number(tr.dataset.code), rank: tr.children[0].dataset.v,
                net: Number(tr.children[3].dataset.v), target: Number(tr.children[4].dataset.v),
                feed: tr.dataset.feed }})), (() => {{ const tr = document.querySelector('#nat-{q} tr.total');
                return [Number(tr.children[3].dataset.v), Number(tr.children[4].dataset.v)]; }})()]""",
                                         f"national table {q}")
            want = [{"code": c, "rank": str(prov_of(rep, c)["programs"][q]["rank"]),
                     "net": prov_of(rep, c)["programs"][q]["net"],
                     "target": prov_of(rep, c)["programs"][q]["target"],
                     "feed": prov_of(rep, c)["feed"]} for c in rep["rankings"][q]]
            h.check(len(want) == 3 and rows == want, f"national table {q}: {rows} != {want}")
            t = rep["totals"]["programs"][q]
            h.check(tot == [t["net"], t["target"]], f"total row {q}: {tot}")
        for code in (68, 901, 902):
            br.js(f"location.hash = '#/p/{code}'")
            br.wait(f"document.body.dataset.view === 'province' && "
                    f"document.getElementById('view-province').dataset.province === '{code}' && "
                    f"document.querySelectorAll('#prov-table tr.dist').length > 0", 10,
                    f"province view {code}")
            rep, got = page_read(br, base, """Array.from(document.querySelectorAll('#prov-table tr.dist')).map(tr =>
                [Number(tr.dataset.code), Number(tr.children[3].dataset.v), Number(tr.children[6].dataset.v)])""",
                                 f"province {code}")
            want = [[d["code"], d["programs"]["bhxh_tn"]["net"], d["programs"]["bhyt_hgd"]["net"]]
                    for d in prov_of(rep, code)["report"]["districts"]]
            h.check(got == want, f"province {code} units: {got} != {want}")
        dcode = PROVS[1][2][0]
        br.js(f"location.hash = '#/p/901/d/{dcode}'")
        br.wait("document.body.dataset.view === 'district' && "
                "document.querySelectorAll('#staff-table tr.staff').length > 0", 10, "unit's staff")
        rep, got = page_read(br, base, """Array.from(document.querySelectorAll('#staff-table tr.staff')).map(tr =>
            [tr.dataset.id, Number(tr.children[2].dataset.v), Number(tr.children[3].dataset.v)])""",
                             "staff")
        d = next(x for x in prov_of(rep, 901)["report"]["districts"] if x["code"] == dcode)
        want = [[m["id"], m["bhxh_tn"], m["bhyt_hgd"]] for m in d["members"]]
        h.check(got == want and len(want) == d["staff"], f"staff of {dcode}: {got} != {want}")
    finally:
        br.close()


NAT_HEAD = {"vi": ["Hạng", "Mã", "Tỉnh", "Đã vận động", "Chỉ tiêu", "%", "Đánh giá", "Nguồn",
                   "Tuổi số liệu", "seq"],
            "en": ["Rank", "ID", "Province", "Signed up", "Target", "%", "Verdict", "Source",
                   "Age of figures", "seq"]}
PROV_HEAD = {"vi": ["Mã", "Đơn vị", "Cán bộ"] + [x for q in rc.PROGS for x in (q + " đạt", "chỉ tiêu", "%")],
             "en": ["ID", "Office", "Staff"] + [x for q in rc.PROGS for x in (q + " signed up", "target", "%")]}
STAFF_HEAD = {"vi": ["Mã cán bộ", "Họ tên"] + rc.PROGS, "en": ["Staff ID", "Name"] + rc.PROGS}
VERDICT = {"vi": {"reached": "đã đạt", "on_track": "đúng tiến độ", "at_risk": "có nguy cơ",
                  "not_started": "chưa bắt đầu", "missed": "không đạt"},
           "en": {"reached": "reached", "on_track": "on track", "at_risk": "at risk",
                  "not_started": "not started", "missed": "missed"}}
# the page's labels (everything but the data: names from the files, figures, reasons)
LABELS_JS = """(() => {
  const tx = s => s ? s.textContent : null;
  const heads = id => Array.from(document.querySelectorAll('#' + id + ' thead th')).map(th => th.textContent);
  const cells = i => Array.from(document.querySelectorAll('#nat-bhxh_tn tr.prov, #nat-bhxh_tn tr.total'))
    .map(tr => [tr.children[i].dataset.v, tr.children[i].textContent]);
  return { lang: document.documentElement.lang, stored: localStorage.getItem('chitieu-lang'),
    pressed: [document.getElementById('lang-vi').getAttribute('aria-pressed'),
              document.getElementById('lang-en').getAttribute('aria-pressed')],
    nat: heads('nat-bhxh_tn'), prov: heads('prov-table'), staff: heads('staff-table'),
    h2: Array.from(document.querySelectorAll('#view-national h2')).map(tx),
    total: tx(document.querySelector('#nat-bhxh_tn tr.total td:nth-child(3)')),
    verdicts: cells(6), feeds: cells(7), ages: cells(8).slice(0, 3).map(c => c[1]),
    crumb: tx(document.getElementById('crumb-n')), badge: tx(document.getElementById('feed')),
    asof: tx(document.getElementById('asof')), incl: tx(document.getElementById('incl')) }; })()"""


def check_page_lang(wd, base, rep):
    """The VI/EN switch: every label of the national page, its province and
    unit views switches; the choice survives a reload (localStorage, as on
    the HQ page)."""
    import cdp
    if not os.path.exists(cdp.CHROMIUM):
        return
    feed = {"vi": "trực tiếp", "en": "live"}
    br = cdp.Browser(base + "/", wd.sub("chromium-profile-lang"), size="1400,1000")
    try:
        ready = "document.querySelectorAll('#nat-bhxh_tn tr.prov').length === 3"
        br.wait(ready, 20, "page shows a report")
        for lang in ("vi", "en", "en-reloaded", "vi"):
            lg = lang[:2]
            if lang == "en-reloaded":
                br.js("location.hash = '#/'")
                br.js("window.__before = 1; location.reload()")
                br.wait("!window.__before && " + ready, 20, "page reloaded")
            else:
                br.js(f"document.getElementById('lang-{lg}').click()")
            br.js("location.hash = '#/'")
            br.wait(f"document.documentElement.lang === '{lg}' && document.body.dataset.view === 'national'",
                    10, "national view")
            got = br.js(LABELS_JS)
            h.check(got["lang"] == lg and got["stored"] == lg and
                    got["pressed"] == (["true", "false"] if lg == "vi" else ["false", "true"]),
                    f"{lang}: {got}")
            h.check(got["nat"] == NAT_HEAD[lg], f"{lang} headers: {got['nat']}")
            tw = {"vi": "chỉ tiêu toàn quốc", "en": "national target"}[lg]
            h.check(len(got["h2"]) == 2 and all(f": {tw} " in x for x in got["h2"]), f"{lang}: {got['h2']}")
            nation = {"vi": "Toàn quốc", "en": "Nation"}[lg]
            h.check(got["total"] == f"{nation} (3/3 {'tỉnh' if lg == 'vi' else 'provinces'})",
                    f"{lang} total: {got['total']}")
            h.check(got["crumb"] == nation and got["badge"] == feed[lg], f"{lang}: {got}")
            h.check(all(t == VERDICT[lg][v] for v, t in got["verdicts"]) and len(got["verdicts"]) == 4,
                    f"{lang} verdicts: {got['verdicts']}")
            h.check([t for _, t in got["feeds"][:3]] == [feed[lg]] * 3, f"{lang} feeds: {got['feeds']}")
            sep = "," if lg == "vi" else "."
            h.check(all(a.endswith(" s") and sep in a for a in got["ages"]), f"{lang} ages: {got['ages']}")
            h.check(got["asof"] == {"vi": "Cập nhật ", "en": "Updated "}[lg] + rep["as_of"] and
                    got["incl"] == "3/3 " + {"vi": "tỉnh có số liệu", "en": "provinces with figures"}[lg],
                    f"{lang}: {got['asof']!r} {got['incl']!r}")
            br.js("location.hash = '#/p/901'")
            br.wait("document.body.dataset.view === 'province' && "
                    "document.querySelectorAll('#prov-table tr.dist').length > 0", 10, "province view")
            got = br.js(LABELS_JS)
            h.check(got["prov"] == PROV_HEAD[lg] and got["crumb"] == nation, f"{lang} province: {got['prov']}")
            br.js(f"location.hash = '#/p/901/d/{PROVS[1][2][0]}'")
            br.wait("document.body.dataset.view === 'district' && "
                    "document.querySelectorAll('#staff-table tr.staff').length > 0", 10, "unit view")
            got = br.js(LABELS_JS)
            h.check(got["staff"] == STAFF_HEAD[lg], f"{lang} staff: {got['staff']}")
            for what, want in (("#/p/999", {"vi": "Chưa có số liệu của tỉnh này.",
                                            "en": "No figures for this province yet."}),
                               ("#/p/901/d/1", {"vi": "Không có đơn vị này.", "en": "No such office."})):
                br.js(f"location.hash = '{what}'")
                view = "province" if "/d/" not in what else "district"
                got = br.js(f"document.getElementById('view-{view}').textContent")
                h.check(got == want[lg], f"{lang} {what}: {got!r}")
    finally:
        br.close()


# the feed states and verdicts in Vietnamese: the same words on both pages
FEED_VI = {"live": "trực tiếp", "lagging": "đang đồng bộ", "stale": "mất tín hiệu",
           "not_connected": "chưa kết nối"}
SHARED_JS = """(() => ({ feed: FEED.vi, verdict: VERDICT.vi, lang: document.documentElement.lang,
  badge: document.getElementById('feed').textContent }))()"""


def check_labels_shared(wd, base, prov):
    """The national page and the HQ page (a chitieu-reporter of one province)
    name a feed state and a verdict with the same words, in Vietnamese: both
    pages' tables and their live badges."""
    import cdp
    if not os.path.exists(cdp.CHROMIUM):
        return
    port = h.free_port()
    hq = wd.start([h.binary("chitieu-reporter"), "--insecure", "--campaign", prov.campaign,
                   "--feed", prov.ep["feed"], "--snapshot", prov.ep["snap"], "--interval", "0.3",
                   "--format", "json", "--output", wd.sub("hq68.json"), "--now", NOW,
                   "--http", f"127.0.0.1:{port}"], name="hq68")
    try:
        hq.wait_log(r'msg="http ready"')
        got = {}
        for page, url, ready in (
                ("national", base + "/?lang=vi",
                 "document.querySelectorAll('#nat-bhxh_tn tr.prov').length === 3"),
                ("hq", f"http://127.0.0.1:{port}/?lang=vi",
                 "document.getElementById('feed').dataset.state === 'live'")):
            br = cdp.Browser(url, wd.sub(f"chromium-profile-{page}"), size="1200,800")
            try:
                br.wait(ready, 20, f"{page} page live")
                got[page] = br.js(SHARED_JS)
            finally:
                br.close()
        for page, g in got.items():
            h.check(g["lang"] == "vi" and g["badge"] == "trực tiếp", f"{page}: {g}")
            h.check({k: g["feed"][k] for k in FEED_VI} == FEED_VI, f"{page} feed words: {g['feed']}")
            h.check(g["verdict"] == VERDICT["vi"], f"{page} verdicts: {g['verdict']}")
        h.check(got["national"]["feed"] == got["hq"]["feed"], f"feed words differ: {got}")
    finally:
        h.check(hq.stop() == 0, "HQ reporter exit code")


def check_csv_replay(wd, ini, provs):
    """A --once CSV report (UTF-8 BOM, its pins in its last row) reproduced by
    national-replay --format csv byte for byte."""
    import csv
    import io
    out = wd.sub("once.csv")
    h.run([h.binary("chitieu-reporter"), "--insecure", "--national", ini, "--once", "--format",
           "csv", "--output", out, "--now", NOW], timeout=60)
    with open(out, "rb") as f:
        raw = f.read()
    h.check(raw.startswith(b"\xef\xbb\xbf"), "BOM")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    h.check(rows[-1][0] == "pins" and len(rows[-1]) == len(rows[0]), f"pins row {rows[-1]}")
    again = wd.sub("again.csv")
    h.run([h.binary("chitieu-audit"), "national-replay", "--national", ini, "--sources",
           ",".join(f"{p.code}={p.data}" for p in provs), "--pins", rows[-1][2], "--format", "csv",
           "--output", again, "--quiet"])
    with open(again, "rb") as f:
        h.check(f.read() == raw, "national-replay --format csv differs")


def check_page_stale(wd, base):
    """The stale province is dimmed on the page, named in the banner with the
    age of its figures; the others are not."""
    import cdp
    if not os.path.exists(cdp.CHROMIUM):
        return
    br = cdp.Browser(base + "/", wd.sub("chromium-profile-stale"), size="1400,1000")
    try:
        br.wait("document.querySelectorAll('#nat-bhxh_tn tr.prov').length === 3 && "
                "document.querySelector('#nat-bhxh_tn tr.prov[data-code=\"901\"]').dataset.feed "
                "=== 'stale'", 20, "page: 901 stale")
        got = br.js("""(() => { const o = {};
            for (const tr of document.querySelectorAll('#nat-bhxh_tn tr.prov'))
              o[tr.dataset.code] = getComputedStyle(tr.children[3]).opacity;
            const b = document.getElementById('banner');
            return { op: o, banner: b.hidden ? '' : b.textContent,
                     badge: document.getElementById('feed').dataset.state }; })()""")
        h.check(float(got["op"]["901"]) < 1 and got["op"]["68"] == "1" and got["op"]["902"] == "1",
                f"dimmed: {got}")
        h.check("Tỉnh 901: mất tín hiệu, số liệu cách đây" in got["banner"] and "902" not in got["banner"],
                f"banner: {got}")
        h.check(got["badge"] == "partial", f"badge: {got}")
    finally:
        br.close()


def check_metrics(wd, base, rep):
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        body = r.read().decode()
    for p in rep["provinces"]:
        h.check(f'chitieu_national_province_feed_state{{province="{p["code"]}",state="live"}} 1'
                in body, f"metrics: {p['code']} live")
    t = rep["totals"]["programs"]["bhxh_tn"]["net"]
    h.check(f'chitieu_national_net{{program="bhxh_tn"}} {t}' in body, "metrics: national net")
    h.promtool_check(body, "the national /metrics")


def check_downloads(base, rep):
    """/report.xlsx (openpyxl) and /report.csv (csv module, BOM) hold the
    report's figures once they are made at its positions."""
    import csv
    import io
    import openpyxl
    seqs = {p["code"]: p["seq"] for p in rep["provinces"]}

    def xlsx():
        with urllib.request.urlopen(base + "/report.xlsx", timeout=10) as r:
            wb = openpyxl.load_workbook(io.BytesIO(r.read()), read_only=True)
        rows = list(wb["provinces"].iter_rows(values_only=True))
        head = rows[0]
        recs = [dict(zip(head, x)) for x in rows[1:] if x[0] in ("province", "national")]
        units = [dict(zip(head, x)) for x in list(wb["units"].iter_rows(values_only=True))[1:]]
        got = {(int(x["province_code"]), x["program"]): int(x["seq"])
               for x in recs if x["level"] == "province"}
        ok = got == {(c, q): seq for c, seq in seqs.items() for q in rc.PROGS}
        return (recs, units) if ok else None
    recs, units = wait_for(xlsx, 15, "the workbook at the report's positions")
    for x in recs:
        if x["level"] == "province":
            g = prov_of(rep, int(x["province_code"]))["programs"][x["program"]]
            h.check((x["net"], x["target"], x["rank"]) == (g["net"], g["target"], g["rank"]),
                    f"xlsx row {x}")
        else:
            t = rep["totals"]["programs"][x["program"]]
            h.check((x["net"], x["target"]) == (t["net"], t["target"]), f"xlsx national {x}")
    h.check(len(units) == 2 * sum(len(p["districts"]) for p in rep["provinces"]), "xlsx units")
    with urllib.request.urlopen(base + "/report.csv", timeout=10) as r:
        body = r.read()
    h.check(body.startswith(b"\xef\xbb\xbf"), "CSV with a BOM")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    nat = {x["program"]: int(x["net"]) for x in rows if x["level"] == "national"}
    h.check(set(nat) == set(rc.PROGS), f"CSV national rows {nat}")


def test_national():
    with h.Workdir("national") as wd:
        provs = [Province(wd, *x) for x in PROVS]
        for p in provs:
            p.start()
        for i, p in enumerate(provs):
            p.deliver(i + 1, 60)
        ini = national_ini(wd, provs)
        out = wd.sub("national.json")
        port = h.free_port()
        base = f"http://127.0.0.1:{port}"
        rp = wd.start([h.binary("chitieu-reporter"), "--insecure", "--national", ini,
                       "--interval", "0.3", "--format", "json", "--output", out, "--now", NOW,
                       "--http", f"127.0.0.1:{port}"], name="national")
        rp.wait_log(r'msg="http ready"')

        # exact figures, and national-replay byte for byte
        raw, rep = settled(out, provs)
        check_exact(rep, provs)
        check_national_replay(wd, ini, raw, rep, provs)
        check_national_replay(wd, ini, raw, rep, provs, ctlog=901)
        check_page(wd, base)
        check_page_lang(wd, base, rep)
        check_labels_shared(wd, base, provs[0])
        check_metrics(wd, base, rep)
        check_downloads(base, rep)

        # one province killed: stale (with its age), the others live, totals exact
        a = provs[1]
        a.agg.kill9()
        raw, rep = wait_for(lambda: (lambda r: r if prov_of(r[1], 901)["feed"] == "stale" else None)(
            read_report(out)), 25, "province 901 stale")
        h.check(prov_of(rep, 901)["age_ms"] > 10000, f"age {prov_of(rep, 901)['age_ms']}")
        h.check(all(prov_of(rep, c)["feed"] == "live" for c in (68, 902)), "others live")
        check_exact(rep, provs)
        check_national_replay(wd, ini, raw, rep, provs)
        check_page_stale(wd, base)
        a.start()
        a.deliver(7, 15)
        raw, rep = settled(out, provs)
        check_exact(rep, provs)

        # one province restarted on an empty store: only that one resyncs
        before = feed_doc(base)
        b = provs[2]
        h.check(b.agg.stop() == 0, "aggregator 902 exit code")
        b.start(data=wd.sub("data902-fresh"))
        b.deliver(9, 10, tag="-fresh")
        raw, rep = settled(out, provs)
        after = feed_doc(base)
        for c in (68, 901):
            h.check(after[c]["snapshots"] == before[c]["snapshots"],
                    f"{c} took a snapshot: {before[c]} -> {after[c]}")
        h.check(after[902]["snapshots"] > before[902]["snapshots"], "902 resynced")
        check_exact(rep, provs)
        check_national_replay(wd, ini, raw, rep, provs)
        h.check(rp.stop() == 0, "reporter exit code")
        for p in provs:
            h.check(p.agg.stop() == 0, f"aggregator {p.code} exit code")


def test_national_file_errors():
    with h.Workdir("national-bad") as wd:
        bad = wd.sub("bad.ini")
        camp = PROVS[1][1]
        for text, want in [
            ("[national]\nid = x\n[province 901]\nname = A\ncampaign = " + camp +
             "\nfeed = ipc://a\n", "bad.ini:3: [province 901] has no 'snapshot' key"),
            ("[national]\nid = x\ncolour = red\n", "bad.ini:3: unknown key 'colour' in [national]"),
            ("[national]\nid = x\n[province 901]\nname = A\ncampaign = " + camp +
             "\nfeed = ipc://a, tcp://b:1\nsnapshot = ipc://s\n",
             "bad.ini:7: [province 901]: 'snapshot' lists 1 endpoints, 'feed' 2"),
            ("[national]\nid = x\n[province 901]\nname = A\ncampaign = " + camp +
             "\nfeed = ipc://a\nsnapshot = ipc://s\nfingerprint = " + "00" * 32 + "\n",
             "bad.ini:8: province 901: the fingerprint pinned here differs"),
            ("[national]\nid = x\n[province 901]\nname = A\ncampaign = nope.ini\n"
             "feed = ipc://a\nsnapshot = ipc://s\n", "bad.ini:5: province 901: "),
        ]:
            with open(bad, "w", encoding="utf-8") as f:
                f.write(text)
            r = h.run([h.binary("chitieu-reporter"), "--insecure", "--national", bad, "--once"],
                      check=False, timeout=30)
            h.check(r.returncode == 2, f"exit {r.returncode} for {want}")
            h.check(want in r.stderr, f"want {want!r} in {r.stderr!r}")
        shutil.rmtree(wd.sub("x"), ignore_errors=True)


def test_campaign_mismatch():
    """A province whose aggregator runs another campaign file than the national
    file names: campaign_mismatch, no figures, the others reported."""
    with h.Workdir("national-mismatch") as wd:
        good = Province(wd, 902, PROVS[2][1], PROVS[2][2])
        other = wd.sub("gen-a-copy")
        shutil.copytree(os.path.dirname(PROVS[1][1]), other)
        with open(os.path.join(other, "campaign.ini"), "a", encoding="utf-8") as f:
            f.write("; another file, the same id\n")
        bad = Province(wd, 901, os.path.join(other, "campaign.ini"), PROVS[1][2])
        good.start()
        bad.campaign = PROVS[1][1]  # the aggregator runs the original
        bad.start()
        bad.campaign = os.path.join(other, "campaign.ini")  # the national file names the copy
        good.deliver(1, 5)
        ini = national_ini(wd, [bad, good])
        r = h.run([h.binary("chitieu-reporter"), "--insecure", "--national", ini, "--once",
                   "--timeout", "3", "--format", "json", "--now", NOW], check=False, timeout=60)
        h.check(r.returncode == 1, f"exit {r.returncode}: {r.stderr[-500:]}")
        rep = json.loads(r.stdout)
        h.check(prov_of(rep, 901)["feed"] == "campaign_mismatch" and
                not prov_of(rep, 901)["figures"], f"901: {prov_of(rep, 901)}")
        h.check(prov_of(rep, 902)["feed"] == "live" and prov_of(rep, 902)["figures"], "902 live")
        h.check(rep["provinces_included"] == 1 and rep["rankings"]["bhxh_tn"] == [902], "totals")
        h.check("aggregator_campaign=gen-a-2023" in r.stderr, "both campaigns named in the log")


def test_curve():
    """CurveZMQ: each province's aggregator has its own key and authorizes the
    national reporter's key; a province whose server_key is wrong is
    not_connected with the handshake named, the other live with the figures
    its aggregator had in plaintext."""
    with h.Workdir("national-curve") as wd:
        rpub, rsec = rc.cp.curve_keypair()
        rc.cp.write_keyfiles(wd.sub("national"), rpub, rsec)
        provs = [Province(wd, *PROVS[1]), Province(wd, *PROVS[2])]
        pubs = {}
        for p in provs:
            p.start()
            p.deliver(p.code, 8)
            plain = p.snapshot()
            h.check(p.agg.stop() == 0, "aggregator exit")
            spub, ssec = rc.cp.curve_keypair()
            rc.cp.write_keyfiles(wd.sub(f"server{p.code}"), spub, ssec)
            with open(wd.sub(f"auth{p.code}.txt"), "w") as f:
                f.write(f"{rpub} reporter national\n")
            p.start(security=("--keys", wd.sub(f"server{p.code}.key"), "--auth",
                              wd.sub(f"auth{p.code}.txt")))
            pubs[p.code] = wd.sub(f"server{p.code}.pub")
            p.plain = plain
        pubs[902] = pubs[901]  # the wrong key for 902
        ini = national_ini(wd, provs, pubs)
        r = h.run([h.binary("chitieu-reporter"), "--keys", wd.sub("national.key"), "--national",
                   ini, "--once", "--timeout", "4", "--format", "json", "--now", NOW],
                  check=False, timeout=60)
        h.check(r.returncode == 1, f"exit {r.returncode}: {r.stderr[-500:]}")
        rep = json.loads(r.stdout)
        a, b = prov_of(rep, 901), prov_of(rep, 902)
        h.check(a["feed"] == "live" and a["seq"] == provs[0].plain["s"] and
                a["head"] == bytes(provs[0].plain["h"]).hex(), f"901: {a}")
        h.check(b["feed"] == "not_connected" and not b["figures"], f"902: {b}")
        h.check('province=902 feed=not_connected' in r.stderr and "handshake" in r.stderr,
                f"the handshake failure is named: {r.stderr[-1500:]}")
        for p in provs:
            h.check(p.agg.stop() == 0, "aggregator exit")


if __name__ == "__main__":
    h.main([test_national_file_errors, test_campaign_mismatch, test_curve, test_national])
