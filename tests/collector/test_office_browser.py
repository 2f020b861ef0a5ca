"""test_office_browser — headless Chromium drives the real office screen
(`chitieu-collector serve`) against a real outbox, a real `run` and a real
aggregator on loopback (CurveZMQ, an authorization file):

  - a lead logs in and records 20 sign-ups for 3 staff members through the
    form (the staff picked through the search box), cancels one from the
    list (confirmation, reason); the page shows all 21 events delivered and
    the aggregator's snapshot holds exactly those counts;
  - the aggregator stops: recording goes on, the page says "not connected,
    3 waiting"; it comes back: everything is delivered exactly once;
  - the office's key is authorized for another district: a sign-up is
    rejected, shown with its reason in words; the file is fixed and the page's
    re-send delivers it;
  - an Excel file is uploaded: the preview shows every row's outcome with the
    command line's messages and queues nothing; the confirm queues the 5 good
    rows (noted as the lead's), and HQ counts exactly them.
Screenshots (phone and desktop) are kept under the build directory
(test-artifacts/office-*.png).
"""
import json
import os
import shutil
import signal
import sys
import time

import office_common as oc
from office_common import h

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402
import ctproto as P  # noqa: E402

ARTIFACTS = os.path.join(os.path.dirname(os.path.abspath(h.BIN)), "test-artifacts")
STAFF = ["LD672-001", "LD672-002", "LD672-003"]


def start_agg(wd, eps, keys, auth):
    p = wd.start([h.binary("chitieu-aggregator"), "--campaign", h.CAMPAIGN, "--data", eps["data"],
                  "--ingest", eps["ingest"], "--feed", eps["feed"], "--snapshot", eps["snapshot"],
                  "--stats-interval", "0", "--keys", keys, "--auth", auth], name="agg")
    p.wait_log(r'msg="ready"')
    return p


def snapshot(eps, curve):
    r = P.Reader(eps["feed"], eps["snapshot"], curve=curve)
    try:
        m = r.snapshot(timeout=10)
    finally:
        r.close()
    h.check(m is not None and m["k"] == "snp", f"no snapshot: {m!r:.200}")
    return m


def counts(m, program):
    pi = P.PROGRAMS[program]
    c = m["c"]
    return (c.get(P.key(P.COUNT_NET, pi, 672), 0), c.get(P.key(P.COUNT_GROSS, pi, 672), 0),
            c.get(P.key(P.COUNT_CANCELLED, pi, 672), 0))


RECORD_JS = """
(async () => {
  const set = (id, v) => { const e = document.getElementById(id); e.value = v;
                           e.dispatchEvent(new Event('input', {bubbles: true})); };
  set('agent-search', %(search)s);
  document.getElementById('agent').value = %(agent)s;
  document.getElementById('program').value = %(program)s;
  set('national_id', %(nid)s);
  set('commune', %(commune)s);
  set('months', %(months)s);
  set('amount', %(amount)s);
  set('time', %(time)s);
  const res = document.getElementById('record-result');
  res.textContent = '';
  document.getElementById('record-submit').click();
  for (let i = 0; i < 300; i++) {
    await new Promise(r => setTimeout(r, 50));
    const errs = Array.from(document.querySelectorAll('#record-form .err'))
      .filter(e => e.textContent).map(e => e.id + ': ' + e.textContent);
    if (res.textContent) return {ok: true, text: res.textContent, seq: +res.dataset.seq};
    if (errs.length) return {ok: false, errors: errs};
  }
  return {ok: false, errors: ['no answer']};
})()
"""


def record(b, agent, program, nid, commune="Phường 1", months="12", amount="1500000",
           time_="2023-07-24T09:30:00"):
    q = json.dumps
    return b.js(RECORD_JS % {"search": q(agent[-3:]), "agent": q(agent), "program": q(program),
                             "nid": q(nid), "commune": q(commune), "months": q(months),
                             "amount": q(amount), "time": q(time_)})


def summary(b):
    return b.js("(() => { const d = document.getElementById('list-summary').dataset;"
                " return {total: +d.total, queued: +d.queued, delivered: +d.delivered,"
                " rejected: +d.rejected}; })()")


