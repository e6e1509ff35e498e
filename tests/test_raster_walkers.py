"""PNG, GIF, WebP, BMP and ICO walkers: edge cases and every bound at limit-1/limit/limit+1."""

from __future__ import annotations

import struct
import zlib

import pytest

from agent.inspect import bmp, gif, png
from agent.inspect.limits import MAX_METADATA_BYTES, MAX_TEXT_CHUNK_BYTES
from agent.model import Severity
from tests.format_samples import bmp_bytes, gif_bytes, ico_bytes, png_bytes, png_chunk, webp_bytes
from tests.walker_helpers import codes, unaccounted_after_end, walk_bytes

IEND = png_chunk(b"IEND", b"")


def _png_with(*chunks: bytes) -> bytes:
    """The sample PNG with extra chunks inserted before IEND."""
    base = png_bytes()
    assert base.endswith(IEND)
    return base[: -len(IEND)] + b"".join(chunks) + IEND


# --- PNG ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pad", "accounted"),
    [
        (png.MAX_PADDING_AFTER_IEND - 1, True),
        (png.MAX_PADDING_AFTER_IEND, True),
        (png.MAX_PADDING_AFTER_IEND + 1, False),
    ],
)
def test_png_padding_after_iend_bound(pad: int, accounted: bool) -> None:
    data = png_bytes() + b"\x00" * pad
    st = walk_bytes("png", data)
    assert st.end == len(data) - pad
    assert unaccounted_after_end(st, len(data)) == (0 if accounted else pad)


def test_png_non_whitespace_after_iend_is_not_padding() -> None:
    data = png_bytes() + b"PK\x05\x06"
    st = walk_bytes("png", data)
    assert unaccounted_after_end(st, len(data)) == 4


def _ztxt(size: int, key: bytes = b"Comment") -> bytes:
    return png_chunk(b"zTXt", key + b"\x00\x00" + zlib.compress(b"a" * size, 9))


@pytest.mark.parametrize(
    ("size", "over"),
    [
        (MAX_TEXT_CHUNK_BYTES - 1, False),
        (MAX_TEXT_CHUNK_BYTES, False),
        (MAX_TEXT_CHUNK_BYTES + 1, True),
    ],
)
def test_png_text_chunk_cap(size: int, over: bool) -> None:
    st = walk_bytes("png", _png_with(_ztxt(size)))
    assert ("resource.metadata_too_large" in codes(st)) is over
    assert len(st.texts) == 1
    assert len(st.texts[0][2]) == min(size, MAX_TEXT_CHUNK_BYTES)


@pytest.mark.parametrize(("extra", "over"), [(-1, False), (0, False), (1, True)])
def test_png_total_metadata_cap(extra: int, over: bool) -> None:
    full_chunks = MAX_METADATA_BYTES // MAX_TEXT_CHUNK_BYTES
    chunks = [_ztxt(MAX_TEXT_CHUNK_BYTES)] * (full_chunks - 1)
    chunks.append(_ztxt(MAX_TEXT_CHUNK_BYTES + min(extra, 0)))
    if extra > 0:
        chunks.append(_ztxt(extra))
    st = walk_bytes("png", _png_with(*chunks))
    assert ("resource.metadata_too_large" in codes(st)) is over
    assert sum(len(t[2]) for t in st.texts) == MAX_METADATA_BYTES + min(extra, 0)
    found = [f for f in st.findings if f.code == "resource.metadata_too_large"]
    assert all(f.severity is Severity.MEDIUM for f in found)


def test_png_itxt_compressed_and_iccp_are_inflated() -> None:
    itxt = png_chunk(
        b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00en\x00\x00" + zlib.compress(b"<x:xmpmeta/>")
    )
    iccp = png_chunk(b"iCCP", b"ICC\x00\x00" + zlib.compress(b"fake profile <?php ?>"))
    st = walk_bytes("png", _png_with(itxt, iccp))
    assert [t[2] for t in st.texts] == [b"<x:xmpmeta/>", b"fake profile <?php ?>"]
    assert [r.label for r in st.metadata] == ["PNG iTXt", "PNG iCCP"]


def test_png_private_chunk_is_metadata_and_corrupt_zlib_is_low() -> None:
    private = png_chunk(b"prVt", b"<?php echo 1; ?>")
    broken = png_chunk(b"zTXt", b"Comment\x00\x00not zlib at all")
    st = walk_bytes("png", _png_with(private, broken))
    assert [r.label for r in st.metadata] == ["PNG prVt", "PNG zTXt"]
    assert codes(st) == {"png.malformed"}
    assert max(f.severity for f in st.findings) is Severity.LOW


