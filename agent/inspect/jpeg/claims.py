"""Bookkeeping and verification shared by the JPEG trailer matchers.

`Claims` holds the byte ranges after EOI that were verified as benign trailers. Every
claim passes the same checks: it lies after EOI and overlaps no other claim, and it does
not cover a ZIP end record in the last 64 KiB of the file (where a ZIP reader would find
it). Trust in a container never extends to its content unseen: an opaque claim (a blob we
cannot parse: footer bodies, debug data, SEF records) is judged by the classifier
(`classify.blob.classify_range`) like left-over data, and a video claim (motion photos,
SEF MotionPhoto_Data) is walked as ISO-BMFF with every top-level box body judged the
same way. A body the classifier calls dangerous refuses the claim, so the engine judges
those bytes as left-over data. Entropy is not a reason to refuse: real video and camera
debug data are compressed.
"""

from __future__ import annotations

import re

from agent.inspect.base import Region
from agent.inspect.classify.blob import classify_range
from agent.inspect.jpeg.segments import SegmentWalk, jpeg_extent
from agent.inspect.reader import Reader

MAX_BMFF_BOXES = 4096  # top-level ISO-BMFF boxes walked in one embedded video
MAX_JUDGED_BOXES = 64  # top-level boxes of one embedded video whose bodies are judged
ZIP_EOCD_WINDOW_BYTES = 65_557  # a ZIP end record lies in the last 22 + 65,535 bytes
MAX_SCAN_CANDIDATES = 64  # ZIP end records (or SEF record markers) tried per search

_ZIP_EOCD = b"PK\x05\x06"
# Signatures no benign opaque camera blob carries (checked only in opaque claims).
_PAYLOAD_SIGNATURE = re.compile(
    rb"PK\x03\x04|PK\x05\x06|<\?php|<\?=|%PDF-|\x7fELF|Rar!\x1a\x07|7z\xbc\xaf\x27\x1c"
    rb"|__HALT_COMPILER|(?i:<script|<html|<svg)|MZ"
)
_PE_HEADER = b"PE\x00\x00"
_BOX_TYPE = re.compile(rb"[A-Za-z0-9 \xa9_-]{4}")  # \xa9 = "©" (QuickTime user-data boxes)


def carries_payload_signature(reader: Reader, start: int, end: int) -> bool:
    """True when [start, end) holds an archive/executable/script signature."""
    for found in reader.finditer(_PAYLOAD_SIGNATURE, start, end):
        token = found.group()
        if not token.startswith(b"MZ"):
            return True
        # MZ is common by chance: only a DOS header whose e_lfanew points at "PE\0\0" counts.
        e_lfanew = reader.u32le(found.start() + 0x3C)
        if e_lfanew is not None and reader.read(found.start() + e_lfanew, 4) == _PE_HEADER:
            return True
    return False


def body_is_dangerous(reader: Reader, start: int, end: int, *, signatures: bool = True) -> bool:
    """True when [start, end) holds an archive/executable/script/document by the classifier
    (signatures, markers, libmagic, script detector, decoders).

    `signatures` also refuses the unvalidated short signatures of
    `carries_payload_signature` (`PK\x03\x04`, `<?=`...), as opaque camera blobs never
    carry them; compressed video may, by chance, so video boxes get the classifier only.
    """
    if signatures and carries_payload_signature(reader, start, end):
        return True
    return classify_range(reader, start, end).dangerous


def _boxes(reader: Reader, start: int, stop: int) -> list[tuple[int, int, int]]:
    """(box start, body start, box end) of the top-level boxes in [start, stop)."""
    boxes: list[tuple[int, int, int]] = []
    pos = start
    while pos + 8 <= stop and len(boxes) < MAX_BMFF_BOXES:
        size = reader.u32be(pos)
        header = 8
        if size == 1:
            large = reader.unpack(">Q", pos + 8)
            size, header = (large[0] if large is not None else 0), 16
        elif size == 0:
            size = stop - pos
        if size is None or size < header or pos + size > stop:
            break
        boxes.append((pos, pos + header, pos + size))
        pos += size
    return boxes


def video_is_dangerous(reader: Reader, start: int, end: int) -> bool:
    """True when a box of the ISO-BMFF video in [start, end) carries a payload.

    Every top-level box body is judged (`mdat` media data, `moov` tables, `free`/`skip`/
    `uuid`/unknown boxes) by signatures, markers, the script detector and the decoders;
    a real H.264/HEVC `mdat` is high-entropy video with none of those. Bytes between the
    last box and `end` (a box run that does not reach it) are judged too.
    """
    boxes = _boxes(reader, start, end)
    for _, body, box_end in boxes[:MAX_JUDGED_BOXES]:
        if box_end > body and body_is_dangerous(reader, body, box_end, signatures=False):
            return True
    tail = boxes[-1][2] if boxes else start
    return tail < end and body_is_dangerous(reader, tail, end, signatures=False)


