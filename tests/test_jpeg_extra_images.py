"""JPEG: stray bytes judged, extra images verified by structure, resource bounds (issue 11).

Offsets come from the construction; bounds are tested at limit-1/limit/limit+1.
"""

from __future__ import annotations

import random
import struct

import pytest

from agent.inspect.base import Structure
from agent.inspect.engine import inspect_bytes, inspect_path
from agent.inspect.jpeg import extra_images
from agent.inspect.jpeg.walk import MAX_SCANS, walk
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.model import Severity, Verdict
from bench import walker_files as ew
from tests import jpeg_samples as js
from tests.format_samples import PHP_PAYLOAD, zip_payload
from tests.jpeg_samples import photo

HTC_SAMPLE = "../shared/corpus/unusual/htc-one-m8-duo-camera-trailer.jpg"
ZIP = zip_payload()


def _walk(data: bytes) -> Structure:
    return walk(Reader.from_bytes(data), Limits())


def _rng(tag: str) -> random.Random:
    return random.Random(f"jpeg-extra/{tag}")


def _codes(data: bytes) -> dict[str, Severity]:
    return {f.code: f.severity for f in inspect_bytes("IMG_1.jpg", data).findings}


# --- stray bytes --------------------------------------------------------------------------


def test_stray_bytes_between_segments_are_unexplained_and_judged() -> None:
    _, data = ew.jpeg_stray(_rng("stray"), PHP_PAYLOAD)
    at = data.find(PHP_PAYLOAD)
    st = _walk(data)
    assert [(r.start, r.end) for r in st.unexplained] == [(at, at + len(PHP_PAYLOAD))]
    assert _codes(data)["jpeg.unexplained_data"] is Severity.HIGH


def test_stray_bytes_inside_an_mpf_image_are_judged_and_the_image_still_accounted() -> None:
    second = photo(32, 24, seed=3)
    first_end = 4 + int.from_bytes(second[4:6], "big")
    dirty = second[:first_end] + PHP_PAYLOAD + second[first_end:]
    data = js.mpo(dirty)
    image_at = len(data) - len(dirty)
    st = _walk(data)
    assert (image_at, len(data)) in [(r.start, r.end) for r in st.accounted]
    stray = image_at + first_end
    assert (stray, stray + len(PHP_PAYLOAD)) in [(r.start, r.end) for r in st.unexplained]
    assert inspect_bytes("a.jpg", data).verdict is Verdict.QUARANTINE


def test_zip_between_the_jpeg_and_its_mpf_gain_map_is_quarantined() -> None:
    _, data = ew.jpeg_mpf_gap(_rng("gap"), ZIP)
    report = inspect_bytes("IMG_1.jpg", data)
    assert report.verdict is Verdict.QUARANTINE
    assert any(f.code == "jpeg.trailing_data" and f.payload == "zip" for f in report.findings)
    _, benign = ew.jpeg_mpf_gap(_rng("gap"), bytes(16))
    assert inspect_bytes("IMG_1.jpg", benign).verdict is Verdict.CLEAN


# --- extra images ---------------------------------------------------------------------------


def test_a_complete_jpeg_ending_at_eof_is_an_extra_image() -> None:
    primary, extra = photo(seed=1), photo(40, 30, seed=2)
    junk = bytes(range(1, 200))
    data = primary + junk + extra
    st = _walk(data)
    assert (len(primary) + len(junk), len(data)) in [(r.start, r.end) for r in st.accounted]
    # the bytes before it are still left over and judged
    assert not any(r.start <= len(primary) < r.end for r in st.accounted)
    cut = primary + junk + extra[:-1]  # not ending at EOF with its EOI: no extra image
    assert all(r.end != len(cut) for r in _walk(cut).accounted)


