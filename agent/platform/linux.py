"""Linux: POSIX plus user extended attributes through os.setxattr/os.getxattr."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

assert sys.platform.startswith("linux")  # mypy on other platforms skips the rest

from agent.platform.linux_sync import sync_files  # noqa: E402
from agent.platform.linux_writers import open_for_writing  # noqa: E402
from agent.platform.posix import PosixPlatform  # noqa: E402


class LinuxPlatform(PosixPlatform):
    """Linux (and other Unix kernels Python reports as linux)."""

    name = "linux"

    def set_xattr(self, path: Path, name: str, value: bytes) -> None:
        """setxattr(2) without following a final symlink (ENOTSUP on tmpfs w/o user xattrs)."""
        os.setxattr(path, name, value, follow_symlinks=False)

    def writer_done(self, path: str) -> bool:
        """False while any process has the file open for writing (read lease or /proc)."""
        return not open_for_writing(path)

    def get_xattr(self, path: Path, name: str) -> bytes:
        """getxattr(2) without following a final symlink."""
        return os.getxattr(path, name, follow_symlinks=False)

    def sync_files(self, paths: Sequence[Path]) -> None:
        """fdatasync each, or for many files one syncfs per filesystem (linux_sync)."""
        sync_files(paths)
