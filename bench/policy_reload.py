"""Verdict latency while a large policy file is rewritten over and over (issue 13).

A 7.9 MB policy rewritten continuously used to pin the worker (validation ran on it): every
verdict waited ~4 s. Now the policy is read and validated on its own thread. This starts the
real AgentService in-process on a private folder, rewrites a ~8 MB valid policy (a 100,000-entry
allowlist plus padding) every REWRITE_SECONDS, drops FILES small files one by one, and reports
the time from the file's final write to its verdict event. `--inline` measures the old way
(read + validate on the worker) for comparison.

    .venv/bin/python bench/policy_reload.py [--inline] [--files N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.policy.keeper import PolicyKeeper
from agent.service.loop import AgentService
from tests.agent_harness import make_jpeg, read_events, wait_for

FILES = 30  # files dropped while the policy churns
ALLOWLIST_ENTRIES = 100_000  # SHA-256 lines: ~7 MB of policy
PADDING_BYTES = 900_000  # comment bytes on top, to reach ~7.9 MB
REWRITE_SECONDS = 0.5  # the policy file is rewritten this often
FILE_GAP_SECONDS = 0.2  # pause between two dropped files
VERDICT_TIMEOUT_SECONDS = 60.0


def big_policy(version: int) -> str:
    """A valid machine policy of ~7.9 MB whose version changes on every rewrite."""
    hashes = ",\n".join(f'"{index:064x}"' for index in range(ALLOWLIST_ENTRIES))
    return (
        f'[policy]\nversion = "big-{version}"\n\n[watch]\nuse_default_folders = false\n'
        f"settle_seconds = 0.2\n\n[allowlist]\nsha256 = [\n{hashes}\n]\n"
        + "# " + "x" * PADDING_BYTES + "\n"
    )  # fmt: skip


def run(inline: bool, files: int) -> list[float]:
    """Latencies in seconds, one per dropped file."""
    with tempfile.TemporaryDirectory(prefix="pg-policy-bench-") as temp:
        root = Path(temp)
        downloads, home, config = root / "Downloads", root / "home", root / "config.toml"
        downloads.mkdir()
        config.write_text(big_policy(0), encoding="utf-8")
        keeper = PolicyKeeper(config, None)
        service = AgentService(keeper, watch_override=[str(downloads)], home=home)
        if inline:  # the old behaviour: read and validate on the worker
            service._check_policy = lambda: keeper.reload_if_changed()  # type: ignore[method-assign]
        service.start()
        stop = threading.Event()

        def churn() -> None:
            version = 0
            while not stop.wait(REWRITE_SECONDS):
                version += 1
                config.write_text(big_policy(version), encoding="utf-8")

        writer = threading.Thread(target=churn, daemon=True)
        writer.start()
        latencies: list[float] = []
        try:
            for index in range(files):
                target = downloads / f"photo-{index}.jpg"
                target.write_bytes(make_jpeg(index))
                written = time.time()

                def verdict(path: Path = target) -> dict[str, object] | None:
                    found = [e for e in read_events(home) if e.get("event") == "verdict"]
                    return next((e for e in found if e.get("path") == str(path)), None)

                event = wait_for(verdict, VERDICT_TIMEOUT_SECONDS, target.name)
                when = dt.datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
                latencies.append(when.timestamp() - written)
                time.sleep(FILE_GAP_SECONDS)
        finally:
            stop.set()
            writer.join()
            service.stop()
        return latencies


def main(argv: list[str] | None = None) -> int:
    """Print p50 / max verdict latency under policy churn."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inline", action="store_true", help="validate on the worker (old)")
    parser.add_argument("--files", type=int, default=FILES)
    args = parser.parse_args(argv)
    size_mb = len(big_policy(0).encode()) / 1024**2
    latencies = run(args.inline, args.files)
    mode = "inline (old)" if args.inline else "policy thread"
    print(
        f"{mode}: {size_mb:.1f} MB policy rewritten every {REWRITE_SECONDS} s; "
        f"{len(latencies)} files: p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
