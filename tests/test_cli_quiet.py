"""The CLI around people and pipes: quiet on a closed pipe, honest when no agent runs.

Also: the agent never judges its own temporary files, and `status` believes an agent
only while its worker thread reports a fresh heartbeat.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
from pathlib import Path

from agent.sanitize.parent import TEMP_PREFIX
from agent.service import local_status, loop
from agent.service.pipeline import OWN_TEMP_PATTERNS, Scope
from agent.vault.restore import RESTORE_TEMP_PREFIX
from tests.agent_harness import PYTHON, REPO_ROOT, agent_env, make_pe_bytes

EXIT_NOT_RUNNING = 3


def _run_into_closed_pipe(home: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run `photogate ARGS` with stdout a pipe whose reader has already gone (like `| head`)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [str(PYTHON), "-m", "agent", *args],
            env=agent_env(home),
            cwd=REPO_ROOT,
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)


def test_a_closed_pipe_ends_the_cli_quietly(photogate_home: Path, tmp_path: Path) -> None:
    from agent.vault.store import Vault

    sample = tmp_path / "x.jpg"
    sample.write_bytes(make_pe_bytes(1))
    Vault(photogate_home / "vault").quarantine(sample, [], detected_type="pe", policy_version="t")
    for args in (("quarantine", "list"), ("status",), ("quarantine", "list", "--json")):
        done = _run_into_closed_pipe(photogate_home, *args)
        assert done.stderr == b"", (args, done.stderr.decode(errors="replace"))
        assert done.returncode == 141, args


def test_status_without_an_agent_says_not_running_and_nothing_else(photogate_home: Path) -> None:
    text = subprocess.run(
        [str(PYTHON), "-m", "agent", "status"],
        env=agent_env(photogate_home),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert text.returncode == EXIT_NOT_RUNNING
    assert text.stdout == f"Photogate agent: not running (per-user mode, home {photogate_home})\n"
    as_json = subprocess.run(
        [str(PYTHON), "-m", "agent", "status", "--json"],
        env=agent_env(photogate_home),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert json.loads(as_json.stdout) == {
        "running": False,
        "home": str(photogate_home),
        "mode": "per-user",
    }


def test_status_believes_only_a_fresh_worker_heartbeat() -> None:
    now = 1_000_000.0
    assert local_status.worker_problem({"worker_heartbeat": now - 1.0}, now) is None
    stale = local_status.worker_problem({"worker_heartbeat": now - 16.0}, now)
    assert stale == "the agent's worker has not been heard from for 16 s"
    assert local_status.worker_problem({}, now) == "the agent does not report a worker heartbeat"
    died = {"worker_heartbeat": now, "fatal_problem": "Protection stopped (x)"}
    assert local_status.worker_problem(died, now) == "Protection stopped (x)"
    assert local_status.HEARTBEAT_STALE_SECONDS == loop.HEARTBEAT_STALE_SECONDS


def test_the_agent_never_judges_its_own_temporary_files() -> None:
    scope = Scope(roots=(Path("/d"),), excluded=(), ignore_patterns=())
    for own in (f"{TEMP_PREFIX}k2j3h4", f"{RESTORE_TEMP_PREFIX}0123abcd-ff00.tmp"):
        assert any(fnmatch.fnmatchcase(own, pattern) for pattern in OWN_TEMP_PATTERNS)
        assert scope.is_ignored_name((own,))
    assert not scope.is_ignored_name(("sanitizing-notes.jpg",))
    assert not scope.is_ignored_name(("photo (safe copy).jpg",))


UNREACHABLE_DISPLAY = ":987"  # no X server listens there in the test environment


def test_review_without_a_screen_says_so_in_one_sentence(photogate_home: Path) -> None:
    env = agent_env(photogate_home)
    env["DISPLAY"] = UNREACHABLE_DISPLAY
    done = subprocess.run(
        [str(PYTHON), "-m", "agent", "review"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "photogate: There is no screen to show the review window on (the display"
        f" DISPLAY={UNREACHABLE_DISPLAY} cannot be reached); use `photogate quarantine list`"
        " instead.\n"
    )


def test_run_without_a_reachable_screen_goes_headless_with_one_line(
    photogate_home: Path, tmp_path: Path
) -> None:
    import signal

    from tests.agent_harness import wait_for

    downloads = tmp_path / "dl"
    downloads.mkdir()
    env = agent_env(photogate_home)
    env["DISPLAY"] = UNREACHABLE_DISPLAY
    agent = subprocess.Popen(
        [str(PYTHON), "-m", "agent", "run", "--watch", str(downloads)],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    status = photogate_home / "run" / "status.json"
    try:
        wait_for(status.exists, 20, "the headless agent to start")
    finally:
        agent.send_signal(signal.SIGTERM)
        _out, err = agent.communicate(timeout=20)
    assert agent.returncode == 0
    text = err.decode(errors="replace")
    assert "Traceback" not in text and "Xlib" not in text
    lines = [line for line in text.splitlines() if "no screen" in line]
    assert len(lines) == 1
    assert lines[0].endswith(
        f"no screen (the display DISPLAY={UNREACHABLE_DISPLAY} cannot be reached): running headless"
    )
