"""Benign image makers for the evaluation corpus: what clinics really receive.

Every maker takes a seeded `random.Random` and returns `(bytes, note)`: a real file written
by Pillow (or pillow-heif), or assembled byte by byte where no writer exists (interlaced
and 16-bit PNG, Exif with a thumbnail, DICOM, SVG), with options drawn at random: sizes
from 1x1 to a few thousand pixels, quality, progressive, subsampling, restart intervals,
ICC profiles, Exif/XMP/comments in several languages, animation.
"""

from __future__ import annotations

import base64
import io
import random
import struct
import zlib

from PIL import Image, ImageCms, ImageDraw, PngImagePlugin

try:  # HEIC needs pillow-heif's encoder; the corpus simply has no HEIC without it
    import pillow_heif

    pillow_heif.register_heif_opener()
    HAVE_HEIF = True
except Exception:  # pragma: no cover - depends on the machine
    HAVE_HEIF = False

SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP_SIGNATURE = b"http://ns.adobe.com/xap/1.0/\x00"

# Ordinary prose a clinic's pictures carry (descriptions, comments, software names), with
# words a naive filter trips over ("script", "php", "alert (", "eval (", URLs, "<3").
PROSE = (
    "Patient follow-up photo, left knee, day 14.",
    "Prescription script renewed; photo of rash taken by Dr. Evans.",
    "Uploaded via https://portal.example-clinic.org/upload.php?id=1234",
    "Allergy alert (penicillin) - see chart before treatment.",
    "Post-op wound eval (day 3), healing well.",
    "Scanned with CamScanner",
    "Copyright (c) 2024 Riverside Dental. All rights reserved.",
    "Adobe Photoshop 25.0 (Windows)",
    "Our booking system sends reminders; call 555-0100 to reschedule.",
    "Lesion size < 5 mm, margin > 2 mm. Kids <3 the waiting room fish.",
    "Exported from the PHP-based records system (v4.2) for referral.",
    "Shot on Pixel 8 Pro - Night Sight",
    "Java, Python and JavaScript workshop flyer for staff training.",
    "صورة المريض بعد العملية - الأسبوع الثاني",
    "תמונה של המרפאה לאחר השיפוץ",
    "患者术后照片，右手，第二周复诊",
    "診察室の写真（2024年1月）",
    "Привет из клиники! Фото рентгена.",
    "Birthday at the clinic 🎂🎉 with the whole team 😀",
    "Dr. Müller – Röntgenaufnahme, Zahn 36",
)
MAKES = (
    ("Apple", "iPhone 15 Pro"),
    ("samsung", "SM-S918B"),
    ("Google", "Pixel 8"),
    ("Canon", "Canon EOS R6"),
    ("NIKON CORPORATION", "NIKON Z 6"),
    ("SONY", "ILCE-7M4"),
    ("FUJIFILM", "X-T5"),
    ("HUAWEI", "ELS-NX9"),
    ("Xiaomi", "2201123G"),
)
COMMENTS = (
    b"CREATOR: gd-jpeg v1.0 (using IJG JPEG v80), quality = 90\n",
    b"Created with GIMP",
    b"LEAD Technologies Inc. V1.01",
    b"Optimized by JPEGmini 3.14.2.84235 0x0e8d0c1a",
    b"AppleMark\n",
    b"File written by Adobe Photoshop\xa8 4.0",
)


# --- pixels ---------------------------------------------------------------------------------


def pick_size(rng: random.Random, large: bool = False) -> tuple[int, int]:
    """A picture size: mostly small to medium, sometimes tiny, rarely camera-sized."""
    if large:
        return rng.randint(1600, 3000), rng.randint(1200, 2400)
    roll = rng.random()
    if roll < 0.08:
        return rng.choice([(1, 1), (1, 7), (3, 2), (8, 8), (16, 9)])
    if roll < 0.75:
        return rng.randint(17, 320), rng.randint(17, 320)
    return rng.randint(320, 1024), rng.randint(240, 900)


