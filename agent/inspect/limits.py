"""Every bound the inspection engine enforces, as a named constant with its unit.

`Limits` bundles the ones policy may change; the rest are fixed by the formats.
"""

from __future__ import annotations

from dataclasses import dataclass

# Pillow's decompression-bomb thresholds (PIL.Image.MAX_IMAGE_PIXELS and twice that).
PIXELS_WARN = 89_478_485  # pixels: over this -> medium finding
PIXELS_REJECT = 178_956_970  # pixels: over this -> high finding (Pillow refuses to decode)

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
