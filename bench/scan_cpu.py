"""CPU time of `photogate scan` against `sha256sum` on the same files, robust to machine load.

Wall clock on a shared machine varies by 30 % and more between identical runs; the CPU
seconds a process spends (user + system, from `resource.getrusage(RUSAGE_CHILDREN)` around
each child) barely move with load. This takes the best of N runs of each contender in the
same invocation, the two taking turns, on the files `bench/scan_speed.py` generates (it
generates them when they are missing), and prints

* big:   CPU(scan 60 big JPEGs) / CPU(sha256sum of the same files), target <= 0.40
  (the scan at >= 2.5x sha256sum's speed), and the wall-clock ratio of the same runs;
* small: 3,000 small JPEGs per CPU-second and per wall-second, target >= 3,000.

Usage: .venv/bin/python bench/scan_cpu.py [--out DIR] [--runs N]
Exit status 0 when both CPU targets are met.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scan_speed import REPO, compile_bytecode, make_big, make_small, photogate_command

TARGET_CPU_RATIO = 0.40  # scan CPU seconds / sha256sum CPU seconds on the big JPEGs
TARGET_SMALL_FILES_PER_CPU_SECOND = 3000


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def best_of(argv: list[str], runs: int) -> tuple[float, float]:
    """(best CPU seconds, best wall seconds) of running argv `runs` times, output discarded."""
    return best_of_each([argv], runs)[0]


def best_of_each(argvs: list[list[str]], runs: int) -> list[tuple[float, float]]:
    """(best CPU, best wall seconds) per argv, the contenders run in turn `runs` times.

    Taking turns puts both under the same load: on the shared machine, CPU seconds of
    the memory-bound scan drift with what else runs far more than sha256sum's do.
    """
    cpu: list[list[float]] = [[] for _ in argvs]
    wall: list[list[float]] = [[] for _ in argvs]
    for _ in range(runs):
        for index, argv in enumerate(argvs):
            cpu_before, wall_before = _children_cpu(), time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            wall[index].append(time.perf_counter() - wall_before)
            cpu[index].append(_children_cpu() - cpu_before)
    return [(min(c), min(w)) for c, w in zip(cpu, wall, strict=True)]


def main() -> int:
    """Measure and print; 0 when the CPU targets are met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    big = make_big(args.out / "big")
    small = make_small(args.out / "small")
    compile_bytecode()
    scan = [*photogate_command(), "scan"]
    sha_big_argv = ["sha256sum", *map(str, big)]
    # warm the page cache for both contenders
    subprocess.run(sha_big_argv, stdout=subprocess.DEVNULL, check=False)
    subprocess.run([*scan, str(args.out / "small")], stdout=subprocess.DEVNULL, check=False)

    (scan_cpu, scan_wall), (sha_cpu, sha_wall) = best_of_each(
        [[*scan, str(args.out / "big")], sha_big_argv], args.runs
    )
    ratio = scan_cpu / sha_cpu
    megabytes = sum(p.stat().st_size for p in big) / 1e6
    print(f"big:   {len(big)} files, {megabytes:.0f} MB, best of {args.runs}")
    print(f"       CPU  scan {scan_cpu:.3f} s, sha256sum {sha_cpu:.3f} s: ratio {ratio:.2f}")
    print(
        f"       wall scan {scan_wall:.3f} s, sha256sum {sha_wall:.3f} s: "
        f"ratio {scan_wall / sha_wall:.2f} (CPU target <= {TARGET_CPU_RATIO})"
    )
    small_cpu, small_wall = best_of([*scan, str(args.out / "small")], args.runs)
    per_cpu = len(small) / small_cpu
    print(
        f"small: {len(small)} files: {per_cpu:.0f} files per CPU-second, "
        f"{len(small) / small_wall:.0f} per wall-second "
        f"(target >= {TARGET_SMALL_FILES_PER_CPU_SECOND})"
    )
    ok = ratio <= TARGET_CPU_RATIO and per_cpu >= TARGET_SMALL_FILES_PER_CPU_SECOND
    print("CPU targets met" if ok else "some CPU targets missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
