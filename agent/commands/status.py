"""`photogate status`: is the agent running, what it watches, which policy, counts.

Exit codes: 0 when an agent is running (the protected service, or the per-user agent of
this PHOTOGATE_HOME), 3 when none is. The first line says which mode runs.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from agent.textsafe import safe_text

EXIT_NOT_RUNNING = 3


def register(subparsers: Any) -> None:
    """Add the `status` subcommand."""
    parser = subparsers.add_parser(
        "status",
        help="show whether the agent runs, what it watches and its policy",
        description="Show the agent's state. Exit code 0: running; 3: not running.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_handle)


def collect() -> dict[str, Any]:
    """Everything `photogate status` reports, as a dict (with "mode")."""
    from agent.service.client import (
        MODE_PROTECTED,
        ServiceUnavailable,
        open_backend,
        service_address,
    )

    try:
        backend = open_backend()
    except ServiceUnavailable as problem:
        # Installed but down: that is "not running", with the reason, not a crash.
        return {
            "running": False,
            "mode": MODE_PROTECTED,
            "home": service_address(),
            "pid": None,
            "problem": str(problem),
        }
    try:
        return backend.status()
    finally:
        backend.close()


def _print_text(info: dict[str, Any]) -> None:
    mode = str(info.get("mode", "per-user"))
    if not info["running"]:
        line = f"Photogate agent: not running ({mode} mode, home {safe_text(info['home'])})"
        if info.get("problem"):
            line += f"; {safe_text(str(info['problem']))}"
        print(line)
        return
    print(
        f"Photogate agent: running in {mode} mode"
        f" (pid {info['pid']}, home {safe_text(info['home'])})"
    )
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
    if policy.get("preferences_problem"):
        print(f"  preferences problem: {safe_text(str(policy['preferences_problem']))}")
    _print_sinks(info.get("sinks") or [])
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


def _print_sinks(sinks: list[dict[str, Any]]) -> None:
    """One line per event sink: delivering or not, last delivery, backlog, the problem."""
    for sink in sinks:
        target = safe_text(str(sink.get("target")))
        last = sink.get("last_delivery")
        when = (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(last)))
            if isinstance(last, (int, float))
            else "never"
        )
        backlog = int(sink.get("backlog") or 0)
        dropped = int(sink.get("dropped_total") or 0)
        tail = f", {dropped} dropped" if dropped else ""
        print(f"  events:   {target}: last delivery {when}, {backlog} waiting{tail}")
        if sink.get("problem"):
            print(f"  events problem: {target}: {safe_text(str(sink['problem']))}")


def _handle(args: argparse.Namespace) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, ensure_ascii=True, indent=1))
    else:
        _print_text(info)
    return 0 if info["running"] else EXIT_NOT_RUNNING
