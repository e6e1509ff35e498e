"""The inspection engine: one file in, one Report out. Never raises.

Steps for each file: open read-only without following links, map it, check the name,
sniff the type from the bytes, judge content against the name, walk the format, judge
what is left after its logical end, and search metadata and (for images) pixel data for
payload markers. Every byte is touched by at most two C-speed passes (the walker's and
the `<`-anchored marker pass); nothing here hashes the file or imports an image library.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import time
from dataclasses import dataclass

from agent.inspect import names, payload
from agent.inspect.base import Region, Structure, Walker
from agent.inspect.formats import walker_for
from agent.inspect.limits import MAX_FRAMES, Limits
from agent.inspect.reader import BudgetExceeded, Reader
from agent.inspect.sniff import HEAD_BYTES, Sniffed, sniff
from agent.model import Finding, Report, Severity, verdict_for

IGNORABLE_PADDING_BYTES = 64  # bytes of zeros/whitespace after the end that are just padding
HIGH_ENTROPY_MIN_BYTES = 512  # bytes: shorter high-entropy blobs are too small to judge
TRAILER_TAIL_BYTES = payload.ZIP_EOCD_SEARCH_BYTES  # bytes of a large gap's end classified
TRAILER_MIDDLE_BYTES = 64 * 1024  # bytes sampled from the middle of a large gap
MAX_GAP_FINDINGS = 8  # separate left-over ranges reported per file
MAX_METADATA_FINDINGS = 8  # metadata regions with conclusive markers reported per file
MAX_WEAK_METADATA_FINDINGS = 2  # regions with only suggestive markers reported per file
BOOT_SECTOR_BYTES = 512  # bytes: a file exactly one sector long ending in 55 AA boots

_CONTENT_CODES = {
    "executable": (
        "content.executable",
        "This file pretends to be a picture but is a program.",
    ),
    "script": (
        "content.script",
        "This file pretends to be a picture but is a script or web page.",
    ),
    "archive": (
        "content.archive",
        "This file pretends to be a picture but is an archive of other files.",
    ),
    "document": (
        "content.document",
        "This file pretends to be a picture but is a document that can run commands.",
    ),
    "imagemagick": (
        "content.imagemagick_script",
        "This file pretends to be a picture but is a script that attacks image software.",
    ),
}

_PAYLOAD_WORDS = {
    "pe": "a Windows program",
    "elf": "a Linux program",
    "macho": "a Mac program",
    "zip": "a ZIP or Java archive",
    "rar": "a RAR archive",
    "7z": "a 7-Zip archive",
    "pdf": "a PDF document",
    "html": "a web page or script",
    "script": "a script",
    "php": "a web-server script (PHP)",
    "phar": "a web-server program (PHP archive)",
    "shell": "a command script",
    "powershell": "a PowerShell script",
    "vbs": "a VBScript",
    "batch": "a Windows command script",
    "java_class": "a Java program",
    "eicar": "an anti-virus test signature",
    "bootsector": "boot-sector code",
    "file_read": "a request to copy private files from the computer",
}

_EXECUTABLE_HEADERS = re.compile(
    rb"(?P<pe>MZ)|(?P<elf>\x7fELF[\x01\x02][\x01\x02]\x01)"
    rb"|(?P<macho>\xcf\xfa\xed\xfe|\xce\xfa\xed\xfe|\xfe\xed\xfa[\xce\xcf])"
)


@dataclass
class _Scan:
    """The per-file state while the engine works (collected findings survive a budget stop)."""

    name: str
    reader: Reader
    limits: Limits
    findings: list[Finding]
    sniffed: Sniffed | None = None


# --- public API -----------------------------------------------------------------------------


def inspect_path(
    path: str | os.PathLike[str],
    limits: Limits = Limits(),  # noqa: B008 - Limits is frozen, a shared default is safe
    *,
    display_name: str | None = None,
    copy_below_bytes: int = 0,
) -> Report:
    """Inspect one file on disk. Never raises; unreadable files yield `scan.read_error`.

    Files smaller than `copy_below_bytes` are read into memory rather than mapped (the
    agent uses this so that a file truncated under it cannot crash it with SIGBUS).

    The file is opened read-only, without following a symbolic link (a link is reported
    as not inspected) and, where permitted, without updating its access time.
    `display_name` is the name to judge (e.g. the original name of a quarantined file);
    it defaults to the last component of `path`.
    """
    path_text = os.fspath(path)
    name = display_name if display_name is not None else os.path.basename(path_text)  # noqa: PTH119
    try:
        return _inspect_path(path_text, name, limits, copy_below_bytes)
    except Exception as error:  # last resort: the engine never raises
        findings = [*_safe_name_findings(name), _read_error(error)]
        return _report(path_text, "unknown", 0, findings)


def inspect_bytes(name: str, data: bytes, limits: Limits = Limits()) -> Report:  # noqa: B008
    """Inspect bytes held in memory as if they were a file called `name`. Never raises."""
    try:
        if len(data) > limits.max_file_bytes:
            head = Reader.from_bytes(data[:HEAD_BYTES])
            return _inspect_header_only(name, name, head, len(data), limits)
        reader = Reader.from_bytes(data, deadline=time.monotonic() + limits.time_budget_seconds)
        return _inspect_reader(name, name, reader, limits)
    except Exception as error:  # last resort: the engine never raises
        findings = [*_safe_name_findings(name), _internal_error(error)]
        return _report(name, "unknown", len(data), findings)


# --- opening files --------------------------------------------------------------------------


def _open_readonly(path: str) -> int:
    """A read-only descriptor that does not follow a final symlink or block on a FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    if noatime:
        try:
            return os.open(path, flags | noatime)
        except PermissionError:
            pass  # O_NOATIME needs file ownership; fall back to a plain read-only open
    return os.open(path, flags)


