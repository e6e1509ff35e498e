"""DICOM (PS3.10) walker: preamble, File Meta group, data elements to the last one.

PE-DICOM (CVE-2019-11687) puts an executable header in the 128-byte preamble and the
rest of the program in a private OB element. PS3.10 §7.5 says: accept a preamble that is
all zeros or starts with a TIFF/BigTIFF magic, and test for executable content anywhere.
So: executable-looking preamble -> high; other non-zero preamble (vendor text) -> info;
PE/ELF headers anywhere -> high; private OB/UN elements -> metadata regions.

Where the dataset ends: a file appended to a DICOM (ZIP, HTML, RAR...) parses as one more
"data element" whose length runs past the end of the file, especially in implicit-VR
datasets where any 8 bytes make a header. PS3.5 §7.1 says top-level data elements come in
ascending tag order, so an element that breaks the order, a command (0000) or File Meta
(0002) group element inside the dataset, an item tag, an unknown VR, or an overrunning
element whose tag is no plausible DICOM tag means the dataset ended at its first byte:
`Structure.end` is set there and the engine judges the rest. An overrunning element with a
plausible tag is the last real element cut short (a truncated download): low, no left-over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from agent.inspect.base import Region, Structure
from agent.inspect.limits import MAX_STRUCTURES, Limits
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

PREAMBLE_BYTES = 128
DICM_OFFSET = 128
MAX_NESTING = 32  # sequence/item levels followed before calling the file absurd
MAX_METADATA_REGIONS = 10_000  # private elements recorded as metadata regions
MAX_EXECUTABLE_CANDIDATES = MAX_STRUCTURES  # `MZ`/ELF hits checked in one file
MAX_PE_HEADER_OFFSET = 16 * 1024**2  # bytes: e_lfanew values we follow
UNDEFINED = 0xFFFF_FFFF

SAFE_PREAMBLE_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
EXECUTABLE_PREAMBLE_MAGICS = {
    b"\x7fELF": "elf",
    b"\xfe\xed\xfa\xce": "macho",
    b"\xfe\xed\xfa\xcf": "macho",
    b"\xce\xfa\xed\xfe": "macho",
    b"\xcf\xfa\xed\xfe": "macho",
    b"\xca\xfe\xba\xbe": "macho",
}
LONG_LENGTH_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
PRIVATE_BLOB_VRS = frozenset({b"OB", b"OW", b"UN", b"UT", b"LT"})
KNOWN_VRS = frozenset(  # PS3.5 §6.2 value representations
    {
        b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT",
        b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST",
        b"SV", b"TM", b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
    }
)  # fmt: skip
COMMAND_GROUP, META_GROUP, DELIMITER_GROUP = 0x0000, 0x0002, 0xFFFE
ILLEGAL_ODD_GROUPS = frozenset({0x0001, 0x0003, 0x0005, 0x0007, 0xFFFF})  # PS3.5 §7.8.1
# PS3.6 groups of standard data elements; an implicit-VR element that overruns the file is
# a truncated real element only when its tag could be one (or a private one with a creator).
STANDARD_GROUPS = frozenset(
    {
        0x0008, 0x0010, 0x0012, 0x0014, 0x0018, 0x0020, 0x0022, 0x0024, 0x0028, 0x0032,
        0x0038, 0x003A, 0x0040, 0x0042, 0x0044, 0x0046, 0x0048, 0x0050, 0x0052, 0x0054,
        0x0060, 0x0062, 0x0064, 0x0066, 0x0068, 0x006A, 0x0070, 0x0072, 0x0074, 0x0076,
        0x0078, 0x007A, 0x007C, 0x0080, 0x0082, 0x0088, 0x0100, 0x0400, 0x1000, 0x1010,
        0x2000, 0x2010, 0x2020, 0x2030, 0x2040, 0x2050, 0x2100, 0x2110, 0x2120, 0x2130,
        0x2200, 0x3002, 0x3004, 0x3006, 0x3008, 0x300A, 0x300C, 0x300E, 0x4000, 0x4008,
        0x4010, 0x4FFE, 0x5200, 0x5400, 0x5600, 0x7FE0, 0xFFFA, 0xFFFC,
    }
)  # fmt: skip
REPEATING_GROUP_BASES = (0x5000, 0x6000)  # curves and overlays: 50xx / 60xx, xx even
REPEATING_GROUP_SPAN = 0x100  # groups in one repeating range
PRIVATE_CREATOR_FIRST, PRIVATE_CREATOR_LAST = 0x0010, 0x00FF  # (gggg,0010-00FF)
PIXEL_DATA_ELEMENTS = frozenset({0x0008, 0x0009, 0x0010})  # float, double, plain (7FE0,xxxx)
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
ITEM, ITEM_END, SEQUENCE_END = 0xE000, 0xE00D, 0xE0DD
PIXEL_DATA = (0x7FE0, 0x0010)
PIXEL_GROUP = 0x7FE0
_ELF_HEADER = re.compile(rb"\x7fELF[\x01\x02][\x01\x02]\x01")
_MZ = re.compile(rb"MZ")


def _finding(code: str, severity: Severity, message: str, offset: int, detail: str) -> Finding:
    return Finding(code=code, severity=severity, message=message, offset=offset, detail=detail)


def pe_header_at(reader: Reader, mz_offset: int) -> int | None:
    """Offset of `PE\\0\\0` that the DOS header at `mz_offset` points to, or None."""
    e_lfanew = reader.u32le(mz_offset + 0x3C)
    if e_lfanew is None or not 0x40 <= e_lfanew <= MAX_PE_HEADER_OFFSET:
        return None
    pe_at = mz_offset + e_lfanew
    return pe_at if reader.read(pe_at, 4) == b"PE\x00\x00" else None


def _check_preamble(reader: Reader, st: Structure) -> None:
    preamble = reader.read(0, PREAMBLE_BYTES)
    if not preamble.strip(b"\x00") or preamble.startswith(SAFE_PREAMBLE_MAGICS):
        return
    kind = EXECUTABLE_PREAMBLE_MAGICS.get(preamble[:4])
    detail = f"preamble starts {preamble[:8]!r}"
    if preamble.startswith(b"MZ"):
        kind = "pe" if pe_header_at(reader, 0) is not None else "dos"
        detail += "; e_lfanew points to a PE header" if kind == "pe" else ""
    elif preamble.startswith(b"#!") or preamble.startswith(b"<"):
        kind = "script"
    if kind is None:
        st.findings.append(
            _finding(
                "dicom.unusual_preamble",
                Severity.INFO,
                "The medical image has vendor data in its header.",
                0,
                detail,
            )
        )
        return
    st.findings.append(
        Finding(
            code="dicom.executable_preamble",
            severity=Severity.HIGH,
            message="This medical image is also a program that could run on this computer.",
            offset=0,
            length=PREAMBLE_BYTES,
            payload=kind,
            detail=detail,
        )
    )


@dataclass
class _Syntax:
    explicit: bool = True
    little: bool = True


class _Parser:
    """Walks data elements; remembers what the engine needs (dims, metadata, problems)."""

    def __init__(self, reader: Reader, st: Structure) -> None:
        self.reader = reader
        self.st = st
        self.count = 0
        self.problem: tuple[str, int, str] | None = None
        self.transfer_syntax = ""
        self.values: dict[tuple[int, int], bytes] = {}
        self.last_top_tag = -1  # (group << 16 | element) of the previous top-level element
        self.private_creators: set[tuple[int, int]] = set()  # (group, block) reserved
        self.pixels_complete = False  # a whole top-level pixel data element was walked
        self.dataset_end: tuple[int, str] | None = None  # (offset, why) before end of file

    def end_dataset(self, pos: int, why: str) -> int:
        """The top-level dataset ended at `pos`: what follows is not DICOM."""
        self.dataset_end = (pos, why)
        return pos

    def out_of_place(self, group: int, element: int, vr: bytes, length: int, at: int) -> str:
        """Why a top-level element cannot belong to the dataset ("" when it can)."""
        if group in (COMMAND_GROUP, META_GROUP, DELIMITER_GROUP) or group in ILLEGAL_ODD_GROUPS:
            return f"group {group:04X} cannot appear in a dataset"
        if (group << 16 | element) <= self.last_top_tag:
            return "breaks the ascending tag order"
        if vr and vr not in KNOWN_VRS:
            return f"has an unknown VR {vr!r}"
        overruns = length != UNDEFINED and at + length > self.reader.size
        if overruns and not vr and not self.plausible_tag(group, element):
            return "overruns the file and is no DICOM tag"
        return ""

    def plausible_tag(self, group: int, element: int) -> bool:
        """A standard group, a repeating curve/overlay group, or a reserved private block."""
        if group % 2:
            return (group, element >> 8) in self.private_creators
        return group in STANDARD_GROUPS or any(
            base <= group < base + REPEATING_GROUP_SPAN for base in REPEATING_GROUP_BASES
        )

    def remember_top(self, group: int, element: int) -> None:
        """Order and private-creator bookkeeping for an accepted top-level element."""
        self.last_top_tag = group << 16 | element
        if group % 2 and PRIVATE_CREATOR_FIRST <= element <= PRIVATE_CREATOR_LAST:
            self.private_creators.add((group, element))

    def fail(self, code: str, pos: int, detail: str) -> None:
        if self.problem is None:
            self.problem = (code, pos, detail)

    def header(self, pos: int, syn: _Syntax) -> tuple[int, int, bytes, int, int] | None:
        """(group, element, VR, length, value offset) of the element at `pos`."""
        order = "<" if syn.little else ">"
        tag = self.reader.unpack(order + "HH", pos)
        if tag is None:
            return None
        group, element = tag
        if group == 0xFFFE or not syn.explicit:
            length = self.reader.unpack(order + "I", pos + 4)
            return None if length is None else (group, element, b"", length[0], pos + 8)
        vr = self.reader.read(pos + 4, 2)
        if len(vr) < 2 or not (0x41 <= vr[0] <= 0x5A and 0x41 <= vr[1] <= 0x5A):
            return None
        if vr in LONG_LENGTH_VRS:
            length = self.reader.unpack(order + "I", pos + 8)
            return None if length is None else (group, element, vr, length[0], pos + 12)
        short = self.reader.unpack(order + "H", pos + 6)
        return None if short is None else (group, element, vr, short[0], pos + 8)

    def elements(self, pos: int, stop: int, syn: _Syntax, depth: int, meta_only: bool) -> int:
        """Walk elements in [pos, stop); returns the offset after the last one.

        Stops after an item/sequence delimiter (nested levels), at a non-0002 group when
        walking the File Meta group, or where the bytes stop looking like elements. At the
        top level of the dataset, an element that cannot belong there ends the dataset.
        """
        top = depth == 0 and not meta_only
        while pos < stop:
            self.reader.check_deadline()
            self.count += 1
            if self.count > MAX_STRUCTURES:
                self.fail("dicom.malformed", pos, f"more than {MAX_STRUCTURES} elements")
                return pos
            if meta_only and self.reader.u16le(pos) != 0x0002:
                return pos  # the dataset may use another syntax: stop before parsing it
            head = self.header(pos, syn)
            if head is None and top:
                return self.end_dataset(pos, "no valid data element header")
            if head is None:
                self.fail("dicom.malformed", pos, f"no valid data element at offset {pos}")
                return pos
            group, element, vr, length, value_at = head
            if top:
                why = self.out_of_place(group, element, vr, length, value_at)
                if why:
                    return self.end_dataset(pos, f"({group:04X},{element:04X}) {why}")
                self.remember_top(group, element)
            if group == 0xFFFE and element in (ITEM_END, SEQUENCE_END):
                return value_at
            is_pixels = top and group == PIXEL_GROUP and element in PIXEL_DATA_ELEMENTS
            if length == UNDEFINED:
                pos = self.undefined(group, element, vr, value_at, stop, syn, depth)
                if self.problem is not None:
                    return pos
                self.pixels_complete |= is_pixels
                continue
            value_end = value_at + length
            if value_end > stop:
                # The last real element cut short (a truncated copy): its bytes are still
                # metadata to look into when it is a private blob.
                self.note(group, element, vr, value_at, stop, depth)
                self.fail("dicom.truncated", pos, f"element ({group:04X},{element:04X}) overruns")
                return stop
            self.note(group, element, vr, value_at, value_end, depth)
            self.pixels_complete |= is_pixels
            if vr == b"SQ" and depth < MAX_NESTING:
                self.items(value_at, value_end, syn, depth + 1)
            pos = value_end
        return pos

    def undefined(
        self, group: int, element: int, vr: bytes, at: int, stop: int, syn: _Syntax, depth: int
    ) -> int:
        """Walk an undefined-length value (sequence or encapsulated pixel data)."""
        if depth >= MAX_NESTING:
            self.fail("dicom.malformed", at, f"sequences nested deeper than {MAX_NESTING}")
            return at
        if (group, element) == PIXEL_DATA or vr in (b"OB", b"OW"):
            return self.fragments(at, stop, syn)
        inner = _Syntax(False, True) if vr == b"UN" else syn  # UN sequences are implicit LE
        return self.items(at, stop, inner, depth + 1, until_delimiter=True)

    def items(
        self, pos: int, stop: int, syn: _Syntax, depth: int, until_delimiter: bool = False
    ) -> int:
        """Walk sequence items in [pos, stop); returns the offset after the sequence."""
        while pos < stop and self.problem is None:
            self.count += 1
            head = self.header(pos, _Syntax(False, syn.little))
            if head is None or head[0] != 0xFFFE or self.count > MAX_STRUCTURES:
                self.fail("dicom.malformed", pos, f"no valid sequence item at offset {pos}")
                return pos
            _group, element, _vr, length, value_at = head
            if element == SEQUENCE_END:
                return value_at
            if length == UNDEFINED:
                pos = self.elements(value_at, stop, syn, depth, meta_only=False)
            elif value_at + length > stop:
                self.fail("dicom.truncated", pos, "sequence item overruns its sequence")
                return stop
            else:
                self.elements(value_at, value_at + length, syn, depth, meta_only=False)
                pos = value_at + length
        if until_delimiter and self.problem is None and pos >= stop:
            self.fail("dicom.truncated", pos, "sequence has no delimiter before the end")
        return pos

    def fragments(self, pos: int, stop: int, syn: _Syntax) -> int:
        """Skip encapsulated pixel-data fragments up to the sequence delimiter."""
        order = "<" if syn.little else ">"
        while pos < stop:
            self.reader.check_deadline()
            self.count += 1
            head = self.reader.unpack(order + "HHI", pos)
            if head is None or head[0] != 0xFFFE or self.count > MAX_STRUCTURES:
                self.fail("dicom.malformed", pos, f"no valid pixel-data fragment at {pos}")
                return pos
            if head[1] == SEQUENCE_END:
                return pos + 8
            pos += 8 + head[2]
        self.fail("dicom.truncated", stop, "encapsulated pixel data has no delimiter")
        return stop

    def note(self, group: int, element: int, vr: bytes, start: int, end: int, depth: int) -> None:
        """Remember dimensions, transfer syntax and private blobs."""
        if depth == 0 and (group, element) in (
            (0x0002, 0x0010),
            (0x0028, 0x0010),
            (0x0028, 0x0011),
            (0x0028, 0x0008),
        ):
            self.values[(group, element)] = self.reader.read(start, min(end - start, 64))
        if (
            group % 2 == 1
            and (not vr or vr in PRIVATE_BLOB_VRS)
            and end > start
            and len(self.st.metadata) < MAX_METADATA_REGIONS
        ):
            label = f"DICOM private element ({group:04X},{element:04X})"
            self.st.metadata.append(Region(start, end, label))


def _syntax_for(transfer_syntax: str) -> _Syntax:
    if transfer_syntax == IMPLICIT_LE:
        return _Syntax(explicit=False, little=True)
    if transfer_syntax == EXPLICIT_BE:
        return _Syntax(explicit=True, little=False)
    return _Syntax()


def _guess_raw_syntax(reader: Reader) -> _Syntax:
    """Syntax of a dataset with no File Meta group, from its first element."""
    explicit = all(0x41 <= b <= 0x5A for b in reader.read(4, 2))
    group_le, group_be = reader.u16le(0) or 0, reader.u16be(0) or 0
    return _Syntax(explicit=explicit, little=group_le <= group_be)


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk a DICOM file's preamble and data elements. Never raises for malformed input."""
    del limits
    st = Structure(type="dicom")
    parser = _Parser(reader, st)
    if reader.read(DICM_OFFSET, 4) == b"DICM":
        _check_preamble(reader, st)
        pos = DICM_OFFSET + 4
    else:
        pos = 0
    if reader.u16le(pos) == 0x0002:
        pos = parser.elements(pos, reader.size, _Syntax(), 0, meta_only=True)
        raw_ts = parser.values.get((0x0002, 0x0010), b"")
        transfer_syntax = raw_ts.rstrip(b"\x00 ").decode("ascii", "replace")
        syntax = _syntax_for(transfer_syntax)
    else:
        transfer_syntax, syntax = "", _guess_raw_syntax(reader)
    if parser.problem is None:
        if transfer_syntax == DEFLATED_LE:
            pos = reader.size  # the dataset is one deflate stream: not walked element-wise
        else:
            pos = parser.elements(pos, reader.size, syntax, 0, meta_only=False)
    st.end = pos
    only_padding = parser.dataset_end is not None and _account_zero_padding(reader, st, pos)
    if (
        parser.problem is None
        and parser.dataset_end is not None
        and not parser.pixels_complete
        and not only_padding
    ):
        # After complete pixel data the rest is an appended file, which the engine judges;
        # before it, the image itself is damaged (unless all that follows is zeros).
        at, why = parser.dataset_end
        st.findings.append(
            _finding(
                "dicom.malformed",
                Severity.LOW,
                "The medical image's structure is damaged.",
                at,
                f"dataset ends at offset {at}: {why}",
            )
        )
    if parser.problem is not None:
        code, at, detail = parser.problem
        message = (
            "The medical image file is incomplete."
            if code == "dicom.truncated"
            else "The medical image's structure is damaged."
        )
        st.findings.append(_finding(code, Severity.LOW, message, at, detail))
    _dimensions(parser, st, syntax)
    _scan_executables(reader, st)
    return st


