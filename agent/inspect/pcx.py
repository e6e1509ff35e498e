"""ZSoft PCX walker: the 128-byte header, the RLE scan lines, the optional VGA palette.

ZSoft's "PCX Technical Reference": manufacturer 0x0A, version 0-5, encoding 1 (RLE),
bits per pixel, the window (xmin, ymin, xmax, ymax), planes and bytes per line; each of
the (ymax - ymin + 1) scan lines decodes to planes x bytes-per-line bytes. In the RLE, a
byte >= 0xC0 is a count (its low six bits) for the next byte. A version-5, 8-bit,
one-plane image may be followed by a 769-byte palette (0x0C + 768). The palettes and the
header's filler are metadata. The RLE walk is a Python loop (~10 MB/s), bounded by the
time budget.
"""

from __future__ import annotations

from agent.inspect.base import Region, Structure, structure_problem
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.inspect.rle import packets_end
from agent.model import Finding, Severity

HEADER_BYTES = 128
PALETTE_BYTES = 769  # 0x0C marker + 256 RGB entries
EGA_PALETTE_AT, EGA_PALETTE_END = 16, 64  # 16 RGB entries in the header
FILLER_AT = 74  # header bytes 74-127 are filler (after palette info and screen size)


def plausible_header(head: bytes) -> bool:
    """Manufacturer 10, a known version, RLE, sane depth/planes, reserved byte 0."""
    if len(head) < HEADER_BYTES or head[0] != 0x0A or head[2] != 1:
        return False
    xmin, ymin, xmax, ymax = (int.from_bytes(head[i : i + 2], "little") for i in (4, 6, 8, 10))
    return (
        head[1] in (0, 2, 3, 4, 5)
        and head[3] in (1, 2, 4, 8)
        and head[64] == 0
        and head[65] in (1, 3, 4)
        and xmax >= xmin
        and ymax >= ymin
    )


def _scan(window: bytes, done: int, total: int) -> tuple[int, int]:
    """PCX RLE packets in one window (`rle.Scan`): a byte >= 0xC0 repeats the next byte
    (its low six bits) times; any other byte is itself."""
    i, size = 0, len(window)
    while i < size and done < total:
        byte = window[i]
        if byte < 0xC0:
            done += 1
            i += 1
        elif i + 1 < size:
            done += byte & 0x3F
            i += 2
        else:
            break  # a count byte whose value byte is in the next window
    return i, done


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk a PCX image. Never raises for malformed input."""
    del limits
    st = Structure(type="pcx", frames=1)
    head = reader.read(0, HEADER_BYTES)
    if not plausible_header(head):
        return structure_problem(st, "pcx.malformed", "The picture's header is damaged.")
    xmin, ymin, xmax, ymax = (int.from_bytes(head[i : i + 2], "little") for i in (4, 6, 8, 10))
    width, height = xmax - xmin + 1, ymax - ymin + 1
    planes, line_bytes = head[65], int.from_bytes(head[66:68], "little")
    st.width, st.height, st.pixels = width, height, width * height
    st.decoded_bytes = st.pixels * max(1, planes * head[3] // 8)
    # The 16-colour palette and the filler after the header's fields: values no decoder
    # checks (a 1-bit image ignores the palette, every decoder the filler).
    st.metadata.append(Region(EGA_PALETTE_AT, EGA_PALETTE_END, "PCX header palette"))
    st.metadata.append(Region(FILLER_AT, HEADER_BYTES, "PCX header filler"))
    end = packets_end(reader, HEADER_BYTES, height * planes * line_bytes, _scan)
    if end is None:
        st.end = reader.size
        st.findings.append(
            Finding(
                "pcx.truncated", Severity.LOW, "The picture file is incomplete.", offset=reader.size
            )
        )
        return st
    st.image_bytes = end - HEADER_BYTES
    if head[1] == 5 and head[3] == 8 and planes == 1 and reader.byte(end) == 0x0C:
        st.metadata.append(Region(end + 1, min(reader.size, end + PALETTE_BYTES), "PCX palette"))
        end = min(reader.size, end + PALETTE_BYTES)
    st.end = end
    return st
