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
from agent.inspect.jpeg.segments import walk_segments
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
    structure.width, structure.height = primary.width, primary.height
    if primary.width is not None and primary.height is not None and primary.height > 0:
        structure.pixels = primary.width * primary.height
    structure.frames = 1
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
