"""Windows: let logoff, shutdown and installers close the tray cleanly.

pystray's win32 window procedure answers every message it has no handler for with 0
(pystray/_win32.py `_dispatcher`). For WM_QUERYENDSESSION, 0 means "do not end the
session", so Restart Manager (which Inno Setup uses to close running programs before an
upgrade) sees a program that refuses to close and the silent upgrade fails.

Microsoft, "Guidelines for Applications" (Restart Manager): a GUI application receives
WM_QUERYENDSESSION with ENDSESSION_CLOSEAPP in lParam and should return TRUE, then
WM_ENDSESSION (wParam TRUE) after which it must save its state and exit; WM_CLOSE asks a
window to close. The tray keeps no unsaved work (the state database and the vault journal
are crash-safe), so it always agrees and stops the agent on the way out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("photogate.tray")

WM_CLOSE = 0x0010
WM_QUERYENDSESSION = 0x0011
WM_ENDSESSION = 0x0016
ENDSESSION_CLOSEAPP = 0x00000001  # lParam bit: Restart Manager wants this program closed


def install_session_handlers(icon: Any, stop: Callable[[], None]) -> bool:
    """Teach a pystray win32 icon to answer the session messages; False on other backends.

    `stop` stops the agent and the icon; it runs on the icon's own (main) thread, inside
    the window procedure, which Windows allows for WM_ENDSESSION and WM_CLOSE.
    """
    # Only the win32 backend: pystray's xorg backend has a `_message_handlers` dict too, keyed
    # by X event types (16, 17, 22 are CreateNotify, DestroyNotify, ConfigureNotify there).
    if not type(icon).__module__.endswith("._win32"):
        return False
    handlers = getattr(icon, "_message_handlers", None)
    if not isinstance(handlers, dict):
        return False

    def query_end_session(wparam: int, lparam: int) -> int:
        del wparam
        log.info("Windows asks to end the session (close-app request: %s)", bool(lparam & 1))
        return 1  # TRUE: nothing unsaved, we can close now

    def end_session(wparam: int, lparam: int) -> int:
        del lparam
        if wparam:  # the session really ends (or Restart Manager closes us): stop now
            stop()
        return 0

    def close(wparam: int, lparam: int) -> int:
        del wparam, lparam
        stop()
        return 0

    handlers[WM_QUERYENDSESSION] = query_end_session
    handlers[WM_ENDSESSION] = end_session
    handlers[WM_CLOSE] = close
    return True
