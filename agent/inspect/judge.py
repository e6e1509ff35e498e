"""Payload judgement: what the engine concludes about the ranges a walker handed it.

After a walk the engine judges, with the one classifier (`agent.inspect.classify`):

* left-over data: bytes after the logical end that no benign trailer accounts for
  (`<fmt>.trailing_data`), and unexplained ranges inside the structure that a walker
  reports in `Structure.unexplained` (`<fmt>.unexplained_data`), with the same rules;
* metadata regions and decompressed texts (`<fmt>.payload_in_metadata`): raw markers
  first (one lone suggestive marker is low), then the classifier's script detector and
  decoders (`classify.metadata.judge_metadata`);
* the pixel data, by one `<`-anchored marker pass (`<fmt>.payload_in_image_data`), and
  the whole picture by a search for validated program headers (`stray_code`).
"""

from __future__ import annotations

import re

from agent.inspect import payload
from agent.inspect.base import Region, Structure
from agent.inspect.bmp import LINKED_PROFILE_LABEL
from agent.inspect.classify.blob import classify_range
from agent.inspect.classify.kinds import PAYLOAD_WORDS
from agent.inspect.classify.metadata import judge_metadata, linked_profile_path, png_profile_path
from agent.inspect.classify.polyglot import js_polyglot
from agent.inspect.reader import Reader
from agent.inspect.sniff import Sniffed
from agent.inspect.split_values import joined_values
from agent.inspect.stray_code import first_executable, stray_code
from agent.model import Finding, Severity

IGNORABLE_PADDING_BYTES = 64  # bytes of zeros/whitespace after the end that are just padding
HIGH_ENTROPY_MIN_BYTES = 512  # bytes: shorter high-entropy blobs are too small to judge
MAX_GAP_FINDINGS = 8  # separate left-over/unexplained ranges reported per file
MAX_JUDGED_RANGES = 256  # left-over/unexplained ranges classified per file (largest first)
MAX_METADATA_FINDINGS = 8  # metadata regions with conclusive markers reported per file
MAX_WEAK_METADATA_FINDINGS = 2  # regions with only suggestive markers reported per file
# opaque metadata values libmagic is asked about per file (0.2-1 ms each; a DICOM file may
# hold thousands of private elements, which the rest of the classifier still judges)
MAX_LIBMAGIC_METADATA_CALLS = 16
BOOT_SECTOR_BYTES = 512  # bytes: a file exactly one sector long ending in 55 AA boots

# Metadata regions whose structure no format defines (an APPn without a known signature,
# unknown PNG chunks/HEIF boxes/WebP chunks, GIF application data, DICOM private
# elements, TIFF values of tags no walker knows, boxes not part of a HEIF picture): opaque
# values, classified like left-over data (libmagic included). PNG value chunks (a palette,
# calibration names) are values of a known structure, judged like text.
_OPAQUE_LABELS = re.compile(
    r"(?:^|\s)APP\d{1,2}$|^PNG (?!(?:tEXt|zTXt|iTXt|eXIf|iCCP|PLTE|tRNS|hIST|sPLT|pCAL|sCAL)$)"
    r"|^(?:unknown|non-image) box|^uuid box|^GIF (?:application|unknown extension)"
    r"|^TIFF tag \d+ value$|^WebP chunk|private"
)


def words(kind: str) -> str:
    """Plain words for a payload kind ("a Windows program")."""
    return PAYLOAD_WORDS.get(kind, "hidden code")


def left_over(end: int, size: int, accounted: list[Region]) -> list[tuple[int, int]]:
    """[end, size) minus the accounted ranges, as sorted, non-empty (start, end) pairs."""
    gaps: list[tuple[int, int]] = []
    position = max(0, end)
    for region in sorted(accounted, key=lambda r: r.start):
        start, stop = max(region.start, position), min(region.end, size)
        if stop <= start:
            continue
        if start > position:
            gaps.append((position, start))
        position = max(position, stop)
    if position < size:
        gaps.append((position, size))
    return gaps


