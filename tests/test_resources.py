"""Pixel limits that know a photo from a bomb (issue 11, class 7 and item 4).

Expected values come from the thresholds' definitions: Pillow's 89,478,485 / 178,956,970
pixels, 4 bytes per reference pixel, and the photo densities of `resources`.
"""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from agent.inspect import resources
from agent.inspect.base import Structure
from agent.inspect.engine import inspect_bytes
from agent.inspect.limits import PHOTO_MAX_PIXELS, PIXELS_REJECT, PIXELS_WARN, Limits
from agent.model import Severity, Verdict

MP200 = 16320 * 12240  # 199,756,800 px: Samsung/Xiaomi/Motorola 200 MP mode
MP108 = 12000 * 9000  # 108 MP phones
MP102 = 11648 * 8736  # 102 MP medium-format camera


def _codes(structure: Structure, limits: Limits | None = None) -> dict[str, Severity]:
    limits = limits or Limits()
    return {f.code: f.severity for f in resources.resource_findings(structure, limits, [])}


@pytest.mark.parametrize(
    ("pixels", "image_bytes"),
    [(MP200, 15_000_000), (MP200, 24_000_000), (MP108, 12_000_000), (MP102, 30_000_000)],
)
def test_real_high_resolution_photos_are_clean(pixels: int, image_bytes: int) -> None:
    found = _codes(Structure(type="jpeg", pixels=pixels, image_bytes=image_bytes))
    assert found == {"resource.large_photo": Severity.INFO}


@pytest.mark.parametrize(("pixels", "expected"), [(MP200, "reject"), (MP108, "warn")])
def test_a_small_file_declaring_the_same_size_is_still_caught(pixels: int, expected: str) -> None:
    found = _codes(Structure(type="jpeg", pixels=pixels, image_bytes=40_000))
    assert list(found) == [f"resource.pixels_over_{expected}"]


def test_photo_density_floor_at_limit_minus_one_limit_limit_plus_one() -> None:
    floor = resources.LOSSY_PHOTO_MIN_BYTES_PER_PIXEL
    needed = int(MP200 * floor)  # 3,995,136 bytes for 199,756,800 px at 0.02 B/px
    assert needed == 3_995_136
    for image_bytes, photo in ((needed - 1, False), (needed, True), (needed + 1, True)):
        found = _codes(Structure(type="jpeg", pixels=MP200, image_bytes=image_bytes))
        assert ("resource.large_photo" in found) is photo
        assert ("resource.pixels_over_reject" in found) is not photo


@pytest.mark.parametrize(
    ("pixels", "photo"),
    [(PHOTO_MAX_PIXELS - 1, True), (PHOTO_MAX_PIXELS, True), (PHOTO_MAX_PIXELS + 1, False)],
)
def test_photo_max_pixels_bound(pixels: int, photo: bool) -> None:
    found = _codes(Structure(type="jpeg", pixels=pixels, image_bytes=pixels))  # 1 B/px
    assert ("resource.large_photo" in found) is photo
    assert PHOTO_MAX_PIXELS == 268_435_456


def test_policy_can_lower_the_thresholds_and_the_photo_ceiling() -> None:
    photo = Structure(type="jpeg", pixels=MP200, image_bytes=15_000_000)
    assert "resource.pixels_over_reject" in _codes(photo, Limits(photo_max_pixels=0))
    small = Structure(type="jpeg", pixels=50_000_000, image_bytes=10_000)
    assert _codes(small) == {}
    assert "resource.pixels_over_reject" in _codes(small, Limits(pixels_warn=1, pixels_reject=2))


def test_formats_without_a_photo_density_get_no_exemption() -> None:
    found = _codes(Structure(type="ico", pixels=MP200, image_bytes=10**9))
    assert list(found) == ["resource.pixels_over_reject"]


@pytest.mark.parametrize(
    ("decoded", "expected"),
    [
        (PIXELS_WARN * 4, None),
        (PIXELS_WARN * 4 + 1, "resource.pixels_over_warn"),
        (PIXELS_REJECT * 4, "resource.pixels_over_warn"),
        (PIXELS_REJECT * 4 + 1, "resource.pixels_over_reject"),
    ],
)
def test_decoded_bytes_count_in_rgba8_pixels(decoded: int, expected: str | None) -> None:
    found = _codes(Structure(type="png", pixels=1000, decoded_bytes=decoded))
    assert list(found) == ([expected] if expected else [])


def _jpeg_declaring(width: int, height: int, scan_bytes: int) -> bytes:
    """A real small JPEG whose SOF declares width x height, with `scan_bytes` of scan data.

    The scan data is seeded random bytes with every 0xFF stuffed (T.81 F.1.2.3), so the
    walker crosses it like a camera's entropy-coded data.
    """
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 120, 200)).save(out, "JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    sos = data.index(b"\xff\xda")
    scan_at = sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
    scan = random.Random(7).randbytes(scan_bytes).replace(b"\xff", b"\xff\x00")
    return bytes(data[:scan_at]) + scan[:scan_bytes] + b"\xff\xd9"


def test_a_200_mp_jpeg_of_15_mb_is_clean_and_a_small_one_is_a_bomb() -> None:
    photo = inspect_bytes("IMG_200MP.jpg", _jpeg_declaring(16320, 12240, 15_000_000))
    assert photo.verdict is Verdict.CLEAN
    assert [f.code for f in photo.findings] == ["resource.large_photo"]
    bomb = inspect_bytes("IMG_200MP.jpg", _jpeg_declaring(16320, 12240, 40_000))
    assert bomb.verdict is Verdict.QUARANTINE
    assert [f.code for f in bomb.findings] == ["resource.pixels_over_reject"]
