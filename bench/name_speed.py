"""Benchmark the file-name checks: microseconds per name, against baselines in the same run.

The name checks run on every file event, before anything else, so they must stay cheap:
target under 50 µs per name (issue 16). The names are a deterministic mix of what arrives:
ordinary camera/phone names (ASCII, most of the traffic), names in Arabic, Hebrew, Chinese and
Persian, emoji, and every lure class (double extensions, padding, bidi controls, invisibles,
dot and letter look-alikes). Baselines, timed over the same names in the same run:
`str.lower` and `os.path.splitext` (what any extension check costs at the least).

The first call of a kind loads lazy data (confusable table, bidi library); it is timed
separately as the cold start and excluded from the per-name figure.

Usage: .venv/bin/python bench/name_speed.py [--names N] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from agent.inspect.names import check_name  # noqa: E402

TARGET_MICROSECONDS = 50.0  # per name, the issue-16 budget
ORDINARY = (
    "IMG_{n:04d}.JPG", "PXL_20240115_{n:06d}.jpg", "DSC{n:05d}.jpg", "scan {n}.pdf",
    "photo ({n}).png", "20240115_{n:06d}.heic", "xray-{n}.dcm", "report.2024.{n}.pdf",
)  # fmt: skip
INTERNATIONAL = ("صورة المريض {n}.jpg", "צילום רנטגן {n}.png", "患者照片{n}.jpg",
                 "می‌خواهم {n}.jpg", "❤️ family {n}.jpg", "1\ufe0f\u20e3 photo {n}.jpg",
                 "\u200fקובץ - עותק ({n}).jpg")  # fmt: skip
LURES = ("photo{n}.jpg.exe", "scan{n}.jpg" + " " * 40 + ".scr", "invoice_{n}\u202egpj.exe",
         "photo{n}.j\u200bpg", "photo{n}\u2024jpg.exe", "photo{n}.\u0458\u0440g.exe",
         "photo{n}.jpg~1.exe", "scan{n}.jpg" + "_" * 30 + ".exe", "x{n}.jpg.settingcontent-ms",
         "photo{n}\uff0ejpg.scr", "photo{n}.jpg.exe.")  # fmt: skip


def names(count: int) -> list[str]:
    """`count` names: 70 % ordinary, 15 % international, 15 % lures (seeded)."""
    rng = random.Random(16)
    out = []
    for n in range(count):
        roll = rng.random()
        pool = ORDINARY if roll < 0.7 else INTERNATIONAL if roll < 0.85 else LURES
        out.append(rng.choice(pool).format(n=n))
    return out


def per_name_us(function: Callable[[str], object], sample: list[str], runs: int) -> float:
    """Median over `runs` of the mean microseconds per name."""
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        for name in sample:
            function(name)
        timings.append((time.perf_counter() - start) / len(sample) * 1e6)
    return statistics.median(timings)


def main(argv: list[str] | None = None) -> int:
    """Print µs/name for check_name and the baselines; exit 0 when under the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    sample = names(args.names)

    cold_start = time.perf_counter()
    for lure in LURES + INTERNATIONAL:
        check_name(lure.format(n=0))  # loads the confusable table and the bidi library
    cold_ms = (time.perf_counter() - cold_start) * 1e3

    lower = per_name_us(str.lower, sample, args.runs)
    splitext = per_name_us(os.path.splitext, sample, args.runs)
    checks = per_name_us(check_name, sample, args.runs)
    by_kind = {
        label: per_name_us(check_name, [p.format(n=i) for i in range(500) for p in pool], args.runs)
        for label, pool in (("ordinary", ORDINARY), ("international", INTERNATIONAL),
                            ("lures", LURES))
    }  # fmt: skip
    print(f"{len(sample)} names, median of {args.runs} runs; cold start {cold_ms:.1f} ms")
    print(f"  str.lower          {lower:8.3f} µs/name")
    print(f"  os.path.splitext   {splitext:8.3f} µs/name")
    print(
        f"  check_name         {checks:8.3f} µs/name  "
        f"({checks / lower:.0f}x str.lower, {checks / splitext:.0f}x splitext)"
    )
    for label, value in by_kind.items():
        print(f"    {label:<16} {value:8.3f} µs/name")
    worst = max(checks, *by_kind.values())
    verdict = "met" if worst < TARGET_MICROSECONDS else "MISSED"
    print(f"target < {TARGET_MICROSECONDS:.0f} µs/name (worst mix {worst:.1f} µs): {verdict}")
    return 0 if worst < TARGET_MICROSECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
