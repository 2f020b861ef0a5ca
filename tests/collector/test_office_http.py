"""test_office_http — `chitieu-collector serve` at the HTTP level, with the
real binary, a real outbox and real logins: the login (login token,
rate limit, cookies), the roles, recording and cancelling with the CLI's
messages next to the field, and the hostile-input list — each case asserts
the exact reply and that nothing was queued. Also: the clear national ID is
written nowhere (outbox files, users file, log), TLS, and the refusal to
serve plain HTTP off loopback.
"""
import glob
import os
import subprocess
import threading
import time

import office_common as oc
from office_common import h

GOOD = {"agent": "LD672-001", "program": "bhxh_tn", "national_id": "012345678901",
        "commune": "Phường 1", "months": "12", "amount": "1500000", "group": "",
        "time": "2023-07-24T09:30"}


def queued(ob):
    return int(oc.outbox_status(ob)["queued"])


def test_login_and_record():
    with h.Workdir("office-http") as wd:
        ob, pk = oc.make_office(wd)
        sv, base = oc.serve(wd, ob, pk)
        c = oc.Client(base)
        st, j = c.session()
        h.check(st == 401 and j["error"] == "login required" and len(j["login_token"]) == 64, j)
        cookie = c.last_headers.get_all("Set-Cookie")
        h.check(cookie == [f"ct_login={j['login_token']}; Path=/; HttpOnly; SameSite=Strict"], cookie)
        st, j = c.login("lan", "wrong-password")
        h.check((st, j) == (401, {"ok": False, "code": "unauthenticated", "field": "password",
                                  "error": "wrong login or password"}), (st, j))
        st, j = c.login("lan", "mat-khau-lan")
        h.check(st == 200 and j["user"] == "lan" and j["role"] == "staff" and
                j["agent"] == "LD672-001" and j["office"] == "Thành phố Đà Lạt", j)
        h.check(j["roster"] == [{"id": "LD672-001", "name": "Trương Thanh Trung"}], j["roster"])
        h.check(j["now"].startswith("2023-07-24T10:00:0"), j["now"])
        sc = c.last_headers.get_all("Set-Cookie")
        h.check(len(sc) == 2 and sc[0].startswith("ct_session=") and
                sc[0].endswith("; Path=/; HttpOnly; SameSite=Strict"), sc)
        h.check(c.last_headers["Content-Security-Policy"].startswith("default-src 'none'"), "csp")
        # the CLI's messages, next to the field
        for fields, status, code, field, msg in [
            ({"national_id": "01234567890"}, 422, "bad_national_id", "national_id",
             "national ID must be exactly 12 digits (got 11 characters)"),
            ({"national_id": ""}, 422, "missing_field", "national_id", "national ID is missing"),
            ({"program": "bhxh"}, 422, "unknown_program", "program",
             "unknown program 'bhxh' (expected bhxh_tn or bhyt_hgd)"),
            ({"months": "601"}, 422, "bad_value", "months",
             "months must be a whole number from 1 to 600 (got '601')"),
            ({"amount": "1.500.000"}, 422, "bad_value", "amount",
             "amount must be a whole number of VND (got '1.500.000')"),
            ({"group": "vip"}, 422, "unknown_group", "group", "unknown subsidy group 'vip'"),
            ({"time": "2023-08-02T09:30"}, 422, "outside_window", "time",
             "time 2023-08-02T09:30:00+07:00 is outside the campaign window: accepted from "
             "2023-07-22T07:50:00+07:00 up to (not including) 2023-08-01T00:10:00+07:00 (the "
             "window 2023-07-22T08:00:00+07:00 to 2023-08-01T00:00:00+07:00 with its 600 s "
             "tolerance)"),
            ({"time": "24/07/2023"}, 422, "bad_value", "time",
             "bad time '24/07/2023' (expected e.g. 2023-07-24T09:30:00+07:00)"),
            ({"agent": "LD672-002"}, 403, "forbidden", "agent",
             "login lan records for LD672-001 only (a lead records for anyone)"),
        ]:
            st, j = c.record(**{**GOOD, **fields})
            h.check((st, j) == (status, {"ok": False, "code": code, "field": field, "error": msg}),
                    f"{fields}: {st} {j}")
        h.check(queued(ob) == 0, "a refused sign-up was queued")
        # the same message on the command line
        r = oc.collector("add", "--outbox", ob, "--agent", "LD672-001", "--program", "bhxh_tn",
                         "--national-id", "01234567890", "--person-key", pk, check=False)
        h.check("national ID must be exactly 12 digits (got 11 characters)" in r.stderr, r.stderr)
        st, j = c.record(**GOOD)
        h.check(st == 200 and j["state"] == "queued" and j["seq"] == 1 and not j["already"], j)
        h.check(queued(ob) == 1, "queued")
        # a lead records for anyone of the office, not for another district
        lead = oc.Client(base)
        lead.login("truong", "mat-khau-truong")
        st, j = lead.record(**{**GOOD, "agent": "LD672-002", "national_id": "012345678902"})
        h.check(st == 200 and j["seq"] == 2, j)
        st, j = lead.record(**{**GOOD, "agent": "LD673-001"})
        h.check((st, j["field"], j["error"]) ==
                (422, "agent", "agent 'LD673-001' belongs to district 673, not to this office's 672"),
                j)
        ents = c.list()
        h.check([(e["seq"], e["agent"], e["recorded_by"], e["state"]) for e in ents] ==
                [(1, "LD672-001", "lan", "queued"), (2, "LD672-002", "truong", "queued")], ents)
        # cancel: confirmation, reason, own sign-ups only for staff
        st, j = c.cancel(2, "sai người")
        h.check((st, j["error"]) == (403, "login lan cancels sign-ups of LD672-001 only"), j)
        st, j = c.cancel(1, "sai người", confirm="no")
        h.check((st, j["error"]) == (400, "confirm: a cancel must be confirmed (yes)"), j)
        st, j = c.cancel(1, "")
        h.check((st, j["error"]) == (400, "reason: is missing"), j)
        st, j = c.cancel(1, "ghi nhầm người")
        h.check(st == 200 and j["seq"] == 3, j)
        st, j = c.cancel(1, "again")
        h.check((st, j["error"]) == (409, "this sign-up is cancelled already"), j)
        ents = c.list()
        h.check(ents[0]["cancelled_by"] == 3 and ents[2]["action"] == "cancel" and
                ents[2]["cancels"] == 1 and ents[2]["cancel_reason"] == "ghi nhầm người", ents)
        h.check(queued(ob) == 3, "3 queued")
        # status: no --server given
        s = c.status()
        h.check(s == {"ok": True, "connected": None, "checked_at": None, "last_answer": None,
                      "detail": "", "waiting": 3, "committed_not_safe": 0, "rejected": 0, "delivered": 0,
                      "deliverer_running": False}, s)
        # logout; the cookie replayed afterwards is dead
        old = list(c.jar)
        st, j = c.req("POST", "/api/logout", {"csrf": c.csrf})
        h.check(st == 200, j)
        c2 = oc.Client(base)
        for ck in old:
            c2.jar.set_cookie(ck)
        st, j = c2.record(**GOOD)
        h.check((st, j) == (401, {"ok": False, "code": "unauthenticated",
                                  "error": "login required"}), j)
        # a removed login is locked out at once
        oc.collector("users", "remove", "truong", "--outbox", ob)
        st, j = lead.record(**{**GOOD, "national_id": "012345678909", "agent": "LD672-003"})
        h.check(st == 401, j)
        h.check(queued(ob) == 3, "nothing more queued")
        sv.stop()
        # the clear national IDs are nowhere on disk or in the log
        for f in glob.glob(os.path.join(wd.path, "**", "*"), recursive=True):
            if os.path.isfile(f):
                data = open(f, "rb").read()
                for nid in (b"012345678901", b"012345678902", b"01234567890"):
                    h.check(nid not in data, f"{nid} in {f}")
        h.check(not any("01234567890" in ln for ln in sv.lines), "national ID in the log")


