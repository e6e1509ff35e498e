"""Files over the size cap: never silently clean.

A file larger than `Limits.max_file_bytes` is not walked, but an attacker can pad a
booby-trapped picture past the cap (a ZIP appended after 2 GiB of zeros) precisely so that
it is not walked. So the places where payloads live are still judged: the head (where
metadata and the format's own header are) and the last megabytes (where trailers, ZIP
directories and appended programs are). A picture over the cap is at least flagged: it
cannot be vouched for, and no phone or scanner writes a 2 GiB photo.
"""

from __future__ import annotations

from agent.inspect import payload
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.inspect.sniff import Sniffed
from agent.model import Finding, Severity

OVER_CAP_HEAD_BYTES = 1024 * 1024  # bytes at the start of an over-cap file searched for payloads
OVER_CAP_TAIL_BYTES = 8 * 1024 * 1024  # bytes at the end of an over-cap file classified
_PICTURE_FAMILIES = frozenset({"image", "dicom"})


def over_cap_findings(reader: Reader, sniffed: Sniffed, limits: Limits) -> list[Finding]:
    """What can still be said about a file over the cap: its head and its tail, judged."""
    size = reader.size
    picture = sniffed.family in _PICTURE_FAMILIES
    findings = [
        Finding(
            "resource.file_too_large",
            Severity.MEDIUM if picture else Severity.LOW,
            "This file is too large to check completely; only its start and end were checked.",
            detail=f"{size} bytes > limit {limits.max_file_bytes}",
        )
    ]
    tail_start = max(0, size - OVER_CAP_TAIL_BYTES)
    tail = payload.classify(reader.read(tail_start, size - tail_start))
    if tail.dangerous and tail_start + tail.offset > 0:  # at 0 the content finding says it
        findings.append(
            Finding(
                f"{sniffed.type}.trailing_data",
                Severity.HIGH,
                "Attached to the end of this very large file is hidden code.",
                offset=tail_start + tail.offset,
                length=size - tail_start - tail.offset,
                payload=tail.kind,
                detail=f"{tail.kind} in the last {size - tail_start} bytes of a file over the cap",
            )
        )
    head = reader.read(0, min(OVER_CAP_HEAD_BYTES, tail_start))
    markers = payload.find_markers_in_bytes(head, strong_only=True)
    if markers and payload.conclusive(markers):
        first = payload.decisive_marker(markers)
        findings.append(
            Finding(
                f"{sniffed.type}.payload_in_metadata",
                Severity.HIGH,
                "Hidden near the start of this very large file is code.",
                offset=first.offset,
                length=len(first.text),
                payload=first.kind,
                detail=f"{first.kind} in the first {len(head)} bytes of a file over the cap",
            )
        )
    return findings
