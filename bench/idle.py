"""Idle cost of the agent: start-to-watching time, CPU% and resident memory.

Starts a real headless agent watching 4 folders on a private home, measures how long it
takes until the status file says every folder is watched, then samples the process's
CPU time and RSS over a quiet period (60 s by default).

    .venv/bin/python bench/idle.py [--seconds 60]

Targets (issue 3): start to watching <= 2 s, CPU <= 0.5% over 60 s, RSS <= 80 MB.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.agent_harness import AgentProcess


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="idle sampling period")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="photogate-idle-") as temp:
        root = Path(temp)
        watched = [root / name for name in ("Downloads", "Outlook", "Olk", "pid-1234")]
        for folder in watched:
            folder.mkdir()
            for index in range(50):  # a lived-in Downloads folder, judged at the startup sweep
                (folder / f"old-{index}.txt").write_text("x" * 100)
        config = root / "config.toml"
        config.write_text(
            '[policy]\nversion = "bench"\n[watch]\nuse_default_folders = false\n',
            encoding="utf-8",
        )
        agent = AgentProcess(root / "home", watched, config)
        started = time.monotonic()
        agent.start()
        start_to_watching = agent.ready_at - started
        assert agent.process is not None
        process = psutil.Process(agent.process.pid)
        time.sleep(3.0)  # let the startup sweep finish before measuring "idle"
        cpu_before = sum(process.cpu_times()[:2])
        wall_before = time.monotonic()
        peak_rss = 0
        while time.monotonic() - wall_before < args.seconds:
            peak_rss = max(peak_rss, process.memory_info().rss)
            time.sleep(1.0)
        cpu_seconds = sum(process.cpu_times()[:2]) - cpu_before
        wall = time.monotonic() - wall_before
        threads = process.num_threads()
        agent.stop()
    print(f"start to watching 4 folders: {start_to_watching:6.2f} s   (target <= 2 s)")
    print(
        f"idle CPU over {wall:5.1f} s:      {100 * cpu_seconds / wall:6.3f} %   (target <= 0.5 %)"
    )
    print(f"peak resident memory:        {peak_rss / 1024 / 1024:6.1f} MB  (target <= 80 MB)")
    print(f"threads:                     {threads}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