def photo_image(rng: random.Random, size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A photo-like picture: smooth random colour fields, shapes and a little sensor noise."""
    width, height = size
    small_w, small_h = max(1, width // 24 + 1), max(1, height // 24 + 1)
    base = Image.frombytes("RGB", (small_w, small_h), rng.randbytes(3 * small_w * small_h))
    image = base.resize(size, Image.Resampling.BICUBIC)
    if width >= 8 and height >= 8:
        draw = ImageDraw.Draw(image)
        for _ in range(rng.randint(0, 6)):
            x0, y0 = rng.randrange(width), rng.randrange(height)
            box = (x0, y0, x0 + rng.randint(1, width), y0 + rng.randint(1, height))
            fill = tuple(rng.randrange(256) for _ in range(3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
    noise = Image.frombytes("L", size, rng.randbytes(width * height)).convert("RGB")
    image = Image.blend(image, noise, rng.choice([0.02, 0.06, 0.12]))
    return image.convert(mode) if mode != "RGB" else image


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


# --- Exif / XMP -----------------------------------------------------------------------------


def exif_block(rng: random.Random) -> Image.Exif:
    """Camera Exif: Make/Model/DateTime/Software, sometimes a description, GPS, UserComment."""
    exif = Image.Exif()
    make, model = rng.choice(MAKES)
    exif[0x010F], exif[0x0110] = make, model
    exif[0x0132] = (
        f"2024:{rng.randint(1, 12):02d}:{rng.randint(1, 28):02d} 10:{rng.randint(0, 59):02d}:00"
    )
    if rng.random() < 0.5:
        exif[0x0131] = rng.choice(["Adobe Lightroom 7.0", "GIMP 2.10.36", "17.4.1", "HDR+ 1.0"])
    if rng.random() < 0.5:
        exif[0x010E] = rng.choice(PROSE)
    if rng.random() < 0.3:
        exif[0x013B] = rng.choice(["Dr. A. Haddad", "רפאל כהן", "王医生", "Front desk"])
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = exif[0x0132]
    if rng.random() < 0.4:
        text = rng.choice(PROSE)
        sub[0x9286] = (
            b"ASCII\x00\x00\x00" + text.encode("ascii", "replace")
            if rng.random() < 0.5
            else b"UNICODE\x00" + text.encode("utf-16-be")
        )
    if rng.random() < 0.3:  # vendor MakerNote: opaque binary, often kilobytes
        sub[0x927C] = rng.choice([b"Apple iOS\x00\x00\x01MM", b"Nikon\x00\x02\x10\x00\x00"]) + (
            rng.randbytes(rng.randint(64, 8000))
        )
    if rng.random() < 0.4:
        gps = exif.get_ifd(0x8825)
        gps[1], gps[3] = "N", "E"
        gps[2] = (float(rng.randint(0, 89)), float(rng.randint(0, 59)), rng.randint(0, 5999) / 100)
        gps[4] = (float(rng.randint(0, 179)), float(rng.randint(0, 59)), rng.randint(0, 5999) / 100)
    return exif


def _ifd(entries: list[tuple[int, int, int, bytes]], at: int, next_ifd: int) -> bytes:
    """A little-endian IFD at offset `at` (values > 4 bytes placed right after it)."""
    table = struct.pack("<H", len(entries))
    data = b""
    data_at = at + 2 + 12 * len(entries) + 4
    for tag, type_, count, value in entries:
        if len(value) <= 4:
            table += struct.pack("<HHI", tag, type_, count) + value.ljust(4, b"\x00")
        else:
            table += struct.pack("<HHII", tag, type_, count, data_at + len(data))
            data += value + (b"\x00" if len(value) % 2 else b"")
    return table + struct.pack("<I", next_ifd) + data


def exif_with_thumbnail(rng: random.Random, thumbnail: bytes) -> bytes:
    """An APP1 Exif payload (with `Exif\\0\\0`) whose IFD1 holds a JPEG thumbnail."""
    make, model = rng.choice(MAKES)
    ifd0 = [
        (0x010F, 2, len(make) + 1, make.encode() + b"\x00"),
        (0x0110, 2, len(model) + 1, model.encode() + b"\x00"),
        (0x0112, 3, 1, struct.pack("<H", 1)),
    ]
    ifd0_bytes = _ifd(ifd0, 8, 0)
    ifd1_at = 8 + len(ifd0_bytes)
    thumb_at = ifd1_at + 2 + 12 * 3 + 4
    ifd1 = [
        (0x0103, 3, 1, struct.pack("<H", 6)),
        (0x0201, 4, 1, struct.pack("<I", thumb_at)),
        (0x0202, 4, 1, struct.pack("<I", len(thumbnail))),
    ]
    ifd0_bytes = _ifd(ifd0, 8, ifd1_at)
    return (
        b"Exif\x00\x00II*\x00"
        + struct.pack("<I", 8)
        + ifd0_bytes
        + _ifd(ifd1, ifd1_at, 0)
        + thumbnail
    )


def xmp_packet(rng: random.Random) -> bytes:
    """An ordinary XMP packet (Lightroom/Photoshop style) with a description and padding."""
    description = rng.choice(PROSE).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    tool = rng.choice(
        ["Adobe Photoshop Lightroom Classic 13.0 (Windows)", "GIMP 2.10", "Pixelmator"]
    )
    body = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 6.0.0">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"\n'
        f'    xmp:CreatorTool="{tool}" xmp:CreateDate="2024-02-0{rng.randint(1, 9)}T09:30:00">\n'
        f'   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{description}</rdf:li>'
        "</rdf:Alt></dc:description>\n"
        "  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n"
        + (" " * 99 + "\n") * rng.randint(0, 20)
        + '<?xpacket end="w"?>'
    )
    return body.encode()


# --- formats --------------------------------------------------------------------------------


def jpeg(rng: random.Random, large: bool = False) -> tuple[bytes, str]:
    """A Pillow JPEG with random encoder options and metadata."""
    size = pick_size(rng, large)
    mode = rng.choices(["RGB", "L", "CMYK"], [0.8, 0.15, 0.05])[0]
    options: dict[str, object] = {
        "quality": rng.randint(30, 100),
        "progressive": rng.random() < 0.3,
        "optimize": rng.random() < 0.4,
    }
    notes = [f"{size[0]}x{size[1]}", mode, f"q{options['quality']}"]
    if mode == "RGB":
        options["subsampling"] = rng.choice([0, 1, 2])
    if rng.random() < 0.2:
        options["restart_marker_blocks" if rng.random() < 0.5 else "restart_marker_rows"] = (
            rng.randint(1, 8)
        )
        notes.append("restart")
    if rng.random() < 0.7:
        options["exif"] = exif_block(rng)
        notes.append("exif")
    if rng.random() < 0.3 and mode != "CMYK":
        options["icc_profile"] = SRGB_ICC
        notes.append("icc")
    if rng.random() < 0.25:
        options["xmp"] = xmp_packet(rng)
        notes.append("xmp")
    if rng.random() < 0.2:
        options["comment"] = rng.choice(COMMENTS)
        notes.append("com")
    if options["progressive"]:
        notes.append("progressive")
    data = _save(photo_image(rng, size, mode), "JPEG", **options)
    if rng.random() < 0.15:
        data = data[:2] + photoshop_iptc_segment(rng) + data[2:]
        notes.append("iptc")
    return data, " ".join(notes)


def photoshop_iptc_segment(rng: random.Random) -> bytes:
    """APP13 Photoshop 3.0 with an IPTC-NAA resource (caption, keywords, by-line)."""
    caption = rng.choice(PROSE).encode()[:300]
    iptc = b"\x1c\x01\x5a\x00\x03\x1b%G"  # coded character set: UTF-8
    iptc += b"\x1c\x02\x78" + struct.pack(">H", len(caption)) + caption
    for keyword in rng.sample([b"clinic", b"x-ray", b"dental", b"follow-up", b"script"], 2):
        iptc += b"\x1c\x02\x19" + struct.pack(">H", len(keyword)) + keyword
    iptc += b"\x00" * (len(iptc) % 2)
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    body = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def jpeg_with_thumbnail(rng: random.Random) -> tuple[bytes, str]:
    """A camera-style JPEG whose Exif carries a 160x120 thumbnail JPEG."""
    image = photo_image(rng, (rng.randint(400, 900), rng.randint(300, 700)))
    thumbnail = _save(image.resize((160, 120)), "JPEG", quality=75)
    return _save(image, "JPEG", quality=90, exif=exif_with_thumbnail(rng, thumbnail)), "thumb"


def mpo(rng: random.Random) -> tuple[bytes, str]:
    """A two-image MPO written by Pillow's MPO writer (stereo pair / gain map layout)."""
    size = (rng.randint(64, 400), rng.randint(64, 300))
    left = photo_image(rng, size)
    right = left.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return _save(left, "MPO", save_all=True, append_images=[right], quality=85), "pillow mpo"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(rng: random.Random) -> tuple[bytes, str]:
    """A Pillow PNG in a random mode with text/iCCP/eXIf chunks."""
    mode = rng.choice(["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
    size = pick_size(rng)
    image = photo_image(rng, size, "RGB")
    image = image.convert("I;16") if mode == "I;16" else image.convert(mode)
    info = PngImagePlugin.PngInfo()
    notes = [mode, f"{size[0]}x{size[1]}"]
    for _ in range(rng.randint(0, 3)):
        key = rng.choice(["Comment", "Description", "Author", "Software", "Title", "Source"])
        text = rng.choice(PROSE)
        kind = rng.randrange(3)
        if kind == 0 and text.isascii():
            info.add_text(key, text)
        elif kind == 1 and text.isascii():
            info.add_text(key, text, zip=True)
        else:
            info.add_itxt(key, text, lang="", tkey="", zip=rng.random() < 0.5)
        notes.append("text")
    if rng.random() < 0.15:  # ImageMagick keeps Exif as a hex dump in zTXt
        raw = exif_block(rng).tobytes()
        hexdump = "\n".join(raw.hex()[i : i + 72] for i in range(0, len(raw) * 2, 72))
        info.add_text("Raw profile type exif", f"\nexif\n{len(raw):8d}\n{hexdump}\n", zip=True)
        notes.append("raw-profile")
    if rng.random() < 0.15:  # Photoshop / macOS screenshots keep XMP in an iTXt chunk
        info.add_itxt("XML:com.adobe.xmp", xmp_packet(rng).decode(), zip=rng.random() < 0.3)
        notes.append("xmp")
    options: dict[str, object] = {"pnginfo": info, "optimize": rng.random() < 0.3}
    if rng.random() < 0.2 and mode in ("RGB", "RGBA", "P"):
        options["icc_profile"] = SRGB_ICC
        notes.append("iccp")
    if rng.random() < 0.2:
        options["exif"] = exif_block(rng)
        notes.append("exif")
    if rng.random() < 0.2:
        options["dpi"] = (300, 300)
    data = _save(image, "PNG", **options)
    if rng.random() < 0.15:  # a private ancillary chunk (Apple iDOT, ImageMagick vpAg)
        chunk_type, chunk_body = rng.choice(
            [
                (b"iDOT", struct.pack(">IIIIII", 2, 0, 0, 40, 40, 4000)),
                (b"vpAg", struct.pack(">IIB", 64, 64, 0)),
            ]
        )
        data = data[:33] + _png_chunk(chunk_type, chunk_body) + data[33:]
        notes.append(chunk_type.decode())
    return data, " ".join(notes)


def _adam7_passes(width: int, height: int) -> list[tuple[int, int, int, int]]:
    return [
        (x0, y0, dx, dy)
        for x0, y0, dx, dy in (
            (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
            (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2),
        )
    ]  # fmt: skip


def png_handmade(rng: random.Random) -> tuple[bytes, str]:
    """A PNG Pillow cannot write: Adam7-interlaced and/or 16-bit RGB(A)."""
    width, height = rng.randint(1, 200), rng.randint(1, 200)
    colour, channels = rng.choice([(2, 3), (6, 4), (0, 1)])
    depth = rng.choice([8, 16])
    interlaced = rng.random() < 0.7
    pixel_bytes = channels * depth // 8
    raw = photo_image(rng, (width, height)).convert("RGBA").tobytes()

    def pixel(x: int, y: int) -> bytes:
        rgba = raw[(y * width + x) * 4 : (y * width + x) * 4 + 4]
        chosen = rgba[:channels] if channels != 1 else rgba[:1]
        return b"".join(bytes([v, v ^ 0x5A]) for v in chosen) if depth == 16 else chosen

    rows = b""
    passes = _adam7_passes(width, height) if interlaced else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        xs = range(x0, width, dx)
        if not xs:
            continue
        for y in range(y0, height, dy):
            rows += b"\x00" + b"".join(pixel(x, y) for x in xs)
    assert len(rows) > 0 or pixel_bytes
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 1 if interlaced else 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(rows, rng.randint(1, 9)))
        + _png_chunk(b"IEND", b"")
    )
    return data, f"{width}x{height} depth{depth} colour{colour}" + (" adam7" if interlaced else "")


def apng(rng: random.Random) -> tuple[bytes, str]:
    """An animated PNG."""
    size = (rng.randint(16, 200), rng.randint(16, 200))
    frames = [photo_image(rng, size) for _ in range(rng.randint(2, 6))]
    return _save(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=80, loop=0), (
        f"apng {len(frames)} frames"
    )


def gif(rng: random.Random) -> tuple[bytes, str]:
    """A GIF: still or animated, with or without comment/transparency/loop."""
    size = pick_size(rng)
    size = (min(size[0], 500), min(size[1], 500))
    count = rng.choice([1, 1, 2, 3, 6])
    frames = [
        photo_image(rng, size).convert("P", palette=Image.Palette.ADAPTIVE) for _ in range(count)
    ]
    options: dict[str, object] = {"interlace": rng.random() < 0.5}
    if count > 1:
        options.update(save_all=True, append_images=frames[1:], duration=100, loop=0)
    if rng.random() < 0.3:
        options["comment"] = rng.choice(PROSE).encode()
    if rng.random() < 0.2:
        options["transparency"] = 0
    data = _save(frames[0], "GIF", **options)
    if rng.random() < 0.15:  # Photoshop's XMP application extension with its magic trailer
        trailer = b"\x01" + bytes(range(0xFF, -1, -1)) + b"\x00"
        ext = b"\x21\xff\x0bXMP DataXMP" + xmp_packet(rng) + trailer
        position = len(data) - 1  # before the 0x3B trailer
        data = data[:position] + ext + data[position:]
        return data, f"gif {count} frames xmp"
    return data, f"gif {count} frames"


def webp(rng: random.Random) -> tuple[bytes, str]:
    """A WebP: lossy/lossless, alpha, animated, with EXIF/XMP/ICC."""
    size = pick_size(rng)
    mode = rng.choice(["RGB", "RGBA"])
    options: dict[str, object] = {"lossless": rng.random() < 0.3, "quality": rng.randint(30, 100)}
    notes = [mode, "lossless" if options["lossless"] else "lossy"]
    if rng.random() < 0.3:
        options["exif"] = exif_block(rng).tobytes()
        notes.append("exif")
    if rng.random() < 0.2:
        options["xmp"] = xmp_packet(rng)
        notes.append("xmp")
    if rng.random() < 0.2:
        options["icc_profile"] = SRGB_ICC
        notes.append("icc")
    first = photo_image(rng, size, mode)
    if rng.random() < 0.2:
        others = [photo_image(rng, size, mode) for _ in range(rng.randint(1, 3))]
        options.update(save_all=True, append_images=others, duration=120)
        notes.append("animated")
    return _save(first, "WEBP", **options), " ".join(notes)


def bmp(rng: random.Random) -> tuple[bytes, str]:
    """A BMP at 1/8/24/32 bits per pixel, odd widths included (row padding)."""
    mode = rng.choice(["1", "L", "P", "RGB", "RGBA"])
    size = pick_size(rng)
    size = (min(size[0], 600), min(size[1], 600))
    return _save(photo_image(rng, size, mode), "BMP"), f"bmp {mode} {size[0]}x{size[1]}"


def tiff(rng: random.Random) -> tuple[bytes, str]:
    """A TIFF: one or more pages, several compressions, descriptive tags."""
    mode = rng.choice(["RGB", "L", "1", "CMYK", "I;16"])
    compressions = {
        "1": ["raw", "group4", "packbits", "tiff_lzw"],
        "RGB": ["raw", "tiff_lzw", "tiff_deflate", "packbits", "jpeg"],
        "L": ["raw", "tiff_lzw", "tiff_adobe_deflate", "jpeg"],
        "CMYK": ["raw", "tiff_lzw"],
        "I;16": ["raw", "tiff_deflate"],
    }[mode]
    compression = rng.choice(compressions)
    size = pick_size(rng)
    size = (min(size[0], 600), min(size[1], 600))
    image = photo_image(rng, size, "RGB")
    image = image.convert("I;16") if mode == "I;16" else image.convert(mode)
    options: dict[str, object] = {"compression": compression}
    if rng.random() < 0.6:
        options["description"] = rng.choice(PROSE)
    if rng.random() < 0.4:
        options["software"] = rng.choice(["ScanSoft 2.1", "VueScan 9.8", "XnView"])
    if rng.random() < 0.3:
        options["dpi"] = (rng.choice([150, 300, 600]),) * 2
    pages = rng.choice([1, 1, 1, 2, 4])
    if pages > 1:
        options.update(save_all=True, append_images=[image.rotate(90 * n) for n in range(1, pages)])
    return _save(image, "TIFF", **options), f"tiff {mode} {compression} {pages}p"


def heic(rng: random.Random) -> tuple[bytes, str]:
    """A HEIC written by pillow-heif (falls back to AVIF when its encoder is missing)."""
    size = (rng.randint(16, 400), rng.randint(16, 400))
    image = photo_image(rng, size)
    if HAVE_HEIF:
        options: dict[str, object] = {"quality": rng.randint(40, 95)}
        if rng.random() < 0.5:
            options["exif"] = exif_block(rng).tobytes()
        return _save(image, "HEIF", **options), f"heic {size[0]}x{size[1]}"
    return avif(rng)


def avif(rng: random.Random) -> tuple[bytes, str]:
    """An AVIF written by Pillow."""
    size = (rng.randint(1, 300), rng.randint(1, 300))
    return _save(photo_image(rng, size), "AVIF", quality=rng.randint(30, 90)), f"avif {size}"


def ico(rng: random.Random) -> tuple[bytes, str]:
    """A multi-size ICO (PNG or BMP images inside)."""
    sizes = sorted(
        rng.sample([(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)], 3)
    )
    image = photo_image(rng, sizes[-1], "RGBA")
    fmt = rng.choice(["png", "bmp"])
    return _save(image, "ICO", sizes=sizes, bitmap_format=fmt), f"ico {fmt} {sizes}"


# --- DICOM (assembled: no writer in Pillow) ------------------------------------------------

_LONG_VRS = (b"OB", b"OW", b"OF", b"SQ", b"UN", b"UT", b"UC", b"UR")


def dicom_element(
    group: int, element: int, vr: bytes, value: bytes, explicit: bool = True
) -> bytes:
    """One little-endian data element (explicit or implicit VR), value padded to even length."""
    if len(value) % 2:
        value += b"\x00" if vr in (b"OB", b"UI") else b" "
    tag = struct.pack("<HH", group, element)
    if not explicit:
        return tag + struct.pack("<I", len(value)) + value
    if vr in _LONG_VRS:
        return tag + vr + b"\x00\x00" + struct.pack("<I", len(value)) + value
    return tag + vr + struct.pack("<H", len(value)) + value


def dicom(
    rng: random.Random,
    *,
    preamble: bytes | None = None,
    private_blob: bytes | None = None,
) -> tuple[bytes, str]:
    """A DICOM Part 10 file: preamble, File Meta, patient/study elements, pixel data."""
    kind = rng.choice(["explicit", "explicit", "implicit", "jpeg"])
    syntax = {
        "explicit": b"1.2.840.10008.1.2.1",
        "implicit": b"1.2.840.10008.1.2",
        "jpeg": b"1.2.840.10008.1.2.4.50",
    }[kind]
    if preamble is None:
        roll = rng.random()
        if roll < 0.7:
            preamble = bytes(128)
        elif roll < 0.9:  # dual-personality DICOM/TIFF preamble
            preamble = b"II*\x00" + struct.pack("<I", 0) + bytes(120)
        else:  # vendor text
            preamble = b"Acme Imaging Workstation 3.1 export".ljust(128, b" ")
    meta_body = (
        dicom_element(0x0002, 0x0001, b"OB", b"\x00\x01")
        + dicom_element(
            0x0002,
            0x0002,
            b"UI",
            rng.choice([b"1.2.840.10008.5.1.4.1.1.7", b"1.2.840.10008.5.1.4.1.1.1"]),
        )
        + dicom_element(
            0x0002, 0x0003, b"UI", f"1.2.826.0.1.3680043.{rng.randint(1, 99999)}".encode()
        )
        + dicom_element(0x0002, 0x0010, b"UI", syntax)
        + dicom_element(0x0002, 0x0012, b"UI", b"1.2.826.0.1.3680043.9.7156")
    )
    meta = dicom_element(0x0002, 0x0000, b"UL", struct.pack("<I", len(meta_body))) + meta_body
    explicit = kind != "implicit"
    rows, cols = rng.randint(4, 64), rng.randint(4, 64)
    bits = rng.choice([8, 16])
    names = [b"Doe^Jane", b"Haddad^Omar", b"Cohen^Rivka", b"Li^Wei", b"Smith^John^^Dr"]

    def el(group: int, element: int, vr: bytes, value: bytes) -> bytes:
        return dicom_element(group, element, vr, value, explicit)

    dataset = (
        el(0x0008, 0x0020, b"DA", b"20240115")
        + el(0x0008, 0x0060, b"CS", rng.choice([b"OT", b"CR", b"XC", b"US"]))
        + el(0x0008, 0x1030, b"LO", rng.choice(PROSE).encode("ascii", "replace")[:64])
    )
    if private_blob is not None:
        dataset += el(0x0009, 0x0010, b"LO", b"ACME PRIVATE") + el(
            0x0009, 0x1001, b"OB", private_blob
        )
    dataset += (
        el(0x0010, 0x0010, b"PN", rng.choice(names))
        + el(0x0010, 0x0020, b"LO", str(rng.randint(10000, 99999)).encode())
        + el(0x0028, 0x0002, b"US", struct.pack("<H", 1))
        + el(0x0028, 0x0010, b"US", struct.pack("<H", rows))
        + el(0x0028, 0x0011, b"US", struct.pack("<H", cols))
        + el(0x0028, 0x0100, b"US", struct.pack("<H", bits))
    )
    if kind == "jpeg":
        frame = _save(photo_image(rng, (cols, rows), "L"), "JPEG", quality=90)
        frame += b"\x00" * (len(frame) % 2)
        item = struct.pack("<HHI", 0xFFFE, 0xE000, len(frame)) + frame
        offsets = struct.pack("<HHI", 0xFFFE, 0xE000, 0)
        end = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
        dataset += struct.pack("<HH", 0x7FE0, 0x0010) + b"OB\x00\x00" + b"\xff\xff\xff\xff"
        dataset += offsets + item + end
    else:
        pixels = rng.randbytes(rows * cols * bits // 8)
        dataset += el(0x7FE0, 0x0010, b"OW" if bits == 16 else b"OB", pixels)
    return preamble[:128].ljust(128, b"\x00") + b"DICM" + meta + dataset, f"dicom {kind}"


# --- SVG ------------------------------------------------------------------------------------

_TINY_PNG = base64.b64encode(
    b"\x89PNG\r\n\x1a\n"
    + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    + _png_chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
    + _png_chunk(b"IEND", b"")
).decode()


def svg(rng: random.Random) -> tuple[bytes, str]:
    """A real-looking drawing: gradients, CSS, text, internal <use>, data: images, comments."""
    width, height = rng.randint(40, 800), rng.randint(40, 600)
    parts = []
    if rng.random() < 0.7:
        parts.append('<?xml version="1.0" encoding="UTF-8" standalone="no"?>')
    if rng.random() < 0.4:
        parts.append(
            "<!-- Generator: Adobe Illustrator 27.0.0, SVG Export Plug-In . SVG Version: 6.00 -->"
        )
    if rng.random() < 0.3:
        parts.append(
            '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
            '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">'
        )
    inkscape = rng.random() < 0.3
    parts.append(
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        + (
            'xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" '
            'xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd" '
            if inkscape
            else ""
        )
        + f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" version="1.1">'
    )
    parts.append(
        f"<title>{rng.choice(['Clinic logo', 'Floor plan', 'Tooth chart', 'شعار'])}</title>"
    )
    if rng.random() < 0.5:
        desc = rng.choice(PROSE).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        parts.append(f"<desc>{desc}</desc>")
    if inkscape:
        parts.append('<sodipodi:namedview id="nv" pagecolor="#ffffff" inkscape:zoom="1.2"/>')
    parts.append(
        "<defs>"
        '<linearGradient id="g1" x1="0" y1="0" x2="1" y2="1">'
        '<stop offset="0" stop-color="#0a84ff"/><stop offset="1" stop-color="#5ac8fa"/>'
        "</linearGradient>"
        '<radialGradient id="g2"><stop offset="0%" stop-color="#fff"/>'
        '<stop offset="100%" stop-color="#ccc" stop-opacity="0.5"/></radialGradient>'
        '<symbol id="tooth" viewBox="0 0 10 10"><path d="M1 1 C 3 0, 7 0, 9 1 L 8 9 Z"/></symbol>'
        "</defs>"
    )
    if rng.random() < 0.6:
        parts.append(
            "<style>.label{font-family:'Noto Sans',Arial,sans-serif;font-size:12px;fill:#333}"
            " .shape:hover{opacity:.8} /* brand colours */ .accent{fill:url(#g1)}</style>"
        )
    for _ in range(rng.randint(1, 8)):
        x, y = rng.randint(0, width), rng.randint(0, height)
        shape = rng.choice(
            [
                f'<rect class="shape" x="{x}" y="{y}" width="{rng.randint(1, 90)}" '
                f'height="{rng.randint(1, 90)}" rx="4" fill="url(#g1)"/>',
                f'<circle cx="{x}" cy="{y}" r="{rng.randint(1, 60)}" fill="url(#g2)" '
                'stroke="#333"/>',
                f'<path d="M{x} {y} l 20 10 q 5 -15 30 0 z" '
                'style="fill:none;stroke:#c00;stroke-width:2"/>',
                f'<use href="#tooth" x="{x}" y="{y}" width="20" height="20"/>',
                f'<use xlink:href="#tooth" x="{x}" y="{y}" width="12" height="12"/>',
            ]
        )
        parts.append(shape)
    text = rng.choice(PROSE).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    parts.append(f'<text class="label" x="10" y="{height - 10}">{text}</text>')
    if rng.random() < 0.4:
        parts.append(
            f'<image x="0" y="0" width="8" height="8" href="data:image/png;base64,{_TINY_PNG}"/>'
        )
    if rng.random() < 0.3:
        parts.append(
            '<a href="https://www.example-clinic.org/"><text x="5" y="15">Website</text></a>'
        )
    if rng.random() < 0.2:
        parts.append('<animate xlink:href="#g1" attributeName="x1" from="0" to="1" dur="3s"/>')
    parts.append("</svg>\n")
    return "\n".join(parts).encode("utf-8"), "svg"
