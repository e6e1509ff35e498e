"""Every OS-specific call of the agent, behind one interface (`base.Platform`).

Shared bottom: imports nothing from the rest of `agent`. The implementation is chosen once
by `sys.platform` checks that mypy narrows, so `mypy --platform win32 agent` and
`mypy --platform darwin agent` type-check the Windows and macOS code on any machine.
Callers use the module functions below; tests may swap the implementation with `use`.
"""

from __future__ import annotations

import mmap
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.platform.base import ChildLimits, Platform, SourceFile
from agent.platform.portable import PortablePlatform
from agent.platform.wintext import cut_utf16, extended_path, utf16_units

__all__ = [
    "ChildLimits",
    "Platform",
    "PortablePlatform",
    "SourceFile",
    "account_name",
    "current",
    "cut_utf16",
    "entry_inode",
    "extended_path",
    "finished",
    "get_xattr",
    "is_in_use",
    "is_no_hard_links",
    "limit_this_process",
    "lock_fd",
    "open_source",
    "os_path",
    "owner_sid",
    "read_at",
    "release_pages",
    "select",
    "set_nonblocking",
    "set_xattr",
    "start_limited",
    "sync_files",
    "unlock_fd",
    "use",
    "utf16_units",
    "writer_done",
]


def select() -> Platform:
    """The implementation for the OS this interpreter runs on."""
    if sys.platform == "win32":
        from agent.platform.windows import WindowsPlatform

        return WindowsPlatform()
    else:
        if sys.platform == "darwin":
            from agent.platform.macos import MacPlatform

            return MacPlatform()
        if sys.platform.startswith("linux"):
            from agent.platform.linux import LinuxPlatform

            return LinuxPlatform()
        from agent.platform.posix import PosixPlatform  # other Unix (BSD): no xattrs

        return PosixPlatform()


_current: Platform = select()


def current() -> Platform:
    """The implementation in use."""
    return _current


def use(implementation: Platform) -> Platform:
    """Swap the implementation (tests); returns the previous one."""
    global _current
    previous, _current = _current, implementation
    return previous


def read_at(fd: int, size: int, offset: int) -> bytes:
    """Up to `size` bytes at `offset` of `fd`, short only at the end of the file.

    pread(2) on POSIX; seek + read under a lock where there is none (Windows).
    """
    return _current.read_at(fd, size, offset)


def entry_inode(entry: os.DirEntry[str]) -> int:
    """The identity number of a directory entry's file (NTFS file ID on Windows, never 0)."""
    return _current.entry_inode(entry)


def lock_fd(fd: int, *, blocking: bool) -> bool:
    """Exclusive advisory lock on `fd`; False when non-blocking and held elsewhere.

    Windows locks a byte far past the start, so a PID written at byte 0 stays readable.
    """
    return _current.lock_fd(fd, blocking=blocking)


def unlock_fd(fd: int) -> None:
    """Release the lock taken by `lock_fd`."""
    _current.unlock_fd(fd)


def limit_this_process(limits: ChildLimits) -> bool:
    """Cap this child process (POSIX rlimits) or confirm the parent's job (Windows)."""
    return _current.limit_this_process(limits)


def start_limited(
    argv: list[str], env: dict[str, str], limits: ChildLimits
) -> subprocess.Popen[bytes]:
    """Start a disposable child with pipes, confined from outside where the OS does that."""
    return _current.start_limited(argv, env, limits)


def finished(child: subprocess.Popen[bytes]) -> None:
    """Release what `start_limited` held for `child`."""
    _current.finished(child)


def set_xattr(path: Path, name: str, value: bytes) -> None:
    """Set an extended attribute (Linux); OSError(ENOTSUP) elsewhere."""
    _current.set_xattr(path, name, value)


def get_xattr(path: Path, name: str) -> bytes:
    """An extended attribute's value (Linux); OSError when absent or unsupported."""
    return _current.get_xattr(path, name)


def set_nonblocking(fd: int) -> bool:
    """Make a pipe end non-blocking; False where Python cannot (Windows, 3.11)."""
    return _current.set_nonblocking(fd)


def release_pages(mapping: mmap.mmap, offset: int, length: int) -> None:
    """Advise the OS that mapped pages are done with (madvise DONTNEED; no-op elsewhere)."""
    _current.release_pages(mapping, offset, length)


def os_path(path: str) -> str:
    """The path form to hand to the OS (Windows: `\\\\?\\` from MAX_PATH on)."""
    return _current.os_path(path)


def is_in_use(error: OSError) -> bool:
    """True when the error means another program holds the file (retry, never final)."""
    return _current.is_in_use(error)


def is_no_hard_links(error: OSError) -> bool:
    """True when os.link failed because the filesystem has no hard links."""
    return _current.is_no_hard_links(error)


def writer_done(path: str) -> bool:
    """The exclusive-open probe; False while another program may still be writing."""
    return _current.writer_done(path)


def sync_files(paths: Sequence[Path]) -> None:
    """Make the bytes and length of each file durable, together (OSError if one is not)."""
    _current.sync_files(paths)


def open_source(path: Path) -> SourceFile:
    """Open a file for quarantine: read it, later delete exactly it; OSError on failure."""
    return _current.open_source(path)


def owner_sid(path: Path) -> str:
    """The owner's SID on Windows ("" on POSIX, where `st_uid` is the owner)."""
    return _current.owner_sid(path)


def account_name(sid: str) -> str:
    """The account name of a Windows SID ("" when unknown, and on POSIX)."""
    return _current.account_name(sid)
