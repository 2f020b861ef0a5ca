#!/usr/bin/env python3
"""test_config.py — every option of every binary is settable by flag, by the
environment (CHITIEU_NAME) and by the configuration file (key NAME), with the
precedence flag > environment > file > default, read back through
--print-config of the real binaries; bad values and unknown keys are refused
with FILE:LINE. The options come from each binary's own table
(--options-table), so an option added later is covered without editing this
file."""
import os
import re
import subprocess
import sys
import tempfile

BIN = os.environ.get("CT_BIN", "build/bin")
BINARIES = ["aggregator", "collector", "reporter", "audit", "keys"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHITIEU_")}
    env["CHITIEU_CONFIG"] = ""  # no default file, whatever is in /etc
    env.update(extra or {})
    return env


def run(prog, args, env=None):
    return subprocess.run([os.path.join(BIN, "chitieu-" + prog)] + args, capture_output=True,
                          text=True, env=env if env is not None else clean_env(), timeout=30)


def table(prog):
    out = run(prog, ["--options-table"]).stdout
    rows = []
    for line in out.splitlines():
        f = line.split("\t")
        assert len(f) == 10, line
        rows.append(dict(name=f[0], kind=f[1], cmds=f[2], default=f[3], min=float(f[4]),
                         max=float(f[5]), choices=f[6].split(","), env=f[7], arg=f[8],
                         flags=f[9]))
    return rows


def commands(prog):
    out = run(prog, ["--help"]).stdout
    if "\ncommands:\n" not in out:
        return []
    block = out.split("\ncommands:\n", 1)[1].split("\n\n", 1)[0]
    return [m.group(1) for m in re.finditer(r"^  (\S+)", block, re.M)]


def values(o):
    """Three distinct valid values (file, env, flag) as typed."""
    k = o["kind"]
    if k == "flag":
        return ["true", "false", None]
    if k == "int":
        lo = int(o["min"])
        return [str(lo), str(lo + 1), str(lo + 2)]
    if k == "double":
        lo, hi = o["min"], o["max"] if o["max"] > o["min"] else o["min"] + 4
        return [repr(lo + (hi - lo) * f) for f in (0.25, 0.5, 0.75)]
    if k == "size":
        return ["2M", "3M", "4M"]
    if k == "choice":
        c = o["choices"]
        return [c[0], c[1 % len(c)], c[-1]]
    return ["/from/file", "/from/env", "/from/flag"]


def effective(stdout, name):
    """[(value, source)] of option name in --print-config output."""
    got = []
    for line in stdout.splitlines():
        m = re.match(r"^(\S+) = (.*) ; (.*)$", line)
        if m and m.group(1) == name:
            got.append((m.group(2), m.group(3)))
        if line == "# %s: not set" % name:
            got.append((None, "default"))
    return got


def shown(o, v):
    if "secret" in o["flags"].split(","):
        return "(hidden)"
    if o["kind"] == "flag":
        return "true" if v is None else ("true" if v in ("true", "yes", "on", "1") else "false")
    return v


def main():
    tmp = tempfile.mkdtemp(prefix="ct-conf-")
    total = 0
    for prog in BINARIES:
        cmds = commands(prog)
        opts = table(prog)
        check(len(opts) > 0, "%s: empty option table" % prog)
        for o in opts:
            name, env = o["name"], o["env"]
            check(env == "CHITIEU_" + name.upper().replace("-", "_"), "%s %s: env %s" % (prog, name, env))
            cmd = [] if not cmds else [cmds[0] if o["cmds"] == "*" else o["cmds"].split(",")[0]]
            vf, ve, vg = values(o)
            is_list = o["kind"] == "list"
            path = os.path.join(tmp, "%s.conf" % prog)
            # the key on line 3, after a comment and a blank line; lists repeat the key
            body = "# %s\n\n%s = %s\n" % (prog, name, vf)
            if is_list:
                body += "%s = %s2\n" % (name, vf)
            with open(path, "w") as f:
                f.write(body)
            flag = ["--" + name] + ([] if vg is None else [vg])
            base = cmd + ["--config", path, "--print-config"]

            r = run(prog, base)
            check(r.returncode == 0, "%s %s: file: exit %d %s" % (prog, name, r.returncode, r.stderr))
            want = [(vf, path + ":3"), (vf + "2", path + ":4")] if is_list else [(shown(o, vf), path + ":3")]
            if is_list:  # the last line that set the list is named
                want = [(vf, path + ":4"), (vf + "2", path + ":4")]
            check(effective(r.stdout, name) == want,
                  "%s %s: file: %s != %s" % (prog, name, effective(r.stdout, name), want))

            envv = ve + ",x" if is_list else ve
            r = run(prog, base, clean_env({env: envv}))
            want = [(ve, "env " + env), ("x", "env " + env)] if is_list else [(shown(o, ve), "env " + env)]
            check(effective(r.stdout, name) == want,
                  "%s %s: env over file: %s != %s" % (prog, name, effective(r.stdout, name), want))

            r = run(prog, base + flag, clean_env({env: envv}))
            if "secret" in o["flags"].split(","):
                check(vg not in r.stdout, "%s %s: a secret printed in clear" % (prog, name))
            want = [(shown(o, vg), "flag --" + name)]
            check(effective(r.stdout, name) == want,
                  "%s %s: flag over env: %s != %s" % (prog, name, effective(r.stdout, name), want))

            r = run(prog, cmd + ["--print-config"])
            got = effective(r.stdout, name)
            check(all(s == "default" for _, s in got) and got,
                  "%s %s: default: %s" % (prog, name, got))
            if o["default"] != "-" and not is_list:
                check(got == [(o["default"], "default")], "%s %s: default %s" % (prog, name, got))

            if cmds and o["cmds"] != "*":
                # a [COMMAND] section overrides the keys before any section
                with open(path, "w") as f:
                    f.write("%s = %s\n[%s]\n%s = %s\n" % (name, vf, cmd[0], name, ve))
                r = run(prog, base)
                check(effective(r.stdout, name)[0] == (shown(o, ve), path + ":3"),
                      "%s %s: [%s] section: %s" % (prog, name, cmd[0], r.stdout + r.stderr))
                other = [c for c in cmds if c not in o["cmds"].split(",")]
                if other:
                    with open(path, "w") as f:
                        f.write("[%s]\n%s = %s\n" % (other[0], name, vf))
                    r = run(prog, base)
                    check(r.returncode == 2 and "%s:2: '%s' does not apply to '%s'" % (path, name, other[0]) in r.stderr,
                          "%s %s: section of a command that does not take it: %s" % (prog, name, r.stderr))

            if o["kind"] in ("flag", "int", "double", "size", "choice"):
                with open(path, "w") as f:
                    f.write("\n%s = bogus\n" % name)
                r = run(prog, base)
                check(r.returncode == 2 and ("%s:2: %s: 'bogus' is not" % (path, name)) in r.stderr,
                      "%s %s: bad value in file: %d %s" % (prog, name, r.returncode, r.stderr))
                r = run(prog, cmd + ["--print-config"], clean_env({env: "bogus"}))
                check(r.returncode == 2 and ("%s: 'bogus' is not" % env) in r.stderr,
                      "%s %s: bad value in env: %s" % (prog, name, r.stderr))
            if not is_list:
                with open(path, "w") as f:
                    f.write("%s = %s\n%s = %s\n" % (name, vf, name, vf))
                r = run(prog, base)
                check(r.returncode == 2 and "%s:2: '%s' is set twice (first at line 1)" % (path, name) in r.stderr,
                      "%s %s: twice: %s" % (prog, name, r.stderr))
            total += 1

        # per binary: unknown key, unknown section, NUL, BOM + CRLF, missing file, CHITIEU_CONFIG
        cmd = cmds[:1]
        path = os.path.join(tmp, "x.conf")
        cases = [(b"# ok\nno-such-key = 1\n", "%s:2: unknown key 'no-such-key'"),
                 (b"[nowhere]\n", "%s:1: unknown section [nowhere]"),
                 (b"\n\nlog-level = in\x00fo\n", "%s:3: NUL byte in line"),
                 (b"  indented = 1\n", "%s:1: indented line"),
                 (b"just words\n", "%s:1: syntax error")]
        for data, msg in cases:
            with open(path, "wb") as f:
                f.write(data)
            r = run(prog, cmd + ["--config", path, "--print-config"])
            check(r.returncode == 2 and msg % path in r.stderr, "%s: %r: %s" % (prog, data, r.stderr))
        first = table(prog)[0]
        v = values(first)[0]
        with open(path, "wb") as f:
            f.write(b"\xef\xbb\xbf; comment\r\n%s = %s   # trailing comment\r\n" % (first["name"].encode(), v.encode()))
        c = cmd if not cmds or first["cmds"] == "*" else [first["cmds"].split(",")[0]]
        r = run(prog, c + ["--print-config"], clean_env({"CHITIEU_CONFIG": path}))
        check(effective(r.stdout, first["name"]) == [(shown(first, v), path + ":2")],
              "%s: BOM/CRLF/comment via CHITIEU_CONFIG: %s" % (prog, r.stdout + r.stderr))
        r = run(prog, cmd + ["--config", os.path.join(tmp, "absent.conf"), "--print-config"])
        check(r.returncode == 2 and "absent.conf: No such file or directory" in r.stderr,
              "%s: missing --config file: %s" % (prog, r.stderr))

    # a value from the file reaches the program, not only --print-config
    outbox = os.path.join(tmp, "outbox")
    path = os.path.join(tmp, "collector.conf")
    with open(path, "w") as f:
        f.write("outbox = %s\ndistrict = 672\n" % outbox)
    r = run("collector", ["init", "--config", path])
    check(r.returncode == 0 and os.path.isdir(outbox), "collector init from file: %s" % r.stderr)
    r = run("collector", ["status"], clean_env({"CHITIEU_CONFIG": path}))
    check(r.returncode == 0 and "672" in r.stdout, "collector status from CHITIEU_CONFIG: %s %s" % (r.stdout, r.stderr))

    # bash completion generated from the same tables
    def complete(prog, words):
        script = run(prog, ["--bash-completion"]).stdout
        fn = "_chitieu_" + prog
        words_s = " ".join("'%s'" % w for w in words)
        cmd = script + "\nCOMP_WORDS=(chitieu-%s %s); COMP_CWORD=%d; %s; printf '%%s\\n' \"${COMPREPLY[@]}\"\n" % (
            prog, words_s, len(words), fn)
        r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=tmp)
        return sorted(x for x in r.stdout.split("\n") if x)
    check(complete("collector", ["re"]) == sorted(["rejected", "requeue", "reissue", "reopen", "reorg"]),
          "completion of collector commands: %s" % complete("collector", ["re"]))
    check(complete("collector", ["run", "--win"]) == ["--window"], "completion of run's options")
    check(complete("collector", ["status", "--win"]) == [], "status takes no --window")
    check(complete("aggregator", ["--log-level", "w"]) == ["warn"], "completion of a choice")
    check(complete("aggregator", ["--batch"]) == ["--batch-max"], "completion of aggregator options")

    print("%d options checked over %d binaries" % (total, len(BINARIES)))
    if failures:
        print("%d failures" % len(failures), file=sys.stderr)
        sys.exit(1)


main()
