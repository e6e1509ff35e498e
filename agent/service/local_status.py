"""The per-user agent's status as `photogate status` reads it: lock, status file, heartbeat.

"Running" means protecting: the agent's process holds the lock AND its worker thread
wrote a fresh heartbeat into the status file. A process whose worker died or hangs is
reported as not running, with why; with no agent, nothing that looks like a policy or a
count is reported, because none of it is being enforced.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

MAX_STATUS_FILE_BYTES = 1024 * 1024  # bytes: the status file is small; refuse a huge one
CPU_SAMPLE_SECONDS = 0.5  # seconds over which the agent's CPU use is measured
HEARTBEAT_STALE_SECONDS = 15.0  # = agent.service.loop.HEARTBEAT_STALE_SECONDS (a test checks)


def read_status_file(runtime_dir: Path) -> dict[str, Any] | None:
    """The agent's last status file, or None when missing or unreadable."""
    try:
        with (runtime_dir / "status.json").open("rb") as handle:
            untrusted_bytes = handle.read(MAX_STATUS_FILE_BYTES)
        untrusted_data = json.loads(untrusted_bytes)
    except (OSError, ValueError):
        return None
    return untrusted_data if isinstance(untrusted_data, dict) else None


def process_usage(pid: int) -> dict[str, float] | None:
    """CPU% (over a short sample) and resident memory (MB) of `pid`, or None."""
    import psutil

    try:
        process = psutil.Process(pid)
        cpu = process.cpu_percent(interval=CPU_SAMPLE_SECONDS)
        rss = process.memory_info().rss
    except (psutil.Error, OSError):
        return None
    return {"cpu_percent": round(cpu, 1), "rss_mb": round(rss / (1024 * 1024), 1)}


def worker_problem(untrusted_status: dict[str, Any], now: float) -> str | None:
    """Why an agent process is not protecting, from its status file; None when it is.

    "Running" means the worker thread wrote a fresh heartbeat: a process whose worker
    died or hangs holds the lock but inspects nothing.
    """
    from agent.textsafe import safe_text

    fatal = untrusted_status.get("fatal_problem")
    if fatal:
        return safe_text(str(fatal))
    heartbeat = untrusted_status.get("worker_heartbeat")
    if not isinstance(heartbeat, (int, float)) or isinstance(heartbeat, bool):
        return "the agent does not report a worker heartbeat"
    age = now - float(heartbeat)
    if age > HEARTBEAT_STALE_SECONDS:
        return f"the agent's worker has not been heard from for {age:.0f} s"
    updated = untrusted_status.get("updated")
    beats = untrusted_status.get("heartbeats")
    if isinstance(beats, dict) and isinstance(updated, (int, float)):
        for name, beat_age in sorted(beats.items()):
            if not isinstance(beat_age, (int, float)) or isinstance(beat_age, bool):
                continue
            silent = now - float(updated) + float(beat_age)
            if silent > HEARTBEAT_STALE_SECONDS:  # the supervisor's own beat for the thread
                return (
                    f"the agent's {safe_text(str(name))} thread has not answered for {silent:.0f} s"
                )
    return None


def collect_local_status(home: Path) -> dict[str, Any]:
    """The per-user agent of `home`: running?, its status file, its CPU and memory."""
    import psutil

    from agent.service.lock import is_locked, read_lock_pid

    runtime = home / "run"
    locked = is_locked(runtime)
    pid = read_lock_pid(runtime / "agent.lock") if locked else None
    alive = locked and pid is not None and psutil.pid_exists(pid)
    status = read_status_file(runtime) if alive else None
    problem = None if status is None else worker_problem(status, time.time())
    running = alive and status is not None and problem is None
    result: dict[str, Any] = {"running": running, "home": str(home)}
    if not running:
        # Nothing that looks like a policy or a count: none of it is being enforced.
        if alive:
            result["pid"] = pid
            result["problem"] = problem or "the agent has not reported its state yet"
        return result
    result["pid"] = pid
    if status is not None:
        for key in ("version", "started", "updated", "paused_until", "folders", "policy", "sinks"):
            result[key] = status.get(key)
        for key in ("activity", "heartbeats", "problem", "problems"):
            result[key] = status.get(key)
        result["counts"] = status.get("counts")
    if running and pid is not None:
        result["process"] = process_usage(pid)
    return result
