"""Code where no region explains it: program headers anywhere in a picture, scripts at the
end of a JPEG's scan data.

The walkers hand the judge regions (metadata, trailers, unexplained gaps); a payload
written where no region is, inside the compressed pixel data, escapes all of them. Two
format rules close that:

* No picture format stores a program, and a validated program header does not occur in
  compressed pixels by chance, so a PE (e_lfanew pointing at `PE\\0\\0`) is one wherever
  it is: stored as BMP pixels, in bytes a truncated chunk swallowed (one literal pass
  over the file, ~0.4 ms/MB, and one for an ELF's whole 7-byte ident). A JPEG's scan data
  keeps the picture intact around a payload in two places only: after the last MCU,
  before EOI (decoders ignore what follows the last block), and right after an RSTn
  marker (decoders resynchronise at the next one). So a JPEG is searched whole when it
  has restart markers or the walker found anything unexplained (a program's own 0xFF
  bytes end the scan early: the rest turns into stray bytes), and otherwise only in the
  JPEG_TAIL_BYTES before EOI, so big clean photos do not pay whole-file passes. Left
  open: a program over 1 MiB with no 0xFF bytes before EOI of a JPEG without restart
  markers (its header is further back than the tail). The JPEG images a trailer holds
  (MPF images, gain maps: accounted, so judged nowhere else) get the same tail search.
* Text hidden there too: Huffman-coded data has no long printable runs holding a strong
  marker, a script or an encoded program, so the printable runs of the scan data in the
  SCRIPT_TAIL_BYTES before EOI are judged like metadata text. The window starts no earlier
  than the first scan's data: the headers before it are judged as what they are (metadata
  as metadata, table slack as stray bytes), and the standard Huffman tables every encoder
  copies from the JPEG specification hold a 44-byte printable run that would otherwise send
  every thumbnail's bytes through every decoder.
"""

from __future__ import annotations

import re

from agent.inspect import payload
from agent.inspect.base import Structure
from agent.inspect.classify.blob import decoded_payload, text_runs
from agent.inspect.classify.kinds import MAX_PE_HEADER_OFFSET, PAYLOAD_WORDS, SCRIPT_PAYLOAD_KINDS
from agent.inspect.classify.needles import NeedleSearch
from agent.inspect.reader import Reader
from agent.inspect.signatures import script_kind
from agent.model import Finding, Severity

# A big JPEG's CPU is the product's speed budget (bench/scan_cpu.py): its scan data is searched
# for programs only where a payload keeps the picture intact, after the last MCU before EOI.
JPEG_TAIL_BYTES = 1024 * 1024  # bytes before a JPEG's EOI searched for a program header
SCRIPT_TAIL_BYTES = 16 * 1024  # bytes before a JPEG's EOI searched for a script

# Headers are proposed by one ahocorasick-rs pass (`needles`: SIMD over 4-byte needles,
# ~0.2 ms/MiB where a regex per kind took ~0.7) and confirmed by the full pattern. A PE is
# found by its `PE\0\0` (rarer than `MZ`, so fewer candidates to check) and the MZ header
# whose e_lfanew points at it; an ELF by its whole 7-byte ident.
_PE_SIGNATURE = b"PE\x00\x00"
_EXECUTABLE_CANDIDATES = NeedleSearch([_PE_SIGNATURE, b"\x7fELF"])
_EXECUTABLE_HEADER = re.compile(rb"PE\x00\x00|\x7fELF[\x01\x02][\x01\x02]\x01")
_MACHO_HEADERS = tuple(
    re.compile(magic)
    for magic in (rb"\xcf\xfa\xed\xfe", rb"\xce\xfa\xed\xfe", rb"\xfe\xed\xfa[\xce\xcf]")
)
_RESTART_CANDIDATES = NeedleSearch(bytes([0xFF, code]) for code in range(0xD0, 0xD8))
_RESTART_MARKER = re.compile(rb"\xff[\xd0-\xd7]")
_SOI = b"\xff\xd8\xff"
EOI_SEARCH_BYTES = 64  # bytes at the end of an accounted image searched for its EOI (padding)
MIN_PE_HEADER_OFFSET = 0x40  # bytes: e_lfanew points past the 64-byte MS-DOS header


def _dos_header_before(reader: Reader, signature_at: int) -> int | None:
    """Offset of the MZ header whose e_lfanew points at the `PE\\0\\0` at `signature_at`."""
    base = max(0, signature_at - MAX_PE_HEADER_OFFSET)
    window = reader.read(base, signature_at - base)  # holds every candidate's e_lfanew field
    at = window.rfind(b"MZ", 0, len(window) - MIN_PE_HEADER_OFFSET + 2)
    while at >= 0:
        field = window[at + 0x3C : at + 0x40]
        if base + at + int.from_bytes(field, "little") == signature_at:
            return base + at
        at = window.rfind(b"MZ", 0, at)
    return None


