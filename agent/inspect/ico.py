"""ICO/CUR walker: the icon directory and the images it points to.

The logical end is the furthest image (offset + size) in the directory. Images may be
BMP DIBs or whole PNGs; a PNG's own IHDR gives its real pixel count (a decompression
bomb hides there, since the directory's width/height bytes stop at 256).
"""

from __future__ import annotations

from agent.inspect.base import Structure
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

HEADER_BYTES = 6  # reserved, type, count
ENTRY_BYTES = 16
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _finding(code: str, severity: Severity, message: str, offset: int, detail: str) -> Finding:
    return Finding(code=code, severity=severity, message=message, offset=offset, detail=detail)


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk an ICO/CUR directory. Never raises for malformed input."""
    del limits
    st = Structure(type="ico")
    head = reader.unpack("<HHH", 0)
    if head is None or head[0] != 0 or head[1] not in (1, 2) or head[2] == 0:
        st.findings.append(
            _finding(
                "ico.malformed",
                Severity.LOW,
                "The icon's header is damaged.",
                0,
                "ICO/CUR header missing or empty directory",
            )
        )
        return st
    count = head[2]
    end = HEADER_BYTES + count * ENTRY_BYTES
    overrun = end > reader.size
    largest = 0
    for i in range(count):
        entry = reader.unpack("<BBBBHHII", HEADER_BYTES + i * ENTRY_BYTES)
        if entry is None:
            break
        width, height = entry[0] or 256, entry[1] or 256
        size, offset = entry[6], entry[7]
        if reader.read(offset, 8) == PNG_SIGNATURE:
            dims = reader.unpack(">II", offset + 16)
            if dims is not None:
                width, height = dims
        if largest < width * height:
            largest = width * height
            st.width, st.height = width, height
        if offset + size > reader.size:
            overrun = True
        end = max(end, offset + size)
    st.frames = count
    st.pixels = largest or None
    st.end = min(end, reader.size)
    if overrun:
        st.findings.append(
            _finding(
                "ico.truncated",
                Severity.LOW,
                "The icon file is incomplete.",
                reader.size,
                f"the directory describes {end} bytes, file has {reader.size}",
            )
        )
    return st
