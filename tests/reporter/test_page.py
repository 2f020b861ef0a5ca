"""The live page and its feed as people use them (issue 17), against a real
aggregator and a real headless Chromium driven over the DevTools protocol:

- loud failures: a reporter started before the aggregator, or with a wrong
  server key, says why within seconds (log, /metrics, /status.json, the page in
  red, never a green badge over empty data), at a bounded rate, and goes live
  when the aggregator comes;
- changes only: a <details> the user opened, a text selection and the scroll
  position survive 3 s of updates; an idle page receives heartbeats, not the
  report (bytes per minute measured and bounded);
- drill-down: every district and staff member view shows the exact figures of
  the JSON report and the aggregator's counters; staff sort by attainment;
- 1,000 concurrent /events viewers on loopback, with bounded memory.
"""
import csv
import io
import json
import os
import re
import resource
import selectors
import shutil
import socket
import time
import urllib.error
import urllib.request

import cdp
import reporter_common as rc
from reporter_common import cp, h

NOW = "2023-07-27T12:00:00+07:00"
RED = "rgb(198, 40, 40)"


def get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def metrics(base):
    st, body = get(base + "/metrics")
    h.check(st == 200, f"/metrics {st}")
    return h.prom_samples(body)


def reporter(wd, ep, port, *extra, name="reporter"):
    rp = wd.start([h.binary("chitieu-reporter"), "--feed", ep["feed"], "--snapshot",
                   ep["snapshot"], "--interval", "60", "--format", "json", "--output",
                   wd.sub(f"{name}.json"), "--now", NOW, "--http", f"127.0.0.1:{port}", *extra],
                  name=name)
    rp.wait_log(r'msg="http ready"')
    return rp


def browser(wd, url):
    if not os.path.exists(cdp.CHROMIUM):
        return None
    return cdp.Browser(url, wd.sub("chromium-profile"), size="1200,800")


def page_not_connected(br, why):
    """The page says "not connected" in red, and why; shows nothing green."""
    br.wait("document.getElementById('feed').dataset.state === 'not_connected' && "
            f"document.getElementById('banner').textContent.includes({json.dumps(why)})", 15,
            f"page: not_connected, {why}")
    st = br.js("""(() => { const f = document.getElementById('feed'), b = document.getElementById('banner');
        return { text: f.textContent, bg: getComputedStyle(f).backgroundColor, banner: !b.hidden,
                 bannerText: b.textContent, bannerBg: getComputedStyle(b).backgroundColor,
                 green: Array.from(document.querySelectorAll('.badge')).filter(
                   e => getComputedStyle(e).backgroundColor === 'rgb(26, 127, 55)').map(e => e.id) }; })()""")
    h.check(st["text"] == "chưa kết nối" and st["bg"] == RED, f"feed badge {st}")
    h.check(st["banner"] and st["bannerBg"] == RED and "Chưa kết nối" in st["bannerText"], f"banner {st}")
    h.check(st["green"] == [], f"green badges over empty data: {st['green']}")
    return st


