"""Benign segments, chunks and endings real writers put in pictures (the benign hunt).

Every shape here was built from its format's specification or a writer's documented
layout and scanned clean; the recipes in `bench.eval_writers` keep them clean:

* JPEG: a C2PA manifest (JUMBF boxes in APP11, ISO/IEC 19566-5, split over several
  segments as Pixel, Samsung, Leica and Adobe write it), a motion-JPEG frame (APP0
  `AVI1`, no DHT: webcams, endoscopes, intra-oral cameras), JFXX thumbnails, Photoshop
  Save-for-Web APP12 `Ducky` and APP14 `Adobe`, Kodak/Casio FlashPix APP2 `FPXR`, an
  XMP packet holding a base64 JPEG thumbnail;
* PNG: Apple's `iDOT`, Photoshop's `caNv`/`orNt`, ImageMagick's `vpAg`, Fireworks'
  `prVW`/`mkBF`/`mkTS`/`mkBS`/`mkBT`, C2PA `caBX`, and the registered `sTER`/`sCAL`/
  `oFFs`/`pCAL`/`gIFg` chunks;
* GIF: a plain-text extension, an `ICCRGBG1` colour profile and `ANIMEXTS1.0` loop;
* BMP: a BITMAPV5HEADER with its ICC profile after the pixels (PROFILE_EMBEDDED);
* endings a transfer or an editor adds: a newline or CR LF, a second EOI, 0xFF fill.
"""

from __future__ import annotations

import base64
import random
import struct
import zlib

from bench import eval_images as img

_JUMBF_C2PA_UUID = bytes.fromhex("6332706100110010800000aa00389b71")  # "c2pa" + ISO suffix
_JUMBF_CBOR_UUID = bytes.fromhex("63626f7200110010800000aa00389b71")  # "cbor"
APP_MAX_PAYLOAD = 65_533 - 8  # bytes of JUMBF per APP11 segment after its 8-byte JP header


def _segment(marker: int, body: bytes) -> bytes:
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(body) + 2) + body


def _box(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data) + 8) + kind + data


def _after_soi(jpeg: bytes, segments: bytes) -> bytes:
    return jpeg[:2] + segments + jpeg[2:]


def c2pa_manifest(rng: random.Random) -> bytes:
    """A JUMBF superbox `c2pa` holding one manifest with CBOR claims and a signature."""
    description = _box(b"jumd", _JUMBF_C2PA_UUID + b"\x03c2pa\x00")
    claim = _box(b"jumd", _JUMBF_CBOR_UUID + b"\x03c2pa.claim\x00")
    signature = _box(b"jumd", _JUMBF_CBOR_UUID + b"\x03c2pa.signature\x00")
    cbor_claim = b"\xa3" + b"\x69dc:format\x6aimage/jpeg" + rng.randbytes(rng.randint(200, 3000))
    cose = rng.randbytes(rng.randint(2000, 90_000))  # certificate chain + signature (DER)
    manifest = _box(
        b"jumb",
        _box(b"jumd", _JUMBF_C2PA_UUID + b"\x03urn:uuid:" + rng.randbytes(8).hex().encode())
        + _box(b"jumb", claim + _box(b"cbor", cbor_claim))
        + _box(b"jumb", signature + _box(b"cbor", cose)),
    )
    return _box(b"jumb", description + manifest)


def c2pa_app11(manifest: bytes) -> bytes:
    """JPEG APP11 segments: `JP`, instance 1, packet sequence; later ones repeat the box header."""
    segments = []
    for number, at in enumerate(range(0, len(manifest), APP_MAX_PAYLOAD), start=1):
        part = manifest[at : at + APP_MAX_PAYLOAD]
        header = b"JP" + struct.pack(">HI", 1, number)
        segments.append(_segment(0xEB, header + (manifest[:8] if number > 1 else b"") + part))
    return b"".join(segments)


def _strip_huffman_tables(jpeg: bytes) -> bytes:
    """The same JPEG without its APP0 and DHT segments (a motion-JPEG frame)."""
    out, pos = bytearray(jpeg[:2]), 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF:
        marker = jpeg[pos + 1]
        if marker == 0xDA:
            break
        length = struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
        if marker not in (0xC4, 0xE0):
            out += jpeg[pos : pos + 2 + length]
        pos += 2 + length
    return bytes(out + jpeg[pos:])


def jpeg_vendor_segments(rng: random.Random) -> tuple[bytes, str]:
    """A Pillow JPEG carrying one writer's segments."""
    photo = img.photo_image(rng, img.pick_size(rng))
    jpeg = img._save(photo, "JPEG", quality=rng.randint(60, 95))
    kind = rng.choice(["c2pa", "mjpeg", "jfxx", "ducky", "fpxr", "xmp-thumb"])
    thumb = img._save(photo.resize((80, 60)), "JPEG", quality=60)
    if kind == "c2pa":
        return jpeg[:20] + c2pa_app11(c2pa_manifest(rng)) + jpeg[20:], "C2PA APP11"
    if kind == "mjpeg":
        frame = _strip_huffman_tables(img._save(photo, "JPEG", quality=80))
        return _after_soi(frame, _segment(0xE0, b"AVI1" + bytes(10))), "AVI1 frame, no DHT"
    if kind == "jfxx":
        return jpeg[:20] + _segment(0xE0, b"JFXX\x00\x10" + thumb) + jpeg[20:], "JFXX thumbnail"
    if kind == "ducky":
        ducky = _segment(0xEC, b"Ducky\x00\x01\x00\x04\x00\x00\x00\x50\x00\x00")
        adobe = _segment(0xEE, b"Adobe\x00\x64\x80\x00\x00\x00\x01")
        return _after_soi(jpeg, ducky + adobe), "Ducky + Adobe"
    if kind == "fpxr":
        contents = b"FPXR\x00\x00\x01" + struct.pack(">HI", 1, 16) + "Contents".encode("utf-16le")
        stream = b"FPXR\x00\x02\x01" + struct.pack(">HI", 0, 0) + rng.randbytes(3000)
        return _after_soi(jpeg, _segment(0xE2, contents) + _segment(0xE2, stream)), "FPXR"
    return _after_soi(jpeg, _segment(0xE1, img.XMP_SIGNATURE + xmp_thumbnail(thumb))), kind


