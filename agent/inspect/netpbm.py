"""Netpbm walker: PBM/PGM/PPM (P1-P6) and PAM (P7), to the end of the raster.

Header (Netpbm's pbm(5)/pgm(5)/ppm(5)/pam(5)): the magic, then whitespace-separated ASCII
width, height and (except for bitmaps) maxval, with `#` comments, then one whitespace
byte; PAM has `WIDTH`/`HEIGHT`/`DEPTH`/`MAXVAL`/`TUPLTYPE` lines up to `ENDHDR`. Binary
rasters have a fixed size (P4: ceil(width/8) x height; P5/P6/P7: width x height x samples
x (1, or 2 when maxval > 255)); plain ones (P1-P3) end at the first byte that is neither a
digit nor whitespace. Several images may follow each other in one file (the formats allow
it); the walk goes on while another header follows. Each header is metadata (its comments
are free text).
"""

from __future__ import annotations

import re

from agent.inspect.base import Region, Structure
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

HEADER_BYTES = 1024  # bytes read for one header (comments included)
MAX_IMAGES = 64  # images followed in one file
_TOKEN = re.compile(rb"(?:\s|#[^\n]*\n)*(\d+)")
_PAM_HEADER = re.compile(rb"P7\n(.*?)ENDHDR\n", re.DOTALL)
_PAM_FIELD = re.compile(rb"^(WIDTH|HEIGHT|DEPTH|MAXVAL)\s+(\d+)", re.MULTILINE)
_PLAIN_END = re.compile(rb"[^0-9\s]")
SAMPLES = {b"P2": 1, b"P3": 3, b"P5": 1, b"P6": 3}


def _header(head: bytes) -> tuple[int, int, int, int, int] | None:
    """(header length, width, height, samples, maxval) of the image at the head."""
    magic = head[:2]
    if magic == b"P7":
        match = _PAM_HEADER.match(head)
        if match is None:
            return None
        fields = {k: int(v) for k, v in _PAM_FIELD.findall(match.group(1))}
        if not {b"WIDTH", b"HEIGHT", b"DEPTH", b"MAXVAL"} <= set(fields):
            return None
        return match.end(), fields[b"WIDTH"], fields[b"HEIGHT"], fields[b"DEPTH"], fields[b"MAXVAL"]
    count = 2 if magic in (b"P1", b"P4") else 3
    values: list[int] = []
    pos = 2
    for _ in range(count):
        match = _TOKEN.match(head, pos)
        if match is None:
            return None
        values.append(int(match.group(1)))
        pos = match.end()
    if pos >= len(head) or not head[pos : pos + 1].isspace():
        return None
    maxval = values[2] if count == 3 else 1
    return pos + 1, values[0], values[1], SAMPLES.get(magic, 1), maxval


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk the netpbm images at the start of the file. Never raises for malformed input."""
    del limits
    st = Structure(type="netpbm")
    pos = 0
    images = 0
    for _ in range(MAX_IMAGES):
        reader.check_deadline()
        head = reader.read(pos, HEADER_BYTES)
        if head[:1] != b"P" or head[1:2] not in b"1234567" or len(head) < 3:
            break
        parsed = _header(head)
        if parsed is None:
            if images == 0:
                st.findings.append(
                    Finding("netpbm.malformed", Severity.LOW, "The picture's header is damaged.")
                )
            break
        length, width, height, samples, maxval = parsed
        magic = head[:2]
        raster_at = pos + length
        sample_bytes = 2 if maxval > 255 else 1
        if magic == b"P4":
            end = raster_at + (width + 7) // 8 * height
        elif magic in (b"P1", b"P2", b"P3"):
            stray = reader.search(_PLAIN_END, raster_at)
            end = stray.start() if stray else reader.size
        else:
            end = raster_at + width * height * samples * sample_bytes
        images += 1
        # Its `#` comments (and PAM's TUPLTYPE lines) are free text of the writer's choosing.
        st.metadata.append(Region(pos, raster_at, "netpbm header"))
        if width * height > (st.pixels or 0):
            st.width, st.height, st.pixels = width, height, width * height
            st.decoded_bytes = width * height * samples * sample_bytes
        st.image_bytes = (st.image_bytes or 0) + end - raster_at
        if end > reader.size:
            st.findings.append(
                Finding(
                    "netpbm.truncated",
                    Severity.LOW,
                    "The picture file is incomplete.",
                    offset=raster_at,
                    detail=f"raster needs {end - raster_at} bytes",
                )
            )
            pos = reader.size
            break
        pos = end
    st.frames = images or None
    st.end = pos if images else None
    return st
