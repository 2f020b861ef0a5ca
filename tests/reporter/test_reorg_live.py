"""Unit reorganizations end to end (docs/PROTOCOL.md §4.5): a real
chitieu-aggregator, "reorg" life entries over the wire, a real
chitieu-reporter (--units current|original) and chitieu-audit replay on the
data directory afterwards.

  example      examples/lamdong-2023-merge/campaign.ini is the shipped campaign
               and one [reorg] section; its replay.py as shipped: Đạ Tẻh (682)
               merged into Đạ Huoai (681) from 2023-07-27: the current
               projection's 681 is exactly 681 + 682 of the original one in
               every figure summed by unit, 682 is gone, 681 has its new name
               and the moved staff member, the province is the same; the
               replay reproduces the reporter's json, table and csv byte for
               byte in both projections, and the report made before the merger
               byte for byte after it.
  page         the reporter serves the report by both projections
               (/status-current.json, /status-original.json) and the live page's
               switch "Đơn vị: theo tổ chức hiện tại / ban đầu" (headless Chromium)
               shows 682 only by the original units.
  split+merge  a campaign whose unit 672 lists 4 communes with 10 sign-ups each
               (2 of Phường 1 cancelled): "split" sends Phường 1 and 2 to 673,
               so by the units in force 672 keeps exactly the 20 of Phường 3
               and 4 and 673 gains exactly 18; then "merge" sends 672 and 673
               whole into the new unit 690: exactly the sum (44); the original
               projection is unchanged; every report reproduced by the replay.
  part close   672 closes 22 July, then 3 sign-ups of that day arrive; once
               672 and 673 are merged into 690, 690's 22 July is closed "by
               part" (part:672, seq of the close): recorded 4 + 3 + 2,
               official 4 + 2 (672 as at its close); by the original units
               672's own close (official 4 of 7); the replay reproduces the
               json, table and days-csv of both projections byte for byte;
               the live page's closed days (headless Chromium) list that day
               under 690 marked "closed for part 672", as /status.json says,
               in Vietnamese and English.

The browser part reports itself skipped (77) when Chromium is not installed.
"""
import hashlib
import json
import os
import shutil
import struct
import sys
import time
import urllib.error
import urllib.request

import cdp

import ctharness as H  # noqa: E402
import ctproto as P  # noqa: E402
from ctharness import check  # noqa: E402

sys.path.insert(0, os.path.join(H.SRC, "examples", "lamdong-2023-merge"))
import replay as EX  # noqa: E402

BIN = os.path.dirname(H.binary("chitieu-reporter"))
PROGS = ("bhxh_tn", "bhyt_hgd")


class NoLife(Exception):
    pass


def units_of(report):
    """{code: district JSON object} of a --format json report."""
    return {d["code"]: d for d in json.loads(report.splitlines()[0])["districts"]}


def province(report):
    return json.loads(report.splitlines()[0])["province"]


def figures(d, p):
    g = d["programs"][p]
    return {k: g[k] for k in ("net", "gross", "cancelled", "repeats")}


def life_supported(wd):
    """Whether this build's aggregator takes life entries (a reorg naming an
    undeclared reorganization is refused by the campaign check, unknown_reorg,
    not by the decoder)."""
    agg = EX.Aggregator(BIN, wd.sub("probe"), EX.CAMPAIGN)
    try:
        cl = P.Client(agg.eps["in"])
        r = cl.call([EX.reorg_entry(1, name="no-such-reorg")], timeout=20)
        cl.close()
    finally:
        agg.stop()
    check(r is not None and r["k"] == "ack", f"no ack: {r}")
    code = P.ERR_NAME.get(r["r"][0][2])
    return code == "unknown_reorg", code


def test_example_file():
    """The example is the shipped campaign, its roster, and one [reorg] section."""
    with open(os.path.join(H.SRC, "examples", "lamdong-2023", "campaign.ini"), encoding="utf-8") as f:
        shipped = f.read()
    with open(EX.CAMPAIGN, encoding="utf-8") as f:
        ex = f.read()
    want = shipped.replace("roster = staff.csv\n", "roster = ../lamdong-2023/staff.csv\n")
    check(ex.startswith(want.rstrip("\n") + "\n"), "the example starts with the shipped campaign")
    tail = ex[len(want.rstrip("\n")) + 1:]
    check(tail.count("[") == 1 and "[reorg dahuoai-merge]" in tail, f"one section: {tail}")


