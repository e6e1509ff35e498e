"""Latency from "file complete" (the rename to the final name) to the verdict acted on.

Starts a real headless agent on a private home, writes files the way Chrome does
(`X.crdownload`, then rename), and reads the verdict events from the audit log: the event
is written after the file was quarantined or left alone, so its timestamp minus the
rename time is the latency a person would see. Prints p50/p99 per file size.

    .venv/bin/python bench/latency.py [--rounds N]

Targets (issue 3): p50 <= 50 ms, p99 <= 250 ms for files up to 20 MB on an idle machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.agent_harness import AgentProcess, make_zip, verdicts, wait_for

SIZES_MB = (0.01, 1, 5, 20)  # target file sizes in megabytes
ROUNDS = {0.01: 60, 1: 30, 5: 15, 20: 10}  # files written per size


def noise_jpeg(target_bytes: int, seed: int) -> bytes:
    """A real JPEG of random pixels, roughly `target_bytes` long (sized from a sample)."""
    rng = random.Random(seed)

    def encode(side: int) -> bytes:
        out = io.BytesIO()
        image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        image.save(out, "JPEG", quality=95)
        return out.getvalue()

    sample_side = 256
    bytes_per_pixel = len(encode(sample_side)) / sample_side**2
    return encode(max(8, int((target_bytes / bytes_per_pixel) ** 0.5)))


def parse_time(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="photogate-bench-") as temp:
        root = Path(temp)
        downloads = root / "Downloads"
        downloads.mkdir()
        config = root / "config.toml"
        config.write_text(
            '[policy]\nversion = "bench"\n[watch]\nuse_default_folders = false\n',
            encoding="utf-8",
        )
        agent = AgentProcess(root / "home", [downloads], config).start()
        results: dict[float, list[float]] = {}
        try:
            for size_mb in SIZES_MB:
                benign = noise_jpeg(int(size_mb * 1024 * 1024), seed=int(size_mb * 100))
                malicious = benign + make_zip(1)
                rounds = max(1, int(ROUNDS[size_mb] * args.scale))
                latencies: list[float] = []
                for index in range(rounds):
                    data = malicious if index % 5 == 0 else benign
                    final = downloads / f"s{size_mb}-{index}.jpg"
                    temp_name = final.with_name(final.name + ".crdownload")
                    temp_name.write_bytes(data)
                    time.sleep(0.05)  # let the writer's own events drain: measure the rename
                    renamed_at = time.time()
                    temp_name.rename(final)
                    event = wait_for(
                        lambda final=final: next(
                            (e for e in reversed(verdicts(agent.home)) if e["path"] == str(final)),
                            None,
                        ),
                        30,
                        f"verdict for {final.name}",
                        interval=0.01,
                    )
                    latencies.append((parse_time(event["time"]) - renamed_at) * 1000)
                    if final.exists():
                        final.unlink()
                results[size_mb] = latencies
                print(
                    f"{len(data) / 1024 / 1024:7.2f} MB  n={len(latencies):3d}"
                    f"  p50={statistics.median(latencies):7.1f} ms"
                    f"  p99={percentile(latencies, 0.99):7.1f} ms"
                    f"  max={max(latencies):7.1f} ms",
                    flush=True,
                )
        finally:
            agent.stop()
        everything = [value for values in results.values() for value in values]
        print(
            f"all sizes   n={len(everything):3d}  p50={statistics.median(everything):7.1f} ms"
            f"  p99={percentile(everything, 0.99):7.1f} ms   (targets: p50 <= 50, p99 <= 250)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
