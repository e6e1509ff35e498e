"""Deterministic builder of benign/malicious sample pairs for the non-JPEG formats.

Real images are made with Pillow (or assembled byte by byte where Pillow has no writer:
DICOM, hand-made ISO-BMFF boxes); the malicious twin is the same image with a payload
(ZIP, JAR, PE, HTML, PHP) appended after the format's logical end, or hidden in its
metadata. Every `Sample` says where the image's own structure ends, so tests can assert
the walker's `end` exactly.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, PngImagePlugin

FIXED_ZIP_TIME = (2024, 1, 2, 3, 4, 6)


@dataclass(frozen=True)
class Sample:
    """One generated file. `end` is where the image's own structure ends."""

    name: str
    fmt: str
    data: bytes
    end: int
    payload: str | None = None  # kind of appended/hidden payload ("zip", "pe", "php"...)


# --- payloads -------------------------------------------------------------------------------


def zip_payload() -> bytes:
    """A small ZIP archive with a fixed timestamp (byte-identical on every run)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("readme.txt", FIXED_ZIP_TIME)
        archive.writestr(info, "hello from inside the picture\n" * 4)
    return out.getvalue()


def jar_payload() -> bytes:
    """A JAR-shaped ZIP (manifest + a fake class file)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        manifest = zipfile.ZipInfo("META-INF/MANIFEST.MF", FIXED_ZIP_TIME)
        archive.writestr(manifest, "Manifest-Version: 1.0\nMain-Class: Evil\n")
        archive.writestr(
            zipfile.ZipInfo("Evil.class", FIXED_ZIP_TIME), b"\xca\xfe\xba\xbe" + bytes(60)
        )
    return out.getvalue()


def pe_payload(e_lfanew: int = 0x80) -> bytes:
    """A minimal PE image header: DOS header with e_lfanew -> `PE\\0\\0` + COFF header."""
    dos = bytearray(e_lfanew)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, e_lfanew)
    coff = struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, 0xE0, 0x0102)
    return bytes(dos) + b"PE\x00\x00" + coff + bytes(0xE0)


HTML_PAYLOAD = (
    b"<html><body><script>document.location='http://evil.example/'</script></body></html>"
)
PHP_PAYLOAD = b'<?php system($_GET["cmd"]); ?>'

PAYLOADS: dict[str, Callable[[], bytes]] = {
    "zip": zip_payload,
    "jar": jar_payload,
    "pe": pe_payload,
    "html": lambda: HTML_PAYLOAD,
    "php": lambda: PHP_PAYLOAD,
}


# --- images ---------------------------------------------------------------------------------


