"""What a file is, judged from its bytes alone (never from its name).

Own signatures come first and cover everything the engine acts on; python-magic is asked
only about files no signature recognises (it costs time and a broken libmagic must never
break the engine). Signatures are checked on the first `HEAD_BYTES` of the file, plus the
few fixed offsets formats define (DICOM `DICM` at 128, PE header at `e_lfanew`).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from agent.inspect.classify.libmagic import MIME_KINDS
from agent.inspect.reader import Reader
from agent.inspect.signatures import is_text, magic_at_start, script_kind
from agent.inspect.wide_text import as_utf8, wide_encoding

HEAD_BYTES = 4096  # bytes read from the start of the file for signature checks
TEXT_HEAD_BYTES = 1024  # bytes of a text file looked at for script/markup heuristics
PDF_HEADER_WINDOW = 1029  # bytes: Acrobat accepts %PDF- anywhere in the first 1024 (+5)
SVGZ_INFLATE_BYTES = 2048  # bytes of a gzip stream inflated to look for <svg
MAX_PE_HEADER_OFFSET = 64 * 1024  # bytes: e_lfanew beyond this is not a real PE
MAGIC_HEAD_BYTES = 8192  # bytes handed to libmagic for the second opinion

FAMILIES = frozenset(
    {
        "image",
        "dicom",
        "svg",
        "video",
        "executable",
        "script",
        "archive",
        "document",
        "imagemagick",
        "text",
        "unknown",
    }
)

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@dataclass(frozen=True)
class Sniffed:
    """The detected type ("jpeg", "pe", "html"...), its family and a plain description."""

    type: str
    family: str
    description: str


def _s(type_: str, family: str, description: str) -> Sniffed:
    return Sniffed(type_, family, description)


# ISO-BMFF major/compatible brands -> (type, family, description)
# HEIF brands of ISO/IEC 23008-12 (structural mif1/mif2/mif3/msf1, the HEVC, AVC, JPEG,
# VVC, EVC and JPEG 2000 (15444-16) coding brands) and the MIAF (23000-22) brands,
# including Apple's MiHB/MiHE/MiPr/MiAn/MiCm/MiHA application brands.
HEIF_BRANDS = frozenset(
    {b"mif1", b"mif2", b"mif3", b"msf1", b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx",
     b"hevm", b"hevs", b"avci", b"avcs", b"jpeg", b"jpgs", b"vvic", b"vvis", b"evbi", b"evbs",
     b"evci", b"evcs", b"j2ki", b"j2is", b"miaf", b"MiHB", b"MiHE", b"MiPr", b"MiAn", b"MiCm",
     b"MiHA"}
)  # fmt: skip
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_VIDEO_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"mp71", b"avc1", b"dash",
     b"M4V ", b"M4A ", b"qt  ", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"MSNV", b"f4v ", b"crx "}
)  # fmt: skip

_XML_PROLOGUE = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]{0,512}\?>\s*)?"
    rb"(?:(?:<!--.{0,4096}?-->|<!DOCTYPE[^>\[]{0,1024}(?:\[.{0,4096}?\])?\s*>|<\?[^>]{0,512}\?>)\s*)*"
    rb"<(?:[\w.-]{1,32}:)?svg[\s>/:]",  # a namespace prefix is no less an SVG root (`<s:svg`)
    re.IGNORECASE | re.DOTALL,
)
SVG_PROLOG_BYTES = 256 * 1024  # bytes of declaration, comments and DOCTYPE skipped to the root
# The prolog items XML allows before the root element, each of any length (bounded above).
_PROLOG_ITEMS = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[.*?\])*>)*",
    re.IGNORECASE | re.DOTALL,
)
_SVG_ROOT = re.compile(rb"<(?:[\w.-]+:)?svg[\s>/]", re.IGNORECASE)
_HTML_START = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<!--.{0,2048}?-->\s*)*"
    rb"<(?:!doctype\s+html|html|head|body|script|iframe|meta\s|title|style|svg\s[^>]*onload)",
    re.IGNORECASE | re.DOTALL,
)
# Windows shell text files that act when opened: Internet shortcut (.url), Explorer command
# (.scf), desktop.ini, registry import (.reg).
_WINDOWS_SHELL_FILE = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:\[(?:InternetShortcut|Shell|\.ShellClassInfo)\]"
    rb"|Windows Registry Editor Version 5\.00|REGEDIT4)",
    re.IGNORECASE,
)
_HTML_ANYWHERE = re.compile(rb"<(?:html|script|iframe|body)[\s>]", re.IGNORECASE)
_PHP_START = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*<\?(?:php|=)", re.IGNORECASE)
_PHP_ANYWHERE = re.compile(rb"<\?php[\s(]", re.IGNORECASE)
_MVG = re.compile(rb"\A\s*(?:push\s+graphic-context|viewbox\s+\d)", re.IGNORECASE)
_MSL = re.compile(rb"\A(?:<\?xml[^>]{0,512}\?>\s*)?<image[\s>].{0,1024}<read\s", re.I | re.S)
# script kind (signatures.script_kind) -> (type, description)
_SCRIPT_TYPES = {
    "powershell": ("powershell", "PowerShell script"),
    "vbs": ("vbs", "VBScript"),
    "batch": ("batch", "Windows batch script"),
    "js": ("js", "JavaScript"),
    "python": ("python", "Python script"),
}


def _sniff_pe(reader: Reader, head: bytes) -> Sniffed:
    lfanew = reader.u32le(0x3C)
    valid_offset = lfanew is not None and 0x40 <= lfanew <= MAX_PE_HEADER_OFFSET
    if valid_offset and lfanew is not None and reader.read(lfanew, 4) == b"PE\x00\x00":
        return _s("pe", "executable", "Windows program (PE)")
    if len(head) >= 64:
        return _s("pe", "executable", "DOS/Windows program (MZ)")
    return _s("unknown", "unknown", "unrecognised data")


def _sniff_bmp(reader: Reader) -> Sniffed | None:
    """BM plus a sane header: BITMAPFILEHEADER pixel offset and a known DIB header size."""
    pixel_offset = reader.u32le(10)
    dib_size = reader.u32le(14)
    if pixel_offset is None or dib_size is None:
        return None
    if dib_size not in (12, 16, 40, 52, 56, 64, 108, 124):
        return None
    if not 14 + dib_size <= pixel_offset or pixel_offset > 64 * 1024 * 1024:
        return None
    return _s("bmp", "image", "BMP image")


def _sniff_ico(reader: Reader, head: bytes) -> Sniffed | None:
    """ICO/CUR: reserved 0, type 1 or 2, 1..256 entries whose data offsets are in range."""
    count = reader.u16le(4)
    if count is None or not 1 <= count <= 256:
        return None
    entry = reader.read(6, 16)
    if len(entry) < 16:
        return None
    if entry[3] not in (0, 255):  # reserved byte of the directory entry
        return None
    data_size = int.from_bytes(entry[8:12], "little")
    data_offset = int.from_bytes(entry[12:16], "little")
    if data_offset < 6 + 16 * count or data_size == 0 or data_offset >= max(reader.size, 1):
        return None
    kind = "icon" if head[2] == 1 else "cursor"
    return _s("ico", "image", f"Windows {kind}")


def _sniff_isobmff(head: bytes) -> Sniffed | None:
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    box_size = int.from_bytes(head[0:4], "big")
    brands = {head[8:12]}
    end = min(len(head), box_size if 16 <= box_size <= 4096 else 16)
    for pos in range(16, end - 3, 4):
        brands.add(head[pos : pos + 4])
    major = head[8:12]
    if major in _AVIF_BRANDS or (major not in HEIF_BRANDS and brands & _AVIF_BRANDS):
        return _s("avif", "image", "AVIF image")
    if major in HEIF_BRANDS or (major not in _VIDEO_BRANDS and brands & HEIF_BRANDS):
        return _s("heif", "image", "HEIF/HEIC image")
    if major == b"crx ":  # CR3 is ISO-BMFF (moov, uuid, mdat boxes), not TIFF like CR2
        return _s("cr3", "image", "Canon raw photo (CR3)")
    return _s("mp4", "video", "MP4/QuickTime video")


def _sniff_svgz(reader: Reader) -> Sniffed | None:
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        text = inflater.decompress(reader.read(0, SVGZ_INFLATE_BYTES), SVGZ_INFLATE_BYTES)
    except zlib.error:
        return None
    if _XML_PROLOGUE.match(text):
        return _s("svg", "svg", "compressed SVG drawing")
    return None


def _refine(reader: Reader, head: bytes, type_: str, family: str, description: str) -> Sniffed:
    """A shared-table match, refined where the first bytes are shared (ZIP/JAR, gzip/SVGZ)."""
    if type_ == "zip" and (b"META-INF/" in head[:1024] or b".class" in head[:1024]):
        return _s("jar", "archive", "Java archive (JAR)")
    if type_ == "gzip":
        return _sniff_svgz(reader) or _s(type_, family, description)
    return _s(type_, family, description)


# Netpbm: the magic, then whitespace (or a comment) and the width (pbm(5), pam(5)).
_NETPBM = re.compile(rb"\AP[1-6](?:\s|#[^\n]{0,512}\n)+\d{1,9}(?:\s|#[^\n]{0,512}\n)+\d{1,9}\s")
_PAM = re.compile(rb"\AP7\n(?:#[^\n]{0,512}\n)*(?:WIDTH|HEIGHT|DEPTH|MAXVAL|TUPLTYPE)\s")
TGA_FOOTER = b"TRUEVISION-XFILE.\x00"  # TGA 2.0: the last 18 bytes of the file
TGA_NAMES = (".tga", ".icb", ".vda", ".vst", ".tpic")  # TGA 1.0 has no signature at all


def _sniff_raster(reader: Reader, head: bytes, name_hint: str) -> Sniffed | None:
    """Raster formats libmagic knows but our table does not (OpenEXR, GIMP XCF), and those
    with weak or no signatures: QOI, Radiance HDR, netpbm, PCX, TGA."""
    from agent.inspect import pcx, tga  # small modules: their header checks are the rule

    if head.startswith(b"\x76\x2f\x31\x01"):  # OpenEXR magic (the version follows)
        return _s("exr", "image", "OpenEXR image")
    if head.startswith(b"gimp xcf ") and head[13:14] == b"\x00":  # "file" or "v001".."v0NN"
        return _s("xcf", "image", "GIMP image (XCF)")
    if head.startswith(b"qoif") and len(head) >= 14 and head[12] in (3, 4) and head[13] <= 1:
        return _s("qoi", "image", "QOI image")
    if head.startswith((b"#?RADIANCE\n", b"#?RGBE\n")):
        return _s("hdr", "image", "Radiance HDR image")
    if _NETPBM.match(head) or _PAM.match(head):
        return _s("netpbm", "image", "Netpbm image (PBM/PGM/PPM/PAM)")
    if head[:1] == b"\x0a" and pcx.plausible_header(head):
        return _s("pcx", "image", "PCX image")
    footer = reader.size >= 44 and reader.read(reader.size - 18, 18) == TGA_FOOTER
    named = name_hint.lower().endswith(TGA_NAMES)
    if (footer or named) and tga.plausible_header(head):
        return _s("tga", "image", "Targa (TGA) image")
    return None


def _sniff_binary(reader: Reader, head: bytes) -> Sniffed | None:
    """Signatures of binary formats at fixed offsets."""
    # DICM first: a DICOM preamble may legitimately hold a TIFF header (dual personality).
    if reader.read(128, 4) == b"DICM":
        return _s("dicom", "dicom", "DICOM medical image")
    magic = magic_at_start(head)
    if magic is not None:
        return _refine(reader, head, magic.type, magic.family, magic.description)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return _s("webp", "image", "WebP image")
    if head.startswith(b"RIFF") and head[8:12] in (b"AVI ", b"AVIX"):
        return _s("avi", "video", "AVI video")
    if head.startswith(b"BM"):
        bmp = _sniff_bmp(reader)
        if bmp is not None:
            return bmp
    iso = _sniff_isobmff(head)
    if iso is not None:
        return iso
    if head.startswith((b"\x00\x00\x01\x00", b"\x00\x00\x02\x00")):
        ico = _sniff_ico(reader, head)
        if ico is not None:
            return ico
    if head.startswith(b"MZ"):
        return _sniff_pe(reader, head)
    if head.startswith(b"\xca\xfe\xba\xbe"):  # neither a sane fat header nor a class version
        return _s("java_class", "executable", "Java class file (unusual version)")
    if reader.read(0x8001, 5) in _VOLUME_DESCRIPTORS:
        return _s("iso", "archive", "disk image (ISO)")
    return _sniff_virtual_disk(reader, head)


# ECMA-119 (ISO 9660) and ECMA-167 (UDF) volume structure descriptors at sector 16; Windows
# mounts both kinds on a double click, and what they hold escapes the mark of the web.
_VOLUME_DESCRIPTORS = (b"CD001", b"BEA01", b"NSR02", b"NSR03")
VHD_FOOTER_BYTES = 512  # a fixed VHD ends in its footer; a dynamic one also starts with it


def _sniff_virtual_disk(reader: Reader, head: bytes) -> Sniffed | None:
    """VHD ("conectix" footer, also copied to the start) and VHDX ("vhdxfile") disks."""
    if head.startswith(b"vhdxfile"):
        return _s("vhdx", "archive", "virtual disk (VHDX)")
    if head.startswith(b"conectix") or (
        reader.size >= VHD_FOOTER_BYTES
        and reader.read(reader.size - VHD_FOOTER_BYTES, 8) == b"conectix"
    ):
        return _s("vhd", "archive", "virtual disk (VHD)")
    return None


def _svg_after_long_prolog(reader: Reader, head: bytes) -> bool:
    """An SVG whose root follows a prolog longer than `_XML_PROLOGUE` looks at.

    Padding the XML declaration, comments or the DOCTYPE past the sniff window must not
    turn a drawing into "text" that escapes the SVG checks: the prolog is skipped item by
    item (up to SVG_PROLOG_BYTES) and the first element must be `svg`.
    """
    start = head.lstrip(b" \t\r\n")
    if start.startswith(b"\xef\xbb\xbf"):
        start = start[3:]
    if not start.startswith((b"<?", b"<!")):
        return False
    text = reader.read(0, SVG_PROLOG_BYTES)
    match = _PROLOG_ITEMS.match(text)
    return match is not None and _SVG_ROOT.match(text, match.end()) is not None


def _sniff_text(reader: Reader, head: bytes) -> Sniffed | None:
    """Markup, scripts and documents that are text at the start."""
    if EICAR in head[:128]:
        return _s("eicar", "executable", "EICAR anti-virus test file")
    if b"%PDF-" in head[:PDF_HEADER_WINDOW]:
        return _s("pdf", "document", "PDF document")
    if head.startswith(b"%!PS") or head.startswith(b"\xc5\xd0\xd3\xc6"):
        return _s("postscript", "document", "PostScript document")
    if head.startswith(b"{\\rtf"):
        return _s("rtf", "document", "RTF document")
    if _PHP_START.match(head):
        return _s("php", "script", "PHP script")
    if head.startswith(b"#!"):
        return _s("shell", "script", "Unix script")
    if _WINDOWS_SHELL_FILE.match(head):
        return _s("windows_shell", "script", "Windows shortcut or registry file")
    if _MVG.match(head):
        return _s("mvg", "imagemagick", "ImageMagick drawing script (MVG)")
    if _MSL.match(head):
        return _s("msl", "imagemagick", "ImageMagick scripting language (MSL)")
    if _XML_PROLOGUE.match(head) or _svg_after_long_prolog(reader, head):
        return _s("svg", "svg", "SVG drawing")
    if _HTML_START.match(head):
        return _s("html", "script", "web page (HTML)")
    if not is_text(head[:TEXT_HEAD_BYTES]):
        return None
    text = head[:TEXT_HEAD_BYTES]
    if _PHP_ANYWHERE.search(text):
        return _s("php", "script", "PHP script")
    if _HTML_ANYWHERE.search(text):
        return _s("html", "script", "web page (HTML)")
    kind = script_kind(text)
    if kind is not None:
        type_, description = _SCRIPT_TYPES[kind]
        return _s(type_, "script", description)
    return _s("text", "text", "plain text")


def _looks_like_raw_dicom(head: bytes) -> bool:
    """A DICOM dataset without preamble: a (0002|0008,xxxx) element first.

    Little endian with explicit or implicit VR, or explicit VR big endian (PS3.5 §7.3:
    retired, but old scanners' and test suites' datasets without File Meta use it; the
    walker guesses the byte order from the first group).
    """
    if len(head) < 8:
        return False
    vr = head[4:6]
    explicit = vr.isalpha() and vr.isupper()
    if head[0:2] in (b"\x00\x08", b"\x00\x02"):
        return explicit  # big endian exists only with explicit VR
    if head[0:2] not in (b"\x08\x00", b"\x02\x00"):
        return False
    return explicit or int.from_bytes(head[4:8], "little") < 1024


# Payload kind (from the classifier's MIME table, `classify.libmagic.MIME_KINDS`) -> family.
# The MIME type is a registered name; libmagic's prose is shown as evidence only ("XML 1.0
# document" was once read as a dangerous "document" by substring).
_KIND_FAMILIES = {
    **dict.fromkeys(("pe", "elf", "macho", "java_class", "dex", "wasm", "lnk"), "executable"),
    **dict.fromkeys(("zip", "jar", "rar", "7z", "gzip", "bzip2", "xz", "cab", "iso"), "archive"),
    **dict.fromkeys(("pdf", "ole", "rtf", "chm"), "document"),
    **dict.fromkeys(("html", "php", "shell", "python", "batch"), "script"),
}


def _second_opinion(head: bytes) -> Sniffed | None:
    """Ask libmagic about bytes our signatures do not know. Never raises.

    The verdict comes from the MIME type through an exact table; `image/*` and `video/*`
    are picture and video families by the MIME registry's own top-level types.
    """
    try:
        # lazy: only unrecognised files pay for importing and calling libmagic
        import magic

        sample = head[:MAGIC_HEAD_BYTES]
        mime = str(magic.from_buffer(sample, mime=True)).strip().lower()
        description = str(magic.from_buffer(sample))[:200]
    except Exception:  # a broken libmagic must never break the engine
        return None
    kind = MIME_KINDS.get(mime)
    if kind in _KIND_FAMILIES:
        return _s(kind, _KIND_FAMILIES[kind], description)
    if mime == "image/svg+xml":
        return _s("svg", "svg", description)
    if mime.startswith("image/"):
        return _s("image_other", "image", description)
    if mime.startswith("video/"):
        return _s("video", "video", description)
    return None


def _sniff_wide_text(head: bytes) -> Sniffed | None:
    """An SVG (or other markup) saved as UTF-16/UTF-32, with or without a BOM."""
    if wide_encoding(head) is None:
        return None
    text = as_utf8(head)
    if _XML_PROLOGUE.match(text):
        return _s("svg", "svg", "SVG drawing (UTF-16/32)")
    found = _sniff_text(Reader.from_bytes(text), text)
    if found is not None and found.family in ("script", "svg", "imagemagick"):
        return _s(found.type, found.family, found.description + " (UTF-16/32)")
    return None


def sniff(reader: Reader, *, name_hint: str = "") -> Sniffed:
    """The type of the file behind `reader`, from its bytes.

    `name_hint` is used only where a format has no signature of its own: a DICOM dataset
    without its 128-byte preamble is recognised only when the name ends in `.dcm`, a
    TGA 1.0 image (no footer) only when it ends in `.tga` and its header is sane.
    """
    if reader.size == 0:
        return _s("empty", "unknown", "empty file")
    head = reader.read(0, HEAD_BYTES)
    found = (
        _sniff_binary(reader, head)
        or _sniff_raster(reader, head, name_hint)
        or _sniff_wide_text(head)
        or _sniff_text(reader, head)
    )
    if found is not None:
        return found
    if name_hint.lower().endswith((".dcm", ".dicom")) and _looks_like_raw_dicom(head):
        return _s("dicom", "dicom", "DICOM medical image (no preamble)")
    return _second_opinion(head) or _s("unknown", "unknown", "unrecognised data")
