"""TIFF positive accounting: the byte ranges before the end that nothing references."""

from __future__ import annotations

from agent.inspect.base import Region
from agent.inspect.reader import Reader

MAX_GAPS = 4096  # unreferenced ranges listed per file (the engine judges the first few)
MAX_PREVIEW_SEARCH = 64  # gaps checked for an embedded preview JPEG


def unreferenced(
    reader: Reader, covered: list[tuple[int, int]], end: int, metadata: list[Region]
) -> list[Region]:
    """[0, end) minus the covered ranges, minus embedded JPEGs that walk cleanly.

    Such a JPEG's own metadata (APPn, COM, tables) is appended to `metadata`: accepting
    the preview must not leave its segments judged by nothing."""
    gaps: list[tuple[int, int]] = []
    position = 0
    for start, stop in sorted(covered):
        if start > position:
            gaps.append((position, min(start, end)))
        position = max(position, stop)
        if len(gaps) >= MAX_GAPS:
            break
    found: list[Region] = []
    for index, (start, stop) in enumerate(gaps):
        if stop <= start:
            continue
        if index < MAX_PREVIEW_SEARCH:
            start = _after_preview(reader, start, stop, metadata)
        if _header_stub(reader, start, stop):
            continue
        if start < stop:
            found.append(Region(start, stop, "TIFF bytes no IFD references"))
    return found


TIFF_HEADER_STUB_BYTES = 8  # byte order, 42, first-IFD offset
MAX_STUB_GAP_BYTES = 64  # bytes: alignment zeros plus one stub header


def _header_stub(reader: Reader, start: int, stop: int) -> bool:
    """Zeros then a classic TIFF header: what multi-page writers (Pillow) leave per page."""
    if not TIFF_HEADER_STUB_BYTES <= stop - start <= MAX_STUB_GAP_BYTES:
        return False
    head = reader.read(stop - TIFF_HEADER_STUB_BYTES, 4)
    if head not in (b"II*\x00", b"MM\x00*"):
        return False
    return reader.first_non_zero(start, stop - TIFF_HEADER_STUB_BYTES) < 0


def _after_preview(reader: Reader, start: int, stop: int, metadata: list[Region]) -> int:
    """Past an unreferenced preview JPEG at the gap's start (after alignment zeros); its
    metadata regions go to `metadata`."""
    at = start
    while at < stop and at - start < 8 and reader.byte(at) == 0:
        at += 1
    if reader.read(at, 3) != b"\xff\xd8\xff":
        return start
    from agent.inspect.jpeg.segments import jpeg_extent  # lazy: TIFF scans rarely need it

    walked = jpeg_extent(reader, at)
    if walked is None or walked.end is None or walked.end > stop:
        return start
    metadata.extend(Region(r.start, r.end, f"TIFF preview JPEG {r.label}") for r in walked.metadata)
    return walked.end
