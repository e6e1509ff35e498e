"""agent.platform: the portable and POSIX implementations, and Windows' string rules."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import platform
from agent.platform.portable import PortablePlatform, ReopenSourceFile
from agent.platform.wintext import (
    EXTENDED_PATH_FROM_CHARS,
    NOTIFY_INFO_UNITS,
    cut_utf16,
    extended_path,
    utf16_units,
)
from agent.service.lock import AgentLock, read_lock_pid

DATA = bytes(range(256)) * 64  # 16 KiB with a different byte at every offset mod 256


@pytest.fixture
def data_fd(tmp_path: Path) -> Iterator[int]:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    fd = os.open(path, os.O_RDONLY)
    yield fd
    os.close(fd)


@pytest.mark.parametrize("impl", [PortablePlatform(), platform.select()], ids=["portable", "os"])
@pytest.mark.parametrize(
    ("size", "offset"), [(10, 0), (1, 16383), (100, 16380), (0, 5), (50, 16384), (50, 99999)]
)
def test_read_at_returns_the_bytes_at_the_offset(
    impl: platform.Platform, data_fd: int, size: int, offset: int
) -> None:
    assert impl.read_at(data_fd, size, offset) == DATA[offset : offset + size]


def test_portable_read_at_is_safe_across_threads(data_fd: int) -> None:
    impl = PortablePlatform()
    wrong: list[int] = []

    def reader(offset: int) -> None:
        for _ in range(300):
            if impl.read_at(data_fd, 7, offset) != DATA[offset : offset + 7]:
                wrong.append(offset)

    threads = [threading.Thread(target=reader, args=(o,)) for o in (0, 3000, 9000, 16000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_entry_inode_is_the_files_identity(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    with os.scandir(tmp_path) as listing:
        (entry,) = list(listing)
    assert platform.entry_inode(entry) == os.lstat(tmp_path / "a.jpg").st_ino != 0


def test_lock_keeps_the_pid_readable_and_excludes_a_second_holder(tmp_path: Path) -> None:
    with AgentLock(tmp_path) as lock:
        assert read_lock_pid(lock.path) == os.getpid()
        probe = (
            "import os, sys; from agent import platform;"
            "fd = os.open(sys.argv[1], os.O_RDWR);"
            "print(platform.lock_fd(fd, blocking=False), os.read(fd, 32).decode())"
        )
        out = subprocess.run(
            [sys.executable, "-c", probe, str(lock.path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert out == ["False", str(os.getpid())]


def test_reopen_source_deletes_only_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    path.write_bytes(b"first")
    source = ReopenSourceFile(path)
    assert platform.read_at(source.fd, 5, 0) == b"first"
    path.unlink()
    path.write_bytes(b"other version")  # a new file under the same name
    with pytest.raises(OSError, match="changed"):
        source.delete()
    assert path.read_bytes() == b"other version"
    same = ReopenSourceFile(path)
    same.delete()
    assert not path.exists()


@pytest.mark.parametrize("make", [ReopenSourceFile, platform.open_source])
def test_a_symlink_is_never_opened_as_a_source(tmp_path: Path, make: object) -> None:
    (tmp_path / "target.jpg").write_bytes(b"t")
    (tmp_path / "link.jpg").symlink_to(tmp_path / "target.jpg")
    with pytest.raises(OSError):
        make(tmp_path / "link.jpg")  # type: ignore[operator]


def test_extended_paths_only_from_the_limit_on() -> None:
    short = "C:\\Users\\fd\\Downloads\\a.jpg"
    assert extended_path(short) == short
    long_name = "C:\\Users\\fd\\Downloads\\" + "x" * (EXTENDED_PATH_FROM_CHARS - 22) + ".jpg"
    assert len(long_name) >= EXTENDED_PATH_FROM_CHARS
    assert extended_path(long_name) == "\\\\?\\" + long_name
    assert extended_path(long_name.replace("\\", "/")) == "\\\\?\\" + long_name
    unc = "\\\\server\\share\\" + "y" * 260
    assert extended_path(unc) == "\\\\?\\UNC\\server\\share\\" + "y" * 260
    assert extended_path("\\\\?\\" + long_name) == "\\\\?\\" + long_name
    relative = "Downloads\\" + "z" * 300
    assert extended_path(relative) == relative  # the prefix would change its meaning
    dotted = "C:\\a\\..\\" + "b" * 300
    assert extended_path(dotted) == "\\\\?\\C:\\" + "b" * 300  # normalized first


def test_notification_text_is_cut_in_utf16_units() -> None:
    assert utf16_units("a\U0001f600") == 3  # an emoji outside the BMP is two units
    text = "\U0001f600" * 200  # 400 units, 200 characters
    cut = cut_utf16(text, NOTIFY_INFO_UNITS)
    assert utf16_units(cut) <= NOTIFY_INFO_UNITS
    assert cut.endswith("\u2026") and cut[:-1] == "\U0001f600" * 127  # never half a pair
    assert cut_utf16("short", NOTIFY_INFO_UNITS) == "short"


UNIX_ONLY = {
    ("os", "pread"), ("os", "pwrite"), ("os", "setxattr"), ("os", "getxattr"),
    ("os", "set_blocking"), ("mmap", "MADV_DONTNEED"), ("mmap", "madvise"),
}  # fmt: skip
UNIX_ONLY_MODULES = {"resource", "fcntl", "msvcrt", "winreg"}
# Modules outside agent/platform allowed an OS-specific import (each guarded by sys.platform).
OS_MODULE_IMPORTERS = {
    "agent/policy/registry.py": {"winreg"},  # HKLM policy (itops)
    "agent/service/folders.py": {"winreg"},  # Outlook's secure temp folder from HKCU
    "agent/service/winpipe.py": {"msvcrt"},  # protected mode's named pipe (Windows-only module)
}


def test_no_unix_only_call_outside_the_platform_package() -> None:
    import ast

    root = Path(__file__).resolve().parent.parent
    offenders = []
    for path in sorted((root / "agent").rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith("agent/platform/"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        allowed = OS_MODULE_IMPORTERS.get(relative, set())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if (node.value.id, node.attr) in UNIX_ONLY:
                    offenders.append(f"{relative}:{node.lineno} {node.value.id}.{node.attr}")
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
                for name in names:
                    if name in UNIX_ONLY_MODULES and name not in allowed:
                        offenders.append(f"{relative}:{node.lineno} import {name}")
    assert offenders == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX source files")
def test_a_removed_sources_descriptor_is_closed_off_the_callers_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.platform.posix import REMOVED_FILES, DirFdSourceFile

    kept, removed = tmp_path / "kept.jpg", tmp_path / "removed.jpg"
    kept.write_bytes(b"kept")
    removed.write_bytes(b"removed")
    closed_here = DirFdSourceFile(kept)
    closed_later = DirFdSourceFile(removed)
    watched = {closed_here.fd: "kept", closed_later.fd: "removed"}
    closers: dict[str, str] = {}
    real_close = os.close

    def recording_close(fd: int) -> None:
        if fd in watched:
            closers[watched[fd]] = threading.current_thread().name
        real_close(fd)

    monkeypatch.setattr(os, "close", recording_close)
    closed_later.delete()
    closed_here.close()
    closed_later.close()
    closed_later.close()  # idempotent
    REMOVED_FILES.drain()
    monkeypatch.undo()
    assert closers == {"kept": threading.current_thread().name, "removed": "photogate-closer"}
    for fd in watched:
        with pytest.raises(OSError):
            os.fstat(fd)
    assert kept.read_bytes() == b"kept" and not removed.exists()
