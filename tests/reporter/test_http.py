"""chitieu-reporter --http against a real aggregator: every endpoint
at the HTTP level (status codes, content types, the JSON parses and equals the
aggregator's counts, the Prometheus text parses, Server-Sent Events deliver
the new status after events are committed), the access token, and a real
browser: headless Chromium loads the page, events are submitted while it
follows /events, and the DOM it ends with shows the exact counts. The
screenshot is kept under the build directory (test-artifacts/).
"""
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import reporter_common as rc
from reporter_common import cp, h

NOW = "2023-07-27T12:00:00+07:00"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = os.path.join(os.path.dirname(os.path.abspath(h.BIN)), "test-artifacts")


def get(url, headers=None, method="GET", timeout=10):
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def start(wd, ep, port, *extra):
    rp = wd.start([h.binary("chitieu-reporter"), "--insecure", "--feed", ep["feed"],
                   "--snapshot", ep["snapshot"], "--interval", "60", "--format", "json",
                   "--output", wd.sub(f"status-{port}.json"), "--now", NOW,
                   "--http", f"127.0.0.1:{port}", *extra], name=f"reporter-{port}")
    rp.wait_log(r'msg="http ready"')
    return rp


def wait_status(base, seq, timeout=30):
    def ok():
        st, _, body = get(base + "/status.json")
        if st != 200:
            return None
        s = json.loads(body)
        return s if s["seq"] == seq else None
    return rc.wait_until(ok, timeout, f"/status.json at seq {seq}")


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-z_]+="[^"\\]*"(,[a-z_]+="[^"\\]*")*)\})? '
                    r'(-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)$')


def parse_metrics(text):
    """Prometheus text format 0.0.4 -> {(name, labels-string): float}; strict:
    HELP and TYPE before a family's samples, gauges, counters and histograms
    (x_bucket with le ascending and cumulative counts ending in +Inf equal to
    x_count, then x_sum and x_count), nothing else."""
    out, typed = {}, {}
    hist = {}  # histogram name -> [(le, count)]
    for ln in text.splitlines():
        if ln.startswith("# HELP ") or ln.startswith("# TYPE "):
            parts = ln.split(" ", 3)
            h.check(len(parts) == 4, f"bad comment line {ln!r}")
            if parts[1] == "TYPE":
                h.check(parts[3] in ("gauge", "counter", "histogram"), f"type {ln!r}")
                h.check(parts[2] not in typed, f"family typed twice: {ln!r}")
                typed[parts[2]] = parts[3]
            continue
        m = SAMPLE.match(ln)
        h.check(m is not None, f"bad metrics line {ln!r}")
        name, labels = m.group(1), m.group(3) or ""
        fam = name
        for suf in ("_bucket", "_sum", "_count"):
            if name.endswith(suf) and typed.get(name[:-len(suf)]) == "histogram":
                fam = name[:-len(suf)]
        h.check(fam in typed, f"sample before its TYPE: {ln!r}")
        if typed[fam] == "histogram":
            h.check(fam != name, f"histogram sample without a suffix: {ln!r}")
            if name.endswith("_bucket"):
                lm = re.fullmatch(r'le="([^"]+)"', labels)
                h.check(lm is not None, f"bucket without le: {ln!r}")
                hist.setdefault(fam, []).append((float(lm.group(1)), float(m.group(5))))
        if typed[fam] == "counter":
            h.check(name.endswith("_total"), f"counter not named _total: {ln!r}")
        key = (name, labels)
        h.check(key not in out, f"sample twice: {ln!r}")
        out[key] = float(m.group(5))
    for fam, bs in hist.items():
        les = [le for le, _ in bs]
        h.check(les == sorted(les) and les[-1] == float("inf"), f"{fam}: le order {les}")
        cs = [c for _, c in bs]
        h.check(cs == sorted(cs), f"{fam}: buckets not cumulative {cs}")
        h.check(out.get((fam + "_count", "")) == cs[-1] and (fam + "_sum", "") in out,
                f"{fam}: +Inf bucket != _count or no _sum")
    return out


class SSE:
    """A minimal Server-Sent Events reader over urllib."""

    def __init__(self, url):
        self.r = urllib.request.urlopen(url, timeout=30)

    def next(self):
        ev, data = None, []
        while True:
            ln = self.r.readline()
            h.check(ln != b"", "event stream closed")
            ln = ln.decode("utf-8").rstrip("\n")
            if ln == "":
                if ev or data:
                    return ev or "message", "\n".join(data)
                continue
            if ln.startswith("event:"):
                ev = ln[6:].strip()
            elif ln.startswith("data:"):
                data.append(ln[5:].lstrip(" "))

    def status_at(self, seq, limit=200):
        for _ in range(limit):
            ev, data = self.next()
            if ev == "status":
                s = json.loads(data)
                if s["seq"] == seq:
                    return s
        raise AssertionError(f"no status event at seq {seq}")

    def close(self):
        self.r.close()


