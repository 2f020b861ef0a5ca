"""ctharness — shared helpers for chitieu's integration and fault tests.

Drives the REAL binaries (CT_BIN, default build/bin) over real sockets (ipc in a
temp dir unless a test needs tcp on 127.0.0.1) and real LMDB files, and kills
real processes with real signals. Nothing here mocks ZeroMQ or LMDB.

Conventions:
  - every test makes one Workdir (a temp dir removed at the end unless
    CT_KEEP=1) and starts processes through it, so they are all killed on exit;
  - Proc.wait_log(regex) waits for a structured log line on stderr;
  - assertions are exact: use check(cond, msg) or plain assert with values.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.environ.get("CT_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("CT_BIN") or os.path.join(SRC, "build", "bin")
CAMPAIGN = os.path.join(SRC, "examples", "lamdong-2023", "campaign.ini")
SANITIZE = os.environ.get("CT_SANITIZE", "0") in ("1", "ON", "TRUE", "true")


def binary(name):
    path = os.path.join(BIN, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not built")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_block(n):
    """The first of n consecutive ports that are free now, below the kernel's
    ephemeral range (ports from bind(0) and outgoing connections, which other
    tests running at the same time hold, come from that range)."""
    import random
    lo, hi = 20000, 32000
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            hi = min(hi, int(f.read().split()[0]))
    except (OSError, ValueError):
        pass
    rnd = random.Random()
    for _ in range(200):
        base = rnd.randrange(lo, hi - n)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no %d consecutive free ports in %d..%d" % (n, lo, hi))


class Proc:
    """A running binary; stderr collected in a background thread."""

    def __init__(self, args, cwd=None, env=None, name=None, stdin=None):
        self.name = name or os.path.basename(args[0])
        self.args = args
        self.lines = []
        self.out_lines = []
        self._cv = threading.Condition()
        e = dict(os.environ)
        if env:
            e.update(env)
        self.p = subprocess.Popen(args, cwd=cwd, env=e, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, stdin=stdin or subprocess.DEVNULL,
                                  text=True, errors="replace")
        self._t1 = threading.Thread(target=self._pump, args=(self.p.stderr, self.lines), daemon=True)
        self._t2 = threading.Thread(target=self._pump, args=(self.p.stdout, self.out_lines), daemon=True)
        self._t1.start()
        self._t2.start()

    def _pump(self, f, sink):
        for line in f:
            with self._cv:
                sink.append(line.rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            self._cv.notify_all()

    def wait_log(self, pattern, timeout=20, stream="stderr", start=0):
        """Waits until a line matching pattern appears; returns the match."""
        rx = re.compile(pattern)
        sink = self.lines if stream == "stderr" else self.out_lines
        deadline = time.time() + timeout
        i = start
        with self._cv:
            while True:
                while i < len(sink):
                    m = rx.search(sink[i])
                    if m:
                        return m
                    i += 1
                if self.p.poll() is not None and not self._t1.is_alive() and not self._t2.is_alive():
                    raise AssertionError(f"{self.name} exited ({self.p.returncode}) before /{pattern}/;\n"
                                         + self.tail())
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"timeout waiting for /{pattern}/ from {self.name};\n" + self.tail())
                self._cv.wait(min(left, 0.2))

    def tail(self, n=30):
        return "\n".join(self.lines[-n:] + ["-- stdout --"] + self.out_lines[-n:])

    def signal(self, sig):
        if self.p.poll() is None:
            self.p.send_signal(sig)

    def kill9(self):
        self.signal(signal.SIGKILL)
        self.p.wait()

    def stop(self, timeout=20):
        """SIGTERM, wait; returns exit code. SIGKILL if it does not stop."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                raise AssertionError(f"{self.name} did not stop on SIGTERM;\n" + self.tail())
        self._t1.join(5)
        self._t2.join(5)
        return self.p.returncode

    def wait(self, timeout=60):
        rc = self.p.wait(timeout)
        self._t1.join(5)
        self._t2.join(5)
        return rc

    @property
    def pid(self):
        return self.p.pid


def run(args, timeout=120, check=True, env=None, cwd=None, input=None):
    """Runs a binary to completion; returns CompletedProcess (text)."""
    e = dict(os.environ)
    if env:
        e.update(env)
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=e, cwd=cwd,
                       input=input, errors="replace")
    if check and r.returncode != 0:
        raise AssertionError(f"{args} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r


class Workdir:
    """Temp dir + the processes started in it; use as a context manager."""

    def __init__(self, name="ct"):
        self.path = tempfile.mkdtemp(prefix=f"{name}-")
        self.procs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            if p.p.poll() is None:
                p.p.kill()
                p.p.wait()
        if os.environ.get("CT_KEEP") != "1":
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            print(f"kept {self.path}", file=sys.stderr)

    def sub(self, *parts):
        p = os.path.join(self.path, *parts)
        return p

    def ipc(self, name):
        return "ipc://" + self.sub(name + ".sock")

    def start(self, args, **kw):
        p = Proc(args, **kw)
        self.procs.append(p)
        return p


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def promtool_check(body, what):
    """`promtool check metrics` accepts body (the text exposition format, str
    or bytes); promtool comes with Debian's prometheus package
    (scripts/install-deps.sh --test), and its absence fails the check."""
    tool = shutil.which("promtool") or "/usr/bin/promtool"
    check(os.path.exists(tool), f"promtool missing: {what} not checked "
          "(scripts/install-deps.sh --test installs prometheus)")
    data = body.encode() if isinstance(body, str) else body
    r = subprocess.run([tool, "check", "metrics"], input=data, capture_output=True, timeout=60)
    check(r.returncode == 0, f"promtool on {what}: {r.stdout!r} {r.stderr!r}")


def prom_samples(body):
    """{series with labels: value} of a text exposition (str or bytes)."""
    text = body.decode() if isinstance(body, bytes) else body
    out = {}
    for ln in text.splitlines():
        if ln and not ln.startswith("#"):
            k, v = ln.rsplit(" ", 1)
            out[k] = float(v)
    return out


_skipped = []


def skip(why):
    """Records that part of a test could not run (a tool is missing): main then
    exits 77, which ctest reports as skipped (SKIP_RETURN_CODE 77), unless a
    test failed. The caller goes on with the parts that can run."""
    _skipped.append(why)
    print(f"SKIP {why}", flush=True)


def main(tests):
    """Runs test functions in order; prints 'N passed, N failed'; exits 1 on
    failure, 77 when none failed and some part was skipped (skip())."""
    passed = failed = 0
    only = os.environ.get("CT_ONLY")
    for t in tests:
        if only and only not in t.__name__:
            continue
        t0 = time.time()
        try:
            t()
            passed += 1
            print(f"ok   {t.__name__} ({time.time() - t0:.1f}s)", flush=True)
        except Exception as e:  # noqa: BLE001 — report every failure
            failed += 1
            import traceback
            traceback.print_exc()
            print(f"FAIL {t.__name__}: {e}", flush=True)
    print(f"{passed} passed, {failed} failed" + (f", {len(_skipped)} skipped" if _skipped else ""))
    sys.exit(1 if failed else 77 if _skipped else 0)
