"""Radiance HDR (RGBE) walker: the text header, the resolution line, H scan lines.

Greg Ward's RGBE format (Radiance's color.c/rgbe.c): `#?RADIANCE` (or `#?RGBE`), header
lines up to an empty line, a resolution line such as `-Y 512 +X 768`, then the scan lines.
A scan line of width 8..32767 starting `02 02 hi lo` (hi lo = the width) is run-length
encoded per component (four components, each until `width` values: a count byte > 128 is
a run of count - 128 copies of the next byte, otherwise that many literal bytes); any other
scan line is flat (width x 4 bytes). The header is metadata. The end is the end of the
last scan line. The RLE walk is a Python loop over the runs (real images average long
literal runs), bounded by the time budget.
"""

from __future__ import annotations

import re

from agent.inspect.base import Region, Structure
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

HEADER_BYTES = 64 * 1024  # bytes searched for the end of the text header
MIN_RLE_WIDTH, MAX_RLE_WIDTH = 8, 0x7FFF  # widths that may be run-length encoded
MAX_LINE_READ_BYTES = 256 * 1024  # bytes read for one encoded scan line
_RESOLUTION = re.compile(rb"\n\n([-+][XY]) (\d{1,9}) ([-+][XY]) (\d{1,9})\n")
SIGNATURES = (b"#?RADIANCE", b"#?RGBE")


def _rle_line(window: bytes, width: int) -> int | None:
    """Bytes one RLE scan line (after its 4-byte header) takes in `window`, or None."""
    i = 0
    for _ in range(4):
        done = 0
        while done < width:
            if i >= len(window):
                return None
            count = window[i]
            if count > 128:
                done += count - 128
                i += 2
            elif count == 0:
                return None
            else:
                done += count
                i += 1 + count
        if done != width or i > len(window):
            return None
    return i


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk a Radiance HDR image to the end of its last scan line. Never raises."""
    del limits
    st = Structure(type="hdr", frames=1)
    head = reader.read(0, HEADER_BYTES)
    match = _RESOLUTION.search(head)
    if not head.startswith(SIGNATURES) or match is None:
        st.findings.append(
            Finding("hdr.malformed", Severity.LOW, "The picture's header is damaged.")
        )
        return st
    first, second = int(match.group(2)), int(match.group(4))
    height, width = (first, second) if match.group(1).endswith(b"Y") else (second, first)
    st.width, st.height, st.pixels = width, height, width * height
    st.decoded_bytes = st.pixels * 12  # decoders expand RGBE to three 32-bit floats
    pos = match.end()
    data_start = pos
    # Its lines (`# comments`, SOFTWARE=, VIEW=...) are free text of the writer's choosing.
    st.metadata.append(Region(0, pos, "HDR header"))
    if width == 0 or height == 0:
        st.end = pos
        return st
    for row in range(height):
        if row % 256 == 0:
            reader.check_deadline()
        line = reader.read(pos, 4)
        if len(line) < 4:
            return _truncated(st, reader, pos)
        rle = MIN_RLE_WIDTH <= width <= MAX_RLE_WIDTH and line[:2] == b"\x02\x02"
        if rle and not line[2] & 0x80 and (line[2] << 8 | line[3]) == width:
            used = _rle_line(reader.read(pos + 4, MAX_LINE_READ_BYTES), width)
            if used is None:
                return _truncated(st, reader, pos)
            pos += 4 + used
        else:
            pos += width * 4
        if pos > reader.size:
            return _truncated(st, reader, pos)
    st.image_bytes = pos - data_start
    st.end = pos
    return st


def _truncated(st: Structure, reader: Reader, at: int) -> Structure:
    st.end = reader.size
    st.findings.append(
        Finding(
            "hdr.truncated",
            Severity.LOW,
            "The picture file is incomplete.",
            offset=min(at, reader.size),
            detail="a scan line runs past the end of the file or is not valid RLE",
        )
    )
    return st