def test_png_bad_crc_is_low_and_walk_continues() -> None:
    data = bytearray(png_bytes())
    data[29] ^= 0xFF  # inside the IHDR CRC
    st = walk_bytes("png", bytes(data))
    assert codes(st) == {"png.malformed"} and st.end == len(data)


@pytest.mark.parametrize("window_delta", [-1, 0, 1])
def test_png_crc_across_window_boundary(window_delta: int) -> None:
    blob = png_chunk(b"prVt", bytes(png.CRC_WINDOW_BYTES - 4 + window_delta))
    st = walk_bytes("png", _png_with(blob))
    assert codes(st) == set()


@pytest.mark.parametrize(
    ("length", "code", "ends_at_file_end"),
    [
        (png.MAX_CHUNK_LENGTH, "png.truncated", True),
        (png.MAX_CHUNK_LENGTH + 1, "png.malformed", False),
    ],
)
def test_png_chunk_length_bound(length: int, code: str, ends_at_file_end: bool) -> None:
    base = png_bytes()[: -len(IEND)]
    data = base + struct.pack(">I", length) + b"IDAT" + bytes(32)
    st = walk_bytes("png", data)
    assert codes(st) == {code}
    assert st.end == (len(data) if ends_at_file_end else len(base))


def test_png_missing_iend_and_garbage_chunk() -> None:
    base = png_bytes()[: -len(IEND)]
    st = walk_bytes("png", base)
    assert (st.end, codes(st)) == (len(base), {"png.truncated"})
    st = walk_bytes("png", base + b"\x00\x00\x00\x10<?ph")
    assert (st.end, codes(st)) == (len(base), {"png.malformed"})


def test_apng_frames_from_actl() -> None:
    from tests.format_samples import apng_bytes

    st = walk_bytes("png", apng_bytes(frames=4))
    assert st.frames == 4 and st.pixels == 24 * 16


# --- GIF ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("screen", "polyglot"),
    [
        (b"/*\x10\x00", True),
        (b"//\x10\x00", True),
        (b"ab/*", True),
        (b"\x18\x00\x10\x00", False),
        (b"a\x00/*", False),  # width byte 2 is not an identifier character
        (b"\x2f\x00\x2a\x00", False),  # 47x42: "/" and "*" but not adjacent
    ],
)
def test_gif_js_polyglot_header(screen: bytes, polyglot: bool) -> None:
    data = bytearray(gif_bytes())
    data[6:10] = screen
    st = walk_bytes("gif", bytes(data))
    assert ("gif.js_polyglot_header" in codes(st, Severity.HIGH)) is polyglot


def _gif_with_extension(extension: bytes) -> bytes:
    base = gif_bytes()
    assert base.endswith(b"\x3b")
    return base[:-1] + extension + b"\x3b"


@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_gif_sub_blocks_across_read_window(delta: int) -> None:
    total = gif.SUB_BLOCK_READ_BYTES + delta
    body = b"".join(
        bytes([min(255, total - i)]) + b"c" * min(255, total - i) for i in range(0, total, 255)
    )
    data = _gif_with_extension(b"\x21\xfe" + body + b"\x00")
    st = walk_bytes("gif", data)
    assert st.end == len(data) and codes(st) == set()
    extensions = [r for r in st.metadata if "colour table" not in r.label]
    assert [r.label for r in extensions] == ["GIF comment extension"]
    assert extensions[0].end == len(data) - 1


def test_gif_xmp_extension_with_magic_trailer() -> None:
    xmp = b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
    ext = b"\x21\xff\x0b" + gif.XMP_APP_ID + xmp + gif.XMP_MAGIC_TRAILER
    data = _gif_with_extension(ext)
    st = walk_bytes("gif", data)
    assert st.end == len(data) and codes(st) == set()
    assert len(gif.XMP_MAGIC_TRAILER) == 258
    assert st.metadata[-1].label == "GIF application extension"
    assert st.metadata[-1].end == len(data) - 1


def test_gif_missing_trailer_is_low_and_unknown_block_stops() -> None:
    base = gif_bytes()[:-1]
    st = walk_bytes("gif", base)
    assert (st.end, codes(st)) == (len(base), {"gif.malformed"})
    st = walk_bytes("gif", base + b"PK\x03\x04")
    assert (st.end, codes(st)) == (len(base), {"gif.malformed"})


