"""OpenEXR walker: headers, offset tables and every chunk, to the end of the last chunk.

Layout (OpenEXR "File Layout" and "Technical Introduction", openexr.com): the magic
76 2F 31 01, a version field (2, flags 0x200 tiled, 0x400 long names, 0x800 deep data,
0x1000 multi-part), one header (several in a multi-part file, ended by an empty one) of
attributes `name\\0 type\\0 size:i32 value` ended by a 0 byte, then one offset table per
part (one u64 file offset per chunk), then the chunks. A chunk is `[part:i32] y:i32 size:i32
data` (scan lines), `[part] x y level_x level_y:i32 size:i32 data` (tiles), and deep chunks
carry three u64 sizes instead of one (offset table, sample data, unpacked). The chunk count
is the part's `chunkCount` attribute, or follows from the data window and compression (scan
lines) or the `tiles` description (tiles, all mip/rip levels).

The end is the end of the last chunk. Bytes between the offset tables and the chunks, or
between chunks, are unexplained (OpenEXR writes them back to back); attribute values that
are free text or of a type the walker does not know (`comments`, `owner`, custom attributes,
the `preview` image), channel lists (their names) and structural values longer than their
type are metadata regions, judged by the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.inspect.base import Region, Structure, structure_problem
from agent.inspect.limits import MAX_STRUCTURES, Limits
from agent.inspect.reader import Reader

DAMAGED = "The picture's OpenEXR structure is damaged."
MAGIC = b"\x76\x2f\x31\x01"
FLAG_TILED, FLAG_LONG_NAMES, FLAG_DEEP, FLAG_MULTIPART = 0x200, 0x400, 0x800, 0x1000
MAX_ATTRIBUTES = 4096  # attributes per header
MAX_PARTS = 4096  # parts of a multi-part file
MAX_ATTRIBUTE_VALUE_BYTES = 64  # bytes of an attribute value read to understand it
# scan lines per chunk, by the `compression` attribute (NONE, RLE, ZIPS, ZIP, PIZ, PXR24,
# B44, B44A, DWAA, DWAB)
LINES_PER_CHUNK = {0: 1, 1: 1, 2: 1, 3: 16, 4: 32, 5: 16, 6: 32, 7: 32, 8: 32, 9: 256}
PIXEL_TYPE_BYTES = {0: 4, 1: 2, 2: 4}  # UINT, HALF, FLOAT
# attribute types whose value is structure, not text: not metadata
_STRUCTURAL_TYPES = frozenset(
    {
        b"box2i", b"box2f", b"chlist", b"chromaticities", b"compression", b"double",
        b"envmap", b"float", b"int", b"keycode", b"lineOrder", b"m33f", b"m44f", b"rational",
        b"tiledesc", b"timecode", b"v2i", b"v2f", b"v3i", b"v3f", b"deepImageState",
    }
)  # fmt: skip


# bytes of each fixed-size structural type ("Technical Introduction", attribute types);
# chlist is a list of names (no fixed size), judged like a text value
_FIXED_SIZES = {
    b"box2i": 16, b"box2f": 16, b"chromaticities": 32, b"compression": 1, b"double": 8,
    b"envmap": 1, b"float": 4, b"int": 4, b"keycode": 28, b"lineOrder": 1, b"m33f": 36,
    b"m44f": 64, b"rational": 8, b"tiledesc": 9, b"timecode": 8, b"v2i": 8, b"v2f": 8,
    b"v3i": 12, b"v3f": 12, b"deepImageState": 1,
}  # fmt: skip


@dataclass
class _Part:
    """What the walker needs of one part's header."""

    attributes: dict[bytes, bytes] = field(default_factory=dict)  # name -> value head

    def int_value(self, name: bytes) -> int | None:
        raw = self.attributes.get(name)
        return int.from_bytes(raw[:4], "little", signed=True) if raw and len(raw) >= 4 else None

    def window(self) -> tuple[int, int] | None:
        """(width, height) of the data window, or None when it is missing or empty."""
        raw = self.attributes.get(b"dataWindow")
        if raw is None or len(raw) < 16:
            return None
        x0, y0, x1, y1 = (
            int.from_bytes(raw[i : i + 4], "little", signed=True) for i in (0, 4, 8, 12)
        )
        if x1 < x0 or y1 < y0:
            return None
        return x1 - x0 + 1, y1 - y0 + 1


