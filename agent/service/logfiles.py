"""Log files that are private and never print a traceback when the disk says no.

The audit log and the agent log name patients' files: they are created 0600 in a 0700
folder. A full or read-only disk is an expected condition, not a bug: the standard
handler answers a failed write with "--- Logging error ---" and a traceback on stderr
for every record. These handlers keep the failure as one plain line (`problem`), which
the agent shows in `status`, and clear it when a write succeeds again.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
from pathlib import Path

DIR_MODE = 0o700  # the home and the log folder: only the user (or the service account)
FILE_MODE = 0o600  # every log file


def private_dir(folder: Path) -> None:
    """Create `folder` (and parents) and make it 0700, best effort on systems without modes."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        with contextlib.suppress(OSError):  # not ours: the files themselves are still 0600
            folder.chmod(DIR_MODE)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A RotatingFileHandler whose files are 0600 and whose failures are one plain line."""

    def __init__(self, filename: Path, *, max_bytes: int, backups: int) -> None:
        self.problem: str | None = None  # why the last write failed, until one succeeds
        self._failed = False
        super().__init__(
            filename, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=False
        )

    def _open(self):  # type: ignore[no-untyped-def]  # the stdlib's own signature
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self.baseFilename, flags, FILE_MODE)
        if sys.platform != "win32":
            os.fchmod(fd, FILE_MODE)  # an older file created 0644 is closed down too
        return open(fd, "a", encoding=self.encoding, errors=self.errors)

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record; on failure remember why instead of printing a traceback."""
        self._failed = False
        try:
            if self.shouldRollover(record):
                self.doRollover()
            logging.FileHandler.emit(self, record)  # calls handleError itself on failure
            self.flush()
        except Exception as error:
            self.handleError(record, error)
        if not self._failed:
            self.problem = None

    def handleError(self, record: logging.LogRecord, error: BaseException | None = None) -> None:
        """A failed write: one plain line on stderr the first time, none after."""
        del record
        self._failed = True
        failure = error if error is not None else sys.exc_info()[1]
        strerror = getattr(failure, "strerror", None) or failure
        problem = f"cannot write {Path(self.baseFilename).name}: {strerror}"
        if problem != self.problem:
            self.problem = problem
            with contextlib.suppress(OSError, ValueError):  # stderr may be a closed pipe
                sys.stderr.write(f"photogate: {problem}\n")
        if self.stream is not None:  # reopen on the next record (space may come back)
            with contextlib.suppress(OSError):
                self.stream.close()
            self.stream = None