def xmp_thumbnail(thumb: bytes) -> bytes:
    """An XMP packet with `xmp:Thumbnails` (Illustrator, InDesign, Bridge)."""
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmlns:xmpGImg="http://ns.adobe.com/xap/1.0/g/img/"><xmp:Thumbnails><rdf:Alt>'
        '<rdf:li rdf:parseType="Resource"><xmpGImg:format>JPEG</xmpGImg:format>'
        f"<xmpGImg:image>{base64.b64encode(thumb).decode()}</xmpGImg:image></rdf:li>"
        "</rdf:Alt></xmp:Thumbnails></rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


def png_writer_chunks(rng: random.Random) -> tuple[bytes, str]:
    """A Pillow PNG with the private and registered chunks editors add before IDAT."""
    png = img._save(img.photo_image(rng, img.pick_size(rng)), "PNG")
    chunk = img._png_chunk
    kind = rng.choice(["apple", "photoshop", "fireworks", "c2pa", "registered"])
    chunks = {
        "apple": [chunk(b"iDOT", struct.pack(">IIIIII", 2, 0, 75, 75, 75, 0x1000))],
        "photoshop": [
            chunk(b"caNv", struct.pack(">IIii", 200, 150, 0, 0)),
            chunk(b"orNt", b"\x01"),
            chunk(b"vpAg", struct.pack(">IIB", 200, 150, 0)),
        ],
        "fireworks": [
            chunk(b"prVW", zlib.compress(bytes(rng.randrange(40) for _ in range(8000)))),
            chunk(b"mkBF", rng.randbytes(rng.randint(500, 5000))),
            chunk(b"mkTS", zlib.compress(b"Fireworks layer " * 100)),
            chunk(b"mkBS", zlib.compress(bytes(range(256)) * 20)),
            chunk(b"mkBT", rng.randbytes(rng.randint(2000, 60_000))),
        ],
        "c2pa": [chunk(b"caBX", c2pa_manifest(rng))],
        "registered": [
            chunk(b"sTER", b"\x00"),
            chunk(b"sCAL", b"\x011.0\x001.0"),
            chunk(b"oFFs", struct.pack(">iiB", 0, 0, 0)),
            chunk(b"pCAL", b"temp\x00" + struct.pack(">iiBB", 0, 255, 0, 2) + b"C\x000\x00100"),
            chunk(b"gIFg", b"\x00\x00\x0a\x00"),
        ],
    }[kind]
    return png[:33] + b"".join(chunks) + png[33:], f"png {kind} chunks"


def gif_extensions(rng: random.Random) -> tuple[bytes, str]:
    """A GIF with a plain-text extension, an ICC profile and an ANIMEXTS loop block."""
    gif = img._save(img.photo_image(rng, img.pick_size(rng)).quantize(16), "GIF")
    text = b"\x05Hello\x00"
    plain = b"\x21\x01\x0c" + struct.pack("<HHHHBBBB", 0, 0, 40, 10, 8, 8, 1, 0) + text
    profile = img.SRGB_ICC
    blocks = b"".join(
        bytes([len(profile[i : i + 255])]) + profile[i : i + 255]
        for i in range(0, len(profile), 255)
    )
    icc = b"\x21\xff\x0bICCRGBG1012" + blocks + b"\x00"
    loop = b"\x21\xff\x0bANIMEXTS1.0\x03\x01\x00\x00\x00"
    return gif[:-1] + plain + icc + loop + gif[-1:], "gif plain text + ICC + ANIMEXTS"


def bmp_v5_profile(rng: random.Random) -> tuple[bytes, str]:
    """BITMAPV5HEADER, 24-bit, with PROFILE_EMBEDDED: the ICC profile after the pixels."""
    width, height = rng.randint(1, 120), rng.randint(1, 90)
    pixels = rng.randbytes(((width * 3 + 3) & ~3) * height)
    profile = img.SRGB_ICC
    header_size = 124
    info = struct.pack(
        "<IiiHHIIiiII", header_size, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0
    )
    info += bytes(16) + b"MBED" + bytes(48)  # masks, CSType PROFILE_EMBEDDED, endpoints, gamma
    info += struct.pack("<IIII", 4, header_size + len(pixels), len(profile), 0)  # intent...
    offset = 14 + header_size
    file_header = b"BM" + struct.pack("<IHHI", offset + len(pixels) + len(profile), 0, 0, offset)
    return file_header + info + pixels + profile, f"bmp v5 icc {width}x{height}"


def transfer_ending(rng: random.Random) -> tuple[bytes, str]:
    """A JPEG or PNG with the few bytes a transfer or an editor adds after its end."""
    ending = rng.choice([b"\n", b"\r\n", b"\xff\xd9", b"\xff" * rng.randint(1, 64)])
    if ending.startswith(b"\xff"):
        data = img._save(img.photo_image(rng, img.pick_size(rng)), "JPEG")
        return data + ending, f"jpeg + {ending[:4]!r}"
    data = img._save(img.photo_image(rng, img.pick_size(rng)), rng.choice(["JPEG", "PNG"]))
    return data + ending, f"{data[1:4]!r} + {ending!r}"
