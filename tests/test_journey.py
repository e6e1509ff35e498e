"""The front-desk journey, end to end, as a receptionist lives it (issue 10).

A real desktop under Xvfb: a tray host (trayer), a private session D-Bus with a real
notification daemon (dunst), and the real agent in tray mode (gtk backend). A
booby-trapped file lands in Downloads → the notification reaches the daemon (read back
with dbus-monitor) → a click on the tray icon opens the review window on it → Restore →
the file stays in place 10 s and across an agent restart → the audit events are there.
Screenshots of every step go to test-artifacts/journey-*.png.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.service.statedb import RELEASED_ACTION, StateDB
from agent.vault.store import Vault
from tests.agent_harness import make_pe_bytes, read_events
from tests.gui_support import (
    REPO_ROOT,
    NotificationLog,
    background,
    desktop,
    find_windows,
    press,
    screenshot,
    tray_host_command,
    wait_for_window,
    wait_for_window_gone,
    wait_until,
    xdotool,
)
from tests.test_tray_gui import _docked_icon, _tray_owned

pytestmark = pytest.mark.gui

STEP_TIMEOUT_SECONDS = 30.0  # generous: 2 cores shared by several test runs
STAYS_SECONDS = 10.0  # issue 10: the restored file stays in place this long (and longer)
POLICY = (
    '[policy]\nversion = "journey-1"\n\n[ui]\nallow_restore = true\n\n'
    "[watch]\nuse_default_folders = false\nsettle_seconds = 0.2\nsweep_interval_seconds = 1.0\n"
)
REVIEW_WINDOW = "caught files$"
AGENT_RUN = (sys.executable, "-m", "agent", "run")


class Agent:
    """`photogate run` in tray mode on the journey's desktop."""

    def __init__(self, env: Callable[..., dict[str, str]], home: Path, policy: Path, folder: Path):
        self.env, self.home, self.policy, self.folder = env, home, policy, folder
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.home.parent / "journey-agent-stderr.txt").open("ab") as stderr:
            self.process = subprocess.Popen(
                [*AGENT_RUN, "--config", str(self.policy), "--watch", str(self.folder)],
                env=self.env(PHOTOGATE_HOME=str(self.home)),
                cwd=REPO_ROOT,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STEP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def _released(home: Path, path: Path) -> bool:
    with StateDB(home / "state.sqlite3", readonly=True) as db:
        record = db.lookup(path)
    return record is not None and record.action == RELEASED_ACTION


def _activity(home: Path) -> tuple[int, bool]:
    """(sweeps done, idle) from the agent's status file: the signal that it has looked."""
    try:
        activity = json.loads((home / "run" / "status.json").read_text())["activity"]
    except (OSError, ValueError, KeyError):
        return -1, False  # not written yet, or caught mid-replace
    return int(activity["sweeps"]), bool(activity["idle"])


def _swept_twice_more(home: Path) -> Callable[[], bool]:
    """A condition: two more sweeps are done and nothing waits (so each file was looked at)."""
    first, _ = _activity(home)

    def done() -> bool:
        sweeps, idle = _activity(home)
        return first >= 0 and sweeps >= first + 2 and idle

    return done


def _events(home: Path, kind: str, **match: Any) -> list[dict[str, Any]]:
    return [
        e
        for e in read_events(home)
        if e["event"] == kind and all(e.get(k) == v for k, v in match.items())
    ]


def test_catch_tell_review_release_and_it_is_on_record(
    photogate_home: Path, tmp_path: Path
) -> None:
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    target = downloads / "lab_results.jpg"
    payload = make_pe_bytes(42)
    with desktop(tmp_path) as desk:
        display = str(desk["display"])
        env: Callable[..., dict[str, str]] = desk["env"]  # type: ignore[assignment]
        notifications: NotificationLog = desk["notifications"]  # type: ignore[assignment]
        with background(tray_host_command(), env()):
            wait_until(lambda: _tray_owned(display), STEP_TIMEOUT_SECONDS, "the tray host")
            agent = Agent(env, photogate_home, policy, downloads)
            agent.start()
            try:
                wait_until(
                    lambda: (
                        bool(find_windows(display, "Watching 1 folder"))
                        and _docked_icon(display) is not None
                    ),
                    STEP_TIMEOUT_SECONDS,
                    "the icon, docked and watching",
                )
                screenshot(display, "journey-1-watching")

                # 1. A booby-trapped file arrives: the notification reaches the daemon.
                target.write_bytes(payload)
                wait_until(
                    lambda: bool(notifications.received()),
                    STEP_TIMEOUT_SECONDS,
                    "the notification",
                )
                ((summary, body),) = notifications.received()
                assert summary == "Photogate moved a dangerous file to safety"
                assert body.startswith("lab_results.jpg: ") and "Windows program" in body
                assert not target.exists()
                (item,) = Vault(photogate_home / "vault").items()
                time.sleep(0.5)  # let dunst draw it for the picture
                screenshot(display, "journey-2-notification")

                # 2. A click on the tray icon opens the review window on it (newest first).
                x, y = _docked_icon(display) or (0, 0)
                xdotool(display, "mousemove", str(x), str(y), "click", "1")
                window = wait_for_window(display, REVIEW_WINDOW)
                time.sleep(0.8)
                screenshot(display, "journey-3-review-window")

                # 3. Restore: confirm (No is the default, so Alt+Y), read what happened.
                press(display, window, "alt+r")
                dialog = wait_for_window(display, "Restore file")
                time.sleep(0.3)
                screenshot(display, "journey-4-restore-question")
                press(display, dialog, "alt+y")
                wait_for_window_gone(display, "Restore file")
                message = wait_for_window(display, "File restored")
                time.sleep(0.3)
                screenshot(display, "journey-5-restored")
                press(display, message, "Return")
                assert target.read_bytes() == payload

                # 4. It stays: the agent records the release and leaves it there 10 s.
                wait_until(
                    lambda: _released(photogate_home, target),
                    STEP_TIMEOUT_SECONDS,
                    "the agent to honour the release",
                )
                looked = _swept_twice_more(photogate_home)
                deadline = time.monotonic() + STAYS_SECONDS
                while time.monotonic() < deadline:  # sweeps run every second meanwhile
                    assert target.read_bytes() == payload
                    time.sleep(0.2)
                wait_until(looked, STEP_TIMEOUT_SECONDS, "the sweeps while the file stayed")
                assert target.read_bytes() == payload
                press(display, window, "Escape")
                wait_for_window_gone(display, REVIEW_WINDOW)
                assert agent.stop() == 0

                # 5. ...and across a restart (the startup sweep sees it again).
                agent.start()
                wait_until(
                    lambda: _docked_icon(display) is not None,
                    STEP_TIMEOUT_SECONDS,
                    "the icon after the restart",
                )
                sentinel = downloads / "later.jpg"
                sentinel.write_bytes(make_pe_bytes(43))
                wait_until(
                    lambda: bool(_events(photogate_home, "verdict", path=str(sentinel))),
                    STEP_TIMEOUT_SECONDS,
                    "the restarted agent to be at work",
                )
                wait_until(
                    _swept_twice_more(photogate_home),
                    STEP_TIMEOUT_SECONDS,
                    "two more sweeps of the folder after the restart",
                )
                assert target.read_bytes() == payload
                screenshot(display, "journey-6-after-restart")
            except BaseException:
                screenshot(display, "journey-failure")  # what the screen showed when it failed
                raise
            finally:
                with contextlib.suppress(Exception):
                    agent.stop()

    # 6. On record: the catch, the window, the restore (who, what, which policy).
    (caught,) = _events(photogate_home, "verdict", path=str(target))
    assert caught["action"] == "quarantine" and caught["item_id"] == item.id
    (opened,) = _events(photogate_home, "review_opened")
    assert opened["via"] == "review_window" and opened["policy_version"] == "journey-1"
    (restored,) = _events(photogate_home, "restored")
    assert restored["item_id"] == item.id and restored["sha256"] == item.sha256
    assert restored["path"] == str(target) and restored["released"] is True
    assert restored["via"] == "review_window" and restored["policy_version"] == "journey-1"
    assert restored["user"] == caught["user"]
    assert len(_events(photogate_home, "agent_started")) == 2
    assert len(_events(photogate_home, "agent_stopped")) == 2
    err = (tmp_path / "journey-agent-stderr.txt").read_text(errors="replace")
    assert "Traceback" not in err, err
