"""A bounded, read-only view of a file for the format walkers.

Walkers never touch the file system: they get a `Reader`. Every read is clamped to the
file, so a length field that lies returns short data instead of raising, and whole-file
searches go window by window so that resident memory stays bounded even for files of
gigabytes (pages already searched are released with madvise).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import struct
import time
from collections.abc import Iterator
from typing import BinaryIO

from agent.inspect.limits import WINDOW_BYTES

_ZERO_CHUNK_BYTES = 1024 * 1024  # bytes compared at a time by first_non_zero
_ZERO_CHUNK = bytes(_ZERO_CHUNK_BYTES)


class BudgetExceeded(Exception):
    """Raised inside the engine when a file's time budget is spent; caught by the engine."""


class Reader:
    """Random access to untrusted bytes, clamped to the file size, with a deadline.

    Build one with `Reader.from_bytes` (tests, fuzzing) or `Reader.open_file`.
    Slicing (`reader[a:b]`) returns `bytes` and never raises for out-of-range indices.
    """

    def __init__(self, data: bytes | mmap.mmap, *, deadline: float | None = None) -> None:
        self._data = data
        self.size = len(data)
        self._deadline = deadline

    # --- construction -------------------------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes, *, deadline: float | None = None) -> Reader:
        """A reader over bytes already in memory."""
        return cls(bytes(data), deadline=deadline)

    @classmethod
    def open_file(
        cls, handle: BinaryIO, *, deadline: float | None = None, copy_below: int = 0
    ) -> Reader:
        """A reader over an open binary file, memory-mapped read-only (empty files too).

        Files smaller than `copy_below` bytes are read into memory instead: a mapping
        turns a concurrent truncation by another program into SIGBUS, which a long-running
        agent must not risk; a one-shot scan may prefer the speed of the mapping.
        """
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return cls(b"", deadline=deadline)
        if size < copy_below:
            return cls(os.pread(handle.fileno(), size, 0), deadline=deadline)
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        return cls(mapped, deadline=deadline)

    def close(self) -> None:
        """Release the mapping (no-op for in-memory data)."""
        if isinstance(self._data, mmap.mmap):
            self._data.close()

    # --- time budget --------------------------------------------------------------------

    def check_deadline(self) -> None:
        """Raise BudgetExceeded when the file's time budget is spent. Call it in loops."""
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise BudgetExceeded

    # --- reading ------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: slice) -> bytes:
        start, stop, _ = key.indices(self.size)
        if stop <= start:
            return b""
        return bytes(self._data[start:stop])

    def read(self, offset: int, length: int) -> bytes:
        """Up to `length` bytes at `offset`; shorter (or empty) at the end of the file."""
        if offset < 0 or length <= 0 or offset >= self.size:
            return b""
        return bytes(self._data[offset : min(self.size, offset + length)])

    def byte(self, offset: int) -> int | None:
        """The byte at `offset`, or None past the end."""
        if 0 <= offset < self.size:
            return self._data[offset]
        return None

    def unpack(self, fmt: str, offset: int) -> tuple[int, ...] | None:
        """`struct.unpack_from(fmt, ...)` at `offset`, or None when it would run past the end."""
        need = struct.calcsize(fmt)
        if offset < 0 or offset + need > self.size:
            return None
        return struct.unpack_from(fmt, self._data, offset)

    def u16be(self, offset: int) -> int | None:
        """Big-endian unsigned 16-bit integer, or None past the end."""
        v = self.unpack(">H", offset)
        return None if v is None else v[0]

    def u32be(self, offset: int) -> int | None:
        """Big-endian unsigned 32-bit integer, or None past the end."""
        v = self.unpack(">I", offset)
        return None if v is None else v[0]

    def u16le(self, offset: int) -> int | None:
        """Little-endian unsigned 16-bit integer, or None past the end."""
        v = self.unpack("<H", offset)
        return None if v is None else v[0]

    def u32le(self, offset: int) -> int | None:
        """Little-endian unsigned 32-bit integer, or None past the end."""
        v = self.unpack("<I", offset)
        return None if v is None else v[0]

    # --- searching ----------------------------------------------------------------------

    def find(self, needle: bytes, start: int = 0, end: int | None = None) -> int:
        """Offset of the first `needle` in [start, end), or -1. Runs in C (memchr speed)."""
        stop = self.size if end is None else min(end, self.size)
        if start >= stop:
            return -1
        return self._data.find(needle, max(0, start), stop)

    def rfind(self, needle: bytes, start: int = 0, end: int | None = None) -> int:
        """Offset of the last `needle` in [start, end), or -1."""
        stop = self.size if end is None else min(end, self.size)
        if start >= stop:
            return -1
        return self._data.rfind(needle, max(0, start), stop)

    def search(
        self, pattern: re.Pattern[bytes], start: int = 0, end: int | None = None
    ) -> re.Match[bytes] | None:
        """First regex match in [start, end) without copying the region.

        Match offsets are absolute file offsets. The pattern must not use ^ or lookbehind
        across `start`.
        """
        stop = self.size if end is None else min(end, self.size)
        if start >= stop:
            return None
        return pattern.search(self._data, max(0, start), stop)

    def finditer(
        self, pattern: re.Pattern[bytes], start: int = 0, end: int | None = None
    ) -> Iterator[re.Match[bytes]]:
        """All regex matches in [start, end), window by window, releasing searched pages.

        `pattern` should match short tokens (markers): a match that straddles a window
        boundary is found because windows overlap by 4 KiB.
        """
        stop = self.size if end is None else min(end, self.size)
        pos = max(0, start)
        overlap = 4096
        last_end = -1
        while pos < stop:
            self.check_deadline()
            window_stop = min(stop, pos + WINDOW_BYTES)
            scan_stop = min(stop, window_stop + overlap)
            for match in pattern.finditer(self._data, pos, scan_stop):
                if match.start() >= window_stop:
                    break
                if match.start() >= last_end:
                    last_end = match.end()
                    yield match
            self.release(pos, window_stop)
            pos = window_stop

    def first_non_zero(self, start: int, stop: int) -> int:
        """Offset of the first non-zero byte in [start, stop), or -1 when it is all zeros.

        Chunk by chunk with memcmp against a zero buffer (several GB/s) and the searched
        pages released, so a 2 GB zero-padded file costs a fraction of a second and little
        memory (a regex `[^\\x00]` over the whole map is ~40x slower and keeps it resident).
        """
        position, stop = max(0, start), min(stop, self.size)
        while position < stop:
            self.check_deadline()
            chunk_end = min(stop, position + _ZERO_CHUNK_BYTES)
            chunk = self.read(position, chunk_end - position)
            if chunk != _ZERO_CHUNK[: len(chunk)]:
                return position + len(chunk) - len(chunk.lstrip(b"\x00"))
            if chunk_end % WINDOW_BYTES < _ZERO_CHUNK_BYTES:
                self.release(max(0, chunk_end - WINDOW_BYTES), chunk_end)
            position = chunk_end
        return -1

    def release(self, start: int, end: int) -> None:
        """Tell the OS the pages in [start, end) will not be needed again (large files)."""
        if not isinstance(self._data, mmap.mmap) or self.size < 2 * WINDOW_BYTES:
            return
        page = mmap.PAGESIZE
        aligned = start - start % page
        length = end - aligned
        if length > 0 and hasattr(mmap, "MADV_DONTNEED"):
            with contextlib.suppress(OSError, ValueError):  # advisory only
                self._data.madvise(mmap.MADV_DONTNEED, aligned, length)
