"""JPEG structural walker: segments from SOI to EOI, then the benign-trailer accounting.

One direction of use: this module runs `segments.walk_segments` over the primary image,
then hands what lies after EOI to `trailers.account_trailers`, which accounts only the
trailers it could verify (MPF images, motion-photo video, Samsung SEF, vendor footers...)
with `footers`, `samsung` and `claims`. The engine judges whatever is left. This module
emits structural findings only (malformed, truncated, MS04-028 COM length) and
`jpeg.known_trailer`.
"""

from __future__ import annotations

from agent.inspect.base import Structure
from agent.inspect.jpeg import trailers as jpeg_trailers
from agent.inspect.jpeg.segments import SegmentWalk, walk_segments
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.model import Finding, Severity


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk a JPEG to its EOI and account the benign trailers after it (see module doc)."""
    del limits  # pixel thresholds are judged by the engine from Structure.pixels
    structure = Structure(type="jpeg")
    if reader.read(0, 2) != b"\xff\xd8":
        structure.findings.append(
            Finding(
                code="jpeg.malformed",
                severity=Severity.LOW,
                message="The file does not start like a JPEG picture.",
                offset=0,
            )
        )
        return structure
    primary = walk_segments(reader, 0)
    structure.findings.extend(primary.findings)
    structure.metadata.extend(primary.metadata)
    structure.unexplained.extend(primary.unexplained)
    _sizes(structure, primary)
    if primary.end is None:
        if primary.truncated:
            structure.findings.append(
                Finding(
                    code="jpeg.truncated",
                    severity=Severity.LOW,
                    message="The picture file is cut short (it ends before the picture does).",
                    offset=reader.size,
                )
            )
        return structure
    structure.end = primary.end
    hints = jpeg_trailers.hints_from_segments(reader, primary.app_segments)
    if hints.mpf_entries:
        structure.frames = len(hints.mpf_entries)
    result = jpeg_trailers.account_trailers(reader, primary.end, hints)
    structure.accounted.extend(result.accounted)
    structure.metadata.extend(result.metadata)
    structure.unexplained.extend(result.unexplained)
    if result.names:
        accounted_bytes = sum(r.length for r in result.accounted)
        structure.findings.append(
            Finding(
                code="jpeg.known_trailer",
                severity=Severity.INFO,
                message="The picture carries normal camera extras after the image: "
                + ", ".join(result.names)
                + ".",
                offset=primary.end,
                length=accounted_bytes,
                detail="; ".join(f"{r.label} [{r.start}, {r.end})" for r in result.accounted),
            )
        )
    return structure


# Scans in one image before decoding it is a denial of service: every scan of a
# progressive JPEG revisits every coefficient, so a 323 KB file of tiny scans costs a
# decoder about 50 s ("Two Issues with the JPEG Standard", D. R. Commander, on which
# libjpeg-turbo's TJPARAM_SCANLIMIT and djpeg -maxscans rest). libjpeg-turbo's own fuzz
# targets set the limit to 500; encoders write 10 (libjpeg's default script) to ~60.
MAX_SCANS = 500  # SOS segments in one image


def _sizes(structure: Structure, primary: SegmentWalk) -> None:
    """Declared size, decoded bytes, image data and the scan bound of the primary image."""
    structure.width, structure.height = primary.width, primary.height
    structure.frames = 1
    if primary.width is not None and primary.height is not None and primary.height > 0:
        structure.pixels = primary.width * primary.height
        sample_bytes = 2 if primary.precision > 8 else 1
        structure.decoded_bytes = structure.pixels * max(1, primary.components) * sample_bytes
    structure.image_bytes = primary.image_bytes
    structure.scan_data_start = primary.scan_data_start
    if primary.scans > MAX_SCANS:
        structure.findings.append(
            Finding(
                code="resource.too_many_scans",
                severity=Severity.MEDIUM,
                message="This picture is built to take minutes to open and may be meant to "
                "freeze the computer.",
                detail=f"{primary.scans} scans > {MAX_SCANS}",
            )
        )