def test_hostile():
    with h.Workdir("office-hostile") as wd:
        ob, pk = oc.make_office(wd)
        # an idle time long enough for a loaded machine (an Argon2id login blocks
        # the request thread for a while) and short enough to expire below
        sv, base = oc.serve(wd, ob, pk, "--session-ttl", "10")
        c = oc.Client(base)
        c.login("truong", "mat-khau-truong")

        def refused(st_want, j_want, **kw):
            before = queued(ob)
            st, j = c.record(**{**GOOD, **kw}) if "raw" not in kw else c.req(
                "POST", "/api/record", raw=kw["raw"], ctype=kw.get("ctype",
                                                                   "application/x-www-form-urlencoded"))
            h.check((st, j) == (st_want, j_want), f"{list(kw)}: {st} {j}")
            h.check(queued(ob) == before, f"{list(kw)} queued something")

        def form(raw=None, **kw):
            """The urlencoded form; raw: fields written as given (not encoded)."""
            import urllib.parse
            f = {"csrf": c.csrf, "form": os.urandom(16).hex(), **GOOD, **kw}
            for k in raw or {}:
                f.pop(k, None)
            return "&".join([urllib.parse.urlencode(f)] + [f"{k}={v}" for k, v in (raw or {}).items()])

        script = "<script>alert(1)</script>"
        refused(422, {"ok": False, "code": "unknown_agent", "field": "agent",
                      "error": f"agent '{script}' is not on the roster"}, agent=script)
        refused(422, {"ok": False, "code": "unknown_group", "field": "group",
                      "error": f"unknown subsidy group '<img src=x onerror=alert(1)>'"},
                group="<img src=x onerror=alert(1)>")
        refused(422, {"ok": False, "code": "string_too_long", "field": "commune",
                      "error": "commune is too long (97 bytes, at most 96)"}, commune="x" * 97)
        refused(400, {"ok": False, "code": "bad_value", "field": "commune",
                      "error": "commune: too long (300 bytes, at most 256)"}, commune="x" * 300)
        refused(413, {"ok": False, "code": "frame_too_large", "error": "the request is too large"},
                raw=form(commune="x" * 9000))
        refused(400, {"ok": False, "code": "bad_value", "field": "commune",
                      "error": "commune: is not valid UTF-8"}, raw=form({"commune": "%C3%28"}))
        refused(400, {"ok": False, "code": "bad_value", "field": "national_id",
                      "error": "national_id: holds a NUL byte"},
                raw=form({"national_id": "0123%0045678901"}))
        refused(400, {"ok": False, "code": "bad_value", "field": "commune",
                      "error": "commune: holds a control character"}, commune="a\nb")
        refused(400, {"ok": False, "code": "bad_value", "field": "commune",
                      "error": "commune: given twice"}, raw=form() + "&commune=x")
        refused(400, {"ok": False, "code": "bad_value", "field": "admin",
                      "error": "admin: unknown field"}, raw=form() + "&admin=1")
        refused(400, {"ok": False, "code": "bad_value", "field": "commune",
                      "error": "commune: malformed %-escape"}, raw=form({"commune": "%G1"}))
        refused(400, {"ok": False, "code": "bad_value", "field": "commune",
                      "error": "commune: malformed %-escape"}, raw=form({"commune": "ab%4"}))
        refused(415, {"ok": False, "code": "bad_value",
                      "error": "expected an application/x-www-form-urlencoded form"},
                raw='{"agent":"LD672-001"}', ctype="application/json")
        # CSRF: forged, missing, another session's
        refused(403, {"ok": False, "code": "forbidden", "field": "csrf",
                      "error": "the form's security token is wrong or expired: reload the page"},
                raw=form(csrf="0" * 64))
        refused(403, {"ok": False, "code": "bad_value", "field": "csrf",
                      "error": "csrf: is missing"}, raw=form(csrf=""))
        other = oc.Client(base)
        other.login("lan", "mat-khau-lan")
        refused(403, {"ok": False, "code": "forbidden", "field": "csrf",
                      "error": "the form's security token is wrong or expired: reload the page"},
                raw=form(csrf=other.csrf))
        # login without its token (a cross-site login form)
        st, j = oc.Client(base).req("POST", "/api/login", {"user": "lan", "password": "mat-khau-lan"})
        h.check((st, j) == (403, {"ok": False, "code": "bad_value", "field": "csrf",
                                  "error": "csrf: is missing"}), j)
        # concurrent double submit of one form: exactly one event
        before = queued(ob)
        nonce = os.urandom(16).hex()
        results = []

        def submit():
            results.append(c.record(form=nonce, **{**GOOD, "national_id": "098765432109"}))
        ts = [threading.Thread(target=submit) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        h.check(all(st == 200 for st, _ in results), results)
        h.check(len({j["id"] for _, j in results}) == 1, results)
        h.check(sorted(j["already"] for _, j in results) == [False, True, True, True], results)
        h.check(queued(ob) == before + 1, "double submit queued twice")
        # a commune with markup is only data: stored as typed, returned as JSON text
        st, j = c.record(**{**GOOD, "national_id": "098765432100", "commune": script})
        h.check(st == 200, j)
        h.check(c.list()[-1]["commune"] == script, "commune round trip")
        h.check(c.last_headers["Content-Type"] == "application/json; charset=utf-8" and
                c.last_headers["X-Content-Type-Options"] == "nosniff", "json headers")
        # an expired session (--session-ttl 10): the cookie no longer works
        before = queued(ob)
        time.sleep(11)
        st, j = c.record(**{**GOOD, "national_id": "098765432101"})
        h.check((st, j) == (401, {"ok": False, "code": "unauthenticated",
                                  "error": "login required"}), j)
        h.check(queued(ob) == before, "expired session queued")
        # login rate limit: 5 failures, then even the right password waits
        rl = oc.Client(base)
        for _ in range(5):
            st, _ = rl.login("hoa", "not-her-password")
            h.check(st == 401, st)
        st, j = rl.login("hoa", "mat-khau-hoa")
        h.check(st == 429 and j["error"].startswith("too many failed logins: try again in "), j)
        sv.stop()


def test_binding_and_tls():
    with h.Workdir("office-tls") as wd:
        ob, pk = oc.make_office(wd, logins={"lan": oc.LOGINS["lan"]})
        r = h.run([h.binary(oc.COLLECTOR), "serve", "--outbox", ob, "--person-key", pk,
                   "--http", "192.0.2.1:8443"], check=False)
        h.check(r.returncode == 2 and "refusing to serve 192.0.2.1:8443 without TLS: passwords "
                "and national IDs would cross the network in clear" in r.stderr, r.stderr)
        r = h.run([h.binary(oc.COLLECTOR), "serve", "--outbox", ob, "--http", "127.0.0.1:1"],
                  check=False)
        h.check(r.returncode == 2 and "serve needs --person-key FILE" in r.stderr, r.stderr)
        cert, key = wd.sub("cert.pem"), wd.sub("key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1"], check=True,
                       capture_output=True)
        port = h.free_port()
        sv = wd.start([h.binary(oc.COLLECTOR), "serve", "--outbox", ob, "--person-key", pk,
                       "--http", f"127.0.0.1:{port}", "--tls-cert", cert, "--tls-key", key,
                       "--now", oc.NOW], name="serve-tls")
        sv.wait_log(r'msg="office screen ready" url=https://127.0.0.1:')
        c = oc.Client(f"https://127.0.0.1:{port}", context=oc.unverified_tls())
        st, j = c.login("lan", "mat-khau-lan")
        h.check(st == 200, j)
        sc = c.last_headers.get_all("Set-Cookie")
        h.check(sc[0].endswith("; Path=/; HttpOnly; SameSite=Strict; Secure"), sc)
        st, j = c.record(**GOOD)
        h.check(st == 200 and j["seq"] == 1, j)
        sv.stop()


