"""A bounded on-disk queue of messages for a sink whose receiver may be down.

One file per message, named by a sequence number, so order survives a restart and taking the
oldest costs one `unlink`. The spool is bounded by count and by bytes; when full, the OLDEST
messages are dropped (the newest say the most about what is happening now) and the number
dropped is counted, so the sink can report it as an `events_dropped` event once the receiver
is back. Files are 0600 in a 0700 folder: messages carry what events carry.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from pathlib import Path

SPOOL_MAX_MESSAGES = 20_000  # messages kept while the receiver is down
SPOOL_MAX_BYTES = 16 * 1024**2  # bytes of messages kept while the receiver is down
_SUFFIX = ".msg"
_SEQUENCE_DIGITS = 16


class Spool:
    """FIFO of byte messages in a folder; thread-safe; never raises for disk trouble."""

    def __init__(
        self,
        folder: Path,
        *,
        max_messages: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self.folder = folder
        self.max_messages = SPOOL_MAX_MESSAGES if max_messages is None else max_messages
        self.max_bytes = SPOOL_MAX_BYTES if max_bytes is None else max_bytes
        self._lock = threading.Lock()
        self._queue: deque[tuple[int, int]] = deque()  # (sequence, size), oldest first
        self._bytes = 0
        self._next = 0
        self.dropped = 0  # dropped since the last `take_dropped`
        self.disk_error: str | None = None
        self._open()

    def _open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            names = sorted(p.name for p in self.folder.iterdir() if p.name.endswith(_SUFFIX))
        except OSError as error:
            self.disk_error = f"cannot use the spool folder: {error.strerror or error}"
            return
        for name in names:
            try:
                sequence = int(name[: -len(_SUFFIX)])
                size = (self.folder / name).stat().st_size
            except (ValueError, OSError):
                continue
            self._queue.append((sequence, size))
            self._bytes += size
            self._next = max(self._next, sequence + 1)

    def _path(self, sequence: int) -> Path:
        return self.folder / f"{sequence:0{_SEQUENCE_DIGITS}d}{_SUFFIX}"

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)

    def put(self, message: bytes) -> None:
        """Append one message; drops the oldest ones when the spool is full."""
        with self._lock:
            sequence = self._next
            self._next += 1
            path = self._path(sequence)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(message)
            except OSError as error:
                self.disk_error = f"cannot write the spool: {error.strerror or error}"
                self.dropped += 1
                with contextlib.suppress(OSError):
                    path.unlink()
                return
            self.disk_error = None
            self._queue.append((sequence, len(message)))
            self._bytes += len(message)
            while self._queue and (
                len(self._queue) > self.max_messages or self._bytes > self.max_bytes
            ):
                self._remove_oldest_locked()
                self.dropped += 1

    def peek(self) -> bytes | None:
        """The oldest message, or None when the spool is empty."""
        with self._lock:
            while self._queue:
                sequence, _size = self._queue[0]
                try:
                    return self._path(sequence).read_bytes()
                except OSError:
                    self._remove_oldest_locked()  # vanished or unreadable: skip it
            return None

    def pop(self) -> None:
        """Remove the oldest message (after it was delivered)."""
        with self._lock:
            if self._queue:
                self._remove_oldest_locked()

    def take_dropped(self) -> int:
        """How many messages were dropped since the last call (and reset the count)."""
        with self._lock:
            count, self.dropped = self.dropped, 0
            return count

    def _remove_oldest_locked(self) -> None:
        sequence, size = self._queue.popleft()
        self._bytes -= size
        with contextlib.suppress(OSError):
            self._path(sequence).unlink()
