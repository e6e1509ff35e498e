"""JPEG walker and trailer accounting: built samples (benign/malicious pairs), the real
corpus, bounds at limit-1/limit/limit+1, and fuzzing."""

from __future__ import annotations

import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.inspect.base import Structure
from agent.inspect.jpeg import trailers as jpeg_trailers
from agent.inspect.jpeg.walk import walk
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from tests import jpeg_samples as js
from tests.conftest import corpus_files


def run(data: bytes) -> Structure:
    return walk(Reader.from_bytes(data), Limits())


def leftover(structure: Structure, size: int) -> list[tuple[int, int]]:
    """Byte ranges after `end` that no accounted region covers."""
    assert structure.end is not None
    gaps = []
    pos = structure.end
    for region in sorted(structure.accounted, key=lambda r: r.start):
        assert region.start >= pos, "accounted regions overlap or precede end"
        if region.start > pos:
            gaps.append((pos, region.start))
        pos = region.end
    assert pos <= size
    if pos < size:
        gaps.append((pos, size))
    return gaps


def spans(structure: Structure) -> list[tuple[int, int]]:
    return [(r.start, r.end) for r in sorted(structure.accounted, key=lambda r: r.start)]


def codes(structure: Structure) -> list[str]:
    return [f.code for f in structure.findings]


PHOTO = js.photo()
EOI = len(PHOTO)


# --- the walk itself -----------------------------------------------------------------------


def test_plain_photo_ends_at_eoi_with_dimensions_and_metadata() -> None:
    s = run(PHOTO)
    assert s.end == len(PHOTO)
    assert (s.width, s.height, s.pixels) == (64, 48, 64 * 48)
    assert s.accounted == [] and s.findings == []
    assert any(r.label == "APP1 Exif" for r in s.metadata)


@pytest.mark.parametrize("options", [{"progressive": True}, {"restart": True}])
def test_progressive_and_restart_markers_reach_the_real_eoi(options: dict[str, bool]) -> None:
    data = js.photo(120, 90, **options)
    assert run(data).end == len(data)
    assert run(data + js.zip_archive()).end == len(data)


def test_fill_bytes_before_a_marker_are_skipped() -> None:
    data = PHOTO[:2] + b"\xff\xff\xff" + PHOTO[2:]
    s = run(data)
    assert s.end == len(data) and "jpeg.malformed" not in codes(s)


def test_every_com_and_app_segment_is_a_metadata_region() -> None:
    data = js.insert_segments(
        PHOTO, js.segment(0xFE, b"hello"), js.segment(0xED, b"Photoshop 3.0\x00x")
    )
    s = run(data)
    labels = {(r.label, data[r.start : r.end]) for r in s.metadata}
    assert ("COM", b"hello") in labels
    assert ("APP13 Photoshop", b"Photoshop 3.0\x00x") in labels


