"""The one interface every OS implementation of `agent.platform` provides.

Callers never test `sys.platform` or `hasattr(os, ...)` themselves: they call
`agent.platform.<function>`, which delegates to the implementation chosen for this OS
(`agent.platform.select`). Implementations:

- `PortablePlatform`: only what every CPython has (`os.lseek`/`os.read`, no xattrs, no
  rlimits). Windows builds on it; the no-pread test runs the agent on it to prove that
  nothing outside this package needs a Unix-only attribute.
- `PosixPlatform` (+ `LinuxPlatform`, `MacPlatform`): pread, flock, rlimits, xattrs.
- `WindowsPlatform` (agent/platform/windows.py): Win32 through ctypes.
"""

from __future__ import annotations

import mmap
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class ChildLimits:
    """What a disposable child process (the sanitizer's decoder) may use at most."""

    memory_bytes: int  # address space (POSIX RLIMIT_AS) / committed memory (Windows job)
    cpu_seconds: int  # CPU time, user + system
    max_processes: int = 1  # the child itself: it may not start others (Windows job)


class SourceFile(Protocol):
    """A file opened for reading and later removal without following links (quarantine).

    `fd` is a C runtime descriptor for reading; the file stays open between the copy and
    the delete, so the name cannot be swapped for another file in between unnoticed.
    """

    path: Path
    fd: int
    stat_open: os.stat_result

    def still_same(self) -> bool:
        """True when the name still holds the file we opened, unchanged."""
        ...

    def delete(self) -> None:
        """Remove the file (through the open handle where the OS allows it).

        The removal is not yet durable: `sync_folder` makes it so (a batch of files from
        one folder needs that only once)."""
        ...

    def sync_folder(self) -> None:
        """Make removals in the file's folder durable (POSIX: fsync the opened folder;
        best effort, a no-op where the OS has no folder flush)."""
        ...

    def close(self) -> None:
        """Close everything this object opened (idempotent)."""
        ...


class Platform(Protocol):
    """Every OS-specific call the agent makes."""

    name: str  # "linux", "darwin", "win32" or "portable"

    def read_at(self, fd: int, size: int, offset: int) -> bytes:
        """Up to `size` bytes at `offset` of the open file `fd` (short only at its end)."""
        ...

    def entry_inode(self, entry: os.DirEntry[str]) -> int:
        """The file's identity number for a directory entry (never 0 on Windows)."""
        ...

    def lock_fd(self, fd: int, *, blocking: bool) -> bool:
        """Exclusive advisory lock on `fd`; False when non-blocking and someone holds it."""
        ...

    def unlock_fd(self, fd: int) -> None:
        """Release the lock taken with `lock_fd` (closing the file releases it too)."""
        ...

    def limit_this_process(self, limits: ChildLimits) -> bool:
        """Cap this (child) process; True when the caps are in force."""
        ...

    def start_limited(
        self, argv: list[str], env: dict[str, str], limits: ChildLimits
    ) -> subprocess.Popen[bytes]:
        """Start a disposable child (pipes on stdin/stdout/stderr), confined where the OS
        confines from outside (Windows job object, no console window)."""
        ...

    def finished(self, child: subprocess.Popen[bytes]) -> None:
        """Release what `start_limited` holds for `child` once it has ended."""
        ...

    def set_xattr(self, path: Path, name: str, value: bytes) -> None:
        """Set an extended attribute without following a link; OSError when impossible."""
        ...

    def get_xattr(self, path: Path, name: str) -> bytes:
        """An extended attribute's value; OSError when absent or unsupported."""
        ...

    def set_nonblocking(self, fd: int) -> bool:
        """Make a pipe end non-blocking; False where the OS cannot."""
        ...

    def release_pages(self, mapping: mmap.mmap, offset: int, length: int) -> None:
        """Tell the OS that mapped pages will not be needed again (advisory)."""
        ...

    def os_path(self, path: str) -> str:
        """The form of `path` to hand to the OS (Windows: `\\\\?\\` past MAX_PATH)."""
        ...

    def is_in_use(self, error: OSError) -> bool:
        """True when `error` says another program holds the file open (retry later)."""
        ...

    def is_no_hard_links(self, error: OSError) -> bool:
        """True when `error` from os.link means the filesystem has no hard links."""
        ...

    def writer_done(self, path: str) -> bool:
        """The exclusive-open probe: False while another program may still write the file."""
        ...

    def open_source(self, path: Path) -> SourceFile:
        """Open `path` for quarantine (read, later delete); OSError when it cannot be."""
        ...

    def owner_sid(self, path: Path) -> str:
        """The Windows security identifier of the owner of `path` (not followed if a link);
        "" where owners are uids (POSIX) or when it cannot be read."""
        ...

    def account_name(self, sid: str) -> str:
        """The account name of a Windows SID; "" when unknown or where there are no SIDs."""
        ...

    def sync_files(self, paths: Sequence[Path]) -> None:
        """Make the bytes and length of every file in `paths` durable; OSError if not.

        Together, as cheaply as the OS allows: one flush per file (fdatasync, fsync,
        FlushFileBuffers), or on Linux, for many files, one `syncfs` of their filesystem
        (one journal commit instead of one per file)."""
        ...
