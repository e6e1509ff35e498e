"""CPU the agent spends on a deep folder tree made one `mkdir` at a time.

Issue 13: a 200-deep tree made one mkdir at a time cost 24 s of agent CPU before the file
at its bottom was caught (each new folder re-swept everything under it). The agent runs
in-process; the bench creates the chain level by level in a watched folder, writes a
trapped file at the bottom and reports the process CPU time (all threads) until its
verdict, for `--levels` and for twice as many (linear growth means about twice the cost).

    .venv/bin/python bench/deep_tree.py [--levels 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.policy.keeper import PolicyKeeper
from agent.service.loop import AgentService
from tests.agent_harness import make_pe_bytes, read_events

VERDICT_TIMEOUT_SECONDS = 300.0
POLICY = (
    '[policy]\nversion = "bench-deep"\n\n[watch]\nuse_default_folders = false\n'
    "settle_seconds = 0.3\nsweep_interval_seconds = 3600.0\n\n[ui]\nnotifications = false\n"
)


def run(levels: int) -> tuple[float, float]:
    """(agent CPU seconds, wall seconds) from the first mkdir to the bottom file's verdict."""
    work = Path(tempfile.mkdtemp(prefix="photogate-deep-"))
    try:
        downloads = work / "Downloads"
        downloads.mkdir()
        (work / "config.toml").write_text(POLICY, encoding="utf-8")
        home = work / "home"
        service = AgentService(
            PolicyKeeper(work / "config.toml", home / "p.toml"),
            watch_override=[str(downloads)],
            home=home,
        )
        service.start()
        try:
            cpu, wall = time.process_time(), time.monotonic()
            fd = os.open(downloads, os.O_RDONLY | os.O_DIRECTORY)
            for _ in range(levels):
                os.mkdir("d", dir_fd=fd)
                child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = child
            with open(os.open("bad.jpg", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as out:
                out.write(make_pe_bytes(1))
            os.close(fd)
            deadline = time.monotonic() + VERDICT_TIMEOUT_SECONDS
            while not any(e["event"] == "verdict" for e in read_events(home)):
                if time.monotonic() > deadline:
                    raise SystemExit("no verdict for the file at the bottom")
                time.sleep(0.05)
            return time.process_time() - cpu, time.monotonic() - wall
        finally:
            service.stop()
    finally:
        for depth in range(levels, -1, -1):  # bottom-up: shutil.rmtree recurses per level
            folder = downloads.joinpath(*(["d"] * depth))
            for entry in folder.iterdir() if folder.exists() else ():
                if not entry.is_dir():
                    entry.unlink()
            if folder.exists():
                folder.rmdir()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=200)
    args = parser.parse_args()
    for levels in (args.levels, 2 * args.levels):
        cpu, wall = run(levels)
        print(f"{levels:5} levels: agent CPU {cpu:.2f} s, {wall:.2f} s to the verdict", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
