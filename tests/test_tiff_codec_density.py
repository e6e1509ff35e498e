"""A TIFF whose strips are JPEG (or another lossy codestream) is judged by that codec's floor.

agent/inspect/resources.py exempts a huge declared size when the file holds enough image
data per pixel for its kind. TIFF's floor is the lossless one (0.25 B/px), but a TIFF
with Compression 7 holds JPEG strips (TIFF Technical Note 2): a 150 MP scan saved so runs
~0.2 B/px, like the same JPEG (floor 0.02). The codec counts only when the first strip
really starts as one (SOI for JPEG), so a label alone buys nothing.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from agent.inspect.engine import inspect_path
from agent.inspect.limits import PIXELS_REJECT, PIXELS_WARN

JPEG_COMPRESSION, LZW_COMPRESSION = 7, 5


def tiff(width: int, height: int, compression: int, strip: bytes) -> bytes:
    """A little-endian one-strip 8-bit grayscale TIFF holding `strip`."""
    entries = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, compression),
        (262, 3, 1, 1),
        (273, 4, 1, 0),  # patched below: the strip follows the IFD
        (277, 3, 1, 1),
        (278, 4, 1, height),
        (279, 4, 1, len(strip)),
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    strip_at = 8 + ifd_size
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        value = strip_at if tag == 273 else value
        packed = struct.pack("<H", value) + b"\x00\x00" if typ == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, typ, count) + packed
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + strip


# SOI, then an SOS header (T.81 B.2.3: Ls 8, one component, Ss 0, Se 63, Ah/Al 0): what
# follows is scan data, which the walk of a strip's headers does not read
_JPEG_START = b"\xff\xd8" + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"


def _strip(size: int, jpeg: bool = True) -> bytes:
    start = _JPEG_START if jpeg else b"\x00\x01\x02\x03"
    return start + bytes(size - len(start))


def _verdict(tmp_path: Path, data: bytes) -> tuple[str, set[str]]:
    path = tmp_path / "scan_0001.tif"
    path.write_bytes(data)
    report = inspect_path(path)
    return report.verdict.value, {f.code for f in report.findings}


SIDE = 10_000  # 100 MP: over the warn threshold, under the reject one
assert PIXELS_WARN < SIDE * SIDE < PIXELS_REJECT


def test_a_jpeg_tiff_scan_at_jpeg_density_is_a_large_photo(tmp_path: Path) -> None:
    data = tiff(SIDE, SIDE, JPEG_COMPRESSION, _strip(SIDE * SIDE // 20))  # 0.05 B/px
    assert _verdict(tmp_path, data) == ("clean", {"resource.large_photo"})


@pytest.mark.parametrize(
    ("compression", "jpeg_start"),
    [(LZW_COMPRESSION, True), (JPEG_COMPRESSION, False)],
    ids=["lzw at the same density", "labelled JPEG without SOI"],
)
def test_the_lossless_floor_stays_otherwise(
    tmp_path: Path, compression: int, jpeg_start: bool
) -> None:
    data = tiff(SIDE, SIDE, compression, _strip(SIDE * SIDE // 20, jpeg_start))
    assert _verdict(tmp_path, data) == ("flag", {"resource.pixels_over_warn"})


def test_a_jpeg_tiff_bomb_under_the_jpeg_floor_is_still_rejected(tmp_path: Path) -> None:
    side = 20_000  # 400 MP declared over 2 MB of "JPEG": 0.005 B/px
    data = tiff(side, side, JPEG_COMPRESSION, _strip(2_000_000))
    verdict, found = _verdict(tmp_path, data)
    assert verdict == "quarantine" and "resource.pixels_over_reject" in found