def test_endpoints():
    with h.Workdir("rep-http") as wd:
        agg, ep = rc.start_aggregator(wd)
        cl = cp.Client(ep["ingest"])
        gen = rc.Generator(77)
        port = h.free_port()
        base = f"http://127.0.0.1:{port}"
        rp = start(wd, ep, port)
        rp.wait_log(r'msg="snapshot applied" seq=0')
        rc.submit_all(cl, gen.batch(1500), per_call=100)
        snp = rc.snapshot(ep)
        s = wait_status(base, snp["s"])
        rc.assert_report_equals(s, snp)
        h.check(s["feed"] == "live" and "below_quota" in s["districts"][0], "status content")

        st, ct, body = get(base + "/status.json")
        h.check(st == 200 and ct == "application/json; charset=utf-8", f"{st} {ct}")
        st, ct, body = get(base + "/")
        h.check(st == 200 and ct == "text/html; charset=utf-8", f"/ {st} {ct}")
        page = body.decode("utf-8")
        h.check(page.startswith("<!DOCTYPE html>") and "EventSource" in page, "page content")
        h.check(not re.search(r'(src|href)\s*=\s*"(https?:)?//', page), "page loads external resources")
        h.check("viewport" in page and "Tiến độ" in page, "page: mobile/Vietnamese")
        st, ct, body = get(base + "/metrics")
        h.check(st == 200 and ct == "text/plain; version=0.0.4; charset=utf-8", f"/metrics {ct}")
        m = parse_metrics(body.decode("utf-8"))
        exp = rc.expected(snp)
        for p in rc.PROGS:
            h.check(m[("chitieu_province_net", f'program="{p}"')] ==
                    exp["province"][p]["net"], f"metrics net {p}")
            h.check(m[("chitieu_province_target", f'program="{p}"')] ==
                    (184 if p == "bhxh_tn" else 368), "metrics target")
            # the province is its own series: a sum over districts counts it once
            h.check(sum(v for (n, lab), v in m.items() if n == "chitieu_net" and
                        lab.endswith(f'program="{p}"')) == exp["province"][p]["net"],
                    f"sum over districts {p}")
            for d, per_prog in exp["districts"].items():
                h.check(m[("chitieu_net", f'district="{d}",program="{p}"')] ==
                        per_prog[p]["net"], f"metrics net {d} {p}")
        h.check(m[("chitieu_log_seq", "")] == snp["s"], "metrics seq")
        h.check(m[("chitieu_feed_state", 'state="live"')] == 1, "feed live")
        for k in ("chitieu_feed_lag_seconds", "chitieu_last_update_age_seconds",
                  "chitieu_last_message_age_seconds"):
            h.check((k, "") in m, f"metrics lacks {k}")
        h.check(m[("chitieu_last_message_age_seconds", "")] >= 0, "age")
        for path, code in (("/nope", 404), ("/status.json/x", 404)):
            st, _, _ = get(base + path)
            h.check(st == code, f"{path}: {st}")
        st, _, _ = get(base + "/status.json", method="POST")
        h.check(st == 405, f"POST: {st}")
        st, _, _ = get(base + "/", method="HEAD")
        h.check(st == 200, f"HEAD: {st}")

        # Server-Sent Events: the current status at once, then the new one.
        ev = SSE(base + "/events")
        first = ev.status_at(snp["s"])
        rc.assert_report_equals(first, snp)
        rc.submit_all(cl, gen.batch(300), per_call=30)
        snp2 = rc.snapshot(ep)
        rc.assert_report_equals(ev.status_at(snp2["s"]), snp2)
        ev.close()
        h.check(rp.stop() == 0, "reporter exit")
        cl.close()


def test_token():
    with h.Workdir("rep-tok") as wd:
        agg, ep = rc.start_aggregator(wd)
        port = h.free_port()
        base = f"http://127.0.0.1:{port}"
        rp = start(wd, ep, port, "--http-token", "s3cret")
        rp.wait_log(r'msg="snapshot applied"')
        wait_status_ok = lambda: get(base + "/status.json?token=s3cret")[0] == 200  # noqa: E731
        rc.wait_until(wait_status_ok, 20, "status with token")
        for path in ("/", "/status.json", "/metrics", "/events"):
            st, _, _ = get(base + path)
            h.check(st == 401, f"{path} without token: {st}")
            st, _, _ = get(base + path + "?token=wrong")
            h.check(st == 401, f"{path} wrong token: {st}")
        h.check(get(base + "/?token=s3cret")[0] == 200, "query token")
        h.check(get(base + "/metrics", {"Authorization": "Bearer s3cret"})[0] == 200, "bearer")
        rp.stop()
        # Another address than loopback needs a token (refused before binding;
        # 192.0.2.1 is TEST-NET, never a local address).
        r = h.run([h.binary("chitieu-reporter"), "--insecure", "--http", "192.0.2.1:8080"],
                  check=False)
        h.check(r.returncode == 2 and "needs --http-token" in r.stderr, f"{r.returncode} {r.stderr}")
        r = h.run([h.binary("chitieu-reporter"), "--insecure", "--http", "127.0.0.1:notaport"],
                  check=False)
        h.check(r.returncode == 2, f"bad port: {r.returncode}")


