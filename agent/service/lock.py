"""One agent per PHOTOGATE_HOME: an OS file lock held for the agent's lifetime.

The lock is advisory and held on an open file (flock on POSIX, msvcrt on Windows: see
`agent.platform.lock_fd`), so it disappears with the process even after `kill -9`; a stale
lock file never blocks a start. The PID is written at byte 0 and stays readable while the
lock is held (on Windows the locked byte lies far past it), so `photogate status` can name
the running agent's process.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from agent import platform
from agent.errors import AlreadyRunningError

LOCK_FILE_NAME = "agent.lock"
MAX_PID_TEXT_BYTES = 32  # bytes: the lock file holds only a process id


class AgentLock:
    """Hold the agent lock for one home folder; `acquire` raises AlreadyRunningError."""

    def __init__(self, runtime_dir: Path) -> None:
        self.path = runtime_dir / LOCK_FILE_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise AlreadyRunningError naming the other agent's pid."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock_fd(fd)
        except OSError:
            os.close(fd)
            other = read_lock_pid(self.path)
            who = f" (pid {other})" if other else ""
            raise AlreadyRunningError(
                f"another Photogate agent is already running{who} for {self.path.parent.parent};"
                " stop it first or use a different PHOTOGATE_HOME"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Give the lock back (also happens when the process dies)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> AgentLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_lock_pid(path: Path) -> int | None:
    """The pid written in a lock file, or None."""
    try:
        with path.open("rb") as handle:
            untrusted_text = handle.read(MAX_PID_TEXT_BYTES).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(untrusted_text) if untrusted_text.isdigit() else None


def is_locked(runtime_dir: Path) -> bool:
    """True when some process holds the agent lock for this runtime folder."""
    path = runtime_dir / LOCK_FILE_NAME
    if not path.exists():
        return False
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        _lock_fd(fd)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing releases a lock we may just have taken
    return False


def _lock_fd(fd: int) -> None:
    """Non-blocking exclusive lock on `fd`; OSError when someone else holds it."""
    if not platform.lock_fd(fd, blocking=False):
        raise BlockingIOError("the agent lock is held by another process")
