"""A bounded, read-only view of a file for the format walkers.

Walkers never touch the file system: they get a `Reader`. Every read is clamped to the
file, so a length field that lies returns short data instead of raising. A file is never
memory-mapped: another program may truncate it at any moment, and a mapping turns that
into SIGBUS, which kills the whole agent. Instead the file is read with positional reads
into a few cached windows of WINDOW_BYTES (a small file is one window), so resident
memory stays bounded for files of gigabytes, and a read that comes back shorter than the
size the file had when it was opened raises `FileChanged` (the engine turns that into a
`scan.read_error` finding; the service re-judges the new version).
"""

from __future__ import annotations

import os
import re
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from agent import platform
from agent.inspect.limits import WINDOW_BYTES

_ZERO_CHUNK_BYTES = 1024 * 1024  # bytes compared at a time by first_non_zero
_ZERO_CHUNK = bytes(_ZERO_CHUNK_BYTES)
WINDOW_SPAN_BYTES = 64 * 1024  # bytes a window reaches past its step, so short reads fit one
MAX_CACHED_WINDOWS = 3  # windows kept in memory at once (about 48 MiB at most)
SEARCH_OVERLAP_BYTES = 4096  # bytes: a regex match starting in a window may run this far past it
CONFIRM_DEADLINE_STEP = 4096  # candidates confirmed between two deadline checks


# (buffer, begin, step_end, scan_end) -> offsets in [begin, step_end) where a match may start
CandidateFinder = Callable[[bytes, int, int, int], Iterable[int]]


class BudgetExceeded(Exception):
    """Raised inside the engine when a file's time budget is spent; caught by the engine."""


class FileChanged(OSError):
    """A positional read came back shorter than the file's size at open: it was truncated."""


def read_at(fd: int, length: int, offset: int) -> bytes:
    """Up to `length` bytes at `offset` of an open descriptor, without a shared file position.

    `agent.platform.read_at`: pread on POSIX, a locked seek and read on Windows. Loops over
    short reads; returns fewer bytes only at the end of the file.
    """
    return platform.read_at(fd, length, offset)


class ReaderMatch:
    """A regex match with absolute file offsets (the part of `re.Match` walkers use)."""

    __slots__ = ("_base", "_match")

    def __init__(self, match: re.Match[bytes], base: int) -> None:
        self._match = match
        self._base = base

    def start(self, group: int | str = 0) -> int:
        """Absolute offset where the match (or `group`) starts."""
        return self._base + self._match.start(group)

    def end(self, group: int | str = 0) -> int:
        """Absolute offset where the match (or `group`) ends."""
        return self._base + self._match.end(group)

    def group(self, group: int | str = 0) -> bytes:
        """The matched bytes (or those of `group`)."""
        found = self._match.group(group)
        return found if isinstance(found, bytes) else b""

    @property
    def lastgroup(self) -> str | None:
        """The name of the last named group that matched."""
        return self._match.lastgroup


