"""Samsung trailer (SEF): the motion-photo video, timestamps and audio Samsung phones append.

Layout (lib/Image/ExifTool/Samsung.pm, ProcessSamsung; research/detection.md §2.2):
blocks read backwards from the end, each `[data][length u32le][type, 4 ASCII]`. The SEFT
block's data is the SEFH directory: "SEFH", version, count, then 12-byte entries
`[00 00][record type u16le][offset back from SEFH u32le][size u32le]`; each record is
`[00 00][type u16le][name length u32le][name][data]`. A file ends "\\0\\0SEFT" (the
directory block is last) or "\\0\\0QDIOBS" ("Sound & Shot": a QDIO block after the
directory block, then the two bytes "BS").
"""

from __future__ import annotations

import re
import struct

from agent.inspect.jpeg.claims import Claims, bmff_extent
from agent.inspect.reader import Reader

MAX_SEF_ENTRIES = 256  # Samsung SEFH directory entries
MAX_SEF_NAME_BYTES = 256  # bytes of one SEF record name ("MotionPhoto_Data")
SAMSUNG_BLOCK_LIMIT_BYTES = 0x10000  # ProcessSamsung reads only blocks shorter than this
MAX_SAMSUNG_BLOCKS = 16  # blocks walked backwards before the directory (one QDIO is seen)
QDIO_DATA_BYTES = 20  # "QDIO", version, 1, audio start, audio end (ProcessSamsung comment)

TRAILER_NAME = "Samsung SEF trailer"
_RECORD_NAME = re.compile(rb"[A-Za-z0-9_]+")


def samsung_trailer(reader: Reader, claims: Claims, tail: int) -> int | None:
    """Samsung trailer ending at `tail`: its start, or None when the footer is not there."""
    if reader.read(tail - 6, 6) == b"\x00\x00SEFT":
        return _seft(reader, claims, tail)
    if reader.read(tail - 8, 8) != b"\x00\x00QDIOBS":
        return None
    block_end = tail - 2  # "BS" follows the last block
    for _ in range(MAX_SAMSUNG_BLOCKS):
        length = reader.u32le(block_end - 8)
        block_type = reader.read(block_end - 4, 4)
        if length is None:
            return None
        data_start = block_end - 8 - length
        if not 4 <= length < SAMSUNG_BLOCK_LIMIT_BYTES or data_start < claims.eoi_end:
            return None
        if block_type == b"SEFT":
            break
        # ExifTool skips unknown blocks when reading; the only one ever seen is QDIO, so
        # only a QDIO block of its documented shape is let through here.
        if (
            block_type != b"QDIO"
            or length != QDIO_DATA_BYTES
            or reader.read(data_start, 4) != b"QDIO"
        ):
            return None
        block_end = data_start
    else:
        return None
    start = _seft(reader, claims, block_end)
    if start is None:
        return None
    claims.add(block_end, tail, "Samsung QDIO block", TRAILER_NAME, opaque=True)
    return start


def _seft(reader: Reader, claims: Claims, tail: int) -> int | None:
    """The SEF directory block ending at `tail` ([SEFH directory][len u32le]["SEFT"])."""
    if reader.read(tail - 4, 4) != b"SEFT":
        return None
    dir_length = reader.u32le(tail - 8)
    if dir_length is None:
        return None
    sefh = tail - 8 - dir_length
    if sefh < claims.eoi_end or reader.read(sefh, 4) != b"SEFH":
        return None
    count = reader.u32le(sefh + 8)
    if count is None or count > MAX_SEF_ENTRIES or 12 + 12 * count > dir_length:
        return None
    entries: list[tuple[int, int, int]] = []  # (type, start, size)
    for n in range(count):
        raw = reader.unpack("<HHII", sefh + 12 + 12 * n)
        if raw is None:
            return None
        _, record_type, back, size = raw
        entries.append((record_type, sefh - back, size))
    records = _records_by_directory(reader, claims, sefh, entries)
    if records is None:
        records = _records_by_scan(reader, claims, sefh, {t for t, _, _ in entries})
    if records is None:
        # Directory and records disagree beyond repair: only the directory is known.
        claims.add(sefh, tail, "Samsung SEF directory", TRAILER_NAME, opaque=True)
        return sefh
    for start, end, label, video_at in records:
        claims.add(start, end, label, TRAILER_NAME, opaque=video_at is None, video_at=video_at)
    claims.add(sefh, tail, "Samsung SEF directory", TRAILER_NAME, opaque=True)
    return min(start for start, _, _, _ in records) if records else sefh


def _record_header(reader: Reader, at: int, record_type: int | None) -> tuple[int, str] | None:
    """(data start, name) of a SEF record header [00 00][type][name-len][name] at `at`."""
    raw = reader.unpack("<HHI", at)
    if raw is None or raw[0] != 0 or (record_type is not None and raw[1] != record_type):
        return None
    name_length = raw[2]
    if not 0 < name_length <= MAX_SEF_NAME_BYTES:
        return None
    name = reader.read(at + 8, name_length)
    if len(name) != name_length or not _RECORD_NAME.fullmatch(name):
        return None
    return at + 8 + name_length, name.decode("ascii")


def _records_by_directory(
    reader: Reader, claims: Claims, sefh: int, entries: list[tuple[int, int, int]]
) -> list[tuple[int, int, str, int | None]] | None:
    records = []
    for record_type, start, size in entries:
        if start < claims.eoi_end or start + size > sefh or size < 8:
            return None
        header = _record_header(reader, start, record_type)
        if header is None:
            return None
        data_start, name = header
        is_video = bmff_extent(reader, data_start, start + size) == start + size
        video_at = data_start if is_video else None
        records.append((start, start + size, f"Samsung SEF {name}", video_at))
    return records


def _records_by_scan(
    reader: Reader, claims: Claims, sefh: int, types: set[int]
) -> list[tuple[int, int, str, int | None]] | None:
    """Shortened files keep stale directory offsets: parse the records in sequence instead.

    Records run from the first record marker after EOI up to the SEFH directory; each one
    must parse, an MP4 record must be a box run, and the last must end exactly at SEFH.
    """
    markers = [b"\x00\x00" + struct.pack("<H", t) for t in sorted(types)]
    first = min(
        (p for m in markers if (p := reader.find(m, claims.eoi_end, sefh)) >= 0), default=-1
    )
    if first < 0:
        return None
    records: list[tuple[int, int, str, int | None]] = []
    pos = first
    while pos < sefh and len(records) < MAX_SEF_ENTRIES:
        header = _record_header(reader, pos, None)
        if header is None:
            return None
        data_start, name = header
        video_end = bmff_extent(reader, data_start, sefh)
        if video_end is not None:
            records.append((pos, video_end, f"Samsung SEF {name}", data_start))
            pos = video_end
            continue
        following = [p for m in markers if (p := reader.find(m, data_start, sefh)) >= 0]
        end = min(following, default=sefh)
        records.append((pos, end, f"Samsung SEF {name}", None))
        pos = end
    return records if pos == sefh else None
