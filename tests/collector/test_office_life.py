"""test_office_life — the office screen's void ("Hủy bỏ (nhập sai)") and
correct ("Sửa") of a delivered sign-up, with a real `serve`, real outboxes,
a real aggregator for the deliveries, and headless Chromium for the page:

  - every hostile form is refused with a clear error and queues nothing
    (missing, oversized or NUL-holding reason, a forged CSRF token, a bad
    nonce, an event id of another outbox or another office, a sign-up not yet
    acknowledged by headquarters, a cancel, a staff login acting on another
    staff member's sign-up, a correction that changes nothing or names an
    unknown staff member); the same form twice queues one entry;
  - in the browser, a lead voids one sign-up and corrects another through the
    list's buttons and forms (a missing reason is refused on the page); the
    list then shows both waiting for headquarters, in Vietnamese and English,
    and offers no second void.
The answers of headquarters to these entries are checked in test_life_e2e.py.
"""
import os
import sys

import office_common as oc
from office_common import h

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402


def start_agg(wd):
    eps = {"ingest": wd.ipc("in"), "feed": wd.ipc("feed"), "snapshot": wd.ipc("snap"),
           "data": wd.sub("agg-data")}
    p = wd.start([h.binary("chitieu-aggregator"), "--campaign", h.CAMPAIGN, "--data", eps["data"],
                  "--ingest", eps["ingest"], "--feed", eps["feed"], "--snapshot", eps["snapshot"],
                  "--stats-interval", "0", "--insecure"], name="agg")
    p.wait_log(r'msg="ready"')
    return eps


def deliver(ob, eps):
    oc.collector("run", "--outbox", ob, "--server", eps["ingest"], "--insecure", "--once",
                 "--give-up", "60", "--stats-interval", "0")


def queued(ob):
    for line in oc.collector("status", "--outbox", ob).stdout.splitlines():
        if line.startswith("queued:"):
            return int(line.split(":")[1])
    raise AssertionError("no queued line")


def life(c, kind, event, form=None, **f):
    fields = {"csrf": c.csrf, "form": form or os.urandom(16).hex(), "event": event}
    fields.update(f)
    return c.req("POST", "/api/" + kind, fields)


def setup_office(wd):
    """Three delivered sign-ups (LD672-001 twice, LD672-002), one delivered
    cancel, one sign-up still waiting; a serve; the lead's client."""
    eps = start_agg(wd)
    ob, pk = oc.make_office(wd)
    sv, base = oc.serve(wd, ob, pk)
    lead = oc.Client(base)
    st, _ = lead.login("truong", "mat-khau-truong")
    h.check(st == 200, "lead login")
    ids = []
    for agent, nid in (("LD672-001", "079100000001"), ("LD672-001", "079100000002"),
                       ("LD672-002", "079100000003")):
        st, j = lead.record(agent=agent, program="bhxh_tn", national_id=nid, commune="Phường 1",
                            time="2023-07-24T09:30:00")
        h.check(st == 200, f"record: {st} {j}")
        ids.append(j["id"])
    st, j = lead.cancel(3, "người dân rút")
    h.check(st == 200, f"cancel: {st} {j}")
    ids.append(j["id"])
    deliver(ob, eps)
    st, j = lead.record(agent="LD672-001", program="bhyt_hgd", national_id="079100000005",
                        time="2023-07-24T09:40:00")
    h.check(st == 200, f"record: {st} {j}")
    ids.append(j["id"])
    h.check(queued(ob) == 1, "one sign-up waiting")
    return eps, ob, pk, base, lead, ids


