#!/usr/bin/env python3
"""test_package.py — the Debian package on this machine, as a provincial IT
person would use it: build chitieu_VERSION_amd64.deb (scripts/package.sh,
lintian clean of errors), `dpkg -i` it, check what postinst made, verify the
installed units (systemd-analyze verify; the security score is printed),
render every installed man page (man -l, no warnings), make the keys and the
authorization file as README "Installing on a server" says, run the
installed binaries from /usr/bin as the chitieu user with the installed
settings files (only the ports moved by CHITIEU_ variables, so a parallel
test cannot collide) — aggregator, reporter, one collector on loopback —
and check a sign-up is counted; an edited conffile survives a reinstall;
`dpkg --purge` removes binaries and settings and keeps the store and keys,
unless CHITIEU_PURGE_DATA=yes.

Needs root; skipped (exit 77, loudly) otherwise, or when chitieu is already
installed here (it never touches an existing installation). Removes
everything it made, whatever happens."""
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from ctharness import SRC, free_port  # noqa: E402

ETC, STATE = "/etc/chitieu", "/var/lib/chitieu"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)
    else:
        print("ok:", what)


# dpkg's and apt's words when another process (an apt run elsewhere on the
# machine) holds the package database: the call is tried again, up to LOCK_WAIT_S
LOCKED = re.compile(r"dpkg frontend lock was locked by another process|"
                    r"dpkg status database is locked by another process|"
                    r"Could not get lock /var/lib/dpkg/lock")
LOCK_WAIT_S = 120


def sh(args, env=None, check_rc=True, **kw):
    e = {k: v for k, v in os.environ.items() if not k.startswith("CHITIEU_")}
    e.update(env or {})
    end = time.time() + LOCK_WAIT_S
    while True:
        r = subprocess.run(args, capture_output=True, text=True, env=e, timeout=600, **kw)
        locked = os.path.basename(args[0]) in ("dpkg", "apt", "apt-get") and r.returncode != 0 \
            and LOCKED.search(r.stdout + r.stderr)
        if not locked or time.time() >= end:
            break
        print("dpkg database locked by another process: trying again", file=sys.stderr)
        time.sleep(1)
    if check_rc and r.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s%s" % (args, r.returncode, r.stdout, r.stderr))
    return r


def skip(why):
    print("SKIPPED: " + why, file=sys.stderr)
    sys.exit(77)


def as_chitieu(args):
    return ["runuser", "-u", "chitieu", "--"] + args


