"""The real tray icon: `photogate run` under Xvfb with a tray manager (xorg backend).

The agent docks its icon in the tray; a booby-trapped file dropped into the watched
folder is quarantined and the icon's title changes to say a file needs review.
Screenshots of the tray go to test-artifacts/.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from Xlib import display as xdisplay

from tests.gui_support import (
    REPO_ROOT,
    find_windows,
    gui_env,
    require_tool,
    screenshot,
    wait_until,
    xvfb,
)

pytestmark = pytest.mark.gui

STEP_TIMEOUT_SECONDS = 20.0
TRAY_SELECTION = "_NET_SYSTEM_TRAY_S0"
TRAY_CORNER = (1120, 0, 1280, 64)  # the tray manager sits in the top-right corner


def _tray_manager_command() -> list[str]:
    """stalonetray where available (older Debian), else trayer (bookworm)."""
    if shutil.which("stalonetray"):
        return ["stalonetray", "--geometry", "4x1+1000+0", "--icon-size", "48", "-bg", "#d0d0d0"]
    trayer = require_tool("trayer")
    return [trayer, "--edge", "top", "--align", "right", "--height", "48", "--widthtype", "request"]


def _tray_owned(display_name: str) -> bool:
    connection = xdisplay.Display(display_name)
    try:
        owner = connection.get_selection_owner(connection.intern_atom(TRAY_SELECTION))
        return bool(owner) and getattr(owner, "id", owner) != 0
    finally:
        connection.close()


def _viewable(display_name: str, window_id: str) -> bool:
    out = subprocess.run(
        [require_tool("xwininfo"), "-id", window_id],
        env=gui_env(display_name),
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return "IsViewable" in out


def test_tray_icon_docks_and_shows_files_to_review(photogate_home: Path, tmp_path: Path) -> None:
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    policy = tmp_path / "policy.toml"
    policy.write_text("[watch]\nuse_default_folders = false\nsettle_seconds = 0.2\n")
    with xvfb() as display:
        tray = subprocess.Popen(
            _tray_manager_command(),
            env=gui_env(display),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        agent = None
        try:
            wait_until(lambda: _tray_owned(display), STEP_TIMEOUT_SECONDS, "the tray manager")
            agent = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "agent",
                    "run",
                    "--config",
                    str(policy),
                    "--watch",
                    str(downloads),
                ],
                env=gui_env(display, PHOTOGATE_HOME=str(photogate_home), PYSTRAY_BACKEND="xorg"),
                cwd=REPO_ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            found: list[str] = []

            def icon_docked() -> bool:
                found[:] = find_windows(display, "^Photogate")
                return bool(found) and _viewable(display, found[0])

            wait_until(icon_docked, STEP_TIMEOUT_SECONDS, "the tray icon window")
            wait_until(
                lambda: bool(find_windows(display, "Watching 1 folder")),
                STEP_TIMEOUT_SECONDS,
                "the icon to say it is watching",
            )
            time.sleep(0.5)
            screenshot(display, "tray-watching")
            screenshot(display, "tray-watching-zoom", box=TRAY_CORNER, zoom=4)

            # A Windows program named like a photo: quarantined, and the icon says so.
            (downloads / "scan.jpg").write_bytes(b"MZ\x90\x00" + b"\x00" * 60 + b"PE\x00\x00" * 8)
            wait_until(
                lambda: bool(find_windows(display, "1 file to review")),
                STEP_TIMEOUT_SECONDS,
                "the icon to show one file to review",
            )
            time.sleep(0.5)
            screenshot(display, "tray-one-to-review")
            screenshot(display, "tray-one-to-review-zoom", box=TRAY_CORNER, zoom=4)
            assert not (downloads / "scan.jpg").exists()

            agent.send_signal(signal.SIGTERM)
            assert agent.wait(timeout=STEP_TIMEOUT_SECONDS) == 0
        finally:
            if agent is not None:
                if agent.poll() is None:
                    agent.kill()
                _out, err = agent.communicate()
                assert b"Traceback" not in err, err.decode(errors="replace")
            tray.terminate()
            tray.wait(timeout=5)
