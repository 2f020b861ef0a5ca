"""test_life_e2e — life entries issued by chitieu-collector, delivered by its
`run`, answered by a real chitieu-aggregator (docs/PROTOCOL.md §2.2, §5.3):
the exact answer each command prints with --wait (code and sentence), and
the aggregator's counters after them.

  - a void of this office's sign-up: accepted at the next log seq; NET down,
    VOIDED up; a second void (admin form) is already_voided;
  - a correction to the other program: accepted; the next correction of it
    names the program it counts in now and is accepted too;
  - a correction of a cancelled sign-up: not_current, with the sentence;
  - a close and a reopen of a day, a reopen of an open day: not_closed;
  - refused entries get no log record and are listed by `rejected`;
  - on the office screen (headless Chromium), a void accepted and a
    correction refused as not_current, shown with HQ's answer in Vietnamese
    and English.
"""
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

import cdp  # noqa: E402
import ctharness as H  # noqa: E402
import ctproto as P  # noqa: E402
import office_common as oc  # noqa: E402

HASH = ["%02x" % (0x41 + i) * 32 for i in range(4)]
COUNT_VOIDED, COUNT_CORRECTED, COUNT_CLOSE = 10, 11, 13


def col(*args, check=True):
    return H.run([H.binary("chitieu-collector"), *args], check=check)


def start_agg(wd):
    eps = {"ingest": wd.ipc("in"), "feed": wd.ipc("feed"), "snapshot": wd.ipc("snap"),
           "data": wd.sub("agg-data")}
    p = wd.start([H.binary("chitieu-aggregator"), "--campaign", H.CAMPAIGN, "--data", eps["data"],
                  "--ingest", eps["ingest"], "--feed", eps["feed"], "--snapshot", eps["snapshot"],
                  "--stats-interval", "0", "--insecure"], name="agg")
    p.wait_log(r'msg="ready"')
    return eps


def snapshot(eps):
    r = P.Reader(eps["feed"], eps["snapshot"])
    try:
        m = r.snapshot(timeout=10)
    finally:
        r.close()
    H.check(m is not None and m["k"] == "snp", f"no snapshot: {m!r:.200}")
    return m


def queued_id(r):
    m = re.match(r"queued ([0-9a-f]{32})", r.stdout)
    H.check(m is not None, f"no 'queued ID': {r.stdout!r} {r.stderr!r}")
    return m.group(1)


