"""Decompression-bomb judgement: declared size against what the file really carries.

A bomb is a small file that declares a huge canvas (a 1 KB PNG saying 65535x65535): the
decoder allocates the canvas before it finds out the data is missing. A real 200 MP phone
photo declares just as many pixels but carries megabytes of image data for them. So the
declared size is judged together with the compressed image data behind it:

* the cost of a picture is its declared pixels, or its decoded bytes counted in the RGBA8
  pixels Pillow's thresholds are measured in (whichever is larger: 16-bit samples double it);
* over the warn/reject thresholds, a picture of at most `Limits.photo_max_pixels` whose
  image data has at least its format's photo density (bytes per pixel, below) is a photo:
  an info finding, not a bomb. Anything else over the thresholds is medium/high as before.

The densities are floors far below real photos and far above bombs (a bomb's amplification
is its point); see the table's comments for the measurements.
"""

from __future__ import annotations

from agent.inspect.base import Structure
from agent.inspect.limits import MAX_FRAMES, REFERENCE_BYTES_PER_PIXEL, Limits
from agent.model import Finding, Severity

# Minimum bytes of compressed image data per declared pixel for a picture over the
# thresholds to count as a real photo, by detected type. Formats missing here (ICO, DICOM,
# SVG...) get no photo exemption: nothing legitimate of theirs is that large.
#
# Lossy formats: real 200 MP JPEGs (16320x12240) are 15 MB and more = 0.075 B/px; 108 MP
# phone JPEGs (12000x9000) run 12-30 MB = 0.11-0.28 B/px; 100 MP medium-format camera JPEGs
# 30-60 MB = 0.3-0.6 B/px. The densest possible "empty" baseline JPEG (one DC code and an
# EOB per 8x8 block, 4:2:0) is about 0.006 B/px, so 0.02 keeps a bomb's decoded size within
# ~150x its data, the same amplification as the smoothest real photo. HEIF/AVIF, WebP,
# JPEG 2000 and JPEG XL compress about twice as well as JPEG: half the floor.
# Lossless formats (PNG, TIFF, BMP, GIF, PSD...): real photos stay above 1 B/px (sensor
# noise does not deflate); 0.25 B/px still allows flat scans while a deflate/LZW bomb (up to
# 1032:1) is caught.
LOSSY_PHOTO_MIN_BYTES_PER_PIXEL = 0.02  # bytes per pixel: JPEG
EFFICIENT_PHOTO_MIN_BYTES_PER_PIXEL = 0.01  # bytes per pixel: HEIF/AVIF/WebP/JP2/JXL
LOSSLESS_PHOTO_MIN_BYTES_PER_PIXEL = 0.25  # bytes per pixel: PNG/TIFF/BMP/GIF/PSD...
PHOTO_MIN_BYTES_PER_PIXEL: dict[str, float] = {
    "jpeg": LOSSY_PHOTO_MIN_BYTES_PER_PIXEL,
    "heif": EFFICIENT_PHOTO_MIN_BYTES_PER_PIXEL,
    "avif": EFFICIENT_PHOTO_MIN_BYTES_PER_PIXEL,
    "webp": EFFICIENT_PHOTO_MIN_BYTES_PER_PIXEL,
    "jp2": EFFICIENT_PHOTO_MIN_BYTES_PER_PIXEL,
    "jxl": EFFICIENT_PHOTO_MIN_BYTES_PER_PIXEL,
    "png": LOSSLESS_PHOTO_MIN_BYTES_PER_PIXEL,
    "tiff": LOSSLESS_PHOTO_MIN_BYTES_PER_PIXEL,
    "bmp": LOSSLESS_PHOTO_MIN_BYTES_PER_PIXEL,
    "gif": LOSSLESS_PHOTO_MIN_BYTES_PER_PIXEL,
    "psd": LOSSLESS_PHOTO_MIN_BYTES_PER_PIXEL,
    "netpbm": LOSSLESS_PHOTO_MIN_BYTES_PER_PIXEL,
    "tga": LOSSLESS_PHOTO_MIN_BYTES_PER_PIXEL,
    "pcx": LOSSLESS_PHOTO_MIN_BYTES_PER_PIXEL,
    "qoi": LOSSLESS_PHOTO_MIN_BYTES_PER_PIXEL,
}
_PIXEL_CODES = frozenset({"resource.pixels_over_reject", "resource.pixels_over_warn"})


