"""What a byte range holds (trailers, metadata) and where payload markers sit in a file.

Two jobs, both in C-speed regex/find passes, never per-byte Python:

* `classify(data)` names what a left-over blob is (pe, zip, php, html, zeros, a
  high-entropy blob...) from its first bytes, strong signatures inside it and its entropy.
* `find_markers(reader, start, end, strong_only)` lists payload markers in a region.
  Strong markers are chosen so random compressed data practically never contains them
  (at least five fixed bytes, or a validated structure behind a short magic), so they may
  be searched in pixel data. Weak markers (JavaScript calls, shell commands) only make
  sense in metadata, which is text or small binary records.

Speed: one regex pass per region. The whole-file pass over pixel data uses only markers
that begin with `<` (PHP tags, HTML/SVG script): SRE then skips to each `<` at memchr
speed. Those are the payloads an interpreter finds by scanning (PHP `include`, a browser
sniffing HTML); executables, archives and PDFs are only dangerous where their readers
look for them (the file start, the end, or metadata), and those places are searched with
the full marker set.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from agent.inspect.reader import Reader

CLASSIFY_SAMPLE_BYTES = 1024 * 1024  # bytes of a left-over region classified by content
ENTROPY_SAMPLE_BYTES = 256 * 1024  # bytes used to estimate entropy
HIGH_ENTROPY_BITS = 7.2  # bits/byte: at or above this a blob is encrypted or compressed
MAX_MARKERS = 64  # markers reported per region (evidence, not an inventory)
SVG_EVENT_WINDOW = 200  # bytes after `<svg` in which an `on...=` handler counts
ZIP_EOCD_SEARCH_BYTES = 65_535 + 22  # bytes from the end where a ZIP's EOCD can start
MAX_PE_HEADER_OFFSET = 64 * 1024  # bytes: e_lfanew beyond this is not a real PE
MAX_ZIP_NAME_BYTES = 1024  # bytes: a local header file name longer than this is not real

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

# Kinds whose presence makes a blob dangerous wherever it is found.
DANGEROUS_KINDS = frozenset(
    {
        "pe",
        "elf",
        "macho",
        "zip",
        "rar",
        "7z",
        "pdf",
        "html",
        "script",
        "php",
        "phar",
        "shell",
        "powershell",
        "vbs",
        "eicar",
        "bootsector",
        "file_read",
    }
)


@dataclass(frozen=True)
class Payload:
    """What a blob looks like: its kind, size, entropy (bits/byte) and where it was seen."""

    kind: str
    size: int
    entropy: float
    dangerous: bool
    offset: int = 0  # offset inside the blob of the signature that decided the kind


@dataclass(frozen=True)
class Marker:
    """One payload marker: absolute file offset, kind ("php", "pe"...) and the matched text."""

    offset: int
    kind: str
    text: bytes = b""


# --- marker patterns ------------------------------------------------------------------------
# Python's regex engine is fast only when a pattern starts with a literal (it then skips to
# each occurrence of that byte in C); a top-level alternation is tried at every position and
# runs 20-50x slower. So every marker is its own pattern with a literal prefix, searched in
# lower-cased data (case-insensitivity for free, same offsets), and the whole-file pixel pass
# is one pattern starting with `<`.

# The pixel-data pass: PHP tags and HTML/SVG script, anchored on `<`, on raw (mixed-case) data.
_PIXEL_PATTERN = re.compile(
    rb"<(?:(?i:\?php)(?:[\s(/]|[A-Za-z_]\w{0,30}\()"
    rb"|\?=\s{0,16}\$[A-Za-z_]\w{0,40}\s{0,8}[\[(]"
    rb"|(?i:/?script)[\s>/]"
    rb"|(?i:svg)[^>]{0,%d}?(?i:\bon[a-z]{3,24})\s{0,8}="
    rb"|(?i:html|iframe)[\s>])" % SVG_EVENT_WINDOW,
    re.DOTALL,
)

# (kind, pattern over lower-cased bytes). Strong: safe in compressed data (>= 5 fixed bytes or
# a validated structure). Binary magics are unchanged by lower-casing except their letters.
_STRONG_SOURCES: tuple[tuple[str, bytes], ...] = (
    ("php", rb"<\?php(?:[\s(/]|[a-z_]\w{0,30}\()"),
    ("php", rb"<\?=\s{0,16}\$[a-z_]\w{0,40}\s{0,8}[\[(]"),
    ("html", rb"</?script[\s>/]"),
    ("html", rb"<svg[^>]{0,%d}?\bon[a-z]{3,24}\s{0,8}=" % SVG_EVENT_WINDOW),
    ("html", rb"<html[\s>]"),
    ("html", rb"<iframe[\s>]"),
    ("phar", rb"__halt_compiler\s{0,8}\("),
    ("eicar", rb"x5o!p%@ap\[4\\pzx54\(p\^\)7cc\)7\}\$eicar"),
    ("pe", rb"mz"),  # validated: e_lfanew must point at PE\0\0
    ("pe", rb"this program cannot be run in dos mode"),
    ("elf", rb"\x7felf[\x01\x02][\x01\x02]\x01"),
    ("zip", rb"pk\x03\x04"),  # validated: sane local file header
    ("rar", rb"rar!\x1a\x07[\x00\x01]"),
    ("7z", rb"7z\xbc\xaf\x27\x1c"),
    ("pdf", rb"%pdf-\d\.\d"),
    ("shell", rb"#!\s?/(?:usr/)?(?:local/)?bin/"),
    ("powershell", rb"powershell(?:\.exe)?\s{1,8}-"),
    ("powershell", rb"invoke-expression"),
    ("script", rb"javascript:"),
    ("php", rb"\$_(?:get|post|request|cookie|server)\["),
    ("php", rb"base64_decode\s{0,8}\("),
    ("php", rb"gzinflate\s{0,8}\("),
    ("php", rb"str_rot13\s{0,8}\("),
)
# Weak: plausible in a script, implausible in honest metadata, too short for pixel data.
_WEAK_SOURCES: tuple[tuple[str, bytes], ...] = (
    ("script", rb"alert\s{0,8}\("),
    ("script", rb"prompt\s{0,8}\("),
    ("script", rb"document\.(?:cookie|write|location|domain)"),
    ("script", rb"window\.location"),
    ("script", rb"string\.fromcharcode\("),
    ("script", rb"eval\s{0,8}\("),
    ("script", rb"atob\s{0,8}\("),
    ("script", rb"onload\s{0,8}="),
    ("script", rb"onerror\s{0,8}="),
    ("script", rb"onmouseover\s{0,8}="),
    ("script", rb"<!entity\s+%?\s*[\w.-]+\s+(?:system|public)\b"),
    ("php", rb"system\s{0,8}\(\s{0,8}[\"'$]"),
    ("php", rb"exec\s{0,8}\(\s{0,8}[\"'$]"),
    ("php", rb"passthru\s{0,8}\("),
    ("php", rb"popen\s{0,8}\(\s{0,8}[\"'$]"),
    ("shell", rb"curl\s+(?:-\S+\s+){0,4}(?:https?|ftp)://"),
    ("shell", rb"wget\s+(?:-\S+\s+){0,4}(?:https?|ftp)://"),
    ("shell", rb"/bin/(?:ba)?sh\b"),
    ("shell", rb"cmd(?:\.exe)?\s+/[ck]\s"),
    # local-file-read requests (ImageMagick CVE-2022-44268 `profile`, LFI via metadata)
    ("file_read", rb"/etc/(?:passwd|shadow)\b"),
    ("file_read", rb"/proc/self/"),
    ("file_read", rb"c:\\windows\\(?:system32|win\.ini)"),
)

_STRONG = tuple((kind, re.compile(source, re.DOTALL)) for kind, source in _STRONG_SOURCES)
_ALL = _STRONG + tuple((kind, re.compile(source, re.DOTALL)) for kind, source in _WEAK_SOURCES)
_LOWERED_WINDOW_BYTES = 4 * 1024 * 1024  # bytes lower-cased and searched at a time
_WINDOW_OVERLAP_BYTES = 4096  # bytes: markers straddling a window edge are still found


def valid_pe(view: bytes | Reader, offset: int, size: int) -> bool:
    """MZ at `offset` whose e_lfanew points at a PE\\0\\0 signature."""
    raw = _read(view, offset + 0x3C, 4)
    if len(raw) < 4:
        return False
    lfanew = int.from_bytes(raw, "little")
    if not 0x40 <= lfanew <= MAX_PE_HEADER_OFFSET or offset + lfanew + 4 > size:
        return False
    return _read(view, offset + lfanew, 4) == b"PE\x00\x00"


def _valid_zip_local_header(view: bytes | Reader, offset: int) -> bool:
    """PK\\x03\\x04 followed by a plausible version, method and printable file name."""
    header = _read(view, offset, 30)
    if len(header) < 30:
        return False
    version = header[4]
    flags = int.from_bytes(header[6:8], "little")
    method = int.from_bytes(header[8:10], "little")
    name_length = int.from_bytes(header[26:28], "little")
    if version > 90 or header[5] > 20 or flags & 0xF000:  # upper flag bits are reserved
        return False
    if method not in (0, 1, 6, 8, 9, 12, 14, 19, 93, 95, 96, 97, 98, 99):
        return False
    if not 1 <= name_length <= MAX_ZIP_NAME_BYTES:
        return False
    name = _read(view, offset + 30, name_length)
    return len(name) == name_length and all(0x20 <= b < 0x7F or b >= 0x80 for b in name)


def _read(view: bytes | Reader, offset: int, length: int) -> bytes:
    if isinstance(view, Reader):
        return view.read(offset, length)
    return view[offset : offset + length] if offset >= 0 else b""


def _valid(kind: str, matched: bytes, original: bytes | Reader, offset: int, size: int) -> bool:
    """False when the structure behind a short magic (MZ, PK) is not real."""
    if kind == "pe" and matched == b"mz":
        return original[offset : offset + 2] == b"MZ" and valid_pe(original, offset, size)
    if kind == "zip":
        return _valid_zip_local_header(original, offset)
    return True


def _search_lowered(
    lowered: bytes,
    original: bytes | Reader,
    base: int,
    size: int,
    patterns: tuple[tuple[str, re.Pattern[bytes]], ...],
    stop: int,
) -> list[Marker]:
    """Every pattern over one lower-cased window; offsets are `base` + window offset."""
    found: list[Marker] = []
    for kind, pattern in patterns:
        hits = 0
        for match in pattern.finditer(lowered):
            if match.start() >= stop:
                break  # in the overlap: the next window reports it
            offset = base + match.start()
            if not _valid(kind, match.group(0), original, offset, size):
                continue
            found.append(Marker(offset, kind, match.group(0)[:40]))
            hits += 1
            if hits >= MAX_MARKERS:
                break
    return found


def find_markers(
    reader: Reader,
    start: int,
    end: int,
    strong_only: bool,
    *,
    pixel_data: bool = False,
) -> list[Marker]:
    """Payload markers in [start, end) of the file, in file order, at most MAX_MARKERS.

    `strong_only` restricts to markers safe to search in compressed data; `pixel_data`
    restricts further to the `<`-anchored markers, searched in one pass over the mapped
    file without copying (the fast whole-file pass, see the module docstring).
    """
    if pixel_data:
        pixel: list[Marker] = []
        for match in reader.finditer(_PIXEL_PATTERN, start, end):
            kind = "php" if match.group(0)[1:2] == b"?" else "html"
            pixel.append(Marker(match.start(), kind, match.group(0)[:40]))
            if len(pixel) >= MAX_MARKERS:
                break
        return pixel
    patterns = _STRONG if strong_only else _ALL
    markers: list[Marker] = []
    position, stop = max(0, start), min(end, reader.size)
    while position < stop and len(markers) < MAX_MARKERS:
        reader.check_deadline()
        window_end = min(stop, position + _LOWERED_WINDOW_BYTES)
        chunk = reader.read(position, window_end + _WINDOW_OVERLAP_BYTES - position)
        chunk = chunk[: stop - position]
        found = _search_lowered(
            chunk.lower(), reader, position, reader.size, patterns, window_end - position
        )
        markers.extend(found)
        position = window_end
    markers.sort(key=lambda m: m.offset)
    return markers[:MAX_MARKERS]


def find_markers_in_bytes(
    untrusted_data: bytes, strong_only: bool = False, base_offset: int = 0
) -> list[Marker]:
    """`find_markers` over bytes already in memory (decompressed metadata, samples)."""
    patterns = _STRONG if strong_only else _ALL
    found = _search_lowered(
        untrusted_data.lower(),
        untrusted_data,
        0,
        len(untrusted_data),
        patterns,
        len(untrusted_data),
    )
    found.sort(key=lambda m: m.offset)
    return [Marker(m.offset + base_offset, m.kind, m.text) for m in found[:MAX_MARKERS]]


# --- classification -------------------------------------------------------------------------


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte of (a sample of) the data."""
    if len(data) > ENTROPY_SAMPLE_BYTES:
        third = ENTROPY_SAMPLE_BYTES // 3
        middle = len(data) // 2
        data = data[:third] + data[middle : middle + third] + data[-third:]
    if not data:
        return 0.0
    total = len(data)
    return -sum(n / total * math.log2(n / total) for n in Counter(data).values())


