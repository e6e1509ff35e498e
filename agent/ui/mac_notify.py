"""macOS notifications through the notification centre, for an unsigned or ad-hoc build too.

Choice: `osascript`'s `display notification` (AppleScript Standard Additions, macOS 10.9+)
rather than UNUserNotificationCenter. The latter needs PyObjC's UserNotifications bindings,
a bundle with a stable signing identity and the user's authorization prompt for that
bundle; `display notification` works the same for every build and needs no dependency.
The notification is shown on behalf of Script Editor: the first one asks the user to allow
it, and IT can pre-allow it with a Notifications payload for `com.apple.ScriptEditor2`
(installer/macos/README.md).

The text is passed as arguments to a run handler, never spliced into the script, so no
quote or backslash in a file name can change what runs. pystray's own darwin `_notify`
formats the text into the script and waits for osascript on the UI thread; this starts it
in the background and reaps it with a timeout.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Sequence

log = logging.getLogger("photogate.tray")

OSASCRIPT = "/usr/bin/osascript"
OSASCRIPT_TIMEOUT_SECONDS = 10.0
SCRIPT = (
    "on run argv",
    "display notification (item 1 of argv) with title (item 2 of argv)",
    "end run",
)


def notification_command(title: str, message: str, tool: str = OSASCRIPT) -> list[str]:
    """The osascript command line that shows `message` under `title`."""
    command = [tool]
    for line in SCRIPT:
        command += ["-e", line]
    return [*command, "--", message, title]


class MacNotifier:
    """Shows notifications with osascript; `tool` is the program (tests use a stand-in)."""

    def __init__(self, tool: str = OSASCRIPT) -> None:
        self._tool = tool

    def show(self, title: str, message: str) -> threading.Thread | None:
        """Start osascript in the background; returns the reaper thread (None on failure)."""
        command = notification_command(title, message, self._tool)
        try:
            child = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        except OSError as error:
            log.warning("notification not shown: %s", error)
            return None
        reaper = threading.Thread(target=_reap, args=(child, command), daemon=True)
        reaper.start()
        return reaper


def _reap(child: subprocess.Popen[bytes], command: Sequence[str]) -> None:
    try:
        _out, err = child.communicate(timeout=OSASCRIPT_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        log.warning("osascript did not finish; notification may be missing")
        return
    if child.returncode != 0:
        log.warning(
            "notification not shown (%s exit %s): %s",
            command[0],
            child.returncode,
            err.decode("utf-8", "replace").strip()[:200],
        )