def bmff_extent(reader: Reader, start: int, stop: int) -> int | None:
    """End of the top-level ISO-BMFF box run at `start` (first box `ftyp`), within [start, stop)."""
    if reader.read(start + 4, 4) != b"ftyp":
        return None
    pos = start
    for _ in range(MAX_BMFF_BOXES):
        if pos + 8 > stop:
            break
        size = reader.u32be(pos)
        box_type = reader.read(pos + 4, 4)
        if size is None or not _BOX_TYPE.fullmatch(box_type):
            break
        if size == 1:
            large = reader.unpack(">Q", pos + 8)
            if large is None or large[0] < 16:
                break
            size = large[0]
        elif size == 0:
            size = stop - pos  # "extends to the end": only meaningful for the last box
        elif size < 8:
            break
        if pos + size > stop:
            break
        pos += size
    return pos if pos > start else None


class Claims:
    """Accounted regions after EOI, kept sorted and non-overlapping."""

    def __init__(self, reader: Reader, eoi_end: int) -> None:
        self.reader = reader
        self.eoi_end = eoi_end
        self.regions: list[Region] = []
        self.names: list[str] = []
        self.metadata: list[Region] = []
        self.unexplained: list[Region] = []  # stray bytes inside claimed embedded JPEGs
        tail_start = max(eoi_end, reader.size - ZIP_EOCD_WINDOW_BYTES)
        # ZIP end records near the end of the file: no claim may hide one.
        self._zip_ends: list[int] = []
        at = reader.find(_ZIP_EOCD, tail_start)
        while at >= 0 and len(self._zip_ends) < MAX_SCAN_CANDIDATES:
            self._zip_ends.append(at)
            at = reader.find(_ZIP_EOCD, at + 1)

    def free(self, start: int, end: int) -> bool:
        """True when [start, end) lies after EOI, inside the file and overlaps no claim."""
        if start < self.eoi_end or end > self.reader.size or start >= end:
            return False
        return all(r.end <= start or r.start >= end for r in self.regions)

    def add(
        self,
        start: int,
        end: int,
        label: str,
        name: str,
        *,
        opaque: bool = False,
        video_at: int | None = None,
    ) -> bool:
        """Claim [start, end) if free and its content is judged clean; True when claimed.

        `opaque`: the body is judged by the classifier. `video_at`: an ISO-BMFF video
        starts there (at `start` for a motion photo, after a record header for SEF) and
        runs to `end`; its boxes are judged (`video_is_dangerous`), the bytes before it
        by the classifier.
        """
        if not self.free(start, end):
            return False
        if any(start <= z < end for z in self._zip_ends):
            return False
        if opaque and body_is_dangerous(self.reader, start, end):
            return False
        if video_at is not None:
            if start < video_at and body_is_dangerous(self.reader, start, video_at):
                return False
            if video_is_dangerous(self.reader, video_at, end):
                return False
        self.regions.append(Region(start, end, label))
        self.regions.sort(key=lambda r: r.start)
        if name not in self.names:
            self.names.append(name)
        return True

    def add_embedded_jpeg(
        self, at: int, label: str, name: str, stop: int | None = None
    ) -> int | None:
        """Claim the clean, complete JPEG starting at `at` (ending by `stop`); its end, or None.

        Its APPn/COM segments become metadata regions the engine scans like the primary's,
        and stray bytes between its segments unexplained ranges the engine judges.
        """
        walked: SegmentWalk | None = jpeg_extent(self.reader, at, allow_stray=True)
        if walked is None or walked.end is None:
            return None
        if stop is not None and walked.end > stop:
            return None
        if not self.add(at, walked.end, label, name):
            return None
        self.metadata.extend(Region(r.start, r.end, f"{label} {r.label}") for r in walked.metadata)
        self.unexplained.extend(
            Region(r.start, r.end, f"{label} {r.label}") for r in walked.unexplained
        )
        return walked.end

    def next_gap(self, pos: int) -> tuple[int, int] | None:
        """The first unclaimed range at or after `pos` (up to the next claim or EOF)."""
        size = self.reader.size
        for region in self.regions:
            if region.start <= pos < region.end:
                pos = region.end
        if pos >= size:
            return None
        stop = min((r.start for r in self.regions if r.start > pos), default=size)
        return pos, stop