def _account_zero_padding(reader: Reader, st: Structure, end: int) -> bool:
    """Zeros right after the dataset are padding: the engine judges what follows them.

    Returns True when the rest of the file is nothing but zeros.
    """
    first_data = reader.first_non_zero(end, reader.size)
    padding_end = reader.size if first_data < 0 else first_data
    if padding_end > end:
        st.accounted.append(Region(end, padding_end, "zero padding"))
    return first_data < 0


def _dimensions(parser: _Parser, st: Structure, syntax: _Syntax) -> None:
    order: Literal["little", "big"] = "little" if syntax.little else "big"
    rows = parser.values.get((0x0028, 0x0010), b"")
    cols = parser.values.get((0x0028, 0x0011), b"")
    if len(rows) >= 2 and len(cols) >= 2:
        st.height = int.from_bytes(rows[:2], order)
        st.width = int.from_bytes(cols[:2], order)
        st.pixels = st.width * st.height
    frames = parser.values.get((0x0028, 0x0008), b"").strip(b"\x00 ")
    st.frames = int(frames) if frames.isdigit() and len(frames) <= 9 else 1


def _scan_executables(reader: Reader, st: Structure) -> None:
    """PS3.10 §7.5: look for PE (MZ -> e_lfanew -> PE\\0\\0) and ELF headers anywhere."""
    for checked, match in enumerate(reader.finditer(_MZ)):
        if checked >= MAX_EXECUTABLE_CANDIDATES:
            break
        pe_at = pe_header_at(reader, match.start())
        if pe_at is not None:
            st.findings.append(_executable(match.start(), "pe", f"PE header at offset {pe_at}"))
            break
    for match in reader.finditer(_ELF_HEADER):
        st.findings.append(_executable(match.start(), "elf", "ELF header"))
        break


def _executable(offset: int, kind: str, detail: str) -> Finding:
    return Finding(
        code="dicom.executable_content",
        severity=Severity.HIGH,
        message="This medical image hides a program inside it.",
        offset=offset,
        payload=kind,
        detail=f"{detail} (MZ/ELF at offset {offset})",
    )