def reject(ob, seqs, code):
    """Moves the queued events seqs to "rejected" with code, in the outbox's
    own layout (ct_outbox.h), as a settle of rejections does."""
    import lmdb
    env = lmdb.open(ob, max_dbs=8, subdir=True)
    with env.begin(write=True) as t:
        outbox, rejected, meta = (env.open_db(n, txn=t) for n in (b"outbox", b"rejected", b"meta"))
        for seq in seqs:
            k = seq.to_bytes(8, "big")
            ev = t.get(k, db=outbox)
            h.check(ev is not None, f"seq {seq} queued")
            t.put(k, code.to_bytes(2, "big") + ev, db=rejected)
            t.delete(k, db=outbox)
        n = int.from_bytes(t.get(b"rejected", db=meta) or bytes(8), "big")
        t.put(b"rejected", (n + len(seqs)).to_bytes(8, "big"), db=meta)
    env.close()


def test_resend_own():
    """Staff re-send rejections of their own agent's sign-ups only (as they
    cancel only theirs), by reason or by seq, even while other agents'
    events are rejected for the same reason; a lead re-sends the whole
    office's."""
    unknown_agent = 42  # proto/ct_error.h
    with h.Workdir("office-resend") as wd:
        ob, pk = oc.make_office(wd)
        sv, base = oc.serve(wd, ob, pk)
        lan, minh, lead = oc.Client(base), oc.Client(base), oc.Client(base)
        lan.login("lan", "mat-khau-lan")
        minh.login("minh", "mat-khau-minh")
        lead.login("truong", "mat-khau-truong")
        for i, (c, agent) in enumerate([(lan, "LD672-001"), (minh, "LD672-002"),
                                        (lan, "LD672-001")]):
            st, j = c.record(**{**GOOD, "agent": agent, "national_id": f"01234567890{i}"})
            h.check(st == 200 and j["seq"] == i + 1, j)
        reject(ob, [1, 2, 3], unknown_agent)
        h.check(lan.status()["rejected"] == 3, "3 rejected")

        def resend(c):
            return c.req("POST", "/api/resend", {"csrf": c.csrf, "code": "unknown_agent"})

        # a staff member re-sends exactly their own: lan's 2, minh's stays rejected
        st, j = resend(lan)
        h.check((st, j) == (200, {"ok": True, "requeued": 2, "conflicts": 0}), (st, j))
        h.check(queued(ob) == 2 and lan.status()["rejected"] == 1, "lan's 2 queued again")
        st, j = resend(lan)
        h.check((st, j) == (200, {"ok": True, "requeued": 0, "conflicts": 0}), (st, j))
        # by seq: minh cannot move lan's event, the lead can move minh's
        reject(ob, [3], unknown_agent)
        st, j = minh.req("POST", "/api/resend", {"csrf": minh.csrf, "seq": "3"})
        h.check((st, j) == (200, {"ok": True, "requeued": 0, "conflicts": 0}), (st, j))
        h.check(queued(ob) == 1 and lan.status()["rejected"] == 2, "minh moved lan's event")
        st, j = lead.req("POST", "/api/resend", {"csrf": lead.csrf, "seq": "2"})
        h.check((st, j) == (200, {"ok": True, "requeued": 1, "conflicts": 0}), (st, j))
        st, j = minh.req("POST", "/api/resend", {"csrf": minh.csrf, "seq": "x"})
        h.check((st, j) == (400, {"ok": False, "code": "bad_value", "field": "seq",
                                  "error": "seq: not a whole number"}), (st, j))
        st, j = minh.req("POST", "/api/resend", {"csrf": "0" * 64, "seq": "3"})
        h.check(st == 403 and lan.status()["rejected"] == 1, (st, j))
        # the lead re-sends the whole office's by reason
        st, j = resend(lead)
        h.check((st, j) == (200, {"ok": True, "requeued": 1, "conflicts": 0}), (st, j))
        h.check(queued(ob) == 3 and lan.status()["rejected"] == 0, "all 3 queued again")
        sv.stop()


