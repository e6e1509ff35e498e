"""The real tray icon on Linux: pystray's gtk backend in a real tray host under Xvfb.

`photogate run` docks its icon in trayer (XEmbed); a left click opens the review window,
a right click the menu; a booby-trapped file is quarantined, the icon says so, and the
freedesktop notification daemon (dunst on a private session bus) receives the file's
safe name and the reason; a click on that notification opens the window on the item.
A tray host that starts after the agent (a login race) gets the icon within 5 s.
Screenshots of each step go to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from Xlib import display as xdisplay

from agent.vault.store import Vault
from tests.gui_support import (
    REPO_ROOT,
    NotificationLog,
    background,
    desktop,
    find_windows,
    require_tool,
    screenshot,
    tray_host_command,
    wait_until,
    xdotool,
)

pytestmark = pytest.mark.gui

STEP_TIMEOUT_SECONDS = 20.0
LATE_HOST_DOCK_SECONDS = 5.0  # issue 10: the icon docks within 5 s of a tray host appearing
TRAY_SELECTION = "_NET_SYSTEM_TRAY_S0"
TRAY_CORNER = (1080, 0, 1280, 48)  # the tray host sits in the top-right corner
REVIEW_WINDOW = "caught files$"
MENU_MIN_WIDTH_PX = 150  # the popup menu holds "Review quarantined files…": wider than this
POLICY = "[watch]\nuse_default_folders = false\nsettle_seconds = 0.2\n"


def _tray_owned(display_name: str) -> bool:
    connection = xdisplay.Display(display_name)
    try:
        owner = connection.get_selection_owner(connection.intern_atom(TRAY_SELECTION))
        return bool(owner) and getattr(owner, "id", owner) != 0
    finally:
        connection.close()


def _docked_icon(display: str) -> tuple[int, int] | None:
    """The centre of the agent's icon when it is embedded in the tray host, else None."""
    for window in find_windows(display, "^Photogate"):
        out = subprocess.run(
            [require_tool("xwininfo"), "-id", window],
            capture_output=True,
            text=True,
            check=False,
            env={"DISPLAY": display},
        ).stdout
        fields = dict(
            line.strip().split(":", 1) for line in out.splitlines() if ":" in line.strip()
        )
        try:
            x, y = int(fields["Absolute upper-left X"]), int(fields["Absolute upper-left Y"])
            width, height = int(fields["Width"]), int(fields["Height"])
        except (KeyError, ValueError):
            continue
        if "IsViewable" in out and x >= 0 and y >= 0 and width > 4:
            return x + width // 2, y + height // 2
    return None


def _visible_windows(display: str) -> list[str]:
    return xdotool(display, "search", "--onlyvisible", "--name", "").split()


def _width(display: str, window: str) -> int:
    geometry = xdotool(display, "getwindowgeometry", window)
    try:
        return int(geometry.split("Geometry: ")[1].split("x")[0])
    except (IndexError, ValueError):
        return 0


