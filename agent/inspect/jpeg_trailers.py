"""Benign JPEG trailers: account, after EOI, only the bytes we could verify (ExifTool's model).

Order (research/detection.md §2.2, §2.5):
1. footers, from the end of the file backwards, chained: Samsung SEFT, AFCP, FotoStation,
   PhotoMechanic, Insta360;
2. metadata pointers: MPF images (APP2 "MPF\\0"), XMP Container:Directory items laid out
   backwards from EOF, GCamera:MicroVideoOffset;
3. forward from EOI through each unaccounted gap: Pixel camera debug blobs, zero padding,
   an embedded preview JPEG starting within PREVIEW_SEARCH_BYTES of the gap.

Every claim is verified against the bytes: an embedded image must walk cleanly from
FF D8 FF to its EOI, a video must be a sequence of ISO-BMFF boxes starting with `ftyp`,
footers must chain exactly. Opaque blobs (debug data, SEF records, footer bodies) are also
refused when they carry an archive/executable/script signature, and no claim may cover a
ZIP end record in the last 64 KiB of the file (where a ZIP reader would find it).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.inspect import xmp
from agent.inspect.base import Region
from agent.inspect.reader import Reader

if TYPE_CHECKING:
    from agent.inspect.jpeg import SegmentWalk

XMP_SIGNATURE = b"http://ns.adobe.com/xap/1.0/\x00"
EXTENDED_XMP_SIGNATURE = b"http://ns.adobe.com/xmp/extension/\x00"
MPF_SIGNATURE = b"MPF\x00"

MAX_MPF_ENTRIES = 64  # MP entries read from one MPF index (3-D MPOs hold 2, panoramas a few)
PREVIEW_SEARCH_BYTES = 1024  # bytes: an embedded preview may start at most this far into a gap
MAX_BMFF_BOXES = 4096  # top-level ISO-BMFF boxes walked in one embedded video
MAX_FOOTERS = 64  # chained footers followed from the end of the file
MAX_SEF_ENTRIES = 256  # Samsung SEFH directory entries
MAX_SEF_NAME_BYTES = 256  # bytes of one SEF record name ("MotionPhoto_Data")
MAX_DEBUG_BLOBS = 64  # Pixel debug blobs (aecDebug, afDebug...) accounted per file
MAX_GAP_PASSES = 256  # forward passes over unaccounted gaps
ZIP_EOCD_WINDOW_BYTES = 65_557  # a ZIP end record lies in the last 22 + 65,535 bytes
MAX_SCAN_CANDIDATES = 64  # record-marker candidates tried when re-syncing SEF records

_ZIP_EOCD = b"PK\x05\x06"
# Signatures no benign opaque camera blob carries (checked only in small, unstructured claims).
_PAYLOAD_SIGNATURE = re.compile(
    rb"PK\x03\x04|PK\x05\x06|<\?php|<\?=|%PDF-|\x7fELF|Rar!\x1a\x07|7z\xbc\xaf\x27\x1c"
    rb"|__HALT_COMPILER|(?i:<script|<html|<svg)|MZ"
)
_PE_HEADER = b"PE\x00\x00"
_DEBUG_TAG = re.compile(rb"[a-z]{2,12}Debug")
_BOX_TYPE = re.compile(rb"[A-Za-z0-9 \xa9_-]{4}")  # \xa9 = "©" (QuickTime user-data boxes)


@dataclass
class MpfEntry:
    """One MP entry as declared: attribute (type), size and offset from the MP header."""

    attribute: int
    size: int
    offset: int


@dataclass
class TrailerHints:
    """What the primary image's APPn segments say about trailers (all unverified)."""

    mpf_base: int | None = None
    mpf_entries: list[MpfEntry] = field(default_factory=list)
    container_items: list[xmp.ContainerItem] = field(default_factory=list)
    micro_video_offset: int | None = None


@dataclass
class TrailerResult:
    """Accounted trailer regions, the names of the trailer kinds and embedded metadata."""

    accounted: list[Region] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    metadata: list[Region] = field(default_factory=list)


# --- hints --------------------------------------------------------------------------------


