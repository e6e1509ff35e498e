"""GIMP XCF walker: header, layers, channels, hierarchies, levels and tiles, to the last byte.

Layout (GIMP's devel-docs/xcf.txt): `gimp xcf ` + version (`file` = 0, `v001`...) + NUL,
canvas width, height, base type (u32 each), a precision u32 from version 4, the image
property list (type u32, length u32, payload; PROP_END = 0 ends it), then 0-terminated
lists of layer and channel pointers (u32 file offsets; u64 from version 11). A layer is
width, height, type, name (u32 length + bytes), properties, a hierarchy pointer and a mask
(channel) pointer; a channel is width, height, name, properties, a hierarchy pointer. A
hierarchy is width, height, bytes per pixel and 0-terminated level pointers; a level is
width, height and 0-terminated pointers to its 64x64 tiles. Tiles are stored as the image
property PROP_COMPRESSION says: raw, RLE (one byte stream per byte of a pixel) or zlib.

A tile's length is not stored: GIMP reads to the next tile. So the walker takes each
level's tiles as reaching from one pointer to the next and decodes only the last tile of
a level to find where it ends; the file's end is the furthest end of any structure.
Parasites (comments, Exif, XMP, ICC profiles...), layer and channel names and properties
longer than 16 bytes (colour maps, paths, unknown ones) are metadata regions.
"""

from __future__ import annotations

import struct
import zlib

from agent.inspect.base import Region, Structure, structure_problem
from agent.inspect.limits import MAX_STRUCTURES, Limits
from agent.inspect.reader import Reader

DAMAGED = "The picture's GIMP structure is damaged."
MAGIC = b"gimp xcf "
HEADER_BYTES = 14  # magic, four version bytes, NUL
TILE_SIDE = 64  # pixels: tiles are 64x64, smaller at the right and bottom edges
MAX_PROPERTIES = 4096  # properties in one list
MAX_NAME_BYTES = 64 * 1024  # bytes of a layer or channel name
PROP_COLORMAP, PROP_COMPRESSION, PROP_PARASITES = 1, 17, 21
COMPRESSION_NONE, COMPRESSION_RLE, COMPRESSION_ZLIB = 0, 1, 2
# hierarchy bytes per pixel beyond this are no image GIMP writes (RGBA double = 32)
MAX_BYTES_PER_PIXEL = 32
# bytes: properties up to this long are flags, offsets, opacities and colours (xcf.txt)
# with no room for a payload; longer ones are judged as metadata
SMALL_PROPERTY_BYTES = 16


class _Bad(Exception):
    """The structure is broken at `offset` (internal: becomes a finding)."""

    def __init__(self, code: str, detail: str, offset: int) -> None:
        super().__init__(detail)
        self.code, self.detail, self.offset = code, detail, offset


