"""Safe copies a clinician can use (issue 10): upright, true colour, the right format.

Expected values come from the standards, not from the code under test: Exif orientation
6 means "rotate 90° clockwise to display" (Exif 2.32 §4.6.4, tag 0x0112); Display P3 is
DCI-P3 primaries with the D65 white point and the sRGB transfer curve, and its conversion
to sRGB is the published linear matrix below. The P3 profile embedded in the test files is
built here from those primaries (an ICC v2 matrix/TRC profile), as cameras embed it.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, JpegImagePlugin

from agent.sanitize.parent import SanitizeError, sanitize_file, sanitize_to_folder

REPO_ROOT = Path(__file__).resolve().parent.parent
COLOUR_TOLERANCE = 3  # 8-bit levels: rounding in the CMM and the PNG/JPEG path
MAX_PARENT_PEAK_MB = 400  # issue 10: the trusted parent's peak for a 100 MP input
# Linear Display-P3 -> linear sRGB (both D65): M = sRGB_XYZ^-1 x P3_XYZ.
P3_TO_SRGB = (
    (1.2249, -0.2247, 0.0000),
    (-0.0420, 1.0419, 0.0000),
    (-0.0197, -0.0786, 1.0979),
)
# Display P3 colorants adapted to the ICC D50 white (Bradford), as in Apple's profile.
P3_COLORANTS_D50 = ((0.5151, 0.2412, -0.0011), (0.2920, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841))
D50_WHITE = (0.9642, 1.0, 0.8249)
SKIN_P3 = (224, 172, 140)  # a light skin tone, as a P3 camera records it


def _decode_srgb(value: float) -> float:
    value /= 255
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


def _encode_srgb(linear: float) -> float:
    linear = min(max(linear, 0.0), 1.0)
    value = 12.92 * linear if linear <= 0.0031308 else 1.055 * linear ** (1 / 2.4) - 0.055
    return value * 255


def _p3_to_srgb(rgb: tuple[int, int, int]) -> tuple[float, ...]:
    linear = [_decode_srgb(channel) for channel in rgb]
    return tuple(
        _encode_srgb(sum(m * c for m, c in zip(row, linear, strict=True))) for row in P3_TO_SRGB
    )


def _s15f16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _display_p3_icc() -> bytes:
    """An ICC v2 display profile: Display P3 colorants, sRGB's parametric curve."""

    def xyz(values: tuple[float, float, float]) -> bytes:
        return b"XYZ \0\0\0\0" + b"".join(_s15f16(v) for v in values)

    curve = (
        b"para\0\0\0\0"
        + struct.pack(">HH", 3, 0)
        + b"".join(_s15f16(v) for v in (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045))
    )
    text = b"Display P3 (test)\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 12 + b"\0" * 67
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(D50_WHITE)),
        (b"rXYZ", xyz(P3_COLORANTS_D50[0])),
        (b"gXYZ", xyz(P3_COLORANTS_D50[1])),
        (b"bXYZ", xyz(P3_COLORANTS_D50[2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        padded = data + b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += padded
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"lcms"
        + bytes([2, 0x10, 0, 0])
        + b"mntrRGB XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 24
        + struct.pack(">I", 0)
        + b"".join(_s15f16(v) for v in D50_WHITE)
        + b"\0" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def _phone_photo_rotated() -> bytes:
    """A 60x40 JPEG as a phone stores a portrait shot: sideways, Orientation = 6."""
    image = Image.new("RGB", (60, 40), (0, 0, 255))  # blue everywhere else
    image.paste((255, 0, 0), (0, 0, 20, 15))  # red: stored top-left
    image.paste((0, 255, 0), (0, 25, 20, 40))  # green: stored bottom-left
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, exif=exif)
    return buffer.getvalue()


def test_a_rotated_phone_photo_comes_out_upright(tmp_path: Path) -> None:
    result = sanitize_to_folder(_phone_photo_rotated(), tmp_path, "IMG_2041.JPG")
    assert result.path.name == "IMG_2041 (safe copy).jpg"
    with Image.open(result.path) as copy:
        copy.load()
        assert copy.size == (40, 60)  # portrait: width and height swapped
        assert "exif" not in copy.info  # orientation applied, nothing left to re-apply
        # Rotating 90° clockwise puts the stored bottom-left corner at the top-left.
        top_left, top_right = copy.getpixel((5, 5)), copy.getpixel((34, 5))
        bottom_left = copy.getpixel((5, 55))
    assert top_left[1] > 200 and top_left[0] < 60  # green
    assert top_right[0] > 200 and top_right[1] < 60  # red
    assert bottom_left[2] > 200 and bottom_left[0] < 60  # blue


def _png(rgb: tuple[int, int, int], icc: bytes | None) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), rgb).save(buffer, "PNG", icc_profile=icc)
    return buffer.getvalue()


def test_srgb_and_display_p3_sources_give_the_expected_srgb_pixels(tmp_path: Path) -> None:
    expected = _p3_to_srgb(SKIN_P3)
    # The profile matters: dropping it would leave the input values, far from these.
    assert max(abs(e - s) for e, s in zip(expected, SKIN_P3, strict=True)) > 3 * COLOUR_TOLERANCE

    p3 = sanitize_file(_png(SKIN_P3, _display_p3_icc()), tmp_path / "p3.png")
    with Image.open(p3.path) as copy:
        assert "icc_profile" not in copy.info
        got = copy.convert("RGB").getpixel((4, 4))
    assert all(abs(g - e) <= COLOUR_TOLERANCE for g, e in zip(got, expected, strict=True)), (
        got,
        expected,
    )

    srgb_profile = __import__("PIL.ImageCms", fromlist=["x"]).createProfile("sRGB")
    srgb_icc = __import__("PIL.ImageCms", fromlist=["x"]).ImageCmsProfile(srgb_profile).tobytes()
    plain = sanitize_file(_png(SKIN_P3, srgb_icc), tmp_path / "srgb.png")
    with Image.open(plain.path) as copy:
        got = copy.convert("RGB").getpixel((4, 4))
    assert all(abs(g - s) <= COLOUR_TOLERANCE for g, s in zip(got, SKIN_P3, strict=True)), got


