"""Positive accounting inside walked files: unexplained and opaque regions (issue 11, class 2).

Each test builds a file with bytes in a place the format does not explain, checks the
walker reports exactly that range (offsets from the construction), and that the engine
judges it like left-over data: a payload quarantines, zeros say nothing.
"""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from PIL import Image

from agent.inspect import gif_lzw, png_data
from agent.inspect.engine import inspect_bytes
from agent.model import Severity, Verdict
from bench import walker_files as ew
from tests.format_samples import PHP_PAYLOAD, pe_payload, zip_payload
from tests.walker_helpers import codes, walk_bytes

ZIP = zip_payload()


def _rng(tag: str) -> random.Random:
    return random.Random(f"hidden/{tag}")


def _spans(st: object, attr: str) -> list[tuple[int, int]]:
    return [(r.start, r.end) for r in getattr(st, attr)]


# --- BMP ------------------------------------------------------------------------------------


def test_bmp_gap_before_pixels_is_unexplained_and_a_zip_there_quarantines() -> None:
    _, data = ew.bmp_gap(_rng("bmp"), ZIP)
    header_end = 14 + 40  # BITMAPFILEHEADER + BITMAPINFOHEADER, 24-bit: no palette
    st = walk_bytes("bmp", data)
    assert _spans(st, "unexplained") == [(header_end, header_end + len(ZIP))]
    report = inspect_bytes("x.bmp", data)
    assert report.verdict is Verdict.QUARANTINE
    [finding] = [f for f in report.findings if f.code == "bmp.unexplained_data"]
    assert finding.severity is Severity.HIGH and finding.payload == "zip"


def test_bmp_alignment_zeros_in_the_gap_say_nothing() -> None:
    _, data = ew.bmp_gap(_rng("bmp0"), bytes(64))
    report = inspect_bytes("x.bmp", data)
    assert report.verdict is Verdict.CLEAN
    assert not any(f.code == "bmp.unexplained_data" for f in report.findings)


# --- ICO ------------------------------------------------------------------------------------


def test_ico_entry_that_is_a_program_is_unexplained() -> None:
    program = pe_payload()
    _, data = ew.ico_entries(_rng("ico"), program)
    at = len(data) - len(program)
    st = walk_bytes("ico", data)
    assert (at, len(data)) in _spans(st, "unexplained")
    assert "ico.malformed" in codes(st)
    report = inspect_bytes("favicon.ico", data)
    assert report.verdict is Verdict.QUARANTINE
    assert any(f.code == "ico.unexplained_data" and f.payload == "pe" for f in report.findings)


def test_ico_png_entry_with_bytes_after_iend_is_unexplained() -> None:
    _, data = ew.ico_entries(_rng("icotail"), None, ZIP)
    first_offset, first_size = struct.unpack_from("<II", data, 6 + 8)
    tail_start = first_offset + first_size - len(ZIP)
    st = walk_bytes("ico", data)
    assert _spans(st, "unexplained") == [(tail_start, first_offset + first_size)]
    assert inspect_bytes("a.ico", data).verdict is Verdict.QUARANTINE


def test_ico_bmp_entry_exactly_its_masks_is_explained() -> None:
    side = 16
    row = (side * 32 + 31) // 32 * 4
    mask_row = (side + 31) // 32 * 4
    dib = struct.pack("<IiiHHIIiiII", 40, side, 2 * side, 1, 32, 0, 0, 0, 0, 0, 0)
    image = dib + bytes(row * side + mask_row * side)
    data = ew.ico_file([(side, side, image)])
    st = walk_bytes("ico", data)
    assert st.unexplained == [] and codes(st) == set()
    st = walk_bytes("ico", ew.ico_file([(side, side, image + b"EXTRA")]))
    assert _spans(st, "unexplained") == [(22 + len(image), 22 + len(image) + 5)]


@pytest.mark.parametrize(("side", "expected"), [(9459, None), (9460, "warn"), (13378, "reject")])
def test_ico_bmp_entry_dimensions_come_from_the_dib_header(side: int, expected: str | None) -> None:
    # 9459^2 = 89,472,681 <= 89,478,485 < 9460^2; 13378^2 = 178,970,884 > 178,956,970
    report = inspect_bytes("a.ico", ew.ico_dib_bomb(side, side))
    found = {f.code for f in report.findings}
    assert ("resource.pixels_over_warn" in found) is (expected == "warn")
    assert ("resource.pixels_over_reject" in found) is (expected == "reject")


