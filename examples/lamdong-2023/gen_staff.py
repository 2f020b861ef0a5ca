#!/usr/bin/env python3
"""gen_staff.py — regenerates staff.csv deterministically (python3 gen_staff.py > staff.csv).

The roster is illustrative: 184 staff of the Lâm Đồng social-insurance offices and post offices,
spread over the provincial office and the 12 district offices roughly by size. Names are built
from common Vietnamese surnames, middle names and given names with a fixed-seed generator, so the
file is reproducible byte for byte. Agent ids are ASCII: LD<unit code, 3 digits>-<nnn>.
"""
import csv
import io
import sys

# (unit code, staff count); sums to 184
UNITS = [(68, 34), (672, 22), (673, 18), (674, 8), (675, 7), (676, 15), (677, 13),
         (678, 17), (679, 15), (680, 12), (681, 8), (682, 7), (683, 8)]

SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
            "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đinh", "Trương", "Lâm", "Mai"]
MIDDLE_M = ["Văn", "Hữu", "Đức", "Minh", "Quốc", "Thanh", "Công", "Xuân", "Hoàng", "Anh"]
MIDDLE_F = ["Thị", "Ngọc", "Thu", "Kim", "Thanh", "Mỹ", "Hoài", "Phương", "Bích", "Thị"]
GIVEN_M = ["An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hiếu", "Hùng", "Huy", "Khánh",
           "Khoa", "Long", "Lộc", "Nam", "Nghĩa", "Phong", "Phúc", "Quân", "Quang", "Sơn",
           "Tài", "Thắng", "Thịnh", "Tiến", "Toàn", "Trung", "Tuấn", "Tùng", "Việt", "Vinh"]
GIVEN_F = ["Anh", "Châu", "Diễm", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hoa", "Hương",
           "Lan", "Liên", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Nhung", "Oanh",
           "Phượng", "Quyên", "Tâm", "Thảo", "Thủy", "Trang", "Trinh", "Uyên", "Vân", "Yến"]


class Lcg:
    """Numerical Recipes LCG: deterministic across Python versions."""

    def __init__(self, seed):
        self.s = seed

    def next(self, n):
        self.s = (self.s * 1664525 + 1013904223) % (1 << 32)
        return (self.s >> 8) % n


def main():
    rng = Lcg(20230722)
    seen = set()
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["agent_id", "name", "district", "org"])
    for code, n in UNITS:
        n_post = 0 if code == 68 else n // 4  # post-office collectors in district units
        for i in range(1, n + 1):
            while True:
                female = rng.next(2) == 1
                name = " ".join([
                    SURNAMES[rng.next(len(SURNAMES))],
                    (MIDDLE_F if female else MIDDLE_M)[rng.next(10)],
                    (GIVEN_F if female else GIVEN_M)[rng.next(30)],
                ])
                if name not in seen:
                    seen.add(name)
                    break
            org = "buudien" if i > n - n_post else "bhxh"
            w.writerow([f"LD{code:03d}-{i:03d}", name, code, org])
    sys.stdout.write(out.getvalue())


if __name__ == "__main__":
    main()