def test_browser():
    if not os.path.exists(cdp.CHROMIUM):
        h.skip(f"test_browser: {cdp.CHROMIUM} is not installed")
        return
    with h.Workdir("office-browser") as wd:
        pub = {}
        for n in ("agg", "c672", "rep"):
            h.run([h.binary("chitieu-keys"), "gen", wd.sub(n)])
            pub[n] = h.run([h.binary("chitieu-keys"), "show", wd.sub(n) + ".pub"]).stdout.strip()
        auth = wd.sub("authorized.txt")
        good_auth = f"{pub['c672']} collector 672 office-672\n{pub['rep']} reporter hq\n"
        with open(auth, "w") as f:
            f.write(good_auth)
        curve = (pub["agg"], pub["rep"], [ln.split("=", 1)[1].strip() for ln in
                                          open(wd.sub("rep.key")) if ln.startswith("secret")][0])
        eps = {"ingest": f"tcp://127.0.0.1:{h.free_port()}", "feed": wd.ipc("feed"),
               "snapshot": wd.ipc("snap"), "data": wd.sub("agg-data")}
        agg = start_agg(wd, eps, wd.sub("agg.key"), auth)
        ob, pk = oc.make_office(wd)
        net = ["--server", eps["ingest"], "--keys", wd.sub("c672.key"), "--server-key",
               wd.sub("agg.pub")]
        wd.start([h.binary(oc.COLLECTOR), "run", "--outbox", ob, *net, "--stats-interval", "0",
                  "--resend-ms", "200"], name="run")
        sv, base = oc.serve(wd, ob, pk, *net, "--probe-interval", "1")
        prof = wd.sub("profile")
        b = cdp.Browser(prof)
        try:
            b.goto(base + "/")
            b.wait("!document.getElementById('login-box').hidden", what="login form")
            h.check(b.js("document.documentElement.lang") == "vi", "Vietnamese by default")
            h.check(b.js("document.querySelector('#login-box h2').textContent") == "Đăng nhập", "vi")
            b.js("document.getElementById('login-user').value = 'truong';"
                 "document.getElementById('login-password').value = 'mat-khau-truong';"
                 "document.getElementById('login-submit').click()")
            b.wait("!document.getElementById('app').hidden", what="logged in")
            h.check(b.js("document.getElementById('agent').options.length") == 22, "roster of 672")
            # 20 sign-ups for 3 staff members: 7, 7, 6; programs 1:2
            want = {"bhxh_tn": 0, "bhyt_hgd": 0}
            for i in range(20):
                prog = "bhxh_tn" if i % 3 == 0 else "bhyt_hgd"
                r = record(b, STAFF[i % 3], prog, f"0791{i:08d}", commune=f"Phường {i % 12 + 1}")
                h.check(r["ok"] and r["text"].startswith("Đã xếp hàng: ") and r["seq"] == i + 1,
                        f"sign-up {i}: {r}")
                want[prog] += 1
            # the same check as typed, with the CLI's message from the server
            r = record(b, STAFF[0], "bhxh_tn", "79100000001")
            h.check(r == {"ok": False, "errors": [
                "err-national_id: national ID must be exactly 12 digits (got 11 characters)"]}, r)
            # cancel the first sign-up from the list
            b.wait("document.querySelector('tr[data-seq=\"1\"] button.cancel') !== null", what="list")
            b.js("document.querySelector('tr[data-seq=\"1\"] button.cancel').click()")
            b.wait("!document.getElementById('cancel-box').hidden", what="confirmation")
            b.js("document.getElementById('cancel-reason').value = 'ghi nhầm người';"
                 "document.getElementById('cancel-confirm').click()")
            b.wait("document.getElementById('cancel-box').hidden", what="cancel done")
            b.js("document.getElementById('scope').value = 'all';"
                 "document.getElementById('scope').dispatchEvent(new Event('change'))")
            b.wait("+document.getElementById('list-summary').dataset.delivered === 21", timeout=60,
                   what="21 delivered on the page")
            h.check(summary(b) == {"total": 21, "queued": 0, "delivered": 21, "rejected": 0},
                    summary(b))
            per = b.js("Array.from(document.querySelectorAll('#list .staff'))"
                       ".map(s => [s.dataset.agent, s.querySelectorAll('tr').length])")
            h.check(per == [["LD672-001", 8], ["LD672-002", 7], ["LD672-003", 6]], per)
            h.check(b.js("document.querySelector('tr[data-seq=\"1\"] .cancelled') !== null"),
                    "cancelled mark")
            m = snapshot(eps, curve)
            h.check(m["s"] == 21, f"log seq {m['s']}")
            h.check(counts(m, "bhxh_tn") == (want["bhxh_tn"] - 1, want["bhxh_tn"], 1),
                    counts(m, "bhxh_tn"))
            h.check(counts(m, "bhyt_hgd") == (want["bhyt_hgd"], want["bhyt_hgd"], 0),
                    counts(m, "bhyt_hgd"))
            b.wait("document.getElementById('conn').dataset.state === 'connected'", what="connected")
            os.makedirs(ARTIFACTS, exist_ok=True)
            b.screenshot(os.path.join(ARTIFACTS, "office-desktop.png"), 1280, 900, False)
            b.screenshot(os.path.join(ARTIFACTS, "office-phone.png"), 412, 915, True)
            # aggregator down: recording goes on, the page says so
            agg.stop()
            for i in range(3):
                r = record(b, STAFF[i], "bhyt_hgd", f"0792{i:08d}")
                h.check(r["ok"], r)
            b.js("document.getElementById('lang').click()")
            b.wait("document.getElementById('conn').textContent.startsWith("
                   "'not connected, 3 waiting')", timeout=30, what="not connected, 3 waiting")
            h.check(b.js("document.getElementById('conn').dataset.state") == "disconnected", "state")
            h.check(b.js("document.querySelector('#login-box h2').textContent") == "Log in", "en")
            # back: delivered exactly once
            agg = start_agg(wd, eps, wd.sub("agg.key"), auth)
            b.wait("document.getElementById('conn').textContent.startsWith("
                   "'connected to HQ, 0 waiting')", timeout=60, what="connected, 0 waiting")
            b.wait("+document.getElementById('list-summary').dataset.delivered === 24", timeout=60,
                   what="24 delivered")
            m = snapshot(eps, curve)
            h.check(m["s"] == 24, f"log seq {m['s']}")
            h.check(counts(m, "bhyt_hgd") == (want["bhyt_hgd"] + 3, want["bhyt_hgd"] + 3, 0),
                    counts(m, "bhyt_hgd"))
            # rejected: the office's key is authorized for district 673
            with open(auth, "w") as f:
                f.write(f"{pub['c672']} collector 673 misconfigured\n{pub['rep']} reporter hq\n")
            agg.signal(signal.SIGHUP)
            agg.wait_log(r'msg="auth reloaded"')
            r = record(b, STAFF[1], "bhxh_tn", "079300000001")
            h.check(r["ok"], r)
            seq = r["seq"]
            b.wait(f"document.querySelector('tr[data-seq=\"{seq}\"]')?.dataset.state === 'rejected'",
                   timeout=60, what="rejected on the page")
            reason = b.js(f"document.querySelector('tr[data-seq=\"{seq}\"] .reason').textContent")
            h.check(reason == "this key may not write for that district (forbidden)", reason)
            b.screenshot(os.path.join(ARTIFACTS, "office-rejected-phone.png"), 412, 915, True)
            with open(auth, "w") as f:
                f.write(good_auth)
            agg.signal(signal.SIGHUP)
            agg.wait_log(r'msg="auth reloaded"', start=0)
            time.sleep(0.5)
            b.js(f"document.querySelector('tr[data-seq=\"{seq}\"] button.resend').click()")
            b.wait(f"document.querySelector('tr[data-seq=\"{seq}\"]')?.dataset.state === "
                   "'delivered'", timeout=60, what="re-sent and delivered")
            m = snapshot(eps, curve)
            h.check(m["s"] == 25, f"log seq {m['s']}")
            h.check(counts(m, "bhxh_tn") == (want["bhxh_tn"], want["bhxh_tn"] + 1, 1),
                    counts(m, "bhxh_tn"))
            h.check(summary(b) == {"total": 25, "queued": 0, "delivered": 25, "rejected": 0},
                    summary(b))
            # the Excel file through the page: a preview with the command line's
            # per-row messages, then the good rows queued and counted at HQ
            import test_import_cli as tic
            b.set_file("#import-file", tic.VI)
            b.js("document.getElementById('import-preview').click()")
            b.wait("document.getElementById('import-box').dataset.state === 'previewed'",
                   what="import preview")
            rows = b.js("Array.from(document.querySelectorAll('#import-report li'))"
                        ".map(li => [+li.dataset.line, li.className, li.textContent])")
            want_rows = sorted([(int(x.split(":")[0]), "good", f"excel-vi.csv:{x}")
                                for x in tic.VI_PLAN] +
                               [(int(x.split(":")[0]), "bad", f"excel-vi.csv:{x}")
                                for x in tic.VI_BAD])
            h.check([tuple(r) for r in rows] == want_rows, rows)
            h.check(b.js("document.getElementById('import-summary').textContent") ==
                    "excel-vi.csv: 12 rows: 5 would be queued, 0 already queued, 7 bad (dry run: "
                    "nothing queued)", "preview summary")
            h.check(int(oc.outbox_status(ob)["recorded"]) == 25, "the preview queued something")
            b.screenshot(os.path.join(ARTIFACTS, "office-import-desktop.png"), 1280, 900, False)
            b.js("document.getElementById('import-queue').click()")
            b.wait("document.getElementById('import-box').dataset.state === 'queued'",
                   what="import queued")
            h.check(b.js("document.getElementById('import-summary').textContent") ==
                    "excel-vi.csv: 12 rows: 5 queued, 0 already queued, 7 bad", "queue summary")
            h.check(b.js("document.getElementById('import-queue').disabled"), "queue twice")
            b.wait("+document.getElementById('list-summary').dataset.delivered === 30", timeout=60,
                   what="30 delivered")
            by = b.js("Array.from(document.querySelectorAll('#list tr'))"
                      ".filter(tr => +tr.dataset.seq > 25)"
                      ".map(tr => tr.querySelector('.by').textContent)")
            h.check(by == ["recorded by truong"] * 5, by)
            m = snapshot(eps, curve)
            h.check(m["s"] == 30, f"log seq {m['s']}")
            # rows 2 and 5 enroll bhxh_tn; rows 3 and 4 bhyt_hgd, row 13 cancels row 3
            h.check(counts(m, "bhxh_tn") == (want["bhxh_tn"] + 2, want["bhxh_tn"] + 3, 1),
                    counts(m, "bhxh_tn"))
            h.check(counts(m, "bhyt_hgd") == (want["bhyt_hgd"] + 4, want["bhyt_hgd"] + 5, 1),
                    counts(m, "bhyt_hgd"))
            for name in ("office-desktop.png", "office-phone.png", "office-rejected-phone.png",
                         "office-import-desktop.png"):
                p = os.path.join(ARTIFACTS, name)
                h.check(os.path.getsize(p) > 10000, f"screenshot {p}")
                print(f"  screenshot: {p}")
        finally:
            b.close()
            shutil.rmtree(prof, ignore_errors=True)