# --- GIF ------------------------------------------------------------------------------------


def test_lzw_end_code_of_a_hand_made_stream() -> None:
    # min code size 2: clear = 4, end = 5, 3-bit codes LSB first: 4, 1, 5 -> 0x4C 0x01
    assert gif_lzw.end_code_offset(b"\x4c\x01", 2) == 2
    assert gif_lzw.end_code_offset(b"\x4c\x01PK\x05\x06", 2) == 2
    assert gif_lzw.end_code_offset(b"\x4c", 2) is None  # cut before the end code
    assert gif_lzw.end_code_offset(b"\x4c\x01", 0) is None  # no such code size


@pytest.mark.parametrize(("size", "seed"), [((1, 1), 1), ((37, 5), 2), ((300, 200), 3)])
def test_lzw_end_code_is_where_pillows_encoder_ends_the_data(
    size: tuple[int, int], seed: int
) -> None:
    rng = random.Random(seed)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3)).convert("P")
    out = io.BytesIO()
    image.save(out, "GIF")
    st = walk_bytes("gif", out.getvalue())
    assert st.unexplained == []  # the encoder's data ends exactly at its end code


def test_gif_data_after_the_lzw_end_code_is_unexplained() -> None:
    _, data = ew.gif_after_lzw(_rng("gif"), PHP_PAYLOAD)
    at = data.find(PHP_PAYLOAD)
    st = walk_bytes("gif", data)
    [(start, stop)] = _spans(st, "unexplained")
    assert (start, stop) == (at, at + len(PHP_PAYLOAD))  # the first byte no code covers
    report = inspect_bytes("a.gif", data)
    assert report.verdict is Verdict.QUARANTINE


def test_gif_frame_outside_the_screen_grows_the_canvas() -> None:
    st = walk_bytes("gif", ew.gif_frame_outside_screen(40000))
    assert st.pixels == 40001 * 40001  # Pillow grows the 1x1 screen to cover the frame
    report = inspect_bytes("a.gif", ew.gif_frame_outside_screen(40000))
    assert any(f.code == "resource.pixels_over_reject" for f in report.findings)


# --- PNG ------------------------------------------------------------------------------------


def test_png_idat_bytes_after_the_zlib_end_are_unexplained() -> None:
    _, data = ew.png_idat_tail(_rng("png"), ZIP)
    at = data.find(ZIP)
    st = walk_bytes("png", data)
    assert _spans(st, "unexplained") == [(at, at + len(ZIP))]
    assert inspect_bytes("a.png", data).verdict is Verdict.QUARANTINE


def test_png_idat_after_the_image_data_is_unexplained_and_fdat_without_fctl() -> None:
    _, data = ew.png_late_idat(_rng("late"), ZIP)
    chunk_at = data.find(ZIP) - 8
    st = walk_bytes("png", data)
    assert _spans(st, "unexplained") == [(chunk_at, chunk_at + 12 + len(ZIP))]
    fdat = ew.png_chunk(b"fdAT", b"\x00\x00\x00\x01" + ZIP)
    _, clean = ew.png_late_idat(_rng("late"), None)
    with_fdat = clean[:-12] + fdat + clean[-12:]
    st = walk_bytes("png", with_fdat)
    assert _spans(st, "unexplained") == [(len(clean) - 12, len(clean) - 12 + len(fdat))]


def test_png_raw_size_of_interlaced_image_follows_adam7() -> None:
    # 8x8 RGB 8-bit: passes are 1x1, 1x1, 2x1, 2x2, 4x2, 4x4, 8x4 -> rows of (1 + 3w) bytes
    expected = 1 * 4 + 1 * 4 + 1 * 7 + 2 * 7 + 2 * 13 + 4 * 13 + 4 * 25
    assert png_data.raw_size(8, 8, 8, 2, interlaced=True) == expected
    assert png_data.raw_size(8, 8, 8, 2, interlaced=False) == 8 * 25


def test_png_16bit_rgba_is_judged_by_decoded_bytes() -> None:
    # 9400x9400 = 88,360,000 px: under PIXELS_WARN, but 8 bytes each = 706,880,000 bytes
    report = inspect_bytes("scan.png", ew.png_decoded_bomb(9400, 9400))
    [finding] = [f for f in report.findings if f.code.startswith("resource.pixels")]
    assert finding.code == "resource.pixels_over_warn" and "706880000 bytes decoded" in (
        finding.detail or ""
    )


