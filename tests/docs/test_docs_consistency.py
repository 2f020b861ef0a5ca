"""test_docs_consistency — the documents say what the code does:
  - docs/PROTOCOL.md Appendix A lists exactly proto/ct_error.h's CT_ERROR_TABLE
    (every number, name and message, in order; the header is parsed);
  - the README's "The binaries" table names exactly the commands each binary's
    --help lists (and, for a one-process binary, options its --help has);
  - every hex dump PROTOCOL.md quotes from build/tests/codec_examples is, byte
    for byte, what codec_examples prints now (the event of §2.1, the life
    entries of §2.2 and the frames of §3.3 must be quoted).
Needs CT_SOURCE_DIR and CT_BIN (set by ctest).
"""
import os
import re
import subprocess

from ctharness import check, main

SRC = os.environ["CT_SOURCE_DIR"]
BIN = os.environ["CT_BIN"]


def read(rel):
    with open(os.path.join(SRC, rel), encoding="utf-8") as f:
        return f.read()


def c_string(lits):
    """Concatenated C string literals ("a" "b") -> str (only \\" and \\\\ escapes occur)."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', lits)
    return "".join(re.sub(r"\\(.)", r"\1", p) for p in parts)


def error_table():
    h = read("proto/ct_error.h")
    m = re.search(r"#define CT_ERROR_TABLE\(X\)(.*?)/\* clang-format on \*/", h, re.S)
    check(m, "CT_ERROR_TABLE not found in proto/ct_error.h")
    body = re.sub(r"/\*.*?\*/", " ", m.group(1).replace("\\\n", " "), flags=re.S)
    lit = r'((?:"(?:[^"\\]|\\.)*"\s*)+)'
    rows = [(int(num), c_string(name), c_string(msg))
            for _sym, num, name, msg in re.findall(
                r"X\(\s*(\w+)\s*,\s*(\d+)\s*,\s*" + lit + r",\s*" + lit + r"\)", body)]
    check(len(rows) == body.count("X("), f"parsed {len(rows)} of {body.count('X(')} X(...) entries")
    return rows


def protocol_appendix():
    doc = read("docs/PROTOCOL.md")
    m = re.search(r"^## Appendix A\. Error codes\n(.*?)(?=^## )", doc, re.S | re.M)
    check(m, "docs/PROTOCOL.md has no '## Appendix A. Error codes'")
    rows = []
    for line in m.group(1).splitlines():
        r = re.match(r"^\|\s*(\d+)\s*\|\s*`([^`]*)`\s*\|\s*(.*?)\s*\|\s*$", line)
        if r:
            rows.append((int(r.group(1)), r.group(2), r.group(3)))
    return rows


def test_error_appendix_equals_table():
    table, doc = error_table(), protocol_appendix()
    check(len(table) >= 45, f"only {len(table)} codes parsed from the header")
    missing = [r for r in table if r not in doc]
    extra = [r for r in doc if r not in table]
    check(not missing and not extra,
          f"PROTOCOL.md Appendix A differs from CT_ERROR_TABLE:\n  not in the doc: {missing}\n"
          f"  not in the header: {extra}")
    check(doc == table, "PROTOCOL.md Appendix A lists the codes in another order")


def help_text(binary):
    p = subprocess.run([os.path.join(BIN, binary), "--help"], capture_output=True, text=True,
                       timeout=30)
    check(p.returncode == 0, f"{binary} --help exited {p.returncode}")
    return p.stdout + p.stderr


def help_commands(text):
    """Commands a --help lists: the entries of its "commands:" section (a line
    indented two spaces that starts with a lowercase word), up to the first
    blank line. A one-process binary has no such section."""
    m = re.search(r"^commands:\n(.*?)(?:\n\s*\n|\Z)", text, re.S | re.M)
    if not m:
        return set()
    return set(re.findall(r"^  ([a-z][a-z-]*)(?:\s|$)", m.group(1), re.M))


def readme_table():
    readme = read("README.md")
    m = re.search(r"^## The binaries\n(.*?)(?=^## )", readme, re.S | re.M)
    check(m, "README.md has no '## The binaries' section")
    rows = {}
    for line in m.group(1).splitlines():
        r = re.match(r"^\|\s*`(chitieu-[a-z]+)`\s*\|\s*(.*?)\s*\|", line)
        if r:
            rows[r.group(1)] = r.group(2)
    return rows


def test_readme_commands_equal_help():
    rows = readme_table()
    bins = sorted(f for f in os.listdir(BIN) if f.startswith("chitieu-"))
    check(sorted(rows) == bins, f"README table lists {sorted(rows)}, build/bin has {bins}")
    for b in bins:
        text = help_text(b)
        cell = rows[b]
        got = help_commands(text)
        if cell.startswith("(one process"):
            check(not got, f"{b}: README says one process, --help lists commands {sorted(got)}")
            for opt in re.findall(r"`(--[a-z-]+)`", cell):
                check(re.search(r"(^|[\s\[(|])" + re.escape(opt) + r"\b", text, re.M),
                      f"{b}: README names {opt}, --help does not")
        else:
            want = re.findall(r"`([a-z][a-z-]*)`", cell)
            check(len(want) == len(set(want)), f"{b}: README lists a command twice: {want}")
            check(set(want) == got,
                  f"{b}: README lists {sorted(want)}, --help lists {sorted(got)} "
                  f"(missing from README: {sorted(got - set(want))}; "
                  f"not in --help: {sorted(set(want) - got)})")


def test_protocol_examples_equal_codec_examples():
    exe = os.path.join(BIN, "..", "tests", "codec_examples")
    out = subprocess.run([exe], check=True, capture_output=True, text=True, timeout=30).stdout
    doc = read("docs/PROTOCOL.md")
    blocks = [b.strip() for b in out.split("\n\n") if re.match(r".*? \(\d+ bytes\):\n", b.strip())]
    check(len(blocks) >= 9, f"codec_examples printed {len(blocks)} dumps")
    quoted = 0
    for b in blocks:
        title = b.splitlines()[0]
        i = doc.find(title + "\n")
        if i < 0:
            continue
        quoted += 1
        check(doc[i:i + len(b) + 1] == b + "\n",
              f"PROTOCOL.md's dump '{title}' is not what codec_examples prints:\n{b}")
    for need in ("event (all fields)", "life void", "life close", "sub (token 7"):
        check(any(b.startswith(need) and b.splitlines()[0] in doc for b in blocks),
              f"PROTOCOL.md does not quote the codec_examples dump '{need}'")
    check(quoted >= 7, f"only {quoted} dumps quoted")


if __name__ == "__main__":
    main([test_error_appendix_equals_table, test_readme_commands_equal_help,
          test_protocol_examples_equal_codec_examples])