def test_example():
    with H.Workdir("reorg-example") as wd:
        ok, code = life_supported(wd)
        if not ok:
            raise AssertionError(f"the aggregator refuses a reorg entry as {code}")
        out = EX.demo(BIN, wd.sub("demo"), say=lambda s: print(s, flush=True))
        check(out["same"], "a replay differs from the reporter's report")
        cur, orig = units_of(out[("current", "json")]), units_of(out[("original", "json")])
        check(682 not in cur and 682 in orig, "682 is merged away in the current projection")
        check(sorted(cur) == sorted(c for c in orig if c != 682), f"units {sorted(cur)}")
        check(cur[681]["name"] == "Huyện Đạ Huoai (sau hợp nhất với Đạ Tẻh)", cur[681]["name"])
        check(orig[681]["name"] == "Huyện Đạ Huoai", orig[681]["name"])
        for p in PROGS:
            a, b, m = figures(orig[681], p), figures(orig[682], p), figures(cur[681], p)
            check(m == {k: a[k] + b[k] for k in a}, f"{p}: 681 merged {m} != {a} + {b}")
            check(m["net"] > a["net"] > 0 and b["net"] > 0, f"{p}: figures {m} {a} {b}")
            # targets: the parts' (8 + 7 staff x quota), not the staff in force
            q = 1 if p == "bhxh_tn" else 2
            check(cur[681]["programs"][p]["target"] == 15 * q, f"{p} target")
            for c in cur:
                if c != 681:
                    check(figures(cur[c], p) == figures(orig[c], p), f"{p} {c} unchanged")
        pc, po = province(out[("current", "json")]), province(out[("original", "json")])
        for p in PROGS:
            for k in ("net", "target", "gross", "cancelled", "repeats"):
                check(pc["programs"][p][k] == po["programs"][p][k], f"province {p} {k}")
        # staff rows: by the original units, LD683-001's row (unit 683) holds only
        # what they recorded for 683; by the units in force, all of it (unit 681)
        check(pc["staff"] == po["staff"] == 184, "staff")
        check(out["replay_before"] == out["before"], "report before the merger")
        check(682 in units_of(out["before"]), "before the merger 682 is a unit of the report")


SPLIT_INI = """[campaign]
id = split-test
start = 2023-07-22T08:00:00+07:00
end = 2023-08-01T00:00:00+07:00
timezone = +07:00
roster = staff.csv
[program bhxh_tn]
agent_target = 1
[program bhyt_hgd]
agent_target = 2
[district 672]
name = Đà Lạt
commune = Phường 1
commune = Phường 2
commune = Phường 3
commune = Phường 4
[district 673]
name = Bảo Lộc
commune = Phường 1
commune = Phường 2
commune = Phường B
[district 690]
name = Đơn vị hợp nhất
[reorg split]
map = 672 Phường 1 -> 673
map = 672 Phường 2 -> 673
map = 672 -> 672
[reorg merge]
map = 672 -> 690
map = 673 -> 690
rename = 690 Đà Lạt - Bảo Lộc
"""
SPLIT_ROSTER = "agent_id,name,district,org\nS1,An,672,bhxh\nS2,Bình,672,bhxh\nS3,Cường,673,bhxh\n"
E1 = EX.START + 48 * EX.HOUR
E2 = EX.START + 120 * EX.HOUR
T_SPLIT = "2023-07-26T20:00:00+07:00"  # after E1 (24 Jul 08:00), before E2 (27 Jul 08:00)
T_MERGE = "2023-07-31T20:00:00+07:00"


def split_aggregator(wd):
    """The split campaign (SPLIT_INI, SPLIT_ROSTER) written into wd and an
    aggregator started on it: returns (campaign path, aggregator)."""
    ini = wd.sub("campaign.ini")
    with open(ini, "w", encoding="utf-8") as f:
        f.write(SPLIT_INI)
    with open(wd.sub("staff.csv"), "w", encoding="utf-8") as f:
        f.write(SPLIT_ROSTER)
    return ini, EX.Aggregator(BIN, wd.sub("agg"), ini)


