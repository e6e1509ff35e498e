"""The tray never outlives protection: SIGTERM/SIGINT end `photogate run` every time.

100 tries of the real tray agent (gtk backend, docked in a real tray host under Xvfb),
each stopped 0-0.4 s after a booby-trapped file was dropped, so the signal lands before,
during and after the quarantine. Each try must end within 5 s (a bound, not a timing
assertion) with exit code 0, and leave no agent that `photogate status` believes in.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.agent_harness import PYTHON, make_pe_bytes, read_events
from tests.gui_support import REPO_ROOT, background, desktop, tray_host_command, wait_until

pytestmark = pytest.mark.gui

TRIES = 100
STOP_BOUND_SECONDS = 5.0  # issue 10: the process ends within 5 s of the signal, every time
START_TIMEOUT_SECONDS = 30.0
MAX_SIGNAL_DELAY_SECONDS = 0.4


def _started(status: Path, pid: int) -> bool:
    try:
        return json.loads(status.read_text()).get("pid") == pid
    except (OSError, ValueError):
        return False


def _one_try(attempt: int, delay: float, tmp_path: Path, policy: Path, env: Any) -> list[str]:
    """Start, drop a file, signal after `delay` s; what went wrong (empty when all is well)."""
    home = tmp_path / f"home{attempt}"
    downloads = tmp_path / f"dl{attempt}"
    downloads.mkdir()
    stderr_path = tmp_path / f"stderr{attempt}.txt"
    command = [sys.executable, "-m", "agent", "run", "--config", str(policy)]
    with stderr_path.open("wb") as stderr:
        agent = subprocess.Popen(
            [*command, "--watch", str(downloads)],
            env=env(PHOTOGATE_HOME=str(home)),
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    problems: list[str] = []
    try:
        wait_until(
            lambda: _started(home / "run" / "status.json", agent.pid),
            START_TIMEOUT_SECONDS,
            f"try {attempt}: the agent to start",
        )
        (downloads / "scan.jpg").write_bytes(make_pe_bytes(attempt))
        time.sleep(delay)
        signum = signal.SIGINT if attempt % 3 == 2 else signal.SIGTERM
        agent.send_signal(signum)
        try:
            code = agent.wait(timeout=STOP_BOUND_SECONDS)
        except subprocess.TimeoutExpired:
            return [f"try {attempt}: still running 5 s after {signum.name}"]
        if code != 0:
            problems.append(f"try {attempt}: exit code {code} after {signum.name}")
        err = stderr_path.read_text(errors="replace")
        if "Traceback" in err:
            problems.append(f"try {attempt}: traceback\n{err}")
        stopped = [e for e in read_events(home) if e["event"] == "agent_stopped"]
        if len(stopped) != 1:
            problems.append(f"try {attempt}: {len(stopped)} agent_stopped events")
        status = subprocess.run(
            [str(PYTHON), "-m", "agent", "status", "--json"],
            env=env(PHOTOGATE_HOME=str(home)),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if json.loads(status.stdout)["running"] is not False:
            problems.append(f"try {attempt}: status still says running")
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    return problems


@pytest.mark.timeout(TRIES * 20)
def test_signals_end_the_tray_agent_every_time(tmp_path: Path) -> None:
    rng = random.Random(10)
    policy = tmp_path / "policy.toml"
    policy.write_text("[watch]\nuse_default_folders = false\nsettle_seconds = 0.05\n")
    failures: list[str] = []
    with desktop(tmp_path) as desk:
        env = desk["env"]
        with background(tray_host_command(), env()):  # type: ignore[operator]
            for attempt in range(TRIES):
                delay = rng.uniform(0.0, MAX_SIGNAL_DELAY_SECONDS)
                failures += _one_try(attempt, delay, tmp_path, policy, env)
    assert failures == [], "\n".join(failures)
