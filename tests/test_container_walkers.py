"""TIFF, ISO-BMFF and DICOM walkers: edge cases and every bound at limit-1/limit/limit+1."""

from __future__ import annotations

import struct

import pytest

from agent.inspect import dicom, isobmff, tiff
from agent.inspect.engine import inspect_bytes
from agent.model import Severity, Verdict
from tests.format_samples import (
    box,
    dicom_bytes,
    dicom_element,
    heif_bytes,
    implicit_dicom_bytes,
    implicit_dicom_element,
    pe_dicom_bytes,
    pe_payload,
    tiff_bytes,
)
from tests.walker_helpers import codes, unaccounted_after_end, walk_bytes

# --- TIFF -----------------------------------------------------------------------------------


def _tiff_chain(count: int, loop: bool = False) -> bytes:
    """A classic LE TIFF whose IFD chain has `count` one-entry IFDs (optionally looping)."""
    ifd_bytes = 2 + 12 + 4
    out = bytearray(b"II*\x00" + struct.pack("<I", 8))
    for i in range(count):
        at = 8 + i * ifd_bytes
        nxt = at + ifd_bytes if i + 1 < count else (8 if loop else 0)
        out += struct.pack("<HHHIHH", 1, 256, 3, 1, 7, 0) + struct.pack("<I", nxt)
    return bytes(out)


@pytest.mark.parametrize(
    ("count", "over"),
    [(tiff.MAX_IFDS - 1, False), (tiff.MAX_IFDS, False), (tiff.MAX_IFDS + 1, True)],
)
def test_tiff_ifd_count_bound(count: int, over: bool) -> None:
    data = _tiff_chain(count)
    st = walk_bytes("tiff", data)
    assert ("tiff.malformed" in codes(st)) is over
    assert st.frames == min(count, tiff.MAX_IFDS)


def test_tiff_ifd_loop_terminates() -> None:
    data = _tiff_chain(3, loop=True)
    st = walk_bytes("tiff", data)
    assert st.frames == 3 and st.end == len(data) and codes(st) == set()


def test_tiff_text_tags_are_metadata_and_strips_define_end() -> None:
    data = tiff_bytes(description="<?php system($_GET[1]); ?>")
    st = walk_bytes("tiff", data)
    assert st.end == len(data)
    assert any(b"<?php" in data[r.start : r.end] for r in st.metadata if "Description" in r.label)


def test_tiff_strip_past_eof_is_truncated() -> None:
    data = tiff_bytes()
    st = walk_bytes("tiff", data[:200])
    assert "tiff.truncated" in codes(st) and st.end == 200


def test_bigtiff_walks() -> None:
    # BigTIFF: header 16 bytes, one IFD with width/height/strip offset/strip count.
    strip = bytes(64)
    ifd_at = 16
    entries = [(256, 3, 1, 8), (257, 3, 1, 8), (273, 16, 1, 0), (279, 16, 1, len(strip))]
    ifd_len = 8 + 20 * len(entries) + 8
    strip_at = ifd_at + ifd_len
    entries[2] = (273, 16, 1, strip_at)
    body = struct.pack("<Q", len(entries))
    for tag, typ, n, value in entries:
        body += struct.pack("<HHQQ", tag, typ, n, value)
    body += struct.pack("<Q", 0)
    data = b"II+\x00" + struct.pack("<HHQ", 8, 0, ifd_at) + body + strip
    st = walk_bytes("tiff", data)
    assert (st.end, st.width, st.height, codes(st)) == (len(data), 8, 8, set())


# --- ISO-BMFF -------------------------------------------------------------------------------


def test_isobmff_size_zero_box_runs_to_eof_and_largesize() -> None:
    tail = struct.pack(">I", 0) + b"mdat" + bytes(100)
    data = heif_bytes() + tail
    st = walk_bytes("heif", data)
    assert st.end == len(data) and codes(st) == set()
    large = struct.pack(">I", 1) + b"free" + struct.pack(">Q", 16 + 10) + bytes(10)
    st = walk_bytes("heif", heif_bytes() + large)
    assert st.end == len(heif_bytes()) + len(large)


