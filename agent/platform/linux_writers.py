"""Linux: is another program still writing this file? (a read lease, else /proc/*/fd)

A writer that pauses longer than the settle time must not have its file judged (and
moved) half-written: the rest of the file would be written into an unlinked inode and
exist nowhere. On Linux the kernel answers the question exactly: a read lease
(`F_SETLEASE F_RDLCK`) is refused with EAGAIN while any process has the file open for
writing. A lease needs the file's owner (or CAP_LEASE); for other files the process
table is scanned (`/proc/PID/fd` links with the same device and inode, opened for
writing per `/proc/PID/fdinfo`). `LinuxPlatform.writer_done` is its negation.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sys

assert sys.platform.startswith("linux")  # mypy on other platforms skips the rest

F_SETLEASE = 1024  # fcntl command number on Linux (<linux/fcntl.h> F_LINUX_SPECIFIC_BASE + 0)
MAX_PROC_ENTRIES = 200_000  # /proc fd entries examined before giving up (a huge process table)
_WRITE_MODES = (os.O_WRONLY, os.O_RDWR)


def open_for_writing(path: str) -> bool:
    """True when some process has `path` open for writing; False when not or unknown."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False  # gone or unreadable: the pipeline's own checks say so
    try:
        try:
            fcntl.fcntl(fd, F_SETLEASE, fcntl.F_RDLCK)
        except OSError as error:
            if error.errno == errno.EAGAIN:
                return True  # the kernel refuses a read lease while a writer holds it open
            info = os.fstat(fd)
            return _proc_has_writer(info.st_dev, info.st_ino)  # not ours to lease, or no leases
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, F_SETLEASE, fcntl.F_UNLCK)
        return False
    finally:
        os.close(fd)


def _proc_has_writer(dev: int, ino: int) -> bool:
    """Scan /proc/*/fd for a descriptor on (dev, ino) opened for writing."""
    seen = 0
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]  # noqa: PTH208
    except OSError:
        return False
    own = str(os.getpid())
    for pid in pids:
        if pid == own:
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)  # noqa: PTH208 - names only, cheaper
        except OSError:
            continue  # gone, or not ours to look at
        for fd in fds:
            seen += 1
            if seen > MAX_PROC_ENTRIES:
                return False
            try:
                info = os.stat(f"{fd_dir}/{fd}")  # noqa: PTH116 - follows the fd link on purpose
            except OSError:
                continue
            if (info.st_dev, info.st_ino) == (dev, ino) and _opened_for_writing(pid, fd):
                return True
    return False


def _opened_for_writing(pid: str, fd: str) -> bool:
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("flags:"):
                    flags = int(line.split()[1], 8)
                    return (flags & os.O_ACCMODE) in _WRITE_MODES
    except (OSError, ValueError, IndexError):
        return False
    return False