def test_htc_chain_is_accounted_and_a_wrong_length_breaks_it() -> None:
    primary, final = photo(seed=1), photo(40, 30, seed=2)
    blocks = [bytes(range(256)) * 3, b"\x07" * 500]
    data = ew.htc_trailer(primary, final, blocks)
    st = _walk(data)
    labels = [r.label for r in st.accounted]
    assert labels == [
        "HTC dual-camera block 1",
        "HTC dual-camera block 2",
        "extra image at the end",
    ]
    first_end = len(primary) + len(blocks[0]) + extra_images.HTC_FOOTER_BYTES
    assert (st.accounted[0].start, st.accounted[0].end) == (len(primary), first_end)
    broken = bytearray(data)
    footer = data.index(b"htcI\xf1\xf2\xf3\xf4")
    struct.pack_into("<I", broken, footer + 8, len(blocks[1]) + 1)  # next block one byte off
    labels = [r.label for r in _walk(bytes(broken)).accounted]
    assert labels == ["extra image at the end"]


@pytest.mark.parametrize(
    ("alignment", "chained"),
    [
        (extra_images.HTC_MAX_ALIGNMENT - 1, True),
        (extra_images.HTC_MAX_ALIGNMENT, True),
        (extra_images.HTC_MAX_ALIGNMENT + 1, False),
    ],
)
def test_htc_block_alignment_zeros_bound(alignment: int, chained: bool) -> None:
    primary, final = photo(seed=1), photo(40, 30, seed=2)
    blocks = [b"\x05" * 300, b"\x06" * 300]
    data = bytearray(ew.htc_trailer(primary, final, blocks))
    second_footer = data.index(b"htcI\xf5")
    data[second_footer:second_footer] = bytes(alignment)
    labels = [r.label for r in _walk(bytes(data)).accounted]
    assert ("HTC dual-camera block 2" in labels) is chained


def test_real_htc_one_m8_duo_camera_photo_is_clean() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / HTC_SAMPLE
    report = inspect_path(path)
    assert report.verdict is Verdict.CLEAN
    [trailer] = [f for f in report.findings if f.code == "jpeg.known_trailer"]
    assert "HTC dual-camera block 3" in (trailer.detail or "")
    assert "extra image at the end [2679799, 2978932)" in (trailer.detail or "")  # 299,133 B


def test_minolta_maker_note_preview_without_its_first_ff_is_accounted() -> None:
    _, data = ew.jpeg_minolta_preview(_rng("minolta"), b"")
    st = _walk(data)
    [preview] = [r for r in st.accounted if r.label == "maker-note preview image"]
    assert preview.end == len(data) and data[preview.start : preview.start + 3] == b"\x00\xd8\xff"
    _, evil = ew.jpeg_minolta_preview(_rng("minolta"), ZIP)
    assert inspect_bytes("a.jpg", evil).verdict is Verdict.QUARANTINE


# --- resources ------------------------------------------------------------------------------


def test_sof_height_zero_takes_the_height_from_dnl() -> None:
    st = _walk(ew.jpeg_dnl(65000, 64000))
    assert (st.width, st.height, st.pixels) == (64000, 65000, 64000 * 65000)
    assert _codes(ew.jpeg_dnl(65000, 64000))["resource.pixels_over_reject"] is Severity.HIGH


@pytest.mark.parametrize(
    ("scans", "over"), [(MAX_SCANS - 1, False), (MAX_SCANS, False), (MAX_SCANS + 1, True)]
)
def test_progressive_scan_count_bound(scans: int, over: bool) -> None:
    data = ew.jpeg_scans(scans)
    assert data.count(b"\xff\xda") == scans
    assert ("resource.too_many_scans" in _codes(data)) is over


def test_twelve_bit_jpeg_is_judged_by_decoded_bytes() -> None:
    data = bytearray(photo(16, 16, seed=6))
    sof = data.index(b"\xff\xc0")
    data[sof + 1] = 0xC1  # extended sequential, which allows 12-bit samples
    data[sof + 4] = 12
    struct.pack_into(">HH", data, sof + 5, 6000, 10000)  # 60 Mpx x 3 x 2 B = 360 MB
    st = _walk(bytes(data))
    assert st.decoded_bytes == 6000 * 10000 * 3 * 2
    assert _codes(bytes(data))["resource.pixels_over_warn"] is Severity.MEDIUM  # 90 Mpx equiv.


def test_image_bytes_count_the_scan_data() -> None:
    data = photo(seed=7)
    sos = data.index(b"\xff\xda")
    scan_start = sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
    assert _walk(data).image_bytes == len(data) - 2 - scan_start