def test_answers_through_the_aggregator():
    with H.Workdir("life-e2e") as wd:
        eps = start_agg(wd)
        ob = wd.sub("ob")
        col("init", "--outbox", ob, "--district", "672", "--campaign", H.CAMPAIGN)

        def add(agent, program, h, action="add"):
            return queued_id(col(action, "--outbox", ob, "--agent", agent, "--program", program,
                                 "--person-hash", h, "--time", "2023-07-24T09:30"))
        e1 = add("LD672-001", "bhxh_tn", HASH[0])
        e2 = add("LD672-001", "bhxh_tn", HASH[1])
        e3 = add("LD672-002", "bhxh_tn", HASH[2])
        add("LD672-002", "bhxh_tn", HASH[2], action="cancel")
        wd.start([H.binary("chitieu-collector"), "run", "--outbox", ob, "--server", eps["ingest"],
                  "--insecure", "--stats-interval", "0", "--resend-ms", "200"], name="run")

        def life(*args, ok=True):
            r = col(*args, "--outbox", ob, "--by", "lead1", "--wait", "30", check=False)
            H.check(r.returncode == (0 if ok else 1), f"{args}: exit {r.returncode}\n"
                    f"{r.stdout}\n{r.stderr}")
            return r.stdout.splitlines()[-1]

        # a void needs the sign-up's acknowledgement: let the run deliver first
        for _ in range(300):
            if "queued:     0" in col("status", "--outbox", ob).stdout:
                break
            time.sleep(0.1)
        vid = queued_id(col("void", "--outbox", ob, "--event", e1, "--reason", "nhập sai",
                            "--by", "lead1", "--wait", "30"))
        m = snapshot(eps)
        H.check(m["s"] == 5, f"log at {m['s']}: 4 events and the void")
        c = m["c"]
        H.check(c.get(P.key(P.COUNT_NET, "bhxh_tn", 672), 0) == 1, "NET: e2 only")
        H.check(c.get(P.key(COUNT_VOIDED, "bhxh_tn", 672, "LD672-001"), 0) == 1, "VOIDED")
        last = life("void", "--event", e1, "--seq", "1", "--program", "bhxh_tn", "--person-ref",
                    HASH[0], "--unit", "672", "--reason", "lần nữa", ok=False)
        H.check(re.fullmatch(r"rejected [0-9a-f]{32} already_voided: this sign-up was voided "
                             r"already", last), last)
        H.check(vid[16:] == "%016x" % 5, "the void is the outbox's 5th entry")

        last = life("correct", "--event", e2, "--program", "bhyt_hgd", "--reason", "sai CT")
        H.check(re.fullmatch(r"accepted [0-9a-f]{32} at log seq 6", last), last)
        r = col("correct", "--outbox", ob, "--event", e2, "--agent", "LD672-002", "--reason",
                "sai người", "--by", "lead1", "--wait", "30")
        H.check(f"sign-up {e2} was corrected to bhyt_hgd by this office; it counts in bhyt_hgd "
                f"now" in r.stderr, r.stderr)
        H.check(f"kind=correct event={e2} q=2 unit=672 program=bhyt_hgd new_agent=LD672-002"
                in r.stdout and re.search(r"^accepted [0-9a-f]{32} at log seq 7$", r.stdout,
                                          re.M), r.stdout)
        m = snapshot(eps)
        c = m["c"]
        H.check((c.get(P.key(P.COUNT_NET, "bhxh_tn", 672), 0),
                 c.get(P.key(P.COUNT_NET, "bhyt_hgd", 672), 0),
                 c.get(P.key(P.COUNT_AGENT, "bhyt_hgd", 672, "LD672-002"), 0),
                 c.get(P.key(COUNT_CORRECTED, "bhyt_hgd", 672), 0)) == (0, 1, 1, 2),
                f"after the corrections: {c}")

        last = life("correct", "--event", e3, "--agent", "LD672-001", "--reason", "x", ok=False)
        H.check(re.fullmatch(r"rejected [0-9a-f]{32} not_current: this sign-up is no longer the "
                             r"person's current one: it was cancelled or replaced \(or moved to "
                             r"the other program by a correction\)", last), last)

        last = life("close", "--day", "2023-07-24", "--reason", "chốt ngày")
        H.check(re.fullmatch(r"accepted [0-9a-f]{32} at log seq 8", last), last)
        c = snapshot(eps)["c"]
        H.check(c.get(P.key(COUNT_CLOSE, 0, 0, (20230724).to_bytes(4, "big")), 0) == 8, "CLOSE")
        last = life("reopen", "--day", "2023-07-24", "--reason", "sửa")
        H.check(re.fullmatch(r"accepted [0-9a-f]{32} at log seq 9", last), last)
        last = life("reopen", "--day", "2023-07-24", "--reason", "lại", ok=False)
        H.check(re.fullmatch(r"rejected [0-9a-f]{32} not_closed: that day is not closed for "
                             r"that unit", last), last)
        r = col("rejected", "--outbox", ob)
        H.check("3 rejected events" in r.stdout and "kind=reopen unit=0 day=2023-07-24" in
                r.stdout, r.stdout)
        H.check(snapshot(eps)["s"] == 9, "refused entries got no log record")


LIFE_JS = """
(async () => {
  document.querySelector('tr[data-seq="%(seq)d"] button.%(kind)s').click();
  for (let i = 0; i < 100 && document.getElementById('life-box').hidden; i++)
    await new Promise(r => setTimeout(r, 50));
  %(fill)s
  document.getElementById('life-reason').value = %(reason)s;
  document.getElementById('life-confirm').click();
  for (let i = 0; i < 200; i++) {
    await new Promise(r => setTimeout(r, 50));
    if (document.getElementById('life-box').hidden) return true;
  }
  return document.getElementById('life-error').textContent;
})()
"""

LIFE_STATES = ("Array.from(document.querySelectorAll('tr[data-seq] div.life')).map(d =>"
               " [+d.closest('tr').dataset.seq, d.dataset.state, d.dataset.code || '',"
               " d.textContent])")


