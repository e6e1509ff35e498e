"""Where a run-length coded stream ends, for PCX and TGA pixel data.

Neither format stores the length of its pixel data: the end is where the packets have
produced every byte (PCX) or pixel (TGA) the header declares. `packets_end` reads the file
window by window and hands each window to the format's `scan`, which walks whole packets
in a tight loop of its own (one call per window, not per packet: the Python loop runs at
~10 MB/s and a call per packet would slow it by a third; the time budget bounds it).
"""

from __future__ import annotations

from collections.abc import Callable

from agent.inspect.reader import Reader

MAX_RLE_READ_BYTES = 1024 * 1024  # bytes of RLE data read at a time

# scan(window, done, total) -> (bytes of whole packets walked from the window's start,
# units done after them): stops at `total` units, at the window's end, or before a packet
# whose header runs past the window (it is read again at the next window's start)
Scan = Callable[[bytes, int, int], tuple[int, int]]


def packets_end(reader: Reader, start: int, total: int, scan: Scan) -> int | None:
    """Offset just past the packets from `start` that produce `total` units.

    None when the file ends first (no packet could be read at some position). A packet's
    data may reach past the window (a scan skips it unread), so the result can lie past
    the file's end; callers judge that as truncation.
    """
    pos, done = start, 0
    while done < total:
        reader.check_deadline()
        walked, done = scan(reader.read(pos, MAX_RLE_READ_BYTES), done, total)
        if walked == 0:
            return None  # the file ends inside the image data
        pos += walked
    return pos
