"""`photogate status`: is the agent running, what it watches, which policy, counts.

Exit codes: 0 when an agent is running for this PHOTOGATE_HOME, 3 when none is.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from agent import paths
from agent.textsafe import safe_text

EXIT_NOT_RUNNING = 3
CPU_SAMPLE_SECONDS = 0.5  # seconds over which the agent's CPU use is measured
MAX_STATUS_FILE_BYTES = 1024 * 1024  # bytes: the status file is small; refuse a huge one
STATUS_FILE_NAME = "status.json"


def register(subparsers: Any) -> None:
    """Add the `status` subcommand."""
    parser = subparsers.add_parser(
        "status",
        help="show whether the agent runs, what it watches and its policy",
        description="Show the agent's state. Exit code 0: running; 3: not running.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_handle)


def read_status_file(runtime_dir: Path) -> dict[str, Any] | None:
    """The agent's last status file, or None when missing or unreadable."""
    try:
        with (runtime_dir / STATUS_FILE_NAME).open("rb") as handle:
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


def collect() -> dict[str, Any]:
    """Everything `photogate status` reports, as a dict."""
    import psutil

    from agent.service.lock import is_locked, read_lock_pid

    runtime = paths.runtime_dir()
    locked = is_locked(runtime)
    pid = read_lock_pid(runtime / "agent.lock") if locked else None
    running = locked and pid is not None and psutil.pid_exists(pid)
    result: dict[str, Any] = {"running": running, "home": str(paths.home()), "pid": pid}
    status = read_status_file(runtime) if running else None
    if status is not None:
        for key in ("version", "started", "updated", "paused_until", "folders", "policy"):
            result[key] = status.get(key)
        result["counts"] = status.get("counts")
    if running and pid is not None:
        result["process"] = process_usage(pid)
    return result


def _print_text(info: dict[str, Any]) -> None:
    if not info["running"]:
        print(f"Photogate agent: not running (home {safe_text(info['home'])})")
        return
    print(f"Photogate agent: running (pid {info['pid']}, home {safe_text(info['home'])})")
    started = info.get("started")
    if isinstance(started, (int, float)) and started:
        print(f"  started:  {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(started))}")
    if info.get("paused_until"):
        until = time.strftime("%H:%M", time.localtime(float(info["paused_until"])))
        print(f"  PAUSED until {until}")
    policy = info.get("policy") or {}
    version = safe_text(str(policy.get("version")))
    print(f"  policy:   {version} from {safe_text(str(policy.get('source')))}")
    if policy.get("problem"):
        print(f"  policy problem: {safe_text(str(policy['problem']))}")
    print("  folders:")
    for folder in info.get("folders") or []:
        # A folder that is not watched and has no problem is one that does not exist yet
        # (e.g. Thunderbird's /tmp/pid-* while Thunderbird is closed): nothing is wrong.
        if folder.get("watching"):
            state, problem = "watching", ""
        elif folder.get("problem"):
            state, problem = "NOT watching", f" ({safe_text(str(folder['problem']))})"
        else:
            state, problem = "waiting", " (does not exist yet; watched when it appears)"
        print(f"    {state:12} {safe_text(str(folder.get('path')))}{problem}")
    counts = info.get("counts") or {}
    print(
        "  files:    {inspected} inspected, {quarantined} quarantined, {flagged} flagged,"
        " {unreviewed} not yet reviewed".format(
            **{k: counts.get(k, 0) for k in ("inspected", "quarantined", "flagged", "unreviewed")}
        )
    )
    usage = info.get("process")
    if usage:
        print(f"  agent:    CPU {usage['cpu_percent']}%, memory {usage['rss_mb']} MB")


def _handle(args: argparse.Namespace) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, ensure_ascii=True, indent=1))
    else:
        _print_text(info)
    return 0 if info["running"] else EXIT_NOT_RUNNING