def test_hostile_forms():
    with h.Workdir("office-life") as wd:
        eps, ob, pk, base, lead, ids = setup_office(wd)
        other_ob = wd.sub("ob673")
        oc.collector("init", "--outbox", other_ob, "--district", "673")
        r = oc.collector("add", "--outbox", other_ob, "--agent", "LD673-001", "--program",
                         "bhxh_tn", "--person-hash", "33" * 32, "--time", "2023-07-24T09:00")
        other_office = r.stdout.split()[1]
        deliver(other_ob, eps)
        foreign = "ffeeddccbbaa9988" + ids[0][16:]
        cases = [
            ("void", ids[0], {}, 400, "bad_value", "reason", "reason: is missing"),
            ("void", ids[0], {"reason": ""}, 400, "bad_value", "reason", "reason: is missing"),
            ("void", ids[0], {"reason": "   "}, 400, "bad_value", "reason",
             "reason: is missing (spaces only)"),
            ("void", ids[0], {"reason": "x" * 201}, 400, "bad_value", "reason", None),
            ("void", ids[0], {"reason": "a\x00b"}, 400, "bad_value", "reason", None),
            ("void", ids[0], {"reason": "r", "csrf": "0" * 64}, 403, "forbidden", "csrf", None),
            ("void", ids[0], {"reason": "r", "form": "xyz"}, 400, "bad_value", "form", None),
            ("void", "1234", {"reason": "r"}, 400, "bad_event_id", "event", None),
            ("void", foreign, {"reason": "r"}, 404, "not_found", "event",
             f"event {foreign} is not one of this outbox's (another office's, or mistyped)"),
            ("void", other_office, {"reason": "r"}, 404, "not_found", "event", None),
            ("void", ids[4], {"reason": "r"}, 409, "timeout", "event",
             f"sign-up {ids[4]} is not acknowledged by headquarters yet (it waits in the "
             "outbox): deliver it with `run`, then void or correct it"),
            ("void", ids[3], {"reason": "r"}, 409, "bad_value", "event",
             f"event {ids[3]} is not a sign-up (only an enroll can be voided or corrected)"),
            ("correct", ids[0], {"reason": "r"}, 400, "missing_field", "agent", None),
            ("correct", ids[0], {"reason": "r", "agent": "LD672-001", "program": "bhxh_tn"},
             422, "bad_value", "", "this correction changes nothing"),
            ("correct", ids[0], {"reason": "r", "agent": "LD999-001"}, 422, "unknown_agent",
             "agent", None),
            ("correct", ids[0], {"reason": "r", "program": "bhxh"}, 422, "unknown_program",
             "program", None),
            ("correct", ids[0], {"reason": "r", "note": "x"}, 400, "bad_value", "note", None),
        ]
        for kind, ev, extra, status, code, field, error in cases:
            st, j = life(lead, kind, ev, **extra)
            h.check((st, j["ok"], j["code"], j.get("field", "")) == (status, False, code, field),
                    f"{kind} {ev} {extra!r:.60}: {st} {j}")
            if error is not None:
                h.check(j["error"] == error, f"{kind} {extra!r:.60}: {j['error']!r}")
            h.check(queued(ob) == 1, f"{kind} {extra!r:.60}: something was queued")
        # staff: only their own agent's sign-ups, and no move to another agent
        lan = oc.Client(base)
        h.check(lan.login("lan", "mat-khau-lan")[0] == 200, "staff login")
        st, j = life(lan, "void", ids[2], reason="r")
        h.check((st, j["code"], j["error"]) ==
                (403, "forbidden", "login lan voids and corrects sign-ups of LD672-001 only"),
                f"{st} {j}")
        st, j = life(lan, "correct", ids[0], reason="r", agent="LD672-002")
        h.check((st, j["code"], j["field"]) == (403, "forbidden", "agent"), f"{st} {j}")
        h.check(queued(ob) == 1, "nothing queued by the staff login")
        # the same form twice: one entry
        form = os.urandom(16).hex()
        st, j1 = life(lan, "void", ids[0], form=form, reason="ghi nhầm")
        h.check(st == 200 and j1["already"] is False and j1["state"] == "queued", f"{st} {j1}")
        st, j2 = life(lan, "void", ids[0], form=form, reason="ghi nhầm")
        h.check(st == 200 and j2["already"] is True and j2["id"] == j1["id"], f"{st} {j2}")
        h.check(queued(ob) == 2, "one void queued")
        # its row in the list
        rows = {e["seq"]: e for e in lan.list()}
        v = rows[j1["seq"]]
        h.check((v["kind"], v["event"], v["target_seq"], v["event_q"], v["program"], v["by"],
                 v["life_reason"], v["recorded_by"], v["state"]) ==
                ("void", ids[0], 1, 1, "bhxh_tn", "lan", "ghi nhầm", "lan", "queued"), f"{v}")
        h.check(rows[1]["q"] == 1 and rows[1]["state"] == "delivered", f"{rows[1]}")
        # while it waits, no second void or correction of that sign-up
        st, j = life(lead, "correct", ids[0], reason="r", program="bhyt_hgd")
        h.check((st, j["code"]) == (409, "timeout") and "still waiting" in j["error"], f"{j}")


