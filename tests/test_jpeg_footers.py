"""Vendor footers added after the first cut (Canon VRD, MIE, NikonApp, Vivo, OnePlus, Samsung
"Sound & Shot") and the Sony preview window: each benign sample beside its malicious twins
(payload appended after the footer, payload inside the footer body, a length field lying to
swallow a payload placed before the trailer)."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.inspect.jpeg import trailers as jpeg_trailers
from agent.inspect.jpeg.segments import walk_segments
from agent.inspect.reader import Reader
from tests import jpeg_samples as js
from tests.test_jpeg import codes, leftover, run, spans

PHOTO = js.photo()
EOI = len(PHOTO)
ZIP = js.zip_archive()
PE = js.pe_executable()

# kind -> (builder of a benign trailer, the name the known_trailer finding gives it)
SINGLE_REGION_FOOTERS: dict[str, tuple[Callable[[], bytes], str]] = {
    "canon_vrd": (js.canon_vrd, "Canon VRD"),
    "mie": (js.mie, "MIE"),
    "mie_wide_little_endian": (lambda: js.mie(wide=True, little_endian=True), "MIE"),
    "nikon_app": (js.nikon_app, "NikonApp"),
    "vivo": (js.vivo, "Vivo trailer"),
    "oneplus": (js.oneplus, "OnePlus"),
}


def known_trailer_message(data: bytes) -> str:
    found = [f for f in run(data).findings if f.code == "jpeg.known_trailer"]
    assert len(found) == 1
    return found[0].message


# --- benign ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SINGLE_REGION_FOOTERS))
def test_footer_is_accounted_exactly(kind: str) -> None:
    build, name = SINGLE_REGION_FOOTERS[kind]
    data = PHOTO + build()
    s = run(data)
    assert s.end == EOI
    assert spans(s) == [(EOI, len(data))]
    assert name in known_trailer_message(data)


def test_vivo_hdr_image_is_walked_as_a_jpeg() -> None:
    hdr = js.photo(16, 16, seed=3)
    trailer = js.vivo(hdr)
    data = PHOTO + trailer
    s = run(data)
    image_at = EOI + len(b"streamdata")
    image_end = image_at + len(hdr)
    assert spans(s) == [(EOI, image_at), (image_at, image_end), (image_end, len(data))]
    # The embedded image's segments are metadata the engine scans, like the primary's.
    assert any(r.label == "Vivo HDR image APP1 Exif" for r in s.metadata)


def test_samsung_sound_shot_trailer_ending_qdiobs() -> None:
    audio = js.mp4(800, seed=8)
    trailer = js.samsung_sound_shot(audio, EOI)
    data = PHOTO + trailer
    record_end = EOI + 8 + len(b"SoundShot_Data") + len(audio)
    directory_end = len(data) - 28 - 2  # QDIO block (28 bytes) then "BS"
    s = run(data)
    assert spans(s) == [(EOI, record_end), (record_end, directory_end), (directory_end, len(data))]
    assert "Samsung SEF trailer" in known_trailer_message(data)


def test_all_footers_chain_from_the_end() -> None:
    chain = (
        js.canon_vrd()
        + js.mie()
        + js.nikon_app()
        + js.vivo(js.photo(16, 16, seed=3))
        + js.oneplus()
        + js.photomechanic()
    )
    data = PHOTO + chain
    assert leftover(run(data), len(data)) == []


# --- malicious twins ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SINGLE_REGION_FOOTERS))
@pytest.mark.parametrize("payload", [ZIP, PE], ids=["zip", "pe"])
def test_payload_appended_after_the_footer_leaves_everything(kind: str, payload: bytes) -> None:
    data = PHOTO + SINGLE_REGION_FOOTERS[kind][0]() + payload
    s = run(data)
    assert leftover(s, len(data)) == [(EOI, len(data))]
    assert "jpeg.known_trailer" not in codes(s)


def test_payload_appended_after_a_sound_shot_trailer_leaves_everything() -> None:
    data = PHOTO + js.samsung_sound_shot(js.mp4(800, seed=8), EOI) + ZIP
    assert leftover(run(data), len(data)) == [(EOI, len(data))]


# Footers carrying a payload inside their body, with every length still consistent.
BODY_PAYLOADS: dict[str, Callable[[], bytes]] = {
    "canon_vrd": lambda: js.canon_vrd([(0x00000001, PE)]),
    "mie": lambda: js.mie(js.mie_element(b"Comment", js.PHP)),
    "nikon_app": lambda: js.nikon_app(js.HTML),
    "vivo": lambda: js.vivo(body=PE),
    "oneplus": lambda: js.oneplus([("watermark.device", PE)]),
}


@pytest.mark.parametrize("kind", sorted(BODY_PAYLOADS))
def test_payload_inside_a_footer_body_is_not_accounted(kind: str) -> None:
    data = PHOTO + BODY_PAYLOADS[kind]()
    s = run(data)
    assert leftover(s, len(data)) == [(EOI, len(data))]


def test_executable_as_sound_shot_audio_is_not_accounted() -> None:
    data = PHOTO + js.samsung_sound_shot(PE, EOI)
    record_end = EOI + 8 + len(b"SoundShot_Data") + len(PE)
    s = run(data)
    assert leftover(s, len(data)) == [(EOI, record_end)]


def _grow_u32(trailer: bytes, at: int, by: int, fmt: str) -> bytes:
    """`trailer` with the u32 at `at` (negative: from the end) increased by `by`."""
    out = bytearray(trailer)
    offset = at % len(out)
    (value,) = struct.unpack_from(fmt, out, offset)
    struct.pack_into(fmt, out, offset, value + by)
    return bytes(out)


# Trailers whose length field was grown to swallow a ZIP placed right before them.
LYING_LENGTHS: dict[str, Callable[[int], bytes]] = {
    "canon_vrd": lambda n: _grow_u32(js.canon_vrd(), -0x40 + 0x14, n, ">I"),
    "mie": lambda n: _grow_u32(js.mie(), -6, n, ">I"),
    "nikon_app": lambda n: _grow_u32(js.nikon_app(), -20, n, ">I"),
    "oneplus": lambda n: js.oneplus(extra_offset=n),
    "sound_shot_qdio": lambda n: _grow_u32(js.samsung_sound_shot(js.mp4(), EOI), -10, n, "<I"),
}


@pytest.mark.parametrize("kind", sorted(LYING_LENGTHS))
def test_length_field_lying_to_swallow_a_zip_is_refused(kind: str) -> None:
    data = PHOTO + ZIP + LYING_LENGTHS[kind](len(ZIP))
    s = run(data)
    assert leftover(s, len(data)) == [(EOI, len(data))]


def test_zip_before_a_vivo_trailer_stays_unaccounted() -> None:
    trailer = js.vivo()
    data = PHOTO + ZIP + trailer
    s = run(data)
    assert spans(s) == [(EOI + len(ZIP), len(data))]
    assert leftover(s, len(data)) == [(EOI, EOI + len(ZIP))]


def test_oneplus_index_that_is_not_an_array_is_not_a_trailer() -> None:
    text = b'{"offset": 10}'
    data = PHOTO + bytes(10) + text + b"jxrs" + struct.pack("<I", len(text) + 8)
    assert spans(run(data)) == []


def test_oneplus_index_nested_too_deep_is_refused_without_error() -> None:
    text = b"[" * 100_000
    data = PHOTO + text + b"jxrs" + struct.pack("<I", len(text) + 8)
    assert spans(run(data)) == []


def test_canon_vrd_blocks_not_reaching_the_footer_are_refused() -> None:
    trailer = bytearray(js.canon_vrd())
    struct.pack_into(">I", trailer, 0x1C + 4, 1)  # first block claims 1 byte: chain breaks
    data = PHOTO + bytes(trailer)
    assert spans(run(data)) == []


# --- Sony preview window ----------------------------------------------------------------------


def test_exif_make_is_read_from_ifd0() -> None:
    data = js.photo(make="SONY")
    reader = Reader.from_bytes(data)
    hints = jpeg_trailers.hints_from_segments(reader, walk_segments(reader, 0).app_segments)
    assert hints.make == "SONY"


@pytest.mark.parametrize(
    ("make", "distance", "accounted"),
    [
        ("SONY", jpeg_trailers.SONY_PREVIEW_SEARCH_BYTES - 1, True),
        ("SONY", jpeg_trailers.SONY_PREVIEW_SEARCH_BYTES, True),
        ("SONY", jpeg_trailers.SONY_PREVIEW_SEARCH_BYTES + 1, False),
        ("Canon", jpeg_trailers.PREVIEW_SEARCH_BYTES + 1, False),
    ],
)
def test_sony_preview_search_window(make: str, distance: int, accounted: bool) -> None:
    primary = js.photo(make=make)
    preview = js.photo(16, 16, seed=9)
    # One byte after the preview keeps it from ending at EOF (an extra image at any distance).
    data = primary + b"\x01" * distance + preview + b"\x01"
    s = run(data)
    if accounted:
        assert spans(s) == [(len(primary) + distance, len(data) - 1)]
        # The bytes before the preview are not zero: they stay for the engine to judge.
        assert leftover(s, len(data)) == [
            (len(primary), len(primary) + distance),
            (len(data) - 1, len(data)),
        ]
    else:
        assert spans(s) == []


# --- robustness -----------------------------------------------------------------------------

_CHAIN_BASE = (
    PHOTO
    + js.canon_vrd()
    + js.mie(wide=True)
    + js.nikon_app()
    + js.vivo(js.photo(16, 16, seed=3))
    + js.oneplus()
    + js.samsung_sound_shot(js.mp4(300), 0)
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(EOI, len(_CHAIN_BASE) - 1), st.integers(0, 255)), max_size=8),
    st.integers(EOI, len(_CHAIN_BASE)),
)
def test_mutated_footer_chains_never_raise(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(_CHAIN_BASE)
    for offset, value in flips:
        data[offset] = value
    s = run(bytes(data[:cut]))
    assert s.end == EOI
    leftover(s, cut)  # accounted regions stay sorted, disjoint and inside the file
