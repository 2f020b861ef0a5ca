"""test_office_users — `chitieu-collector users` with the real binary and a
real outbox: add (staff bound to an agent of this office's roster, lead with
or without one), list, passwd, remove; the password file's mode (0600) and
form (Argon2id hashes, no clear password); every refusal with its exact
message and exit code 2, leaving the file unchanged.
"""
import os
import stat
import subprocess

import office_common as oc
from office_common import h


def test_users():
    with h.Workdir("office-users") as wd:
        ob, _ = oc.make_office(wd, logins={})
        users = os.path.join(ob, "users")
        h.check(not os.path.exists(users), "no file before the first login")
        r = oc.collector("users", "add", "lan", "--outbox", ob, "--role", "staff",
                         "--agent", "LD672-001", input="mat-khau-lan\n")
        h.check(r.stdout == "added lan\n", repr(r.stdout))
        oc.collector("users", "add", "truong", "--outbox", ob, "--role", "lead",
                     input="mat-khau-truong\n")
        h.check(stat.S_IMODE(os.stat(users).st_mode) == 0o600, oct(os.stat(users).st_mode))
        text = open(users, encoding="utf-8").read()
        h.check("mat-khau" not in text, "clear password in the file")
        lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
        h.check(len(lines) == 2, lines)
        h.check(lines[0].startswith("lan:staff:LD672-001:$argon2id$"), lines[0])
        h.check(lines[1].startswith("truong:lead:-:$argon2id$"), lines[1])
        r = oc.collector("users", "list", "--outbox", ob)
        h.check(r.stdout == "lan\tstaff\tLD672-001\tTrương Thanh Trung\ntruong\tlead\t-\t\n",
                repr(r.stdout))

        def refused(args, msg, input="mat-khau-123\n"):
            before = open(users, encoding="utf-8").read()
            r = oc.collector("users", *args, "--outbox", ob, input=input, check=False)
            h.check(r.returncode == 2, f"{args}: exit {r.returncode} {r.stderr}")
            h.check(r.stderr.splitlines()[0] == "chitieu-collector: " + msg,
                    f"{args}: {r.stderr!r}")
            h.check(open(users, encoding="utf-8").read() == before, f"{args} changed the file")

        refused(["add", "x", "--role", "staff", "--agent", "LD673-001"],
                "agent 'LD673-001' belongs to district 673, not to this office's 672")
        refused(["add", "x", "--role", "staff", "--agent", "LD999-001"],
                "agent 'LD999-001' is not on the roster")
        refused(["add", "x", "--role", "staff"],
                "a staff login needs --agent (its id on the roster)")
        refused(["add", "x", "--role", "boss", "--agent", "LD672-004"],
                "users add needs --role staff or --role lead")
        refused(["add", "x", "--role", "staff", "--agent", "LD672-001"],
                "agent LD672-001 already has login 'lan'")
        refused(["add", "lan", "--role", "staff", "--agent", "LD672-004"],
                "login 'lan' exists (use passwd or remove)")
        refused(["add", "Bad:Name", "--role", "lead"],
                "bad login name 'Bad:Name' (1 to 32 of a-z 0-9 . _ -, starting with a letter or "
                "digit)")
        refused(["add", "x", "--role", "staff", "--agent", "LD672-004"],
                "a password has 8 to 128 bytes (got 5); nothing changed", input="short\n")
        refused(["add", "x", "--role", "staff", "--agent", "LD672-004"],
                "no password given on stdin", input="")
        refused(["passwd", "nobody"], "no login 'nobody'")
        refused(["remove", "nobody"], "no login 'nobody'")
        refused(["frobnicate", "x"], "users: unknown action 'frobnicate' (add, passwd, remove, list)")
        # passwd changes the hash; remove drops the line
        old = open(users, encoding="utf-8").read().splitlines()[1]
        r = oc.collector("users", "passwd", "lan", "--outbox", ob, input="mat-khau-moi\n")
        h.check(r.stdout == "password changed for lan\n", repr(r.stdout))
        new = open(users, encoding="utf-8").read().splitlines()[1]
        h.check(new.startswith("lan:staff:LD672-001:$argon2id$") and new != old, new)
        r = oc.collector("users", "remove", "truong", "--outbox", ob)
        h.check(r.stdout == "removed truong\n", repr(r.stdout))
        r = oc.collector("users", "list", "--outbox", ob)
        h.check(r.stdout == "lan\tstaff\tLD672-001\tTrương Thanh Trung\n", repr(r.stdout))
        # a writer killed between open and commit leaves .users.tmp.PID.XXXXXX
        # (the hashes in it): the next save removes it; the file stays 0600
        dead = subprocess.Popen(["true"])
        dead.wait()
        stale = os.path.join(ob, f".users.tmp.{dead.pid}.Ab12_z")
        with open(stale, "w") as f:
            f.write(open(users, encoding="utf-8").read())
        os.chmod(stale, 0o600)
        oc.collector("users", "passwd", "lan", "--outbox", ob, input="mat-khau-moi-2\n")
        h.check(not os.path.exists(stale), "the killed writer's temporary is removed")
        h.check([n for n in os.listdir(ob) if "tmp" in n] == [], os.listdir(ob))
        h.check(stat.S_IMODE(os.stat(users).st_mode) == 0o600, oct(os.stat(users).st_mode))
        # a file others can read is refused, by users and by serve
        os.chmod(users, 0o644)
        r = oc.collector("users", "list", "--outbox", ob, check=False)
        h.check(r.returncode == 2 and "readable by group or others (chmod 600 it)" in r.stderr,
                r.stderr)
        # no outbox: nothing is created
        r = oc.collector("users", "list", "--outbox", wd.sub("nope"), check=False)
        h.check(r.returncode == 2 and not os.path.exists(wd.sub("nope")), r.stderr)


if __name__ == "__main__":
    h.main([test_users])