def test_isobmff_unknown_box_is_metadata_and_overruns() -> None:
    base = heif_bytes()
    st = walk_bytes("heif", base + box(b"zzzz", b"<?php ?>"))
    assert st.metadata[-1].label == "unknown box b'zzzz'" and st.end == len(base) + 16
    known = base + struct.pack(">I", 1000) + b"mdat" + bytes(10)
    st = walk_bytes("heif", known)
    assert (st.end, codes(st)) == (len(known), {"heif.truncated"})
    unknown = base + struct.pack(">I", 1000) + b"zzzz" + bytes(10)
    st = walk_bytes("heif", unknown)
    assert (st.end, codes(st)) == (len(base), {"heif.malformed"})


@pytest.mark.parametrize(
    ("fillers", "found"),
    [
        (isobmff.MAX_CHILD_BOXES - 2, True),
        (isobmff.MAX_CHILD_BOXES - 1, True),
        (isobmff.MAX_CHILD_BOXES, False),
    ],
)
def test_isobmff_child_box_bound(fillers: int, found: bool) -> None:
    ispe = box(b"ispe", bytes(4) + struct.pack(">II", 300, 200))
    ipco = box(b"ipco", box(b"free", b"") * fillers + ispe)
    meta = box(b"meta", bytes(4) + box(b"iprp", ipco))
    data = box(b"ftyp", b"heic" + bytes(4) + b"mif1") + meta
    st = walk_bytes("heif", data)
    assert (st.width == 300) is found
    assert st.end == len(data)


def test_isobmff_brand_decides_type() -> None:
    mp4 = box(b"ftyp", b"isom" + bytes(4) + b"isommp41") + box(b"mdat", bytes(8))
    assert walk_bytes("mp4", mp4).type == "mp4"
    avif = box(b"ftyp", b"avif" + bytes(4) + b"mif1") + box(b"mdat", bytes(8))
    assert walk_bytes("avif", avif).type == "avif"


# --- DICOM ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preamble", "code", "severity"),
    [
        (bytes(128), None, None),
        (b"II*\x00" + bytes(124), None, None),
        (b"MM\x00*" + bytes(124), None, None),
        (b"II+\x00" + bytes(124), None, None),
        (b"MZ" + bytes(126), "dicom.executable_preamble", Severity.HIGH),
        (b"\x7fELF" + bytes(124), "dicom.executable_preamble", Severity.HIGH),
        (b"\xcf\xfa\xed\xfe" + bytes(124), "dicom.executable_preamble", Severity.HIGH),
        (b"\xca\xfe\xba\xbe" + bytes(124), "dicom.executable_preamble", Severity.HIGH),
        (b"#!/bin/sh\n" + bytes(118), "dicom.executable_preamble", Severity.HIGH),
        (b"<html>" + bytes(122), "dicom.executable_preamble", Severity.HIGH),
        (b"ACME CT SCANNER v2" + bytes(110), "dicom.unusual_preamble", Severity.INFO),
    ],
)
def test_dicom_preamble_rules(preamble: bytes, code: str | None, severity: Severity | None) -> None:
    data = dicom_bytes(preamble=preamble)
    st = walk_bytes("dicom", data)
    assert st.end == len(data) and (st.width, st.height, st.frames) == (4, 4, 1)
    assert [(f.code, f.severity) for f in st.findings] == (
        [] if code is None else [(code, severity)]
    )


def test_pe_dicom_is_caught_twice_and_private_blob_is_metadata() -> None:
    data = pe_dicom_bytes()
    st = walk_bytes("dicom", data)
    assert codes(st, Severity.HIGH) == {"dicom.executable_preamble", "dicom.executable_content"}
    assert st.end == len(data)
    pe_at = data.index(b"PE\x00\x00")
    assert any(r.start <= pe_at < r.end for r in st.metadata)


