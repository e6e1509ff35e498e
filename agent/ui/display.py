"""Is there a screen to draw on? Asked before any toolkit is loaded.

A stale `DISPLAY` (the X server is gone: a closed remote session, a dead Xvfb) made
pystray and tkinter end in an Xlib traceback. This checks the display the way a client
would, by connecting to it, within a short timeout, so `photogate run` can go headless
with one log line and `photogate review` can say in one sentence that there is no screen.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from pathlib import Path

CONNECT_TIMEOUT_SECONDS = 2.0  # a display that does not accept a connection within this is gone
X11_TCP_BASE_PORT = 6000  # display N listens on 6000 + N
X11_SOCKET_DIR = "/tmp/.X11-unix"  # noqa: S108  (fixed by the X server, not a temp file)
_DISPLAY = re.compile(r"^(?P<host>[^:]*):(?P<number>\d+)(?:\.\d+)?$")


def _x11_reachable(display: str) -> bool:
    if sys.platform == "win32":  # no AF_UNIX in Windows' socket module (mypy --platform win32)
        return False
    match = _DISPLAY.match(display)
    if match is None:
        return False
    host, number = match.group("host"), int(match.group("number"))
    try:
        if host in ("", "unix") or host.startswith("/"):
            path = f"{X11_SOCKET_DIR}/X{number}"
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(CONNECT_TIMEOUT_SECONDS)
                try:
                    sock.connect(path)
                    return True
                except OSError:
                    pass
            # Linux also has the abstract socket namespace (X servers listen on both).
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(CONNECT_TIMEOUT_SECONDS)
                sock.connect("\0" + path)
                return True
        with socket.create_connection(
            (host, X11_TCP_BASE_PORT + number), timeout=CONNECT_TIMEOUT_SECONDS
        ):
            return True
    except OSError:
        return False


def _wayland_reachable(name: str) -> bool:
    if sys.platform == "win32":
        return False
    path = Path(name)
    if not path.is_absolute():
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        if not runtime:
            return False
        path = Path(runtime) / name
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(CONNECT_TIMEOUT_SECONDS)
            sock.connect(str(path))
            return True
    except OSError:
        return False


def screen_problem() -> str | None:
    """None when a window or tray icon can be shown; else why not, in a few words."""
    if not sys.platform.startswith("linux"):
        return None  # Windows and macOS sessions always have their desktop
    display = os.environ.get("DISPLAY", "")
    wayland = os.environ.get("WAYLAND_DISPLAY", "")
    if not display and not wayland:
        return "DISPLAY and WAYLAND_DISPLAY are not set"
    if display and _x11_reachable(display):
        return None
    if wayland and _wayland_reachable(wayland):
        return None
    shown = f"DISPLAY={display}" if display else f"WAYLAND_DISPLAY={wayland}"
    return f"the display {shown} cannot be reached"