def upload(c, data, mode, name="excel-vi.csv", csrf=None, ctype="text/csv"):
    import urllib.parse
    q = urllib.parse.urlencode({"mode": mode, "name": name})
    return c.req("POST", f"/api/import?{q}", raw=data, ctype=ctype,
                 headers={"X-CSRF-Token": c.csrf if csrf is None else csrf})


def test_import_upload():
    """The page's upload runs the CLI's import: the same per-row messages and
    summary (compared with `import --dry-run` on the same file), a preview that
    queues nothing, a confirm that queues the good rows in one commit with
    notes naming the login; a staff member's rows for other agents are bad
    rows; hostile uploads queue nothing."""
    import test_import_cli as tic
    with h.Workdir("office-import") as wd:
        ob, pk = oc.make_office(wd)
        vi = open(tic.VI, "rb").read()
        # the CLI's dry run on the same file, before the screen holds the outbox
        r = oc.collector("import", tic.VI, "--outbox", ob, "--person-key", pk, "--dry-run",
                         check=False)
        cli = sorted(ln.replace(tic.VI, "excel-vi.csv") for ln in
                     (r.stdout + r.stderr).splitlines())
        sv, base = oc.serve(wd, ob, pk)
        lead, lan = oc.Client(base), oc.Client(base)
        lead.login("truong", "mat-khau-truong")
        lan.login("lan", "mat-khau-lan")
        st, j = upload(lead, vi, "preview")
        h.check(st == 200 and j["ok"] and j["mode"] == "preview", (st, j))
        h.check((j["rows"], j["would_queue"], j["already"], j["bad"]) == (12, 5, 0, 7), j)
        h.check(j["summary"] == "excel-vi.csv: 12 rows: 5 would be queued, 0 already queued, 7 bad "
                "(dry run: nothing queued)", j["summary"])
        want = sorted([f"excel-vi.csv:{x}" for x in tic.VI_PLAN + tic.VI_BAD])
        h.check(sorted(j["report"]) == want, j["report"])
        h.check(sorted(j["report"] + [j["summary"]]) == cli, (j["report"], cli))
        # in the file's order
        h.check([int(x.split(":")[1]) for x in j["report"]] == list(range(2, 14)), j["report"])
        h.check(queued(ob) == 0, "a preview queued something")
        # a staff member: rows for other agents refused per row
        st, j = upload(lan, vi, "preview")
        h.check((j["would_queue"], j["bad"]) == (1, 11), j)
        h.check("excel-vi.csv:3: agent 'LD672-002': login lan imports rows for LD672-001 only (a "
                "lead imports for anyone of the office)" in j["report"], j["report"])
        # confirm: the good rows queued in one commit, each noted as the lead's
        st, j = upload(lead, vi, "queue")
        h.check(st == 200 and (j["queued"], j["already"], j["bad"]) == (5, 0, 7), j)
        h.check(j["summary"] == "excel-vi.csv: 12 rows: 5 queued, 0 already queued, 7 bad", j)
        h.check(queued(ob) == 5, "5 queued")
        ents = lead.list()
        h.check([(e["seq"], e["agent"], e["recorded_by"]) for e in ents] ==
                [(1, "LD672-001", "truong"), (2, "LD672-002", "truong"),
                 (3, "LD672-003", "truong"), (4, "LD672-004", "truong"),
                 (5, "LD672-002", "truong")], ents)
        st, j = upload(lead, vi, "queue")
        h.check((j["queued"], j["already"], j["bad"]) == (0, 5, 7) and queued(ob) == 5, j)
        # hostile uploads: nothing queued, the reason said
        cp = open(tic.CP1258, "rb").read()
        for data, kw, st_want, code, err in [
            (cp, {"name": "excel-cp1258.csv"}, 422, "bad_utf8",
             "excel-cp1258.csv:2: this file is not UTF-8 (byte 0xFD at byte 41 of the line); it "
             "looks like Windows-1258 (Vietnamese), what Excel writes for \"CSV (Comma "
             "delimited)\": open it in Excel, choose Save As, file type \"CSV UTF-8 (Comma "
             "delimited)\", and import that file"),
            (vi, {"csrf": "0" * 64}, 403, "forbidden",
             "the form's security token is wrong or expired: reload the page"),
            (vi, {"csrf": ""}, 403, "forbidden",
             "the form's security token is wrong or expired: reload the page"),
            (vi, {"csrf": lan.csrf}, 403, "forbidden",
             "the form's security token is wrong or expired: reload the page"),
            (vi + b"x" * (5 << 20), {}, 413, "frame_too_large",
             "the file is larger than 5 MiB: split it into smaller files (nothing was imported)"),
            (vi, {"ctype": "multipart/form-data; boundary=x"}, 415, "bad_value",
             "expected a text/csv body (the file itself)"),
            (b"", {}, 400, "config", "the file is empty (a header row is required)"),
        ]:
            before = queued(ob)
            st, j = upload(lead, data, "queue", **kw)
            h.check((st, j["code"], j["error"]) == (st_want, code, err), f"{kw}: {st} {j}")
            h.check(queued(ob) == before, f"{kw}: queued something")
        st, j = upload(lead, vi, "now")
        h.check((st, j["error"]) == (400, "mode: preview or queue"), j)
        # no session: refused from the headers, the body is not kept
        anon = oc.Client(base)
        anon.csrf = "0" * 64
        st, j = upload(anon, vi + b"x" * (4 << 20), "queue")
        h.check((st, j) == (401, {"ok": False, "code": "unauthenticated",
                                  "error": "login required"}), (st, j))
        h.check(queued(ob) == 5, "an anonymous upload queued something")
        # a file whose one row holds a NUL byte: confirmed, it queues nothing
        hdr = "agent_id;program;national_id;occurred_at;amount\r\n"
        st, j = upload(lead, (hdr + "LD672-005;bhxh_tn;068190004599;29/07/2023 10:00;1.782\x00.000"
                              "\r\n").encode(), "queue", name="nul.csv")
        h.check((st, j["queued"], j["bad"], j["report"]) ==
                (200, 0, 1, ["nul.csv:2: field 'amount' contains a NUL byte (damaged file?)"]), j)
        # a lead imports for anyone of the office, not for another district
        st, j = upload(lead, (hdr + "LD673-001;bhxh_tn;068190004599;29/07/2023 10:00;1.782.000"
                              "\r\n").encode(), "queue", name="bl.csv")
        h.check((st, j["queued"], j["report"]) ==
                (200, 0, ["bl.csv:2: agent 'LD673-001' belongs to district 673, not to this "
                          "office's 672"]), j)
        h.check(queued(ob) == 5, "a refused row was queued")
        # a NUL byte: that row is bad, with its line; in a preview nothing is queued
        nul = open(os.path.join(os.path.dirname(tic.VI), "excel-nul.csv"), "rb").read()
        st, j = upload(lead, nul, "preview", name="excel-nul.csv")
        h.check(st == 200 and "excel-nul.csv:3: field 'amount' contains a NUL byte (damaged "
                "file?)" in j["report"], j)
        h.check(queued(ob) == 5, "the NUL preview queued something")
        # a name with a path or control characters is not echoed as given
        st, j = upload(lead, vi, "preview", name="../../etc/x\nY.csv")
        h.check(j["file"] == "upload.csv", j["file"])
        st, j = upload(lead, vi, "preview", name="C:\\Users\\a\\b.csv")
        h.check(j["file"] == "b.csv", j["file"])
        sv.stop()
        for f in glob.glob(os.path.join(wd.path, "**", "*"), recursive=True):
            if os.path.isfile(f) and "fixtures" not in f:
                h.check(b"068190004521" not in open(f, "rb").read(), f"a national ID in {f}")


