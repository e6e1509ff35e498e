"""Burst drain: 10,000 small files (30 % booby-trapped) moved into a watched folder at once.

The agent runs in-process with the real engine, policy, vault, state DB and watchdog
observer. Files are written outside the watched folder first and then renamed in (as a
browser finishes downloads), so what is timed is the agent's work: from the first rename
to the last verdict. Every file must get exactly one verdict; every trapped file must end
in the vault and every benign one stay. The same-run baseline is the floor any agent pays
per file: `os.rename` in, read and SHA-256 the file (timed on an identical set); the
sync floor is what the vault's durability alone costs for the burst's trapped files in
the agent's batches (one flush, a rename, two folder fsyncs per batch: `sync_floor`).

    .venv/bin/python bench/drain.py [--files N] [--bad-share 0.3]

Target (issue 13): >= 1,000 files/s with exactly one verdict each. Exit 0 when met.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent import platform
from agent.policy.keeper import PolicyKeeper
from agent.service.loop import BATCH_MAX_FILES, AgentService
from agent.vault.crypto import fsync_dir
from tests.agent_harness import make_jpeg, make_zip, read_events

TARGET_FILES_PER_SECOND = 1_000.0  # issue 13
DRAIN_TIMEOUT_SECONDS = 600.0  # seconds the burst may take before the bench gives up
POLICY = (
    '[policy]\nversion = "bench-drain"\n\n[watch]\nuse_default_folders = false\n'
    "settle_seconds = 0.5\nsweep_interval_seconds = 3600.0\n\n[ui]\nnotifications = false\n"
)


def make_files(folder: Path, count: int, bad_share: float) -> dict[str, bool]:
    """`count` small JPEGs in `folder`, a `bad_share` of them (spread evenly) with a ZIP."""
    folder.mkdir(parents=True)
    base, trailer = make_jpeg(1), make_zip(1)
    bad_count = round(count * bad_share)
    trapped: dict[str, bool] = {}
    for index in range(count):
        bad = index * bad_count // count != (index + 1) * bad_count // count  # spread evenly
        name = f"scan-{index:05d}.jpg"
        # a unique tail per file so hashes (and vault items) differ
        (folder / name).write_bytes(base + (trailer if bad else b"") + index.to_bytes(4, "big"))
        trapped[name] = bad
    return trapped


def baseline(source: Path, target: Path) -> float:
    """Seconds to rename every file in and read + SHA-256 it (the floor per file)."""
    target.mkdir()
    started = time.perf_counter()
    for path in sorted(source.iterdir()):
        moved = target / path.name
        path.rename(moved)
        hashlib.sha256(moved.read_bytes()).hexdigest()
    return time.perf_counter() - started


def sync_floor(work: Path, count: int, bad_share: float, batch: int) -> float:
    """Seconds the vault's durability alone costs for the burst (group commit).

    Per batch of `batch` files, as agent.vault.movein does for its share of trapped ones:
    a content and a record file written per trapped file, one flush of them all
    (platform.sync_files: syncfs on Linux), renamed into another folder, that folder
    fsynced, the originals unlinked and their folder fsynced. No encryption, no
    inspection: what is left is what the disk and the filesystem's journal cost.
    """
    originals, tmp, items = work / "floor-dl", work / "floor-tmp", work / "floor-items"
    for folder in (originals, tmp, items):
        folder.mkdir()
    bad_per_batch = max(1, round(batch * bad_share))
    payload = b"x" * 3000
    started = time.perf_counter()
    for first in range(0, round(count * bad_share), bad_per_batch):
        names = [f"{first + i:06d}" for i in range(bad_per_batch)]
        written = []
        for name in names:
            (originals / name).write_bytes(payload)
            for suffix in (".pgq", ".json"):
                (tmp / f"{name}{suffix}").write_bytes(payload)
                written.append(tmp / f"{name}{suffix}")
        platform.sync_files(written)
        for path in written:
            path.rename(items / path.name)
        fsync_dir(items)
        for name in names:
            (originals / name).unlink()
        fsync_dir(originals)
    return time.perf_counter() - started


def drain(work: Path, count: int, bad_share: float) -> dict[str, float]:
    staged = work / "staged"
    trapped = make_files(staged, count, bad_share)
    downloads = work / "Downloads"
    downloads.mkdir()
    config = work / "config.toml"
    config.write_text(POLICY, encoding="utf-8")
    home = work / "home"
    keeper = PolicyKeeper(config, home / "preferences.toml")
    service = AgentService(keeper, watch_override=[str(downloads)], home=home)
    service.start()
    try:
        started = time.perf_counter()
        for name in trapped:
            (staged / name).rename(downloads / name)
        moved = time.perf_counter() - started
        deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
        while service.snapshot().inspected_total < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"gave up: {service.snapshot().inspected_total}/{count} judged")
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
    finally:
        service.stop()
    verdicts = [e for e in read_events(home) if e["event"] == "verdict"]
    per_path: dict[str, int] = {}
    for event in verdicts:
        per_path[event["path"]] = per_path.get(event["path"], 0) + 1
    duplicates = sum(1 for n in per_path.values() if n > 1)
    wrong = 0
    for name, bad in trapped.items():
        still_there = (downloads / name).exists()
        wrong += int(still_there == bad)  # a trapped file left, or a benign one moved
    return {
        "files": count,
        "seconds": elapsed,
        "rename_seconds": moved,
        "files_per_second": count / elapsed,
        "verdicts": len(verdicts),
        "paths_with_two_verdicts": duplicates,
        "wrong_outcomes": wrong,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--bad-share", type=float, default=0.3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="photogate-drain-"))
    try:
        floor_source = work / "floor-source"
        make_files(floor_source, args.files, args.bad_share)
        floor = baseline(floor_source, work / "floor-target")
        syncs = sync_floor(work, args.files, args.bad_share, BATCH_MAX_FILES)
        result = drain(work, args.files, args.bad_share)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"burst: {result['files']} files ({args.bad_share:.0%} trapped)")
    print(
        f"agent: {result['seconds']:.2f} s = {result['files_per_second']:.0f} files/s"
        f" (renames took {result['rename_seconds']:.2f} s of it)"
    )
    print(
        f"baseline (rename + read + sha256, same files): {floor:.2f} s ="
        f" {args.files / floor:.0f} files/s"
    )
    print(
        f"vault durability alone (batches of {BATCH_MAX_FILES} files: flush, rename, 2 folder"
        f" fsyncs): {syncs:.2f} s"
    )
    print(
        f"verdicts: {result['verdicts']}, paths with two: {result['paths_with_two_verdicts']},"
        f" wrong outcomes: {result['wrong_outcomes']}"
    )
    ok = (
        result["files_per_second"] >= TARGET_FILES_PER_SECOND
        and result["verdicts"] == args.files
        and result["paths_with_two_verdicts"] == 0
        and result["wrong_outcomes"] == 0
    )
    print("target met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
