"""TIFF / BigTIFF walker: IFD chains, entry values, strips and tiles.

The logical end is the furthest byte any IFD, out-of-line value, strip or tile covers.
Text tags (ImageDescription, Make, Model, Software, Artist, Copyright, XMP, IPTC,
Photoshop, MakerNote, UserComment, XP*) and every other ASCII value are metadata regions;
the values of private tags (>= 32768) and every other value stored outside its entry (a
public tag this walker does not know, a colour map, JPEG tables) are opaque metadata
("private", "value"): the engine classifies them for payloads. Only the offsets the walk
follows (IFD pointers, strip/tile offsets and byte counts) and public values shorter than
the classifier judges (16 bytes: resolutions, bits per sample) are not judged as values.

Positive accounting: every byte before the end belongs to the header, an IFD, a value, a
strip or a tile. What nothing references is unexplained and judged, except an embedded
JPEG that walks cleanly (camera previews some writers leave unreferenced) and the odd
alignment byte writers put before word-aligned values (zeros, which the engine ignores).

A strip or tile whose byte count is 0 at a valid offset (fax and scanner writers) is read
by libtiff up to the next structure or the end of the file (EstimateStripByteCounts, "the
offset to the last strip is past the place where we think the strip should begin"); it
is accounted the same way and reported as `tiff.malformed` low.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from agent.inspect import tiff_gaps
from agent.inspect.base import Region, Structure
from agent.inspect.classify.metadata import MIN_JUDGED_VALUE_BYTES
from agent.inspect.limits import MAX_STRUCTURES, Limits
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

MAX_IFDS = 1024  # IFDs (pages, sub-IFDs, Exif/GPS IFDs) followed in one file
MAX_ARRAY_VALUES = MAX_STRUCTURES  # values read from one strip/tile offset array
PRIVATE_TAG_MIN = 32768  # TIFF 6.0 §2: tags from 32768 up are private (vendor-defined)

TYPE_SIZES = {
    1: 1,
    2: 1,
    3: 2,
    4: 4,
    5: 8,
    6: 1,
    7: 1,
    8: 2,
    9: 4,
    10: 8,
    11: 4,
    12: 8,
    13: 4,
    16: 8,
    17: 8,
    18: 8,
}
ARRAY_CODES = {3: "H", 4: "I", 13: "I", 16: "Q", 18: "Q"}
TAG_WIDTH, TAG_HEIGHT = 256, 257
DATA_PAIRS = ((273, 279), (324, 325), (513, 514))  # strips, tiles, JPEG thumbnail
IFD_POINTER_TAGS = frozenset({330, 34665, 34853, 40965})  # SubIFDs, Exif, GPS, Interop
TAG_BITS, TAG_SAMPLES = 258, 277  # BitsPerSample (one per sample), SamplesPerPixel
TAG_COMPRESSION = 259
TYPE_ASCII = 2
# Arrays of offsets and byte counts the walk covers as the data they locate (strips, tiles,
# the thumbnail): numbers a file needs thousands of, and no value of the writer's choosing.
DATA_LAYOUT_TAGS = frozenset(tag for pair in DATA_PAIRS for tag in pair)
ARRAY_TAGS = frozenset(
    {TAG_WIDTH, TAG_HEIGHT, TAG_BITS, TAG_SAMPLES, TAG_COMPRESSION,
     *(tag for pair in DATA_PAIRS for tag in pair)}
)  # fmt: skip
# Compression values whose strips/tiles are another format's lossy codestream, with the
# bytes each strip starts with (TIFF 6.0 §22 and TIFF Technical Note 2: JPEG, SOI first;
# DNG 1.4 lossy JPEG 34892; Aperio JPEG 2000 33003/33005 and 34712: SOC+SIZ; libtiff's
# WebP 50001 and JPEG XL 50002). The resource check then applies that codec's photo floor
# (a 150 MP scan saved as JPEG-in-TIFF holds ~0.2 B/px, like the same JPEG).
LOSSY_CODECS: dict[int, tuple[str, tuple[bytes, ...]]] = {
    7: ("jpeg", (b"\xff\xd8",)),
    34892: ("jpeg", (b"\xff\xd8",)),
    33003: ("jp2", (b"\xff\x4f\xff\x51",)),
    33005: ("jp2", (b"\xff\x4f\xff\x51",)),
    34712: ("jp2", (b"\xff\x4f\xff\x51",)),
    50001: ("webp", (b"RIFF",)),
    50002: ("jxl", (b"\xff\x0a", b"\x00\x00\x00\x0cJXL ")),
}
TEXT_TAGS = {
    270: "ImageDescription",
    271: "Make",
    272: "Model",
    305: "Software",
    315: "Artist",
    316: "HostComputer",
    33432: "Copyright",
    700: "XMP",
    33723: "IPTC",
    34377: "Photoshop",
    34675: "ICC profile",
    37500: "MakerNote",
    37510: "UserComment",
    40091: "XPTitle",
    40092: "XPComment",
    40093: "XPAuthor",
    40094: "XPKeywords",
    40095: "XPSubject",
}


def _finding(code: str, severity: Severity, message: str, offset: int, detail: str) -> Finding:
    return Finding(code=code, severity=severity, message=message, offset=offset, detail=detail)


@dataclass
class _Layout:
    """Byte order and field widths of a classic or Big TIFF."""

    order: str  # "<" or ">"
    big: bool

    @property
    def count_fmt(self) -> str:
        return self.order + ("Q" if self.big else "H")

    @property
    def entry_bytes(self) -> int:
        return 20 if self.big else 12

    @property
    def offset_fmt(self) -> str:
        return self.order + ("Q" if self.big else "I")

    @property
    def inline_bytes(self) -> int:
        return 8 if self.big else 4


@dataclass
class _Walk:
    reader: Reader
    layout: _Layout
    st: Structure
    end: int = 0
    overrun: bool = False
    entries: int = 0
    visited: set[int] = field(default_factory=set)
    queue: list[tuple[int, bool]] = field(default_factory=list)
    covered: list[tuple[int, int]] = field(default_factory=list)
    zero_counts: list[int] = field(default_factory=list)  # offsets of strips with count 0

    def cover(self, start: int, stop: int) -> None:
        """Extend the logical end to `stop`, noting values that lie past the file."""
        if stop > self.reader.size or start < 0:
            self.overrun = True
            stop = min(stop, self.reader.size)
        self.end = max(self.end, stop)
        if 0 <= start < stop:
            self.covered.append((start, stop))


def parse_header(reader: Reader) -> tuple[_Layout, int] | None:
    """(layout, first IFD offset) of a TIFF/BigTIFF header at offset 0, or None."""
    head = reader.read(0, 4)
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None or len(head) < 4:
        return None
    magic = struct.unpack(order + "H", head[2:4])[0]
    if magic == 42:
        first = reader.unpack(order + "I", 4)
        return (_Layout(order, False), first[0]) if first else None
    if magic == 43:
        first = reader.unpack(order + "Q", 8)
        return (_Layout(order, True), first[0]) if first else None
    return None


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk a TIFF's IFDs and the data they point to. Never raises for malformed input."""
    del limits
    st = Structure(type="tiff")
    header = parse_header(reader)
    if header is None:
        st.findings.append(
            _finding(
                "tiff.malformed",
                Severity.LOW,
                "The picture's TIFF header is damaged.",
                0,
                "no TIFF/BigTIFF header",
            )
        )
        return st
    layout, first_ifd = header
    header_bytes = 16 if layout.big else 8
    state = _Walk(reader, layout, st, end=header_bytes, covered=[(0, header_bytes)])
    state.queue.append((first_ifd, True))
    frames = 0
    while state.queue:
        reader.check_deadline()
        offset, is_page = state.queue.pop(0)
        if offset == 0 or offset in state.visited:
            continue
        if len(state.visited) >= MAX_IFDS or state.entries > MAX_STRUCTURES:
            st.findings.append(
                _finding(
                    "tiff.malformed",
                    Severity.LOW,
                    "The picture's structure is damaged.",
                    offset,
                    f"more than {MAX_IFDS} IFDs or {MAX_STRUCTURES} entries",
                )
            )
            break
        state.visited.add(offset)
        if _walk_ifd(state, offset, is_page):
            frames += 1 if is_page else 0
    st.frames = frames or None
    _zero_count_strips(state)
    st.end = min(state.end, reader.size)
    st.unexplained.extend(tiff_gaps.unreferenced(reader, state.covered, st.end, st.metadata))
    if state.overrun:
        st.findings.append(
            _finding(
                "tiff.truncated",
                Severity.LOW,
                "The picture file is incomplete.",
                reader.size,
                "an IFD or the data it points to lies past the end of the file",
            )
        )
    return st


