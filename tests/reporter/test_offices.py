"""Offices and HQ status, end to end (PROTOCOL.md §3.6): real collectors (`run`,
CURVE keys) -> real aggregator (secure, --sync-followers 1 with no follower, so
delivered events stay committed-but-not-safe in the outboxes) -> real reporter
(--http, --silent-after 4) -> headless Chromium.

- every office reports its exact outbox (waiting = committed not safe) on the
  page, /hq.json, /status.json and /metrics; districts without a collector say
  "never reported";
- a collector stopped with SIGSTOP shows as silent within --silent-after on the
  page and in /metrics, with its exact waiting count; SIGCONT: reporting again;
- the HQ panel shows committed, safe 0 and the safe-stalled alert; a follower
  started later shows with its confirmed seq and lag 0, the alert clears and
  the offices' outboxes drain to 0 (page, /hq.json, /metrics);
- that follower counts nothing (--apply-delay of an hour): its applied head 0
  and apply lag of 8 records, with their ms, show in /status.json, /metrics
  and the page's followers table with the exact values of /status.json, under
  their VI and EN headings;
- a district key reporting telemetry for another district is refused
  (forbidden) and changes nothing; malformed and oversized ones get their codes;
- telemetry never changes the log: the exact seq and `chitieu-audit verify`'s
  output are the same before and after;
- promtool check metrics accepts the reporter's and the aggregator's /metrics.
"""
import json
import os
import signal
import time
import urllib.request

import cdp
import reporter_common as rc
from reporter_common import cp, h

SILENT_S = 4


def get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def metrics(base):
    st, body = get(base + "/metrics")
    h.check(st == 200, f"/metrics {st}")
    return h.prom_samples(body), body


def secret(path):
    return [ln.split("=", 1)[1].strip() for ln in open(path) if ln.startswith("secret")][0]


def col(*args, check=True):
    return h.run([h.binary("chitieu-collector"), *args], check=check, timeout=60)


def add(ob, agent, n, first):
    for i in range(n):
        col("add", "--outbox", ob, "--agent", agent, "--program", "bhyt_hgd",
            "--person-hash", f"{first + i:064x}", "--time", "2023-07-26T10:00:00+07:00")


