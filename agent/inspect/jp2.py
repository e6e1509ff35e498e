"""JPEG 2000 walker: JP2/JPX boxes (ISO/IEC 15444-1 Annex I) and the raw codestream.

Boxes are [LBox u32][TBox][XLBox u64 when LBox = 1][data]; LBox = 0 means "to the end of
the file", allowed for the last box only, and used for the `jp2c` codestream box. So the
codestream is walked to its own end whatever its box says: SOC (FF4F), SIZ (FF51) and the
other main-header marker segments [marker][Lmar u16][...], then tile-parts chained by
SOT (FF90, Psot = tile-part length from the SOT marker; 0 = up to EOC), then EOC (FFD9).
Bytes of a `jp2c` box after EOC, and of a size-0 `jp2c` after EOC, are unexplained or left
over, as is a `free` box's content; every other box (`jp2h`, `xml `, `uuid`, labels,
URLs, unknown ones) is metadata (uuid and unknown ones opaque), and so are main-header
marker segments that are no coding parameter (COM).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.inspect.base import Region, Structure
from agent.inspect.boxes import box_header
from agent.inspect.limits import MAX_STRUCTURES, Limits
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
SOC, SIZ, SOT, SOD, EOC = 0xFF4F, 0xFF51, 0xFF90, 0xFF93, 0xFFD9
# Main-header marker segments of coding parameters (15444-1 Table A.2, 15444-2 Table A.3):
# SIZ, CAP, COD, COC, TLM, PLM, PPM, QCD, QCC, RGN, POC, CRG, CPF, and Part 2's DCO, VMS,
# DFS, ADS, ATK, CBD, MCT, MCC, MIC, NLT. Anything else (COM) is judged as metadata.
CODING_MARKERS = frozenset(
    {0xFF51, 0xFF50, 0xFF52, 0xFF53, 0xFF55, 0xFF57, 0xFF60, 0xFF5C, 0xFF5D, 0xFF5E, 0xFF5F,
     0xFF63, 0xFF59, 0xFF70, 0xFF71, 0xFF72, 0xFF73, 0xFF74, 0xFF75, 0xFF78, 0xFF79, 0xFF7A,
     0xFF7B, 0xFF76}
)  # fmt: skip
MAX_TILE_PARTS = MAX_STRUCTURES  # tile-parts followed in one codestream
KNOWN_BOXES = frozenset(
    {b"jP  ", b"ftyp", b"jp2h", b"ihdr", b"colr", b"res ", b"jp2c", b"jp2i", b"rreq", b"asoc",
     b"lbl ", b"nlst", b"cgrp", b"dtbl", b"ftbl", b"comp", b"jpch", b"jplh", b"cdef", b"pclr",
     b"cmap", b"bpcc", b"uinf", b"ulst", b"url ", b"xml ", b"uuid", b"jumb", b"free"}
)  # fmt: skip


# Boxes walked or judged above: the signature, the codestream, XML, uuid, free.
_JUDGED_APART = frozenset({b"jP  ", b"jp2c", b"xml ", b"uuid", b"free"})


def _finding(code: str, message: str, offset: int, detail: str) -> Finding:
    return Finding(code, Severity.LOW, message, offset=offset, detail=detail)


@dataclass
class Codestream:
    """What a codestream walk found: its end (just past EOC) and SIZ fields."""

    end: int | None = None
    width: int = 0
    height: int = 0
    components: int = 0
    bits: int = 8
    problem: str = ""
    # (start, end) of main-header marker segments that are no coding parameter: COM
    # comments (Rcom, then text or binary) and markers Annex A does not define
    comments: list[tuple[int, int]] = field(default_factory=list)


def walk_codestream(reader: Reader, start: int, stop: int) -> Codestream:
    """Walk the codestream at `start` (SOC) to EOC within [start, stop)."""
    found = Codestream()
    if reader.u16be(start) != SOC or reader.u16be(start + 2) != SIZ:
        found.problem = "no SOC/SIZ at the codestream start"
        return found
    siz = reader.unpack(">HHIIIIIIIIH", start + 4)
    if siz is not None:
        _, _, xsiz, ysiz, x0, y0, *_tiles, csiz = siz
        found.width, found.height, found.components = xsiz - x0, ysiz - y0, csiz
        ssiz = reader.byte(start + 4 + 38)
        found.bits = ((ssiz or 0) & 0x7F) + 1
    pos = start + 2
    for _ in range(MAX_STRUCTURES):  # main header: marker segments up to the first SOT
        marker, length = reader.u16be(pos), reader.u16be(pos + 2)
        if marker is None or length is None or marker < 0xFF00:
            found.problem = f"no marker at {pos}"
            return found
        if marker in (SOT, EOC):
            break
        if marker not in CODING_MARKERS:
            found.comments.append((pos + 4, min(pos + 2 + length, stop)))
        pos += 2 + length
    for _ in range(MAX_TILE_PARTS):
        reader.check_deadline()
        marker = reader.u16be(pos)
        if marker == EOC:
            found.end = pos + 2
            return found
        psot = reader.u32be(pos + 6)
        if marker != SOT or psot is None or reader.u16be(pos + 2) != 10:
            found.problem = f"no SOT or EOC at {pos}"
            return found
        if psot == 0:  # the last tile-part runs to EOC; packet data never holds FF >= 90
            eoc = reader.find(b"\xff\xd9", pos + 12, stop)
            found.end = eoc + 2 if eoc >= 0 else None
            found.problem = "" if eoc >= 0 else "no EOC after the last tile-part"
            return found
        if psot < 14 or pos + psot > stop:
            found.problem = f"tile-part at {pos} runs past the end ({psot} bytes)"
            return found
        pos += psot
    found.problem = f"more than {MAX_TILE_PARTS} tile-parts"
    return found


def _finish_codestream(st: Structure, cs: Codestream, start: int, box_end: int) -> int:
    """Record sizes and problems of a walked codestream; where the codestream ends."""
    if cs.width and cs.height and st.pixels is None:
        st.width, st.height, st.pixels = cs.width, cs.height, cs.width * cs.height
        st.decoded_bytes = st.pixels * max(1, cs.components) * (2 if cs.bits > 8 else 1)
    for comment_start, comment_end in cs.comments:
        if comment_end > comment_start:
            st.metadata.append(Region(comment_start, comment_end, "JP2 codestream comment"))
    if cs.end is None:
        st.findings.append(
            _finding("jp2.malformed", "The picture's structure is damaged.", start, cs.problem)
        )
        return box_end
    st.image_bytes = (st.image_bytes or 0) + cs.end - start
    return cs.end


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk a JP2 file or a raw J2K codestream. Never raises for malformed input."""
    del limits
    st = Structure(type="jp2", frames=1)
    if reader.u16be(0) == SOC:
        cs = walk_codestream(reader, 0, reader.size)
        st.end = _finish_codestream(st, cs, 0, reader.size)
        return st
    if reader.read(0, 12) != SIGNATURE:
        st.findings.append(_finding("jp2.malformed", "The picture's header is damaged.", 0, ""))
        return st
    pos = 0
    for _ in range(MAX_STRUCTURES):
        reader.check_deadline()
        if pos + 8 > reader.size:
            break
        head = box_header(reader, pos)
        if head is None:
            st.findings.append(
                _finding("jp2.malformed", "The picture's structure is damaged.", pos, "bad box")
            )
            break
        kind, header = head.kind, head.header
        box_end = min(head.end, reader.size)
        if head.end > reader.size:
            if kind not in KNOWN_BOXES:  # not a box: the file ends here, the rest is left over
                break
            st.findings.append(
                _finding("jp2.truncated", "The picture file is incomplete.", pos, f"box {kind!r}")
            )
        if kind == b"jp2h":
            _header(reader, st, pos + header, box_end)
        elif kind == b"jp2c":
            cs = walk_codestream(reader, pos + header, box_end)
            end = _finish_codestream(st, cs, pos + header, box_end)
            if head.to_end:  # "to the end of the file": the codestream ends it
                box_end = end
            elif end < box_end:
                st.unexplained.append(Region(end, box_end, "JP2 codestream box after EOC"))
        elif kind == b"xml ":
            st.metadata.append(Region(pos + header, box_end, "JP2 XML box"))
        elif kind == b"uuid":
            st.metadata.append(Region(pos + header, box_end, "JP2 uuid box (private data)"))
        elif kind not in KNOWN_BOXES:
            st.metadata.append(Region(pos + header, box_end, f"JP2 unknown box {kind!r}"))
        elif kind == b"free":
            st.unexplained.append(Region(pos + header, box_end, "JP2 free box"))
        if kind == b"jp2h" or (kind in KNOWN_BOXES and kind not in _JUDGED_APART):
            # Header boxes (colour profile, palette), labels, URLs, IPR, association
            # boxes: values of the writer's choosing.
            st.metadata.append(Region(pos + header, box_end, f"JP2 {kind.decode()} box"))
        pos = box_end
    st.end = min(pos, reader.size)
    return st


def _header(reader: Reader, st: Structure, start: int, stop: int) -> None:
    """ihdr inside jp2h: HEIGHT u32, WIDTH u32, NC u16, BPC u8 (Annex I.5.3.1)."""
    if reader.read(start + 4, 4) != b"ihdr":
        return
    fields = reader.unpack(">IIHB", start + 8)
    if fields is None or start + 22 > stop:
        return
    height, width, components, bpc = fields
    st.width, st.height, st.pixels = width, height, width * height
    bits = (bpc & 0x7F) + 1 if bpc != 0xFF else 8
    st.decoded_bytes = st.pixels * max(1, components) * (2 if bits > 8 else 1)
