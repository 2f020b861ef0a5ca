"""cdp — a minimal Chrome DevTools Protocol driver for headless Chromium over
--remote-debugging-pipe (fd 3: commands in, fd 4: replies out; NUL-separated
JSON), so tests can act like a user on a live page (open a <details>, change
the URL hash) and read the DOM while it keeps updating. Standard library only.
"""
import json
import os
import select
import subprocess
import time

CHROMIUM = "/usr/bin/chromium"


class Browser:
    def __init__(self, url, profile, size="1200,2000"):
        to_child_r, self._w = os.pipe()
        self._r, from_child_w = os.pipe()

        def fds():
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)
        self.p = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
             f"--window-size={size}", url],
            pass_fds=(3, 4, to_child_r, from_child_w), preexec_fn=fds,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.session = None
        deadline = time.time() + 30
        while time.time() < deadline:
            targets = self.call("Target.getTargets")["targetInfos"]
            pages = [t for t in targets if t["type"] == "page"]
            if pages:
                r = self.call("Target.attachToTarget", targetId=pages[0]["targetId"], flatten=True)
                self.session = r["sessionId"]
                return
            time.sleep(0.2)
        raise AssertionError("chromium: no page target")

    def call(self, method, timeout=30, **params):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                m = json.loads(raw)
                if m.get("id") == self._id:
                    if "error" in m:
                        raise AssertionError(f"cdp {method}: {m['error']}")
                    return m["result"]
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError(f"cdp {method}: no reply")
            if select.select([self._r], [], [], left)[0]:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise AssertionError("chromium closed the pipe")
                self._buf += chunk

    def js(self, expr):
        """Evaluates expr in the page; returns its value (JSON-able)."""
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise AssertionError(f"js {expr[:80]!r}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expr, timeout=30, what=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                v = self.js(expr)
            except AssertionError:  # the page is not there yet
                v = None
            if v:
                return v
            time.sleep(0.1)
        raise AssertionError(f"timeout waiting for {what or expr}")

    def close(self):
        try:
            os.write(self._w, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
            self.p.wait(timeout=10)
        except Exception:  # noqa: BLE001 — closing anyway
            pass
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        os.close(self._w)
        os.close(self._r)
