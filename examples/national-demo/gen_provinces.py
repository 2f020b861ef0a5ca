#!/usr/bin/env python3
"""gen_provinces.py — writes the two GENERATED test provinces of the national
example (python3 gen_provinces.py, from this directory): gen-a/ and gen-b/,
each a campaign.ini and a staff.csv.

These are fictional test data, not real places or people: province codes 901
and 902 (real Vietnamese province codes are below 100), units named "Đơn vị
thử N", staff named "Cán bộ thử N". The campaign window is Lâm Đồng 2023's, so
one event generator serves all three provinces in the tests.
"""
import os

PROVINCES = [
    # (dir, campaign id, province code, name, [(unit code, staff)], agent targets)
    ("gen-a", "gen-a-2023", 901, "Tỉnh thử A (dữ liệu sinh)", [(9011, 5), (9012, 4), (9013, 3)],
     (1, 2)),
    ("gen-b", "gen-b-2023", 902, "Tỉnh thử B (dữ liệu sinh)", [(9021, 6), (9022, 4)], (2, 3)),
]

HEAD = """; GENERATED TEST DATA (examples/national-demo/gen_provinces.py): a fictional
; province for the national example and tests; not a real place or roster.
[campaign]
id = {cid}
name = {name}: chiến dịch thử 2023
start = 2023-07-22T08:00:00+07:00
end = 2023-08-01T00:00:00+07:00
timezone = +07:00
roster = staff.csv

[program bhxh_tn]
agent_target = {t0}

[program bhyt_hgd]
agent_target = {t1}

[group nq143]
name = Nhóm hỗ trợ thử
"""


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for d, cid, code, name, units, (t0, t1) in PROVINCES:
        os.makedirs(os.path.join(here, d), exist_ok=True)
        ini = HEAD.format(cid=cid, name=name, t0=t0, t1=t1)
        for u, _ in units:
            ini += f"\n[district {u}]\nname = Đơn vị thử {u}\n"
        rows = ["agent_id,name,district,org"]
        n = 0
        for u, staff in units:
            for i in range(staff):
                n += 1
                org = "bhxh" if i % 3 else "buudien"
                rows.append(f"T{code}-{u}-{i + 1:02d},Cán bộ thử {n},{u},{org}")
        with open(os.path.join(here, d, "campaign.ini"), "w", encoding="utf-8", newline="\n") as f:
            f.write(ini)
        with open(os.path.join(here, d, "staff.csv"), "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
