"""Every bound the inspection engine enforces, as a named constant with its unit.

`Limits` bundles the ones policy may change; the rest are fixed by the formats.
"""

from __future__ import annotations

from dataclasses import dataclass

# Pillow's decompression-bomb thresholds (PIL.Image.MAX_IMAGE_PIXELS and twice that).
PIXELS_WARN = 89_478_485  # pixels: over this -> medium finding
PIXELS_REJECT = 178_956_970  # pixels: over this -> high finding (Pillow refuses to decode)
# Pillow derives MAX_IMAGE_PIXELS from memory: 1 GiB // 4 bytes per pixel // 3. The same
# budget in decoded bytes catches what a pixel count hides: 9400x9400 RGBA 16-bit is
# 88.4 Mpx (under PIXELS_WARN) but 707 MB decoded.
# So decoded bytes / REFERENCE_BYTES_PER_PIXEL is judged against the pixel thresholds.
REFERENCE_BYTES_PER_PIXEL = 4  # bytes: the RGBA8 pixel Pillow's thresholds are counted in
# A real photo is not a bomb: a bomb is a small file declaring a huge canvas. Over the
# thresholds, a picture whose compressed image data is at least the format's photo
# density (agent/inspect/resources.py, PHOTO_MIN_BYTES_PER_PIXEL) is judged a photo, up to
# this many pixels. Measured: Samsung/Xiaomi/Motorola 200 MP modes write 16320x12240 =
# 199.8 Mpx JPEGs; Phase One IQ4 150 MP is 14204x10652 = 151.3 Mpx; nothing a camera or
# phone writes exceeds 200 Mpx, so 256 Mpx leaves a margin without admitting 65535x65535.
PHOTO_MAX_PIXELS = 256 * 1024 * 1024  # pixels: above this no density makes it a photo

DEFAULT_MAX_FILE_BYTES = 2 * 1024**3  # bytes: larger files get only name and header checks
DEFAULT_TIME_BUDGET_SECONDS = 10.0  # seconds of inspection per file before giving up
MAX_FRAMES = 10_000  # frames/images in one file (GIF, APNG, WebP animation, ICO, MPF)
MAX_METADATA_BYTES = 16 * 1024**2  # bytes of decompressed metadata per file (zTXt, iTXt...)
MAX_TEXT_CHUNK_BYTES = 1024**2  # bytes: one decompressed text chunk (Pillow's MAX_TEXT_CHUNK)
MAX_STRUCTURES = 200_000  # segments/chunks/boxes/elements walked before calling it absurd
WINDOW_BYTES = 16 * 1024**2  # bytes scanned per window when searching a large file


@dataclass(frozen=True)
class Limits:
    """The bounds policy may change. Defaults are the shipped policy's."""

    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    time_budget_seconds: float = DEFAULT_TIME_BUDGET_SECONDS
    pixels_warn: int = PIXELS_WARN
    pixels_reject: int = PIXELS_REJECT
    photo_max_pixels: int = PHOTO_MAX_PIXELS  # 0: every picture over the thresholds is judged