def test_offices():
    with h.Workdir("offices") as wd:
        kb = wd.sub
        pub = {}
        for n in ("agg", "c672", "c673", "rep", "fol"):
            h.run([h.binary("chitieu-keys"), "gen", kb(n)])
            pub[n] = h.run([h.binary("chitieu-keys"), "show", kb(n) + ".pub"]).stdout.strip()
        auth = kb("authorized.txt")
        with open(auth, "w") as f:
            f.write(f"{pub['c672']} collector 672 office-672\n{pub['c673']} collector 673 "
                    f"office-673\n{pub['rep']} reporter hq\n{pub['fol']} follower fol\n")
        ep = {"ingest": wd.ipc("in"), "feed": wd.ipc("feed"), "snapshot": wd.ipc("snap"),
              "repl": wd.ipc("repl"), "data": wd.sub("data")}
        mport = h.free_port_block(2)
        port = mport + 1
        agg = wd.start([h.binary("chitieu-aggregator"), "--campaign", h.CAMPAIGN, "--data",
                        ep["data"], "--ingest", ep["ingest"], "--feed", ep["feed"], "--snapshot",
                        ep["snapshot"], "--replicate", ep["repl"], "--sync-followers", "1",
                        "--keys", kb("agg.key"), "--auth", auth, "--stats-interval", "0",
                        "--metrics", f"127.0.0.1:{mport}"], name="agg")
        agg.wait_log(r'msg="ready"')
        curve_rep = (pub["agg"], pub["rep"], secret(kb("rep.key")))
        obs = {672: (wd.sub("ob672"), "LD672-003", 5), 673: (wd.sub("ob673"), "LD673-001", 3)}
        for d, (ob, agent, n) in obs.items():
            col("init", "--outbox", ob, "--district", str(d))
            add(ob, agent, n, d * 1000)
        runs = {}
        for d, (ob, _, _) in obs.items():
            runs[d] = wd.start([h.binary("chitieu-collector"), "run", "--outbox", ob, "--server",
                                ep["ingest"], "--keys", kb(f"c{d}.key"), "--server-key",
                                kb("agg.pub"), "--telemetry-interval", "1",
                                "--stats-interval", "0"], name=f"run{d}")
        reader = cp.Reader(ep["feed"], ep["snapshot"], curve=curve_rep)

        def at(seq):
            m = reader.snapshot(timeout=5)
            return m if m and m["k"] == "snp" and m["s"] == seq else None
        rc.wait_until(lambda: at(8), 30, "8 events committed")

        def status_ok():
            m = reader.status(timeout=5)
            if not m or m["k"] != "sta":
                return None
            of = {o["d"]: o for o in m["of"]}
            ok = of.get(672, {}).get("q") == 5 and of.get(672, {}).get("u") == 5 and \
                of.get(673, {}).get("q") == 3 and of.get(673, {}).get("u") == 3
            return m if ok else None
        sta = rc.wait_until(status_ok, 30, "both offices report their outboxes")
        h.check(sta["ro"] == "primary" and sta["c"] == 8 and sta["f"] == 0 and sta["sk"] == 1,
                f"replication in sta: {sta}")
        h.check(all(o["ot"] == 1690340400000 for o in sta["of"]), f"oldest waiting: {sta['of']}")
        audit = [h.binary("chitieu-audit"), "verify", "--data", ep["data"]]
        verify0 = h.run(audit).stdout

        # hostile telemetry, on the 672 office's key: nothing changes
        cl = cp.Client(ep["ingest"], curve=(pub["agg"], pub["c672"], secret(kb("c672.key"))))
        o673 = next(o for o in sta["of"] if o["d"] == 673)
        cl.send_raw(cp.telemetry(101, 673, o673["o"], 1, 999, 0, 0, "evil"))
        r = cl.recv()
        h.check(r and r["k"] == "err" and r["n"] == 101 and r["c"] == cp.ERR["forbidden"],
                f"telemetry for another district: {r}")
        cl.send_raw(cp.telemetry(102, 672, b"\x01" * 8, 1, 1, 2, 0, "evil"))  # u > q
        r = cl.recv()
        h.check(r and r["n"] == 102 and r["c"] == cp.ERR["bad_value"], f"u > q: {r}")
        cl.send_raw(cp.telemetry(103, 672, b"\x01" * 8, 1, 1, 0, 0, "v" * 300))
        r = cl.recv()
        h.check(r and r["n"] == 103 and r["c"] == cp.ERR["frame_too_large"], f"oversized: {r}")
        cl.send_raw(cp.telemetry(104, 9999, b"\x01" * 8, 1, 1, 0, 0, "x"))
        r = cl.recv()
        h.check(r and r["n"] == 104 and r["c"] == cp.ERR["unknown_district"], f"9999: {r}")
        cl.send_raw(b"\x8b\xa1v\x01")
        r = cl.recv()
        h.check(r and r["k"] == "err" and r["c"] == cp.ERR["declared_size"], f"truncated: {r}")
        m = reader.status(timeout=5)
        bad = [o for o in m["of"] if o["sv"] == "evil" or o["d"] == 9999 or o["o"] == b"\x01" * 8]
        h.check(not bad and len(m["of"]) == 2, f"refused telemetry recorded: {m['of']}")
        cl.close()

        # the reporter
        base = f"http://127.0.0.1:{port}"
        rp = wd.start([h.binary("chitieu-reporter"), "--feed", ep["feed"], "--snapshot",
                       ep["snapshot"], "--keys", kb("rep.key"), "--server-key", kb("agg.pub"),
                       "--interval", "60", "--format", "json", "--output", wd.sub("rep.json"),
                       "--http", f"127.0.0.1:{port}", "--silent-after", str(SILENT_S)],
                      name="reporter")
        rp.wait_log(r'msg="http ready"')

        def hq_ok():
            st, body = get(base + "/hq.json")
            if st != 200:
                return None
            d = json.loads(body)
            offs = {o["district"]: o for o in d["offices"] if o["reported"]}
            if offs.get(672, {}).get("waiting") == 5 and offs.get(673, {}).get("waiting") == 3 \
                    and d.get("alert"):
                return d
            return None
        hq = rc.wait_until(hq_ok, 30, "/hq.json with both offices and the alert")
        h.check(hq["committed"] == 8 and hq["safe"] == 0 and hq["unsafe_records"] == 8 and
                hq["role"] == "primary" and hq["followers"] == [], f"hq: {hq}")
        never = [o["district"] for o in hq["offices"] if not o["reported"]]
        h.check(len(never) == len(hq["offices"]) - 2 and 672 not in never and 68 in never,
                f"never reported: {never}")
        st, body = get(base + "/status.json")
        sj = json.loads(body)
        h.check(sj["seq"] == 8 and sj["hq"]["committed"] == 8, "status.json carries hq")
        mm, body = metrics(base)
        o672 = next(o["office"] for o in hq["offices"] if o["district"] == 672)
        o673 = next(o["office"] for o in hq["offices"] if o["district"] == 673)
        lab = lambda d, o: f'{{district="{d}",office="{o}"}}'  # noqa: E731
        h.check(mm[f"chitieu_office_outbox_events{lab(672, o672)}"] == 5, "metric 672 waiting")
        h.check(mm[f"chitieu_office_unsafe_events{lab(673, o673)}"] == 3, "metric 673 unsafe")
        h.check(mm[f"chitieu_office_silent{lab(673, o673)}"] == 0, "673 not silent yet")
        h.check(mm['chitieu_office_never_reported{district="68"}'] == 1, "68 never reported")
        h.check(mm["chitieu_hq_committed_seq"] == 8 and mm["chitieu_hq_safe_seq"] == 0 and
                mm["chitieu_hq_safe_stalled"] == 1, "hq metrics")
        h.promtool_check(body, "the reporter's /metrics")
        st, abody = get(f"http://127.0.0.1:{mport}/metrics")
        h.check(st == 200, "aggregator /metrics")
        am = {ln.rsplit(" ", 1)[0]: float(ln.rsplit(" ", 1)[1]) for ln in abody.decode().splitlines()
              if ln and not ln.startswith("#")}
        h.check(am['chitieu_aggregator_telemetry_total{result="refused"}'] == 4 and
                am['chitieu_aggregator_bad_messages_total'] == 1 and
                am['chitieu_aggregator_telemetry_total{result="recorded"}'] >= 2 and
                am['chitieu_aggregator_events_total{result="accepted"}'] == 8,
                "aggregator telemetry counters")
        h.promtool_check(abody, "the aggregator's /metrics")

        br = None
        if os.path.exists(cdp.CHROMIUM):
            br = cdp.Browser(base + "/", wd.sub("chromium-profile"), size="1200,900")
            br.wait("document.querySelector('#offices tr[data-district=\"673\"]') !== null && "
                    "document.querySelector('#offices tr[data-district=\"673\"]').dataset.waiting"
                    " === '3'", 30, "offices panel")
        else:
            print("  chromium missing: the page is not checked")

        # stop office 673: silent within --silent-after, with its exact waiting count
        runs[673].signal(signal.SIGSTOP)
        t_stop = time.time()
        try:
            def silent():
                mm, _ = metrics(base)
                return mm if mm.get(f"chitieu_office_silent{lab(673, o673)}") == 1 else None
            mm = rc.wait_until(silent, SILENT_S + 15, "673 silent in /metrics")
            print(f"  office 673 silent in /metrics {time.time() - t_stop:.1f} s after SIGSTOP")
            h.check(mm[f"chitieu_office_outbox_events{lab(673, o673)}"] == 3, "673 waiting count")
            h.check(mm[f"chitieu_office_silence_seconds{lab(673, o673)}"] >= SILENT_S, "silence")
            h.check(mm[f"chitieu_office_silent{lab(672, o672)}"] == 0, "672 still reporting")
            if br:
                row = "document.querySelector('#offices tr[data-district=\"673\"]')"
                br.wait(f"{row}.dataset.silent === 'true'", 20, "673 silent on the page")
                got = br.js(f"""(() => {{ const r = {row}, r2 = document.querySelector(
                    '#offices tr[data-district="672"]');
                    return {{ text: r.cells[2].textContent, waiting: r.dataset.waiting,
                              other: r2.dataset.silent, otherText: r2.cells[2].textContent,
                              committed: document.getElementById('hq-committed').dataset.v,
                              safe: document.getElementById('hq-safe').dataset.v,
                              alert: document.getElementById('hq-alert').dataset.alert,
                              never: document.querySelectorAll('#offices tr.never').length }}; }})()""")
                h.check(got["text"].startswith("im lặng ") and got["text"].endswith(", 3 chờ gửi")
                        and got["waiting"] == "3", f"page, 673: {got}")
                h.check(got["other"] == "false" and got["otherText"] == "bình thường, 5 chờ gửi",
                        f"page, 672: {got}")
                h.check(got["committed"] == "8" and got["safe"] == "0" and got["alert"] == "true",
                        f"page, HQ panel: {got}")
                h.check(got["never"] == len(never), f"page, never reported: {got}")
                br.js("document.getElementById('lang-en').click()")
                br.wait(f"{row}.cells[2].textContent.startsWith('silent for ') && "
                        f"{row}.cells[2].textContent.endsWith(', 3 waiting')", 10, "English")
        finally:
            runs[673].signal(signal.SIGCONT)
        rc.wait_until(lambda: metrics(base)[0].get(f"chitieu_office_silent{lab(673, o673)}") == 0,
                      20, "673 reporting again after SIGCONT")

        # a follower: safe catches up, the alert clears, the outboxes drain
        fol = wd.start([h.binary("chitieu-aggregator"), "--campaign", h.CAMPAIGN, "--data",
                        wd.sub("fol-data"), "--follow", ep["repl"], "--apply-delay", "3600000",
                        "--keys", kb("fol.key"),
                        "--auth", auth, "--primary-key", kb("agg.pub"), "--ingest",
                        wd.ipc("fol-in"), "--feed", wd.ipc("fol-feed"), "--snapshot",
                        wd.ipc("fol-snap"), "--stats-interval", "0"], name="fol")

        def caught_up():
            st, body = get(base + "/hq.json")
            d = json.loads(body)
            offs = {o["district"]: o for o in d["offices"] if o["reported"]}
            ok = d["safe"] == 8 and not d["alert"] and len(d["followers"]) == 1 and \
                d["followers"][0]["acked"] == 8 and d["followers"][0]["lag_records"] == 0 and \
                offs[672]["waiting"] == 0 and offs[673]["waiting"] == 0
            return d if ok else None
        hq = rc.wait_until(caught_up, 40, "follower caught up, outboxes drained")
        h.check(hq["followers"][0]["id"] == pub["fol"], f"follower id {hq['followers']}")
        mm, body = metrics(base)
        h.check(mm[f'chitieu_hq_follower_lag_records{{follower="{pub["fol"]}"}}'] == 0 and
                mm["chitieu_hq_safe_seq"] == 8 and mm["chitieu_hq_safe_stalled"] == 0,
                "follower series")
        h.check(mm[f"chitieu_office_outbox_events{lab(673, o673)}"] == 0, "673 drained")
        h.promtool_check(body, "the reporter's /metrics with a follower")
        # durable, not counted: applied 0, apply lag 8 records and growing ms
        fj = hq["followers"][0]
        h.check(fj["applied"] == 0 and fj["apply_lag_records"] == 8 and fj["apply_lag_ms"] > 0
                and fj["lag_ms"] == 0, f"apply lag in /hq.json: {fj}")
        fl = f'{{follower="{pub["fol"]}"}}'
        h.check(mm[f"chitieu_hq_follower_apply_lag_records{fl}"] == 8 and
                mm[f"chitieu_hq_follower_apply_lag_seconds{fl}"] > 0, "apply lag series")
        st, body = get(base + "/status.json")
        sf = json.loads(body)["hq"]["followers"][0]
        h.check(st == 200 and sf["applied"] == 0 and sf["apply_lag_records"] == 8,
                f"apply lag in /status.json: {sf}")
        if br:
            br.wait("document.getElementById('hq-alert').dataset.alert === 'false' && "
                    "document.querySelectorAll('#followers tbody tr').length === 1 && "
                    "document.querySelector('#offices tr[data-district=\"673\"]').dataset.waiting"
                    " === '0'", 20, "page: follower, alert cleared, 673 drained")
            row_js = """(() => { const t = document.getElementById('followers');
                return { head: Array.from(t.tHead.rows[0].cells).map(c => c.textContent),
                         cells: Array.from(t.tBodies[0].rows[0].cells).map(
                             (c, i) => i ? c.dataset.v : c.textContent) }; })()"""

            def page_matches():
                # the page and /status.json show the same "sta" (its ms move with each one)
                _, b1 = get(base + "/status.json")
                f = json.loads(b1)["hq"]["followers"][0]
                got = br.js(row_js)
                want = [f["id"]] + [str(f[k]) for k in ("acked", "lag_records", "lag_ms",
                                                         "applied", "apply_lag_records",
                                                         "apply_lag_ms")]
                return got if got["cells"] == want else None
            got = rc.wait_until(page_matches, 20, "page's followers row = /status.json")
            h.check(got["cells"][1:3] == ["8", "0"] and got["cells"][4:6] == ["0", "8"] and
                    int(got["cells"][6]) > 0, f"page, follower row: {got}")
            h.check(got["head"] == ["Follower", "Confirmed", "Durable lag (records)",
                                    "Durable lag (ms)", "Counted (seq)", "Apply lag (records)",
                                    "Apply lag (ms)"], f"page, EN headings: {got['head']}")
            br.js("document.getElementById('lang-vi').click()")
            br.wait("document.getElementById('followers').tHead.rows[0].cells[5].textContent"
                    " === 'Trễ đếm (bản ghi)'", 10, "Vietnamese")
            got = br.js(row_js)
            h.check(got["head"] == ["Máy theo dõi", "Đã xác nhận", "Trễ ghi bền (bản ghi)",
                                    "Trễ ghi bền (ms)", "Đã đếm (seq)", "Trễ đếm (bản ghi)",
                                    "Trễ đếm (ms)"], f"page, VI headings: {got['head']}")
        h.check(fol.stop() == 0, "follower exit")

        # telemetry changed nothing in the log
        h.check(at(8) is not None, "the log is still exactly 8 records")
        verify1 = h.run(audit).stdout
        h.check(verify0 == verify1, f"audit verify changed:\n{verify0}\n{verify1}")
        if br:
            br.close()
        reader.close()
        for r in runs.values():
            h.check(r.stop() == 0, "collector exit")
        h.check(rp.stop() == 0, "reporter exit")
        h.check(agg.stop() == 0, "aggregator exit")


if __name__ == "__main__":
    h.main([test_offices])
