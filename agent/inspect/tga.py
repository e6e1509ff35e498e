"""Truevision TGA walker: header, ID, colour map, pixels (raw or RLE), TGA 2.0 areas.

TGA 2.0 specification: an 18-byte header (ID length, colour-map type, image type 1/2/3
raw or 9/10/11 RLE, colour-map first/length/entry bits, origin, width, height, pixel
depth, descriptor), the image ID, the colour map, then the pixels. RLE packets are a
count byte (high bit: run of one repeated pixel; else that many + 1 literal pixels), and
are walked until width x height pixels are covered. A 2.0 file ends with a 26-byte
footer (extension offset u32, developer-area offset u32, `TRUEVISION-XFILE.\\0`); the
extension area (495 bytes), the developer directory (count u16, 10-byte tags) and what
they point to are accounted; anything else between the pixels and the footer is
unexplained. The image ID, the colour map and the extension area are metadata.
"""

from __future__ import annotations

from agent.inspect.base import Region, Structure, structure_problem
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.inspect.rle import Scan, packets_end
from agent.model import Finding, Severity

HEADER_BYTES = 18
FOOTER = b"TRUEVISION-XFILE.\x00"
FOOTER_BYTES = 26
EXTENSION_BYTES = 495  # TGA 2.0 extension area size
RAW_TYPES = frozenset({1, 2, 3})
RLE_TYPES = frozenset({9, 10, 11})
PIXEL_DEPTHS = frozenset({8, 15, 16, 24, 32})
MAX_DEVELOPER_TAGS = 1024  # developer directory entries accounted


def plausible_header(head: bytes) -> bool:
    """A TGA header whose fields are all in range (TGA has no magic number)."""
    if len(head) < HEADER_BYTES:
        return False
    cmap_type, image_type, depth = head[1], head[2], head[16]
    width, height = head[12] | head[13] << 8, head[14] | head[15] << 8
    cmap_entry = head[7]
    if cmap_type not in (0, 1) or image_type not in RAW_TYPES | RLE_TYPES:
        return False
    if cmap_type == 1 and cmap_entry not in (15, 16, 24, 32):
        return False
    return depth in PIXEL_DEPTHS and width > 0 and height > 0 and head[17] & 0xC0 == 0


def _scanner(pixel_bytes: int) -> Scan:
    """TGA RLE packets of `pixel_bytes`-byte pixels (`rle.Scan`): a count byte (bit 7: a
    run of one pixel, else literal pixels; low seven bits + 1 pixels), then the pixels."""

    def scan(window: bytes, done: int, total: int) -> tuple[int, int]:
        i = 0
        while i < len(window) and done < total:
            count = (window[i] & 0x7F) + 1
            i += 1 + (pixel_bytes if window[i] & 0x80 else count * pixel_bytes)
            done += count
        return i, done

    return scan


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk a TGA image. Never raises for malformed input."""
    del limits
    st = Structure(type="tga", frames=1)
    head = reader.read(0, HEADER_BYTES)
    if not plausible_header(head):
        return structure_problem(st, "tga.malformed", "The picture's header is damaged.")
    width, height = head[12] | head[13] << 8, head[14] | head[15] << 8
    pixel_bytes = (head[16] + 7) // 8
    cmap_bytes = (head[5] | head[6] << 8) * ((head[7] + 7) // 8) if head[1] == 1 else 0
    pixels_at = HEADER_BYTES + head[0] + cmap_bytes
    # The image ID (free text) and the colour map: values of the writer's choosing.
    for start, length, label in (
        (HEADER_BYTES, head[0], "TGA image ID"),
        (HEADER_BYTES + head[0], cmap_bytes, "TGA colour map"),
    ):
        if length:
            st.metadata.append(Region(start, min(start + length, reader.size), label))
    st.width, st.height, st.pixels = width, height, width * height
    st.decoded_bytes = st.pixels * 4
    if head[2] in RAW_TYPES:
        end: int | None = pixels_at + st.pixels * pixel_bytes
    else:
        end = packets_end(reader, pixels_at, st.pixels, _scanner(pixel_bytes))
    if end is None or end > reader.size:
        st.end = reader.size
        st.findings.append(
            Finding(
                "tga.truncated", Severity.LOW, "The picture file is incomplete.", offset=pixels_at
            )
        )
        return st
    st.image_bytes = end - pixels_at
    st.end = end
    if reader.read(reader.size - 18, 18) == FOOTER and reader.size - FOOTER_BYTES >= end:
        _version2(reader, st, end)
    return st


def _version2(reader: Reader, st: Structure, image_end: int) -> None:
    """Account the TGA 2.0 extension and developer areas and the footer."""
    footer_at = reader.size - FOOTER_BYTES
    extension, developer = reader.u32le(footer_at) or 0, reader.u32le(footer_at + 4) or 0
    covered = [Region(footer_at, reader.size, "TGA footer")]
    if image_end <= extension and extension + EXTENSION_BYTES <= footer_at:
        covered.append(Region(extension, extension + EXTENSION_BYTES, "TGA extension area"))
        st.metadata.append(Region(extension, extension + EXTENSION_BYTES, "TGA extension area"))
        for field in (470, 474, 478):  # colour correction, postage stamp, scan-line table
            pointer = reader.u32le(extension + field) or 0
            if image_end <= pointer < footer_at:
                covered.append(Region(pointer, pointer + 1, "TGA extension data"))
    if image_end <= developer < footer_at:
        count = min(reader.u16le(developer) or 0, MAX_DEVELOPER_TAGS)
        covered.append(Region(developer, developer + 2 + 10 * count, "TGA developer directory"))
        for index in range(count):
            entry = reader.unpack("<HII", developer + 2 + 10 * index)
            if entry is not None and image_end <= entry[1] and entry[1] + entry[2] <= footer_at:
                region = Region(entry[1], entry[1] + entry[2], "TGA developer data (private)")
                covered.append(region)
                st.metadata.append(region)
    st.end = reader.size
    position = image_end
    for region in sorted(covered, key=lambda r: r.start):
        if region.start > position:
            st.unexplained.append(Region(position, region.start, "TGA bytes before its footer"))
        position = max(position, region.end)