def cost_in_pixels(structure: Structure) -> int | None:
    """Declared pixels, or decoded bytes in RGBA8-pixel units when that is larger."""
    pixels = structure.pixels
    decoded = structure.decoded_bytes
    if decoded is not None:
        equivalent = -(-decoded // REFERENCE_BYTES_PER_PIXEL)
        pixels = equivalent if pixels is None else max(pixels, equivalent)
    return pixels


def _size_detail(structure: Structure, cost: int) -> str:
    detail = f"{structure.pixels} pixels declared"
    if cost != structure.pixels and structure.decoded_bytes is not None:
        detail += f", {structure.decoded_bytes} bytes decoded (= {cost} RGBA8 pixels)"
    return detail


def _density_kind(structure: Structure) -> str:
    """The type whose photo floor applies: the codec of the data (a JPEG-compressed TIFF is
    judged as JPEG), else the file's type."""
    return structure.codec or structure.type


def _photo_density(structure: Structure, cost: int, limits: Limits) -> float | None:
    """Bytes of image data per pixel when the picture qualifies as a photo, else None."""
    floor = PHOTO_MIN_BYTES_PER_PIXEL.get(_density_kind(structure))
    pixels = structure.pixels
    if floor is None or structure.image_bytes is None or not pixels or cost <= 0:
        return None
    if pixels > limits.photo_max_pixels:
        return None
    density = structure.image_bytes / cost
    return density if density >= floor else None


def resource_findings(
    structure: Structure, limits: Limits, existing: list[Finding]
) -> list[Finding]:
    """Decompression-bomb checks on the declared sizes (unless the walker reported them)."""
    already = {f.code for f in existing}
    found: list[Finding] = []
    cost = cost_in_pixels(structure)
    if cost is not None and not already & _PIXEL_CODES and cost > limits.pixels_warn:
        detail = _size_detail(structure, cost)
        density = _photo_density(structure, cost, limits)
        if density is not None:
            found.append(
                Finding(
                    "resource.large_photo",
                    Severity.INFO,
                    "This is a very large photo; its size matches the picture data it holds.",
                    detail=f"{detail}; {structure.image_bytes} bytes of image data = "
                    f"{density:.3f} bytes/pixel >= "
                    f"{PHOTO_MIN_BYTES_PER_PIXEL[_density_kind(structure)]} for "
                    f"{_density_kind(structure)}",
                )
            )
        elif cost > limits.pixels_reject:
            found.append(
                Finding(
                    "resource.pixels_over_reject",
                    Severity.HIGH,
                    "This picture claims to be so huge that opening it could freeze the computer.",
                    detail=f"{detail} > {limits.pixels_reject}{_density_note(structure, cost)}",
                )
            )
        else:
            found.append(
                Finding(
                    "resource.pixels_over_warn",
                    Severity.MEDIUM,
                    "This picture claims to be unusually huge and may be meant to crash viewers.",
                    detail=f"{detail} > {limits.pixels_warn}{_density_note(structure, cost)}",
                )
            )
    frames = structure.frames
    if frames is not None and frames > MAX_FRAMES and "resource.too_many_frames" not in already:
        found.append(
            Finding(
                "resource.too_many_frames",
                Severity.MEDIUM,
                "This picture claims an absurd number of frames and may be meant to crash viewers.",
                detail=f"{frames} frames > {MAX_FRAMES}",
            )
        )
    return found


def _density_note(structure: Structure, cost: int) -> str:
    if structure.image_bytes is None or cost <= 0:
        return ""
    return f"; only {structure.image_bytes / cost:.4f} bytes of image data per pixel"