def _parse_mpf(reader: Reader, payload_start: int, payload_end: int) -> tuple[int, list[MpfEntry]]:
    """The MP header offset and MP entries of an APP2 MPF segment (bounded to the segment)."""
    base = payload_start + len(MPF_SIGNATURE)
    order = reader.read(base, 4)
    if order == b"II*\x00":
        e = "<"
    elif order == b"MM\x00*":
        e = ">"
    else:
        return base, []

    def u16(at: int) -> int | None:
        v = reader.unpack(e + "H", at) if at + 2 <= payload_end else None
        return None if v is None else v[0]

    def u32(at: int) -> int | None:
        v = reader.unpack(e + "I", at) if at + 4 <= payload_end else None
        return None if v is None else v[0]

    ifd_offset = u32(base + 4)
    if ifd_offset is None:
        return base, []
    ifd = base + ifd_offset
    count = u16(ifd)
    if count is None:
        return base, []
    for index in range(min(count, 64)):
        entry = ifd + 2 + 12 * index
        tag = u16(entry)
        if tag != 0xB002:
            continue
        byte_count = u32(entry + 4)
        value_offset = u32(entry + 8)
        if byte_count is None or value_offset is None:
            return base, []
        entries: list[MpfEntry] = []
        for n in range(min(byte_count // 16, MAX_MPF_ENTRIES)):
            at = base + value_offset + 16 * n
            attribute, size, offset = u32(at), u32(at + 4), u32(at + 8)
            if attribute is None or size is None or offset is None:
                break
            entries.append(MpfEntry(attribute, size, offset))
        return base, entries
    return base, []


def hints_from_segments(reader: Reader, app_segments: list[tuple[int, int, int]]) -> TrailerHints:
    """Read MPF entries and the XMP motion-photo attributes from the APPn segments."""
    hints = TrailerHints()
    for marker, start, end in app_segments:
        if marker == 0xE2 and hints.mpf_base is None and reader.read(start, 4) == MPF_SIGNATURE:
            hints.mpf_base, hints.mpf_entries = _parse_mpf(reader, start, end)
        elif marker == 0xE1 and reader.read(start, len(XMP_SIGNATURE)) == XMP_SIGNATURE:
            packet = reader.read(start + len(XMP_SIGNATURE), min(end - start, xmp.MAX_XMP_BYTES))
            if not hints.container_items:
                hints.container_items = xmp.container_items(packet)
            if hints.micro_video_offset is None:
                hints.micro_video_offset = xmp.micro_video_offset(packet)
    return hints


# --- verification helpers -----------------------------------------------------------------


def carries_payload_signature(reader: Reader, start: int, end: int) -> bool:
    """True when [start, end) holds an archive/executable/script signature (small regions)."""
    for found in reader.finditer(_PAYLOAD_SIGNATURE, start, end):
        token = found.group()
        if not token.startswith(b"MZ"):
            return True
        # MZ is common by chance: only a DOS header whose e_lfanew points at "PE\0\0" counts.
        e_lfanew = reader.u32le(found.start() + 0x3C)
        if e_lfanew is not None and reader.read(found.start() + e_lfanew, 4) == _PE_HEADER:
            return True
    return False


def bmff_extent(reader: Reader, start: int, stop: int) -> int | None:
    """End of the top-level ISO-BMFF box run at `start` (first box `ftyp`), within [start, stop)."""
    if reader.read(start + 4, 4) != b"ftyp":
        return None
    pos = start
    for _ in range(MAX_BMFF_BOXES):
        if pos + 8 > stop:
            break
        size = reader.u32be(pos)
        box_type = reader.read(pos + 4, 4)
        if size is None or not _BOX_TYPE.fullmatch(box_type):
            break
        if size == 1:
            large = reader.unpack(">Q", pos + 8)
            if large is None or large[0] < 16:
                break
            size = large[0]
        elif size == 0:
            size = stop - pos  # "extends to the end": only meaningful for the last box
        elif size < 8:
            break
        if pos + size > stop:
            break
        pos += size
    return pos if pos > start else None


class _Claims:
    """Accounted regions after EOI, kept sorted and non-overlapping."""

    def __init__(self, reader: Reader, eoi_end: int) -> None:
        self.reader = reader
        self.eoi_end = eoi_end
        self.regions: list[Region] = []
        self.names: list[str] = []
        self.metadata: list[Region] = []
        self.debug_blobs_left = MAX_DEBUG_BLOBS  # per file, across all gaps
        size = reader.size
        tail_start = max(eoi_end, size - ZIP_EOCD_WINDOW_BYTES)
        # ZIP end records near the end of the file: no claim may hide one.
        self._zip_ends: list[int] = []
        at = reader.find(_ZIP_EOCD, tail_start)
        while at >= 0 and len(self._zip_ends) < MAX_SCAN_CANDIDATES:
            self._zip_ends.append(at)
            at = reader.find(_ZIP_EOCD, at + 1)

    def free(self, start: int, end: int) -> bool:
        """True when [start, end) lies after EOI, inside the file and overlaps no claim."""
        if start < self.eoi_end or end > self.reader.size or start >= end:
            return False
        return all(r.end <= start or r.start >= end for r in self.regions)

    def add(self, start: int, end: int, label: str, name: str, *, opaque: bool = False) -> bool:
        """Claim [start, end) if free and clean of payload signatures; True when claimed."""
        if not self.free(start, end):
            return False
        if any(start <= z < end for z in self._zip_ends):
            return False
        if opaque and carries_payload_signature(self.reader, start, end):
            return False
        self.regions.append(Region(start, end, label))
        self.regions.sort(key=lambda r: r.start)
        if name not in self.names:
            self.names.append(name)
        return True

    def next_gap(self, pos: int) -> tuple[int, int] | None:
        """The first unclaimed range at or after `pos` (up to the next claim or EOF)."""
        size = self.reader.size
        for region in self.regions:
            if region.start <= pos < region.end:
                pos = region.end
        if pos >= size:
            return None
        stop = min((r.start for r in self.regions if r.start > pos), default=size)
        return pos, stop


# --- footers (from the end backwards) ------------------------------------------------------


def _seft(reader: Reader, claims: _Claims, tail: int) -> int | None:
    """Samsung SEF trailer ending at `tail`: [records...][SEFH directory][len u32le]["SEFT"]."""
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
    records = _sef_records_by_directory(reader, claims, sefh, entries)
    if records is None:
        records = _sef_records_by_scan(reader, claims, sefh, {t for t, _, _ in entries})
    if records is None:
        # Directory and records disagree beyond repair: only the directory is known.
        claims.add(sefh, tail, "Samsung SEF directory", "Samsung SEF trailer", opaque=True)
        return sefh
    for start, end, label, is_video in records:
        claims.add(start, end, label, "Samsung SEF trailer", opaque=not is_video)
    claims.add(sefh, tail, "Samsung SEF directory", "Samsung SEF trailer", opaque=True)
    return min(start for start, _, _, _ in records) if records else sefh


def _sef_header(reader: Reader, at: int, record_type: int | None) -> tuple[int, str] | None:
    """(data start, name) of a SEF record header [00 00][type][name-len][name] at `at`."""
    raw = reader.unpack("<HHI", at)
    if raw is None or raw[0] != 0 or (record_type is not None and raw[1] != record_type):
        return None
    name_length = raw[2]
    if not 0 < name_length <= MAX_SEF_NAME_BYTES:
        return None
    name = reader.read(at + 8, name_length)
    if len(name) != name_length or not re.fullmatch(rb"[A-Za-z0-9_]+", name):
        return None
    return at + 8 + name_length, name.decode("ascii")


def _sef_records_by_directory(
    reader: Reader, claims: _Claims, sefh: int, entries: list[tuple[int, int, int]]
) -> list[tuple[int, int, str, bool]] | None:
    records = []
    for record_type, start, size in entries:
        if start < claims.eoi_end or start + size > sefh or size < 8:
            return None
        header = _sef_header(reader, start, record_type)
        if header is None:
            return None
        data_start, name = header
        is_video = bmff_extent(reader, data_start, start + size) == start + size
        records.append((start, start + size, f"Samsung SEF {name}", is_video))
    return records


def _sef_records_by_scan(
    reader: Reader, claims: _Claims, sefh: int, types: set[int]
) -> list[tuple[int, int, str, bool]] | None:
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
    records: list[tuple[int, int, str, bool]] = []
    pos = first
    while pos < sefh and len(records) < MAX_SEF_ENTRIES:
        header = _sef_header(reader, pos, None)
        if header is None:
            return None
        data_start, name = header
        video_end = bmff_extent(reader, data_start, sefh)
        if video_end is not None:
            records.append((pos, video_end, f"Samsung SEF {name}", True))
            pos = video_end
            continue
        following = [p for m in markers if (p := reader.find(m, data_start, sefh)) >= 0]
        end = min(following, default=sefh)
        records.append((pos, end, f"Samsung SEF {name}", False))
        pos = end
    return records if pos == sefh else None


def _afcp(reader: Reader, claims: _Claims, tail: int) -> int | None:
    """AFCP: footer [AXS! or AXS*][start offset u32][checksum u32]; header repeats the tag."""
    footer = reader.read(tail - 12, 12)
    if len(footer) != 12 or footer[:3] != b"AXS" or footer[3:4] not in (b"!", b"*"):
        return None
    big_endian = footer[3:4] == b"!"
    start = int.from_bytes(footer[4:8], "big" if big_endian else "little")
    if not (claims.eoi_end <= start < tail - 12) or reader.read(start, 4) != footer[:4]:
        # Offsets are absolute and go stale when the file is edited: look for the header.
        start = reader.find(footer[:4], claims.eoi_end, tail - 12)
        if start < 0:
            return None
    claims.add(start, tail, "AFCP trailer", "AFCP", opaque=True)
    return start


def _fotostation(reader: Reader, claims: _Claims, tail: int) -> int | None:
    """FotoStation: records chained backwards, each ending [tag u16][size u32][A1 B2 C3 D4]."""
    pos = tail
    for _ in range(MAX_FOOTERS):
        raw = reader.unpack(">HII", pos - 10)
        if raw is None or raw[2] != 0xA1B2C3D4 or raw[1] < 10 or pos - raw[1] < claims.eoi_end:
            break
        pos -= raw[1]
    if pos == tail:
        return None
    claims.add(pos, tail, "FotoStation trailer", "FotoStation", opaque=True)
    return pos


def _photomechanic(reader: Reader, claims: _Claims, tail: int) -> int | None:
    """PhotoMechanic: [IPTC records][size u32be]["cbipcbbl"]."""
    if reader.read(tail - 8, 8) != b"cbipcbbl":
        return None
    size = reader.u32be(tail - 12)
    if size is None or tail - 12 - size < claims.eoi_end:
        return None
    start = tail - 12 - size
    claims.add(start, tail, "PhotoMechanic trailer", "PhotoMechanic", opaque=True)
    return start


INSTA360_MAGIC = b"8db42d694ccc418790edff439fe026bf"
INSTA360_FOOTER_BYTES = 72  # 32 reserved + trailer size u32le + version u32le + 32-byte magic


def _insta360(reader: Reader, claims: _Claims, tail: int) -> int | None:
    """Insta360: 72-byte footer ending in the ASCII magic; trailer size counts to the end."""
    if reader.read(tail - 32, 32) != INSTA360_MAGIC:
        return None
    size = reader.u32le(tail - 40)
    if size is None or size < INSTA360_FOOTER_BYTES or tail - size < claims.eoi_end:
        return None
    start = tail - size
    claims.add(start, tail, "Insta360 trailer", "Insta360", opaque=True)
    return start


_FOOTERS = (_seft, _afcp, _fotostation, _photomechanic, _insta360)


# --- forward from EOI ----------------------------------------------------------------------


def _debug_blobs(reader: Reader, claims: _Claims, start: int, stop: int) -> int | None:
    """Pixel camera debug blobs: [name "xxxDebug"][varint length][data], chained."""
    pos = start
    while claims.debug_blobs_left > 0:
        tag = reader.search(_DEBUG_TAG, pos, min(stop, pos + 16))
        if tag is None or tag.start() != pos:
            break
        length = 0
        at = tag.end()
        for shift in range(0, 35, 7):
            byte = reader.byte(at)
            if byte is None:
                return None if pos == start else pos
            length |= (byte & 0x7F) << shift
            at += 1
            if byte < 0x80:
                break
        if at + length > stop:
            break
        pos = at + length
        claims.debug_blobs_left -= 1
    if pos == start:
        return None
    return (
        pos
        if claims.add(start, pos, "Pixel camera debug data", "Pixel camera debug data", opaque=True)
        else None
    )


_NON_ZERO = re.compile(rb"[^\x00]")


def _zero_run(reader: Reader, claims: _Claims, start: int, stop: int) -> int | None:
    """A gap made only of zero bytes (buffer padding, alignment): nothing can hide in it."""
    if reader.search(_NON_ZERO, start, stop) is not None:
        return None
    return stop if claims.add(start, stop, "zero padding", "zero padding") else None


def _embedded_jpeg(reader: Reader, claims: _Claims, at: int, label: str, name: str) -> int | None:
    from agent.inspect.jpeg import jpeg_extent  # jpeg imports this module at load time

    walked: SegmentWalk | None = jpeg_extent(reader, at)
    if walked is None or walked.end is None:
        return None
    if not claims.add(at, walked.end, label, name):
        return None
    claims.metadata.extend(Region(r.start, r.end, f"{label} {r.label}") for r in walked.metadata)
    return walked.end


def _preview(reader: Reader, claims: _Claims, start: int, stop: int) -> int | None:
    at = reader.find(b"\xff\xd8\xff", start, min(stop, start + PREVIEW_SEARCH_BYTES + 3))
    if at < 0:
        return None
    end = _embedded_jpeg(reader, claims, at, "embedded preview image", "embedded preview image")
    if end is not None and at > start and reader.search(_NON_ZERO, start, at) is None:
        claims.add(start, at, "zero padding", "zero padding")
    return end


def _fill_gaps(reader: Reader, claims: _Claims) -> None:
    pos = claims.eoi_end
    for _ in range(MAX_GAP_PASSES):
        reader.check_deadline()
        gap = claims.next_gap(pos)
        if gap is None:
            return
        start, stop = gap
        for handler in (_zero_run, _debug_blobs, _preview):
            end = handler(reader, claims, start, stop)
            if end is not None:
                pos = start  # the gap changed: look again from its start
                break
        else:
            pos = stop


# --- metadata pointers ---------------------------------------------------------------------


def _mpf_images(reader: Reader, claims: _Claims, hints: TrailerHints) -> None:
    if hints.mpf_base is None:
        return
    for number, entry in enumerate(hints.mpf_entries[1:], start=2):
        at = hints.mpf_base + entry.offset
        if at < claims.eoi_end:
            continue
        # Zero padding before the image (MPF writers align images) is a zero-only gap,
        # accounted later by the gap pass.
        _embedded_jpeg(reader, claims, at, f"MPF image {number}", "MPF images")


def _container_items(
    reader: Reader, claims: _Claims, hints: TrailerHints, anchors: list[int]
) -> None:
    """XMP Container:Directory: secondary items sit back to back, the last one ending at EOF."""
    items = hints.container_items[1:]
    if not items:
        return
    for anchor in anchors:
        cursor = anchor
        for item in reversed(items):
            end = cursor - item.padding
            start = end - item.length
            if item.length <= 0 or start < claims.eoi_end:
                break
            label = f"motion-photo {item.semantic or item.mime}"
            if item.mime.startswith("video/"):
                if bmff_extent(reader, start, end) != end:
                    break
                if not claims.add(start, end, f"{label} video", "Google motion photo video"):
                    break
            elif item.mime == "image/jpeg":
                walked = _embedded_jpeg(
                    reader,
                    claims,
                    start,
                    f"container {item.semantic or 'image'}",
                    "Google container image",
                )
                if walked is None:
                    break
            else:
                break
            cursor = start


def _micro_video(reader: Reader, claims: _Claims, hints: TrailerHints) -> None:
    offset = hints.micro_video_offset
    if offset is None or offset <= 0:
        return
    start = reader.size - offset
    end = bmff_extent(reader, start, reader.size)
    if end is not None:
        claims.add(start, end, "micro video", "Google motion photo video")


def account_trailers(reader: Reader, eoi_end: int, hints: TrailerHints) -> TrailerResult:
    """Account the verified benign trailers in [eoi_end, EOF); the rest is left to the engine."""
    result = TrailerResult()
    if eoi_end >= reader.size:
        return result
    claims = _Claims(reader, eoi_end)
    tail = reader.size
    for _ in range(MAX_FOOTERS):
        reader.check_deadline()
        for footer in _FOOTERS:
            start = footer(reader, claims, tail)
            if start is not None and start < tail:
                tail = start
                break
        else:
            break
    _mpf_images(reader, claims, hints)
    _container_items(reader, claims, hints, sorted({reader.size, tail}, reverse=True))
    _micro_video(reader, claims, hints)
    _fill_gaps(reader, claims)
    result.accounted = claims.regions
    result.names = claims.names
    result.metadata = claims.metadata
    return result
