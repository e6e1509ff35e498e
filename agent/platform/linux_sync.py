"""Linux: many files made durable with one `syncfs` of their filesystem.

fdatasync of each of 64 small files costs 64 journal commits on ext4 (~1.5-3 ms each on
the build VM: ~170 ms); one syncfs(2) of the filesystem writes them all back and commits
once (2-20 ms). syncfs reports write-back errors since Linux 5.8, as fdatasync does. It
also flushes whatever else is dirty on that filesystem, so below SYNCFS_MIN_FILES (a single
quarantine: content, record, journal) each file is flushed on its own, as before.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

assert sys.platform.startswith("linux")  # mypy on other platforms skips the rest

from agent.platform.portable import sync_each  # noqa: E402

SYNCFS_MIN_FILES = 6  # from this many files on, one syncfs beats one fdatasync per file


def _load_syncfs() -> Callable[[int], int] | None:
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError):  # a libc without syncfs (glibc < 2.14)
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function


_SYNCFS = _load_syncfs()


def sync_files(paths: Sequence[Path]) -> None:
    """Flush the bytes and length of every file in `paths` (one syncfs per filesystem when
    there are many); OSError when the OS reports that one could not be written."""
    if len(paths) < SYNCFS_MIN_FILES or _SYNCFS is None:
        sync_each(paths)
        return
    by_device: dict[int, list[Path]] = {}
    for path in paths:
        by_device.setdefault(os.stat(path, follow_symlinks=False).st_dev, []).append(path)  # noqa: PTH116
    for group in by_device.values():
        if not syncfs_of(group[0]):
            sync_each(group)


def syncfs_of(path: Path) -> bool:
    """syncfs(2) of the filesystem holding `path`; False when the kernel lacks it."""
    assert _SYNCFS is not None
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if _SYNCFS(fd) == 0:
            return True
        code = ctypes.get_errno()
        if code == errno.ENOSYS:
            return False
        raise OSError(code, os.strerror(code), os.fspath(path))
    finally:
        os.close(fd)
