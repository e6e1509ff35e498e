"""An Encapsulated PDF object's report is judged as a PDF (agent/inspect/dicom_document.py).

PS3.3 §A.45: the report sits in (0042,0011), `application/pdf` in (0042,0012). Its
`%PDF-` in the first KiB is the object's content, not a disguise, unless the PDF can act
(PDF 32000-1 §12.6 actions, §7.11.4 embedded files), read everywhere, streams included;
compressed object streams hide dictionaries, so they keep the polyglot verdict.
"""

from __future__ import annotations

import random

import pytest

from agent.inspect.dicom_document import MAX_REPORT_BYTES, active_content
from agent.inspect.reader import Reader
from agent.model import Severity
from bench.eval_images import dicom_element
from bench.eval_writers import encapsulated_pdf_dicom, report_pdf
from tests.walker_helpers import walk_bytes

PLAIN = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    b"3 0 obj\n<< /Length 17 >>\nstream\nBT /F1 12 Tf ET\nendstream\nendobj\n"
    b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)


def _polyglots(data: bytes) -> list[tuple[Severity, str]]:
    st = walk_bytes("dicom", data)
    return [(f.severity, f.detail) for f in st.findings if f.code == "dicom.polyglot"]


def test_a_report_from_pdf2dcm_is_no_polyglot() -> None:
    data = encapsulated_pdf_dicom(random.Random("report"))
    assert data.find(b"%PDF-") < 1024  # where PDF readers look: the case being judged
    assert _polyglots(data) == []


def test_a_comment_cannot_hide_a_dictionary_as_a_stream_body() -> None:
    # "% stream" ... "% endstream" are comments to a PDF reader: the action between is live.
    hidden = b"%stream\n4 0 obj\n<< /S /JavaScript /JS (app.alert(1)) >>\nendobj\n%endstream\n"
    pdf = PLAIN.replace(b"trailer", hidden + b"trailer")
    found = _polyglots(encapsulated_pdf_dicom(random.Random(1), pdf))
    assert len(found) == 1 and "/JavaScript" in found[0][1]


@pytest.mark.parametrize(
    ("dictionary", "name"),
    [
        (b"<< /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>", "/JavaScript"),
        (b"<< /OpenAction << /S /J#61vaScript /J#53 (x) >> >>", "/JavaScript"),
        (b"<< /OpenAction << /S /Launch /F (cmd.exe) >> >>", "/Launch"),
        (b"<< /Names << /EmbeddedFiles 5 0 R >> >>", "/EmbeddedFiles"),
        (b"<< /Type /ObjStm /N 3 /First 20 >>", "/ObjStm"),
        (b"<< /AcroForm << /XFA 7 0 R >> >>", "/XFA"),
        (b"<< /AA << /O << /S /GoToR /F (\\\\\\\\host\\\\share\\\\x.pdf) >> >> >>", "/GoToR"),
    ],
)
def test_a_report_that_can_act_is_a_polyglot(dictionary: bytes, name: str) -> None:
    pdf = PLAIN.replace(b"<< /Type /Pages", dictionary + b"\nendobj\n4 0 obj\n<< /Type /Pages")
    found = _polyglots(encapsulated_pdf_dicom(random.Random(2), pdf))
    assert len(found) == 1 and found[0][0] is Severity.HIGH and name in found[0][1]


def _with_element(data: bytes, after: bytes, element: bytes) -> bytes:
    """`data` with `element` inserted right after the element `after` (tag order kept)."""
    at = data.index(after) + len(after)
    return data[:at] + element + data[at:]


def test_an_active_report_is_caught_even_past_the_first_kib() -> None:
    pdf = PLAIN.replace(b"/Type /Catalog", b"/Type /Catalog /OpenAction << /S /JavaScript >>")
    data = encapsulated_pdf_dicom(random.Random(3), pdf)
    modality = dicom_element(0x0008, 0x0060, b"CS", b"DOC")
    moved = _with_element(data, modality, dicom_element(0x0008, 0x1030, b"LO", b"x" * 1200))
    assert moved.find(b"%PDF-") > 1024
    assert [severity for severity, _ in _polyglots(moved)] == [Severity.HIGH]


def test_a_pdf_elsewhere_in_the_first_kib_is_still_a_polyglot() -> None:
    data = encapsulated_pdf_dicom(random.Random(5))
    modality = dicom_element(0x0008, 0x0060, b"CS", b"DOC")
    data = _with_element(data, modality, dicom_element(0x0008, 0x1030, b"LO", b"%PDF-1.4 x"))
    assert [detail for _, detail in _polyglots(data)] == [f"%PDF- header at {data.find(b'%PDF-')}"]


def test_a_pdf_the_object_does_not_declare_stays_a_polyglot() -> None:
    data = encapsulated_pdf_dicom(random.Random(6))
    data = data.replace(b"application/pdf", b"text/xml\x00\x00\x00\x00\x00\x00\x00")
    assert len(_polyglots(data)) == 1


def test_a_report_over_the_reading_cap_is_not_vouched_for() -> None:
    reader = Reader.from_bytes(PLAIN + b" " * (MAX_REPORT_BYTES + 1))
    assert active_content(reader, 0, reader.size) == ["too large to read"]


def test_pillow_reports_have_no_active_names() -> None:
    pdf = report_pdf(random.Random(7))
    assert pdf.startswith(b"%PDF-") and active_content(Reader.from_bytes(pdf), 0, len(pdf)) == []
