"""The file being quarantined: opened once, never through a link, removed only if unchanged.

The OS-specific part is `agent.platform.open_source`: on POSIX the file is opened relative
to its opened folder (openat/unlinkat); on Windows with CreateFileW sharing read/delete,
without following reparse points, and deleted through that same handle. Errors keep their
OSError as `__cause__`, so the service can tell "in use by another program" (retry later)
from a real failure.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from agent import platform
from agent.errors import VaultError
from agent.platform.portable import is_link_or_reparse
from agent.textsafe import safe_path


class OriginFile:
    """The file being quarantined, opened once without following links."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._source: platform.SourceFile | None = None

    def __enter__(self) -> OriginFile:
        try:
            first = self.path.lstat()
        except FileNotFoundError:
            raise VaultError(f"{safe_path(self.path)} does not exist") from None
        except OSError as error:
            raise VaultError(f"cannot open {safe_path(self.path)}: {error.strerror}") from error
        if is_link_or_reparse(first):
            raise VaultError(f"{safe_path(self.path)} is a link; links are never followed")
        if not stat.S_ISREG(first.st_mode):
            raise VaultError(f"{safe_path(self.path)} is not a regular file")
        try:
            self._source = platform.open_source(self.path)
        except OSError as error:
            raise VaultError(f"cannot open {safe_path(self.path)}: {error.strerror}") from error
        self.stat_open = self._source.stat_open
        if not stat.S_ISREG(self.stat_open.st_mode):
            self.__exit__()
            raise VaultError(f"{safe_path(self.path)} is not a regular file")
        self._reader = open(self._source.fd, "rb", closefd=False)
        return self

    def __exit__(self, *_: object) -> None:
        reader = getattr(self, "_reader", None)
        if reader is not None:
            reader.close()  # closefd=False: the source closes the descriptor
        if self._source is not None:
            self._source.close()
            self._source = None

    def reader(self) -> Any:
        """A binary reader on the open file (positioned at its start)."""
        return self._reader

    def still_same(self) -> bool:
        """True when the name still holds the file we read, unchanged (identity, size, mtime)."""
        return self._source is not None and self._source.still_same()

    def unlink(self) -> None:
        """Remove exactly the file we read (through its handle where the OS allows it).

        Durable only after `sync_folder` (a batch from one folder syncs it once)."""
        if self._source is None:
            raise VaultError(f"{safe_path(self.path)} is not open")
        if self._reader is not None:
            self._reader.close()  # the descriptor may be closed by the delete (Windows)
        self._source.delete()

    def sync_folder(self) -> None:
        """Make the removal durable: the folder we opened the file in is synced."""
        if self._source is not None:
            self._source.sync_folder()
