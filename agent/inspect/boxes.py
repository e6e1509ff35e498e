"""The ISO base media box header shared by ISO-BMFF (HEIF/AVIF/MP4/CR3), JPEG 2000 and JPEG XL.

ISO/IEC 14496-12 section 4.2 (and ISO/IEC 15444-1 Annex I.4, 18181-2): a box starts with
a 32-bit big-endian size and a four-byte type; size 1 means a 64-bit `largesize` follows the
type, size 0 means the box runs to the end of the enclosing space (the file, at top level).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.inspect.reader import Reader


@dataclass(frozen=True)
class BoxHeader:
    """One box header: its type, header length, end offset, and whether size was 0."""

    kind: bytes
    header: int  # bytes: 8, or 16 with a largesize
    end: int  # offset just past the box; may lie past the file (callers judge that)
    to_end: bool  # size 0: "to the end of the enclosing space"


def box_header(reader: Reader, pos: int, limit: int | None = None) -> BoxHeader | None:
    """The box header at `pos`, or None when there is none.

    `limit` is the end of the enclosing space (default: the file's end), which a size-0
    box reaches. None when the header is cut off, its type is not four printable ASCII
    bytes, or its size is smaller than the header itself.
    """
    stop = reader.size if limit is None else limit
    size = reader.u32be(pos)
    kind = reader.read(pos + 4, 4)
    if size is None or len(kind) < 4 or not all(0x20 <= b <= 0x7E for b in kind):
        return None
    header = 8
    if size == 1:
        large = reader.unpack(">Q", pos + 8)
        if large is None:
            return None
        size, header = large[0], 16
    elif size == 0:
        size = stop - pos
    if size < header:
        return None
    return BoxHeader(kind, header, pos + size, reader.u32be(pos) == 0)
