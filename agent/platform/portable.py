"""The implementation made only of what every CPython has (Windows builds on it).

Nothing here touches a Unix-only attribute (`os.pread`, `os.setxattr`, `mmap.madvise`,
`resource`, `fcntl`...), so it runs the same on a Windows interpreter and on Linux with
those attributes removed (tests/test_platform_portable.py does exactly that).
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import stat
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

from agent.platform.base import ChildLimits, SourceFile

_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
_O_NOINHERIT = getattr(os, "O_NOINHERIT", 0)  # Windows: children do not get the handle
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block the open
SOURCE_OPEN_FLAGS = os.O_RDONLY | _O_BINARY | _O_NOINHERIT | _O_NOFOLLOW | _O_NONBLOCK
# One lock for every seek+read pair: the file position is shared by all users of an fd.
_SEEK_READ_LOCK = threading.Lock()


def seek_read_at(fd: int, size: int, offset: int) -> bytes:
    """`pread` without pread: seek and read under a lock, looping over short reads.

    The descriptor's file position moves; callers of `read_at` own their descriptors and
    never rely on the position (the engine opens its own fd per file).
    """
    if size <= 0:
        return b""
    if offset < 0:
        raise OSError(errno.EINVAL, "negative offset")
    parts: list[bytes] = []
    wanted = size
    with _SEEK_READ_LOCK:
        os.lseek(fd, offset, os.SEEK_SET)
        while wanted > 0:
            chunk = os.read(fd, wanted)
            if not chunk:  # end of file
                break
            parts.append(chunk)
            wanted -= len(chunk)
    return b"".join(parts)


def sync_folder_by_path(folder: Path) -> None:
    """Best-effort fsync of a folder (makes renames and unlinks in it durable).

    Windows cannot open a folder with os.open: nothing to do there (NTFS journals its
    metadata itself)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sync_each(paths: Sequence[Path]) -> None:
    """Flush each file's bytes and length (fdatasync where it exists, else fsync, which
    on Windows is FlushFileBuffers); reopened by path, so no descriptor is held meanwhile."""
    flush = getattr(os, "fdatasync", os.fsync)
    for path in paths:
        fd = os.open(path, os.O_WRONLY | _O_BINARY | _O_NOINHERIT | _O_NOFOLLOW)
        try:
            flush(fd)
        finally:
            os.close(fd)


def same_file(a: os.stat_result, b: os.stat_result) -> bool:
    """Same identity (device + file number), size and mtime."""
    return (a.st_dev, a.st_ino, a.st_size, a.st_mtime_ns) == (
        b.st_dev, b.st_ino, b.st_size, b.st_mtime_ns,
    )  # fmt: skip


def is_link_or_reparse(info: os.stat_result) -> bool:
    """A symlink, or a Windows reparse point (junction, mount point, cloud placeholder...)."""
    reparse_flag = getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0)
    return stat.S_ISLNK(info.st_mode) or bool(getattr(info, "st_file_attributes", 0) & reparse_flag)


class ReopenSourceFile:
    """Open by path, read; to delete: close, re-verify identity by path, then unlink.

    Used where the OS offers no delete-through-handle that we can call portably. The check
    and the unlink are two steps, so a swap in between is possible in principle; the vault
    journal's recovery compares content, not names, so nothing is lost either way.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        first = os.lstat(path)
        if is_link_or_reparse(first):
            raise OSError(errno.ELOOP, "links are never followed", str(path))
        self.fd = os.open(path, SOURCE_OPEN_FLAGS)
        self.stat_open = os.fstat(self.fd)
        if not same_file(first, self.stat_open):
            self.close()
            raise OSError(errno.EAGAIN, "the file changed while it was opened", str(path))

    def still_same(self) -> bool:
        """True when the name still holds the file we opened (identity, size, mtime)."""
        try:
            return same_file(os.lstat(self.path), self.stat_open)
        except OSError:
            return False

    def delete(self) -> None:
        """Close our handle (Windows refuses to unlink an open file), re-check, unlink."""
        self.close()
        if not self.still_same():
            raise OSError(errno.ESTALE, "the file changed before it could be removed")
        self.path.unlink()

    def sync_folder(self) -> None:
        """fsync the folder by path where folders can be opened (not on Windows)."""
        sync_folder_by_path(self.path.parent)

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)


class PortablePlatform:
    """Standard-library calls only; the base of the Windows implementation."""

    name = "portable"

    def read_at(self, fd: int, size: int, offset: int) -> bytes:
        """Positional read by seek + read (see `seek_read_at`)."""
        return seek_read_at(fd, size, offset)

    def entry_inode(self, entry: os.DirEntry[str]) -> int:
        """`DirEntry.inode()`: on Windows a real file ID (one extra call), never 0.

        Python docs, os.DirEntry: `stat()` of an entry has st_ino 0 on Windows, while
        `inode()` fetches it ("on the first, uncached call, a system call is required on
        Windows but not on Unix").
        """
        return entry.inode()

    def lock_fd(self, fd: int, *, blocking: bool) -> bool:
        """No portable lock exists: every implementation provides its own."""
        raise OSError(errno.ENOSYS, "no file locks on this platform")

    def unlock_fd(self, fd: int) -> None:
        """See `lock_fd`."""

    def limit_this_process(self, limits: ChildLimits) -> bool:
        """Nothing can be limited from inside with the standard library alone."""
        return False

    def start_limited(
        self, argv: list[str], env: dict[str, str], limits: ChildLimits
    ) -> subprocess.Popen[bytes]:
        """A plain child; it limits itself with `limit_this_process` (POSIX rlimits)."""
        return subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )

    def finished(self, child: subprocess.Popen[bytes]) -> None:
        """Nothing is held per child."""

    def set_xattr(self, path: Path, name: str, value: bytes) -> None:
        """No extended attributes through the standard library here."""
        raise OSError(errno.ENOTSUP, "extended attributes are not supported", str(path))

    def get_xattr(self, path: Path, name: str) -> bytes:
        """See `set_xattr`."""
        raise OSError(errno.ENOTSUP, "extended attributes are not supported", str(path))

    def set_nonblocking(self, fd: int) -> bool:
        """Python 3.11 on Windows cannot make a pipe non-blocking."""
        return False

    def release_pages(self, mapping: mmap.mmap, offset: int, length: int) -> None:
        """No madvise: the pages stay until the OS reclaims them (still correct)."""

    def os_path(self, path: str) -> str:
        """Paths are passed as they are."""
        return path

    def is_in_use(self, error: OSError) -> bool:
        """Without sharing modes no error means "in use"."""
        return False

    def is_no_hard_links(self, error: OSError) -> bool:
        """The errnos POSIX filesystems without hard links give (FAT, SMB, some FUSE)."""
        return error.errno in {
            errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS,
        }  # fmt: skip

    def writer_done(self, path: str) -> bool:
        """No probe without sharing modes: size and mtime stability decide alone."""
        return True

    def open_source(self, path: Path) -> SourceFile:
        """Open by path; delete = close, re-verify, unlink."""
        return ReopenSourceFile(path)

    def owner_sid(self, path: Path) -> str:
        """POSIX owners are uids (`os.lstat(path).st_uid`): no SID."""
        del path
        return ""

    def account_name(self, sid: str) -> str:
        """No SIDs here."""
        del sid
        return ""

    def sync_files(self, paths: Sequence[Path]) -> None:
        """One flush per file (see `sync_each`)."""
        sync_each(paths)