def test_split_merge():
    with H.Workdir("reorg-split") as wd:
        ini, agg = split_aggregator(wd)
        reports = {}
        try:
            cl = P.Client(agg.eps["in"])
            evs, n = [], 0

            def ev(unit, agent, commune, action="enroll", who=None):
                nonlocal n
                n += 1
                person = hashlib.blake2b(struct.pack(">Q", who or n), digest_size=32).digest()
                evs.append(P.event(P.event_id(b"split-ts", n), EX.START + n * 60000, unit, agent,
                                   action=action, person=person, campaign="split-test",
                                   commune=commune))
                return n

            firsts = []
            for w in ("Phường 1", "Phường 2", "Phường 3", "Phường 4"):
                for i in range(10):
                    k = ev(672, "S1" if i % 2 else "S2", w)
                    if i < 2 and w == "Phường 1":
                        firsts.append(k)
            for i in range(6):
                ev(673, "S3", "Phường B" if i % 2 else None)
            for k in firsts:  # two sign-ups of Phường 1 cancelled
                ev(672, "S1", None, action="cancel", who=k)
            EX.send(cl, evs)
            life = [EX.reorg_entry(n + 1 + i, name=nm, ef=ef, reason="tổ chức lại",
                                   campaign="split-test", origin=b"split-ts")
                    for i, (nm, ef) in enumerate((("split", E1), ("merge", E2)))]
            r = cl.call(life, timeout=20)
            check(r is not None and r["k"] == "ack", f"no ack: {r}")
            codes = [P.ERR_NAME.get(x[2]) for x in r["r"] if x[1] != P.ACCEPTED]
            if codes:
                cl.close()
                raise NoLife(codes)
            seq = r["s"]
            for units, now in (("original", T_MERGE), ("current", T_SPLIT),
                               ("current", T_MERGE)):
                for fmt in ("json", "commune-csv"):
                    reports[(units, now, fmt)] = EX.reporter(BIN, agg, ini, units, fmt, now)
            cl.close()
        except NoLife as e:
            raise AssertionError(f"the aggregator refuses reorg entries ({e})")
        finally:
            agg.stop()
        for (units, now, fmt), text in reports.items():
            got = EX.replay(BIN, agg.data, ini, units, fmt, now, seq)
            check(got == text, f"replay --units {units} --now {now} --format {fmt} differs:\n"
                               f"--- reporter\n{text.decode()}\n--- replay\n{got.decode()}")
        orig = units_of(reports[("original", T_MERGE, "json")])
        split = units_of(reports[("current", T_SPLIT, "json")])
        merged = units_of(reports[("current", T_MERGE, "json")])
        net = lambda u: u["programs"]["bhxh_tn"]["net"]  # noqa: E731
        check(sorted(orig) == [672, 673], f"original units {sorted(orig)}")
        check((net(orig[672]), net(orig[673])) == (38, 6), "original figures")
        check(sorted(split) == [672, 673], f"units after the split {sorted(split)}")
        check(net(split[672]) == 20, f"672 keeps Phường 3 and 4: {net(split[672])}")
        check(net(split[673]) == 6 + 18, f"673 gains Phường 1 (8) and 2 (10): {net(split[673])}")
        check(sorted(merged) == [690], f"units after the merger {sorted(merged)}")
        check(net(merged[690]) == 44, f"690 = 672 + 673: {net(merged[690])}")
        check(merged[690]["name"] == "Đà Lạt - Bảo Lộc", merged[690]["name"])
        # 690's target: the sum of its sources' (2 + 1 staff, quota 1 and 2)
        check(merged[690]["programs"]["bhxh_tn"]["target"] == 3, "690 bhxh_tn target")
        check(merged[690]["programs"]["bhyt_hgd"]["target"] == 6, "690 bhyt_hgd target")
        # the communes re-coded in 673's list: Phường 1 = 8 + 0, Phường 2 = 10, Phường B = 3
        rows = reports[("current", T_SPLIT, "commune-csv")].decode().splitlines()
        c673 = [r.split(",")[2:6] for r in rows if r.startswith("673,")]
        check(c673 == [["1", "Phường 1", "8", "0"], ["2", "Phường 2", "10", "0"],
                       ["3", "Phường B", "3", "0"], ["0", "", "3", "0"]],
              f"673's commune rows: {c673}")
        c672 = [r.split(",")[2:6] for r in rows if r.startswith("672,")]
        check(c672 == [["1", "Phường 1", "0", "0"], ["2", "Phường 2", "0", "0"],
                       ["3", "Phường 3", "10", "0"], ["4", "Phường 4", "10", "0"],
                       ["0", "", "0", "0"]], f"672's commune rows: {c672}")