_START_KINDS: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", "elf"),
    (b"\xfe\xed\xfa\xce", "macho"),
    (b"\xfe\xed\xfa\xcf", "macho"),
    (b"\xce\xfa\xed\xfe", "macho"),
    (b"\xcf\xfa\xed\xfe", "macho"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"Rar!\x1a\x07", "rar"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\x1f\x8b\x08", "gzip"),
    (b"%PDF-", "pdf"),
    (b"#!", "shell"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)
_HTML_START = re.compile(
    rb"\A\s*(?:<!--.{0,1024}?-->\s*)?<(?:!doctype\s+html|html|head|body|script|iframe|svg)",
    re.IGNORECASE | re.DOTALL,
)
_PHP_START = re.compile(rb"\A\s*<\?(?:php|=)", re.IGNORECASE)
_WHITESPACE = b" \t\r\n\x00\x0b\x0c"
_MARKER_KIND_TO_PAYLOAD = {"7z": "7z", "sevenzip": "7z"}


def _kind_at_start(data: bytes) -> str | None:
    if data.startswith(b"MZ") and valid_pe(data, 0, len(data)):
        return "pe"
    for magic, kind in _START_KINDS:
        if data.startswith(magic):
            return kind
    if data[4:8] == b"ftyp":
        return "mp4"
    if _PHP_START.match(data):
        return "php"
    if _HTML_START.match(data):
        return "html"
    return None


def _has_zip_eocd(data: bytes) -> int:
    """Offset of a ZIP end-of-central-directory record near the end, or -1."""
    tail_start = max(0, len(data) - ZIP_EOCD_SEARCH_BYTES)
    pos = data.rfind(b"PK\x05\x06", tail_start)
    if pos < 0 or pos + 22 > len(data):
        return -1
    comment_length = int.from_bytes(data[pos + 20 : pos + 22], "little")
    return pos if pos + 22 + comment_length == len(data) else -1


def _is_text(data: bytes) -> bool:
    sample = data[:4096]
    if not sample or b"\x00" in sample:
        return False
    printable = sum(1 for b in sample if b >= 0x20 or b in (9, 10, 13))
    return printable >= len(sample) * 0.95


def classify(data: bytes) -> Payload:
    """What a blob (typically the bytes left over after an image's logical end) holds.

    Looks at the start, for a ZIP directory at the end, and for strong or script markers
    anywhere inside (bounded by the caller: pass at most CLASSIFY_SAMPLE_BYTES plus the
    tail when the blob is larger). `dangerous` is True for executables, archives that
    readers open from the end (ZIP/JAR), documents and scripts.
    """
    size = len(data)
    if size == 0 or data.count(0) == size:
        return Payload("zeros", size, 0.0, False)
    if not data.strip(_WHITESPACE):
        return Payload("whitespace", size, entropy(data), False)
    bits = entropy(data)
    kind = _kind_at_start(data)
    offset = 0
    if kind is None or kind not in DANGEROUS_KINDS:
        eocd = _has_zip_eocd(data)
        if eocd >= 0:
            kind, offset = "zip", eocd
    if kind is None or kind not in DANGEROUS_KINDS:
        markers = find_markers_in_bytes(data, strong_only=False)
        if markers:
            first = markers[0]
            kind = _MARKER_KIND_TO_PAYLOAD.get(first.kind, first.kind)
            offset = first.offset
    if kind is None:
        if data.endswith(EICAR) or EICAR in data:
            kind = "eicar"
        elif _is_text(data):
            kind = "text"
        else:
            kind = "unknown"
    return Payload(kind, size, bits, kind in DANGEROUS_KINDS, offset)


def first_non_zero(reader: Reader, start: int, stop: int) -> int:
    """Offset of the first non-zero byte in [start, stop), or -1 (see Reader.first_non_zero)."""
    return reader.first_non_zero(start, stop)
