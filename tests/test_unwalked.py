"""Picture types whose end no walker finds (issue 11: every raster format the engine sniffs
has an end): Canon CR3 is walked as the ISO-BMFF it is, and libmagic's other picture types
(`image_other`) get their start and end judged."""

from __future__ import annotations

import random
import struct

from agent.inspect import sniff, unwalked
from agent.inspect.engine import inspect_bytes
from agent.inspect.formats import walker_for
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.model import Verdict
from tests.format_samples import zip_payload

ZIP = zip_payload()
NOISE = random.Random(1).randbytes(200_000)


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def _cr3() -> bytes:
    """The top level of a Canon CR3 (ftyp crx, moov, an XMP uuid box, mdat)."""
    xmp_uuid = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
    return (
        _box(b"ftyp", b"crx \x00\x00\x00\x01crx isom")
        + _box(b"moov", _box(b"mvhd", bytes(100)))
        + _box(b"uuid", xmp_uuid + b"<x:xmpmeta/>")
        + _box(b"mdat", NOISE[:50_000])
    )


def test_cr3_is_walked_as_iso_bmff_to_its_last_box() -> None:
    data = _cr3()
    assert sniff.sniff(Reader.from_bytes(data)).type == "cr3"
    walker = walker_for("cr3")
    assert walker is not None
    st = walker(Reader.from_bytes(data), Limits())
    assert (st.type, st.end, st.findings) == ("cr3", len(data), [])
    assert inspect_bytes("IMG_0001.CR3", data).verdict is Verdict.CLEAN
    report = inspect_bytes("IMG_0001.CR3", data + ZIP)
    assert report.verdict is Verdict.QUARANTINE
    assert any(f.code == "cr3.trailing_data" for f in report.findings)


# Headers libmagic names as pictures the engine has no walker for.
OTHER = {
    "olympus.orf": b"IIRO\x08\x00\x00\x00",
    "fuji.raf": b"FUJIFILMCCD-RAW 0201FF383501",
    "sky.fits": b"SIMPLE  =                    T" + b" " * 50,
}


def test_other_picture_types_have_start_and_end_judged() -> None:
    for name, head in OTHER.items():
        data = head + NOISE
        assert sniff.sniff(Reader.from_bytes(data)).type == "image_other", name
        clean = inspect_bytes(name, data)
        assert clean.verdict is Verdict.CLEAN, name
        assert [f.code for f in clean.findings] == ["image_other.not_walked"]
        assert inspect_bytes(name, data + ZIP).verdict is Verdict.QUARANTINE, name


def test_head_and_tail_regions_cover_the_ends_only() -> None:
    st = unwalked.walk(Reader.from_bytes(b"IIRO\x08\x00\x00\x00" + NOISE), Limits())
    size = 8 + len(NOISE)
    assert st.end == size
    assert [(r.start, r.end) for r in st.metadata] == [
        (0, 64 * 1024),
        (size - 65_557 - 1024, size),
    ]
    small = unwalked.walk(Reader.from_bytes(b"IIRO\x08\x00\x00\x00" + NOISE[:1000]), Limits())
    assert [(r.start, r.end) for r in small.metadata] == [(0, 1008)]