class Reader:
    """Random access to untrusted bytes, clamped to the file size, with a deadline.

    Build one with `Reader.from_bytes` (tests, fuzzing) or `Reader.open_file`.
    Slicing (`reader[a:b]`) returns `bytes` and never raises for out-of-range indices.
    """

    def __init__(self, data: bytes, *, deadline: float | None = None) -> None:
        self._data: bytes | None = data
        self._fd: int | None = None
        self.size = len(data)
        self._deadline = deadline
        self._windows: OrderedDict[int, bytes] = OrderedDict()

    # --- construction -------------------------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes, *, deadline: float | None = None) -> Reader:
        """A reader over bytes already in memory."""
        return cls(bytes(data), deadline=deadline)

    @classmethod
    def open_file(cls, handle: BinaryIO, *, deadline: float | None = None) -> Reader:
        """A reader over an open binary file, read by positional windows (never mapped).

        The size is taken now; the caller keeps `handle` open while the reader is used.
        """
        return cls.over_descriptor(handle.fileno(), os.fstat(handle.fileno()).st_size, deadline)

    @classmethod
    def over_descriptor(cls, fd: int, size: int, deadline: float | None = None) -> Reader:
        """A reader over `size` bytes of the open descriptor `fd` (the caller closes it)."""
        reader = cls(b"", deadline=deadline)
        reader._data = None
        reader._fd = fd
        reader.size = size
        return reader

    def close(self) -> None:
        """Drop the cached windows (the descriptor belongs to the caller)."""
        self._windows.clear()
        if self._fd is not None:
            self._data = None

    # --- time budget --------------------------------------------------------------------

    @property
    def deadline(self) -> float | None:
        """The monotonic time after which `check_deadline` raises (None: no budget)."""
        return self._deadline

    def check_deadline(self) -> None:
        """Raise BudgetExceeded when the file's time budget is spent. Call it in loops."""
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise BudgetExceeded

    # --- windows ------------------------------------------------------------------------

    def _window(self, index: int) -> bytes:
        """Window `index`: bytes [index*W, index*W + W + SPAN) of the file, cached."""
        cached = self._windows.get(index)
        if cached is not None:
            self._windows.move_to_end(index)
            return cached
        start = index * WINDOW_BYTES
        want = min(self.size, start + WINDOW_BYTES + WINDOW_SPAN_BYTES) - start
        data = self._pread(start, want)
        if index == 0 and want == self.size:
            # The whole file fits in its first window: from now on it is read like bytes in
            # memory (no window lookup per read; `close` drops it).
            self._data = data
            return data
        self._windows[index] = data
        while len(self._windows) > MAX_CACHED_WINDOWS:
            self._windows.popitem(last=False)
        return data

    def _pread(self, offset: int, length: int) -> bytes:
        assert self._fd is not None
        data = read_at(self._fd, length, offset)
        if len(data) < length:
            raise FileChanged(
                0, f"the file shrank while it was read (short read at {offset + len(data)})"
            )
        return data

    def _bytes(self, start: int, stop: int) -> bytes:
        """Exactly the bytes [start, stop) (already clamped by the caller)."""
        if self._data is not None:
            return self._data[start:stop]
        index = start // WINDOW_BYTES
        base = index * WINDOW_BYTES
        if stop <= base + WINDOW_BYTES + WINDOW_SPAN_BYTES:
            return self._window(index)[start - base : stop - base]
        return self._pread(start, stop - start)  # a long read: straight from the file

    def _windows_over(self, start: int, stop: int) -> Iterator[tuple[int, bytes]]:
        """(base, window) for every window whose step holds an offset in [start, stop)."""
        if self._data is not None:
            yield 0, self._data
            return
        for index in range(start // WINDOW_BYTES, (stop - 1) // WINDOW_BYTES + 1):
            yield index * WINDOW_BYTES, self._window(index)

    # --- reading ------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: slice) -> bytes:
        start, stop, _ = key.indices(self.size)
        if stop <= start:
            return b""
        return self._bytes(start, stop)

    def read(self, offset: int, length: int) -> bytes:
        """Up to `length` bytes at `offset`; shorter (or empty) at the end of the file."""
        if offset < 0 or length <= 0 or offset >= self.size:
            return b""
        return self._bytes(offset, min(self.size, offset + length))

    def byte(self, offset: int) -> int | None:
        """The byte at `offset`, or None past the end."""
        if 0 <= offset < self.size:
            return self._bytes(offset, offset + 1)[0]
        return None

    def unpack(self, fmt: str, offset: int) -> tuple[int, ...] | None:
        """`struct.unpack_from(fmt, ...)` at `offset`, or None when it would run past the end."""
        need = struct.calcsize(fmt)
        if offset < 0 or offset + need > self.size:
            return None
        return struct.unpack(fmt, self._bytes(offset, offset + need))

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
        """Offset of the first `needle` in [start, end), or -1. Runs in C (memchr speed).

        Needles are short signatures (at most WINDOW_SPAN_BYTES), so one window holds any
        occurrence that starts in its step.
        """
        start = max(0, start)
        stop = self.size if end is None else min(end, self.size)
        if start >= stop:
            return -1
        for base, window in self._windows_over(start, stop):
            reach = min(stop, base + WINDOW_BYTES + len(needle) - 1) - base
            if self._data is not None:
                reach = stop
            found = window.find(needle, start - base if start > base else 0, reach)
            if found >= 0:
                return base + found
            self.check_deadline()
        return -1

    def rfind(self, needle: bytes, start: int = 0, end: int | None = None) -> int:
        """Offset of the last `needle` in [start, end), or -1."""
        start = max(0, start)
        stop = self.size if end is None else min(end, self.size)
        if start >= stop:
            return -1
        if self._data is not None:
            return self._data.rfind(needle, start, stop)
        for index in range((stop - 1) // WINDOW_BYTES, start // WINDOW_BYTES - 1, -1):
            base = index * WINDOW_BYTES
            window = self._window(index)
            reach = min(stop, base + WINDOW_BYTES + len(needle) - 1) - base
            found = window.rfind(needle, max(0, start - base), reach)
            if found >= 0:
                return base + found
            self.check_deadline()
        return -1

    def search(
        self, pattern: re.Pattern[bytes], start: int = 0, end: int | None = None
    ) -> ReaderMatch | None:
        """First regex match in [start, end); offsets are absolute file offsets.

        The pattern must match short tokens (at most SEARCH_OVERLAP_BYTES) and must not use
        ^ or lookbehind across `start`.
        """
        start = max(0, start)
        stop = self.size if end is None else min(end, self.size)
        if start >= stop:
            return None
        for base, window in self._windows_over(start, stop):
            step_end = stop if self._data is not None else min(stop, base + WINDOW_BYTES)
            reach = min(stop, step_end + SEARCH_OVERLAP_BYTES) - base
            match = pattern.search(window, max(0, start - base), reach)
            if match is not None and base + match.start() < step_end:
                return ReaderMatch(match, base)
            self.check_deadline()
        return None

    def finditer(
        self, pattern: re.Pattern[bytes], start: int = 0, end: int | None = None
    ) -> Iterator[ReaderMatch]:
        """All regex matches in [start, end), window by window, releasing searched windows.

        `pattern` should match short tokens (markers): a match that straddles a window
        boundary is found because windows overlap by SEARCH_OVERLAP_BYTES.
        """
        last_end = -1
        for base, buffer, begin, step_end, scan_end in self._search_steps(start, end):
            for match in pattern.finditer(buffer, begin, scan_end):
                if match.start() >= step_end:
                    break
                if base + match.start() >= last_end:  # not inside the last window's match
                    last_end = base + match.end()
                    yield ReaderMatch(match, base)

    def confirmed_matches(
        self,
        candidates: CandidateFinder,
        confirm: re.Pattern[bytes],
        start: int = 0,
        end: int | None = None,
    ) -> Iterator[ReaderMatch]:
        """Matches of `confirm` in [start, end) tried only where `candidates` points.

        `candidates(buffer, begin, step_end, scan_end)` lists, in increasing order, the
        offsets in [begin, step_end) of `buffer` where a match may start (a fast multi-
        needle search); each is tried with `confirm.match` up to `scan_end`, and the
        confirmed matches (non-overlapping, left to right) are yielded. This finds exactly
        what a plain `confirm` search would, provided every match of `confirm` starts at a
        candidate, and it is faster when `confirm` is an alternation that SRE would
        otherwise enter at every occurrence of its first byte.
        """
        last_end = -1
        for base, buffer, begin, step_end, scan_end in self._search_steps(start, end):
            for tried, offset in enumerate(candidates(buffer, begin, step_end, scan_end)):
                if tried % CONFIRM_DEADLINE_STEP == CONFIRM_DEADLINE_STEP - 1:
                    self.check_deadline()  # a window full of candidates is slow to confirm
                if base + offset < last_end:
                    continue  # inside the previous match (a plain search skips it too)
                match = confirm.match(buffer, offset, scan_end)
                if match is not None:
                    last_end = base + match.end()
                    yield ReaderMatch(match, base)

    def _search_steps(
        self, start: int, end: int | None
    ) -> Iterator[tuple[int, bytes, int, int, int]]:
        """(base, buffer, begin, step_end, scan_end) per window step of [start, end).

        Offsets are into `buffer` (file offset = base + offset): a search looks for matches
        starting in [begin, step_end) and may read up to scan_end, SEARCH_OVERLAP_BYTES past
        the step, so a token straddling the edge is found. The buffer is the cached window
        itself (no copy); windows wholly searched are released after their step.
        """
        stop = self.size if end is None else min(end, self.size)
        pos = max(0, start)
        while pos < stop:
            self.check_deadline()
            window_stop = min(stop, (pos // WINDOW_BYTES + 1) * WINDOW_BYTES)
            scan_stop = min(stop, window_stop + SEARCH_OVERLAP_BYTES)
            if self._data is not None:
                base, buffer = 0, self._data
            else:
                # the window holding pos reaches WINDOW_SPAN_BYTES (> SEARCH_OVERLAP_BYTES)
                # past its step, so scan_stop is inside it: search it in place, no copy
                index = pos // WINDOW_BYTES
                base, buffer = index * WINDOW_BYTES, self._window(index)
            yield base, buffer, pos - base, window_stop - base, scan_stop - base
            self.release(pos, window_stop)
            pos = window_stop

    def first_non_zero(self, start: int, stop: int) -> int:
        """Offset of the first non-zero byte in [start, stop), or -1 when it is all zeros.

        Chunk by chunk with memcmp against a zero buffer (several GB/s), releasing the
        windows already searched, so a 2 GB zero-padded file costs little memory.
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
        """Forget cached windows wholly inside [start, end): they will not be needed again."""
        if self._data is not None:
            return
        for index in list(self._windows):
            base = index * WINDOW_BYTES
            if base >= start and base + WINDOW_BYTES <= end:
                del self._windows[index]