def test_list_pages():
    """The list covers everything the outbox knows (events from `simulate`
    and `add` too, "recorded_by" null) one bounded page at a time after a
    cursor, with the outbox's totals; a page's reply has exactly its entries
    whatever the outbox holds."""
    import lmdb
    n_sim = 5000
    with h.Workdir("office-pages") as wd:
        ob, pk = oc.make_office(wd)
        oc.collector("simulate", "--outbox", ob, "--count", str(n_sim), "--seed", "3")
        env = lmdb.open(ob, max_dbs=8, subdir=True, readonly=True)
        with env.begin() as t:
            origin = t.get(b"origin", db=env.open_db(b"meta", txn=t)).hex()
        env.close()
        sv, base = oc.serve(wd, ob, pk)
        c = oc.Client(base)
        c.login("lan", "mat-khau-lan")
        st, j = c.record(**GOOD)
        h.check(st == 200 and j["seq"] == n_sim + 1, j)
        st, j = c.req("GET", "/api/list?limit=100")
        h.check(st == 200 and j["after"] == 0 and j["limit"] == 100 and j["next"] == 100, j)
        h.check(j["totals"] == {"recorded": n_sim + 1, "waiting": n_sim + 1,
                                "committed_not_safe": 0, "rejected": 0, "delivered": 0},
                j["totals"])
        e = j["entries"]
        h.check([x["seq"] for x in e] == list(range(1, 101)), [x["seq"] for x in e])
        h.check(all(x["recorded_by"] is None and x["state"] == "queued" and
                    x["id"] == origin + x["seq"].to_bytes(8, "big").hex() and
                    x["agent"].startswith("LD672-") for x in e), e[:3])
        # the default page and the bound
        st, j = c.req("GET", "/api/list")
        h.check(len(j["entries"]) == 200 and j["next"] == 200, (len(j["entries"]), j["next"]))
        st, j = c.req("GET", "/api/list?limit=501")
        h.check((st, j) == (400, {"ok": False, "code": "bad_value", "field": "limit",
                                  "error": "limit: a whole number from 1 to 500"}), j)
        st, j = c.req("GET", "/api/list?after=-1")
        h.check((st, j["error"]) == (400, "after: not a whole number"), j)
        # walking every page visits every seq once; the last page ends with the screen's
        seqs, after, pages = [], 0, 0
        while after is not None:
            st, j = c.req("GET", f"/api/list?after={after}&limit=500")
            h.check(st == 200 and len(j["entries"]) <= 500, st)
            seqs += [x["seq"] for x in j["entries"]]
            after, pages = j["next"], pages + 1
        h.check(seqs == list(range(1, n_sim + 2)) and pages == 11, (len(seqs), pages))
        last = j["entries"][-1]
        h.check((last["seq"], last["recorded_by"], last["agent"]) ==
                (n_sim + 1, "lan", "LD672-001"), last)
        # a command-line sign-up appears too, and is cancelled from the screen
        oc.collector("add", "--outbox", ob, "--agent", "LD672-001", "--program", "bhyt_hgd",
                     "--national-id", "012345678955", "--person-key", pk, "--time",
                     "2023-07-24T09:00:00+07:00")
        st, j = c.req("GET", f"/api/list?after={n_sim + 1}")
        h.check([(x["seq"], x["recorded_by"], x["kind"]) for x in j["entries"]] ==
                [(n_sim + 2, None, "record")] and j["next"] is None, j)
        st, j = c.cancel(n_sim + 2, "nhập trùng")
        h.check(st == 200 and j["seq"] == n_sim + 3, j)
        st, j = c.cancel(n_sim + 2, "again")
        h.check((st, j["error"]) == (409, "this sign-up is cancelled already"), j)
        st, j = c.req("GET", f"/api/list?after={n_sim + 1}")
        h.check([(x["seq"], x["recorded_by"], x.get("cancelled_by"), x.get("cancels"))
                 for x in j["entries"]] ==
                [(n_sim + 2, None, n_sim + 3, None), (n_sim + 3, "lan", None, n_sim + 2)], j)
        h.check(j["totals"]["recorded"] == n_sim + 3, j["totals"])
        sv.stop()


