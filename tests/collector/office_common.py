"""office_common — helpers for the office screen's tests: an initialised
outbox with a person key and logins, a running `chitieu-collector serve`, and
an HTTP client with its own cookie jar that speaks the screen's API (urlencoded
forms, JSON replies) exactly as the page does.
"""
import http.cookiejar
import json
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ctharness as h  # noqa: E402

COLLECTOR = "chitieu-collector"
NOW = "2023-07-24T10:00:00+07:00"
# Đà Lạt (district 672): three staff members and a lead
LOGINS = {"lan": ("staff", "LD672-001", "mat-khau-lan"),
          "minh": ("staff", "LD672-002", "mat-khau-minh"),
          "hoa": ("staff", "LD672-003", "mat-khau-hoa"),
          "truong": ("lead", None, "mat-khau-truong")}


def collector(*args, input=None, check=True):
    return h.run([h.binary(COLLECTOR), *args], input=input, check=check)


# test data, not real place names: Đà Lạt's units are numbered wards here
COMMUNES_672 = [f"Phường {i}" for i in range(1, 13)]


def commune_campaign(wd):
    """The shipped campaign with a commune list for Đà Lạt (672): a test
    fixture written into wd (the roster stays the shipped one)."""
    src = open(h.CAMPAIGN, encoding="utf-8").read()
    roster = os.path.join(os.path.dirname(h.CAMPAIGN), "staff.csv")
    head = "name = Thành phố Đà Lạt\n"
    h.check(head in src and "roster = staff.csv\n" in src, "the shipped campaign changed")
    src = src.replace(head, head + "".join(f"commune = {c}\n" for c in reversed(COMMUNES_672)))
    src = src.replace("roster = staff.csv\n", f"roster = {roster}\n")
    path = wd.sub("campaign-communes.ini")
    with open(path, "w", encoding="utf-8") as f:
        f.write(src)
    return path


def make_office(wd, district=672, logins=LOGINS, campaign=None):
    """An outbox bound to district, a person key, the logins; returns paths."""
    ob, pk = wd.sub("outbox"), wd.sub("person.key")
    collector("init", "--outbox", ob, "--district", str(district),
              *(["--campaign", campaign] if campaign else []))
    h.run([h.binary("chitieu-keys"), "person-key", pk])
    for name, (role, agent, pw) in logins.items():
        args = ["users", "add", name, "--outbox", ob, "--role", role]
        if agent:
            args += ["--agent", agent]
        collector(*args, input=pw + "\n")
    return ob, pk


def serve(wd, ob, pk, *extra, port=None, now=NOW, name="serve"):
    port = port or h.free_port()
    args = [h.binary(COLLECTOR), "serve", "--outbox", ob, "--person-key", pk,
            "--http", f"127.0.0.1:{port}", *extra]
    if now:
        args += ["--now", now]
    p = wd.start(args, name=name)
    p.wait_log(r'msg="office screen ready"')
    return p, f"http://127.0.0.1:{port}"


class Client:
    """One browser's worth of state: cookies, the login token, the CSRF token."""

    def __init__(self, base, context=None):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        handlers = [urllib.request.HTTPCookieProcessor(self.jar)]
        if context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self.op = urllib.request.build_opener(*handlers)
        self.csrf = None
        self.login_token = None
        self.last_headers = None

    def req(self, method, path, fields=None, raw=None, ctype="application/x-www-form-urlencoded",
            headers=None):
        data = None
        hd = dict(headers or {})
        if fields is not None:
            data = urllib.parse.urlencode(fields).encode()
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode()
        if data is not None and ctype:
            hd["Content-Type"] = ctype
        rq = urllib.request.Request(self.base + path, data=data, method=method, headers=hd)
        try:
            with self.op.open(rq, timeout=30) as r:
                self.last_headers = r.headers
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            self.last_headers = e.headers
            body = e.read()
            return e.code, json.loads(body) if body else None

    def session(self):
        st, j = self.req("GET", "/api/session")
        if st == 401:
            self.login_token = j["login_token"]
        else:
            self.csrf = j["csrf"]
        return st, j

    def login(self, user, password):
        if not self.login_token:
            self.session()
        st, j = self.req("POST", "/api/login",
                         {"csrf": self.login_token, "user": user, "password": password})
        if st == 200:
            self.csrf = j["csrf"]
        return st, j

    def record(self, form=None, **f):
        fields = {"csrf": self.csrf, "form": form or os.urandom(16).hex()}
        fields.update(f)
        return self.req("POST", "/api/record", fields)

    def cancel(self, seq, reason, form=None, confirm="yes"):
        return self.req("POST", "/api/cancel", {"csrf": self.csrf, "form": form or os.urandom(16).hex(),
                                                "seq": str(seq), "reason": reason, "confirm": confirm})

    def list(self):
        st, j = self.req("GET", "/api/list")
        h.check(st == 200, f"list: {st} {j}")
        return j["entries"]

    def status(self):
        st, j = self.req("GET", "/api/status")
        h.check(st == 200, f"status: {st} {j}")
        return j


def outbox_status(ob):
    """`chitieu-collector status` as a dict of its "name: value" lines."""
    r = collector("status", "--outbox", ob)
    out = {}
    for ln in r.stdout.splitlines():
        if ":" in ln:
            k, v = ln.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def unverified_tls():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx
