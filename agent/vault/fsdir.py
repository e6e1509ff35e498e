"""A folder opened without following a link at any component, and the file operations in it.

A privileged process that writes into (or deletes from) a folder another user controls must
not be steered elsewhere by a symbolic link in the path: `~/Downloads` replaced by a link to
`/etc`, or any parent swapped between a check and a write. `Folder.open(path)` walks the
path from `/`, opening each component relative to the previous one with
`O_DIRECTORY | O_NOFOLLOW` (the `openat` walk), so the folder it holds is the one the
components name; every later operation (create, link, unlink, stat) is relative to that
open folder (`dir_fd`), so renaming or replacing a component afterwards changes nothing.

Where the OS has no `dir_fd` support (Windows), `Folder` falls back to paths, after checking
that no component is a link or junction (agent.platform and the Windows service own the
stronger handle-based checks there).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import sys
from pathlib import Path

from agent.errors import VaultError
from agent.textsafe import safe_path

_O_BINARY = getattr(os, "O_BINARY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
DIR_FD_SUPPORTED = (
    sys.platform != "win32"
    and os.open in os.supports_dir_fd
    and os.link in os.supports_dir_fd
    and os.unlink in os.supports_dir_fd
)
READ_CHUNK_BYTES = 1024 * 1024  # bytes hashed per read
MAX_COMPONENTS = 4096  # path components walked at most (PATH_MAX / 1 byte names)


class Folder:
    """An open folder (a dir fd on POSIX). Use as a context manager; `close()` releases it."""

    def __init__(self, path: Path, fd: int | None, info: os.stat_result) -> None:
        self.path = path
        self.fd = fd
        self.info = info  # the folder's own stat (owner, mode), taken from the open fd

    @classmethod
    def open(cls, path: Path) -> Folder:
        """Open `path` (absolute) with no link followed at any component.

        VaultError naming the path when a component is a link, not a folder, or missing.
        """
        path = Path(os.path.normpath(Path(path).absolute()))
        if not DIR_FD_SUPPORTED:
            return cls._open_by_path(path)
        parts = path.parts
        if len(parts) > MAX_COMPONENTS:
            raise VaultError(f"{safe_path(path)} has too many components")
        flags = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
        fd = os.open(parts[0], flags)
        try:
            for part in parts[1:]:
                try:
                    following = os.open(part, flags, dir_fd=fd)
                except OSError as error:
                    raise _walk_error(path, part, error) from None
                os.close(fd)
                fd = following
            info = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, info)

    @classmethod
    def _open_by_path(cls, path: Path) -> Folder:  # pragma: no cover - Windows
        current = Path(path.anchor)
        for part in path.parts[1:]:
            current = current / part
            try:
                info = os.lstat(current)
            except OSError as error:
                raise _walk_error(path, part, error) from None
            reparse = getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0)
            if stat.S_ISLNK(info.st_mode) or getattr(info, "st_file_attributes", 0) & reparse:
                raise VaultError(f"{safe_path(path)}: {safe_path(part)} is a link; not followed")
            if not stat.S_ISDIR(info.st_mode):
                raise VaultError(f"{safe_path(path)}: {safe_path(part)} is not a folder")
        return cls(path, None, path.stat())

    def close(self) -> None:
        """Release the folder."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- operations inside the folder -----------------------------------------------------

    def lstat(self, name: str) -> os.stat_result | None:
        """The entry `name` (a link is not followed), or None when absent."""
        try:
            if self.fd is None:
                return os.lstat(self.path / name)
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def create(self, name: str, mode: int) -> int:
        """A new file `name` opened for writing; never an existing file or through a link."""
        _check_name(name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY | _O_CLOEXEC
        if self.fd is None:
            return os.open(self.path / name, flags, mode)
        return os.open(name, flags, mode, dir_fd=self.fd)

    def open_read(self, name: str) -> int:
        """`name` opened for reading, never through a link (ELOOP when it is one)."""
        _check_name(name)
        flags = os.O_RDONLY | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | _O_BINARY | _O_CLOEXEC
        if self.fd is None:
            return os.open(self.path / name, flags)
        return os.open(name, flags, dir_fd=self.fd)

    def link(self, source: str, target: str) -> None:
        """Give the file `source` a second name `target` (FileExistsError if taken)."""
        _check_name(source)
        _check_name(target)
        if self.fd is None:
            os.link(self.path / source, self.path / target, follow_symlinks=False)
            return
        os.link(source, target, src_dir_fd=self.fd, dst_dir_fd=self.fd, follow_symlinks=False)

    def rename_no_replace(self, source: str, target: str) -> None:
        """Rename where hard links do not exist; refuses (FileExistsError) an existing target."""
        if self.lstat(target) is not None:
            raise FileExistsError(errno.EEXIST, "exists", target)
        if self.fd is None:
            (self.path / source).rename(self.path / target)  # Windows rename never replaces
            return
        os.rename(source, target, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, name: str) -> None:
        """Remove the entry `name` (a link itself, never what it points to)."""
        _check_name(name)
        if self.fd is None:
            (self.path / name).unlink()
            return
        os.unlink(name, dir_fd=self.fd)

    def fsync(self) -> None:
        """Make the folder's entries durable (no-op where unsupported)."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self.fd)


def _check_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\0" in name or os.sep in name:
        raise VaultError(f"{safe_path(name)} is not a plain file name")


def _walk_error(path: Path, part: str, error: OSError) -> VaultError:
    if error.errno in (errno.ELOOP, errno.EMLINK):
        return VaultError(f"{safe_path(path)}: {safe_path(part)} is a link; links are not followed")
    if error.errno == errno.ENOTDIR:
        return VaultError(f"{safe_path(path)}: {safe_path(part)} is not a folder")
    if error.errno == errno.ENOENT:
        return VaultError(f"folder {safe_path(path)} does not exist")
    return VaultError(f"cannot open folder {safe_path(path)}: {error.strerror}")


def unlink_if_same_content(path: Path, size: int, sha256: str) -> bool:
    """Remove the regular file at `path` only if it holds `size` bytes hashing to `sha256`.

    No link is followed (not in the folder path, not at the name); the name must still be
    the file that was hashed. Returns True when it was removed.
    """
    try:
        folder = Folder.open(path.parent)
    except (VaultError, OSError):
        return False
    with folder:
        try:
            fd = folder.open_read(path.name)
        except OSError:
            return False
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size != size:
                return False
            hasher = hashlib.sha256()
            while chunk := handle.read(READ_CHUNK_BYTES):
                hasher.update(chunk)
        if hasher.hexdigest() != sha256:
            return False
        now = folder.lstat(path.name)
        if now is None or (now.st_dev, now.st_ino) != (info.st_dev, info.st_ino):
            return False
        folder.unlink(path.name)
        folder.fsync()
    return True
