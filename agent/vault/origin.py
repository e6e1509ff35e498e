"""The file being quarantined: opened once, never through a link, removed only if unchanged."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Any

from agent.errors import VaultError
from agent.textsafe import safe_path
from agent.vault.crypto import fsync_dir

_O_BINARY = getattr(os, "O_BINARY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block the open
_DIR_FD_OK = os.open in os.supports_dir_fd and os.unlink in os.supports_dir_fd


class OriginFile:
    """The file being quarantined, opened once without following links.

    Its folder is opened too (where the OS allows), so the final check and unlink act on
    the same folder even if a path component is swapped for a link meanwhile.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._folder = path.parent
        self._name = path.name
        self._dir_fd: int | None = None
        self._fd: int | None = None

    def __enter__(self) -> OriginFile:
        try:
            first = os.lstat(self.path)
        except FileNotFoundError:
            raise VaultError(f"{safe_path(self.path)} does not exist") from None
        if stat.S_ISLNK(first.st_mode) or _is_reparse_point(first):
            raise VaultError(f"{safe_path(self.path)} is a link; links are never followed")
        if not stat.S_ISREG(first.st_mode):
            raise VaultError(f"{safe_path(self.path)} is not a regular file")
        flags = os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_BINARY
        try:
            if _DIR_FD_OK:
                self._dir_fd = os.open(self._folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
                self._fd = os.open(self._name, flags, dir_fd=self._dir_fd)
            else:
                self._fd = os.open(self.path, flags)
        except OSError as error:
            self.__exit__()
            raise VaultError(f"cannot open {safe_path(self.path)}: {error.strerror}") from None
        self.stat_open = os.fstat(self._fd)
        if not stat.S_ISREG(self.stat_open.st_mode):
            self.__exit__()
            raise VaultError(f"{safe_path(self.path)} is not a regular file")
        self._reader = os.fdopen(self._fd, "rb", closefd=False)
        return self

    def __exit__(self, *_: object) -> None:
        reader = getattr(self, "_reader", None)
        if reader is not None:
            reader.close()  # closefd=False: the descriptor is closed below
        for fd in (self._fd, self._dir_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd = self._dir_fd = None

    def reader(self) -> Any:
        """A binary reader on the open file (positioned at its start)."""
        return self._reader

    def still_same(self) -> bool:
        """True when the name still holds the file we read, unchanged (inode, size, mtime)."""
        try:
            now = (
                os.stat(self._name, dir_fd=self._dir_fd, follow_symlinks=False)
                if (self._dir_fd is not None)
                else os.lstat(self.path)
            )
        except FileNotFoundError:
            return False
        was = self.stat_open
        return (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns) == (
            was.st_dev, was.st_ino, was.st_size, was.st_mtime_ns,
        )  # fmt: skip

    def unlink(self) -> None:
        """Remove the name from its folder and make that durable."""
        if self._dir_fd is not None:
            os.unlink(self._name, dir_fd=self._dir_fd)
            with contextlib.suppress(OSError):
                os.fsync(self._dir_fd)
        else:
            self.path.unlink()
            fsync_dir(self._folder)


def _is_reparse_point(info: os.stat_result) -> bool:
    """Windows junctions and other reparse points count as links."""
    reparse_flag = getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0)
    return bool(getattr(info, "st_file_attributes", 0) & reparse_flag)