@pytest.mark.parametrize(("extra", "over"), [(-1, False), (0, False), (1, True)])
def test_png_iccp_has_its_own_budget(extra: int, over: bool) -> None:
    from agent.inspect.png import MAX_ICC_PROFILE_BYTES

    profile = ew.icc_profile(MAX_ICC_PROFILE_BYTES + extra)
    head, stream, iend = ew.png_parts(_rng("icc"))
    chunk = ew.png_chunk(b"iCCP", b"Printer\x00\x00" + zlib.compress(profile, 9))
    st = walk_bytes("png", head + chunk + ew.png_chunk(b"IDAT", stream) + iend)
    assert ("resource.metadata_too_large" in codes(st)) is over
    assert ("png.malformed" in codes(st)) is over  # a cut profile no longer matches its size


def test_png_valid_multi_mb_icc_profile_is_clean() -> None:
    _, data = ew.png_big_icc(_rng("bigicc"))
    report = inspect_bytes("print.png", data)
    assert report.verdict is Verdict.CLEAN
    assert {f.code for f in report.findings} <= {"png.known_trailer"}


# --- WebP -----------------------------------------------------------------------------------


def test_webp_vp8x_tail_is_unexplained() -> None:
    _, data = ew.webp_vp8x_tail(_rng("webp"), PHP_PAYLOAD)
    st = walk_bytes("webp", data)
    assert _spans(st, "unexplained") == [(12 + 8 + 10, 12 + 8 + 10 + len(PHP_PAYLOAD))]
    assert inspect_bytes("a.webp", data).verdict is Verdict.QUARANTINE
    _, normal = ew.webp_vp8x_tail(_rng("webp"), b"")
    assert walk_bytes("webp", normal).unexplained == []


def test_webp_unknown_chunk_is_opaque_metadata_and_judged() -> None:
    program = pe_payload()
    _, data = ew.webp_unknown_chunk(_rng("webpu"), program)
    st = walk_bytes("webp", data)
    assert (len(data) - len(program) - 8, len(data)) in _spans(st, "metadata")
    assert inspect_bytes("a.webp", data).verdict is Verdict.QUARANTINE
    _, benign = ew.webp_unknown_chunk(_rng("webpu"), random.Random(5).randbytes(2000))
    assert inspect_bytes("a.webp", benign).verdict is Verdict.CLEAN


# --- TIFF -----------------------------------------------------------------------------------


def test_tiff_bytes_no_ifd_references_are_unexplained() -> None:
    data = ew.tiff_gray(_rng("tiff"), gap=ZIP)
    st = walk_bytes("tiff", data)
    assert _spans(st, "unexplained") == [(8, 8 + len(ZIP))]
    assert inspect_bytes("a.tif", data).verdict is Verdict.QUARANTINE
    assert walk_bytes("tiff", ew.tiff_gray(_rng("tiff"))).unexplained == []


def test_tiff_private_tag_is_opaque_metadata_judged_for_payloads_only() -> None:
    program = pe_payload()
    data = ew.tiff_gray(_rng("priv"), private=program)
    st = walk_bytes("tiff", data)
    assert (len(data) - len(program), len(data)) in _spans(st, "metadata")
    assert inspect_bytes("a.tif", data).verdict is Verdict.QUARANTINE
    vendor = ew.tiff_gray(_rng("priv"), private=random.Random(1).randbytes(4096))
    report = inspect_bytes("a.tif", vendor)
    assert report.verdict is Verdict.CLEAN and not any("data" in f.code for f in report.findings)


def test_tiff_strip_with_byte_count_zero_reads_to_the_next_structure() -> None:
    rng_a, rng_b = _rng("zero"), _rng("zero")
    normal = ew.tiff_gray(rng_a)
    data = ew.tiff_gray(rng_b, zero_count=True)
    st = walk_bytes("tiff", data)
    ifd_at = struct.unpack_from("<I", data, 4)[0]
    assert st.end == len(data) == len(normal)
    assert (8, ifd_at) in _spans(st, "metadata")  # strip at 8 up to the IFD, like libtiff
    assert [f.severity for f in st.findings if f.code == "tiff.malformed"] == [Severity.LOW]
    evil = ew.tiff_gray(_rng("zero"), zero_count=True, after_strip=ZIP)
    assert inspect_bytes("a.tif", evil).verdict is Verdict.QUARANTINE


# --- HEIF -----------------------------------------------------------------------------------


def _heif_data() -> bytes:
    from tests.format_samples import heif_bytes

    return heif_bytes()