def _in_any(offset: int, ranges: list[tuple[int, int]]) -> bool:
    return any(start <= offset < stop for start, stop in ranges)


def judge_structure(
    reader: Reader, sniffed: Sniffed, structure: Structure, findings: list[Finding]
) -> list[Finding]:
    """Findings about left-over data, unexplained ranges, metadata and pixel data."""
    type_ = sniffed.type
    found: list[Finding] = []
    metadata = [(r.start, r.end) for r in structure.metadata if r.end > r.start]
    gaps = (
        left_over(structure.end, reader.size, structure.accounted)
        if structure.end is not None
        else []
    )
    inner = [(r.start, min(r.end, reader.size)) for r in structure.unexplained if r.end > r.start]
    covered = covered_by_findings(findings)

    # One `<`-anchored pass over the whole image: PHP or HTML anywhere in the pixels.
    pixel_markers: list[payload.Marker] = []
    if sniffed.family == "image":
        pixel_markers = payload.find_markers(reader, 0, reader.size, True, pixel_data=True)

    ranges = [(start, stop, True) for start, stop in gaps] + [(a, b, False) for a, b in inner]
    found.extend(_judge_ranges(reader, type_, ranges, pixel_markers, covered))

    found.extend(judge_metadata_regions(reader, type_, structure, covered))
    if not any(f.code.endswith(".js_polyglot_header") for f in findings):
        found.extend(_polyglot_header(reader, type_))

    stray = [
        m
        for m in pixel_markers
        if not _in_any(m.offset, metadata)
        and not _in_any(m.offset, gaps)
        and not _in_any(m.offset, inner)
        and not _in_any(m.offset, covered)
    ]
    if stray:
        first = stray[0]
        found.append(
            Finding(
                f"{type_}.payload_in_image_data",
                Severity.HIGH,
                f"Hidden inside this picture's image data is {words(first.kind)}.",
                offset=first.offset,
                length=len(first.text),
                payload=first.kind,
                detail=_marker_detail(stray),
            )
        )
    if sniffed.family == "image":
        found.extend(stray_code(reader, type_, structure, [*findings, *found]))
    return found


def _judge_ranges(
    reader: Reader,
    type_: str,
    ranges: list[tuple[int, int, bool]],
    pixel_markers: list[payload.Marker],
    covered: list[tuple[int, int]],
) -> list[Finding]:
    """Left-over and unexplained ranges through the classifier, worst findings first.

    Every range is judged (the largest MAX_JUDGED_RANGES when there are more), so that
    many harmless ranges cannot hide the one that holds a payload; the report keeps the
    MAX_GAP_FINDINGS most severe findings.
    """
    if len(ranges) > MAX_JUDGED_RANGES:
        ranges = sorted(ranges, key=lambda r: r[0] - r[1])[:MAX_JUDGED_RANGES]
    found: list[Finding] = []
    for start, stop, trailing in sorted(ranges):
        if _in_any(start, covered):
            continue
        inside = [m for m in pixel_markers if start <= m.offset < stop]
        finding = judge_gap(reader, type_, start, stop, inside, trailing=trailing)
        if finding is not None:
            found.append(finding)
        reader.check_deadline()
    worst = sorted(range(len(found)), key=lambda i: -int(found[i].severity))[:MAX_GAP_FINDINGS]
    return [found[i] for i in sorted(worst)]


def _polyglot_header(reader: Reader, type_: str) -> list[Finding]:
    """`<fmt>.js_polyglot_header` when the header opens a script that really runs."""
    hit = js_polyglot(reader, type_)
    if hit is None:
        return []
    code_at, how = hit
    return [
        Finding(
            f"{type_}.js_polyglot_header",
            Severity.HIGH,
            "This picture's header is built so that the file also runs as a script.",
            offset=0,
            length=code_at,
            payload="script",
            detail=f"header opens {how}; code follows at {code_at}",
        )
    ]


