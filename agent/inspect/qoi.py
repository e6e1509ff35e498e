"""QOI walker: the 14-byte header and the stream up to its 8-byte end marker.

The QOI specification (qoiformat.org, qoi-specification.pdf): `qoif`, width u32be, height
u32be, channels (3, 4), colorspace (0, 1), then the chunks, then seven 0x00 bytes and one
0x01. The reference encoder never writes that marker inside the stream (two QOI_OP_INDEX
with index 0 in a row would be a run), so its first occurrence is the end; a crafted early
marker only moves real stream bytes into the left-over data the engine judges.
"""

from __future__ import annotations

from agent.inspect.base import Structure
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

HEADER_BYTES = 14
END_MARKER = b"\x00" * 7 + b"\x01"


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk a QOI image to its end marker. Never raises for malformed input."""
    del limits
    st = Structure(type="qoi", frames=1)
    head = reader.unpack(">IIBB", 4)
    if reader.read(0, 4) != b"qoif" or head is None or head[2] not in (3, 4) or head[3] > 1:
        st.findings.append(
            Finding("qoi.malformed", Severity.LOW, "The picture's header is damaged.")
        )
        return st
    width, height, channels, _ = head
    st.width, st.height, st.pixels = width, height, width * height
    st.decoded_bytes = st.pixels * channels
    marker = reader.find(END_MARKER, HEADER_BYTES)
    if marker < 0:
        st.end = reader.size
        st.findings.append(
            Finding(
                "qoi.truncated",
                Severity.LOW,
                "The picture file is incomplete.",
                offset=reader.size,
                detail="no end marker",
            )
        )
        return st
    st.end = marker + len(END_MARKER)
    st.image_bytes = marker - HEADER_BYTES
    return st