def test_gif_frames_and_truncation() -> None:
    data = gif_bytes(frames=3)
    assert walk_bytes("gif", data).frames == 3
    st = walk_bytes("gif", data[: len(data) - 40])
    assert st.end == len(data) - 40 and codes(st) == {"gif.truncated"}


# --- WebP -----------------------------------------------------------------------------------


def test_webp_exif_is_metadata_and_riff_size_rules() -> None:
    exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00"
    data = webp_bytes(exif=exif)
    st = walk_bytes("webp", data)
    assert st.end == len(data) and [r.label for r in st.metadata] == ["WebP Exif"]
    short = data[:-10]
    st = walk_bytes("webp", short)
    assert st.end == len(short) and codes(st) == {"webp.truncated"}


def test_webp_odd_riff_size_without_pad_byte_is_fine() -> None:
    vp8l = webp_bytes(lossless=True)
    chunk = b"XMP " + struct.pack("<I", 3) + b"abc"  # odd size, no pad byte at the very end
    body = vp8l[12:] + chunk
    data = b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body
    st = walk_bytes("webp", data)
    assert st.end == len(data) and codes(st) == set()


# --- BMP ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slack", "accounted"),
    [
        (bmp.MAX_ROUNDING_SLACK - 1, True),
        (bmp.MAX_ROUNDING_SLACK, True),
        (bmp.MAX_ROUNDING_SLACK + 1, False),
    ],
)
def test_bmp_bfsize_slack_bound(slack: int, accounted: bool) -> None:
    image = bmp_bytes()
    data = bytearray(image + bytes(slack))
    struct.pack_into("<I", data, 2, len(data))
    st = walk_bytes("bmp", bytes(data))
    assert st.end == len(image)
    assert unaccounted_after_end(st, len(data)) == (0 if accounted else slack)


def test_bmp_lying_bfsize_does_not_hide_a_payload() -> None:
    from tests.format_samples import zip_payload

    image = bmp_bytes()
    data = bytearray(image + zip_payload())
    struct.pack_into("<I", data, 2, len(data))  # bfSize stretched over the ZIP
    st = walk_bytes("bmp", bytes(data))
    assert st.end == len(image)
    assert unaccounted_after_end(st, len(data)) == len(data) - len(image)


def test_bmp_truncated_and_bad_header() -> None:
    image = bmp_bytes()
    st = walk_bytes("bmp", image[:-100])
    assert st.end == len(image) - 100 and codes(st) == {"bmp.truncated"}
    st = walk_bytes("bmp", b"BM" + bytes(10))
    assert st.end is None and codes(st) == {"bmp.malformed"}


def test_bmp_v5_embedded_profile_is_metadata_and_counts_for_end() -> None:
    width, height = 2, 2
    pixels = bytes(16)
    profile = b"ICCPROFILE<?php?>"
    header = bytearray(124)
    struct.pack_into("<IiiHHIIiiII", header, 0, 124, width, height, 1, 32, 0, 16, 0, 0, 0, 0)
    struct.pack_into("<I", header, 56, 0x4D424544)
    off_bits = 14 + 124
    struct.pack_into("<II", header, 112, 124 + len(pixels), len(profile))
    body = bytes(header) + pixels + profile
    data = b"BM" + struct.pack("<IHHI", 14 + len(body), 0, 0, off_bits) + body
    st = walk_bytes("bmp", data)
    assert st.end == len(data) and codes(st) == set()
    assert [(r.start, r.end) for r in st.metadata] == [(len(data) - len(profile), len(data))]


# --- ICO ------------------------------------------------------------------------------------


def test_ico_end_frames_and_overrun() -> None:
    data = ico_bytes()
    st = walk_bytes("ico", data)
    assert (st.end, st.frames, st.width) == (len(data), 3, 64)
    st = walk_bytes("ico", data[:-5])
    assert st.end == len(data) - 5 and codes(st) == {"ico.truncated"}


def test_ico_png_bomb_dimensions_come_from_ihdr() -> None:
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
    image = png.PNG_SIGNATURE + ihdr + IEND
    data = struct.pack("<HHH", 0, 1, 1) + struct.pack(
        "<BBBBHHII", 0, 0, 0, 0, 1, 32, len(image), 22
    )
    st = walk_bytes("ico", data + image)
    assert st.pixels == 30000 * 30000 and st.end == len(data) + len(image)
