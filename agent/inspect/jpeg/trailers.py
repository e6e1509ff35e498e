"""Benign JPEG trailers: account, after EOI, only the bytes we could verify (ExifTool's model).

Order (research/detection.md §2.2, §2.5):
1. vendor footers, from the end of the file backwards, chained (`jpeg_footers`: Samsung
   SEF, AFCP, FotoStation, PhotoMechanic, Insta360, Canon VRD, MIE, NikonApp, Vivo, OnePlus);
2. metadata pointers: MPF images (APP2 "MPF\\0"), XMP Container:Directory items laid out
   backwards from EOF, GCamera:MicroVideoOffset;
3. forward from EOI through each unaccounted gap: Pixel camera debug blobs, zero padding,
   an embedded preview JPEG starting within PREVIEW_SEARCH_BYTES of the gap (within
   SONY_PREVIEW_SEARCH_BYTES when the Exif Make says Sony).

Every claim is verified against the bytes (`jpeg_claims.Claims`): an embedded image must
walk cleanly from FF D8 FF to its EOI, a video must be a sequence of ISO-BMFF boxes
starting with `ftyp`, footers must chain exactly. Opaque blobs (debug data, SEF records,
footer bodies) are also refused when they carry an archive/executable/script signature,
and no claim may cover a ZIP end record in the last 64 KiB of the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.inspect import xmp
from agent.inspect.base import Region
from agent.inspect.jpeg import extra_images, makernote
from agent.inspect.jpeg.claims import Claims, bmff_extent
from agent.inspect.jpeg.footers import match_footers
from agent.inspect.jpeg.markers import (
    EXIF_SIGNATURE,
    MPF_SIGNATURE,
    XMP_SIGNATURE,
)
from agent.inspect.reader import Reader

MAX_MPF_ENTRIES = 64  # MP entries read from one MPF index (3-D MPOs hold 2, panoramas a few)
PREVIEW_SEARCH_BYTES = 1024  # bytes: an embedded preview may start at most this far into a gap
# bytes: ExifTool's window for Sony ("Sony previews can start up to 32 kB into the trailer",
# lib/Image/ExifTool.pm, ProcessJPEG at EOI: $scanLen = Make =~ /Sony/i ? 65536 : 1024)
SONY_PREVIEW_SEARCH_BYTES = 65_536
MAX_DEBUG_BLOBS = 64  # Pixel debug blobs (aecDebug, afDebug...) accounted per file
MAX_GAP_PASSES = 256  # forward passes over unaccounted gaps
MAX_IFD0_ENTRIES = 256  # IFD0 entries examined when looking for the Exif Make
MAX_MAKE_BYTES = 64  # bytes of the Exif Make string read

_DEBUG_TAG = re.compile(rb"[a-z]{2,12}Debug")
_MAKE_TAG = 0x010F
_ASCII_TYPE = 2


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
    make: str | None = None  # Exif IFD0 Make ("SONY"), for the preview search window
    preview: tuple[int, int] | None = None  # maker-note PreviewImage (offset, length)


@dataclass
class TrailerResult:
    """Accounted trailer regions, the names of the trailer kinds and embedded metadata."""

    accounted: list[Region] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    metadata: list[Region] = field(default_factory=list)
    unexplained: list[Region] = field(default_factory=list)


# --- hints --------------------------------------------------------------------------------


def _tiff_byte_order(reader: Reader, base: int) -> str | None:
    """struct byte-order prefix of the classic TIFF header at `base` (MPF, Exif), or None."""
    return {b"II*\x00": "<", b"MM\x00*": ">"}.get(reader.read(base, 4))


def _parse_mpf(reader: Reader, payload_start: int, payload_end: int) -> tuple[int, list[MpfEntry]]:
    """The MP header offset and MP entries of an APP2 MPF segment (bounded to the segment)."""
    base = payload_start + len(MPF_SIGNATURE)
    e = _tiff_byte_order(reader, base)
    if e is None:
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


def _exif_make(reader: Reader, payload_start: int, payload_end: int) -> str | None:
    """The IFD0 Make string of an APP1 Exif segment (bounded to the segment), or None."""
    base = payload_start + len(EXIF_SIGNATURE)
    e = _tiff_byte_order(reader, base)
    if e is None:
        return None
    first_ifd = reader.unpack(e + "I", base + 4)
    ifd = base + first_ifd[0] if first_ifd is not None else payload_end
    count = reader.unpack(e + "H", ifd) if ifd + 2 <= payload_end else None
    if count is None:
        return None
    for index in range(min(count[0], MAX_IFD0_ENTRIES)):
        entry = ifd + 2 + 12 * index
        raw = reader.unpack(e + "HHII", entry) if entry + 12 <= payload_end else None
        if raw is None:
            return None
        tag, value_type, length, value_offset = raw
        if tag != _MAKE_TAG:
            continue
        if value_type != _ASCII_TYPE:
            return None
        at = entry + 8 if length <= 4 else base + value_offset
        length = min(length, MAX_MAKE_BYTES)
        if at + length > payload_end:
            return None
        return reader.read(at, length).split(b"\x00")[0].decode("latin-1")
    return None


def hints_from_segments(reader: Reader, app_segments: list[tuple[int, int, int]]) -> TrailerHints:
    """Read MPF entries, the Exif Make and the XMP motion-photo attributes from APPn segments."""
    hints = TrailerHints()
    for marker, start, end in app_segments:
        if marker == 0xE2 and hints.mpf_base is None and reader.read(start, 4) == MPF_SIGNATURE:
            hints.mpf_base, hints.mpf_entries = _parse_mpf(reader, start, end)
        elif marker == 0xE1 and hints.make is None and reader.read(start, 6) == EXIF_SIGNATURE:
            hints.make = _exif_make(reader, start, end)
            hints.preview = makernote.preview_pointer(reader, start, end, hints.make)
        elif marker == 0xE1 and reader.read(start, len(XMP_SIGNATURE)) == XMP_SIGNATURE:
            packet = reader.read(start + len(XMP_SIGNATURE), min(end - start, xmp.MAX_XMP_BYTES))
            if not hints.container_items:
                hints.container_items = xmp.container_items(packet)
            if hints.micro_video_offset is None:
                hints.micro_video_offset = xmp.micro_video_offset(packet)
    return hints


# --- forward from EOI ----------------------------------------------------------------------


class _GapClaims(Claims):
    """Claims plus the per-file budgets and window of the forward gap pass."""

    def __init__(self, reader: Reader, eoi_end: int, preview_search_bytes: int) -> None:
        super().__init__(reader, eoi_end)
        self.debug_blobs_left = MAX_DEBUG_BLOBS  # per file, across all gaps
        self.preview_search_bytes = preview_search_bytes


def _debug_blobs(reader: Reader, claims: _GapClaims, start: int, stop: int) -> int | None:
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


def _zero_run(reader: Reader, claims: _GapClaims, start: int, stop: int) -> int | None:
    """A gap made only of zero bytes (buffer padding, alignment): nothing can hide in it."""
    if reader.first_non_zero(start, stop) >= 0:
        return None
    return stop if claims.add(start, stop, "zero padding", "zero padding") else None


def _preview(reader: Reader, claims: _GapClaims, start: int, stop: int) -> int | None:
    """A preview JPEG starting within the search window of the gap (camera previews)."""
    window_end = start + claims.preview_search_bytes + 3  # the 3-byte SOI may start at the bound
    at = reader.find(b"\xff\xd8\xff", start, min(stop, window_end))
    if at < 0:
        return None
    end = claims.add_embedded_jpeg(at, "embedded preview image", "embedded preview image")
    if end is not None and at > start and reader.first_non_zero(start, at) < 0:
        claims.add(start, at, "zero padding", "zero padding")
    return end


def _fill_gaps(reader: Reader, claims: _GapClaims) -> None:
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


def _mpf_images(reader: Reader, claims: _GapClaims, hints: TrailerHints) -> None:
    if hints.mpf_base is None:
        return
    for number, entry in enumerate(hints.mpf_entries[1:], start=2):
        at = hints.mpf_base + entry.offset
        if at < claims.eoi_end:
            continue
        # Zero padding before the image (MPF writers align images) is a zero-only gap,
        # accounted later by the gap pass.
        claims.add_embedded_jpeg(at, f"MPF image {number}", "MPF images")


def _container_items(
    reader: Reader, claims: _GapClaims, hints: TrailerHints, anchors: list[int]
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
                if not claims.add(
                    start, end, f"{label} video", "Google motion photo video", video_at=start
                ):
                    break
            elif item.mime == "image/jpeg":
                walked = claims.add_embedded_jpeg(
                    start, f"container {item.semantic or 'image'}", "Google container image"
                )
                if walked is None:
                    break
            else:
                break
            cursor = start


def _micro_video(reader: Reader, claims: _GapClaims, hints: TrailerHints) -> None:
    offset = hints.micro_video_offset
    if offset is None or offset <= 0:
        return
    start = reader.size - offset
    end = bmff_extent(reader, start, reader.size)
    if end is not None:
        claims.add(start, end, "micro video", "Google motion photo video", video_at=start)


def _final_image(reader: Reader, claims: _GapClaims, tail: int) -> None:
    """One complete JPEG ending where the trailers end: an extra image (HTC blocks before it)."""
    gap = claims.next_gap(claims.eoi_end)
    if gap is None:
        return
    final_start = extra_images.final_jpeg(reader, claims, tail)
    if final_start is not None and final_start > claims.eoi_end:
        extra_images.htc_blocks(reader, claims, final_start, tail - final_start)


def account_trailers(reader: Reader, eoi_end: int, hints: TrailerHints) -> TrailerResult:
    """Account the verified benign trailers in [eoi_end, EOF); the rest is left to the engine."""
    result = TrailerResult()
    if eoi_end >= reader.size:
        return result
    sony = hints.make is not None and "sony" in hints.make.lower()
    window = SONY_PREVIEW_SEARCH_BYTES if sony else PREVIEW_SEARCH_BYTES
    claims = _GapClaims(reader, eoi_end, window)
    tail = match_footers(reader, claims)
    if hints.preview is not None:
        extra_images.makernote_preview(reader, claims, *hints.preview)
    _mpf_images(reader, claims, hints)
    _container_items(reader, claims, hints, sorted({reader.size, tail}, reverse=True))
    _micro_video(reader, claims, hints)
    _final_image(reader, claims, tail)
    _fill_gaps(reader, claims)
    result.accounted = claims.regions
    result.names = claims.names
    result.metadata = claims.metadata
    result.unexplained = claims.unexplained
    return result