def covered_by_findings(findings: list[Finding]) -> list[tuple[int, int]]:
    """Byte ranges a walker already reported on (so one payload is not reported twice)."""
    return [
        (f.offset, f.offset + max(1, f.length or 1))
        for f in findings
        if f.offset is not None and f.severity >= Severity.MEDIUM
    ]


def _marker_detail(markers: list[payload.Marker]) -> str:
    shown = ", ".join(f"{m.kind}@{m.offset} {m.text[:24]!r}" for m in markers[:4])
    more = f" (+{len(markers) - 4} more)" if len(markers) > 4 else ""
    return shown + more


def judge_metadata_regions(
    reader: Reader, type_: str, structure: Structure, covered: list[tuple[int, int]]
) -> list[Finding]:
    """Markers and classified payloads in metadata regions and decompressed texts.

    High when conclusive, else low. The two kinds of finding have separate caps, so
    regions with an innocent `eval(` in their prose cannot use up the report before the
    region that holds the payload.
    """
    found: list[Finding] = []
    counts = {True: 0, False: 0}  # conclusive? -> findings reported
    caps = {True: MAX_METADATA_FINDINGS, False: MAX_WEAK_METADATA_FINDINGS}

    def report(label: str, offset: int, markers: list[payload.Marker], relative: bool) -> None:
        proven = payload.conclusive(markers)
        if counts[proven] < caps[proven]:
            found.append(_metadata_finding(type_, label, offset, markers, relative=relative))
            counts[proven] += 1

    magic_left = [MAX_LIBMAGIC_METADATA_CALLS]

    def classified(label: str, offset: int, value: bytes) -> bool:
        opaque = _OPAQUE_LABELS.search(label) is not None
        use_libmagic = opaque and magic_left[0] > 0
        magic_left[0] -= use_libmagic
        hit = judge_metadata(value, opaque=opaque, use_libmagic=use_libmagic)
        path_at = None
        if label.startswith("PNG "):
            path_at = png_profile_path(value)
        elif label == LINKED_PROFILE_LABEL:
            path_at = linked_profile_path(value)
        if hit is None and path_at is not None:  # CVE-2022-44268, BMP linked profiles
            hit = payload.Payload("file_read", len(value), 0.0, True, path_at)
        if hit is None or counts[True] >= caps[True]:
            return False
        found.append(_classified_finding(type_, label, offset, hit))
        counts[True] += 1
        return True

    for region in structure.metadata:
        if region.label == LINKED_PROFILE_LABEL:
            # A file name, judged for where it points (`linked_profile_path`), not for the
            # markers in it: the system's own profile folder is under C:\Windows\System32.
            markers = []
        else:
            markers = payload.find_markers(reader, region.start, region.end, False)
        markers = [m for m in markers if not _in_any(m.offset, covered)]
        proven = bool(markers) and payload.conclusive(markers)
        if not proven and not _in_any(region.start, covered):
            value = reader.read(region.start, region.length)
            if classified(region.label, region.start, value):
                markers = []  # the classified finding says more than a suggestive marker
        if markers:
            report(region.label, region.start, markers, False)
        if counts[True] >= MAX_METADATA_FINDINGS:
            return found
    # Values split over adjacent regions, joined; a run with a piece already reported on
    # is left alone (one payload, one finding).
    reported = covered + [(f.offset, f.offset + 1) for f in found if f.offset is not None]
    joined = [
        (span.label, span.start, value)
        for span, value in joined_values(reader, structure.metadata)
        if not any(span.start <= start < span.end for start, _ in reported)
    ]
    for label, offset, untrusted_text in [*structure.texts, *joined]:
        if counts[True] >= MAX_METADATA_FINDINGS:
            break
        markers = payload.find_markers_in_bytes(untrusted_text, strong_only=False)
        proven = bool(markers) and payload.conclusive(markers)
        if not proven and classified(label, offset, untrusted_text):
            markers = []
        if markers:
            report(label, offset, markers, True)
    return found