def _problem(st: Structure, code: str, detail: str, offset: int) -> Structure:
    return structure_problem(st, code, DAMAGED, detail=detail, offset=offset)


def _string(reader: Reader, pos: int, limit: int) -> tuple[bytes, int] | None:
    """A NUL-terminated name of at most `limit` bytes at pos: (name, position after NUL)."""
    raw = reader.read(pos, limit + 1)
    end = raw.find(b"\x00")
    if end < 0:
        return None
    return raw[:end], pos + end + 1


def _header(reader: Reader, pos: int, name_limit: int, st: Structure) -> tuple[_Part, int] | None:
    """One header's attributes from pos, up to and past its terminating 0 byte."""
    part = _Part()
    for _ in range(MAX_ATTRIBUTES):
        if reader.byte(pos) == 0:
            return part, pos + 1
        name = _string(reader, pos, name_limit)
        type_name = name and _string(reader, name[1], name_limit)
        if not name or not type_name:
            return None
        size = reader.unpack("<i", type_name[1])
        if size is None or size[0] < 0 or type_name[1] + 4 + size[0] > reader.size:
            return None
        value_at = type_name[1] + 4
        part.attributes[name[0]] = reader.read(value_at, min(size[0], MAX_ATTRIBUTE_VALUE_BYTES))
        fixed = _FIXED_SIZES.get(type_name[0])
        if size[0] and (type_name[0] not in _STRUCTURAL_TYPES or (fixed or 0) < size[0]):
            # Free text, a type the walker does not know, a channel list (its names), or a
            # structural value longer than its type: bytes of the writer's choosing.
            shown, kind = name[0][:32].decode("latin-1"), type_name[0][:32].decode("latin-1")
            label = f"EXR attribute {shown} ({kind})"
            st.metadata.append(Region(value_at, value_at + size[0], label))
        pos = value_at + size[0]
    return None


def _level_size(size: int, level: int, round_up: bool) -> int:
    return max(1, (size + (1 << level) - 1) >> level if round_up else size >> level)


def _levels(size: int, round_up: bool) -> int:
    """Number of mip levels of one axis: roundLog2(size) + 1 (log2 rounded as the mode says)."""
    log2 = size.bit_length() - 1  # rounded down
    if round_up and size & (size - 1):  # not a power of two: rounding up adds one
        log2 += 1
    return log2 + 1