def _zero_count_strips(state: _Walk) -> None:
    """Strips/tiles with byte count 0: to the next structure or EOF, as libtiff reads them."""
    if not state.zero_counts:
        return
    starts = sorted({start for start, _ in state.covered})
    for offset in sorted(set(state.zero_counts)):
        following = [s for s in starts if s > offset]
        stop = following[0] if following else state.reader.size
        state.cover(offset, stop)
        # Image data whose length nothing states: still judged for a hidden payload.
        state.st.metadata.append(Region(offset, stop, "TIFF strip of unknown length"))
        state.st.image_bytes = (state.st.image_bytes or 0) + stop - offset
    state.st.findings.append(
        _finding(
            "tiff.malformed",
            Severity.LOW,
            "The picture's structure is unusual.",
            state.zero_counts[0],
            f"{len(state.zero_counts)} strip(s)/tile(s) with byte count 0: read to the next "
            "structure or the end of the file",
        )
    )


def _walk_ifd(state: _Walk, offset: int, is_page: bool) -> bool:
    """Walk one IFD; queue the IFDs it points to. False when it cannot be read."""
    layout, reader = state.layout, state.reader
    count_size = 8 if layout.big else 2
    count_t = reader.unpack(layout.count_fmt, offset)
    if count_t is None:
        state.overrun = True
        return False
    count = min(count_t[0], MAX_STRUCTURES)
    table_end = offset + count_size + count * layout.entry_bytes
    state.cover(offset, table_end + layout.inline_bytes)
    values: dict[int, list[int]] = {}
    for i in range(count):
        entry_at = offset + count_size + i * layout.entry_bytes
        parsed = _read_entry(state, entry_at)
        if parsed is None:
            break
        tag, typ, n, value_at = parsed
        state.entries += 1
        size = TYPE_SIZES.get(typ, 1) * n
        value_end = min(value_at + size, reader.size)
        if tag in TEXT_TAGS:
            state.st.metadata.append(Region(value_at, value_end, f"TIFF {TEXT_TAGS[tag]}"))
        elif tag in IFD_POINTER_TAGS or typ in (13, 18) or size <= layout.inline_bytes:
            pass  # offsets the walk follows, or a value within the entry itself
        elif tag >= PRIVATE_TAG_MIN:
            state.st.metadata.append(Region(value_at, value_end, f"TIFF private tag {tag}"))
        elif size < MIN_JUDGED_VALUE_BYTES:
            pass  # a resolution, a few bits per sample: too short to hold a payload
        elif typ == TYPE_ASCII:
            state.st.metadata.append(Region(value_at, value_end, f"TIFF ASCII tag {tag}"))
        elif tag not in DATA_LAYOUT_TAGS:
            # Any other value (a public tag this walker does not know, a colour map, JPEG
            # tables): values of the writer's choosing, judged for a dangerous payload.
            state.st.metadata.append(Region(value_at, value_end, f"TIFF tag {tag} value"))
        if tag in IFD_POINTER_TAGS or typ in (13, 18):
            pointers = _read_array(reader, layout, typ, n, value_at)
            state.queue.extend((o, False) for o in pointers)
        elif tag in ARRAY_TAGS:
            values[tag] = _read_array(reader, layout, typ, n, value_at)
    jpeg_data = (_declared_codec(values) or ("",))[0] == "jpeg"
    for offsets_tag, counts_tag in DATA_PAIRS:
        starts, lengths = values.get(offsets_tag, []), values.get(counts_tag, [])
        if offsets_tag == 513 and starts and lengths:
            state.st.metadata.append(Region(starts[0], starts[0] + lengths[0], "TIFF thumbnail"))
        for start, length in zip(starts, lengths, strict=False):
            if length == 0 and 0 < start < reader.size and offsets_tag != 513:
                state.zero_counts.append(start)
                continue
            state.cover(start, start + length)
            if offsets_tag != 513:
                state.st.image_bytes = (state.st.image_bytes or 0) + length
                if jpeg_data and reader.read(start, 2) == b"\xff\xd8":
                    _jpeg_strip_headers(state, start, start + length)
    width, height = values.get(TAG_WIDTH, [0])[:1], values.get(TAG_HEIGHT, [0])[:1]
    if width and height and width[0] * height[0] > (state.st.pixels or 0):
        state.st.pixels = width[0] * height[0]
        samples = (values.get(TAG_SAMPLES) or [1])[0]
        bits = max(values.get(TAG_BITS) or [1])
        state.st.decoded_bytes = state.st.pixels * max(1, samples) * max(1, -(-bits // 8))
        state.st.codec = _lossy_codec(reader, values)
        if is_page and state.st.width is None:
            state.st.width, state.st.height = width[0], height[0]
    next_t = reader.unpack(layout.offset_fmt, table_end)
    if next_t is not None and next_t[0]:
        state.queue.append((next_t[0], is_page))
    return True


def _jpeg_strip_headers(state: _Walk, start: int, stop: int) -> None:
    """The headers of a JPEG strip or tile, judged like a JPEG's own: its APPn and COM
    segments and table values as metadata, table slack and stray bytes as unexplained.

    Only the headers before the first SOS are walked (the scan data is the pixels), within
    the strip's byte count, so a tile costs a few segments.
    """
    from agent.inspect.jpeg.segments import walk_segments  # lazy: most TIFFs hold no JPEG

    walked = walk_segments(state.reader, start, label_prefix="TIFF JPEG strip ", headers_until=stop)
    state.st.metadata.extend(walked.metadata)
    state.st.unexplained.extend(walked.unexplained)


def _declared_codec(values: dict[int, list[int]]) -> tuple[str, tuple[bytes, ...]] | None:
    """The lossy codec an IFD's Compression names (LOSSY_CODECS), whatever its data holds."""
    return LOSSY_CODECS.get((values.get(TAG_COMPRESSION) or [1])[0])


def _lossy_codec(reader: Reader, values: dict[int, list[int]]) -> str | None:
    """The lossy codec of an IFD's data, when its first strip or tile really starts as one."""
    codec = _declared_codec(values)
    first = (values.get(273) or values.get(324) or [0])[0]
    if codec is None or not 0 < first < reader.size:
        return None
    name, starts = codec
    return name if reader.read(first, 12).startswith(starts) else None


def _read_entry(state: _Walk, entry_at: int) -> tuple[int, int, int, int] | None:
    """(tag, type, count, offset of the value) of one entry; covers out-of-line values."""
    layout = state.layout
    fmt = layout.order + ("HHQ" if layout.big else "HHI")
    head = state.reader.unpack(fmt, entry_at)
    if head is None:
        state.overrun = True
        return None
    tag, typ, n = head
    field_at = entry_at + (12 if layout.big else 8)
    size = TYPE_SIZES.get(typ, 1) * n
    if size <= layout.inline_bytes:
        return tag, typ, n, field_at
    pointer = state.reader.unpack(layout.offset_fmt, field_at)
    value_at = pointer[0] if pointer else 0
    state.cover(value_at, value_at + size)
    return tag, typ, n, value_at


def _read_array(reader: Reader, layout: _Layout, typ: int, n: int, at: int) -> list[int]:
    """Up to MAX_ARRAY_VALUES integers of a SHORT/LONG/LONG8/IFD entry, unpacked at once."""
    code = ARRAY_CODES.get(typ)
    if code is None:
        return []
    n = min(n, MAX_ARRAY_VALUES)
    data = reader.read(at, n * struct.calcsize(code))
    n = len(data) // struct.calcsize(code)
    return list(struct.unpack(f"{layout.order}{n}{code}", data[: n * struct.calcsize(code)]))