def _inspect_path(path: str, name: str, limits: Limits, copy_below: int) -> Report:
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            return _not_inspected(path, name, "symlink", "it is a symbolic link")
        fd = _open_readonly(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return _not_inspected(path, name, "symlink", "it is a symbolic link")
        return _report(path, "unknown", 0, [*_safe_name_findings(name), _read_error(error)])
    try:
        info = os.fstat(fd)
    except OSError as error:
        os.close(fd)
        return _report(path, "unknown", 0, [*_safe_name_findings(name), _read_error(error)])
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return _not_inspected(path, name, "special", "it is not a regular file")
    with os.fdopen(fd, "rb", buffering=0) as handle:
        size = info.st_size
        if size > limits.max_file_bytes:
            head = Reader.from_bytes(os.pread(fd, HEAD_BYTES, 0))
            return _inspect_header_only(path, name, head, size, limits)
        try:
            reader = Reader.open_file(
                handle,
                deadline=time.monotonic() + limits.time_budget_seconds,
                copy_below=copy_below,
            )
        except (OSError, ValueError) as error:
            return _report(path, "unknown", size, [*_safe_name_findings(name), _read_error(error)])
        try:
            return _inspect_reader(path, name, reader, limits)
        finally:
            reader.close()


def _not_inspected(path: str, name: str, type_: str, why: str) -> Report:
    finding = Finding(
        "scan.not_inspected",
        Severity.INFO,
        "This item was not inspected because it is not an ordinary file.",
        detail=why,
    )
    return _report(path, type_, 0, [*_safe_name_findings(name), finding])


def _read_error(error: BaseException) -> Finding:
    return Finding(
        "scan.read_error",
        Severity.MEDIUM,
        "This file could not be read, so it could not be checked.",
        detail=f"{type(error).__name__}: {getattr(error, 'strerror', None) or error}",
    )


def _internal_error(error: BaseException) -> Finding:
    return Finding(
        "scan.read_error",
        Severity.MEDIUM,
        "This file could not be checked completely.",
        detail=f"internal error {type(error).__name__}",
    )


def _safe_name_findings(name: str) -> list[Finding]:
    try:
        return names.check_name(name)
    except Exception:  # name checks are pure string code; belt and braces
        return []


def _report(path: str, type_: str, size: int, findings: list[Finding]) -> Report:
    ordered = tuple(sorted(findings, key=lambda f: -int(f.severity)))
    return Report(path=path, type=type_, size=size, findings=ordered, verdict=verdict_for(ordered))


# --- the inspection proper ------------------------------------------------------------------


def _inspect_header_only(path: str, name: str, head: Reader, size: int, limits: Limits) -> Report:
    """Over the size cap: only the name and what the first bytes say."""
    findings = _safe_name_findings(name)
    findings.append(
        Finding(
            "resource.file_too_large",
            Severity.LOW,
            "This file is too large to check completely; only its name and type were checked.",
            detail=f"{size} bytes > limit {limits.max_file_bytes}",
        )
    )
    sniffed = sniff(head, name_hint=name)
    findings.extend(_content_findings(name, sniffed))
    return _report(path, sniffed.type, size, findings)


def _inspect_reader(path: str, name: str, reader: Reader, limits: Limits) -> Report:
    scan = _Scan(name=name, reader=reader, limits=limits, findings=_safe_name_findings(name))
    try:
        _run(scan)
    except BudgetExceeded:
        scan.findings.append(
            Finding(
                "resource.time_budget",
                Severity.MEDIUM,
                "This file took too long to check, so it was not checked completely.",
                detail=f"time budget {limits.time_budget_seconds} s spent",
            )
        )
    except (OSError, ValueError) as error:  # mapped file shrank, unreadable page...
        scan.findings.append(_read_error(error))
    type_ = scan.sniffed.type if scan.sniffed is not None else "unknown"
    return _report(path, type_, reader.size, scan.findings)


def _run(scan: _Scan) -> None:
    reader = scan.reader
    sniffed = sniff(reader, name_hint=scan.name)
    scan.sniffed = sniffed
    scan.findings.extend(_content_findings(scan.name, sniffed))
    reader.check_deadline()
    walker = _load_walker(sniffed.type)
    if walker is None:
        return
    try:
        structure = walker(reader, scan.limits)
    except BudgetExceeded:
        raise
    except Exception as error:  # a walker bug is a finding about this file, not a crash
        scan.findings.append(
            Finding(
                f"{sniffed.type}.malformed",
                Severity.LOW,
                "This picture's structure could not be understood.",
                detail=f"walker raised {type(error).__name__}",
            )
        )
        if sniffed.family == "dicom":  # the walker normally does this search itself
            scan.findings.extend(_dicom_executables(reader, []))
        return
    scan.findings.extend(structure.findings)
    scan.findings.extend(_resource_findings(structure, scan.limits, scan.findings))
    _judge_payloads(scan, sniffed, structure)


def _load_walker(detected_type: str) -> Walker | None:
    """The walker for a type, or None when its module does not exist (yet)."""
    try:
        return walker_for(detected_type)
    except ModuleNotFoundError as error:
        if error.name is not None and error.name.startswith("agent.inspect."):
            return None
        raise


def _content_findings(name: str, sniffed: Sniffed) -> list[Finding]:
    """Content against name: only image-named files are Photogate's business here."""
    expected = names.expected_type(name)
    if expected is None or sniffed.type == "empty":
        return []
    detail = f"named .{names.effective_extension(name)}, content is {sniffed.description}"
    if sniffed.family in _CONTENT_CODES:
        code, message = _CONTENT_CODES[sniffed.family]
        return [Finding(code, Severity.HIGH, message, payload=sniffed.type, detail=detail)]
    if sniffed.family in ("image", "dicom", "svg", "video"):
        if sniffed.type == expected:
            return []
        return [
            Finding(
                "content.other_image_type",
                Severity.INFO,
                "This picture is a different picture type than its name says.",
                detail=detail,
            )
        ]
    return [
        Finding(
            "content.not_an_image",
            Severity.MEDIUM,
            "This file is named like a picture but does not contain a picture.",
            detail=detail,
        )
    ]


def _resource_findings(
    structure: Structure, limits: Limits, existing: list[Finding]
) -> list[Finding]:
    """Decompression-bomb checks on the declared sizes (unless the walker reported them)."""
    already = {f.code for f in existing}
    found: list[Finding] = []
    pixels = structure.pixels
    if pixels is not None and not already & {
        "resource.pixels_over_reject",
        "resource.pixels_over_warn",
    }:
        if pixels > limits.pixels_reject:
            found.append(
                Finding(
                    "resource.pixels_over_reject",
                    Severity.HIGH,
                    "This picture claims to be so huge that opening it could freeze the computer.",
                    detail=f"{pixels} pixels > {limits.pixels_reject}",
                )
            )
        elif pixels > limits.pixels_warn:
            found.append(
                Finding(
                    "resource.pixels_over_warn",
                    Severity.MEDIUM,
                    "This picture claims to be unusually huge and may be meant to crash viewers.",
                    detail=f"{pixels} pixels > {limits.pixels_warn}",
                )
            )
    frames = structure.frames
    if frames is not None and frames > MAX_FRAMES and "resource.too_many_frames" not in already:
        found.append(
            Finding(
                "resource.too_many_frames",
                Severity.MEDIUM,
                "This picture claims an absurd number of frames and may be meant to crash viewers.",
                detail=f"{frames} frames > {MAX_FRAMES}",
            )
        )
    return found


# --- payload judgement ----------------------------------------------------------------------


def _left_over(end: int, size: int, accounted: list[Region]) -> list[tuple[int, int]]:
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


def _judge_payloads(scan: _Scan, sniffed: Sniffed, structure: Structure) -> None:
    reader = scan.reader
    type_ = sniffed.type
    metadata = [(r.start, r.end) for r in structure.metadata if r.end > r.start]
    gaps = (
        _left_over(structure.end, reader.size, structure.accounted)
        if structure.end is not None
        else []
    )
    covered = _covered_by_findings(scan.findings)

    # One `<`-anchored pass over the whole image: PHP or HTML anywhere in the pixels.
    pixel_markers: list[payload.Marker] = []
    if sniffed.family == "image":
        pixel_markers = payload.find_markers(reader, 0, reader.size, True, pixel_data=True)

    for start, stop in gaps[:MAX_GAP_FINDINGS]:
        inside = [m for m in pixel_markers if start <= m.offset < stop]
        finding = _judge_gap(reader, type_, start, stop, inside)
        if finding is not None:
            scan.findings.append(finding)
        reader.check_deadline()

    _judge_metadata(scan, type_, structure, covered)

    stray = [
        m
        for m in pixel_markers
        if not _in_any(m.offset, metadata)
        and not _in_any(m.offset, gaps)
        and not _in_any(m.offset, covered)
    ]
    if stray:
        first = stray[0]
        scan.findings.append(
            Finding(
                f"{type_}.payload_in_image_data",
                Severity.HIGH,
                f"Hidden inside this picture's image data is {_PAYLOAD_WORDS[first.kind]}.",
                offset=first.offset,
                length=len(first.text),
                payload=first.kind,
                detail=_marker_detail(stray),
            )
        )


def _covered_by_findings(findings: list[Finding]) -> list[tuple[int, int]]:
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


def _judge_metadata(
    scan: _Scan, type_: str, structure: Structure, covered: list[tuple[int, int]]
) -> None:
    """Markers in metadata regions and decompressed texts: high when conclusive, else low.

    The two kinds of finding have separate caps, so regions with an innocent `eval(` in
    their prose cannot use up the report before the region that holds the payload.
    """
    found: list[Finding] = []
    counts = {True: 0, False: 0}  # conclusive? -> findings reported
    caps = {True: MAX_METADATA_FINDINGS, False: MAX_WEAK_METADATA_FINDINGS}

    def report(label: str, offset: int, markers: list[payload.Marker], relative: bool) -> None:
        proven = payload.conclusive(markers)
        if counts[proven] < caps[proven]:
            found.append(_metadata_finding(type_, label, offset, markers, relative=relative))
            counts[proven] += 1

    for region in structure.metadata:
        markers = payload.find_markers(scan.reader, region.start, region.end, False)
        markers = [m for m in markers if not _in_any(m.offset, covered)]
        if markers:
            report(region.label, region.start, markers, False)
        if counts[True] >= MAX_METADATA_FINDINGS:
            break
    for label, offset, untrusted_text in structure.texts:
        if counts[True] >= MAX_METADATA_FINDINGS:
            break
        markers = payload.find_markers_in_bytes(untrusted_text, strong_only=False)
        if markers:
            report(label, offset, markers, True)
    scan.findings.extend(found)


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
        f"Hidden in this picture's information fields is {_PAYLOAD_WORDS[first.kind]}.",
        offset=offset,
        length=len(first.text),
        payload=first.kind,
        detail=detail,
    )


