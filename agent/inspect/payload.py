"""What a byte range holds (trailers, metadata) and where payload markers sit in a file.

Two jobs, both in C-speed regex/find passes, never per-byte Python:

* `classify(data)` names what a left-over blob is (pe, zip, php, html, zeros, a
  high-entropy blob...) from its first bytes, strong signatures inside it and its entropy.
* `find_markers(reader, start, end, strong_only)` lists payload markers in a region.
  Strong markers are chosen so random compressed data practically never contains them
  (at least five fixed bytes, or a validated structure behind a short magic), so they may
  be searched in pixel data. Weak markers (JavaScript calls, shell commands) only make
  sense in metadata, which is text or small binary records. Among the weak ones, the
  *suggestive* markers (`alert(`, `eval(`, `prompt(`, `atob(`, `onload=`...) also occur in
  honest prose ("Post-op wound eval(day 3)"): one alone proves nothing. `conclusive()`
  says when markers prove a payload: any strong or telling marker, two different
  suggestive ones, or a suggestive one in code context (inside an HTML tag, an `on...=`
  handler, or right after JavaScript punctuation such as `;`, `=` or `*/`).

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
from dataclasses import dataclass, replace

from agent.inspect.reader import Reader
from agent.inspect.signatures import is_text, magic_at_start, script_kind

CLASSIFY_SAMPLE_BYTES = 1024 * 1024  # bytes of a left-over region classified by content
ENTROPY_SAMPLE_BYTES = 256 * 1024  # bytes used to estimate entropy
HIGH_ENTROPY_BITS = 7.2  # bits/byte: at or above this a blob is encrypted or compressed
MAX_MARKERS = 64  # markers reported per region (evidence, not an inventory)
SVG_EVENT_WINDOW = 200  # bytes after `<svg` in which an `on...=` handler counts
ZIP_EOCD_SEARCH_BYTES = 65_535 + 22  # bytes from the end where a ZIP's EOCD can start
MAX_PE_HEADER_OFFSET = 64 * 1024  # bytes: e_lfanew beyond this is not a real PE
MAX_ZIP_NAME_BYTES = 1024  # bytes: a local header file name longer than this is not real
MAX_LEADING_PADDING_BYTES = 64 * 1024  # bytes of NUL/whitespace skipped before a blob's start
TEXT_SAMPLE_BYTES = 4096  # bytes of a blob looked at to call it text
SCRIPT_SAMPLE_BYTES = 64 * 1024  # bytes of a text blob searched for script tokens
MIN_SCRIPT_BYTES = 16  # bytes: a shorter printable run is too short to call a script
MARKUP_LOOKBACK_BYTES = 256  # bytes before a suggestive marker searched for its tag/handler
SUGGESTIVE_MIN_RULES = 2  # different suggestive markers that together prove a script

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
        "batch",
        "java_class",
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
    """One payload marker: absolute file offset, kind ("php", "pe"...) and the matched text.

    `suggestive` markers prove nothing alone (see `conclusive`); `rule` names the pattern
    that matched, so two hits of the same suggestive pattern count once.
    """

    offset: int
    kind: str
    text: bytes = b""
    suggestive: bool = False
    rule: str = ""


# --- marker patterns ------------------------------------------------------------------------
# Python's regex engine is fast only when a pattern starts with a literal (it then skips to
# each occurrence of that byte in C); a top-level alternation is tried at every position and
# runs 20-50x slower. So every marker is its own pattern with a literal prefix, searched in
# lower-cased data (case-insensitivity for free, same offsets), and the whole-file pixel pass
# is one pattern starting with `<`.

# The pixel-data pass: PHP tags and HTML/SVG script, anchored on `<`, on raw (mixed-case) data.
_PIXEL_PATTERN = re.compile(
    rb"<(?:(?i:\?php)(?:[\s(/]|[A-Za-z_]\w{0,30}\()"
    rb"|\?=\s{0,16}[`@(]?\s{0,8}\$[A-Za-z_]\w{0,40}\s{0,8}[\[(]"
    rb"|(?i:/?script)[\s>/]"
    rb"|(?i:svg)[^>]{0,%d}?(?i:\bon[a-z]{3,24})\s{0,8}="
    rb"|(?i:html|iframe)[\s>])" % SVG_EVENT_WINDOW,
    re.DOTALL,
)

# (kind, pattern over lower-cased bytes). Strong: safe in compressed data (>= 5 fixed bytes or
# a validated structure). Binary magics are unchanged by lower-casing except their letters.
_STRONG_SOURCES: tuple[tuple[str, bytes], ...] = (
    ("php", rb"<\?php(?:[\s(/]|[a-z_]\w{0,30}\()"),
    # `<?=` echoing a call or array element, also through backticks (shell) or `@`/`(`
    ("php", rb"<\?=\s{0,16}[`@(]?\s{0,8}\$[a-z_]\w{0,40}\s{0,8}[\[(]"),
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
# Telling: too short for pixel data, but one alone in metadata or a trailer is a script.
_TELLING_SOURCES: tuple[tuple[str, bytes], ...] = (
    ("script", rb"document\.(?:cookie|write|location|domain)"),
    ("script", rb"window\.location"),
    ("script", rb"string\.fromcharcode\("),
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
# Suggestive: script calls and handlers that honest prose also contains ("Allergy
# alert(penicillin)"). No whitespace before `(`: prose puts a space there, code does not.
# Each must start a word (checked after the match: a leading \b would cost the fast path).
_SUGGESTIVE_SOURCES: tuple[tuple[str, bytes], ...] = (
    ("script", rb"alert\("),
    ("script", rb"prompt\("),
    ("script", rb"eval\("),
    ("script", rb"atob\("),
    ("script", rb"onload\s{0,8}="),
    ("script", rb"onerror\s{0,8}="),
    ("script", rb"onmouseover\s{0,8}="),
)


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[bytes]  # over lower-cased bytes
    suggestive: bool
    label: str  # the pattern's source, naming the rule in Marker.rule


def _rules(sources: tuple[tuple[str, bytes], ...], suggestive: bool = False) -> tuple[_Rule, ...]:
    return tuple(
        _Rule(kind, re.compile(source, re.DOTALL), suggestive, source.decode("latin-1"))
        for kind, source in sources
    )


_STRONG = _rules(_STRONG_SOURCES)
_ALL = _STRONG + _rules(_TELLING_SOURCES) + _rules(_SUGGESTIVE_SOURCES, suggestive=True)
# An HTML-ish start tag (no namespace prefix: XMP's `<rdf:li>` holds prose, not markup).
_HTML_TAG_OPEN = re.compile(rb"<[a-z][a-z0-9-]{0,31}[\s/]")
# Bytes that end a JavaScript statement or expression right before a call.
_CODE_PUNCTUATION = frozenset((b";", b"=", b"{", b"}"))
# An event-handler attribute whose value runs up to the marker (`onfocus=alert(1)`).
_HANDLER_BEFORE = re.compile(rb"\bon[a-z]{3,24}\s{0,8}=\s{0,8}[\"'`]?[^\"'`<>\r\n]{0,128}\Z")
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


def _word_byte(byte: int) -> bool:
    return byte == 0x5F or 0x30 <= byte <= 0x39 or 0x61 <= byte <= 0x7A


def _in_code_context(lowered: bytes, position: int) -> bool:
    """True when the marker at `position` is code, not prose: it sits inside an HTML tag,
    in an `on...=` handler value, or right after JavaScript punctuation (`;alert(`,
    `=eval(`, `*/alert(`: a statement, an assignment, a polyglot closing its comment).
    Prose puts a word or a space there."""
    before = lowered[max(0, position - MARKUP_LOOKBACK_BYTES) : position]
    tag = before.rfind(b"<")
    if tag > before.rfind(b">") and _HTML_TAG_OPEN.match(before, tag):
        return True
    if _HANDLER_BEFORE.search(before) is not None:
        return True
    code = before.rstrip(b" \t")
    return code.endswith(b"*/") or code[-1:] in _CODE_PUNCTUATION


def _search_lowered(
    lowered: bytes,
    original: bytes | Reader,
    base: int,
    size: int,
    rules: tuple[_Rule, ...],
    stop: int,
) -> list[Marker]:
    """Every rule over one lower-cased window; offsets are `base` + window offset."""
    found: list[Marker] = []
    for rule in rules:
        hits = 0
        for match in rule.pattern.finditer(lowered):
            start = match.start()
            if start >= stop:
                break  # in the overlap: the next window reports it
            offset = base + start
            if not _valid(rule.kind, match.group(0), original, offset, size):
                continue
            suggestive = rule.suggestive
            if suggestive:
                if start > 0 and _word_byte(lowered[start - 1]):
                    continue  # `medieval(`, `realert(`: not the call
                suggestive = not _in_code_context(lowered, start)
            text = match.group(0)[:40]
            found.append(Marker(offset, rule.kind, text, suggestive, rule.label))
            hits += 1
            if hits >= MAX_MARKERS:
                break
    return found


def conclusive(markers: list[Marker]) -> bool:
    """True when the markers prove a payload rather than suggest one.

    Any strong or telling marker does; suggestive ones need `SUGGESTIVE_MIN_RULES`
    different patterns (`eval(atob(`), or one inside markup (they are then not suggestive).
    """
    if any(not marker.suggestive for marker in markers):
        return True
    return len({marker.rule for marker in markers}) >= SUGGESTIVE_MIN_RULES


def decisive_marker(markers: list[Marker]) -> Marker:
    """The marker to report: the first non-suggestive one, else the first."""
    return next((m for m in markers if not m.suggestive), markers[0])


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
    rules = _STRONG if strong_only else _ALL
    markers: list[Marker] = []
    position, stop = max(0, start), min(end, reader.size)
    while position < stop and len(markers) < MAX_MARKERS:
        reader.check_deadline()
        window_end = min(stop, position + _LOWERED_WINDOW_BYTES)
        chunk = reader.read(position, window_end + _WINDOW_OVERLAP_BYTES - position)
        chunk = chunk[: stop - position]
        found = _search_lowered(
            chunk.lower(), reader, position, reader.size, rules, window_end - position
        )
        markers.extend(found)
        position = window_end
    markers.sort(key=lambda m: m.offset)
    return markers[:MAX_MARKERS]


def find_markers_in_bytes(
    untrusted_data: bytes, strong_only: bool = False, base_offset: int = 0
) -> list[Marker]:
    """`find_markers` over bytes already in memory (decompressed metadata, samples)."""
    rules = _STRONG if strong_only else _ALL
    found = _search_lowered(
        untrusted_data.lower(),
        untrusted_data,
        0,
        len(untrusted_data),
        rules,
        len(untrusted_data),
    )
    found.sort(key=lambda m: m.offset)
    return [replace(m, offset=m.offset + base_offset) for m in found[:MAX_MARKERS]]


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


_HTML_START = re.compile(
    rb"\A\s*(?:<!--.{0,1024}?-->\s*)?<(?:!doctype\s+html|html|head|body|script|iframe|svg)",
    re.IGNORECASE | re.DOTALL,
)
_PHP_START = re.compile(rb"\A\s*<\?(?:php|=)", re.IGNORECASE)
_WHITESPACE = b" \t\r\n\x00\x0b\x0c"
_MARKER_KIND_TO_PAYLOAD = {"7z": "7z", "sevenzip": "7z"}
# signatures.script_kind -> payload kind
_SCRIPT_PAYLOAD_KINDS = {"powershell": "powershell", "vbs": "vbs", "batch": "batch", "js": "script"}


def _kind_at_start(data: bytes) -> str | None:
    """The payload kind whose signature `data` starts with (shared table in `signatures`)."""
    if data.startswith(b"MZ") and valid_pe(data, 0, len(data)):
        return "pe"
    magic = magic_at_start(data)
    if magic is not None:
        return magic.type
    if data.startswith(b"#!"):
        return "shell"
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


def leading_padding(data: bytes) -> int:
    """Bytes of NUL/whitespace at the start of `data`, counted up to MAX_LEADING_PADDING_BYTES.

    Writers and attackers alike pad before a payload; its signature then starts here.
    """
    head = data[:MAX_LEADING_PADDING_BYTES]
    return len(head) - len(head.lstrip(_WHITESPACE))


def _script_in_text(body: bytes) -> str | None:
    """The payload kind of a script at the start of `body` (up to its first NUL), or None."""
    nul = body.find(b"\x00", 0, SCRIPT_SAMPLE_BYTES)
    text = body[: nul if nul >= 0 else SCRIPT_SAMPLE_BYTES]
    if len(text) < MIN_SCRIPT_BYTES or not is_text(text[:TEXT_SAMPLE_BYTES]):
        return None
    kind = script_kind(text)
    return None if kind is None else _SCRIPT_PAYLOAD_KINDS[kind]


def classify(data: bytes) -> Payload:
    """What a blob (typically the bytes left over after an image's logical end) holds.

    Skips leading NUL/whitespace padding (up to MAX_LEADING_PADDING_BYTES), then looks at
    the start, for a ZIP directory at the end, for conclusive markers anywhere inside
    (bounded by the caller: pass at most CLASSIFY_SAMPLE_BYTES plus the tail when the blob
    is larger) and, for text, for PowerShell/VBScript/batch/JavaScript. `dangerous` is
    True for executables, archives that readers open from the end (ZIP/JAR), documents
    and scripts; `offset` is where the deciding signature starts inside the blob.
    """
    size = len(data)
    if size == 0 or data.count(0) == size:
        return Payload("zeros", size, 0.0, False)
    if not data.strip(_WHITESPACE):
        return Payload("whitespace", size, entropy(data), False)
    bits = entropy(data)
    lead = leading_padding(data)
    body = data[lead:]
    kind, offset = _kind_at_start(body), lead
    if kind is None and lead:  # a signature that itself starts with NUL (JPEG 2000, JPEG XL)
        kind, offset = _kind_at_start(data), 0
    if kind is None or kind not in DANGEROUS_KINDS:
        eocd = _has_zip_eocd(data)
        if eocd >= 0:
            kind, offset = "zip", eocd
    if kind is None or kind not in DANGEROUS_KINDS:
        markers = find_markers_in_bytes(data, strong_only=False)
        if markers and conclusive(markers):
            first = decisive_marker(markers)
            kind = _MARKER_KIND_TO_PAYLOAD.get(first.kind, first.kind)
            offset = first.offset
    if kind is None or kind not in DANGEROUS_KINDS:
        script = _script_in_text(body)
        if script is not None:
            kind, offset = script, lead
    if kind is None:
        if EICAR in data:
            kind = "eicar"
            offset = data.find(EICAR)
        elif is_text(body[:TEXT_SAMPLE_BYTES]):
            kind = "text"
        else:
            kind = "unknown"
    return Payload(kind, size, bits, kind in DANGEROUS_KINDS, offset)


def first_non_zero(reader: Reader, start: int, stop: int) -> int:
    """Offset of the first non-zero byte in [start, stop), or -1 (see Reader.first_non_zero)."""
    return reader.first_non_zero(start, stop)
