"""`platform.sync_files`: one flush per file, or on Linux one syncfs for many files.

What is counted is which flush calls are made (durability itself cannot be observed
without pulling the power): a few files get fdatasync each, from SYNCFS_MIN_FILES on one
syncfs per filesystem; an error from the kernel is raised, never swallowed.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest

from agent import platform
from agent.platform.portable import PortablePlatform

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs is Linux")


def _files(folder: Path, count: int) -> list[Path]:
    paths = []
    for index in range(count):
        path = folder / f"f{index}"
        path.write_bytes(b"x" * (index + 1))
        paths.append(path)
    return paths


def _count_fdatasync(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = os.fdatasync

    def fdatasync(fd: int) -> None:
        seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    return seen


@linux_only
def test_the_portable_flush_syncs_each_file_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _files(tmp_path, 8)
    seen = _count_fdatasync(monkeypatch)
    PortablePlatform().sync_files(paths)
    assert seen == [str(p) for p in paths]
    assert [p.read_bytes() for p in paths] == [b"x" * (i + 1) for i in range(8)]  # untouched


@linux_only
def test_few_files_are_flushed_one_by_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.platform import linux_sync

    syncfs_calls: list[int] = []
    monkeypatch.setattr(linux_sync, "_SYNCFS", lambda fd: syncfs_calls.append(fd) or 0)
    paths = _files(tmp_path, linux_sync.SYNCFS_MIN_FILES - 1)
    seen = _count_fdatasync(monkeypatch)
    platform.sync_files(paths)
    assert seen == [str(p) for p in paths]
    assert syncfs_calls == []


@linux_only
def test_many_files_on_one_filesystem_take_one_syncfs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.platform import linux_sync

    real_syncfs = linux_sync._SYNCFS
    assert real_syncfs is not None  # glibc has had it since 2.14
    synced: list[str] = []

    def syncfs(fd: int) -> int:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_syncfs(fd)

    monkeypatch.setattr(linux_sync, "_SYNCFS", syncfs)
    paths = _files(tmp_path, linux_sync.SYNCFS_MIN_FILES)
    seen = _count_fdatasync(monkeypatch)
    platform.sync_files(paths)
    assert synced == [str(paths[0])]
    assert seen == []


@linux_only
def test_a_syncfs_error_is_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes

    from agent.platform import linux_sync

    def failing(fd: int) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(linux_sync, "_SYNCFS", failing)
    with pytest.raises(OSError) as raised:
        platform.sync_files(_files(tmp_path, linux_sync.SYNCFS_MIN_FILES))
    assert raised.value.errno == errno.EIO


@linux_only
def test_a_kernel_without_syncfs_falls_back_to_one_flush_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ctypes

    from agent.platform import linux_sync

    def missing(fd: int) -> int:
        ctypes.set_errno(errno.ENOSYS)
        return -1

    monkeypatch.setattr(linux_sync, "_SYNCFS", missing)
    paths = _files(tmp_path, linux_sync.SYNCFS_MIN_FILES)
    seen = _count_fdatasync(monkeypatch)
    platform.sync_files(paths)
    assert seen == [str(p) for p in paths]


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        platform.sync_files([tmp_path / "never-written"])