def test_started_before_aggregator():
    with h.Workdir("page-early") as wd:
        ep = {"ingest": wd.ipc("ingest"), "feed": wd.ipc("feed"), "snapshot": wd.ipc("snap")}
        port = h.free_port()
        base = f"http://127.0.0.1:{port}"
        t0 = time.time()
        rp = reporter(wd, ep, port, "--insecure")
        rp.wait_log(r'msg="no snapshot from the aggregator yet".*link=connect_failed'
                    r'.*reason="cannot connect to the aggregator', timeout=8)
        h.check(time.time() - t0 < 7, f"first warning after {time.time() - t0:.1f} s")
        m = metrics(base)
        h.check(m['chitieu_feed_state{state="not_connected"}'] == 1, "metrics: not_connected")
        h.check(m['chitieu_feed_state{state="live"}'] == 0, "metrics: not live")
        h.check(m['chitieu_feed_link{state="connect_failed"}'] == 1, "metrics: connect_failed")
        h.check(not any(k.startswith("chitieu_province_net") for k in m), "figures before data")
        st, body = get(base + "/status.json")
        doc = json.loads(body)
        h.check(st == 503 and doc["feed"]["feed"] == "not_connected" and
                "cannot connect" in doc["feed"]["reason"], f"/status.json {st} {doc}")
        br = browser(wd, base + "/")
        try:
            if br:
                page_not_connected(br, "cannot connect to the aggregator")
            # bounded rate: one warning in the first ~10 s (then one per 30 s)
            time.sleep(max(0, 10 - (time.time() - t0)))
            n = sum('msg="no snapshot from the aggregator yet"' in ln for ln in rp.lines)
            h.check(n == 1, f"{n} warnings in 10 s")
            # the aggregator starts: live
            agg = wd.start([h.binary("chitieu-aggregator"), "--data", wd.sub("data"), "--insecure",
                            "--ingest", ep["ingest"], "--feed", ep["feed"], "--snapshot",
                            ep["snapshot"], "--stats-interval", "0"], name="aggregator")
            agg.wait_log(r'msg="ready"')
            cl = cp.Client(ep["ingest"])
            rc.submit_all(cl, rc.Generator(5).batch(200))
            rp.wait_log(r'msg="data from the aggregator again"', timeout=20)
            rc.wait_until(lambda: metrics(base)['chitieu_feed_state{state="live"}'] == 1, 20,
                          "metrics live")
            if br:
                br.wait("document.getElementById('feed').dataset.state === 'live' && "
                        "document.body.dataset.seq === '200' && document.getElementById('banner').hidden",
                        20, "page live at seq 200")
                h.check(br.js("getComputedStyle(document.getElementById('feed')).backgroundColor")
                        == "rgb(26, 127, 55)", "live badge green")
            cl.close()
        finally:
            if br:
                br.close()
        h.check(rp.stop() == 0, "reporter exit")


def test_wrong_server_key():
    with h.Workdir("page-key") as wd:
        spub, ssec = cp.curve_keypair()
        cp.write_keyfiles(wd.sub("server"), spub, ssec)
        rpub, rsec = cp.curve_keypair()
        cp.write_keyfiles(wd.sub("reporter"), rpub, rsec)
        opub, osec = cp.curve_keypair()
        cp.write_keyfiles(wd.sub("other"), opub, osec)
        with open(wd.sub("auth.txt"), "w") as f:
            f.write(f"{rpub} reporter hq\n")
        h.check("#" not in rpub, "key without '#'") if "#" not in rpub else None
        ep = {"ingest": wd.ipc("ingest"), "feed": wd.ipc("feed"), "snapshot": wd.ipc("snap")}
        agg = wd.start([h.binary("chitieu-aggregator"), "--data", wd.sub("data"),
                        "--keys", wd.sub("server.key"), "--auth", wd.sub("auth.txt"),
                        "--ingest", ep["ingest"], "--feed", ep["feed"], "--snapshot",
                        ep["snapshot"], "--stats-interval", "0"], name="aggregator")
        agg.wait_log(r'msg="ready"')
        port = h.free_port()
        base = f"http://127.0.0.1:{port}"
        rp = reporter(wd, ep, port, "--keys", wd.sub("reporter.key"), "--server-key",
                      wd.sub("other.pub"))
        rp.wait_log(r'msg="no snapshot from the aggregator yet".*link=handshake_failed'
                    r'.*reason="handshake with the aggregator failed', timeout=8)
        m = metrics(base)
        h.check(m['chitieu_feed_state{state="not_connected"}'] == 1, "metrics: not_connected")
        h.check(m['chitieu_feed_link{state="handshake_failed"}'] == 1, "metrics: handshake_failed")
        h.check(m["chitieu_handshake_failures_total"] >= 1, "handshake failures counted")
        br = browser(wd, base + "/")
        try:
            if br:
                page_not_connected(br, "check --server-key")
        finally:
            if br:
                br.close()
        h.check(rp.stop() == 0, "reporter exit")