class _Walk:
    """One XCF file being walked: pointer size, compression, the furthest end seen."""

    def __init__(self, reader: Reader, st: Structure, wide: bool) -> None:
        self.reader, self.st = reader, st
        self.pointer = 8 if wide else 4
        self.compression = COMPRESSION_NONE
        self.end = HEADER_BYTES
        self.structures = 0
        self.image_bytes = 0  # bytes of tile data (first tile to the last tile's end)

    def u32s(self, pos: int, count: int) -> tuple[int, ...]:
        values = self.reader.unpack(f">{count}I", pos)
        if values is None:
            raise _Bad("xcf.truncated", "a header runs past the end", pos)
        self.end = max(self.end, pos + 4 * count)
        return values

    def pointers(self, pos: int, expected: int | None = None) -> tuple[list[int], int]:
        """A 0-terminated pointer list at pos: (pointers, position after the 0)."""
        found: list[int] = []
        fmt = ">Q" if self.pointer == 8 else ">I"
        while True:
            value = self.reader.unpack(fmt, pos)
            if value is None:
                raise _Bad("xcf.truncated", "a pointer list runs past the end", pos)
            pos += self.pointer
            if value[0] == 0:
                break
            if not HEADER_BYTES <= value[0] < self.reader.size:
                raise _Bad("xcf.malformed", f"pointer to {value[0]}", pos - self.pointer)
            found.append(value[0])
            self.structures += 1
            if self.structures > MAX_STRUCTURES or (expected is not None and len(found) > expected):
                raise _Bad("xcf.malformed", "too many pointers", pos)
        self.end = max(self.end, pos)
        return found, pos

    def properties(self, pos: int) -> int:
        """A property list at pos; returns the position after PROP_END."""
        for _ in range(MAX_PROPERTIES):
            kind, length = self.u32s(pos, 2)
            payload = pos + 8
            if kind == 0:
                return payload
            if kind == PROP_COLORMAP:  # GIMP reads 3n bytes after n, whatever the length says
                colours = self.u32s(payload, 1)[0]
                length = 4 + 3 * colours
            if payload + length > self.reader.size:
                raise _Bad("xcf.truncated", f"property {kind} runs past the end", pos)
            if kind == PROP_COMPRESSION and length >= 1:
                self.compression = self.reader.byte(payload) or 0
            if kind == PROP_PARASITES and length:
                self.st.metadata.append(Region(payload, payload + length, "XCF parasites"))
            elif length > SMALL_PROPERTY_BYTES:
                # A colour map, vectors, paths, an unknown property: writer-chosen values.
                self.st.metadata.append(Region(payload, payload + length, f"XCF property {kind}"))
            pos = payload + length
            self.end = max(self.end, pos)
        raise _Bad("xcf.malformed", "too many properties", pos)

    def name(self, pos: int) -> int:
        """Skip a string (u32 length including its NUL, then the bytes)."""
        length = self.u32s(pos, 1)[0]
        if length > MAX_NAME_BYTES or pos + 4 + length > self.reader.size:
            raise _Bad("xcf.malformed", f"name of {length} bytes", pos)
        self.end = max(self.end, pos + 4 + length)
        if length:
            self.st.metadata.append(Region(pos + 4, pos + 4 + length, "XCF layer or channel name"))
        return pos + 4 + length

    def drawable(self, pos: int, layer: bool) -> None:
        """A layer (or channel) header and its hierarchy; a layer's mask too."""
        self.u32s(pos, 3 if layer else 2)
        after = self.properties(self.name(pos + (12 if layer else 8)))
        count = 2 if layer else 1
        pointers = [self.pointer_at(after + i * self.pointer) for i in range(count)]
        self.end = max(self.end, after + count * self.pointer)
        if pointers[0]:
            self.hierarchy(pointers[0])
        if layer and pointers[1]:
            self.drawable(pointers[1], layer=False)

    def pointer_at(self, pos: int) -> int:
        value = self.reader.unpack(">Q" if self.pointer == 8 else ">I", pos)
        if value is None:
            raise _Bad("xcf.truncated", "a pointer runs past the end", pos)
        if value[0] and not HEADER_BYTES <= value[0] < self.reader.size:
            raise _Bad("xcf.malformed", f"pointer to {value[0]}", pos)
        return value[0]

    def hierarchy(self, pos: int) -> None:
        width, height, bpp = self.u32s(pos, 3)
        if not 1 <= bpp <= MAX_BYTES_PER_PIXEL:
            raise _Bad("xcf.malformed", f"{bpp} bytes per pixel", pos)
        self.st.decoded_bytes = (self.st.decoded_bytes or 0) + width * height * bpp
        levels, _ = self.pointers(pos + 12)
        for index, level in enumerate(levels):
            self.level(level, bpp, first=index == 0)
            self.reader.check_deadline()

    def level(self, pos: int, bpp: int, first: bool) -> None:
        width, height = self.u32s(pos, 2)
        columns, rows = -(-width // TILE_SIDE), -(-height // TILE_SIDE)
        if columns * rows > MAX_STRUCTURES:
            raise _Bad("xcf.malformed", f"{columns * rows} tiles", pos)
        tiles, _ = self.pointers(pos + 8, expected=columns * rows)
        if not tiles:
            return  # a dummy level: GIMP writes only the first level's tiles
        if first and len(tiles) != columns * rows:
            raise _Bad("xcf.malformed", f"{len(tiles)} of {columns * rows} tiles", pos + 8)
        last = len(tiles) - 1
        tile_width = width - (last % columns) * TILE_SIDE
        tile_height = height - (last // columns) * TILE_SIDE
        pixels = min(TILE_SIDE, tile_width) * min(TILE_SIDE, tile_height)
        last_end = self.tile_end(tiles[-1], pixels, bpp)
        self.end = max(self.end, *tiles, last_end)
        self.image_bytes += max(0, last_end - min(tiles))

    def tile_end(self, pos: int, pixels: int, bpp: int) -> int:
        """Where the tile at pos ends, by decoding as much of it as its length needs."""
        if self.compression == COMPRESSION_NONE:
            end = pos + pixels * bpp
        elif self.compression == COMPRESSION_RLE:
            end = pos
            for _ in range(bpp):
                end = self.rle_end(end, pixels)
        elif self.compression == COMPRESSION_ZLIB:
            end = self.zlib_end(pos, pixels * bpp)
        else:
            raise _Bad("xcf.malformed", f"compression {self.compression}", pos)
        if end > self.reader.size:
            raise _Bad("xcf.truncated", "a tile runs past the end", pos)
        return end

    def rle_end(self, pos: int, count: int) -> int:
        """End of one RLE byte stream that decodes to `count` bytes (xcf.txt, RLE)."""
        produced = 0
        data = self.reader.read(pos, 3 * count + 3)  # the longest encoding of count bytes
        at = 0
        while produced < count:
            if at >= len(data):
                raise _Bad("xcf.truncated", "an RLE tile runs past the end", pos + at)
            op = data[at]
            if op <= 126:  # a short run: op + 1 copies of one byte
                produced, at = produced + op + 1, at + 2
            elif op in (127, 128):  # a long run (127: one byte, 128: literal bytes)
                length = int.from_bytes(data[at + 1 : at + 3], "big")
                produced, at = produced + length, at + 3 + (1 if op == 127 else length)
            else:  # a short literal: 256 - op bytes
                produced, at = produced + 256 - op, at + 1 + 256 - op
        if produced != count:
            raise _Bad("xcf.malformed", "an RLE stream overruns its tile", pos)
        return pos + at

    def zlib_end(self, pos: int, size: int) -> int:
        """End of the zlib stream at pos (a tile decodes to at most `size` bytes)."""
        inflater = zlib.decompressobj()
        data = self.reader.read(pos, size + size // 100 + 64 + 1024)
        try:
            inflater.decompress(data, size + 1)
        except zlib.error as error:
            raise _Bad("xcf.malformed", "a zlib tile does not inflate", pos) from error
        if not inflater.eof:
            raise _Bad("xcf.truncated", "a zlib tile has no end", pos)
        return pos + len(data) - len(inflater.unused_data)


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk a GIMP XCF file to the end of its furthest structure. Never raises."""
    del limits
    st = Structure(type="xcf", frames=1)
    version_tag = reader.read(9, 5)
    if reader.read(0, 9) != MAGIC or len(version_tag) < 5 or version_tag[4] != 0:
        return _finding(st, "xcf.malformed", "no XCF header", 0)
    tag = version_tag[:4]
    if tag == b"file":
        version = 0
    elif tag[:1] == b"v" and tag[1:].isdigit():
        version = int(tag[1:])
    else:
        return _finding(st, "xcf.malformed", f"version {tag!r}", 9)
    walker = _Walk(reader, st, wide=version >= 11)
    try:
        width, height, _base = walker.u32s(HEADER_BYTES, 3)
        st.width, st.height, st.pixels = width, height, width * height
        pos = HEADER_BYTES + 12 + (4 if version >= 4 else 0)
        pos = walker.properties(pos)
        layers, pos = walker.pointers(pos)
        channels, pos = walker.pointers(pos)
        st.frames = max(1, len(layers))
        for layer in layers:
            walker.drawable(layer, layer=True)
        for channel in channels:
            walker.drawable(channel, layer=False)
    except _Bad as bad:
        return _finding(st, bad.code, bad.detail, bad.offset)
    except struct.error:
        return _finding(st, "xcf.malformed", "unreadable numbers", walker.end)
    st.end = walker.end
    st.image_bytes = walker.image_bytes
    return st


def _finding(st: Structure, code: str, detail: str, offset: int) -> Structure:
    return structure_problem(st, code, DAMAGED, detail=detail, offset=offset)
