"""cdp — a minimal Chrome DevTools Protocol client over --remote-debugging-pipe
(fds 3 and 4, NUL-terminated JSON), enough to drive a page in headless
Chromium: open a URL, evaluate JavaScript (awaiting promises), set the
viewport and take screenshots. No third-party modules.
"""
import base64
import json
import os
import subprocess
import time

CHROMIUM = os.environ.get("CT_CHROMIUM", "/usr/bin/chromium")  # another path: a test of the skip


class Browser:
    def __init__(self, profile):
        r_in, w_in = os.pipe()    # we write -> chromium reads fd 3
        r_out, w_out = os.pipe()  # chromium writes fd 4 -> we read
        def fds():
            os.dup2(r_in, 3)
            os.dup2(w_out, 4)
        self.p = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
             "about:blank"],
            pass_fds=(3, 4), preexec_fn=fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(r_in)
        os.close(w_out)
        self.w = os.fdopen(w_in, "wb", buffering=0)
        self.r = os.fdopen(r_out, "rb", buffering=0)
        self.buf = b""
        self.next_id = 0
        self.session = None
        t = self.call("Target.createTarget", {"url": "about:blank"})
        a = self.call("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True})
        self.session = a["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")

    def _read_msg(self):
        while b"\0" not in self.buf:
            chunk = self.r.read(65536)
            if not chunk:
                raise AssertionError("chromium closed the pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True):
        self.next_id += 1
        m = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            m["sessionId"] = self.session
        self.w.write(json.dumps(m).encode() + b"\0")
        while True:
            r = self._read_msg()
            if r.get("id") == self.next_id:
                if "error" in r:
                    raise AssertionError(f"{method}: {r['error']}")
                return r["result"]

    def goto(self, url):
        self.call("Page.navigate", {"url": url})
        self.wait("document.readyState === 'complete'")

    def js(self, expr):
        """Evaluates expr (awaiting a promise); returns its JSON value."""
        r = self.call("Runtime.evaluate", {"expression": expr, "awaitPromise": True,
                                           "returnByValue": True})
        if "exceptionDetails" in r:
            raise AssertionError(f"js {expr[:80]!r}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expr, timeout=30, what=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = self.js(expr)
            if v:
                return v
            time.sleep(0.1)
        raise AssertionError(f"timeout waiting for {what or expr}")

    def set_file(self, selector, path):
        """Puts the file at path into the file input selector (as a user's pick)."""
        doc = self.call("DOM.getDocument")
        n = self.call("DOM.querySelector", {"nodeId": doc["root"]["nodeId"], "selector": selector})
        self.call("DOM.setFileInputFiles", {"files": [path], "nodeId": n["nodeId"]})

    def screenshot(self, path, width, height, mobile):
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        time.sleep(0.3)
        r = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    def close(self):
        try:
            self.call("Browser.close", session=False)
        except Exception:  # noqa: BLE001 — closing anyway
            pass
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