def _tile_count(part: _Part, width: int, height: int) -> int | None:
    """Tiles of all levels, from the `tiles` attribute (tiledesc: x, y sizes, mode)."""
    raw = part.attributes.get(b"tiles")
    if raw is None or len(raw) < 9:
        return None
    tile_x, tile_y = int.from_bytes(raw[0:4], "little"), int.from_bytes(raw[4:8], "little")
    mode, round_up = raw[8] & 0x0F, raw[8] >> 4 == 1
    if tile_x == 0 or tile_y == 0 or mode > 2:
        return None

    def tiles(w: int, h: int) -> int:
        return -(-w // tile_x) * -(-h // tile_y)

    if mode == 0:  # ONE_LEVEL
        return tiles(width, height)
    if mode == 1:  # MIPMAP_LEVELS: one level per size halving of the larger side
        count = _levels(max(width, height), round_up)
        return sum(
            tiles(_level_size(width, i, round_up), _level_size(height, i, round_up))
            for i in range(count)
        )
    x_levels, y_levels = _levels(width, round_up), _levels(height, round_up)  # RIPMAP
    return sum(
        tiles(_level_size(width, i, round_up), _level_size(height, j, round_up))
        for i in range(x_levels)
        for j in range(y_levels)
    )


def _chunk_count(part: _Part, tiled: bool) -> int | None:
    declared = part.int_value(b"chunkCount")
    if declared is not None:
        return declared if declared >= 0 else None
    window = part.window()
    if window is None:
        return None
    if tiled:
        return _tile_count(part, *window)
    compression = part.attributes.get(b"compression", b"\x00")[:1]
    lines = LINES_PER_CHUNK.get(compression[0] if compression else 0)
    return None if lines is None else -(-window[1] // lines)


def _part_kind(part: _Part, version_flags: int) -> tuple[bool, bool]:
    """(tiled, deep) from the part's `type` attribute, else the version flags."""
    kind = part.attributes.get(b"type", b"").split(b"\x00")[0]
    if kind:
        return kind in (b"tiledimage", b"deeptile"), kind.startswith(b"deep")
    return bool(version_flags & FLAG_TILED), bool(version_flags & FLAG_DEEP)


def _chunk_end(reader: Reader, offset: int, multipart: bool, tiled: bool, deep: bool) -> int | None:
    """End of the chunk at offset (its header's sizes), or None past the file."""
    pos = offset + (4 if multipart else 0) + (16 if tiled else 4)
    if deep:
        sizes = reader.unpack("<QQ", pos)  # packed offset table, packed sample data
        return None if sizes is None else pos + 24 + sizes[0] + sizes[1]
    size = reader.unpack("<i", pos)
    return None if size is None or size[0] < 0 else pos + 4 + size[0]


def _decoded_bytes(part: _Part, pixels: int) -> int | None:
    raw = part.attributes.get(b"channels")
    if raw is None:
        return None
    # the value head holds the first channels: name\0 type:i32 pLinear:u8 3 reserved xs ys
    per_pixel, pos = 0, 0
    while pos < len(raw) and raw[pos] != 0:
        end = raw.find(b"\x00", pos)
        if end < 0 or end + 5 > len(raw):
            break
        per_pixel += PIXEL_TYPE_BYTES.get(int.from_bytes(raw[end + 1 : end + 5], "little"), 4)
        pos = end + 17
    return pixels * per_pixel if per_pixel else None


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk an OpenEXR file to the end of its last chunk. Never raises for bad input."""
    del limits
    st = Structure(type="exr", frames=1)
    version = reader.u32le(4)
    if reader.read(0, 4) != MAGIC or version is None or version & 0xFF != 2:
        return _problem(st, "exr.malformed", "no OpenEXR magic and version 2", 0)
    multipart = bool(version & FLAG_MULTIPART)
    name_limit = 255 if version & FLAG_LONG_NAMES else 31
    parts: list[_Part] = []
    pos = 8
    while len(parts) < MAX_PARTS:
        if multipart and parts and reader.byte(pos) == 0:
            pos += 1  # the empty header that ends a multi-part file's headers
            break
        parsed = _header(reader, pos, name_limit, st)
        if parsed is None:
            return _problem(st, "exr.truncated", "a header runs past the end", pos)
        parts.append(parsed[0])
        pos = parsed[1]
        if not multipart:
            break
    st.frames = len(parts)
    window = parts[0].window() if parts else None
    if window is not None:
        st.width, st.height = window
        st.pixels = window[0] * window[1]
        st.decoded_bytes = _decoded_bytes(parts[0], st.pixels)
    kinds = [_part_kind(part, version) for part in parts]
    counts = [_chunk_count(part, tiled) for part, (tiled, _) in zip(parts, kinds, strict=True)]
    if any(count is None for count in counts):
        return _problem(st, "exr.malformed", "a part's chunk count is unknown", pos)
    total = sum(count or 0 for count in counts)
    if total > MAX_STRUCTURES or pos + 8 * total > reader.size:
        return _problem(st, "exr.truncated", f"{total} chunk offsets", pos)
    table = reader.read(pos, 8 * total)
    offsets = [int.from_bytes(table[i : i + 8], "little") for i in range(0, len(table), 8)]
    chunks: list[tuple[int, int]] = []
    index = 0
    for count, (tiled, deep) in zip(counts, kinds, strict=True):
        for offset in offsets[index : index + (count or 0)]:
            end = (
                None
                if offset < pos + 8 * total
                else _chunk_end(reader, offset, multipart, tiled, deep)
            )
            if end is None or end > reader.size:
                return _problem(st, "exr.truncated", f"chunk at {offset} is incomplete", offset)
            chunks.append((offset, end))
        index += count or 0
        reader.check_deadline()
    return _account(st, pos + 8 * total, chunks)


def _account(st: Structure, data_at: int, chunks: list[tuple[int, int]]) -> Structure:
    """The end is the last chunk's end; gaps before and between chunks are unexplained."""
    position = data_at
    for start, end in sorted(chunks):
        if start > position:
            st.unexplained.append(Region(position, start, "bytes between OpenEXR chunks"))
        position = max(position, end)
    st.end = position
    st.image_bytes = sum(end - start for start, end in chunks)
    return st