def sse_idle_bytes(base, seconds):
    """Opens /events, waits for the first report, then counts what an idle
    page receives for `seconds`: (bytes, events by name)."""
    s = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])))
    s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    s.settimeout(10)
    while b"event: status" not in buf or buf.find(b"\n\n", buf.find(b"event: status")) < 0:
        chunk = s.recv(65536)
        h.check(chunk != b"", "stream closed")
        buf += chunk
    n, events, end = 0, {}, time.time() + seconds
    data = b""
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        n += len(chunk)
        data += chunk
    s.close()
    for name in re.findall(rb"event: (\w+)", data):
        events[name.decode()] = events.get(name.decode(), 0) + 1
    return n, events


def test_live_page():
    """Updates keep what the user did; idle costs heartbeats; drill-down is exact."""
    with h.Workdir("page-live") as wd:
        agg, ep = rc.start_aggregator(wd)
        cl = cp.Client(ep["ingest"])
        gen = rc.Generator(31)
        rc.submit_all(cl, gen.batch(800), per_call=100)
        port = h.free_port()
        base = f"http://127.0.0.1:{port}"
        rp = reporter(wd, ep, port, "--insecure")
        br = browser(wd, base + "/")
        if not br:
            h.skip("browser parts: chromium is not installed")
        try:
            if br:
                br.wait("document.body.dataset.seq === '800'", 30, "page at seq 800")
                before = br.js("""(() => {
                    const d = document.querySelector('#staff details'); d.open = true; window.__mark = d;
                    const cell = document.querySelector('#districts tr[data-district] td.name a');
                    const r = document.createRange(); r.selectNodeContents(cell);
                    getSelection().removeAllRanges(); getSelection().addRange(r);
                    window.scrollTo(0, 700);
                    return { district: d.dataset.district, sel: getSelection().toString(), y: window.scrollY }; })()""")
                h.check(before["sel"] != "" and before["y"] > 0, f"setup {before}")
            t_end = time.time() + 3.5
            while time.time() < t_end:  # updates arrive for 3.5 s
                rc.submit_all(cl, gen.batch(40), per_call=40)
                time.sleep(0.4)
            snp = rc.snapshot(ep)
            seq = snp["s"]
            if br:
                br.wait(f"document.body.dataset.seq === '{seq}'", 20, f"page at seq {seq}")
                after = br.js(f"""(() => {{ const d = document.querySelector('#staff details[data-district="{before['district']}"]');
                    return {{ same: d === window.__mark, open: !!(d && d.open), connected: window.__mark.isConnected,
                             sel: getSelection().toString(), y: window.scrollY }}; }})()""")
                h.check(after["same"] and after["open"] and after["connected"],
                        f"opened details closed or rebuilt while updates arrived: {after}")
                h.check(after["sel"] == before["sel"], f"selection lost: {after['sel']!r}")
                h.check(after["y"] == before["y"], f"scroll moved: {after['y']} != {before['y']}")
            # idle: heartbeats only, bounded
            time.sleep(1.5)
            n, events = sse_idle_bytes(base, 20)
            per_min = n * 3
            print(f"  idle page: {n} bytes in 20 s ({per_min} bytes/min), events {events}")
            h.check("status" not in events, f"idle page got the report again: {events}")
            h.check(events.get("feed", 0) >= 3, f"idle page got no heartbeats: {events}")
            h.check(per_min <= 6000, f"idle page: {per_min} bytes/min")
            check_csv(base, snp)
            if br:
                drilldown(br, base, snp)
        finally:
            if br:
                br.close()
                shutil.rmtree(wd.sub("chromium-profile"), ignore_errors=True)
        h.check(rp.stop() == 0, "reporter exit")
        cl.close()


def check_csv(base, snp):
    """/report.csv: UTF-8 with a BOM (Excel), read back by the csv module to the
    aggregator's exact figures at the log position and chain head it names."""
    st, body = get(base + "/report.csv")
    h.check(st == 200 and body.startswith(b"\xef\xbb\xbf"), f"/report.csv {st} {body[:8]!r}")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    exp = rc.expected(snp)
    h.check(len(rows) == 28, f"{len(rows)} rows")
    for row in rows:
        p = row["program"]
        want = exp["province"][p] if row["level"] == "province" else \
            exp["districts"][int(row["district_code"])][p]
        for k in ("net", "gross", "cancelled", "repeats", "staff_met"):
            h.check(int(row[k]) == want[k], f"csv {row['district_code']} {p} {k}")
        h.check(int(row["seq"]) == snp["s"] and row["head"] == exp["head"], "csv position")
    h.check("Thành phố Đà Lạt" in {r["district_name"] for r in rows}, "Vietnamese names")


