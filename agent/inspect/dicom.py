"""DICOM (PS3.10) walker: preamble, File Meta group, data elements to the last one.

PE-DICOM (CVE-2019-11687) puts an executable header in the 128-byte preamble and the
rest of the program in a private OB element. PS3.10 §7.5 says: accept a preamble that is
all zeros or starts with a TIFF/BigTIFF magic, and test for executable content anywhere.
So the preamble is judged by the same classifier as any other range: a program or script
(also HTML after a newline or BOM, a batch file) is `dicom.executable_preamble`; a PDF or
a ZIP (a file other readers open as that) is `dicom.polyglot`, as is a file that also
starts like another picture; printable vendor text is info. PE/ELF headers anywhere ->
high; a `%PDF-` header in the first KiB or a ZIP directory ending the file -> polyglot.

Where the dataset ends: a file appended to a DICOM (ZIP, HTML, RAR...) parses as one more
"data element" whose length runs past the end of the file, especially in implicit-VR
datasets where any 8 bytes make a header. PS3.5 §7.1 says top-level data elements come in
ascending tag order, so an element that breaks the order, a command (0000) or File Meta
(0002) group element inside the dataset, an item tag, an unknown VR, or an overrunning
element whose tag is no plausible DICOM tag means the dataset ended at its first byte:
`Structure.end` is set there and the engine judges the rest. An overrunning element with a
plausible tag is the last real element cut short (a truncated download): low, no left-over.

What `dicom_parse` collects is judged too (text values, item and trailing padding, pixel
data via `dicom_pixels`); a deflated dataset is inflated (MAX_INFLATED_BYTES) and walked.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import replace
from typing import Literal

from agent.inspect import payload
from agent.inspect.base import Region, Structure
from agent.inspect.classify.kinds import ARCHIVE_KINDS, DOCUMENT_KINDS
from agent.inspect.dicom_document import DOCUMENT_MIME_TYPE, judge_report
from agent.inspect.dicom_parse import MAX_METADATA_REGIONS, MAX_NESTING, Parser, Syntax
from agent.inspect.dicom_pixels import judge_pixel_data
from agent.inspect.limits import MAX_STRUCTURES, Limits
from agent.inspect.reader import Reader
from agent.inspect.signatures import magic_at_start
from agent.model import Finding, Severity

__all__ = ["MAX_METADATA_REGIONS", "MAX_NESTING", "MAX_PE_HEADER_OFFSET", "pe_header_at", "walk"]

PREAMBLE_BYTES = 128
DICM_OFFSET = 128
MAX_EXECUTABLE_CANDIDATES = MAX_STRUCTURES  # `MZ`/ELF hits checked in one file
MAX_PE_HEADER_OFFSET = 16 * 1024**2  # bytes: e_lfanew values we follow
PDF_HEADER_WINDOW = 1029  # bytes: Acrobat accepts %PDF- anywhere in the first 1024 (+5)
ZIP_EOCD_SEARCH_BYTES = 65_535 + 22  # bytes from the end where a ZIP's EOCD can start
MAX_INFLATED_BYTES = 64 * 1024**2  # bytes a deflated dataset may inflate to
INFLATE_CHUNK_BYTES = 1024**2  # compressed bytes fed to the inflater at a time
UTF8_BOM = b"\xef\xbb\xbf"
TEXT_RUN_GAP_BYTES = 256  # bytes of other elements between text values judged as one run

SAFE_PREAMBLE_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
EXECUTABLE_PREAMBLE_MAGICS = {
    b"\x7fELF": "elf",
    b"\xfe\xed\xfa\xce": "macho",
    b"\xfe\xed\xfa\xcf": "macho",
    b"\xce\xfa\xed\xfe": "macho",
    b"\xcf\xfa\xed\xfe": "macho",
    b"\xca\xfe\xba\xbe": "macho",
}
# Kinds that make the file *another document* for its reader (rather than a program).
POLYGLOT_KINDS = ARCHIVE_KINDS | DOCUMENT_KINDS
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
_ELF_HEADER = re.compile(rb"\x7fELF[\x01\x02][\x01\x02]\x01")
_MZ = re.compile(rb"MZ")


def _finding(code: str, severity: Severity, message: str, offset: int, detail: str) -> Finding:
    return Finding(code=code, severity=severity, message=message, offset=offset, detail=detail)


def _polyglot(kind: str, severity: Severity, offset: int, detail: str) -> Finding:
    return Finding(
        code="dicom.polyglot",
        severity=severity,
        message="This medical image is also another kind of file that other programs open.",
        offset=offset,
        payload=kind,
        detail=detail,
    )


def pe_header_at(reader: Reader, mz_offset: int) -> int | None:
    """Offset of `PE\\0\\0` that the DOS header at `mz_offset` points to, or None."""
    e_lfanew = reader.u32le(mz_offset + 0x3C)
    if e_lfanew is None or not 0x40 <= e_lfanew <= MAX_PE_HEADER_OFFSET:
        return None
    pe_at = mz_offset + e_lfanew
    return pe_at if reader.read(pe_at, 4) == b"PE\x00\x00" else None


def _preamble_kind(reader: Reader, preamble: bytes) -> str | None:
    """What the preamble makes the file to other readers: a payload kind, or None."""
    if preamble.startswith(b"MZ"):
        return "pe" if pe_header_at(reader, 0) is not None else "dos"
    kind = EXECUTABLE_PREAMBLE_MAGICS.get(preamble[:4])
    if kind is not None:
        return kind
    if preamble.startswith(b"#!"):
        return "shell"
    body = preamble[len(UTF8_BOM) :] if preamble.startswith(UTF8_BOM) else preamble
    blob = payload.classify(body, use_libmagic=False)
    return blob.kind if blob.dangerous else None


def _check_preamble(reader: Reader, st: Structure) -> str | None:
    """Judge the 128-byte preamble; returns the polyglot kind it makes, if any."""
    preamble = reader.read(0, PREAMBLE_BYTES)
    if not preamble.strip(b"\x00") or preamble.startswith(SAFE_PREAMBLE_MAGICS):
        return None
    detail = f"preamble starts {preamble[:8]!r}"
    kind = _preamble_kind(reader, preamble)
    if kind in POLYGLOT_KINDS:
        st.findings.append(_polyglot(kind, Severity.HIGH, 0, f"{detail}: {kind} header"))
        return kind
    if kind is not None:
        if kind == "pe":
            detail += "; e_lfanew points to a PE header"
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
        return kind
    magic = magic_at_start(preamble)
    if magic is not None and magic.family == "image":
        st.findings.append(_polyglot(magic.type, Severity.MEDIUM, 0, f"{detail}: {magic.type}"))
        return magic.type
    st.findings.append(
        _finding(
            "dicom.unusual_preamble",
            Severity.INFO,
            "The medical image has vendor data in its header.",
            0,
            detail,
        )
    )
    return None


def _check_polyglot_headers(
    reader: Reader, st: Structure, parser: Parser, already: str | None
) -> None:
    """A PDF header in the first KiB, or a ZIP directory that ends the walked dataset.

    An Encapsulated PDF object's own report (`dicom_document`) is judged as a PDF instead:
    a polyglot only when it can act, wherever it starts.
    """
    pdf_at = reader.read(0, PDF_HEADER_WINDOW).find(b"%PDF-")
    mime = parser.values.get(DOCUMENT_MIME_TYPE, b"")
    report_at, active = judge_report(reader, parser.document, mime)
    if report_at is not None and active:
        st.findings.append(_polyglot("pdf", Severity.HIGH, report_at, active))
    if pdf_at >= 0 and pdf_at != report_at and already != "pdf":
        st.findings.append(_polyglot("pdf", Severity.HIGH, pdf_at, f"%PDF- header at {pdf_at}"))
    if st.end != reader.size or already == "zip":
        return  # an appended ZIP is left-over data, judged by the engine
    tail_start = max(0, reader.size - ZIP_EOCD_SEARCH_BYTES)
    tail = reader.read(tail_start, reader.size - tail_start)
    eocd = tail.rfind(b"PK\x05\x06")
    if eocd >= 0 and eocd + 22 <= len(tail):
        comment = int.from_bytes(tail[eocd + 20 : eocd + 22], "little")
        if eocd + 22 + comment == len(tail):
            at = tail_start + eocd
            st.findings.append(_polyglot("zip", Severity.HIGH, at, f"ZIP directory at {at}"))


def _syntax_for(transfer_syntax: str) -> Syntax:
    if transfer_syntax == IMPLICIT_LE:
        return Syntax(explicit=False, little=True)
    if transfer_syntax == EXPLICIT_BE:
        return Syntax(explicit=True, little=False)
    return Syntax()


def _guess_raw_syntax(reader: Reader) -> Syntax:
    """Syntax of a dataset with no File Meta group, from its first element."""
    explicit = all(0x41 <= b <= 0x5A for b in reader.read(4, 2))
    group_le, group_be = reader.u16le(0) or 0, reader.u16be(0) or 0
    return Syntax(explicit=explicit, little=group_le <= group_be)


def _judged_texts(reader: Reader, parser: Parser, st: Structure, base: int | None) -> None:
    """Text values as decompressed-style texts: merged runs, one label per run.

    `base` is the file offset to report for values of an inflated dataset (their own
    offsets are inside the inflated bytes).
    """
    run: list[bytes] = []
    first: tuple[int, int, int] | None = None
    last_end = -1
    for start, end, group, element in [*parser.texts, (-1, -1, 0, 0)]:
        if run and first is not None and (start < 0 or start - last_end > TEXT_RUN_GAP_BYTES):
            label = f"DICOM text elements from ({first[1]:04X},{first[2]:04X})"
            st.texts.append((label, first[0] if base is None else base, b"\n".join(run)))
            run, first = [], None
        if start < 0:
            break
        if first is None:
            first = (start, group, element)
        run.append(reader.read(start, end - start))
        last_end = end


def _walk_dataset(
    reader: Reader, st: Structure, parser: Parser, pos: int, syntax: Syntax, transfer_syntax: str
) -> int:
    """The dataset's elements, then its pixel data; returns where the dataset ends."""
    pos = parser.elements(pos, reader.size, syntax, 0, meta_only=False)
    judge_pixel_data(
        reader,
        st,
        parser.pixels,
        parser.values,
        little=syntax.little,
        transfer_syntax=transfer_syntax,
    )
    return pos