def _classified_finding(type_: str, label: str, offset: int, hit: payload.Payload) -> Finding:
    how = f" ({hit.encoding}-encoded)" if hit.encoding else ""
    return Finding(
        f"{type_}.payload_in_metadata",
        Severity.HIGH,
        f"Hidden in this picture's information fields is {words(hit.kind)}.",
        offset=offset,
        payload=hit.kind,
        detail=f"in {label}: {hit.kind}{how} at +{hit.offset}",
    )


def _metadata_finding(
    type_: str,
    label: str,
    region_offset: int,
    markers: list[payload.Marker],
    *,
    relative: bool = False,
) -> Finding:
    """High for conclusive markers; low for a lone suggestive one (prose says `eval(` too)."""
    first = payload.decisive_marker(markers)
    offset = region_offset if relative else first.offset
    detail = f"in {label}: " + _marker_detail(markers)
    if not payload.conclusive(markers):
        return Finding(
            f"{type_}.payload_in_metadata",
            Severity.LOW,
            "This picture's information fields contain text that looks a little like a script.",
            offset=offset,
            length=len(first.text),
            payload=first.kind,
            detail=detail + " (one suggestive marker, not proof)",
        )
    return Finding(
        f"{type_}.payload_in_metadata",
        Severity.HIGH,
        f"Hidden in this picture's information fields is {words(first.kind)}.",
        offset=offset,
        length=len(first.text),
        payload=first.kind,
        detail=detail,
    )


def judge_gap(
    reader: Reader,
    type_: str,
    start: int,
    stop: int,
    markers: list[payload.Marker],
    *,
    trailing: bool = True,
) -> Finding | None:
    """Severity and words for a range no walker explained (after the end, or inside)."""
    length = stop - start
    blob = classify_range(reader, start, stop)
    kind, offset = blob.kind, start + blob.offset
    if not blob.dangerous and markers:
        kind, offset = markers[0].kind, markers[0].offset
    if trailing and stop == reader.size == BOOT_SECTOR_BYTES and reader.read(510, 2) == b"\x55\xaa":
        kind, offset = "bootsector", 510
    where = f"after the end at {start}" if trailing else f"unexplained at {start}"
    how = f" ({blob.encoding}-encoded)" if blob.encoding and kind == blob.kind else ""
    detail = f"{length} bytes {where}: {kind}{how}, {blob.entropy:.2f} bits/byte"
    code = f"{type_}.trailing_data" if trailing else f"{type_}.unexplained_data"
    place = "Attached to the end of this picture" if trailing else "Hidden inside this picture"
    if kind in payload.DANGEROUS_KINDS:
        return Finding(
            code,
            Severity.HIGH,
            f"{place} is {words(kind)}.",
            offset=offset,
            length=stop - offset,
            payload=kind,
            detail=detail,
        )
    if kind in ("zeros", "whitespace"):
        if length <= IGNORABLE_PADDING_BYTES:
            return None
        severity, message = Severity.INFO, "This picture has empty padding after its end."
        if not trailing:
            message = "This picture has empty padding inside it."
    elif blob.entropy >= payload.HIGH_ENTROPY_BITS and length >= HIGH_ENTROPY_MIN_BYTES:
        severity = Severity.MEDIUM
        message = "Hidden encrypted or compressed data is stuck to the end of this picture."
        if not trailing:
            message = "Hidden encrypted or compressed data is tucked inside this picture."
    else:
        severity = Severity.LOW
        message = (
            "This picture has extra data after its end."
            if trailing
            else "This picture has extra data inside it."
        )
    return Finding(
        code, severity, message, offset=start, length=length, payload=kind, detail=detail
    )


def dicom_executables(reader: Reader, covered: list[tuple[int, int]]) -> list[Finding]:
    """PE/ELF/Mach-O headers anywhere inside a DICOM file (CVE-2019-11687 and variants)."""
    hit = first_executable(reader, covered, macho=True)
    if hit is None:
        return []
    kind, offset = hit
    return [
        Finding(
            "dicom.executable_content",
            Severity.HIGH,
            f"Hidden inside this medical image is {words(kind)}.",
            offset=offset,
            length=4,
            payload=kind,
            detail=f"{kind} header at {offset}",
        )
    ]