def test_dicom_elf_inside_private_element_and_appended_pe() -> None:
    elf = b"\x7fELF\x02\x01\x01" + bytes(57)
    st = walk_bytes("dicom", dicom_bytes(private_blob=elf))
    assert codes(st, Severity.HIGH) == {"dicom.executable_content"}
    clean = dicom_bytes()
    st = walk_bytes("dicom", clean + pe_payload())
    assert st.end == len(clean) and "dicom.executable_content" in codes(st)


@pytest.mark.parametrize(
    ("e_lfanew", "found"),
    [
        (dicom.MAX_PE_HEADER_OFFSET - 1, True),
        (dicom.MAX_PE_HEADER_OFFSET, True),
        (dicom.MAX_PE_HEADER_OFFSET + 1, False),
    ],
)
def test_dicom_pe_header_offset_bound(e_lfanew: int, found: bool) -> None:
    mz = bytearray(64)
    mz[0:2] = b"MZ"
    struct.pack_into("<I", mz, 0x3C, e_lfanew)
    blob = bytes(mz) + bytes(e_lfanew - 64) + b"PE\x00\x00" + bytes(4)
    st = walk_bytes("dicom", dicom_bytes(private_blob=blob))
    assert ("dicom.executable_content" in codes(st)) is found


def _nested_sequences(depth: int) -> bytes:
    undefined = struct.pack("<I", 0xFFFFFFFF)
    inner = dicom_element(0x0010, 0x0020, b"LO", b"ID1")
    for _ in range(depth):
        item = struct.pack("<HH", 0xFFFE, 0xE000) + undefined + inner
        item += struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
        inner = struct.pack("<HH", 0x0040, 0x0275) + b"SQ\x00\x00" + undefined + item
        inner += struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    return inner


@pytest.mark.parametrize(
    ("depth", "over"),
    [(dicom.MAX_NESTING - 1, False), (dicom.MAX_NESTING, False), (dicom.MAX_NESTING + 1, True)],
)
def test_dicom_nesting_bound(depth: int, over: bool) -> None:
    data = dicom_bytes(extra_elements=_nested_sequences(depth))
    st = walk_bytes("dicom", data)
    assert ("dicom.malformed" in codes(st)) is over
    assert (st.end == len(data)) is not over


@pytest.mark.parametrize(
    ("count", "regions"),
    [
        (dicom.MAX_METADATA_REGIONS - 1, dicom.MAX_METADATA_REGIONS - 1),
        (dicom.MAX_METADATA_REGIONS, dicom.MAX_METADATA_REGIONS),
        (dicom.MAX_METADATA_REGIONS + 1, dicom.MAX_METADATA_REGIONS),
    ],
)
def test_dicom_metadata_region_bound(count: int, regions: int) -> None:
    elements = dicom_element(0x0029, 0x0010, b"LO", b"ACME") + b"".join(
        dicom_element(0x0029, 0x1000 + i, b"OB", b"ab") for i in range(count)
    )
    data = dicom_bytes(extra_elements=elements)
    st = walk_bytes("dicom", data)
    assert len(st.metadata) == regions and st.end == len(data)


def test_dicom_encapsulated_pixel_data_and_implicit_vr() -> None:
    undefined = struct.pack("<I", 0xFFFFFFFF)
    frags = (
        struct.pack("<HHI", 0xFFFE, 0xE000, 0)
        + struct.pack("<HHI", 0xFFFE, 0xE000, 6)
        + b"\xff\xd8ab\xff\xd9"
    )
    pixel = struct.pack("<HH", 0x7FE0, 0x0010) + b"OB\x00\x00" + undefined + frags
    pixel += struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    data = dicom_bytes(transfer_syntax=b"1.2.840.10008.1.2.4.50", pixel_element=pixel)
    st = walk_bytes("dicom", data)
    assert st.end == len(data) and codes(st) == set()
    implicit = dicom_bytes(transfer_syntax=b"1.2.840.10008.1.2")
    meta_end = implicit.index(b"\x10\x00\x10\x00")  # first dataset element (0010,0010)
    dataset = (
        struct.pack("<HHI", 0x0028, 0x0010, 2)
        + b"\x08\x00"
        + struct.pack("<HHI", 0x0028, 0x0011, 2)
        + b"\x06\x00"
    )
    data = implicit[:meta_end] + dataset
    st = walk_bytes("dicom", data)
    assert (st.end, st.width, st.height, codes(st)) == (len(data), 6, 8, set())