def test_communes():
    """With a campaign that lists the unit's communes, the session offers the
    list and a commune outside it is refused by the one event check, with the
    same message on the page and on the command line; nothing is queued."""
    with h.Workdir("office-communes") as wd:
        camp = oc.commune_campaign(wd)
        ob, pk = oc.make_office(wd, campaign=camp)
        sv, base = oc.serve(wd, ob, pk)
        c = oc.Client(base)
        st, j = c.login("lan", "mat-khau-lan")
        want = sorted(oc.COMMUNES_672, key=lambda x: x.encode())
        h.check(st == 200 and j["communes"] == want, j.get("communes"))
        msg = ("commune 'Xã Tà Nung' is not one of the 12 communes the campaign lists for "
               "Thành phố Đà Lạt")
        st, j = c.record(**{**GOOD, "commune": "Xã Tà Nung"})
        h.check((st, j) == (422, {"ok": False, "code": "unknown_commune", "field": "commune",
                                  "error": msg}), (st, j))
        st, j = c.record(**{**GOOD, "commune": "phường 1"})
        h.check((st, j["code"]) == (422, "unknown_commune"), j)
        h.check(queued(ob) == 0, "a refused commune was queued")
        r = oc.collector("add", "--outbox", ob, "--agent", "LD672-001", "--program", "bhxh_tn",
                         "--national-id", "012345678901", "--commune", "Xã Tà Nung",
                         "--person-key", pk, "--time", "2023-07-24T09:00:00+07:00", check=False)
        h.check(r.returncode != 0 and msg in r.stderr, r.stderr)
        st, j = c.record(**{**GOOD, "commune": "Phường 12"})
        h.check(st == 200 and j["seq"] == 1, j)
        st, j = c.record(**{**GOOD, "commune": "", "national_id": "012345678902"})
        h.check(st == 200 and j["seq"] == 2, j)
        h.check(queued(ob) == 2, "2 queued")
        sv.stop()
    # without a list the commune stays free text (the shipped campaign)
    with h.Workdir("office-nocommunes") as wd:
        ob, pk = oc.make_office(wd, logins={"lan": oc.LOGINS["lan"]})
        sv, base = oc.serve(wd, ob, pk)
        c = oc.Client(base)
        st, j = c.login("lan", "mat-khau-lan")
        h.check(j["communes"] == [], j["communes"])
        st, j = c.record(**{**GOOD, "commune": "Xã Tà Nung"})
        h.check(st == 200, j)
        sv.stop()