def first_executable(
    reader: Reader,
    covered: list[tuple[int, int]],
    *,
    start: int = 0,
    end: int | None = None,
    elf: bool = True,
    macho: bool = False,
) -> tuple[str, int] | None:
    """(kind, offset) of the first program header in [start, end), outside `covered`.

    A PE counts only as an MZ header whose e_lfanew points at `PE\\0\\0` and an ELF needs
    its whole 7-byte ident (class, byte order, version): by chance in compressed pixels
    once in 2**48 bytes or rarer. A bare 4-byte Mach-O magic is that likely once in 4 GB,
    so it is searched only where asked (DICOM, whose values are mostly uncompressed).
    Each kind is one pass at literal speed (~0.3 ms/MB); callers choose what they pay for.
    """
    stop = reader.size if end is None else min(end, reader.size)
    first: dict[str, int] = {}  # kind -> offset of its first header outside `covered`
    wanted = {"pe", "elf"} if elf else {"pe"}
    for match in reader.confirmed_matches(
        _EXECUTABLE_CANDIDATES.starts, _EXECUTABLE_HEADER, start, stop
    ):
        at = match.start()
        if match.group(0) == _PE_SIGNATURE:
            if "pe" in first or at < start + MIN_PE_HEADER_OFFSET:
                continue
            dos = _dos_header_before(reader, at)
            if dos is not None and dos >= start and not _in_any(dos, covered):
                first["pe"] = dos
        elif elf and "elf" not in first and not _in_any(at, covered):
            first["elf"] = at
        if wanted <= first.keys():
            break
    hits = [(offset, kind) for kind, offset in first.items()]
    if macho:
        for pattern in _MACHO_HEADERS:
            for match in reader.finditer(pattern, start, stop):
                if not _in_any(match.start(), covered):
                    hits.append((match.start(), "macho"))
                    break
    if not hits:
        return None
    offset, kind = min(hits)
    return kind, offset


def _in_any(offset: int, ranges: list[tuple[int, int]]) -> bool:
    return any(start <= offset < stop for start, stop in ranges)


def _covered(findings: list[Finding]) -> list[tuple[int, int]]:
    return [
        (f.offset, f.offset + max(1, f.length or 1))
        for f in findings
        if f.offset is not None and f.severity >= Severity.MEDIUM
    ]


def stray_code(
    reader: Reader, type_: str, structure: Structure, findings: list[Finding]
) -> list[Finding]:
    """Findings for code in a picture that no existing finding explains (module docstring)."""
    if any(f.severity >= Severity.HIGH and f.payload is not None for f in findings):
        return []  # a payload is already reported where it is: one is enough to quarantine
    covered = _covered(findings)
    if type_ != "jpeg" or structure.end is None or structure.end < 2:
        hit = first_executable(reader, covered)  # the whole file
        if hit is None:
            return []
        kind, offset = hit
        detail = f"{kind} header at {offset}, outside any region the format explains"
        return [_finding(type_, kind, offset, detail)]
    eoi = structure.end - 2
    whole = bool(structure.unexplained)  # stray bytes: the scan may hold more than a tail
    scan = structure.scan_data_start or 0
    found = _before_eoi(reader, type_, covered, 0, eoi, whole=whole, scan=scan)
    for image_start, image_eoi in _embedded_images(reader, structure):
        if found:
            break
        # not walked: its headers stay in the script window
        found = _before_eoi(
            reader, type_, covered, image_start, image_eoi, whole=False, scan=image_start
        )
    return found


def _embedded_images(reader: Reader, structure: Structure) -> list[tuple[int, int]]:
    """(start, EOI offset) of the JPEG images the trailers hold (MPF images, gain maps):
    accounted, so judged nowhere else, and as able to carry a payload before EOI."""
    images: list[tuple[int, int]] = []
    end = structure.end or 0
    for region in structure.accounted:
        if region.start < end or region.length < 4 or reader.read(region.start, 3) != _SOI:
            continue
        tail_at = max(region.start, region.end - EOI_SEARCH_BYTES)
        eoi = reader.read(tail_at, region.end - tail_at).rfind(b"\xff\xd9")
        images.append((region.start, tail_at + eoi if eoi >= 0 else region.end))
    return images


def _before_eoi(
    reader: Reader,
    type_: str,
    covered: list[tuple[int, int]],
    first: int,
    eoi: int,
    *,
    whole: bool,
    scan: int,
) -> list[Finding]:
    """A program or script in the scan data before the EOI at `eoi` of an image at
    `first`, whose scan data starts no earlier than `scan` (the script window's floor)."""
    start = max(first, eoi - JPEG_TAIL_BYTES)
    if whole or _restart_marker_in(reader, start, eoi):
        start = first  # a payload mid-scan keeps the picture intact (or it is broken anyway)
    hit = first_executable(reader, covered, start=start, end=eoi)
    if hit is not None:
        kind, offset = hit
        detail = f"{kind} header at {offset}, {eoi - offset} bytes before the end marker at {eoi}"
        return [_finding(type_, kind, offset, detail)]
    start = max(first, scan, eoi - SCRIPT_TAIL_BYTES)
    script = _script_in(reader.read(start, eoi - start))
    if script is None:
        return []
    detail = f"{script} text in the {eoi - start} bytes before the end marker at {eoi}"
    return [_finding(type_, script, start, detail)]


def _restart_marker_in(reader: Reader, start: int, end: int) -> bool:
    """True when the scan data before EOI has RSTn markers (a restart interval is set)."""
    matches = reader.confirmed_matches(_RESTART_CANDIDATES.starts, _RESTART_MARKER, start, end)
    return next(matches, None) is not None


def _script_in(tail: bytes) -> str | None:
    """The kind of code in bytes before EOI: a conclusive strong marker or a script in the
    printable runs, or a program behind a decoder (base64, hex...) in the bytes."""
    text = text_runs(tail)
    if not text:
        return None
    markers = payload.find_markers_in_bytes(text, strong_only=True)
    if markers and payload.conclusive(markers):
        return payload.decisive_marker(markers).kind
    language = script_kind(text)
    if language is not None:
        return SCRIPT_PAYLOAD_KINDS[language]
    decoded = decoded_payload(tail)  # not the joined runs: their newlines glue base64 runs
    return None if decoded is None else decoded[0]


def _finding(type_: str, kind: str, offset: int, detail: str) -> Finding:
    return Finding(
        f"{type_}.payload_in_image_data",
        Severity.HIGH,
        f"Hidden inside this picture's image data is {PAYLOAD_WORDS.get(kind, 'hidden code')}.",
        offset=offset,
        payload=kind,
        detail=detail,
    )
