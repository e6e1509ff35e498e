"""DICOM data elements (PS3.5 §7): the element walker behind `agent.inspect.dicom`.

Besides following elements, sequences and encapsulated pixel data to where the dataset
ends, the parser collects what the engine must judge:

* text values (the string VRs AE CS DA DS DT IS LO LT PN SH ST TM UC UI UR UT, and in
  implicit-VR datasets any printable value), because a web PACS viewer renders
  PatientName or StudyDescription as HTML (stored XSS);
* private OB/OW/UN/UT/LT elements, and every other binary value of 16 bytes or more
  (standard OB/OW/OF... blobs, arrays of numbers) as metadata regions;
* bytes inside a sequence item that its elements do not fill (item padding), the bytes of
  a sequence of known length from where they stop being items, and the value of the Data
  Set Trailing Padding element (FFFC,FFFC): unexplained ranges;
* pixel data: native values (and any bytes beyond the declared image), encapsulated
  fragments and the Basic Offset Table, for `dicom_pixels` to judge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.inspect.base import Region, Structure
from agent.inspect.classify.metadata import MIN_JUDGED_VALUE_BYTES
from agent.inspect.limits import MAX_STRUCTURES
from agent.inspect.reader import Reader
from agent.inspect.signatures import is_text

MAX_NESTING = 32  # sequence/item levels followed before calling the file absurd
MAX_METADATA_REGIONS = 10_000  # private elements recorded as metadata regions
MAX_TEXT_VALUE_BYTES = 1024 * 1024  # bytes of one text value judged
MAX_TEXT_TOTAL_BYTES = 4 * 1024 * 1024  # bytes of text values judged per file
MAX_IMPLICIT_TEXT_PROBE_BYTES = 256  # bytes of an implicit-VR value read to call it text
MAX_FRAGMENTS = 100_000  # encapsulated pixel-data fragments recorded per file
UNDEFINED = 0xFFFF_FFFF

LONG_LENGTH_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
PRIVATE_BLOB_VRS = frozenset({b"OB", b"OW", b"UN", b"UT", b"LT"})
# PS3.5 §6.2: the string value representations (character data a viewer displays).
STRING_VRS = frozenset(
    {b"AE", b"CS", b"DA", b"DS", b"DT", b"IS", b"LO", b"LT", b"PN", b"SH", b"ST", b"TM",
     b"UC", b"UI", b"UR", b"UT", b"AS"}
)  # fmt: skip
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
ITEM, ITEM_END, SEQUENCE_END = 0xE000, 0xE00D, 0xE0DD
PIXEL_DATA = (0x7FE0, 0x0010)
PIXEL_GROUP = 0x7FE0
TRAILING_PADDING = (0xFFFC, 0xFFFC)  # Data Set Trailing Padding: "no meaning", judged
REMEMBERED = frozenset(
    {(0x0002, 0x0010), (0x0028, 0x0002), (0x0028, 0x0008), (0x0028, 0x0010), (0x0028, 0x0011),
     (0x0028, 0x0100), (0x0042, 0x0012)}
)  # fmt: skip
ENCAPSULATED_DOCUMENT = (0x0042, 0x0011)  # a PDF/CDA/STL report's bytes (PS3.3 §C.24.2)


@dataclass
class Syntax:
    """Transfer syntax as the parser needs it."""

    explicit: bool = True
    little: bool = True


@dataclass
class PixelData:
    """Where the pixel data lies: one native value, or encapsulated fragments."""

    native: tuple[int, int] | None = None  # (start, end) of a native value
    fragments: list[tuple[int, int]] = field(default_factory=list)  # item values, in order
    offset_table: tuple[int, int] | None = None  # the Basic Offset Table item's value


class Parser:
    """Walks data elements; remembers what the engine needs (dims, texts, regions, problems)."""

    def __init__(self, reader: Reader, st: Structure) -> None:
        self.reader = reader
        self.st = st
        self.count = 0
        self.problem: tuple[str, int, str] | None = None
        self.values: dict[tuple[int, int], bytes] = {}
        self.last_top_tag = -1  # (group << 16 | element) of the previous top-level element
        self.private_creators: set[tuple[int, int]] = set()  # (group, block) reserved
        self.pixels_complete = False  # a whole top-level pixel data element was walked
        self.dataset_end: tuple[int, str] | None = None  # (offset, why) before end of file
        self.texts: list[tuple[int, int, int, int]] = []  # (start, end, group, element)
        self.text_bytes = 0
        self.pixels = PixelData()
        self.document: tuple[int, int] | None = None  # top-level Encapsulated Document value

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
        """Record the first structural problem (the walk stops there)."""
        if self.problem is None:
            self.problem = (code, pos, detail)

    def header(self, pos: int, syn: Syntax) -> tuple[int, int, bytes, int, int] | None:
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

    def elements(self, pos: int, stop: int, syn: Syntax, depth: int, meta_only: bool) -> int:
        """Walk elements in [pos, stop); returns the offset after the last one.

        Stops after an item/sequence delimiter (nested levels), at a non-0002 group when
        walking the File Meta group, or where the bytes stop looking like elements. At the
        top level of the dataset, an element that cannot belong there ends the dataset;
        inside an item of known length, the item's remaining bytes are its padding.
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
            if head is None and stop < self.reader.size:
                return pos  # inside an item of known length: the rest is its padding
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
            if value_end > stop and not top and stop < self.reader.size:
                return pos  # overruns its item of known length: the rest is the item's padding
            if value_end > stop:
                # The last real element cut short (a truncated copy): its bytes are still
                # metadata to look into when it is a private blob.
                self.note(group, element, vr, value_at, stop, depth)
                self.fail("dicom.truncated", pos, f"element ({group:04X},{element:04X}) overruns")
                return stop
            self.note(group, element, vr, value_at, value_end, depth)
            if is_pixels and (group, element) == PIXEL_DATA:
                self.pixels.native = (value_at, value_end)
            self.pixels_complete |= is_pixels
            if vr == b"SQ" and depth < MAX_NESTING:
                self.items(value_at, value_end, syn, depth + 1)
            pos = value_end
        return pos

    def undefined(
        self, group: int, element: int, vr: bytes, at: int, stop: int, syn: Syntax, depth: int
    ) -> int:
        """Walk an undefined-length value (sequence or encapsulated pixel data)."""
        if depth >= MAX_NESTING:
            self.fail("dicom.malformed", at, f"sequences nested deeper than {MAX_NESTING}")
            return at
        if (group, element) == PIXEL_DATA or vr in (b"OB", b"OW"):
            return self.fragments(at, stop, syn, top=depth == 0 and (group, element) == PIXEL_DATA)
        inner = Syntax(False, True) if vr == b"UN" else syn  # UN sequences are implicit LE
        return self.items(at, stop, inner, depth + 1, until_delimiter=True)

    def items(
        self, pos: int, stop: int, syn: Syntax, depth: int, until_delimiter: bool = False
    ) -> int:
        """Walk sequence items in [pos, stop); returns the offset after the sequence."""
        while pos < stop and self.problem is None:
            self.count += 1
            head = self.header(pos, Syntax(False, syn.little))
            if head is None or head[0] != 0xFFFE or self.count > MAX_STRUCTURES:
                self.fail("dicom.malformed", pos, f"no valid sequence item at offset {pos}")
                if not until_delimiter:  # the walk goes on after the sequence's length
                    self.st.unexplained.append(Region(pos, stop, "DICOM sequence bytes not items"))
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
                item_end = value_at + length
                filled = self.elements(value_at, item_end, syn, depth, meta_only=False)
                if self.problem is None and filled < item_end:
                    self.st.unexplained.append(Region(filled, item_end, "DICOM item padding"))
                pos = item_end
        if until_delimiter and self.problem is None and pos >= stop:
            self.fail("dicom.truncated", pos, "sequence has no delimiter before the end")
        return pos

    def fragments(self, pos: int, stop: int, syn: Syntax, *, top: bool) -> int:
        """Encapsulated pixel-data fragments up to the sequence delimiter (recorded)."""
        order = "<" if syn.little else ">"
        first = True
        while pos < stop:
            self.reader.check_deadline()
            self.count += 1
            head = self.reader.unpack(order + "HHI", pos)
            if head is None or head[0] != 0xFFFE or self.count > MAX_STRUCTURES:
                self.fail("dicom.malformed", pos, f"no valid pixel-data fragment at {pos}")
                return pos
            if head[1] == SEQUENCE_END:
                return pos + 8
            value = (pos + 8, min(pos + 8 + head[2], stop))
            if top and first:
                self.pixels.offset_table = value
            elif top and len(self.pixels.fragments) < MAX_FRAGMENTS:
                self.pixels.fragments.append(value)
            first = False
            pos += 8 + head[2]
        self.fail("dicom.truncated", stop, "encapsulated pixel data has no delimiter")
        return stop

    def note(self, group: int, element: int, vr: bytes, start: int, end: int, depth: int) -> None:
        """Remember dimensions and transfer syntax; collect texts, private blobs, padding."""
        if depth == 0 and (group, element) in REMEMBERED:
            self.values[(group, element)] = self.reader.read(start, min(end - start, 64))
        if depth == 0 and (group, element) == ENCAPSULATED_DOCUMENT:
            self.document = (start, end)
        if end <= start:
            return
        if (group, element) == TRAILING_PADDING:
            self.st.unexplained.append(Region(start, end, "DICOM trailing padding value"))
            return
        if group % 2 == 1 and (not vr or vr in PRIVATE_BLOB_VRS):
            if len(self.st.metadata) < MAX_METADATA_REGIONS:
                label = f"DICOM private element ({group:04X},{element:04X})"
                self.st.metadata.append(Region(start, end, label))
            return
        if group == PIXEL_GROUP:
            return
        if vr in STRING_VRS or (vr in (b"", b"UN") and self._looks_like_text(start, end)):
            self._text(start, end, group, element)
            return
        if (
            vr != b"SQ"
            and (group, element) != ENCAPSULATED_DOCUMENT  # judged as the report it is
            and end - start >= MIN_JUDGED_VALUE_BYTES
            and len(self.st.metadata) < MAX_METADATA_REGIONS
        ):
            # Binary values (OB/OW/OF... blobs, arrays of numbers, a private element's
            # floats): bytes of the writer's choosing that no viewer shows as text.
            kind = "private element" if group % 2 else f"{vr.decode() or 'binary'} value"
            self.st.metadata.append(Region(start, end, f"DICOM {kind} ({group:04X},{element:04X})"))

    def _looks_like_text(self, start: int, end: int) -> bool:
        """An implicit-VR (or UN) value that reads as text, so a viewer may display it."""
        probe = self.reader.read(start, min(end - start, MAX_IMPLICIT_TEXT_PROBE_BYTES))
        return len(probe) >= 2 and is_text(probe.rstrip(b"\x00"))

    def _text(self, start: int, end: int, group: int, element: int) -> None:
        if self.text_bytes >= MAX_TEXT_TOTAL_BYTES:
            return
        end = min(end, start + MAX_TEXT_VALUE_BYTES, start + MAX_TEXT_TOTAL_BYTES - self.text_bytes)
        self.texts.append((start, end, group, element))
        self.text_bytes += end - start