def chromium(args, timeout=90):
    return subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                             "--disable-background-networking", "--disable-component-update",
                             "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_browser():
    if not os.path.exists(CHROMIUM):
        print(f"SKIP test_browser: {CHROMIUM} is not installed "
              "(scripts/install-deps.sh --test installs it)")
        return
    with h.Workdir("rep-browser") as wd:
        agg, ep = rc.start_aggregator(wd)
        cl = cp.Client(ep["ingest"])
        gen = rc.Generator(88)
        rc.submit_all(cl, gen.batch(800), per_call=100)
        port = h.free_port()
        base = f"http://127.0.0.1:{port}"
        rp = start(wd, ep, port)
        wait_status(base, 800)
        # The page loads at seq 800 and follows /events until it shows seq 1400
        # (?until_seq): the events below are submitted while it waits.
        prof = wd.sub("chromium-profile")
        br = chromium([f"--user-data-dir={prof}", "--virtual-time-budget=15000", "--dump-dom",
                       f"{base}/?until_seq=1400"])
        try:
            wait_status(base, 800)
            time.sleep(1.0)  # let the browser load and subscribe (not a timing assertion)
            for _ in range(6):
                rc.submit_all(cl, gen.batch(100), per_call=100)
            snp = rc.snapshot(ep)
            h.check(snp["s"] == 1400, f"seq {snp['s']}")
            dom, err = br.communicate(timeout=90)
        finally:
            if br.poll() is None:
                br.kill()
                br.wait()
        h.check(br.returncode == 0 and "<body" in dom, f"chromium failed: {err[-800:]}")
        exp = rc.expected(snp)
        def one(pattern):
            m = re.search(pattern, dom)
            h.check(m is not None, f"page lacks /{pattern}/")
            return m.group(1)
        h.check(one(r'id="seq">(\d+)<') == "1400", "page seq")
        h.check(one(r'id="head">([0-9a-f]{64})<') == exp["head"], "page chain head")
        for p in rc.PROGS:
            h.check(int(one(rf'id="prov-net-{p}" data-v="(\d+)"')) == exp["province"][p]["net"],
                    f"province net {p}")
            h.check(int(one(rf'id="prov-target-{p}" data-v="(\d+)"')) ==
                    (184 if p == "bhxh_tn" else 368), "province target")
        cells = re.findall(r'<td class="fig net" data-program="(\w+)" data-district="(\w+)">'
                           r'<span class="n" data-v="(\d+)">[\d.]+</span> / '
                           r'<span class="t" data-v="(\d+)">[\d.]+</span></td>', dom)
        h.check(len(cells) == 28, f"{len(cells)} district cells")
        for p, d, net, _target in cells:
            want = exp["province"][p]["net"] if d == "province" else exp["districts"][int(d)][p]["net"]
            h.check(int(net) == want, f"page net {d} {p}: {net} != {want}")
        h.check("Huyện Đạ Tẻh" in dom and "Thành phố Đà Lạt" in dom, "Vietnamese names")
        h.check('data-state="live"' in dom, "feed state on the page")
        # Screenshot artifact (desktop and phone widths).
        os.makedirs(ARTIFACTS, exist_ok=True)
        for size, name in (("1200,2600", "reporter-page.png"), ("412,2400", "reporter-page-phone.png")):
            shot = os.path.join(ARTIFACTS, name)
            if os.path.exists(shot):
                os.unlink(shot)
            b = chromium([f"--user-data-dir={prof}", "--virtual-time-budget=5000",
                          "--hide-scrollbars", f"--window-size={size}", f"--screenshot={shot}",
                          f"{base}/?until_seq=1400"])
            b.communicate(timeout=90)
            h.check(os.path.exists(shot) and os.path.getsize(shot) > 10000, f"no screenshot {shot}")
            print(f"  screenshot: {shot}")
        shutil.rmtree(prof, ignore_errors=True)
        rp.stop()
        cl.close()


if __name__ == "__main__":
    h.main([test_endpoints, test_token, test_browser])
