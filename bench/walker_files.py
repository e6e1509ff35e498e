"""File builders for the walker evaluation corpus (bench/eval_walkers.py) and its tests.

Each builder makes a real picture (Pillow, or assembled from the format's specification
where Pillow has no writer) with a given byte string placed in one hiding place inside its
structure; an empty string or zeros make the benign twin. See bench/eval_walkers.py for
the places and the expected verdicts.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Iterator

from bench import eval_images as img
from tests import jpeg_samples as js


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def box(kind: bytes, body: bytes) -> bytes:
    """One ISO-BMFF box with a 32-bit size."""
    return struct.pack(">I", 8 + len(body)) + kind + body


def small_size(rng: random.Random) -> tuple[int, int]:
    """A small random picture size."""
    return rng.randint(8, 160), rng.randint(8, 120)


# --- BMP: the gap between the headers and bfOffBits ----------------------------------------


def bmp_gap(rng: random.Random, filler: bytes) -> tuple[str, bytes]:
    """A BMP whose pixel array starts after `filler`, with bfOffBits and bfSize moved."""
    data = bytearray(img._save(img.photo_image(rng, small_size(rng)), "BMP"))
    off_bits = int.from_bytes(data[10:14], "little")
    data[off_bits:off_bits] = filler
    struct.pack_into("<II", data, 2, len(data), 0)
    struct.pack_into("<I", data, 10, off_bits + len(filler))
    return "bmp", bytes(data)


# --- ICO: entries that are no image, and PNG entries with a tail ---------------------------


def ico_file(entries: list[tuple[int, int, bytes]]) -> bytes:
    """ICO directory + images; entries are (width byte, height byte, image bytes)."""
    header = struct.pack("<HHH", 0, 1, len(entries))
    offset = 6 + 16 * len(entries)
    directory, body = b"", b""
    for width, height, image in entries:
        directory += struct.pack("<BBBBHHII", width, height, 0, 0, 1, 32, len(image), offset)
        body += image
        offset += len(image)
    return header + directory + body


def icon_png(rng: random.Random, side: int) -> bytes:
    """A square RGBA PNG for an icon entry."""
    return img._save(img.photo_image(rng, (side, side), "RGBA"), "PNG")


def ico_entries(rng: random.Random, extra: bytes | None, tail: bytes = b"") -> tuple[str, bytes]:
    """Two PNG icons; `extra` becomes a third "image"; `tail` follows the first PNG's IEND."""
    entries = [(16, 16, icon_png(rng, 16) + tail), (32, 32, icon_png(rng, 32))]
    if extra is not None:
        entries.append((48, 48, extra))
    return "ico", ico_file(entries)


def ico_dib_bomb(width: int, height: int) -> bytes:
    """An ICO whose one BMP entry's DIB header declares width x height (directory says 32)."""
    dib = struct.pack("<IiiHHIIiiII", 40, width, 2 * height, 1, 32, 0, 0, 0, 0, 0, 0)
    return ico_file([(32, 32, dib + bytes(64))])


# --- GIF: sub-blocks after the LZW end code ------------------------------------------------


def sub_blocks(data: bytes) -> bytes:
    """GIF data sub-blocks (at most 255 bytes each) for `data`."""
    return b"".join(
        bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255)
    )


def gif_after_lzw(rng: random.Random, hidden: bytes) -> tuple[str, bytes]:
    """A GIF whose first frame's data goes on after the LZW end code with `hidden`."""
    gif = img._save(img.photo_image(rng, small_size(rng)).convert("P"), "GIF")
    pos = 13 + (3 << ((gif[10] & 7) + 1) if gif[10] & 0x80 else 0)
    while gif[pos] == 0x21:  # extensions before the image descriptor
        pos += 2
        while gif[pos]:
            pos += gif[pos] + 1
        pos += 1
    local = gif[pos + 9]
    pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1  # + LZW code size byte
    while gif[pos]:
        pos += gif[pos] + 1
    return "gif", gif[:pos] + sub_blocks(hidden) + gif[pos:]


