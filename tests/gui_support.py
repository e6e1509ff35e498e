"""Helpers for the GUI tests: a private Xvfb display, a tray manager, xdotool, screenshots.

The tests start everything themselves and FAIL (never skip) when a tool is missing:
run scripts/gui-deps.sh to install them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image, ImageGrab

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "test-artifacts"
SCREEN = "1280x800x24"
START_TIMEOUT_SECONDS = 15.0
POLL_SECONDS = 0.1


def require_tool(name: str) -> str:
    """The tool's path; fails the test with the fix when it is not installed."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run scripts/gui-deps.sh (Debian) first")
    return found


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `check` until true; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(POLL_SECONDS)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


@contextmanager
def xvfb() -> Iterator[str]:
    """Start Xvfb on a free display (it picks one and tells us); yields ":N"."""
    binary = require_tool("Xvfb")
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        [binary, "-displayfd", str(write_fd), "-screen", "0", SCREEN, "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        number = b""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            chunk = os.read(read_fd, 16)
            if not chunk:
                break
            number += chunk
        if not number.strip().isdigit():
            pytest.fail("Xvfb did not start (no display number reported)")
        yield f":{number.strip().decode()}"
    finally:
        os.close(read_fd)
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def gui_env(display: str, **extra: str) -> dict[str, str]:
    """The environment for a process on `display` (no session bus, no real home)."""
    env = dict(os.environ)
    env.pop("WAYLAND_DISPLAY", None)
    env["DISPLAY"] = display
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra)
    return env


def xdotool(display: str, *args: str) -> str:
    """Run xdotool on `display`; returns its output (fails the test on error)."""
    binary = require_tool("xdotool")
    done = subprocess.run(
        [binary, *args], env=gui_env(display), capture_output=True, text=True, timeout=20
    )
    if done.returncode != 0 and args[0] != "search":
        pytest.fail(f"xdotool {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def find_windows(display: str, name: str) -> list[str]:
    """Ids of visible windows whose title matches `name` (a regex)."""
    out = xdotool(display, "search", "--onlyvisible", "--name", name)
    return [line for line in out.splitlines() if line.strip()]


def wait_for_window(display: str, name: str, timeout: float = START_TIMEOUT_SECONDS) -> str:
    """The id of the first visible window titled `name`, waiting for it to appear."""
    found: list[str] = []

    def appeared() -> bool:
        found[:] = find_windows(display, name)
        return bool(found)

    wait_until(appeared, timeout, f"a window named {name!r}")
    return found[0]


def wait_for_window_gone(display: str, name: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
    """Wait until no visible window is titled `name`."""
    wait_until(lambda: not find_windows(display, name), timeout, f"{name!r} to close")


def press(display: str, window: str, *keys: str) -> None:
    """Focus `window` and press `keys` one after the other, like a person would."""
    xdotool(display, "windowfocus", "--sync", window)
    for key in keys:
        xdotool(display, "key", "--clearmodifiers", key)
        time.sleep(0.15)  # let Tk process each key before the next


def screenshot(
    display: str, name: str, box: tuple[int, int, int, int] | None = None, zoom: int = 1
) -> Path:
    """Save the screen (or `box` of it, enlarged `zoom` times) as test-artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    image = ImageGrab.grab(xdisplay=display)
    if box is not None:
        image = image.crop(box)
    if zoom != 1:
        image = image.resize((image.width * zoom, image.height * zoom), Image.Resampling.NEAREST)
    image.save(path)
    return path


# --- a real desktop: tray host, session bus, notification daemon -----------------------

DUNST_CONFIG = """\
[global]
    mouse_left_click = do_action, close_current
    origin = top-right
    offset = 10x60
    width = 420
    idle_threshold = 0
    show_indicators = no
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
"""


def tray_host_command() -> list[str]:
    """A real XEmbed tray host: stalonetray where available (older Debian), else trayer."""
    if shutil.which("stalonetray"):
        return ["stalonetray", "--geometry", "4x1+1000+0", "--icon-size", "32", "-bg", "#d0d0d0"]
    trayer = require_tool("trayer")
    return [trayer, "--edge", "top", "--align", "right", "--height", "32", "--widthtype", "request"]


@contextmanager
def background(command: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` for the duration of the block (terminated, then killed, after)."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def session_bus() -> Iterator[str]:
    """A private session D-Bus (dbus-daemon --session); yields its address."""
    binary = require_tool("dbus-daemon")
    process = subprocess.Popen(
        [binary, "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        address = process.stdout.readline().decode().strip()
        if not address.startswith("unix:"):
            pytest.fail(f"dbus-daemon did not report an address ({address!r})")
        yield address
    finally:
        process.terminate()
        process.wait(timeout=5)


class NotificationLog:
    """Notifications as the daemon receives them, read back with dbus-monitor."""

    def __init__(self, bus: str, log_path: Path) -> None:
        self.log_path = log_path
        self._handle = log_path.open("wb")
        self.process = subprocess.Popen(
            [
                require_tool("dbus-monitor"),
                "--address",
                bus,
                "interface='org.freedesktop.Notifications',member='Notify'",
            ],
            stdout=self._handle,
            stderr=subprocess.DEVNULL,
        )

    def received(self) -> list[tuple[str, str]]:
        """(summary, body) of every Notify call seen so far."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        found = []
        for block in text.split("method call")[1:]:
            if "member=Notify" not in block.splitlines()[0]:
                continue
            strings = [
                line.strip()[len('string "') : -1]
                for line in block.splitlines()[1:]
                if line.strip().startswith('string "')
            ]
            if len(strings) >= 4:  # app name, icon, summary, body (then the actions)
                found.append((strings[2], strings[3]))
        return found

    def close(self) -> None:
        """Stop monitoring."""
        self.process.terminate()
        self.process.wait(timeout=5)
        self._handle.close()


def _name_has_owner(bus: str, name: str) -> bool:
    done = subprocess.run(
        [
            require_tool("dbus-send"),
            f"--bus={bus}",
            "--dest=org.freedesktop.DBus",
            "--print-reply",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            f"string:{name}",
        ],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return "boolean true" in done.stdout


@contextmanager
def desktop(tmp_path: Path) -> Iterator[dict[str, object]]:
    """Xvfb + a session bus + dunst + a notification monitor; the tray host is separate.

    Yields {"display", "bus", "notifications", "env"}: `env(**extra)` is the
    environment for a process in this desktop.
    """
    require_tool("dunst")
    config = tmp_path / "dunstrc"
    config.write_text(DUNST_CONFIG)
    with xvfb() as display, session_bus() as bus:

        def env(**extra: str) -> dict[str, str]:
            return gui_env(display, DBUS_SESSION_BUS_ADDRESS=bus, **extra)

        notifications = NotificationLog(bus, tmp_path / "notifications.log")
        try:
            with background(["dunst", "-config", str(config)], env()):
                wait_until(
                    lambda: _name_has_owner(bus, "org.freedesktop.Notifications"),
                    START_TIMEOUT_SECONDS,
                    "the notification daemon on the session bus",
                )
                yield {"display": display, "bus": bus, "notifications": notifications, "env": env}
        finally:
            notifications.close()
