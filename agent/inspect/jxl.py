"""JPEG XL walker: the ISO/IEC 18181-2 container, and a bare codestream bounded honestly.

Container: the 12-byte signature box `JXL `, `ftyp` (`jxl `), then ISO-BMFF boxes: `jxlc`
(the whole codestream; size 0 = to the end of the file), `jxlp` (codestream parts), `jxll`,
`jbrd`, `Exif`, `xml `, `jumb`, `brob` (Brotli-compressed metadata boxes). The end is the
end of the last box; every box but the signature and the codestream is metadata (Exif, XMP,
JUMBF, brob, jbrd, jxli...), unknown ones opaque.

A JPEG XL codestream (FF 0A) has no end marker and no length: only decoding the frame
headers and their tables of contents finds its end. So a bare codestream, and a
codestream box that runs to the end of the file, are not claimed as accounted structure:
the walker sets the end to the file size (nothing "after" can be shown) and hands the
codestream's last and first bytes to the engine (`unwalked.head_and_tail`) as
opaque ranges, so an archive appended at the end (a ZIP's end record is in its last
65,557 bytes) or a program at the start is still found. `jxl.unbounded_codestream` (info)
says so in the report.
"""

from __future__ import annotations

from agent.inspect.base import Region, Structure
from agent.inspect.boxes import box_header
from agent.inspect.limits import MAX_STRUCTURES, Limits
from agent.inspect.reader import Reader
from agent.inspect.unwalked import head_and_tail
from agent.model import Finding, Severity

SIGNATURE = b"\x00\x00\x00\x0cJXL \r\n\x87\n"
BARE_CODESTREAM = b"\xff\x0a"
METADATA_BOXES = {
    b"Exif": "JPEG XL Exif box",
    b"xml ": "JPEG XL XMP box",
    b"jumb": "JPEG XL JUMBF box",
    b"brob": "JPEG XL Brotli box (unknown content)",
}
KNOWN_BOXES = frozenset(
    {b"JXL ", b"ftyp", b"jxlc", b"jxlp", b"jxll", b"jbrd", b"jxli", *METADATA_BOXES}
)


# SizeHeader ratios (18181-1, A.3.1): width = height * numerator / denominator
_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}
_U32_BITS = (9, 13, 18, 30)  # SizeHeader's U32(1 + u(9), 1 + u(13), 1 + u(18), 1 + u(30))


def codestream_size(untrusted_head: bytes) -> tuple[int, int] | None:
    """(width, height) from the SizeHeader right after FF 0A (bits read LSB first)."""
    if not untrusted_head.startswith(BARE_CODESTREAM) or len(untrusted_head) < 12:
        return None
    bits = int.from_bytes(untrusted_head[2:12], "little")
    position = 0

    def take(count: int) -> int:
        nonlocal position
        value = (bits >> position) & ((1 << count) - 1)
        position += count
        return value

    def dimension(div8: bool) -> int:
        if div8:
            return (take(5) + 1) * 8
        return take(_U32_BITS[take(2)]) + 1

    div8 = bool(take(1))
    height = dimension(div8)
    ratio = take(3)
    if ratio == 0:
        width = dimension(div8)
    else:
        numerator, denominator = _RATIOS[ratio]
        width = height * numerator // denominator
    return width, height


def _unbounded(reader: Reader, st: Structure, start: int) -> None:
    """A codestream running to EOF: its head and tail are judged, and the report says so."""
    size = reader.size
    st.image_bytes = (st.image_bytes or 0) + size - start
    dims = codestream_size(reader.read(start, 12))
    if dims is not None and st.pixels is None:
        st.width, st.height = dims
        st.pixels = dims[0] * dims[1]
    head_and_tail(st, start, size, "JPEG XL codestream")
    st.findings.append(
        Finding(
            "jxl.unbounded_codestream",
            Severity.INFO,
            "This JPEG XL picture's end cannot be found without decoding it; its start and "
            "end were checked for hidden files.",
            offset=start,
            detail=f"codestream from {start} to the end of the file ({size - start} bytes)",
        )
    )


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk a JPEG XL container's boxes, or bound a bare codestream. Never raises."""
    del limits
    st = Structure(type="jxl", frames=1)
    if reader.read(0, 2) == BARE_CODESTREAM:
        _unbounded(reader, st, 0)
        st.end = reader.size
        return st
    if reader.read(0, 12) != SIGNATURE:
        st.findings.append(
            Finding("jxl.malformed", Severity.LOW, "The picture's header is damaged.", offset=0)
        )
        return st
    pos = 0
    for _ in range(MAX_STRUCTURES):
        reader.check_deadline()
        if pos + 8 > reader.size:
            break
        head = box_header(reader, pos)
        if head is None:
            st.findings.append(
                Finding(
                    "jxl.malformed",
                    Severity.LOW,
                    "The picture's structure is damaged.",
                    offset=pos,
                    detail=f"no valid box at {pos}",
                )
            )
            break
        kind, header = head.kind, head.header
        box_end = min(head.end, reader.size)
        if head.end > reader.size:
            if kind not in KNOWN_BOXES:  # not a box: the file ends here, the rest is left over
                break
            st.findings.append(
                Finding(
                    "jxl.truncated", Severity.LOW, "The picture file is incomplete.", offset=pos
                )
            )
        if kind in (b"jxlc", b"jxlp"):
            if head.to_end:
                _unbounded(reader, st, pos + header)
            else:
                st.image_bytes = (st.image_bytes or 0) + box_end - pos - header
                dims = codestream_size(reader.read(pos + header, 12))
                if dims is not None and st.pixels is None:
                    st.width, st.height = dims
                    st.pixels = dims[0] * dims[1]
        elif kind in METADATA_BOXES:
            st.metadata.append(Region(pos + header, box_end, METADATA_BOXES[kind]))
        elif kind not in KNOWN_BOXES:
            st.metadata.append(Region(pos + header, box_end, f"JPEG XL unknown box {kind!r}"))
        elif kind != b"JXL ":
            # ftyp, jxll, jbrd (JPEG reconstruction data), jxli (frame index): bytes of the
            # writer's choosing, however few a decoder reads.
            st.metadata.append(Region(pos + header, box_end, f"JPEG XL {kind.decode()} box"))
        pos = box_end
    st.end = min(pos, reader.size)
    return st
