"""Linux and macOS: pread, flock, rlimits, a source file held by its opened folder."""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import queue
import sys
import threading
from pathlib import Path

from agent.platform.base import ChildLimits, SourceFile
from agent.platform.portable import (
    SOURCE_OPEN_FLAGS,
    PortablePlatform,
    is_link_or_reparse,
    same_file,
)

# Imported only on Linux and macOS; mypy --platform win32 skips the rest of this module.
assert sys.platform != "win32"


REMOVED_CLOSE_QUEUE = 256  # descriptors of removed files waiting to be closed, at most


class _Closer:
    """Closes the last descriptor of removed files on its own thread.

    The last close of an unlinked file is when the filesystem frees it (ext4: its blocks
    and inode, 0.2-1 ms a file on the build VM, more under load), work the quarantine need
    not wait for: the copy is durable and verified and the name is gone. A bounded queue:
    a caller waits only if the closing thread is REMOVED_CLOSE_QUEUE files behind.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[int] = queue.Queue(maxsize=REMOVED_CLOSE_QUEUE)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def close(self, fd: int) -> None:
        """Close `fd` soon (now, on this thread, if no closing thread can be started)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                try:
                    self._thread = threading.Thread(
                        target=self._run, name="photogate-closer", daemon=True
                    )
                    self._thread.start()
                except RuntimeError:  # interpreter shutting down
                    self._thread = None
                    with contextlib.suppress(OSError):
                        os.close(fd)
                    return
        self._queue.put(fd)

    def _run(self) -> None:
        while True:
            fd = self._queue.get()
            with contextlib.suppress(OSError):
                os.close(fd)
            self._queue.task_done()

    def drain(self) -> None:
        """Wait until every queued descriptor is closed (tests, shutdown)."""
        self._queue.join()


REMOVED_FILES = _Closer()


class DirFdSourceFile:
    """The file opened relative to its opened folder (openat/unlinkat).

    The final check and the unlink act on the same folder even if a path component is
    swapped for a link meanwhile; O_NOFOLLOW refuses a final symlink.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._name = path.name
        self._dir_fd = -1
        self.fd = -1
        self._deleted = False
        first = os.lstat(path)
        if is_link_or_reparse(first):
            raise OSError(errno.ELOOP, "links are never followed", str(path))
        try:
            self._dir_fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            self.fd = os.open(self._name, SOURCE_OPEN_FLAGS, dir_fd=self._dir_fd)
        except OSError:
            self.close()
            raise
        self.stat_open = os.fstat(self.fd)

    def still_same(self) -> bool:
        """True when the name in the opened folder still holds our file, unchanged."""
        try:
            now = os.stat(self._name, dir_fd=self._dir_fd, follow_symlinks=False)
        except OSError:
            return False
        return same_file(now, self.stat_open)

    def delete(self) -> None:
        """unlinkat in the opened folder (durable once `sync_folder` ran)."""
        os.unlink(self._name, dir_fd=self._dir_fd)
        self._deleted = True

    def sync_folder(self) -> None:
        """fsync the opened folder: the unlink survives a power cut (best effort)."""
        with contextlib.suppress(OSError):
            os.fsync(self._dir_fd)

    def close(self) -> None:
        """Close the file and the folder (idempotent); a removed file's descriptor is
        closed by REMOVED_FILES, off this thread (that is when its blocks are freed)."""
        fd, dir_fd = self.fd, self._dir_fd
        self.fd = self._dir_fd = -1
        if fd >= 0 and self._deleted:
            REMOVED_FILES.close(fd)
        elif fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
        if dir_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(dir_fd)


class PosixPlatform(PortablePlatform):
    """What Linux and macOS share."""

    name = "posix"

    def read_at(self, fd: int, size: int, offset: int) -> bytes:
        """pread(2): positional, leaves the file position alone, safe across threads."""
        parts: list[bytes] = []
        while size > 0:
            chunk = os.pread(fd, size, offset)
            if not chunk:
                break
            parts.append(chunk)
            size -= len(chunk)
            offset += len(chunk)
        return b"".join(parts)

    def lock_fd(self, fd: int, *, blocking: bool) -> bool:
        """flock(2) on the whole file: other processes' `lock_fd` wait or get False."""
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        return True

    def unlock_fd(self, fd: int) -> None:
        """flock(LOCK_UN)."""
        import fcntl

        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)

    def limit_this_process(self, limits: ChildLimits) -> bool:
        """setrlimit: address space, CPU seconds, no file writes, no core dumps.

        A limit the OS refuses is skipped (macOS does not enforce RLIMIT_AS); the
        parent's wall-clock timeout and pixel cap still hold.
        """
        import resource

        wanted = (
            (resource.RLIMIT_AS, limits.memory_bytes),
            (resource.RLIMIT_CPU, limits.cpu_seconds),
            (resource.RLIMIT_FSIZE, 0),  # writing any file kills the process (SIGXFSZ)
            (resource.RLIMIT_CORE, 0),
        )
        applied = True
        for which, value in wanted:
            try:
                _soft, hard = resource.getrlimit(which)
                new_hard = value if hard == resource.RLIM_INFINITY else min(hard, value)
                resource.setrlimit(which, (min(value, new_hard), new_hard))
            except (ValueError, OSError):
                applied = False
        return applied

    def set_nonblocking(self, fd: int) -> bool:
        """os.set_blocking(fd, False)."""
        os.set_blocking(fd, False)
        return True

    def release_pages(self, mapping: mmap.mmap, offset: int, length: int) -> None:
        """madvise(MADV_DONTNEED) on the page-aligned range (advisory; errors ignored)."""
        aligned = offset - offset % mmap.PAGESIZE
        span = length + (offset - aligned)
        if span > 0 and hasattr(mmap, "MADV_DONTNEED"):
            with contextlib.suppress(OSError, ValueError):
                mapping.madvise(mmap.MADV_DONTNEED, aligned, span)

    def open_source(self, path: Path) -> SourceFile:
        """openat relative to the opened folder (see `DirFdSourceFile`)."""
        return DirFdSourceFile(path)