def _gap_sample(reader: Reader, start: int, stop: int) -> bytes:
    """The bytes of a left-over range, or head + middle + tail samples of a large one."""
    length = stop - start
    budget = payload.CLASSIFY_SAMPLE_BYTES + TRAILER_MIDDLE_BYTES + TRAILER_TAIL_BYTES
    if length <= budget:
        return reader.read(start, length)
    middle = start + length // 2
    return (
        reader.read(start, payload.CLASSIFY_SAMPLE_BYTES)
        + reader.read(middle, TRAILER_MIDDLE_BYTES)
        + reader.read(stop - TRAILER_TAIL_BYTES, TRAILER_TAIL_BYTES)
    )


def _judge_gap(
    reader: Reader, type_: str, start: int, stop: int, markers: list[payload.Marker]
) -> Finding | None:
    """Severity and words for bytes after the logical end that no known trailer explains."""
    length = stop - start
    blob = payload.classify(_gap_sample(reader, start, stop))
    kind, offset = blob.kind, start + blob.offset
    if not blob.dangerous and markers:
        kind, offset = markers[0].kind, markers[0].offset
    if stop == reader.size == BOOT_SECTOR_BYTES and reader.read(510, 2) == b"\x55\xaa":
        kind, offset = "bootsector", 510
    code = f"{type_}.trailing_data"
    detail = f"{length} bytes after the end at {start}: {kind}, {blob.entropy:.2f} bits/byte"
    if kind in payload.DANGEROUS_KINDS:
        return Finding(
            code,
            Severity.HIGH,
            f"Attached to the end of this picture is {_PAYLOAD_WORDS.get(kind, 'hidden code')}.",
            offset=offset,
            length=stop - offset,
            payload=kind,
            detail=detail,
        )
    if kind in ("zeros", "whitespace"):
        if length <= IGNORABLE_PADDING_BYTES:
            return None
        severity, message = Severity.INFO, "This picture has empty padding after its end."
    elif blob.entropy >= payload.HIGH_ENTROPY_BITS and length >= HIGH_ENTROPY_MIN_BYTES:
        severity = Severity.MEDIUM
        message = "Hidden encrypted or compressed data is stuck to the end of this picture."
    else:
        severity = Severity.LOW
        message = "This picture has extra data after its end."
    return Finding(
        code, severity, message, offset=start, length=length, payload=kind, detail=detail
    )


def _dicom_executables(reader: Reader, covered: list[tuple[int, int]]) -> list[Finding]:
    """PE/ELF/Mach-O headers anywhere inside a DICOM file (CVE-2019-11687 and variants)."""
    for match in reader.finditer(_EXECUTABLE_HEADERS, 0, reader.size):
        if _in_any(match.start(), covered):
            continue
        kind = match.lastgroup or "pe"
        if kind == "pe" and not payload.valid_pe(reader, match.start(), reader.size):
            continue
        return [
            Finding(
                "dicom.executable_content",
                Severity.HIGH,
                f"Hidden inside this medical image is {_PAYLOAD_WORDS[kind]}.",
                offset=match.start(),
                length=4,
                payload=kind,
                detail=f"{kind} header at {match.start()}",
            )
        ]
    return []