def test_heif_free_box_content_is_unexplained_and_uuid_opaque_metadata() -> None:
    base = _heif_data()
    data = base + ew.box(b"free", ZIP) + ew.box(b"uuid", bytes(16) + b"vendor")
    st = walk_bytes("heif", data)
    assert _spans(st, "unexplained") == [(len(base) + 8, len(base) + 8 + len(ZIP))]
    assert (len(base) + 8 + len(ZIP), len(data)) in _spans(st, "metadata")
    assert inspect_bytes("a.heic", data).verdict is Verdict.QUARANTINE
    zeros = base + ew.box(b"free", bytes(4096))
    assert inspect_bytes("a.heic", zeros).verdict is Verdict.CLEAN


def test_heif_size_zero_box_is_unexplained() -> None:
    base = _heif_data()
    data = base + b"\x00\x00\x00\x00moov" + ZIP
    st = walk_bytes("heif", data)
    assert _spans(st, "unexplained") == [(len(base) + 8, len(data))]


def test_heif_mdat_bytes_no_item_uses_are_unexplained() -> None:
    _, data = ew.heif_mdat_tail(_rng("mdat"), ZIP)
    st = walk_bytes("heif", data)
    assert (len(data) - len(ZIP), len(data)) in _spans(st, "unexplained")
    assert inspect_bytes("a.heic", data).verdict is Verdict.QUARANTINE


@pytest.mark.parametrize("brand", [b"mif3", b"mif2", b"avci", b"jpeg", b"vvic", b"j2ki"])
def test_heif_brands_of_23008_12_are_heif_not_mp4(brand: bytes) -> None:
    data = ew.box(b"ftyp", brand + bytes(4) + brand) + _heif_data()[24:]
    assert inspect_bytes("a.heic", data).type == "heif"


def test_png_stream_longer_than_the_image_leaves_its_rest_unexplained() -> None:
    head, stream, iend = ew.png_parts(_rng("long"))
    width, height = struct.unpack(">II", head[16:24])
    raw = zlib.decompress(stream)
    assert len(raw) == png_data.raw_size(width, height, 8, 2, interlaced=False)
    longer = zlib.compress(raw + pe_payload() * 4, 0)  # stored blocks: the PE stays readable
    data = head + ew.png_chunk(b"IDAT", longer) + iend
    st = walk_bytes("png", data)
    [region] = st.unexplained
    assert region.label == "PNG IDAT data past the image"
    assert region.end == len(data) - len(iend) - 4  # up to the IDAT CRC
    assert region.start <= data.find(b"MZ", len(head) + len(raw)) < region.end
    assert inspect_bytes("a.png", data).verdict is Verdict.QUARANTINE


def test_gif_frames_are_followed_smallest_first_so_a_decoy_cannot_use_up_the_cap() -> None:
    rng = random.Random(9)
    side = 1500  # noise: ~2.4 MB of LZW data per frame, two of them exceed the 4 MiB cap
    decoy = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3)).convert("P")
    out = io.BytesIO()
    decoy.save(out, "GIF", save_all=True, append_images=[decoy.rotate(90)])
    big = out.getvalue()
    _, small = ew.gif_after_lzw(_rng("small"), PHP_PAYLOAD)
    pos = 13 + (3 << ((small[10] & 7) + 1) if small[10] & 0x80 else 0)  # after the colour table
    while small[pos] == 0x21:  # extensions before the image descriptor
        pos += 2
        while small[pos]:
            pos += small[pos] + 1
        pos += 1
    small_frame = small[pos:-1]  # image descriptor, its table and data, without the trailer
    assert small_frame[0] == 0x2C
    data = big[:-1] + small_frame + b"\x3b"
    st = walk_bytes("gif", data)
    assert st.frames == 3
    at = data.find(PHP_PAYLOAD)
    assert (at, at + len(PHP_PAYLOAD)) in _spans(st, "unexplained")


def test_animated_avif_track_samples_in_mdat_are_not_unexplained() -> None:
    frames = [Image.new("RGB", (32, 32), (40 * i, 90, 200)) for i in range(4)]
    out = io.BytesIO()
    frames[0].save(out, "AVIF", save_all=True, append_images=frames[1:])
    data = out.getvalue()
    assert b"moov" in data  # an image sequence: its samples are located by the track
    st = walk_bytes("avif", data)
    assert st.unexplained == []
    assert inspect_bytes("anim.avif", data).verdict is Verdict.CLEAN
