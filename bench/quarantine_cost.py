"""Cost of one quarantine with 0 and with 50,000 items already in the vault.

Issue 13: every vault operation listed the whole `items/` folder (recovery ran at each
exclusive section), so a quarantine cost 7.6 ms at 0-500 items and 35 ms at 3,500.
Recovery now runs at open, when the journal is not empty and after a failure, so the cost
must be flat. Measured in one run: K quarantines into an empty vault (the baseline), then
the vault is filled to 50,000 items and K more are timed; for comparison the bench also
times one full recovery pass at 50,000 items (what every operation used to pay). The same
for files moved in batches (`Vault.quarantine_many`, group commit): the cost per file of a
batch of --batch files, at 0 and at 50,000 items.

    .venv/bin/python bench/quarantine_cost.py [--items 50000] [--samples 200] [--batch 64]

Target: the median at 50,000 items within 1.5x of the median at 0, single and batched
(exit 0 when met).
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.model import Finding, Severity
from agent.vault.store import CONTENT_SUFFIX, RECORD_SUFFIX, QuarantineRequest, Vault
from tests.agent_harness import make_jpeg_with_zip

FLAT_RATIO = 1.5  # the median at N items may be at most this many times the one at 0
FINDINGS = (Finding("jpeg.trailing_data", Severity.HIGH, "bench", payload="zip"),)


def fill(vault: Vault, items: int) -> None:
    """Add `items` item files (record + content) to the vault folder directly.

    Real quarantines would take minutes; what made the cost grow was the number of
    entries in `items/` that recovery listed, which these create (their records are not
    valid signatures, which `damaged()` would report; no operation timed here reads them).
    """
    folder = vault.root / "items"
    for _ in range(items):
        item_id = secrets.token_hex(16)
        (folder / f"{item_id}{RECORD_SUFFIX}").write_bytes(b"{}")
        (folder / f"{item_id}{CONTENT_SUFFIX}").write_bytes(b"")


def time_quarantines(vault: Vault, source: Path, samples: int, seed: int) -> list[float]:
    """Seconds per quarantine of `samples` fresh small trapped JPEGs."""
    times = []
    for index in range(samples):
        path = source / f"bad-{seed}-{index}.jpg"
        path.write_bytes(make_jpeg_with_zip(seed * 100_000 + index))
        started = time.perf_counter()
        vault.quarantine(path, FINDINGS, detected_type="jpeg", policy_version="bench")
        times.append(time.perf_counter() - started)
    return times


def time_batches(vault: Vault, source: Path, samples: int, batch: int, seed: int) -> list[float]:
    """Seconds per file of `samples` files moved in batches of `batch` (one value per batch)."""
    per_file = []
    for start in range(0, samples, batch):
        paths = []
        for index in range(start, min(start + batch, samples)):
            path = source / f"batch-{seed}-{index}.jpg"
            path.write_bytes(make_jpeg_with_zip(seed * 100_000 + index))
            paths.append(path)
        requests = [QuarantineRequest(p, FINDINGS, "jpeg", "bench") for p in paths]
        started = time.perf_counter()
        results = vault.quarantine_many(requests)
        per_file.append((time.perf_counter() - started) / len(paths))
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            raise SystemExit(f"a batched quarantine failed: {failed[0]}")
    return per_file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64, help="files per quarantine_many")
    args = parser.parse_args()
    batched_samples = args.batch * 8
    work = Path(tempfile.mkdtemp(prefix="photogate-qcost-"))
    try:
        source = work / "Downloads"
        source.mkdir()
        vault = Vault(work / "vault")
        empty = time_quarantines(vault, source, args.samples, 1)
        empty_batched = time_batches(vault, source, batched_samples, args.batch, 3)
        fill(vault, args.items)
        full = time_quarantines(vault, source, args.samples, 2)
        full_batched = time_batches(vault, source, batched_samples, args.batch, 4)
        started = time.perf_counter()
        with vault._lock.hold():
            vault._recover()
        old_recovery = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)
    at_zero, at_full = statistics.median(empty), statistics.median(full)
    print(f"one quarantine, median of {args.samples}:")
    print(f"  at 0 items:      {at_zero * 1000:.2f} ms (p90 {_p90(empty) * 1000:.2f} ms)")
    print(f"  at {args.items:,} items: {at_full * 1000:.2f} ms (p90 {_p90(full) * 1000:.2f} ms)")
    print(
        f"  one recovery pass at {args.items:,} items (paid per operation before):"
        f" {old_recovery * 1000:.1f} ms"
    )
    batch_zero, batch_full = statistics.median(empty_batched), statistics.median(full_batched)
    print(f"one file of a batch of {args.batch}, median of {len(empty_batched)} batches:")
    print(f"  at 0 items:      {batch_zero * 1000:.2f} ms")
    print(f"  at {args.items:,} items: {batch_full * 1000:.2f} ms")
    ok = at_full <= FLAT_RATIO * at_zero and batch_full <= FLAT_RATIO * batch_zero
    ratios = f"ratio {at_full / at_zero:.2f} single, {batch_full / batch_zero:.2f} batched"
    print(f"flat: target met ({ratios})" if ok else f"TARGET MISSED ({ratios})")
    return 0 if ok else 1


def _p90(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.9)]


if __name__ == "__main__":
    raise SystemExit(main())