def test_sessions_restart():
    """Sessions survive a restart of `serve` (the outbox's office-sessions
    file, 0600, holding token hashes, never the cookie's token); a logout
    survives it too; a damaged file logs everyone out, nothing else."""
    import stat
    with h.Workdir("office-restart") as wd:
        ob, pk = oc.make_office(wd)
        port = h.free_port()
        sv, base = oc.serve(wd, ob, pk, port=port)
        lan, minh = oc.Client(base), oc.Client(base)
        lan.login("lan", "mat-khau-lan")
        minh.login("minh", "mat-khau-minh")
        st, j = lan.record(**GOOD)
        h.check(st == 200 and j["seq"] == 1, j)
        st, _ = minh.req("POST", "/api/logout", {"csrf": minh.csrf})
        h.check(st == 200, st)
        path = os.path.join(ob, "office-sessions")
        h.check(stat.S_IMODE(os.stat(path).st_mode) == 0o600, oct(os.stat(path).st_mode))
        data = open(path, "rb").read()
        tokens = [ck.value for ck in lan.jar if ck.name == "ct_session"]
        h.check(len(tokens) == 1 and tokens[0].encode() not in data, "the token is stored")
        h.check(data.count(b"\n") == 1 and b" lan " in data, data)
        sv.stop()
        sv, base = oc.serve(wd, ob, pk, port=port, name="serve2")
        h.check(any('msg="sessions restored" n=1' in ln for ln in sv.lines), sv.lines[-3:])
        st, j = lan.record(**{**GOOD, "national_id": "012345678902"})
        h.check(st == 200 and j["seq"] == 2, j)
        st, j = minh.record(**{**GOOD, "agent": "LD672-002", "national_id": "012345678903"})
        h.check(st == 401, j)
        sv.stop()
        with open(path, "wb") as f:
            f.write(b"s1 zz\n")
        sv, base = oc.serve(wd, ob, pk, port=port, name="serve3")
        h.check(any('msg="session file: lines ignored"' in ln for ln in sv.lines), sv.lines[-3:])
        st, j = lan.record(**{**GOOD, "national_id": "012345678904"})
        h.check(st == 401 and queued(ob) == 2, j)
        sv.stop()


def test_log_fields():
    """A login name from the client is one quoted value in the log: spaces,
    quotes and '=' cannot end its field or forge another key."""
    with h.Workdir("office-log") as wd:
        ob, pk = oc.make_office(wd)
        sv, base = oc.serve(wd, ob, pk)
        c = oc.Client(base)
        for _ in range(6):  # the sixth is refused by the rate limit, which logs the name
            st, j = c.login('lan" x=y', "wrong-password")
        h.check(st == 429, (st, j))
        sv.wait_log(r'msg="login refused: rate limit"')
        lines = [ln for ln in sv.lines if 'msg="login refused: rate limit"' in ln]
        h.check(len(lines) == 1 and lines[0].endswith(' user="lan\\" x=y" peer=127.0.0.1'),
                lines)
        sv.stop()


if __name__ == "__main__":
    h.main([test_login_and_record, test_hostile, test_binding_and_tls, test_resend_own,
            test_import_upload, test_list_pages, test_communes,
            test_sessions_restart, test_log_fields])