def gif_frame_outside_screen(offset: int) -> bytes:
    """A 1x1 GIF whose one 1x1 frame sits at (offset, offset): decoders grow the canvas."""
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", offset, offset, 1, 1, 0) + b"\x02\x02\x4c\x01\x00"
    return header + frame + b"\x3b"


# --- PNG: IDAT after the zlib end, IDAT after the image data, valid big ICC ----------------


def png_parts(rng: random.Random) -> tuple[bytes, bytes, bytes]:
    """(signature + IHDR, zlib stream of the rows, IEND) of a small RGB photo."""
    width, height = small_size(rng)
    raw = img.photo_image(rng, (width, height)).tobytes()
    rows = b"".join(b"\x00" + raw[y * width * 3 : (y + 1) * width * 3] for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    head = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    return head, zlib.compress(rows, 9), png_chunk(b"IEND", b"")


def png_idat_tail(rng: random.Random, hidden: bytes) -> tuple[str, bytes]:
    """One IDAT holding the zlib stream and then `hidden` (decoders stop at the stream end)."""
    head, stream, iend = png_parts(rng)
    return "png", head + png_chunk(b"IDAT", stream + hidden) + iend


def png_late_idat(rng: random.Random, hidden: bytes | None) -> tuple[str, bytes]:
    """IDAT, a tEXt chunk, then (malicious) one more IDAT holding `hidden`."""
    head, stream, iend = png_parts(rng)
    body = png_chunk(b"IDAT", stream) + png_chunk(b"tEXt", b"Software\x00clinic scanner")
    if hidden is not None:
        body += png_chunk(b"IDAT", hidden)
    return "png", head + body + iend


def icc_profile(size: int) -> bytes:
    """An ICC-shaped profile of `size` bytes: declared size, 'acsp' at 36, a big table."""
    header = bytearray(128)
    struct.pack_into(">I", header, 0, size)
    header[36:40] = b"acsp"
    header[12:20] = b"prtrRGB "
    table = bytes(range(256)) * (size // 256 + 1)
    return bytes(header) + table[: size - 128]


def png_big_icc(rng: random.Random) -> tuple[str, bytes]:
    """A printer-style PNG: an iCCP chunk inflating to a 2-5 MB ICC profile (benign)."""
    head, stream, iend = png_parts(rng)
    profile = icc_profile(rng.randint(2, 5) * 1024 * 1024)
    iccp = png_chunk(b"iCCP", b"Printer profile\x00\x00" + zlib.compress(profile, 9))
    return "png", head + iccp + png_chunk(b"IDAT", stream) + iend


def png_decoded_bomb(width: int, height: int) -> bytes:
    """A tiny 16-bit RGBA PNG declaring width x height (8 bytes per pixel decoded)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 4096)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", rows)
        + png_chunk(b"IEND", b"")
    )


# --- WebP: a VP8X chunk tail, an unknown chunk ----------------------------------------------


def riff(chunks: bytes) -> bytes:
    """A RIFF/WEBP container around `chunks`."""
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def webp_chunks(rng: random.Random) -> bytes:
    """The chunks of an extended (VP8X) lossy WebP with Exif."""
    exif = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    data = img._save(img.photo_image(rng, small_size(rng)), "WEBP", quality=70, exif=exif)
    return data[12:]


def webp_vp8x_tail(rng: random.Random, hidden: bytes) -> tuple[str, bytes]:
    """The VP8X chunk (10 bytes of fields) stretched over `hidden` (empty: the normal file)."""
    chunks = webp_chunks(rng)
    assert chunks[:4] == b"VP8X"
    body = chunks[8:18] + hidden
    pad = b"\x00" if len(body) & 1 else b""
    return "webp", riff(b"VP8X" + struct.pack("<I", len(body)) + body + pad + chunks[18:])


def webp_unknown_chunk(rng: random.Random, hidden: bytes) -> tuple[str, bytes]:
    """An unknown chunk (every decoder skips it) holding `hidden`."""
    chunks = webp_chunks(rng)
    pad = b"\x00" if len(hidden) & 1 else b""
    return "webp", riff(chunks + b"ZzZz" + struct.pack("<I", len(hidden)) + hidden + pad)


# --- TIFF: assembled, so the gaps are ours to place ----------------------------------------


def tiff_gray(
    rng: random.Random,
    gap: bytes = b"",
    private: bytes | None = None,
    zero_count: bool = False,
    after_strip: bytes = b"",
) -> bytes:
    """A little-endian 8-bit grey TIFF: header, `gap`, one strip, `after_strip`, IFD.

    `private` becomes tag 40000 (UNDEFINED); `zero_count` writes StripByteCounts 0.
    """
    width, height = small_size(rng)
    strip = img.photo_image(rng, (width, height), "L").tobytes()
    strip_at = 8 + len(gap)
    ifd_at = strip_at + len(strip) + len(after_strip)
    entries = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, strip_at),
        (277, 3, 1, 1),
        (278, 4, 1, height),
        (279, 4, 1, 0 if zero_count else len(strip)),
    ]
    extra = b""
    if private is not None:
        entries.append((40000, 7, len(private), 0))  # value offset filled in below
    count = len(entries)
    values_at = ifd_at + 2 + 12 * count + 4
    table = b""
    for tag, kind, n, value in entries:
        if tag == 40000 and private is not None:
            value = values_at
            extra = private
        table += struct.pack("<HHII", tag, kind, n, value)
    ifd = struct.pack("<H", count) + table + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", ifd_at) + gap + strip + after_strip + ifd + extra


# --- HEIF: free and unknown boxes, mdat bytes no item uses ---------------------------------


def heic_bytes(rng: random.Random) -> bytes:
    """A HEIC written by pillow-heif (AVIF when its encoder is missing)."""
    return img.heic(rng)[0]


def heif_box(rng: random.Random, kind: bytes, body: bytes) -> tuple[str, bytes]:
    """A HEIC with one more top-level box after its last one."""
    data = heic_bytes(rng)
    return ("heic" if data[8:12] != b"avif" else "avif"), data + box(kind, body)


def heif_mdat_tail(rng: random.Random, hidden: bytes) -> tuple[str, bytes]:
    """A HEIC whose last box is `mdat`, stretched over `hidden` (no item references it)."""
    data = bytearray(heic_bytes(rng))
    pos = 0
    last = (0, 0)
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        if size < 8:
            break
        last = (pos, size)
        pos += size
    start, size = last
    if data[start + 4 : start + 8] != b"mdat" or start + size != len(data):
        data += box(b"free", bytes(16))  # writer put meta last: hide nothing, stay benign
        return "heic", bytes(data)
    struct.pack_into(">I", data, start, size + len(hidden))
    return "heic", bytes(data) + hidden


# --- JPEG: stray bytes between segments, a gap before an MPF image, extra images ----------


def jpeg_photo(rng: random.Random) -> bytes:
    """A small photo-like JPEG at a random quality."""
    return img._save(img.photo_image(rng, small_size(rng)), "JPEG", quality=rng.randint(60, 95))


def jpeg_stray(rng: random.Random, hidden: bytes) -> tuple[str, bytes]:
    """`hidden` between the first segment after SOI and the next (decoders skip it)."""
    data = jpeg_photo(rng)
    first_end = 4 + int.from_bytes(data[4:6], "big")  # SOI + marker + its length
    return "jpg", data[:first_end] + hidden + data[first_end:]


def jpeg_mpf_gap(rng: random.Random, hidden: bytes) -> tuple[str, bytes]:
    """An MPF (gain-map style) JPEG with `hidden` between the primary EOI and image 2."""
    second = jpeg_photo(rng)
    data = js.mpo(second, pad=len(hidden))
    at = len(data) - len(second) - len(hidden)
    return "jpg", data[:at] + hidden + data[at + len(hidden) :]


def htc_trailer(primary: bytes, final: bytes, blocks: list[bytes]) -> bytes:
    """HTC dual-camera layout: blocks closed by htcI footers, then the final JPEG."""
    out = primary
    for index, block in enumerate(blocks):
        following = len(blocks[index + 1]) if index + 1 < len(blocks) else len(final)
        first = 0xF1 + 4 * index
        out += block + b"htcI" + bytes(range(first, first + 4)) + struct.pack("<I", following)
    return out + final


def jpeg_htc(rng: random.Random, hidden: bytes) -> tuple[str, bytes]:
    """An HTC-style photo whose second private block is `hidden` (benign: depth-like data)."""
    blocks = [rng.randbytes(rng.randint(200, 3000)), hidden or rng.randbytes(900)]
    return "jpg", htc_trailer(jpeg_photo(rng), jpeg_photo(rng), blocks)


def minolta_exif(preview_at: int, preview_length: int) -> bytes:
    """APP1 Exif (big-endian) with Make 'Minolta' and a maker note pointing at a preview.

    The segment goes right after SOI, so its TIFF header is at file offset 12.
    """
    base = 12
    make = b"Minolta Co., Ltd.\x00"
    ifd0_at, make_at = 8, 8 + 2 + 2 * 12 + 4
    exif_at = make_at + len(make)
    note_at = exif_at + 2 + 12 + 4
    note = struct.pack(">H", 2)
    note += struct.pack(">HHII", 0x0088, 4, 1, preview_at - base)
    note += struct.pack(">HHII", 0x0089, 4, 1, preview_length) + bytes(4)
    tiff = b"MM\x00*" + struct.pack(">I", ifd0_at)
    tiff += struct.pack(">H", 2) + struct.pack(">HHII", 0x010F, 2, len(make), make_at)
    tiff += struct.pack(">HHII", 0x8769, 4, 1, exif_at) + bytes(4) + make
    tiff += struct.pack(">H", 1) + struct.pack(">HHII", 0x927C, 7, len(note), note_at)
    tiff += bytes(4) + note
    return js.segment(0xE1, b"Exif\x00\x00" + tiff)


def jpeg_minolta_preview(rng: random.Random, hidden: bytes) -> tuple[str, bytes]:
    """A Minolta-style photo: maker-note preview after EOI, its first 0xFF written as 0x00.

    `hidden` (malicious twin) sits between the preview and the end of the file.
    """
    photo = jpeg_photo(rng)
    preview = b"\x00" + jpeg_photo(rng)[1:]
    probe = minolta_exif(12, 0)  # same length as the real segment
    at = len(photo) + len(probe)
    data = js.insert_segments(photo, minolta_exif(at, len(preview)))
    return "jpg", data + preview + hidden


def jpeg_final_image(rng: random.Random, hidden: bytes) -> tuple[str, bytes]:
    """A photo followed by `hidden` (malicious) and then a second complete JPEG at EOF."""
    return "jpg", jpeg_photo(rng) + hidden + jpeg_photo(rng)


def jpeg_dnl(height: int, width: int) -> bytes:
    """A baseline JPEG whose SOF says height 0 and whose DNL after the scan says `height`."""
    data = bytearray(js.photo(16, 16, seed=4))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 0, width)
    eoi = len(data) - 2
    return bytes(data[:eoi]) + js.segment(0xDC, struct.pack(">H", height)) + b"\xff\xd9"


def jpeg_scans(count: int) -> bytes:
    """A progressive JPEG whose last scan is repeated until it has `count` scans."""
    data = js.photo(32, 32, seed=5, progressive=True)
    sos = data.rindex(b"\xff\xda")
    last_scan = data[sos:-2]
    scans = data[:sos].count(b"\xff\xda") + 1
    return data[:sos] + last_scan * (count - scans + 1) + b"\xff\xd9"


# --- formats that had no walker: appended data must now be found ---------------------------


def psd_bytes(rng: random.Random, rle: bool = False) -> bytes:
    """A hand-assembled 8-bit RGB PSD (Pillow has no writer): empty sections, merged image."""
    width, height = small_size(rng)
    planes = img.photo_image(rng, (width, height)).split()
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    resources = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", 4) + b"IPTC"
    body = struct.pack(">I", 0) + struct.pack(">I", len(resources)) + resources
    body += struct.pack(">I", 0)
    if not rle:
        return header + body + b"\x00\x00" + b"".join(p.tobytes() for p in planes)
    rows = [p.tobytes()[y * width : (y + 1) * width] for p in planes for y in range(height)]
    packed = [bytes([len(r) - 1]) + r if len(r) <= 128 else packbits(r) for r in rows]
    counts = b"".join(struct.pack(">H", len(r)) for r in packed)
    return header + body + b"\x00\x01" + counts + b"".join(packed)


def packbits(row: bytes) -> bytes:
    """Literal PackBits runs of at most 128 bytes."""
    return b"".join(
        bytes([len(row[i : i + 128]) - 1]) + row[i : i + 128] for i in range(0, len(row), 128)
    )


def other_format(rng: random.Random) -> tuple[str, bytes]:
    """A picture in a format that had no walker (JPEG 2000, PSD, PNM, TGA, PCX, QOI, HDR,
    OpenEXR, GIMP XCF)."""
    kind = rng.choice(
        ["jp2", "j2k", "psd", "ppm", "pgm", "pbm", "tga", "tga-rle", "pcx", "qoi", "hdr", "exr",
         "xcf"]
    )  # fmt: skip
    if kind == "exr":
        return "exr", exr_bytes(rng, tiled=rng.random() < 0.5, mipmap=rng.random() < 0.5)
    if kind == "xcf":  # RLE in versions 0 and 3: what ImageMagick reads, to check the twin
        return "xcf", xcf_bytes(rng, rng.choice([0, 3]), 1)
    if kind == "hdr":
        return "hdr", radiance_hdr(rng, rng.choice([4, 64, 200]), rng.randint(2, 40))
    image = img.photo_image(rng, small_size(rng))
    if kind == "jp2":
        return "jp2", img._save(image, "JPEG2000")
    if kind == "j2k":
        return "j2k", img._save(image, "JPEG2000", no_jp2=True)
    if kind == "psd":
        return "psd", psd_bytes(rng, rle=rng.random() < 0.5)
    if kind in ("ppm", "pgm", "pbm"):
        mode = {"ppm": "RGB", "pgm": "L", "pbm": "1"}[kind]
        return kind, img._save(image.convert(mode), "PPM")
    if kind.startswith("tga"):
        options = {"compression": "tga_rle"} if kind == "tga-rle" else {}
        return "tga", img._save(image, "TGA", **options)
    if kind == "pcx":
        return "pcx", img._save(image.convert("P") if rng.random() < 0.5 else image, "PCX")
    return "qoi", img._save(image, "QOI")


def appended_to_other_format(rng: random.Random, hidden: bytes) -> tuple[str, bytes]:
    """`hidden` appended after the picture's own end."""
    ext, data = other_format(rng)
    return ext, data + hidden


def _rle_pieces(
    values: bytes, min_run: int, max_run: int, max_literal: int
) -> Iterator[tuple[bool, int, int]]:
    """(is_run, start, length): runs of min_run..max_run equal bytes, literals between
    (at most max_literal, ended before the next run)."""
    i = 0
    while i < len(values):
        run = 1
        while i + run < len(values) and run < max_run and values[i + run] == values[i]:
            run += 1
        if run >= min_run:
            yield True, i, run
            i += run
            continue
        start = i
        while i < len(values) and i - start < max_literal:
            ahead = values[i : i + min_run]
            if len(ahead) == min_run and ahead.count(ahead[0]) == min_run:
                break
            i += 1
        yield False, start, i - start


def _rgbe_component(values: bytes) -> bytes:
    """One component of an RLE scan line: runs of >= 4 equal bytes as runs, else literals."""
    return b"".join(
        bytes([128 + n, values[at]]) if run else bytes([n]) + values[at : at + n]
        for run, at, n in _rle_pieces(values, 4, 127, 128)
    )


def radiance_hdr(rng: random.Random, width: int = 64, height: int = 24) -> bytes:
    """A Radiance RGBE picture encoded as Radiance does (RLE scan lines when 8 <= width)."""
    header = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\nEXPOSURE=1.0\n\n"
    header += f"-Y {height} +X {width}\n".encode()
    lines = b""
    for y in range(height):
        pixels = [(rng.randrange(256), (y * 9) % 256, 80, 128) for _ in range(width)]
        if 8 <= width <= 0x7FFF:
            lines += bytes([2, 2, width >> 8, width & 0xFF])
            for component in range(4):
                lines += _rgbe_component(bytes(p[component] for p in pixels))
        else:
            lines += b"".join(bytes(p) for p in pixels)
    return header + lines


# --- GIMP XCF and OpenEXR, assembled from their specifications ------------------------------


def _xcf_rle(channel: bytes) -> bytes:
    """One XCF RLE byte stream (devel-docs/xcf.txt): runs of >= 3 equal bytes, else literals."""
    return b"".join(
        bytes([n - 1, channel[at]]) if run else bytes([256 - n]) + channel[at : at + n]
        for run, at, n in _rle_pieces(channel, 3, 127, 127)
    )


def xcf_bytes(
    rng: random.Random,
    version: int = 0,
    compression: int = 1,
    comment: bytes = b"Made in GIMP",
    size: tuple[int, int] | None = None,
    layer_name: bytes = b"Background",
) -> bytes:
    """A one-layer RGBA GIMP image in GIMP's order (header, properties, pointer lists, layer,
    hierarchy, level, tiles, one dummy level); tiles raw (0), RLE (1) or zlib (2)."""
    width, height = size or (rng.randint(40, 150), rng.randint(40, 130))
    pixels = img.photo_image(rng, (width, height), "RGBA").tobytes()
    pointer = 8 if version >= 11 else 4  # pointer bytes

    def ptr(value: int) -> bytes:
        return value.to_bytes(pointer, "big")

    def prop(kind: int, payload: bytes) -> bytes:
        return struct.pack(">II", kind, len(payload)) + payload

    def string(text: bytes) -> bytes:
        return struct.pack(">I", len(text) + 1) + text + b"\x00"

    parasite = string(b"gimp-comment") + struct.pack(">I", 1) + string(comment)
    tag = b"file" if version == 0 else b"v%03d" % version
    head = b"gimp xcf " + tag + b"\x00" + struct.pack(">III", width, height, 0)
    if version >= 4:
        head += struct.pack(">I", 150)  # precision: 8-bit gamma integer
    head += prop(17, bytes([compression])) + prop(21, parasite) + prop(0, b"")
    layer_at = len(head) + 3 * pointer  # layer list (one + 0), channel list (0)
    layer_head = struct.pack(">III", width, height, 1) + string(layer_name) + prop(0, b"")
    hierarchy_at = layer_at + len(layer_head) + 2 * pointer
    level_at = hierarchy_at + 12 + 3 * pointer
    tiles = [_xcf_tile(pixels, width, x, y, compression) for y in range(0, height, 64)
             for x in range(0, width, 64)]  # fmt: skip
    offsets, at = [], level_at + 8 + (len(tiles) + 1) * pointer
    for tile in tiles:
        offsets.append(at)
        at += len(tile)
    dummy = struct.pack(">II", width // 2, height // 2) + ptr(0)
    return (
        head + ptr(layer_at) + ptr(0) + ptr(0)
        + layer_head + ptr(hierarchy_at) + ptr(0)
        + struct.pack(">III", width, height, 4) + ptr(level_at) + ptr(at) + ptr(0)
        + struct.pack(">II", width, height) + b"".join(map(ptr, offsets)) + ptr(0)
        + b"".join(tiles) + dummy
    )  # fmt: skip


def _xcf_tile(pixels: bytes, width: int, x0: int, y0: int, compression: int) -> bytes:
    """The 64x64 tile at (x0, y0) of RGBA `pixels` (smaller at the edges), encoded."""
    height = len(pixels) // (4 * width)
    tw, th = min(64, width - x0), min(64, height - y0)
    rows = (
        pixels[((y0 + y) * width + x0) * 4 : ((y0 + y) * width + x0 + tw) * 4] for y in range(th)
    )
    tile = b"".join(rows)
    if compression == 1:
        return b"".join(_xcf_rle(tile[channel::4]) for channel in range(4))
    return zlib.compress(tile) if compression == 2 else tile


def _exr_attribute(name: bytes, type_name: bytes, value: bytes) -> bytes:
    return name + b"\x00" + type_name + b"\x00" + struct.pack("<i", len(value)) + value


def exr_bytes(
    rng: random.Random,
    tiled: bool = False,
    mipmap: bool = False,
    comments: bytes = b"",
    gap: bytes = b"",
    size: tuple[int, int] | None = None,
    attributes: bytes = b"",
) -> bytes:
    """A single-part OpenEXR image (half B, G, R) assembled from the file layout: scan lines
    of 16 (ZIP) or 64x64 tiles (one level or mipmaps, rounded down); `comments` adds the
    standard text attribute, `attributes` more (name, type, size, value each), `gap` sits
    between the offset table and the first chunk (the offsets skip it). Chunk data are zlib
    streams, as ZIP compression stores them."""
    width, height = size or (rng.randint(20, 150), rng.randint(20, 130))
    channels = (
        b"".join(name + b"\x00" + struct.pack("<iB3xii", 1, 0, 1, 1) for name in (b"B", b"G", b"R"))
        + b"\x00"
    )
    box = struct.pack("<iiii", 0, 0, width - 1, height - 1)
    header = _exr_attribute(b"channels", b"chlist", channels)
    header += _exr_attribute(b"compression", b"compression", b"\x03")  # ZIP, 16 lines
    header += _exr_attribute(b"dataWindow", b"box2i", box)
    header += _exr_attribute(b"displayWindow", b"box2i", box)
    header += _exr_attribute(b"lineOrder", b"lineOrder", b"\x00")
    header += _exr_attribute(b"pixelAspectRatio", b"float", struct.pack("<f", 1))
    header += _exr_attribute(b"screenWindowCenter", b"v2f", struct.pack("<ff", 0, 0))
    header += _exr_attribute(b"screenWindowWidth", b"float", struct.pack("<f", 1))
    if comments:
        header += _exr_attribute(b"comments", b"string", comments)
    if tiled:
        header += _exr_attribute(b"tiles", b"tiledesc", struct.pack("<IIB", 64, 64, int(mipmap)))
    header += attributes + b"\x00"
    chunks: list[bytes] = []
    if not tiled:
        for y in range(0, height, 16):
            rows = min(16, height - y)
            data = zlib.compress(rng.randbytes(rows * width * 6))
            chunks.append(struct.pack("<ii", y, len(data)) + data)
    else:
        level, (w, h) = 0, (width, height)
        while True:
            for ty in range(-(-h // 64)):
                for tx in range(-(-w // 64)):
                    tile = min(64, w - tx * 64) * min(64, h - ty * 64) * 6
                    data = zlib.compress(rng.randbytes(tile))
                    chunks.append(struct.pack("<iiiii", tx, ty, level, level, len(data)) + data)
            if not mipmap or max(w, h) == 1:
                break
            level, w, h = level + 1, max(1, w // 2), max(1, h // 2)
    flags = 0x200 if tiled else 0
    head = b"\x76\x2f\x31\x01" + struct.pack("<I", 2 | flags) + header
    at = len(head) + 8 * len(chunks) + len(gap)
    table = b""
    for chunk in chunks:
        table += struct.pack("<Q", at)
        at += len(chunk)
    return head + table + gap + b"".join(chunks)