def gradient(size: tuple[int, int] = (24, 16), mode: str = "RGB") -> Image.Image:
    """A deterministic test picture (a colour gradient)."""
    width, height = size
    image = Image.new("RGB", size)
    image.putdata(
        [(x * 255 // width, y * 255 // height, 128) for y in range(height) for x in range(width)]
    )
    return image.convert(mode)


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def png_bytes(
    text: dict[str, str] | None = None,
    ztxt: dict[str, str] | None = None,
    itxt: dict[str, str] | None = None,
) -> bytes:
    """A PNG with optional tEXt / zTXt / compressed iTXt chunks."""
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    for key, value in (ztxt or {}).items():
        info.add_text(key, value, zip=True)
    for key, value in (itxt or {}).items():
        info.add_itxt(key, value, zip=True)
    return _save(gradient(), "PNG", pnginfo=info)


def png_chunk(chunk_type: bytes, data: bytes) -> bytes:
    """One PNG chunk with a correct CRC."""
    return (
        struct.pack(">I", len(data))
        + chunk_type
        + data
        + struct.pack(">I", zlib.crc32(chunk_type + data))
    )


def apng_bytes(frames: int = 3) -> bytes:
    """An animated PNG (acTL/fcTL/fdAT) made by Pillow."""
    images = [gradient().rotate(10 * i) for i in range(frames)]
    return _save(images[0], "PNG", save_all=True, append_images=images[1:], duration=100)


def gif_bytes(comment: bytes | None = None, frames: int = 1) -> bytes:
    """A GIF89a (optionally animated, optionally with a comment extension)."""
    images = [gradient().convert("P").rotate(15 * i) for i in range(frames)]
    options: dict[str, object] = {"save_all": frames > 1, "append_images": images[1:]}
    if comment is not None:
        options["comment"] = comment
    return _save(images[0], "GIF", **options)


def webp_bytes(lossless: bool = False, exif: bytes | None = None) -> bytes:
    """A WebP (lossy VP8 or lossless VP8L; with EXIF it becomes VP8X)."""
    options: dict[str, object] = {"lossless": lossless, "quality": 80}
    if exif is not None:
        options["exif"] = exif
    return _save(gradient(), "WEBP", **options)


def bmp_bytes(mode: str = "RGB") -> bytes:
    """An uncompressed BMP (24-bit RGB, 8-bit palette or 1-bit)."""
    return _save(gradient(mode=mode), "BMP")


def tiff_bytes(description: str = "clinic photo", compression: str = "raw") -> bytes:
    """A little-endian TIFF with an ImageDescription tag."""
    return _save(gradient(), "TIFF", description=description, compression=compression)


def ico_bytes() -> bytes:
    """A multi-size ICO (Pillow stores PNG images in it)."""
    return _save(gradient((64, 64)), "ICO", sizes=[(16, 16), (32, 32), (64, 64)])


def avif_bytes() -> bytes:
    """A small AVIF made by Pillow's AVIF plugin."""
    return _save(gradient((16, 16)), "AVIF", quality=60)


def box(box_type: bytes, payload: bytes) -> bytes:
    """One ISO-BMFF box with a 32-bit size."""
    return struct.pack(">I", 8 + len(payload)) + box_type + payload


def heif_bytes(width: int = 640, height: int = 480, trailing_boxes: bytes = b"") -> bytes:
    """A hand-assembled HEIF skeleton: ftyp, meta (ispe), mdat, then optional extra boxes."""
    ftyp = box(b"ftyp", b"heic" + bytes(4) + b"mif1heic")
    ispe = box(b"ispe", bytes(4) + struct.pack(">II", width, height))
    meta = box(
        b"meta",
        bytes(4) + box(b"hdlr", bytes(8) + b"pict" + bytes(13)) + box(b"iprp", box(b"ipco", ispe)),
    )
    mdat = box(b"mdat", bytes(range(256)) * 4)
    return ftyp + meta + mdat + trailing_boxes


def motion_photo_heif() -> bytes:
    """HEIF with Samsung-style trailing boxes: free, mpvd (a 64-bit-size box) and sefd."""
    video = box(b"ftyp", b"mp42" + bytes(4) + b"isommp42") + box(b"mdat", bytes(512))
    mpvd = struct.pack(">I", 1) + b"mpvd" + struct.pack(">Q", 16 + len(video)) + video
    sefd = box(b"sefd", b"\x00\x00\x01\x0a\x0e\x00\x00\x00Image_UTC_Data1700000000000")
    return heif_bytes(trailing_boxes=box(b"free", bytes(64)) + mpvd + sefd)


# --- DICOM ----------------------------------------------------------------------------------


def dicom_element(group: int, element: int, vr: bytes, value: bytes) -> bytes:
    """One explicit-VR little-endian data element (value padded to even length)."""
    if len(value) % 2:
        value += b"\x00" if vr in (b"OB", b"UI") else b" "
    if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT"):
        return (
            struct.pack("<HH", group, element)
            + vr
            + b"\x00\x00"
            + struct.pack("<I", len(value))
            + value
        )
    return struct.pack("<HH", group, element) + vr + struct.pack("<H", len(value)) + value


def implicit_dicom_element(group: int, element: int, value: bytes) -> bytes:
    """One implicit-VR little-endian data element (value padded to even length)."""
    value += b"\x00" * (len(value) % 2)
    return struct.pack("<HHI", group, element, len(value)) + value


DICOM_PIXELS = dicom_element(0x7FE0, 0x0010, b"OW", bytes(range(32)))  # the 4x4 image


def _dicom_meta(transfer_syntax: bytes) -> bytes:
    meta_body = (
        dicom_element(0x0002, 0x0001, b"OB", b"\x00\x01")
        + dicom_element(0x0002, 0x0002, b"UI", b"1.2.840.10008.5.1.4.1.1.7")
        + dicom_element(0x0002, 0x0003, b"UI", b"1.2.3.4.5.6.7.8.9")
        + dicom_element(0x0002, 0x0010, b"UI", transfer_syntax)
    )
    return dicom_element(0x0002, 0x0000, b"UL", struct.pack("<I", len(meta_body))) + meta_body


def dicom_bytes(
    preamble: bytes = bytes(128),
    private_blob: bytes | None = None,
    transfer_syntax: bytes = b"1.2.840.10008.1.2.1",
    extra_elements: bytes = b"",
    pixel_element: bytes = DICOM_PIXELS,
) -> bytes:
    """A small explicit-VR LE DICOM file: preamble, DICM, File Meta group, a 4x4 image.

    `extra_elements` go just before `pixel_element` (the last element), so their tags must
    lie between (0028,0011) and (7FE0,0010) to keep the dataset in ascending order.
    """
    meta = _dicom_meta(transfer_syntax)
    dataset = b""
    if private_blob is not None:
        dataset += dicom_element(0x0009, 0x0010, b"LO", b"ACME PRIVATE")
        dataset += dicom_element(0x0009, 0x1000, b"OB", private_blob)
    dataset += (
        dicom_element(0x0010, 0x0010, b"PN", b"Doe^Jane")
        + dicom_element(0x0028, 0x0008, b"IS", b"1")
        + dicom_element(0x0028, 0x0010, b"US", struct.pack("<H", 4))
        + dicom_element(0x0028, 0x0011, b"US", struct.pack("<H", 4))
        + extra_elements
        + pixel_element
    )
    return preamble[:128].ljust(128, b"\x00") + b"DICM" + meta + dataset


def implicit_dicom_bytes(pixel_data: bytes | None = bytes(range(32))) -> bytes:
    """The same 4x4 image in implicit-VR little endian (no pixel data element when None)."""
    dataset = (
        implicit_dicom_element(0x0008, 0x0060, b"OT")
        + implicit_dicom_element(0x0010, 0x0010, b"Doe^Jane")
        + implicit_dicom_element(0x0028, 0x0010, struct.pack("<H", 4))
        + implicit_dicom_element(0x0028, 0x0011, struct.pack("<H", 4))
    )
    if pixel_data is not None:
        dataset += implicit_dicom_element(0x7FE0, 0x0010, pixel_data)
    return bytes(128) + b"DICM" + _dicom_meta(b"1.2.840.10008.1.2") + dataset


def pe_dicom_bytes() -> bytes:
    """PE-DICOM like the public PoC: `MZ` preamble, e_lfanew into a private OB element."""
    pe_headers = pe_payload(0x40)[0x40:]  # `PE\0\0` + COFF header + optional-header space
    placeholder = b"\xa5" * len(pe_headers)
    value_at = dicom_bytes(private_blob=placeholder).index(placeholder)
    preamble = bytearray(128)
    preamble[0:2] = b"MZ"
    struct.pack_into("<I", preamble, 0x3C, value_at)
    return dicom_bytes(preamble=bytes(preamble), private_blob=pe_headers)


# --- SVG ------------------------------------------------------------------------------------

SVG_BENIGN = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     width="120" height="80">
  <defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/>
    <stop offset="1" stop-color="#09c"/></linearGradient></defs>
  <rect width="120" height="80" fill="url(#g)" style="stroke:#333"/>
  <use xlink:href="#g"/>
  <image href="data:image/png;base64,iVBORw0KGgo=" width="1" height="1"/>
  <a href="https://clinic.example/"><text x="4" y="40">Clinic logo</text></a>
</svg>
"""

SVG_MALICIOUS = {
    "svg.script": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "svg.event_handler": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>',
    "svg.javascript_url": (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        b'<a xlink:href=" JaVa\tScRiPt:alert(1)"><rect/></a></svg>'
    ),
    # a credential form: active HTML (plain text labels in a foreignObject are not a finding)
    "svg.foreign_object": (
        b'<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><body xmlns="http://www.w3.org/1999/xhtml">'
        b'<form><p>Log in</p><input type="password" name="pw"/></form></body></foreignObject></svg>'
    ),
    "svg.external_reference": (
        b'<svg xmlns="http://www.w3.org/2000/svg"><image href="https://evil.example/track.png"/></svg>'
    ),
    "svg.external_entity": (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>'
    ),
    "svg.entity_declaration": (  # an entity that expands other entities (billion laughs)
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>'
    ),
}


# --- pairs ----------------------------------------------------------------------------------


def _appended(name: str, fmt: str, image: bytes, payload: str) -> Sample:
    return Sample(f"{name}+{payload}", fmt, image + PAYLOADS[payload](), len(image), payload)


def appended_pairs() -> list[tuple[Sample, Sample]]:
    """(benign, malicious) pairs where the payload follows the image's logical end."""
    images = {
        ("png", "png"): png_bytes(text={"Comment": "routine scan"}),
        ("apng", "png"): apng_bytes(),
        ("gif", "gif"): gif_bytes(frames=2),
        ("webp-lossy", "webp"): webp_bytes(),
        ("webp-lossless", "webp"): webp_bytes(lossless=True),
        ("bmp-24bit", "bmp"): bmp_bytes(),
        ("bmp-palette", "bmp"): bmp_bytes("P"),
        ("bmp-1bit", "bmp"): bmp_bytes("1"),
        ("tiff", "tiff"): tiff_bytes(),
        ("heif", "heif"): heif_bytes(),
        ("heif-motion", "heif"): motion_photo_heif(),
        ("avif", "avif"): avif_bytes(),
        ("ico", "ico"): ico_bytes(),
        ("dicom", "dicom"): dicom_bytes(),
    }
    payload_cycle = ["zip", "jar", "pe", "html", "php"]
    pairs = []
    for i, ((name, fmt), data) in enumerate(images.items()):
        benign = Sample(name, fmt, data, len(data))
        pairs.append((benign, _appended(name, fmt, data, payload_cycle[i % len(payload_cycle)])))
    return pairs


def metadata_pairs() -> list[tuple[Sample, Sample]]:
    """(benign, malicious) pairs where PHP hides in text metadata instead of a trailer."""
    php = PHP_PAYLOAD.decode()
    pairs = []
    for name, kwargs in (("tEXt", "text"), ("zTXt", "ztxt"), ("iTXt", "itxt")):
        benign = png_bytes(**{kwargs: {"Comment": "routine scan"}})
        evil = png_bytes(**{kwargs: {"Comment": php}})
        pairs.append(
            (
                Sample(f"png-{name}", "png", benign, len(benign)),
                Sample(f"png-{name}+php", "png", evil, len(evil), "php"),
            )
        )
    benign_gif = gif_bytes(comment=b"routine scan")
    evil_gif = gif_bytes(comment=PHP_PAYLOAD)
    pairs.append(
        (
            Sample("gif-comment", "gif", benign_gif, len(benign_gif)),
            Sample("gif-comment+php", "gif", evil_gif, len(evil_gif), "php"),
        )
    )
    return pairs
