"""The ISO box header helper shared by the ISO-BMFF, JPEG 2000 and JPEG XL walkers."""

from __future__ import annotations

import struct

from agent.inspect.boxes import BoxHeader, box_header
from agent.inspect.reader import Reader


def _at(data: bytes, pos: int = 0, limit: int | None = None) -> BoxHeader | None:
    return box_header(Reader.from_bytes(data), pos, limit)


def test_32_bit_size() -> None:
    data = struct.pack(">I", 12) + b"ftyp" + b"heic" + b"tail"
    assert _at(data) == BoxHeader(b"ftyp", 8, 12, False)


def test_64_bit_largesize_follows_the_type() -> None:
    data = struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", 40) + bytes(24)
    assert _at(data) == BoxHeader(b"mdat", 16, 40, False)
    assert _at(data[:12]) is None  # the largesize is cut off


def test_size_zero_runs_to_the_end_of_the_enclosing_space() -> None:
    data = bytes(4) + struct.pack(">I", 0) + b"jp2c" + bytes(20)
    assert _at(data, 4) == BoxHeader(b"jp2c", 8, 32, True)
    assert _at(data, 4, limit=20) == BoxHeader(b"jp2c", 8, 20, True)


def test_no_box_where_size_or_type_is_impossible() -> None:
    assert _at(struct.pack(">I", 7) + b"free") is None  # smaller than its own header
    assert _at(struct.pack(">I", 1) + b"free" + struct.pack(">Q", 15)) is None
    assert _at(struct.pack(">I", 8) + b"fr\x00e") is None  # not printable ASCII
    assert _at(struct.pack(">I", 8) + b"fre") is None  # cut off
    # a size past the file is a box that runs past it: the walkers report truncation
    assert _at(struct.pack(">I", 100) + b"moov") == BoxHeader(b"moov", 8, 100, False)