def test_communes_select():
    """A campaign that lists the unit's communes: the page offers them in a
    searchable select (no free text), and the sign-up carries the chosen one;
    a sign-up added on the command line shows as recorded by the command line."""
    if not os.path.exists(cdp.CHROMIUM):
        h.skip(f"test_communes_select: {cdp.CHROMIUM} is not installed")
        return
    with h.Workdir("office-communes-page") as wd:
        ob, pk = oc.make_office(wd, logins={"lan": oc.LOGINS["lan"]},
                                campaign=oc.commune_campaign(wd))
        sv, base = oc.serve(wd, ob, pk)
        prof = wd.sub("profile")
        b = cdp.Browser(prof)
        try:
            b.goto(base + "/")
            b.wait("!document.getElementById('login-box').hidden", what="login form")
            b.js("document.getElementById('login-user').value = 'lan';"
                 "document.getElementById('login-password').value = 'mat-khau-lan';"
                 "document.getElementById('login-submit').click()")
            b.wait("!document.getElementById('app').hidden", what="logged in")
            h.check(b.js("[document.getElementById('commune').hidden,"
                         " document.getElementById('commune-select').hidden,"
                         " document.getElementById('commune-select').options.length]") ==
                    [True, False, 13], "the commune select")
            b.js("const s = document.getElementById('commune-search'); s.value = '12';"
                 "s.dispatchEvent(new Event('input', {bubbles: true}))")
            h.check(b.js("Array.from(document.getElementById('commune-select').options)"
                         ".map(o => o.value)") == ["", "Phường 12"], "search")
            h.check(b.js("document.getElementById('commune-select').value") == "Phường 12",
                    "the one match is picked")
            r = record(b, "LD672-001", "bhxh_tn", "079100000077", commune="ignored")
            h.check(r["ok"] and r["seq"] == 1, r)
            b.wait("document.querySelector('tr[data-seq=\"1\"]') !== null", what="listed")
            h.check(b.js("document.querySelector('tr[data-seq=\"1\"] td:nth-child(3)')"
                         ".textContent") == "Phường 12", "the chosen commune")
            # a sign-up from the command line is on the list too
            oc.collector("add", "--outbox", ob, "--agent", "LD672-001", "--program", "bhyt_hgd",
                         "--national-id", "079100000078", "--person-key", pk, "--commune",
                         "Phường 3", "--time", "2023-07-24T09:45:00+07:00")
            b.wait("document.querySelector('tr[data-seq=\"2\"] .by') !== null", what="CLI entry")
            h.check([b.js(f"document.querySelector('tr[data-seq=\"{i}\"] .by').textContent")
                     for i in (1, 2)] == ["ghi bởi lan", "ghi bởi dòng lệnh"], "recorded by")
        finally:
            b.close()
            shutil.rmtree(prof, ignore_errors=True)
        sv.stop()


if __name__ == "__main__":
    h.main([test_browser, test_communes_select])