def test_dicom_raw_dataset_without_preamble() -> None:
    raw = dicom_element(0x0008, 0x0060, b"CS", b"CT") + dicom_element(
        0x0028, 0x0010, b"US", b"\x02\x00"
    )
    st = walk_bytes("dicom", raw)
    assert st.end == len(raw) and codes(st) == set()


def test_dicom_appended_data_is_left_over() -> None:
    clean = dicom_bytes()
    data = clean + b"PK\x03\x04" + bytes(30)
    st = walk_bytes("dicom", data)
    assert st.end == len(clean)
    assert unaccounted_after_end(st, len(data)) == 34
    assert codes(st) == set()  # after complete pixel data: the engine judges the rest


# Files appended to an implicit-VR DICOM: their first 8 bytes read as one more element.
APPENDED_TO_IMPLICIT = {
    "zip": b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(20) + b"payload.exe",
    "jar": b"PK\x03\x04\n\x00\x00\x08\x00\x00" + bytes(20) + b"META-INF/MANIFEST.MF",
    "html": b"<html><body><script>location='https://evil.example'</script></body></html>",
    "script": b"<script>alert(1)</script>",
    "rar": b"Rar!\x1a\x07\x01\x00" + bytes(40),
    "zeros-then-zip": bytes(100) + b"PK\x03\x04" + bytes(40),
    "zeros-then-batch": bytes(14) + b"@echo off\r\npowershell -enc SQBFAFgA\r\n",
}


@pytest.mark.parametrize("pixels", [bytes(range(32)), None], ids=["image", "no pixel data"])
def test_zero_padding_after_the_dataset_is_accounted_and_quiet(pixels: bytes | None) -> None:
    clean = implicit_dicom_bytes(pixel_data=pixels)
    data = clean + bytes(300)
    st = walk_bytes("dicom", data)
    assert st.end == len(clean) and unaccounted_after_end(st, len(data)) == 0
    assert codes(st) == set()


@pytest.mark.parametrize(
    "blob", list(APPENDED_TO_IMPLICIT.values()), ids=list(APPENDED_TO_IMPLICIT)
)
def test_implicit_vr_dicom_appended_file_is_left_over(blob: bytes) -> None:
    clean = implicit_dicom_bytes()
    assert walk_bytes("dicom", clean).end == len(clean)
    st = walk_bytes("dicom", clean + blob)
    assert st.end == len(clean)
    # A zero run right after the dataset is padding; the engine judges what follows it.
    assert unaccounted_after_end(st, len(clean) + len(blob)) == len(blob.lstrip(b"\x00"))
    assert codes(st) == set()


def test_appended_file_after_a_dataset_without_pixel_data_is_left_over() -> None:
    """`<htm` reads as (683C,7468), above (0028,0011): the huge length gives it away."""
    clean = implicit_dicom_bytes(pixel_data=None)
    blob = APPENDED_TO_IMPLICIT["html"]
    st = walk_bytes("dicom", clean + blob)
    assert st.end == len(clean)
    assert {(f.code, f.severity, f.offset) for f in st.findings} == {
        ("dicom.malformed", Severity.LOW, len(clean))
    }