def _encoded(fmt: str, **options: object) -> bytes:
    image = Image.new("RGB", (64, 48))
    image.putdata([(x * 4, y * 5, (x + y) * 2) for y in range(48) for x in range(64)])
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)  # type: ignore[arg-type]
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "suffix"),
    [
        ("a.jpg", _encoded("JPEG", quality=85), ".jpg"),
        ("b.webp", _encoded("WEBP", quality=80), ".jpg"),  # lossy WebP is a photo
        ("c.webp", _encoded("WEBP", lossless=True), ".png"),
        ("d.png", _encoded("PNG"), ".png"),
        ("e.gif", _encoded("GIF"), ".png"),
    ],
)
def test_photos_stay_jpeg_and_graphics_become_png(
    tmp_path: Path, name: str, data: bytes, suffix: str
) -> None:
    result = sanitize_to_folder(data, tmp_path, name)
    assert result.path.suffix == suffix
    if suffix == ".jpg":
        with Image.open(result.path) as copy:
            assert isinstance(copy, JpegImagePlugin.JpegImageFile)
            assert JpegImagePlugin.get_sampling(copy) == 0  # 4:4:4, no colour subsampling


def test_a_copy_gets_a_normal_download_permission(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        result = sanitize_to_folder(_encoded("PNG"), tmp_path, "scan.png")
    finally:
        os.umask(old)
    assert result.path.stat().st_mode & 0o777 == 0o644


def test_a_picture_over_the_pixel_limit_is_refused_in_plain_words(tmp_path: Path) -> None:
    big = _encoded("PNG")  # 64 x 48 = 3,072 pixels
    with pytest.raises(SanitizeError) as refused:
        sanitize_file(big, tmp_path / "x.png", max_pixels=3_071)
    assert str(refused.value) == (
        "This picture is too large to copy safely (64 × 48 pixels; the limit is 3,071 pixels)."
        " Nothing was copied."
    )
    assert list(tmp_path.iterdir()) == []
    assert sanitize_file(big, tmp_path / "x.png", max_pixels=3_072).width == 64


# The peak is VmHWM of this process's own memory map: ru_maxrss would also count the
# forking pytest process, whose high-water mark Linux carries across execve.
MEASURE = """
import sys
from pathlib import Path
from agent.sanitize.parent import sanitize_to_folder
result = sanitize_to_folder(Path(sys.argv[1]), Path(sys.argv[2]), "huge.jpg")
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(result.width, result.height, result.format, int(hwm.split()[1]) // 1024)
"""


def test_the_parent_stays_under_400_mb_for_a_100_megapixel_photo(tmp_path: Path) -> None:
    source = tmp_path / "huge.jpg"
    maker = (
        "import sys; from PIL import Image;"
        "g = Image.linear_gradient('L').resize((10000, 10000));"
        "Image.merge('RGB', (g, g.rotate(90), g.rotate(180))).save(sys.argv[1], quality=90)"
    )
    subprocess.run([sys.executable, "-c", maker, str(source)], check=True, timeout=300)
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(source), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr
    width, height, fmt, peak_mb = done.stdout.split()
    assert (int(width), int(height), fmt) == (10000, 10000, "JPEG")
    print(f"parent peak RSS for a 100 MP photo: {peak_mb} MB")
    (REPO_ROOT / "test-artifacts").mkdir(exist_ok=True)
    (REPO_ROOT / "test-artifacts" / "safe-copy-100mp-peak.txt").write_text(f"{peak_mb} MB\n")
    assert int(peak_mb) < MAX_PARENT_PEAK_MB


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "LA"])
def test_strip_by_strip_files_decode_to_the_whole_image(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import ImageChops

    from agent.sanitize import encode

    monkeypatch.setattr(encode, "TARGET_STRIP_BYTES", 3_000)  # many strips, a short last one
    image = Image.new("RGB", (101, 77))
    image.putdata(
        [((x * 7 + y) % 256, (y * 5) % 256, (x * y) % 256) for y in range(77) for x in range(101)]
    )
    image = image.convert(mode)
    for fmt in ("JPEG", "PNG"):
        out = io.BytesIO()
        writer: encode.JpegWriter | encode.PngWriter = (
            encode.JpegWriter(out, 101, 77, mode, 95, 0)
            if fmt == "JPEG"
            else encode.PngWriter(out, 101, 77, mode)
        )
        assert writer.rows_per_strip < 77
        for top in range(0, 77, writer.rows_per_strip):
            writer.add(image.crop((0, top, 101, min(77, top + writer.rows_per_strip))))
        writer.finish()
        with Image.open(io.BytesIO(out.getvalue())) as got:
            got.load()
            if fmt == "PNG":
                assert got.mode == mode and got.tobytes() == image.tobytes()
                continue
            whole = io.BytesIO()
            flat = image if mode in ("RGB", "L") else image.convert("RGB")
            flat.save(whole, "JPEG", quality=95, subsampling=0)
            with Image.open(whole) as want:
                assert ImageChops.difference(got, want).getbbox() is None