def test_office_screen_answers():
    if not os.path.exists(cdp.CHROMIUM):
        H.skip(f"test_office_screen_answers: {cdp.CHROMIUM} is not installed")
        return
    import json
    with H.Workdir("life-e2e-page") as wd:
        eps = start_agg(wd)
        ob, pk = oc.make_office(wd)
        wd.start([H.binary("chitieu-collector"), "run", "--outbox", ob, "--server", eps["ingest"],
                  "--insecure", "--stats-interval", "0", "--resend-ms", "200"], name="run")
        sv, base = oc.serve(wd, ob, pk)
        lead = oc.Client(base)
        H.check(lead.login("truong", "mat-khau-truong")[0] == 200, "login")
        for nid in ("079100000011", "079100000012"):
            st, j = lead.record(agent="LD672-001", program="bhxh_tn", national_id=nid,
                                time="2023-07-24T09:30:00")
            H.check(st == 200, f"record {j}")
        # the second person's sign-up is cancelled from the command line (not linked on the page)
        col("cancel", "--outbox", ob, "--agent", "LD672-001", "--program", "bhxh_tn",
            "--national-id", "079100000012", "--person-key", pk, "--time", "2023-07-24T10:00")
        for _ in range(300):
            if "queued:     0" in col("status", "--outbox", ob).stdout:
                break
            time.sleep(0.1)
        b = cdp.Browser(wd.sub("profile"))
        try:
            b.goto(base + "/")
            b.wait("!document.getElementById('login-box').hidden", what="login form")
            b.js("document.getElementById('login-user').value = 'truong';"
                 "document.getElementById('login-password').value = 'mat-khau-truong';"
                 "document.getElementById('login-submit').click()")
            b.wait("!document.getElementById('app').hidden", what="logged in")
            b.js("document.getElementById('scope').value = 'all';"
                 "document.getElementById('scope').dispatchEvent(new Event('change'))")
            b.wait("document.querySelector('tr[data-seq=\"2\"] button.correct') !== null",
                   what="buttons")
            q = json.dumps
            r = b.js(LIFE_JS % {"seq": 1, "kind": "void", "reason": q("ghi nhầm người"),
                                "fill": ""})
            H.check(r is True, f"void: {r}")
            r = b.js(LIFE_JS % {"seq": 2, "kind": "correct", "reason": q("sai cán bộ"),
                                "fill": "document.getElementById('life-agent').value = "
                                        "'LD672-002';"})
            H.check(r is True, f"correct: {r}")
            b.wait("Array.from(document.querySelectorAll('tr[data-seq] div.life'))"
                   ".every(d => d.dataset.state !== 'queued') &&"
                   " document.querySelectorAll('tr[data-seq] div.life').length === 2",
                   timeout=30, what="HQ's answers")
            st = sorted(b.js(LIFE_STATES))
            H.check(st == [[1, "delivered", "", "đã hủy bỏ (nhập sai): HQ đã chấp nhận"],
                           [2, "rejected", "not_current",
                            "đã sửa: HQ từ chối (not_current): đăng ký này không còn là đăng ký "
                            "hiện hành của người này: đã bị huỷ hoặc thay thế"]], f"{st}")
            b.js("document.getElementById('lang').click()")
            st = sorted(b.js(LIFE_STATES))
            H.check([x[3] for x in st] ==
                    ["voided (entered wrongly): accepted by HQ",
                     "corrected: refused by HQ (not_current): this sign-up is no longer the "
                     "person's current one: it was cancelled or replaced (or moved to the other "
                     "program by a correction)"], f"{st}")
            # an accepted void leaves nothing to void, correct or cancel; the refused
            # correction may be redone
            btn = b.js("[1, 2].map(s => ['cancel', 'void', 'correct'].map(k =>"
                       " !!document.querySelector(`tr[data-seq=\"${s}\"] button.${k}`)))")
            H.check(btn == [[False, False, False], [True, True, True]], f"{btn}")
        finally:
            b.close()
        c = snapshot(eps)["c"]
        H.check((c.get(P.key(P.COUNT_NET, "bhxh_tn", 672), 0),
                 c.get(P.key(COUNT_VOIDED, "bhxh_tn", 672, "LD672-001"), 0)) == (0, 1),
                f"counters {c}")


if __name__ == "__main__":
    H.main([test_answers_through_the_aggregator, test_office_screen_answers])