VOID_JS = """
(async () => {
  document.querySelector('tr[data-seq="%(seq)d"] button.%(kind)s').click();
  for (let i = 0; i < 100 && document.getElementById('life-box').hidden; i++)
    await new Promise(r => setTimeout(r, 50));
  %(fill)s
  document.getElementById('life-reason').value = %(reason)s;
  document.getElementById('life-confirm').click();
  for (let i = 0; i < 200; i++) {
    await new Promise(r => setTimeout(r, 50));
    const errs = Array.from(document.querySelectorAll('#life-form .err'))
      .filter(e => e.textContent).map(e => e.id + ': ' + e.textContent);
    if (errs.length) return {ok: false, errors: errs};
    if (document.getElementById('life-box').hidden) return {ok: true};
  }
  return {ok: false, errors: ['no answer']};
})()
"""


def life_js(seq, kind, reason, fill=""):
    import json
    return VOID_JS % {"seq": seq, "kind": kind, "reason": json.dumps(reason), "fill": fill}


def test_browser_void_correct():
    if not os.path.exists(cdp.CHROMIUM):
        h.skip(f"test_browser_void_correct: {cdp.CHROMIUM} is not installed")
        return
    with h.Workdir("office-life-browser") as wd:
        eps, ob, pk, base, lead, ids = setup_office(wd)
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
            b.wait("document.querySelector('tr[data-seq=\"1\"] button.void') !== null",
                   what="void button")
            # buttons only on delivered sign-ups: not on the cancel, the cancelled one,
            # nor the one still waiting
            btns = b.js("Array.from(document.querySelectorAll('tr[data-seq]')).map(r =>"
                        " [+r.dataset.seq, !!r.querySelector('button.void'),"
                        " !!r.querySelector('button.correct')])")
            h.check(sorted(btns) == [[1, True, True], [2, True, True], [3, False, False],
                                     [4, False, False], [5, False, False]], f"{btns}")
            h.check(b.js("document.querySelector('tr[data-seq=\"1\"] button.void').textContent")
                    == "Hủy bỏ (nhập sai)", "vi label")
            r = b.js(life_js(1, "void", ""))
            h.check(r == {"ok": False, "errors": ["life-err-reason: Hãy nhập lý do"]}, f"{r}")
            h.check(queued(ob) == 1, "nothing queued without a reason")
            b.js("document.getElementById('life-back').click()")
            r = b.js(life_js(1, "void", "ghi nhầm người"))
            h.check(r == {"ok": True}, f"void: {r}")
            r = b.js(life_js(2, "correct", "sai chương trình",
                             "document.getElementById('life-program').value = 'bhyt_hgd';"))
            h.check(r == {"ok": True}, f"correct: {r}")
            h.check(queued(ob) == 3, "void and correction queued")
            b.wait("document.querySelectorAll('#life-list tr').length === 2", what="life list")
            st = b.js("Array.from(document.querySelectorAll('tr[data-seq] div.life')).map(d =>"
                      " [+d.closest('tr').dataset.seq, d.dataset.kind, d.dataset.state,"
                      " d.textContent])")
            h.check(sorted(st) == [[1, "void", "queued", "đã hủy bỏ (nhập sai): đang chờ HQ"],
                                   [2, "correct", "queued", "đã sửa: đang chờ HQ"]], f"{st}")
            h.check(b.js("document.querySelector('tr[data-seq=\"1\"] button.void')") is None,
                    "no second void while one waits")
            rows = b.js("Array.from(document.querySelectorAll('#life-list tr')).map(r =>"
                        " Array.from(r.cells).slice(1).map(c => c.textContent))")
            h.check(rows == [[f"Hủy bỏ · {ids[0]}", "", "ghi nhầm người", "truong",
                              "đang chờ HQ"],
                             [f"Sửa · {ids[1]}", "Chương trình: bhyt_hgd", "sai chương trình",
                              "truong", "đang chờ HQ"]], f"{rows}")
            b.js("document.getElementById('lang').click()")
            h.check(b.js("document.querySelector('tr[data-seq=\"1\"] div.life').textContent")
                    == "voided (entered wrongly): waiting for HQ", "en")
            entries = lead.list()
            life_rows = [(e["kind"], e["event"], e.get("new_program"), e["by"], e["state"])
                         for e in entries if e["kind"] in ("void", "correct")]
            h.check(life_rows == [("void", ids[0], None, "truong", "queued"),
                                  ("correct", ids[1], "bhyt_hgd", "truong", "queued")],
                    f"{life_rows}")
        finally:
            b.close()


if __name__ == "__main__":
    h.main([test_hostile_forms, test_browser_void_correct])
