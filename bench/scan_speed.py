"""Benchmark `photogate scan` against `sha256sum` on the same files, plus peak memory.

Generates (deterministically, into bench/out/ unless --out is given):
  * 60 camera-like JPEGs of 8-9 MB (seeded noise at quality 95),
  * 3,000 small JPEGs,
  * one 2,000,000,000-byte file: a JPEG followed by zeros (sparse, so it costs no disk).

Then times, as whole processes with a warm page cache, `photogate scan DIR` and
`sha256sum FILES...` (3 runs each, median), and measures the peak RSS of scanning the big
file with /usr/bin/time -v. Prints the ratio scan/sha256sum (target <= 0.40: the scan at
>= 2.5x sha256sum's speed, issue 11), small-file throughput (target >= 3,000 files/s,
issue 11) and peak RSS (target < 150 MB).

Usage: .venv/bin/python bench/scan_speed.py [--out DIR] [--runs N]
"""

from __future__ import annotations

import argparse
import compileall
import io
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
BIG_COUNT = 60
BIG_TARGET_BYTES = 8_500_000  # bytes per camera-like JPEG (8-9 MB)
SMALL_COUNT = 3000
HUGE_FILE_BYTES = 2_000_000_000  # bytes: under the default 2 GiB cap, so fully inspected
TARGET_RATIO = 0.40  # issue 11 (was 0.5, issue 2)
TARGET_SMALL_FILES_PER_SECOND = 3000  # issue 11 (was 2,000, issue 2)
TARGET_PEAK_RSS_MB = 150


def noise_jpeg(width: int, height: int, seed: int, quality: int = 95) -> bytes:
    """Seeded noise with a gradient (camera-ish texture), encoded by Pillow."""
    rng = random.Random(seed)
    noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image = Image.blend(noise, gradient, 0.35)
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "BenchCam"
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def make_big(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"IMG_{i:04d}.jpg" for i in range(BIG_COUNT)]
    if all(p.exists() and 8_000_000 <= p.stat().st_size <= 9_000_000 for p in paths):
        return paths
    # Find a size that lands in 8-9 MB at quality 95 (bytes/pixel measured on a probe).
    probe = noise_jpeg(1000, 750, seed=0)
    bytes_per_pixel = len(probe) / (1000 * 750)
    pixels = BIG_TARGET_BYTES / bytes_per_pixel
    width = int((pixels * 4 / 3) ** 0.5)
    height = int(width * 3 / 4)
    for index, path in enumerate(paths):
        data = noise_jpeg(width, height, seed=index + 1)
        path.write_bytes(data)
    return paths


def make_small(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"thumb_{i:05d}.jpg" for i in range(SMALL_COUNT)]
    if all(p.exists() for p in paths):
        return paths
    variants = [noise_jpeg(96, 72, seed=1000 + v, quality=85) for v in range(50)]
    for index, path in enumerate(paths):
        path.write_bytes(variants[index % len(variants)])
    return paths


def make_huge(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "huge.jpg"
    if path.exists() and path.stat().st_size == HUGE_FILE_BYTES:
        return path
    head = noise_jpeg(640, 480, seed=7)
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(HUGE_FILE_BYTES)  # sparse zeros after the JPEG
    return path


def compile_bytecode() -> None:
    """Write the agent's bytecode (__pycache__, git-ignored) before anything is timed.

    The shipped agent is a PyInstaller build, which carries compiled bytecode; a checkout
    run with PYTHONDONTWRITEBYTECODE=1 (as on the build machine) would otherwise compile
    every module from source in every `photogate scan` process, ~30 ms of CPU per process
    that no installed agent pays. py_compile writes regardless of that variable.
    """
    compileall.compile_dir(str(REPO / "agent"), quiet=1)


def photogate_command() -> list[str]:
    script = REPO / ".venv" / "bin" / "photogate"
    return [str(script)] if script.exists() else [sys.executable, "-m", "agent"]


def timed(argv: list[str], runs: int) -> float:
    """Median wall-clock seconds of running argv (output discarded)."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def peak_rss_mb(argv: list[str]) -> float:
    result = subprocess.run(
        ["/usr/bin/time", "-v", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    return int(match.group(1)) / 1024 if match else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    big = make_big(args.out / "big")
    small = make_small(args.out / "small")
    huge = make_huge(args.out / "huge")
    compile_bytecode()
    scan = [*photogate_command(), "scan"]
    total_big = sum(p.stat().st_size for p in big)

    # warm the page cache for both contenders
    subprocess.run(["sha256sum", *map(str, big)], stdout=subprocess.DEVNULL, check=False)
    subprocess.run([*scan, str(args.out / "big")], stdout=subprocess.DEVNULL, check=False)

    scan_big = timed([*scan, str(args.out / "big")], args.runs)
    sha_big = timed(["sha256sum", *map(str, big)], args.runs)
    ratio = scan_big / sha_big
    print(f"big:   {len(big)} files, {total_big / 1e6:.0f} MB")
    print(f"       photogate scan {scan_big:.3f} s, sha256sum {sha_big:.3f} s")
    print(f"       ratio scan/sha256sum = {ratio:.2f} (target <= {TARGET_RATIO})")

    subprocess.run([*scan, str(args.out / "small")], stdout=subprocess.DEVNULL, check=False)
    scan_small = timed([*scan, str(args.out / "small")], args.runs)
    sha_small = timed(["sha256sum", *map(str, small)], args.runs)
    rate = len(small) / scan_small
    print(f"small: {len(small)} files: photogate scan {scan_small:.3f} s = {rate:.0f} files/s")
    print(
        f"       (sha256sum {sha_small:.3f} s; target >= {TARGET_SMALL_FILES_PER_SECOND} files/s)"
    )

    rss = peak_rss_mb([*scan, str(huge)])
    print(
        f"huge:  {HUGE_FILE_BYTES / 1e9:.1f} GB file: peak RSS {rss:.0f} MB "
        f"(target < {TARGET_PEAK_RSS_MB})"
    )
    started = time.perf_counter()
    subprocess.run([*scan, str(huge)], stdout=subprocess.DEVNULL, check=False)
    print(f"       scan time {time.perf_counter() - started:.2f} s")

    ok = (
        ratio <= TARGET_RATIO and rate >= TARGET_SMALL_FILES_PER_SECOND and rss < TARGET_PEAK_RSS_MB
    )
    print("all targets met" if ok else "some targets missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