def _inflated(reader: Reader, st: Structure, start: int) -> tuple[bytes, int] | None:
    """(inflated dataset, offset where the deflate stream ended), or None when corrupt."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate (PS3.5 §A.5)
    out: list[bytes] = []
    total, pos = 0, start
    try:
        while pos < reader.size and not inflater.eof:
            reader.check_deadline()
            chunk = reader.read(pos, INFLATE_CHUNK_BYTES)
            piece = inflater.decompress(chunk, MAX_INFLATED_BYTES + 1 - total)
            out.append(piece)
            total += len(piece)
            if total > MAX_INFLATED_BYTES or inflater.unconsumed_tail:
                st.findings.append(
                    Finding(
                        "resource.metadata_too_large",
                        Severity.MEDIUM,
                        "This medical image unpacks to more data than can be checked.",
                        offset=start,
                        detail=f"deflated dataset inflates past {MAX_INFLATED_BYTES} bytes",
                    )
                )
                return b"".join(out)[:MAX_INFLATED_BYTES], reader.size
            pos += len(chunk) - len(inflater.unused_data)
    except zlib.error:
        return None
    return b"".join(out), pos


def _walk_deflated(reader: Reader, st: Structure, start: int) -> tuple[int, Parser]:
    """Inflate and walk a deflated dataset; returns (end in the file, the inner parser)."""
    inner_st = Structure(type="dicom")
    found = _inflated(reader, st, start)
    if found is None:
        st.findings.append(
            _finding(
                "dicom.malformed",
                Severity.LOW,
                "The medical image's structure is damaged.",
                start,
                "deflated dataset does not inflate",
            )
        )
        st.unexplained.append(Region(start, reader.size, "DICOM deflated dataset"))
        return reader.size, Parser(reader, inner_st)
    inflated, end = found
    inner = Reader.from_bytes(inflated, deadline=reader.deadline)
    parser = Parser(inner, inner_st)
    _walk_dataset(inner, inner_st, parser, 0, Syntax(), DEFLATED_LE)
    _scan_executables(inner, inner_st)
    _judged_texts(inner, parser, st, base=start)
    where = f"in the deflated dataset at {start}"
    for region in inner_st.metadata + inner_st.unexplained:
        label = f"{region.label} {where} (unknown data)"
        st.texts.append((label, start, inner.read(region.start, region.length)))
    for finding in inner_st.findings:
        st.findings.append(replace(finding, offset=start, detail=f"{where}: {finding.detail}"))
    if parser.problem is not None:
        code, at, detail = parser.problem
        st.findings.append(
            _finding(
                code,
                Severity.LOW,
                "The medical image's structure is damaged.",
                start,
                f"{where}, +{at}: {detail}",
            )
        )
    return end, parser


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk a DICOM file's preamble and data elements. Never raises for malformed input."""
    del limits
    st = Structure(type="dicom")
    parser = Parser(reader, st)
    preamble_kind = None
    if reader.read(DICM_OFFSET, 4) == b"DICM":
        preamble_kind = _check_preamble(reader, st)
        pos = DICM_OFFSET + 4
    else:
        pos = 0
    if reader.u16le(pos) == 0x0002:
        pos = parser.elements(pos, reader.size, Syntax(), 0, meta_only=True)
        raw_ts = parser.values.get((0x0002, 0x0010), b"")
        transfer_syntax = raw_ts.rstrip(b"\x00 ").decode("ascii", "replace")
        syntax = _syntax_for(transfer_syntax)
    else:
        transfer_syntax, syntax = "", _guess_raw_syntax(reader)
    dimensions = parser
    if parser.problem is None:
        if transfer_syntax == DEFLATED_LE:
            pos, dimensions = _walk_deflated(reader, st, pos)
        else:
            pos = _walk_dataset(reader, st, parser, pos, syntax, transfer_syntax)
    st.end = pos
    _report_structure(reader, st, parser, pos)
    _judged_texts(reader, parser, st, base=None)
    _dimensions(dimensions, st, syntax)
    _check_polyglot_headers(reader, st, parser, preamble_kind)
    _scan_executables(reader, st)
    return st


def _report_structure(reader: Reader, st: Structure, parser: Parser, pos: int) -> None:
    """Where the dataset ended early or broke: low findings (the engine judges the rest)."""
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


def _account_zero_padding(reader: Reader, st: Structure, end: int) -> bool:
    """Zeros right after the dataset are padding: the engine judges what follows them.

    Returns True when the rest of the file is nothing but zeros.
    """
    first_data = reader.first_non_zero(end, reader.size)
    padding_end = reader.size if first_data < 0 else first_data
    if padding_end > end:
        st.accounted.append(Region(end, padding_end, "zero padding"))
    return first_data < 0


def _dimensions(parser: Parser, st: Structure, syntax: Syntax) -> None:
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
