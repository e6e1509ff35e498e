"""Evaluation corpus: payloads hidden INSIDE walked structures, and bomb headers (issue 11).

Malicious/benign pairs built from the same picture: the benign twin keeps the same place
filled the way writers fill it (alignment zeros, a normal icon entry, a `free` box of
zeros, a vendor `uuid` box, a valid multi-MB ICC profile...), the malicious twin hides an
inert payload there. Places: the BMP gap before bfOffBits, an ICO entry that is no image
or a PNG entry with bytes after IEND, GIF sub-blocks after the LZW end code, PNG IDAT
bytes after the zlib end and IDAT chunks after the image data, a WebP VP8X chunk tail and
an unknown WebP chunk, TIFF bytes no IFD references and a private tag, a TIFF strip with
byte count 0, HEIF `free`/unknown boxes and `mdat` bytes no item uses; JPEG stray bytes
between segments, a gap between EOI and an MPF image, an HTC dual-camera block, bytes
after a Minolta-style maker-note preview and before a final extra image; and data after
JPEG 2000, PSD, netpbm, TGA, PCX, QOI, HDR, OpenEXR and GIMP XCF pictures (formats with a
walker now), a payload in an OpenEXR `comments` attribute or before its first chunk, and in
a GIMP comment parasite. Plus bomb headers
the pixel count alone misses: decoded size (16-bit RGBA), a GIF frame placed far outside a
1x1 screen, an ICO BMP entry whose DIB header declares a huge bitmap, a JPEG whose SOF
height is 0 and whose DNL declares the real one, a progressive JPEG of thousands of scans.

`EXPECTED_VERDICT` says what each malicious category must get: an executable, archive,
document or script payload is quarantined; an encrypted-looking blob, a decoded-size
bomb under the reject threshold and a scan-count bomb are flagged.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from bench import eval_images as img
from bench import eval_payloads as pay
from bench.recipe import Maker, Recipe
from bench.walker_files import (
    appended_to_other_format,
    bmp_gap,
    exr_bytes,
    gif_after_lzw,
    gif_frame_outside_screen,
    heic_bytes,
    heif_box,
    heif_mdat_tail,
    ico_dib_bomb,
    ico_entries,
    icon_png,
    jpeg_dnl,
    jpeg_final_image,
    jpeg_htc,
    jpeg_minolta_preview,
    jpeg_mpf_gap,
    jpeg_scans,
    jpeg_stray,
    png_big_icc,
    png_decoded_bomb,
    png_idat_tail,
    png_late_idat,
    small_size,
    tiff_gray,
    webp_unknown_chunk,
    webp_vp8x_tail,
    xcf_bytes,
)

Inject = Callable[[random.Random, bytes], tuple[str, bytes]]  # (extension, file bytes)

# Payload kinds a hiding place gets (all inert: headers and text, nothing runs).
QUARANTINE_PAYLOADS = ("zip", "jar", "pe", "elf", "pdf", "html", "php", "phar")


# --- recipes --------------------------------------------------------------------------------

# hiding place -> (inject(rng, payload) -> (extension, bytes), benign filler(rng) -> bytes)
PLACES: dict[str, tuple[Inject, Callable[[random.Random], bytes]]] = {
    "bmp-gap": (bmp_gap, lambda rng: bytes(rng.choice([2, 4, 16, 64]))),
    "ico-entry": (lambda rng, p: ico_entries(rng, p), lambda rng: icon_png(rng, 48)),
    "ico-png-tail": (lambda rng, p: ico_entries(rng, None, p), lambda rng: b""),
    "gif-after-lzw": (gif_after_lzw, lambda rng: b""),
    "png-idat-tail": (png_idat_tail, lambda rng: b""),
    "png-late-idat": (png_late_idat, lambda rng: b""),
    "webp-vp8x-tail": (webp_vp8x_tail, lambda rng: b""),
    "webp-unknown-chunk": (webp_unknown_chunk, lambda rng: rng.randbytes(rng.randint(16, 300))),
    "tiff-gap": (lambda rng, p: ("tif", tiff_gray(rng, gap=p)), lambda rng: bytes(2)),
    "tiff-private-tag": (
        lambda rng, p: ("tif", tiff_gray(rng, private=p)),
        lambda rng: rng.randbytes(rng.randint(64, 2048)),
    ),
    "tiff-zero-count-strip": (
        lambda rng, p: ("tif", tiff_gray(rng, zero_count=True, after_strip=p)),
        lambda rng: b"",
    ),
    "heif-free-box": (
        lambda rng, p: heif_box(rng, b"free", p),
        lambda rng: bytes(rng.choice([16, 256, 4096])),
    ),
    "heif-unknown-box": (lambda rng, p: heif_box(rng, b"zzzz", p), lambda rng: b"\x00" * 8),
    "heif-mdat-tail": (heif_mdat_tail, lambda rng: b""),
    "jpeg-stray-bytes": (jpeg_stray, lambda rng: b""),
    "jpeg-mpf-gap": (jpeg_mpf_gap, lambda rng: bytes(rng.choice([0, 8, 16]))),
    "jpeg-htc-block": (jpeg_htc, lambda rng: b""),
    "jpeg-minolta-preview": (jpeg_minolta_preview, lambda rng: b""),
    "jpeg-before-final-image": (jpeg_final_image, lambda rng: b""),
    "after-new-walker-formats": (appended_to_other_format, lambda rng: b""),
    "exr-comments": (
        lambda rng, p: ("exr", exr_bytes(rng, tiled=rng.random() < 0.5, comments=p)),
        lambda rng: rng.choice([b"Rendered in Blender 4.2", b"plate 0042, grade v3", b"ACES"]),
    ),
    "exr-before-chunks": (lambda rng, p: ("exr", exr_bytes(rng, gap=p)), lambda rng: b""),
    "xcf-parasite": (
        lambda rng, p: ("xcf", xcf_bytes(rng, rng.choice([0, 3]), comment=p)),
        lambda rng: rng.choice([b"Created with GIMP", b"logo draft 3, do not print"]),
    ),
}
# Benign fillers that are not "the same picture, nothing hidden" but another normal shape.
_BENIGN_INJECT: dict[str, Callable[[random.Random, bytes], tuple[str, bytes]]] = {
    "ico-entry": lambda rng, p: ico_entries(rng, p),
    "png-late-idat": lambda rng, p: png_late_idat(rng, None),
    "tiff-zero-count-strip": lambda rng, p: ("tif", tiff_gray(rng)),
    "heif-mdat-tail": lambda rng, p: ("heic", heic_bytes(rng)),
    "heif-unknown-box": lambda rng, p: ("heic", heic_bytes(rng)),
}


def _stem(rng: random.Random) -> str:
    return rng.choice(["IMG_{n:04d}", "scan_{n}", "photo_{n}", "xray-{n}"]).format(
        n=rng.randint(1, 9999)
    )


def _hidden(place: str, kinds: tuple[str, ...]) -> Maker:
    inject = PLACES[place][0]

    def make(rng: random.Random) -> tuple[str, bytes, str]:
        kind = rng.choice(kinds)
        ext, data = inject(rng, pay.TRAILER_PAYLOADS[kind](rng))
        return f"{_stem(rng)}.{ext}", data, f"{kind} hidden in {place}"

    return make


def _benign(place: str) -> Maker:
    inject, filler = PLACES[place]
    inject = _BENIGN_INJECT.get(place, inject)

    def make(rng: random.Random) -> tuple[str, bytes, str]:
        ext, data = inject(rng, filler(rng))
        return f"{_stem(rng)}.{ext}", data, f"normal {place}"

    return make


def _benign_extra(rng: random.Random) -> tuple[str, bytes, str]:
    """Shapes that must stay clean: a multi-MB ICC profile, a vendor uuid box, TIFF pages,
    an animated AVIF."""
    roll = rng.randrange(4)
    if roll == 3:
        frames = [img.photo_image(rng, (48, 32)) for _ in range(rng.randint(2, 4))]
        data = img._save(frames[0], "AVIF", save_all=True, append_images=frames[1:])
        return f"{_stem(rng)}.avif", data, "animated AVIF (track samples in mdat)"
    if roll == 0:
        ext, data = png_big_icc(rng)
        return f"{_stem(rng)}.{ext}", data, "PNG with a multi-MB printer ICC profile"
    if roll == 1:
        ext, data = heif_box(rng, b"uuid", rng.randbytes(16) + rng.randbytes(rng.randint(8, 900)))
        return f"{_stem(rng)}.{ext}", data, "HEIC with a vendor uuid box"
    pages = [img.photo_image(rng, small_size(rng)) for _ in range(rng.randint(2, 4))]
    data = img._save(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    return f"{_stem(rng)}.tif", data, f"{len(pages)}-page TIFF"


def _bomb(rng: random.Random) -> tuple[str, bytes, str]:
    """Bomb headers the pixel count alone misses (each is over the reject threshold)."""
    roll = rng.randrange(4)
    if roll == 3:
        side = rng.choice([20000, 40000, 65000])
        return f"{_stem(rng)}.jpg", jpeg_dnl(side, side), f"JPEG height 0 + DNL {side}"
    if roll == 0:
        offset = rng.choice([20000, 40000, 65000])
        return f"{_stem(rng)}.gif", gif_frame_outside_screen(offset), f"GIF frame at {offset}"
    if roll == 1:
        side = rng.choice([20000, 30000])
        return f"{_stem(rng)}.ico", ico_dib_bomb(side, side), f"ICO DIB {side}x{side}"
    side = rng.choice([12000, 16000])  # 16-bit RGBA: 8 bytes/pixel, 144-256 Mpx -> > 716 MB
    return f"{_stem(rng)}.png", png_decoded_bomb(side, side), f"PNG 16-bit RGBA {side}x{side}"


def _decoded_warn(rng: random.Random) -> tuple[str, bytes, str]:
    """9400x9400 RGBA16: 88.4 Mpx (under the pixel warn threshold) but 707 MB decoded."""
    side = rng.choice([9400, 9000, 8500])
    return f"{_stem(rng)}.png", png_decoded_bomb(side, side), f"PNG 16-bit RGBA {side}x{side}"


def _scans(rng: random.Random) -> tuple[str, bytes, str]:
    """A small progressive JPEG with far more scans than any encoder writes (decode DoS)."""
    count = rng.choice([600, 1000, 2000])
    return f"{_stem(rng)}.jpg", jpeg_scans(count), f"progressive JPEG with {count} scans"


def _blob(rng: random.Random) -> tuple[str, bytes, str]:
    """An encrypted-looking blob in a hiding place: flagged, not quarantined."""
    place = rng.choice(["bmp-gap", "gif-after-lzw", "tiff-gap", "heif-free-box", "png-idat-tail"])
    ext, data = PLACES[place][0](rng, rng.randbytes(rng.randint(2048, 16384)))
    return f"{_stem(rng)}.{ext}", data, f"random blob hidden in {place}"


def _recipes() -> tuple[tuple[str, bool, int, Maker], ...]:
    rows: list[tuple[str, bool, int, Maker]] = []
    for place in PLACES:
        rows.append((f"benign/walker-{place}", False, 8, _benign(place)))
        rows.append((f"malicious/hidden-{place}", True, 8, _hidden(place, QUARANTINE_PAYLOADS)))
    rows.append(("benign/walker-normal-shapes", False, 12, _benign_extra))
    rows.append(("malicious/hidden-blob", True, 10, _blob))
    rows.append(("malicious/bomb-hidden-size", True, 9, _bomb))
    rows.append(("malicious/bomb-decoded-size", True, 6, _decoded_warn))
    rows.append(("malicious/bomb-jpeg-scans", True, 6, _scans))
    return tuple(rows)


RECIPES: tuple[Recipe, ...] = tuple(Recipe(*row) for row in _recipes())
EXPECTED_VERDICT: dict[str, str] = {r.category: "quarantine" for r in RECIPES if r.malicious}
EXPECTED_VERDICT["malicious/hidden-blob"] = "flag"
EXPECTED_VERDICT["malicious/bomb-decoded-size"] = "flag"
EXPECTED_VERDICT["malicious/bomb-jpeg-scans"] = "flag"