def drilldown(br, base, snp):
    st, body = get(base + "/status.json")
    rep = json.loads(body)
    h.check(rep["seq"] == snp["s"], "report at the snapshot")
    rc.assert_report_equals(rep, snp)
    c = snp["c"]
    for d in rep["districts"]:
        code = d["code"]
        # the JSON's staff list is the aggregator's AGENT counters, every member
        h.check(isinstance(d["staff"], int) and len(d["members"]) == d["staff"],
                f"{code}: staff count {d['staff']} and member list of {len(d['members'])}")
        for a in d["members"]:
            for p in rc.PROGS:
                h.check(a[p] == c.get(cp.key(cp.COUNT_AGENT, cp.PROGRAMS[p], code, a["id"]), 0),
                        f"staff {a['id']} {p}")
        br.js(f"location.hash = '#/d/{code}'")
        br.wait(f"document.body.dataset.view === 'district' && "
                f"document.getElementById('view-district').dataset.district === '{code}'", 10,
                f"district view {code}")
        got = br.js("""(() => {
            const o = { cards: {}, staff: {}, trend: {} };
            for (const c of document.querySelectorAll('#dist-cards .card')) {
              const v = k => Number(c.querySelector('.' + k).dataset.v);
              o.cards[c.dataset.program] = { net: v('net'), target: v('target'), remaining: v('remaining'),
                gross: v('gross'), cancelled: v('cancelled'), repeats: v('repeats'), staff_met: v('staff_met'),
                pct: v('pct'), verdict: c.querySelector('.badge').dataset.verdict }; }
            for (const r of document.querySelectorAll('#dist-staff tr[data-agent]')) {
              const s = {}; for (const td of r.querySelectorAll('td.count')) s[td.dataset.program] = Number(td.dataset.v);
              o.staff[r.dataset.agent] = s; }
            for (const svg of document.querySelectorAll('#dist-trend svg'))
              o.trend[svg.id] = Array.from(svg.querySelectorAll('circle')).map(e => [e.dataset.day, Number(e.dataset.cum)]);
            return o; })()""")
        for p in rc.PROGS:
            f = d["programs"][p]
            want = {k: f[k] for k in ("net", "target", "remaining", "gross", "cancelled", "repeats",
                                      "staff_met", "pct", "verdict")}
            h.check(got["cards"][p] == want, f"district {code} {p}: {got['cards'][p]} != {want}")
            cum, want_trend = 0, []
            for day in d["days"]:
                cum += day[p]
                if day["day"] <= rep["as_of"][:10]:
                    want_trend.append([day["day"], cum])
            h.check(got["trend"][f"dist-pace-{p}"] == want_trend, f"trend {code} {p}")
            h.check(cum == f["net"], f"district days sum to net {code} {p}")
        want_staff = {a["id"]: {p: a[p] for p in rc.PROGS} for a in d["members"]}
        h.check(got["staff"] == want_staff, f"staff of {code}")
        # one staff member's own view
        a = d["members"][len(d["members"]) // 2]
        br.js(f"location.hash = '#/d/{code}/s/' + encodeURIComponent({json.dumps(a['id'])})")
        br.wait(f"document.getElementById('view-staff').dataset.agent === {json.dumps(a['id'])} && "
                f"!document.getElementById('view-staff').hidden", 10, f"staff view {a['id']}")
        got = br.js("""Object.fromEntries(Array.from(document.querySelectorAll('#agent [data-program]')).map(
            v => [v.dataset.program, [Number(v.querySelector('.count').dataset.v), Number(v.querySelector('.target').dataset.v)]]))""")
        h.check(got == {p: [a[p], rep["agent_target"][p]] for p in rc.PROGS}, f"staff view {a['id']}: {got}")
    # sorting by attainment (bhxh_tn), ascending then descending
    code = rep["districts"][1]["code"]
    br.js(f"location.hash = '#/d/{code}'")
    br.wait(f"document.getElementById('view-district').dataset.district === '{code}'", 10, "district")
    for direction in (1, -1):
        br.js("document.querySelector('#dist-staff th[data-sort=\"bhxh_tn\"]').click()")
        vals = br.js("Array.from(document.querySelectorAll('#dist-staff td.attain[data-program=\"bhxh_tn\"]')).map(e => Number(e.dataset.v))")
        h.check(vals == sorted(vals, reverse=direction < 0) and len(vals) > 1, f"sort {direction}: {vals}")
    # vi-VN formats and the English switch
    fmt = br.js("[document.querySelector('#dist-cards .pct').textContent, document.getElementById('as-of').textContent]")
    h.check(re.fullmatch(r" \(\d+,\d %\)", fmt[0]) and fmt[1] == "27/07/2023 12:00", f"vi-VN formats {fmt}")
    br.js("document.getElementById('lang-en').click()")
    h.check(br.js("document.getElementById('feed').textContent") == "live", "English")
    h.check(re.fullmatch(r" \(\d+\.\d %\)", br.js("document.querySelector('#dist-cards .pct').textContent")),
            "English number format")
    br.js("document.getElementById('lang-vi').click()")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def test_many_viewers():
    n_clients = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n_clients + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n_clients + 200), hard))
    with h.Workdir("page-many") as wd:
        agg, ep = rc.start_aggregator(wd)
        cl = cp.Client(ep["ingest"])
        gen = rc.Generator(12)
        rc.submit_all(cl, gen.batch(500))
        port = h.free_port()
        rp = reporter(wd, ep, port, "--insecure")
        rc.wait_until(lambda: get(f"http://127.0.0.1:{port}/status.json")[0] == 200, 20, "status")
        rss0 = rss_kb(rp.pid)
        sel = selectors.DefaultSelector()
        socks, got = [], {}
        t0 = time.time()
        try:
            for i in range(n_clients):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ, i)
                socks.append(s)
                got[i] = b""

            def pump(pred, timeout, what):
                deadline = time.time() + timeout
                while time.time() < deadline and not all(pred(v) for v in got.values()):
                    for key, _ in sel.select(0.5):
                        try:
                            chunk = key.fileobj.recv(65536)
                        except (BlockingIOError, InterruptedError):
                            continue
                        except ConnectionResetError:
                            raise AssertionError(f"viewer {key.data} reset")
                        h.check(chunk != b"", f"viewer {key.data} closed")
                        got[key.data] += chunk
                bad = [i for i, v in got.items() if not pred(v)]
                h.check(not bad, f"{len(bad)} viewers without {what} (first {bad[:5]})")

            pump(lambda v: v.startswith(b"HTTP/1.1 200") and b'"seq":500,' in v, 60, "the report")
            t_first = time.time() - t0
            rss1 = rss_kb(rp.pid)
            for i in got:
                got[i] = b""
            rc.submit_all(cl, gen.batch(10))
            pump(lambda v: b'"seq":510,' in v, 30, "the update")
            print(f"  {n_clients} viewers: all served the report in {t_first:.1f} s, the update "
                  f"in {time.time() - t0 - t_first:.1f} s; reporter RSS {rss0} KB -> {rss1} KB")
            h.check(rss1 - rss0 < 64 * 1024, f"memory with {n_clients} viewers: +{rss1 - rss0} KB")
            h.check(not any("level=warn" in ln and "http server" in ln for ln in rp.lines),
                    "libmicrohttpd complained")
        finally:
            for s in socks:
                s.close()
        st, _ = get(f"http://127.0.0.1:{port}/metrics")
        h.check(st == 200, "still serving")
        h.check(rp.stop() == 0, "reporter exit")
        cl.close()


if __name__ == "__main__":
    h.main([test_started_before_aggregator, test_wrong_server_key, test_live_page,
            test_many_viewers])