def wait_for(path, pattern, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        with open(path, errors="replace") as f:
            if re.search(pattern, f.read()):
                return True
        time.sleep(0.1)
    return False


def cleanup(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    sh(["dpkg", "--purge", "chitieu"], check_rc=False)
    shutil.rmtree(ETC, ignore_errors=True)
    shutil.rmtree(STATE, ignore_errors=True)
    sh(["deluser", "--system", "chitieu"], check_rc=False)
    sh(["delgroup", "--system", "chitieu"], check_rc=False)


def main():
    if os.geteuid() != 0:
        skip("not root: the package test installs chitieu with dpkg")
    if shutil.which("dpkg") is None or shutil.which("runuser") is None:
        skip("no dpkg/runuser on this machine")
    if sh(["dpkg-query", "-W", "chitieu"], check_rc=False).returncode == 0 or \
            os.path.exists(ETC) or os.path.exists(STATE):
        skip("chitieu is installed here (or %s / %s exist): not touching it" % (ETC, STATE))
    tmp = tempfile.mkdtemp(prefix="ct-deb-")
    procs = []
    try:
        r = sh([os.path.join(SRC, "scripts", "package.sh"), os.path.join(tmp, "build")])
        deb = r.stdout.strip().splitlines()[-1]
        check(re.match(r"chitieu_\d+\.\d+\.\d+-\d+_amd64\.deb$", os.path.basename(deb)),
              "package name %s" % os.path.basename(deb))
        info = sh(["dpkg-deb", "-f", deb, "Depends"]).stdout
        check(all(lib in info for lib in ("libzmq5", "liblmdb0", "libsodium23", "adduser")),
              "Depends from dpkg-shlibdeps: %s" % info.strip())

        sh(["dpkg", "-i", deb])
        for b in ("aggregator", "collector", "reporter", "audit", "keys"):
            check(os.access("/usr/bin/chitieu-" + b, os.X_OK), "/usr/bin/chitieu-%s installed" % b)
        check(sh(["id", "-u", "chitieu"], check_rc=False).returncode == 0, "postinst made user chitieu")
        st = os.stat(STATE)
        check(oct(st.st_mode & 0o777) == "0o750", "%s mode 0750" % STATE)
        check(os.path.isdir(ETC + "/keys"), "postinst made %s/keys" % ETC)
        conffiles = sh(["dpkg-query", "-W", "-f", "${Conffiles}", "chitieu"]).stdout
        for c in ("aggregator", "reporter", "collector"):
            check("%s/%s.conf" % (ETC, c) in conffiles, "%s.conf is a conffile" % c)

        # units
        units = ["/lib/systemd/system/chitieu-aggregator.service",
                 "/lib/systemd/system/chitieu-reporter.service"]
        insts = []
        for t in ("chitieu-collector@", "chitieu-office@"):
            insts.append(os.path.join(tmp, t + "672.service"))
            shutil.copy("/lib/systemd/system/%s.service" % t, insts[-1])
        r = sh(["systemd-analyze", "verify"] + units + insts, check_rc=False)
        check(r.returncode == 0 and r.stdout + r.stderr == "",
              "systemd-analyze verify: %s" % (r.stdout + r.stderr))
        for u in units + insts:
            r = sh(["systemd-analyze", "security", "--offline=yes", u], check_rc=False)
            m = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", r.stdout)
            check(m is not None, "security score of %s" % os.path.basename(u))
            if m:
                print("security %s: %s %s" % (os.path.basename(u), m.group(1), m.group(2)))

        # man pages
        pages = sorted(os.path.join(d, f) for d in ("/usr/share/man/man1", "/usr/share/man/man5")
                       for f in os.listdir(d) if f.startswith("chitieu"))
        check(len(pages) == 6, "6 man pages: %s" % pages)
        for p in pages:
            r = sh(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", p],
                   env={"LC_ALL": "C.UTF-8", "MANROFFSEQ": ""}, check_rc=False)
            check(r.returncode == 0 and r.stderr == "", "man -l %s: %s" % (p, r.stderr))

        # keys and authorization, as README says
        keys = ETC + "/keys"
        pub = {}
        for k in ("aggregator", "reporter", "collector"):
            pub[k] = sh(["chitieu-keys", "gen", "%s/%s" % (keys, k)]).stdout.strip().split()[-1]
        sh(["chitieu-keys", "person-key", keys + "/person.key"])
        with open(ETC + "/authorized.txt", "w") as f:
            f.write("%s collector 672 dalat-office\n%s reporter hq\n" % (pub["collector"], pub["reporter"]))
        sh(["chown", "-R", "chitieu:chitieu", keys])

        ports = [free_port() for _ in range(4)]
        ing, feed, snap = ("tcp://127.0.0.1:%d" % p for p in ports[:3])
        env = {"CHITIEU_INGEST": ing, "CHITIEU_FEED": feed, "CHITIEU_SNAPSHOT": snap,
               "CHITIEU_SERVER": ing, "CHITIEU_HTTP": "127.0.0.1:%d" % ports[3]}
        e = {k: v for k, v in os.environ.items() if not k.startswith("CHITIEU_")}
        e.update(env)

        def start(name, args):
            log = os.path.join(tmp, name + ".log")
            # the binary itself is the child (not runuser), so it can be signalled
            p = subprocess.Popen(args, env=e, stdout=subprocess.DEVNULL, stderr=open(log, "w"),
                                 user="chitieu", group="chitieu", extra_groups=[], cwd="/")
            procs.append(p)
            return p, log

        agg, agg_log = start("agg", ["/usr/bin/chitieu-aggregator"])
        check(wait_for(agg_log, r'msg="ready".*security=curve'), "aggregator ready with CurveZMQ")
        r = sh(as_chitieu(["/usr/bin/chitieu-aggregator", "--print-config"]), env=env)
        check("data = %s/store ; %s/aggregator.conf:" % (STATE, ETC) in r.stdout and
              "ingest = %s ; env CHITIEU_INGEST" % ing in r.stdout,
              "aggregator reads %s/aggregator.conf by default" % ETC)
        rep, rep_log = start("rep", ["/usr/bin/chitieu-reporter", "--interval", "1"])
        sh(as_chitieu(["/usr/bin/chitieu-collector", "init"]), env=env)
        col, col_log = start("col", ["/usr/bin/chitieu-collector", "run"])
        r = sh(as_chitieu(["/usr/bin/chitieu-collector", "add", "--agent", "LD672-001", "--program",
                           "bhxh_tn", "--national-id", "068190004521", "--months", "12",
                           "--amount", "3564000", "--time", "2023-07-25T10:00:00+07:00"]),
               env=env)
        check("queued" in r.stdout, "sign-up queued: %s" % r.stdout)
        counted = False
        end = time.time() + 30
        while time.time() < end and not counted:
            r = sh(as_chitieu(["/usr/bin/chitieu-reporter", "--once", "--format", "json",
                               "--timeout", "10", "--output", "-"]), env=env, check_rc=False)
            if r.returncode == 0:
                rep_json = json.loads(r.stdout.strip().splitlines()[-1])
                d = [u for u in rep_json["districts"] if u["code"] == 672]
                counted = len(d) == 1 and d[0]["programs"]["bhxh_tn"]["net"] == 1
            if not counted:
                time.sleep(0.5)
        check(counted, "the sign-up is counted: district 672, bhxh_tn net 1")
        check(wait_for(rep_log, r"level=info") and os.path.exists(STATE + "/report.txt"),
              "reporter service writes %s/report.txt" % STATE)
        r = sh(as_chitieu(["/usr/bin/chitieu-audit", "verify", "--data", STATE + "/store"]),
               check_rc=False)
        check(r.returncode == 0 and "OK" in r.stdout, "audit verify: %s" % (r.stdout + r.stderr)[-300:])
        for p in (col, rep, agg):
            p.send_signal(signal.SIGTERM)
            check(p.wait(30) == 0, "clean stop")

        # an edited conffile survives a reinstall
        with open(ETC + "/aggregator.conf", "a") as f:
            f.write("# edited by the administrator\n")
        # ... while another process holds dpkg's frontend lock for 3 s: sh waits for it
        with open("/var/lib/dpkg/lock-frontend", "w") as lk:
            fcntl.lockf(lk, fcntl.LOCK_EX | fcntl.LOCK_NB)
            threading.Timer(3.0, fcntl.lockf, (lk, fcntl.LOCK_UN)).start()
            t0 = time.time()
            sh(["dpkg", "-i", deb], env={"DEBIAN_FRONTEND": "noninteractive"})
            check(time.time() - t0 >= 2.5, "dpkg -i waited for the lock to go")
        with open(ETC + "/aggregator.conf") as f:
            check(f.read().endswith("# edited by the administrator\n"), "edited conffile kept")

        sh(["dpkg", "--purge", "chitieu"])
        check(not os.path.exists("/usr/bin/chitieu-aggregator"), "purge removes the binaries")
        check(not os.path.exists(ETC + "/aggregator.conf"), "purge removes the settings")
        check(os.path.isdir(STATE + "/store") and os.path.exists(keys + "/aggregator.key"),
              "purge keeps the store and the keys")
        sh(["dpkg", "-i", deb])
        sh(["dpkg", "--purge", "chitieu"], env={"CHITIEU_PURGE_DATA": "yes"})
        check(not os.path.exists(STATE) and not os.path.exists(keys),
              "CHITIEU_PURGE_DATA=yes purge removes the store and keys")
    finally:
        cleanup(procs)
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d failures" % len(failures), file=sys.stderr)
        sys.exit(1)


main()
