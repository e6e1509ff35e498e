"""Coverage-guided fuzzing of the inspection engine with atheris (libFuzzer for Python).

One target per parser: a seed file of that format (built by tests/format_samples.py and
tests/jpeg_samples.py) under a matching name, mutated by libFuzzer with coverage of the
instrumented engine. The property is the engine's contract: any bytes under any name
give a Report within a time bound, never an exception. Each target runs in its own
process for `--seconds`, and the bench reports inputs/s and the total per parser.

    .venv/bin/python bench/fuzz.py [--seconds 60] [--parser jpeg ...]
    .venv/bin/python bench/fuzz.py --target jpeg --runs 2000    (one target, libFuzzer args)

Exit 0 when no target found an escape (a crash makes libFuzzer exit non-zero and keep the
input in the work folder as crash-*). tests/test_fuzz.py runs a short pass of each target.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

MAX_INPUT_BYTES = 64 * 1024  # bytes: libFuzzer's -max_len for every target
REPORT_SECONDS = 5.0  # seconds: one small input must be judged well within this


def _seeds() -> dict[str, tuple[str, Callable[[], bytes]]]:
    """parser -> (file name to judge, seed builder). Imported lazily: Pillow is slow."""
    import format_samples as fs
    import jpeg_samples as js

    return {
        "jpeg": ("photo.jpg", js.photo),
        "png": ("image.png", fs.png_bytes),
        "gif": ("anim.gif", fs.gif_bytes),
        "webp": ("image.webp", fs.webp_bytes),
        "bmp": ("image.bmp", fs.bmp_bytes),
        "tiff": ("scan.tif", fs.tiff_bytes),
        "ico": ("favicon.ico", fs.ico_bytes),
        "heif": ("photo.heic", fs.heif_bytes),
        "dicom": ("xray.dcm", fs.dicom_bytes),
        "svg": ("logo.svg", lambda: fs.SVG_BENIGN),
    }


def run_target(parser: str, libfuzzer_args: list[str]) -> None:
    """Fuzz one parser in this process (atheris.Fuzz does not return)."""
    import atheris

    name, _ = _seeds()[parser]
    with atheris.instrument_imports(include=["agent"]):
        from agent.inspect.engine import inspect_bytes
        from agent.model import Report

    def test_one_input(data: bytes) -> None:
        started = time.monotonic()
        report = inspect_bytes(name, data)
        if not isinstance(report, Report):
            raise AssertionError("the engine returned no Report")
        if time.monotonic() - started > REPORT_SECONDS:
            raise AssertionError(f"{len(data)} bytes took over {REPORT_SECONDS} s")

    atheris.Setup([sys.argv[0], *libfuzzer_args], test_one_input)
    atheris.Fuzz()


_DONE = re.compile(rb"stat::number_of_executed_units:\s*(\d+)")
_RATE = re.compile(rb"stat::average_exec_per_sec:\s*(\d+)")


def fuzz_parser(parser: str, seconds: float, work: Path) -> dict[str, float | int | str]:
    """Run one target for `seconds` in a child process; its totals."""
    corpus = work / parser
    corpus.mkdir(parents=True, exist_ok=True)
    _, seed = _seeds()[parser]
    (corpus / "seed").write_bytes(seed())
    started = time.perf_counter()
    child = subprocess.run(
        [
            sys.executable, str(Path(__file__).resolve()), "--target", parser, "--",
            f"-max_total_time={int(seconds)}", f"-max_len={MAX_INPUT_BYTES}",
            "-print_final_stats=1", f"-artifact_prefix={work}/{parser}-", "-close_fd_mask=1",
            str(corpus),
        ],
        capture_output=True, cwd=REPO, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    found = _DONE.search(child.stderr)
    runs = int(found.group(1)) if found else 0
    rate = _RATE.search(child.stderr)
    outcome = "ok" if child.returncode == 0 else f"ESCAPE (exit {child.returncode})"
    if child.returncode != 0:
        tail = child.stderr.decode(errors="replace").splitlines()[-30:]
        print("\n".join(tail), file=sys.stderr)
    return {
        "parser": parser,
        "runs": runs,
        "seconds": elapsed,  # wall time, with the child's start and instrumentation
        "per_second": int(rate.group(1)) if rate else 0,  # libFuzzer's own rate
        "outcome": outcome,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per parser")
    parser.add_argument("--parser", action="append", help="only these parsers")
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.target:
        run_target(args.target, args.rest)
        return 0
    chosen = args.parser or list(_seeds())
    rows = []
    with tempfile.TemporaryDirectory(prefix="photogate-fuzz-") as work:
        for name in chosen:
            row = fuzz_parser(name, args.seconds, Path(work))
            rows.append(row)
            print(
                f"{name:8} {row['runs']:>9,} inputs  {row['per_second']:>8,}/s"
                f"  ({row['seconds']:.0f} s wall)  {row['outcome']}"
            )
            sys.stdout.flush()
    total = sum(int(row["runs"]) for row in rows)
    seconds = sum(float(row["seconds"]) for row in rows)
    print(f"{'total':8} {total:>9,} inputs in {seconds:.0f} s wall ({total / seconds:,.0f}/s)")
    return 0 if all(row["outcome"] == "ok" for row in rows) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
