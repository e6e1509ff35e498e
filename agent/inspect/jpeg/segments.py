"""JPEG segments from SOI to EOI: the marker walk shared by the primary and embedded images.

The walk follows ITU T.81 B.1: marker segments (with 0xFF fill bytes), then after each SOS
the entropy-coded data, in which 0xFF is followed by 0x00 (stuffing) or RSTn. The next
real marker is found with a compiled regex so the pixel data is crossed at C speed; the
walker never loops over bytes in Python. This module knows nothing of trailers, so the
trailer accounting can use it to verify embedded JPEGs (MPF images, previews).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.inspect.base import Region
from agent.inspect.jpeg.markers import EXTENDED_XMP_SIGNATURE, MPF_SIGNATURE, XMP_SIGNATURE
from agent.inspect.jpeg.tables import DHT, DQT, TABLE_MARKERS, slack, table_values
from agent.inspect.limits import MAX_STRUCTURES
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

# A real marker inside entropy-coded data: 0xFF not followed by a stuffed 0x00 or RSTn.
_ENTROPY_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")
# Where to resume after garbage between segments: 0xFF followed by a plausible marker code
# (what libjpeg does: it skips "extraneous bytes before marker").
_RESYNC_MARKER = re.compile(rb"\xff[\xc0-\xfe]")
_NOT_FILL = re.compile(rb"[^\xff]")

SOI = 0xD8
EOI = 0xD9
SOS = 0xDA
COM = 0xFE
TEM = 0x01
# SOFn markers that carry frame dimensions (C4 DHT, C8 JPG and CC DAC are not frames).
_SOF_MARKERS = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)
_RST_MARKERS = frozenset(range(0xD0, 0xD8))

MAX_GARBAGE_FINDINGS = 8  # findings: garbage runs reported per file before staying quiet
MAX_UNEXPLAINED_RUNS = 64  # garbage runs recorded as unexplained ranges per image
# Table values judged as metadata per image: encoders write 2-4 quantization tables, a
# progressive file redefines a few Huffman tables per scan; more are judged as stray bytes.
MAX_TABLE_REGIONS = 64
_TABLE_LABELS = {DQT: "JPEG quantization table", DHT: "JPEG Huffman table (repeated symbols)"}
DNL = 0xDC  # T.81 B.2.5: Define Number of Lines, the height when the SOF says 0
DNL_LENGTH = 4  # its length field: Ld (2 bytes) and NL (2 bytes), nothing else
DEADLINE_CHECK_EVERY = 256  # segments walked between two deadline checks

# APPn payload prefix -> label suffix, for evidence ("APP1 Exif").
_APP_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"JFIF\x00", "JFIF"),
    (b"JFXX\x00", "JFXX"),
    (b"Exif\x00", "Exif"),
    (XMP_SIGNATURE, "XMP"),
    (EXTENDED_XMP_SIGNATURE, "extended XMP"),
    (b"ICC_PROFILE\x00", "ICC"),
    (MPF_SIGNATURE, "MPF"),
    (b"Photoshop 3.0\x00", "Photoshop"),
    (b"Adobe", "Adobe"),
    (b"Ducky", "Ducky"),
    (b"MMIMETA", "MMIMETA"),
    (b"FPXR", "FlashPix"),
)


@dataclass
class SegmentWalk:
    """What one pass over a JPEG's segments found (primary image or an embedded one).

    end is the offset just past EOI, or None when EOI was not reached. `clean` is False
    when anything was wrong (garbage, bad lengths, no SOS); `damaged` when it was more
    than stray bytes and misplaced markers, which `unexplained` lists for judgement.
    """

    start: int
    end: int | None = None
    clean: bool = True
    damaged: bool = False  # wrong beyond stray bytes (lengths, truncation, no scan)
    truncated: bool = False
    saw_sos: bool = False
    width: int | None = None
    height: int | None = None
    precision: int = 8  # bits per sample (SOF P): 12 and 16 decode to two bytes
    components: int = 3  # SOF Nf
    scans: int = 0  # SOS segments (a progressive image has several)
    image_bytes: int = 0  # bytes of entropy-coded data
    scan_data_start: int | None = None  # first entropy-coded byte (after the first SOS header)
    table_regions: int = 0  # table values handed out for judgement (`tables.table_values`)
    findings: list[Finding] = field(default_factory=list)
    metadata: list[Region] = field(default_factory=list)
    # stray bytes between segments and misplaced markers: judged like left-over data
    unexplained: list[Region] = field(default_factory=list)
    # (marker, payload start, payload end) of every APPn segment, for the trailer hints
    app_segments: list[tuple[int, int, int]] = field(default_factory=list)


def app_label(marker: int, untrusted_prefix: bytes) -> str:
    """Evidence label for an APPn/COM segment: "APP1 Exif", "APP2 ICC", "COM"."""
    if marker == COM:
        return "COM"
    name = f"APP{marker - 0xE0}"
    for signature, label in _APP_SIGNATURES:
        if untrusted_prefix.startswith(signature):
            return f"{name} {label}"
    return name


def _malformed(
    walk: SegmentWalk, message: str, offset: int, detail: str = "", *, stray: bool = False
) -> None:
    walk.clean = False
    walk.damaged = walk.damaged or not stray
    walk.findings.append(
        Finding(
            code="jpeg.malformed",
            severity=Severity.LOW,
            message=message,
            offset=offset,
            detail=detail,
        )
    )


def _record_table(
    reader: Reader, walk: SegmentWalk, marker: int, start: int, end: int, label_prefix: str
) -> None:
    """A table segment's slack (bytes its length covers but its content does not) as
    unexplained, and its free values as metadata (`tables`)."""
    body = reader.read(start, end - start)
    unused = slack(marker, body)
    if unused and len(walk.unexplained) < MAX_UNEXPLAINED_RUNS:
        label = f"{label_prefix}JPEG FF{marker:02X} segment slack"  # the decoder skips it
        walk.unexplained.append(Region(end - unused, end, label))
    for first, last in table_values(marker, body):
        region = Region(start + first, start + last, label_prefix + _TABLE_LABELS[marker])
        if walk.table_regions < MAX_TABLE_REGIONS:
            walk.metadata.append(region)
        elif len(walk.unexplained) < MAX_UNEXPLAINED_RUNS:
            walk.unexplained.append(region)  # past any encoder's count: judged as stray bytes
        walk.table_regions += 1


def walk_segments(
    reader: Reader,
    start: int,
    *,
    label_prefix: str = "",
    headers_until: int | None = None,
) -> SegmentWalk:
    """Walk the JPEG whose SOI is at `start` to its EOI. Never raises for bad input.

    Used for the primary image and for every embedded image a trailer claims to hold
    (MPF images, gain maps, previews), so it records metadata regions with `label_prefix`.
    With `headers_until`, only the headers are walked, within [start, headers_until): the
    walk ends at the first SOS (its scan data is the container's pixels, not read) or at
    that bound, as for the JPEG strips and tiles of a TIFF.
    """
    walk = SegmentWalk(start=start)
    size = reader.size if headers_until is None else min(headers_until, reader.size)
    pos = start + 2
    in_entropy = False
    scan_start = pos
    garbage_reports = 0
    for count in range(MAX_STRUCTURES):
        if count % DEADLINE_CHECK_EVERY == 0:
            reader.check_deadline()
        if pos >= size:
            walk.truncated = True
            walk.clean = False
            return walk
        if reader.byte(pos) != 0xFF:
            # Garbage between segments (a JS-polyglot's stray "/*", Pillow #630's "hello").
            resync = reader.search(_RESYNC_MARKER, pos, size)
            if len(walk.unexplained) < MAX_UNEXPLAINED_RUNS:
                stop = resync.start() if resync else size
                walk.unexplained.append(Region(pos, stop, label_prefix + "JPEG stray bytes"))
            if garbage_reports < MAX_GARBAGE_FINDINGS:
                garbage_reports += 1
                skipped = (resync.start() if resync else size) - pos
                _malformed(
                    walk,
                    "The picture has stray bytes between its parts.",
                    pos,
                    f"{skipped} bytes",
                    stray=True,
                )
            walk.clean = False
            if resync is None:
                walk.truncated = True
                return walk
            pos = resync.start()
            continue
        marker_at = pos + 1  # offset of the marker code byte
        marker = reader.byte(marker_at)
        if marker == 0xFF:  # fill bytes before the marker code (rare): skip them in C
            fill_end = reader.search(_NOT_FILL, pos + 1, size)
            if fill_end is None:
                walk.truncated = True
                walk.clean = False
                return walk
            marker_at = fill_end.start()
            marker = reader.byte(marker_at)
        if marker is None:  # the file ends right after 0xFF
            walk.truncated = True
            walk.clean = False
            return walk
        if in_entropy and (marker == 0x00 or marker in _RST_MARKERS):
            # A fill run ending in a stuffed byte or RSTn: still inside the scan data.
            found = reader.search(_ENTROPY_MARKER, marker_at + 1)
            if found is None:
                walk.truncated = True
                walk.clean = False
                return walk
            pos = found.start()
            continue
        if in_entropy:
            walk.image_bytes += pos - scan_start
        in_entropy = False
        if marker == EOI:
            walk.end = marker_at + 1
            if not walk.saw_sos:
                _malformed(walk, "The picture has no image data (no start-of-scan).", marker_at - 1)
            return walk
        if marker in _RST_MARKERS or marker == TEM:
            pos = marker_at + 1
            continue
        if marker in (0x00, SOI):
            # 0xFF00 outside scan data, or a second SOI: not a segment. Skip like garbage.
            if garbage_reports < MAX_GARBAGE_FINDINGS:
                garbage_reports += 1
                _malformed(
                    walk,
                    "The picture has an unexpected marker.",
                    marker_at - 1,
                    f"FF{marker:02X}",
                    stray=True,
                )
            walk.clean = False
            if len(walk.unexplained) < MAX_UNEXPLAINED_RUNS:
                walk.unexplained.append(
                    Region(marker_at - 1, marker_at + 1, label_prefix + "JPEG misplaced marker")
                )
            pos = marker_at + 1
            continue
        untrusted_length = reader.u16be(marker_at + 1)
        if untrusted_length is None:
            walk.truncated = True
            walk.clean = False
            return walk
        if untrusted_length < 2:
            if marker == COM:
                walk.findings.append(
                    Finding(
                        code="jpeg.com_length_exploit",
                        severity=Severity.HIGH,
                        message=(
                            "The picture has a comment built to crash Windows picture viewers "
                            "(MS04-028)."
                        ),
                        offset=marker_at - 1,
                        length=4,
                        detail=f"COM segment length {untrusted_length}",
                    )
                )
            _malformed(
                walk,
                "A part of the picture declares an impossible length.",
                marker_at - 1,
                f"marker FF{marker:02X} length {untrusted_length}",
            )
            pos = marker_at + 3
            continue
        payload_start = marker_at + 3
        segment_end = marker_at + 1 + untrusted_length
        if segment_end > size:
            _malformed(
                walk,
                "A part of the picture runs past the end of the file.",
                marker_at - 1,
                f"marker FF{marker:02X} length {untrusted_length}, "
                f"{segment_end - size} bytes missing",
            )
            walk.truncated = True
            if 0xE0 <= marker <= 0xEF or marker == COM:
                # Still let the engine look inside what is there.
                label = app_label(marker, reader.read(payload_start, 40))
                walk.metadata.append(Region(payload_start, size, label_prefix + label))
            return walk
        if marker in TABLE_MARKERS:
            _record_table(reader, walk, marker, payload_start, segment_end, label_prefix)
        if 0xE0 <= marker <= 0xEF or marker == COM:
            label = app_label(marker, reader.read(payload_start, 40))
            walk.metadata.append(Region(payload_start, segment_end, label_prefix + label))
            if marker != COM:
                walk.app_segments.append((marker, payload_start, segment_end))
        elif marker in _SOF_MARKERS and walk.width is None:
            dims = reader.unpack(">BHHB", payload_start)
            if dims is not None:
                walk.precision, walk.height, walk.width, walk.components = dims
        elif marker == DNL:
            if walk.height == 0 and untrusted_length >= 4:
                walk.height = reader.u16be(payload_start)
            if untrusted_length > DNL_LENGTH and len(walk.unexplained) < MAX_UNEXPLAINED_RUNS:
                slack_at = payload_start + DNL_LENGTH - 2
                walk.unexplained.append(
                    Region(slack_at, segment_end, f"{label_prefix}JPEG FFDC segment slack")
                )
        elif marker not in TABLE_MARKERS:
            # JPGn, DAC, DHP, EXP, reserved codes: nothing a baseline or progressive picture
            # needs (libjpeg refuses most of them), so their content is judged like an APPn
            # no format defines.
            label = f"{label_prefix}JPEG FF{marker:02X} segment (private)"
            walk.metadata.append(Region(payload_start, segment_end, label))
        elif marker == SOS:
            walk.saw_sos = True
            walk.scans += 1
            scan_start = segment_end
            if walk.scan_data_start is None:
                walk.scan_data_start = segment_end
            if headers_until is not None:
                return walk  # the headers are walked; the scan data is not ours to read
            found = reader.search(_ENTROPY_MARKER, segment_end)
            if found is None:
                walk.truncated = True
                walk.clean = False
                return walk
            in_entropy = True
            pos = found.start()
            continue
        pos = segment_end
    _malformed(
        walk, "The picture has an absurd number of parts.", pos, f"over {MAX_STRUCTURES} segments"
    )
    return walk


def jpeg_extent(reader: Reader, start: int, *, allow_stray: bool = False) -> SegmentWalk | None:
    """The walk of an embedded JPEG at `start`, or None unless it is a clean, complete JPEG.

    With `allow_stray`, an image whose only fault is stray bytes between segments (listed
    in its `unexplained` for the engine to judge) is accepted too.
    """
    if reader.read(start, 3) != b"\xff\xd8\xff":
        return None
    walk = walk_segments(reader, start)
    if walk.end is None or not walk.saw_sos:
        return None
    if not walk.clean and (walk.damaged or not allow_stray or walk.truncated):
        return None
    return walk