def _start_agent(env: Callable[..., dict[str, str]], home: Path, policy: Path, folder: Path) -> Any:
    # stderr to a file: the review windows the agent starts inherit it and may outlive it.
    with (home.parent / "agent-stderr.txt").open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "agent", "run", "--config", str(policy), "--watch", str(folder)],
            env=env(PHOTOGATE_HOME=str(home)),
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def _stop_agent(agent: subprocess.Popen[bytes], home: Path) -> bytes:
    import psutil

    children = psutil.Process(agent.pid).children(recursive=True) if agent.poll() is None else []
    if agent.poll() is None:
        agent.send_signal(signal.SIGTERM)
    try:
        agent.wait(timeout=STEP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        agent.kill()
        agent.wait()
    for child in children:  # the review windows it opened
        with contextlib.suppress(psutil.Error):
            child.terminate()
    return (home.parent / "agent-stderr.txt").read_bytes()


@contextlib.contextmanager
def _running_agent(
    env: Callable[..., dict[str, str]], home: Path, policy: Path, folder: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """The agent for a `with` block; stopped after it, it must exit 0 with no traceback."""
    agent = _start_agent(env, home, policy, folder)
    try:
        yield agent
    finally:
        err = _stop_agent(agent, home)
    assert agent.returncode == 0
    assert b"Traceback" not in err, err.decode(errors="replace")


def _folder_and_policy(tmp_path: Path) -> tuple[Path, Path]:
    """A watched Downloads folder and the tests' policy file."""
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    return downloads, policy


def _review_processes(agent_pid: int) -> list[int]:
    import psutil

    children = psutil.Process(agent_pid).children()
    return [child.pid for child in children if "review" in child.cmdline()]


def _pe_bytes() -> bytes:
    header = bytearray(512)
    header[0:2] = b"MZ"
    header[0x3C:0x40] = (0x80).to_bytes(4, "little")
    header[0x80:0x84] = b"PE\0\0"
    return bytes(header) + b"\x90" * 256


def test_gtk_tray_clicks_menu_and_notifications(photogate_home: Path, tmp_path: Path) -> None:
    downloads, policy = _folder_and_policy(tmp_path)
    with desktop(tmp_path) as desk:
        display = str(desk["display"])
        env: Callable[..., dict[str, str]] = desk["env"]  # type: ignore[assignment]
        notifications: NotificationLog = desk["notifications"]  # type: ignore[assignment]
        with background(tray_host_command(), env()):
            wait_until(lambda: _tray_owned(display), STEP_TIMEOUT_SECONDS, "the tray host")
            with _running_agent(env, photogate_home, policy, downloads) as agent:
                wait_until(
                    lambda: _docked_icon(display) is not None,
                    STEP_TIMEOUT_SECONDS,
                    "the icon in the tray",
                )
                wait_until(
                    lambda: bool(find_windows(display, "Watching 1 folder")),
                    STEP_TIMEOUT_SECONDS,
                    "the icon to say it is watching",
                )
                screenshot(display, "tray-gtk-watching", box=TRAY_CORNER, zoom=3)

                # Right click: the menu, drawn by GTK (a popup window with our entries).
                x, y = _docked_icon(display) or (0, 0)
                before = set(_visible_windows(display))
                xdotool(display, "mousemove", str(x), str(y), "click", "3")
                wait_until(
                    lambda: any(
                        _width(display, window) >= MENU_MIN_WIDTH_PX
                        for window in set(_visible_windows(display)) - before
                    ),
                    STEP_TIMEOUT_SECONDS,
                    "the menu to pop up",
                )
                time.sleep(0.5)  # let GTK draw the menu before the picture is taken
                screenshot(display, "tray-gtk-menu", box=(800, 0, 1280, 320))
                xdotool(display, "key", "Escape")

                # A Windows program disguised with RLO: quarantined, notified, badge shown.
                disguised = "invoice_\u202egpj.exe"
                (downloads / disguised).write_bytes(_pe_bytes())
                wait_until(
                    lambda: bool(notifications.received()),
                    STEP_TIMEOUT_SECONDS,
                    "the notification at the daemon",
                )
                ((summary, body),) = notifications.received()
                assert summary == "Photogate moved a dangerous file to safety"
                assert body.startswith("invoice_\\u202egpj.exe: ")  # the safe name, escaped
                assert "\u202e" not in body
                assert "reverses text" in body  # the reason in plain words
                wait_until(
                    lambda: bool(find_windows(display, "1 file to review")),
                    STEP_TIMEOUT_SECONDS,
                    "the icon to show one file to review",
                )
                assert _docked_icon(display) is not None  # still docked after the change
                screenshot(display, "tray-gtk-notification")
                (item,) = Vault(photogate_home / "vault").items()

                # A click on the notification opens the window on that item.
                xdotool(display, "mousemove", "1100", "100", "click", "1")
                wait_until(
                    lambda: any(
                        item.id in " ".join(__import__("psutil").Process(pid).cmdline())
                        for pid in _review_processes(agent.pid)
                    ),
                    STEP_TIMEOUT_SECONDS,
                    "the review window on the notified item",
                )
                wait_until(
                    lambda: bool(find_windows(display, REVIEW_WINDOW)),
                    STEP_TIMEOUT_SECONDS,
                    "the review window",
                )
                screenshot(display, "tray-gtk-review-from-notification")
                for pid in _review_processes(agent.pid):
                    __import__("os").kill(pid, signal.SIGTERM)
                wait_until(
                    lambda: not find_windows(display, REVIEW_WINDOW),
                    STEP_TIMEOUT_SECONDS,
                    "the window to close",
                )

                # A left click on the icon opens the review window.
                x, y = _docked_icon(display) or (0, 0)
                xdotool(display, "mousemove", str(x), str(y), "click", "1")
                wait_until(
                    lambda: bool(find_windows(display, REVIEW_WINDOW)),
                    STEP_TIMEOUT_SECONDS,
                    "the review window after a left click",
                )


def test_icon_docks_when_the_tray_host_starts_late(photogate_home: Path, tmp_path: Path) -> None:
    downloads, policy = _folder_and_policy(tmp_path)
    with desktop(tmp_path) as desk:
        display = str(desk["display"])
        env: Callable[..., dict[str, str]] = desk["env"]  # type: ignore[assignment]
        with _running_agent(env, photogate_home, policy, downloads):
            status = photogate_home / "run" / "status.json"
            wait_until(status.exists, STEP_TIMEOUT_SECONDS, "the agent to start")
            assert _docked_icon(display) is None  # no tray host yet
            with background(tray_host_command(), env()):
                wait_until(lambda: _tray_owned(display), STEP_TIMEOUT_SECONDS, "the tray host")
                wait_until(
                    lambda: _docked_icon(display) is not None,
                    LATE_HOST_DOCK_SECONDS,
                    "the icon to dock into the late tray host",
                )
                # Three quarantines later the icon is still a whole icon in the tray.
                for index in range(3):
                    (downloads / f"scan{index}.jpg").write_bytes(_pe_bytes() + bytes([index]))
                wait_until(
                    lambda: bool(find_windows(display, "3 files to review")),
                    STEP_TIMEOUT_SECONDS,
                    "three files to review",
                )
                (window,) = find_windows(display, "3 files to review")
                geometry = xdotool(display, "getwindowgeometry", window)
                width = int(geometry.split("Geometry: ")[1].split("x")[0])
                assert width >= 16, geometry
                screenshot(display, "tray-gtk-late-host", box=TRAY_CORNER, zoom=3)


def test_xorg_fallback_docks_and_a_click_opens_review(photogate_home: Path, tmp_path: Path) -> None:
    """The last fallback (no PyGObject): no menu, but a click still opens the review window."""
    downloads, policy = _folder_and_policy(tmp_path)
    with desktop(tmp_path) as desk:
        display = str(desk["display"])
        env: Callable[..., dict[str, str]] = desk["env"]  # type: ignore[assignment]

        def xorg_env(**extra: str) -> dict[str, str]:
            return env(PYSTRAY_BACKEND="xorg", **extra)

        with background(tray_host_command(), env()):
            wait_until(lambda: _tray_owned(display), STEP_TIMEOUT_SECONDS, "the tray host")
            with _running_agent(xorg_env, photogate_home, policy, downloads):
                wait_until(
                    lambda: _docked_icon(display) is not None,
                    STEP_TIMEOUT_SECONDS,
                    "the xorg icon in the tray",
                )
                x, y = _docked_icon(display) or (0, 0)
                xdotool(display, "mousemove", str(x), str(y), "click", "1")
                wait_until(
                    lambda: bool(find_windows(display, REVIEW_WINDOW)),
                    STEP_TIMEOUT_SECONDS,
                    "the review window after a click on the xorg icon",
                )
                screenshot(display, "tray-xorg-click-opens-review")