# Elements that cannot follow (7FE0,0010) / (0028,0011), with the word the evidence names.
OUT_OF_PLACE = {
    "lower tag": (dicom_element(0x0010, 0x0020, b"LO", b"ID1"), "ascending"),
    "same tag": (dicom_element(0x0028, 0x0011, b"US", b"\x04\x00"), "ascending"),
    "meta group": (dicom_element(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2"), "0002"),
    "command group": (dicom_element(0x0000, 0x0100, b"US", b"\x01\x00"), "0000"),
    "item tag": (struct.pack("<HHI", 0xFFFE, 0xE000, 2) + b"ab", "FFFE"),
    "unknown VR": (dicom_element(0x7FE1, 0x0010, b"QQ", b"ab"), "unknown VR"),
    "not a VR": (dicom_element(0x7FE1, 0x0010, b"q\x00", b"ab"), "no valid data element"),
}


@pytest.mark.parametrize(("element", "why"), list(OUT_OF_PLACE.values()), ids=list(OUT_OF_PLACE))
def test_element_that_cannot_follow_ends_the_dataset(element: bytes, why: str) -> None:
    # After complete pixel data: an appended file, left for the engine to judge.
    clean = dicom_bytes()
    st = walk_bytes("dicom", clean + element)
    assert st.end == len(clean) and codes(st) == set()
    # Before any pixel data: the image itself is damaged, and the evidence says why.
    no_pixels = dicom_bytes(pixel_element=b"")
    st = walk_bytes("dicom", no_pixels + element)
    assert st.end == len(no_pixels)
    assert [(f.code, f.severity) for f in st.findings] == [("dicom.malformed", Severity.LOW)]
    assert why in (st.findings[0].detail or "")


def test_elements_after_pixel_data_in_ascending_order_are_part_of_the_dataset() -> None:
    trailing = dicom_element(0x7FE1, 0x0010, b"LO", b"ACME") + dicom_element(
        0xFFFC, 0xFFFC, b"OB", bytes(16)
    )  # a private group above pixel data, then Data Set Trailing Padding
    data = dicom_bytes() + trailing
    st = walk_bytes("dicom", data)
    assert st.end == len(data) and codes(st) == set()


@pytest.mark.parametrize("cut", [1, 2, 31])
def test_dicom_cut_in_its_pixel_data_is_truncated_not_left_over(cut: int) -> None:
    """A partial download: the last real element is cut short. Nothing is left over."""
    for whole in (dicom_bytes(), implicit_dicom_bytes()):
        data = whole[: len(whole) - cut]
        st = walk_bytes("dicom", data)
        assert st.end == len(data)
        assert {(f.code, f.severity) for f in st.findings} == {("dicom.truncated", Severity.LOW)}


def test_cut_private_element_is_truncated_and_its_bytes_are_metadata() -> None:
    creator = implicit_dicom_element(0x0029, 0x0010, b"ACME")
    blob = implicit_dicom_element(0x0029, 0x1000, b"<?php system($_GET[1]); ?>" + bytes(40))
    whole = implicit_dicom_bytes(pixel_data=None) + creator + blob
    data = whole[:-20]
    st = walk_bytes("dicom", data)
    assert st.end == len(data) and codes(st) == {"dicom.truncated"}
    php_at = data.index(b"<?php")
    assert any(r.start <= php_at < r.end == len(data) for r in st.metadata)


def test_overrunning_private_element_without_its_creator_ends_the_dataset() -> None:
    clean = implicit_dicom_bytes(pixel_data=None)
    stray = struct.pack("<HHI", 0x0029, 0x1000, 1000) + b"x" * 10
    st = walk_bytes("dicom", clean + stray)
    assert st.end == len(clean) and codes(st) == {"dicom.malformed"}


@pytest.mark.parametrize(
    "kind", ["zip", "jar", "html", "script", "rar", "zeros-then-zip", "zeros-then-batch"]
)
def test_engine_quarantines_file_appended_to_implicit_vr_dicom(kind: str) -> None:
    report = inspect_bytes("xray.dcm", implicit_dicom_bytes() + APPENDED_TO_IMPLICIT[kind])
    assert report.verdict is Verdict.QUARANTINE
    assert "dicom.trailing_data" in {f.code for f in report.findings}


def test_engine_keeps_a_cut_dicom_clean() -> None:
    data = implicit_dicom_bytes()[:-7]
    report = inspect_bytes("xray.dcm", data)
    assert report.verdict is Verdict.CLEAN
    assert max(f.severity for f in report.findings) is Severity.LOW