def test_truncated_file_is_low_and_has_no_end() -> None:
    s = run(PHOTO[: len(PHOTO) // 2])
    assert s.end is None
    assert "jpeg.truncated" in codes(s)


@pytest.mark.parametrize("length", [0, 1])
def test_com_length_zero_or_one_is_the_ms04_028_exploit(length: int) -> None:
    data = PHOTO[:2] + b"\xff\xfe" + struct.pack(">H", length) + PHOTO[2:]
    s = run(data)
    exploit = [f for f in s.findings if f.code == "jpeg.com_length_exploit"]
    assert exploit and exploit[0].severity.label == "high" and exploit[0].offset == 2


def test_com_length_two_is_fine() -> None:
    data = js.insert_segments(PHOTO, js.segment(0xFE, b""))
    assert codes(run(data)) == []


def test_segment_overrunning_the_file_is_malformed() -> None:
    data = PHOTO[:2] + b"\xff\xe1\xff\xf0Exif\x00\x00"
    s = run(data)
    assert s.end is None and "jpeg.malformed" in codes(s)
    assert any(r.label == "APP1 Exif" for r in s.metadata)


def test_garbage_between_segments_is_malformed_but_the_walk_resyncs() -> None:
    data = js.insert_segments(PHOTO, js.segment(0xFE, b"x"))
    garbage_at = 2 + 5
    data = data[:garbage_at] + b"/*" + data[garbage_at:]
    s = run(data)
    assert s.end == len(data)
    bad = [f for f in s.findings if f.code == "jpeg.malformed"]
    assert bad and bad[0].offset == garbage_at


def test_eoi_without_scan_is_malformed() -> None:
    s = run(b"\xff\xd8" + js.segment(0xFE, b"hi") + b"\xff\xd9")
    assert s.end == 10 and "jpeg.malformed" in codes(s)


def test_not_a_jpeg_at_all() -> None:
    s = run(b"GIF89a....")
    assert s.end is None and codes(s) == ["jpeg.malformed"]


# --- malicious twins of a plain photo ------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [js.zip_archive(), js.pe_executable(), js.HTML, js.PHP, js.random_blob()],
    ids=["zip", "pe", "html", "php", "random"],
)
def test_appended_payload_is_left_over_entirely(payload: bytes) -> None:
    data = PHOTO + payload
    s = run(data)
    assert s.end == EOI
    assert leftover(s, len(data)) == [(EOI, len(data))]
    assert "jpeg.known_trailer" not in codes(s)


# --- zero padding ---------------------------------------------------------------------------


def test_zero_padding_is_accounted() -> None:
    data = PHOTO + bytes(44_758)
    s = run(data)
    assert spans(s) == [(EOI, len(data))]
    assert "jpeg.known_trailer" in codes(s)


def test_zeros_then_zip_leave_everything_unaccounted() -> None:
    data = PHOTO + bytes(100) + js.zip_archive()
    assert leftover(run(data), len(data)) == [(EOI, len(data))]


# --- MPF ------------------------------------------------------------------------------------


def test_mpf_gain_map_is_accounted() -> None:
    second = js.photo(32, 24, seed=4)
    data = js.mpo(second)
    s = run(data)
    assert s.end == len(data) - len(second)
    assert spans(s) == [(s.end, len(data))]
    assert s.frames == 2


def test_mpf_with_apple_style_oversized_primary_and_zero_pad() -> None:
    second = js.photo(32, 24, seed=4)
    data = js.mpo(second, pad=23, declared_primary_extra=70)
    s = run(data)
    assert s.end is not None
    assert leftover(s, len(data)) == []
    assert (len(data) - len(second), len(data)) in spans(s)


def test_mpo_plus_appended_pe_leaves_the_pe() -> None:
    second = js.photo(32, 24, seed=4)
    base = js.mpo(second)
    data = base + js.pe_executable()
    s = run(data)
    assert leftover(s, len(data)) == [(len(base), len(data))]


def test_mpf_entry_pointing_at_a_zip_is_not_accounted() -> None:
    archive = js.zip_archive()
    # Same layout as a gain map, but the "image" is a ZIP.
    data = js.mpo(archive)
    s = run(data)
    assert leftover(s, len(data)) == [(len(data) - len(archive), len(data))]


# --- Google motion photo --------------------------------------------------------------------


def test_motion_photo_video_and_debug_blobs_are_accounted() -> None:
    video = js.mp4()
    debug = js.debug_blobs()
    data = js.motion_photo(video, debug=debug)
    s = run(data)
    eoi = len(data) - len(video) - len(debug)
    assert s.end == eoi
    assert spans(s) == [(eoi, eoi + len(debug)), (len(data) - len(video), len(data))]


def test_motion_photo_with_video_removed_is_clean() -> None:
    video = js.mp4()
    debug = js.debug_blobs()
    data = js.motion_photo(video, debug=debug)[: -len(video)]
    s = run(data)
    assert leftover(s, len(data)) == []


def test_motion_photo_whose_declared_length_does_not_match_is_not_accounted() -> None:
    video = js.mp4()
    data = js.motion_photo(js.zip_archive() + video, declared=len(video) + 100)
    s = run(data)
    assert spans(s) == []


def test_motion_photo_video_hiding_a_zip_in_mdat_is_not_accounted() -> None:
    archive = js.zip_archive()
    video = js.box(b"ftyp", b"mp42\x00\x00\x00\x00mp42") + js.box(b"mdat", archive)
    data = js.motion_photo(video)
    s = run(data)
    assert leftover(s, len(data)) == [(len(data) - len(video), len(data))]


def test_debug_blob_carrying_php_is_not_accounted() -> None:
    blob = b"aecDebug" + bytes([len(js.PHP)]) + js.PHP
    data = js.motion_photo(js.mp4(), debug=blob)
    s = run(data)
    assert s.end is not None
    assert leftover(s, len(data)) == [(s.end, s.end + len(blob))]


def test_micro_video_offset_is_accounted() -> None:
    video = js.mp4()
    data = js.micro_video(video)
    s = run(data)
    assert spans(s) == [(len(data) - len(video), len(data))]


def test_micro_video_offset_pointing_at_a_zip_is_not_accounted() -> None:
    archive = js.zip_archive()
    data = js.micro_video(archive)
    assert spans(run(data)) == []


# --- Samsung SEF ----------------------------------------------------------------------------


def test_seft_trailer_with_consistent_directory() -> None:
    trailer = js.sef_trailer([(0x0A01, b"Image_UTC_Data", b"1486666298918")])
    data = PHOTO + trailer
    s = run(data)
    assert leftover(s, len(data)) == []
    assert "Samsung SEF trailer" in s.findings[-1].message


def test_seft_motion_photo_with_stale_offsets_is_parsed_in_sequence() -> None:
    records = [
        (0x0A01, b"Image_UTC_Data", b"1608199394872"),
        (0x0A30, b"MotionPhoto_Data", js.mp4()),
    ]
    data = PHOTO + js.sef_trailer(records, stale_offsets=2_000_000)
    assert leftover(run(data), len(data)) == []


def test_seft_record_holding_an_executable_is_not_accounted() -> None:
    pe = js.pe_executable()
    trailer = js.sef_trailer([(0x0A01, b"Image_UTC_Data", pe)])
    data = PHOTO + trailer
    s = run(data)
    record_end = EOI + 8 + len(b"Image_UTC_Data") + len(pe)
    assert leftover(s, len(data)) == [(EOI, record_end)]


def test_zip_before_a_seft_footer_is_not_accounted() -> None:
    archive = js.zip_archive()
    data = PHOTO + archive + js.sef_trailer([(0x0A01, b"Image_UTC_Data", b"1486666298918")])
    s = run(data)
    gaps = leftover(s, len(data))
    assert gaps and gaps[0] == (EOI, EOI + len(archive))


# --- vendor footers -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["afcp", "fotostation", "photomechanic", "insta360"])
def test_vendor_footer_is_accounted(kind: str) -> None:
    trailer = {
        "afcp": lambda: js.afcp(EOI),
        "fotostation": js.fotostation,
        "photomechanic": js.photomechanic,
        "insta360": js.insta360,
    }[kind]()
    data = PHOTO + trailer
    s = run(data)
    assert spans(s) == [(EOI, len(data))]


def test_chained_footers_are_processed_from_the_end() -> None:
    data = PHOTO + js.afcp(EOI) + js.fotostation() + js.photomechanic()
    assert leftover(run(data), len(data)) == []


@pytest.mark.parametrize("kind", ["fotostation", "photomechanic"])
def test_payload_before_a_vendor_footer_stays_unaccounted(kind: str) -> None:
    footer = js.fotostation() if kind == "fotostation" else js.photomechanic()
    archive = js.zip_archive()
    data = PHOTO + archive + footer
    s = run(data)
    assert leftover(s, len(data)) == [(EOI, EOI + len(archive))]


def test_footer_claiming_a_zip_is_refused() -> None:
    archive = js.zip_archive()
    data = PHOTO + archive + struct.pack(">I", len(archive)) + b"cbipcbbl"
    assert spans(run(data)) == []


# --- embedded preview -----------------------------------------------------------------------


def test_appended_jpeg_followed_by_zip_leaves_the_zip() -> None:
    preview = js.photo(16, 16, seed=9)
    archive = js.zip_archive()
    data = PHOTO + preview + archive
    s = run(data)
    assert spans(s) == [(EOI, EOI + len(preview))]
    assert leftover(s, len(data)) == [(EOI + len(preview), len(data))]


@pytest.mark.parametrize(
    ("distance", "accounted"),
    [
        (jpeg_trailers.PREVIEW_SEARCH_BYTES - 1, True),
        (jpeg_trailers.PREVIEW_SEARCH_BYTES, True),
        (jpeg_trailers.PREVIEW_SEARCH_BYTES + 1, False),
    ],
)
def test_preview_search_bound(distance: int, accounted: bool) -> None:
    preview = js.photo(16, 16, seed=9)
    # One byte after the preview: a JPEG ending at EOF is an extra image whatever its
    # distance (extra_images.final_jpeg), so only the search window can claim this one.
    data = PHOTO + b"\x01" * distance + preview + b"\x01"
    s = run(data)
    assert ((EOI + distance, len(data) - 1) in spans(s)) is accounted


@pytest.mark.parametrize(
    "blobs",
    [
        jpeg_trailers.MAX_DEBUG_BLOBS - 1,
        jpeg_trailers.MAX_DEBUG_BLOBS,
        jpeg_trailers.MAX_DEBUG_BLOBS + 1,
    ],
)
def test_debug_blob_chain_bound(blobs: int) -> None:
    debug = js.debug_blobs(count=blobs, size=20)
    data = PHOTO + debug
    one_blob = len(js.debug_blobs(count=1, size=20))
    gaps = leftover(run(data), len(data))
    if blobs <= jpeg_trailers.MAX_DEBUG_BLOBS:
        assert gaps == []
    else:
        assert gaps == [(len(data) - one_blob, len(data))]


# --- real files -----------------------------------------------------------------------------


def _corpus_jpegs(kind: str) -> list:
    return [p for p in corpus_files(kind) if p.read_bytes()[:3] == b"\xff\xd8\xff"]


@pytest.mark.parametrize("path", _corpus_jpegs("benign"), ids=lambda p: p.name)
def test_real_benign_jpegs_leave_nothing_over(path) -> None:
    data = path.read_bytes()
    s = run(data)
    assert s.end is not None
    assert not any(f.severity.label in ("medium", "high") for f in s.findings)
    gaps = leftover(s, len(data))
    if path.name == "blackberry-z10-vendor-trailer.jpg":
        assert gaps == [(1_440_572, 1_477_436)]  # undocumented 36,864-byte blob: engine judges
    else:
        assert gaps == []


def test_real_pixel_and_samsung_trailers_are_accounted_exactly(corpus) -> None:
    pixel = (corpus / "benign" / "pixel-motion-photo.jpg").read_bytes()
    s = run(pixel)
    assert s.end == 106_826
    assert spans(s) == [(106_826, 131_582), (131_582, 140_312)]
    samsung = (corpus / "benign" / "samsung-motion-photo-seft.jpg").read_bytes()
    s = run(samsung)
    assert s.end == 20_286 and leftover(s, len(samsung)) == []
    moto = (corpus / "benign" / "motorola-moto-g-zero-padding.jpg").read_bytes()
    s = run(moto)
    assert spans(s) == [(len(moto) - 44_758, len(moto))]


@pytest.mark.parametrize(
    ("name", "eoi"),
    [
        ("angecryption-jpeg-encrypted-trailer.jpg", 5995),
        ("jpeg-pdf-polyglot.jpg", 22_179),
        ("stegosploit-jpeg-html-kevin.jpg", 203_324),
        ("stegosploit-jpeg-html-lena.jpg", 147_826),
    ],
)
def test_real_malicious_trailers_stay_unaccounted(corpus, name: str, eoi: int) -> None:
    data = (corpus / "malicious" / name).read_bytes()
    s = run(data)
    assert s.end == eoi
    assert leftover(s, len(data)) == [(eoi, len(data))]


def test_real_comment_payloads_are_metadata_regions(corpus) -> None:
    data = (corpus / "malicious" / "jpeg-php-webshell-in-comment.jpg").read_bytes()
    s = run(data)
    assert any(r.label == "COM" and b"<?php" in data[r.start : r.end] for r in s.metadata)


# --- fuzzing --------------------------------------------------------------------------------


def _check_invariants(data: bytes) -> None:
    s = run(data)
    if s.end is not None:
        assert 0 < s.end <= len(data)
        leftover(s, len(data))
    for region in s.metadata:
        assert 0 <= region.start <= region.end <= len(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_after_soi_never_raise(tail: bytes) -> None:
    started = time.monotonic()
    _check_invariants(b"\xff\xd8\xff" + tail)
    assert time.monotonic() - started < 5  # a hang would be a bug, not a slow machine


_MUTATION_BASE = js.motion_photo(js.mp4(500), debug=js.debug_blobs(2, 50)) + js.sef_trailer(
    [(0x0A01, b"Image_UTC_Data", b"1")]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, len(_MUTATION_BASE) - 1), st.integers(0, 255)), max_size=8),
    st.integers(0, len(_MUTATION_BASE)),
)
def test_mutated_motion_photos_never_raise(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(_MUTATION_BASE)
    for offset, value in flips:
        data[offset] = value
    _check_invariants(bytes(data[: max(cut, 3)]))