def test_part_close():
    with H.Workdir("reorg-part-close") as wd:
        ini, agg = split_aggregator(wd)
        reports = {}
        n = 0

        def ev(unit, agent):
            nonlocal n
            n += 1
            person = hashlib.blake2b(struct.pack(">Q", n), digest_size=32).digest()
            return P.event(P.event_id(b"partclos", n), EX.START + n * 60000, unit, agent,
                           person=person, campaign="split-test")

        def life(make):
            nonlocal n
            n += 1
            r = cl.call([make(P.event_id(b"partclos", n))], timeout=20)
            check(r is not None and r["k"] == "ack" and r["r"][0][1] == P.ACCEPTED, f"life: {r}")
            return r["s"]

        try:
            cl = P.Client(agg.eps["in"])
            EX.send(cl, [ev(672, "S1") for _ in range(4)] + [ev(673, "S3") for _ in range(2)])
            close_seq = life(lambda i: P.life_close(i, EX.START + 10 * EX.HOUR, "admin", "chốt",
                                                    672, 20230722, campaign="split-test"))
            EX.send(cl, [ev(672, "S2") for _ in range(3)])  # 22 July, after the close
            seq = life(lambda i: EX.reorg_entry(n, name="merge", ef=E2, reason="hợp nhất",
                                                campaign="split-test", origin=b"partclos"))
            for units in ("current", "original"):
                for fmt in ("json", "table", "days-csv"):
                    reports[(units, fmt)] = EX.reporter(BIN, agg, ini, units, fmt, T_MERGE)
            cl.close()
            page_part_close(wd, agg, ini, seq, close_seq)
        finally:
            agg.stop()
        for (units, fmt), text in reports.items():
            got = EX.replay(BIN, agg.data, ini, units, fmt, T_MERGE, seq)
            check(got == text, f"replay --units {units} --format {fmt} differs:\n"
                               f"--- reporter\n{text.decode()}\n--- replay\n{got.decode()}")

        def day_rows(units, code):
            rows = reports[(units, "days-csv")].decode("utf-8-sig").splitlines()
            return [r.split(",")[3:10] for r in rows
                    if r.startswith(f"district,{code},") and ",2023-07-22,bhxh_tn," in r]
        cur = day_rows("current", 690)
        check(cur == [["2023-07-22", "bhxh_tn", "9", "6", str(close_seq), "part:672", "3"]],
              f"690's 22 July by units in force: {cur}")
        check(day_rows("current", 672) == [], "672 is not a unit in force")
        orig = day_rows("original", 672)
        check(orig == [["2023-07-22", "bhxh_tn", "7", "4", str(close_seq), "unit", "3"]],
              f"672's own close: {orig}")
        check(day_rows("original", 673)[0][4:6] == ["0", ""], "673 open")
        table = reports[("current", "table")].decode()
        check(f"2023-07-22 closed for part 672 (1 part(s) closed) of 690 Đà Lạt - Bảo Lộc "
              f"(seq {close_seq}): official 6 + 0, now 9 + 0" in table, table)
        life_json = json.loads(reports[("current", "json")])["life"]
        ch = [c for c in life_json["changes"] if c["seq"] == close_seq]
        check(len(ch) == 1 and ch[0]["unit"] == 690 and ch[0]["day"] == "2023-07-22",
              f"the close in the changes, under 690: {ch}")


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, None


def live_reporter(wd, agg, ini, now):
    """A live chitieu-reporter on agg's feed with --http; (process, base URL)."""
    port = H.free_port()
    rp = wd.start([os.path.join(BIN, "chitieu-reporter"), "--campaign", ini, "--insecure",
                   "--feed", agg.eps["feed"], "--snapshot", agg.eps["snap"], "--interval", "0.3",
                   "--format", "json", "--output", wd.sub("status.json"), "--now", now,
                   "--http", f"127.0.0.1:{port}"], name="reporter")
    rp.wait_log(r'msg="http ready"')
    return rp, f"http://127.0.0.1:{port}"


def wait_seq(base, path, seq):
    """The reporter's JSON at path once it reports seq (None after 10 s)."""
    for _ in range(100):
        st, j = get_json(base + path)
        if st == 200 and j and j["seq"] == seq:
            return j
        time.sleep(0.1)
    return None


def page_part_close(wd, agg, ini, seq, close_seq):
    """The live page's closed days show 690's 22 July closed by part 672, as
    /status.json (the units in force) says, in Vietnamese and in English."""
    rp, base = live_reporter(wd, agg, ini, T_MERGE)
    try:
        rep = wait_seq(base, "/status.json", seq)
        check(rep is not None, f"/status.json at seq {seq}")
        d690 = [d for d in rep["districts"] if d["code"] == 690]
        check(len(d690) == 1, "690 in /status.json")
        days = [x for x in d690[0]["life_days"] if x["day"] == "2023-07-22"]
        check(len(days) == 1 and days[0]["closed_by"] == "part" and days[0]["part"] == 672
              and days[0]["parts_closed"] == 1 and days[0]["close_seq"] == close_seq,
              f"690's 22 July in /status.json: {days}")
        want = [["2023-07-22", 690, "part", 672, close_seq, days[0]["official"]["bhxh_tn"]]]
        if not os.path.exists(cdp.CHROMIUM):
            H.skip("browser part: chromium is not installed")
            return
        br = cdp.Browser(base + "/", wd.sub("chromium-profile"), size="1200,800")
        try:
            rows = """[...document.querySelectorAll('#life-days tbody tr')].map(r => [r.dataset.day,
                      Number(r.dataset.unit), r.dataset.closedBy, Number(r.dataset.part),
                      Number(r.dataset.closeSeq),
                      Number(r.querySelector('td[data-program="bhxh_tn"]').dataset.v)])"""
            unit_cell = ("document.querySelector('#life-days tr[data-unit=\"690\"]')"
                         ".cells[1].textContent")
            br.wait(f"document.body.dataset.seq === '{seq}'", 30, "page at seq")
            got = br.js(rows)
            check(got == want, f"page closed days {got} != {want}")
            check(br.js(unit_cell) == "690 Đà Lạt - Bảo Lộc — chốt theo đơn vị cũ 672 "
                                      "(1 đơn vị cũ đã chốt)", br.js(unit_cell))
            br.js("document.getElementById('lang-en').click()")
            check(br.js(unit_cell) == "690 Đà Lạt - Bảo Lộc — closed for part 672 "
                                      "(1 part(s) closed)", br.js(unit_cell))
        finally:
            br.close()
            shutil.rmtree(wd.sub("chromium-profile"), ignore_errors=True)
    finally:
        check(rp.stop() == 0, "reporter exit")


def test_page_units():
    """The live page's "Đơn vị" switch: /status-current.json and
    /status-original.json, and the page showing 682 only by the original units."""
    with H.Workdir("reorg-page") as wd:
        agg = EX.Aggregator(BIN, wd.sub("agg"), EX.CAMPAIGN)
        rp = None
        try:
            cl = P.Client(agg.eps["in"])
            evs, n = EX.sign_ups(0, 6, 0)
            EX.send(cl, evs)
            r = cl.call([EX.reorg_entry(n + 1)], timeout=20)
            check(r is not None and r["k"] == "ack", f"no ack: {r}")
            if r["r"][0][1] != P.ACCEPTED:
                raise AssertionError("the aggregator refuses the reorg entry "
                                     f"({P.ERR_NAME.get(r['r'][0][2])})")
            seq = r["s"]
            cl.close()
            rp, base = live_reporter(wd, agg, EX.CAMPAIGN, EX.NOW)
            wait_seq(base, "/status-original.json", seq)
            st_c, cur = get_json(base + "/status-current.json")
            st_o, orig = get_json(base + "/status-original.json")
            st_m, main = get_json(base + "/status.json")
            check(st_c == st_o == st_m == 200, f"status {st_c} {st_o} {st_m}")
            main.pop("hq", None)
            check(main == cur, "the reporter's own report (--units current) is status-current.json")
            check(682 in [d["code"] for d in orig["districts"]], "682 by the original units")
            check(682 not in [d["code"] for d in cur["districts"]], "682 merged by the units in force")
            if not os.path.exists(cdp.CHROMIUM):
                H.skip("browser part: chromium is not installed")
                return
            br = cdp.Browser(base + "/", wd.sub("chromium-profile"), size="1200,800")
            try:
                rows = "[...document.querySelectorAll('#districts tr[data-district]')].map(r => r.dataset.district)"
                def pick(units):
                    br.js(f"(() => {{ const s = document.getElementById('units'); s.value = '{units}'; "
                          "s.dispatchEvent(new Event('change')); })()")
                br.wait(f"document.body.dataset.seq === '{seq}'", 30, "page at seq")
                br.wait("!document.getElementById('units-switch').hidden", 10, "the switch shown")
                check(br.js("document.getElementById('units').value") == "current", "own units")
                check("682" not in br.js(rows), "682 not listed by the units in force")
                pick("original")
                br.wait(f"{rows}.includes('682')", 10, "682 listed by the original units")
                check(br.js("document.getElementById('units-switch').textContent").startswith("Đơn vị"),
                      "the switch's label")
                pick("current")
                br.wait(f"!{rows}.includes('682')", 10, "back to the units in force")
            finally:
                br.close()
                shutil.rmtree(wd.sub("chromium-profile"), ignore_errors=True)
        finally:
            if rp:
                check(rp.stop() == 0, "reporter exit")
            agg.stop()


if __name__ == "__main__":
    H.main([test_example_file, test_example, test_split_merge, test_part_close, test_page_units])
