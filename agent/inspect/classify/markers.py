"""Payload markers: where scripts, executables and archives sit inside a byte range.

`find_markers(reader, start, end, strong_only)` lists payload markers in a region of the
file; `find_markers_in_bytes` does the same over bytes in memory (decoded or inflated
metadata, samples). Strong markers are chosen so random compressed data practically
never contains them (at least five fixed bytes, or a validated structure behind a short
magic), so they may be searched in pixel data. Weak markers (JavaScript calls, shell
commands) only make sense in metadata, which is text or small binary records. Among the
weak ones, the *suggestive* markers (`alert(`, `eval(`, `prompt(`, `atob(`, `import(`,
`onload=`...) also occur in honest prose ("Post-op wound eval(day 3)"): one alone proves
nothing. `conclusive()` says when markers prove a payload: any strong or telling marker,
two different suggestive ones, or a suggestive one in code context (inside an HTML tag,
an `on...=` handler, or right after JavaScript punctuation such as `;`, `=` or `*/`).

Speed: one regex pass per rule per region. The whole-file pass over pixel data uses only
markers that begin with `<` (PHP tags, HTML/SVG script): a SIMD multi-needle search
(`needles.py`) proposes the few places where `<` and two more bytes can start one. Those
are the payloads an interpreter finds by scanning (PHP `include`, a browser sniffing
HTML); executables, archives and PDFs are only dangerous where their
readers look for them (the file start, the end, or metadata), and those places are
searched with the full marker set.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace

import ahocorasick_rs

from agent.inspect.classify.kinds import MAX_PE_HEADER_OFFSET
from agent.inspect.classify.needles import NeedleSearch, case_variants
from agent.inspect.reader import Reader

MAX_MARKERS = 64  # markers reported per region (evidence, not an inventory)
SVG_EVENT_WINDOW = 200  # bytes after `<svg` in which an `on...=` handler counts
MAX_ZIP_NAME_BYTES = 1024  # bytes: a local header file name longer than this is not real
MARKUP_LOOKBACK_BYTES = 256  # bytes before a suggestive marker searched for its tag/handler
SUGGESTIVE_MIN_RULES = 2  # different suggestive markers that together prove a script
LOWERED_WINDOW_BYTES = 4 * 1024 * 1024  # bytes lower-cased and searched at a time
# Every rule is bounded (tests/test_pixel_prefilter.py checks each one's longest match):
# a match starting before a window's end is searched up to the overlap's end, so an
# unbounded `\S+` could run past it and a marker straddling the edge would be missed.
MAX_SPACE_RUN = 256  # bytes of whitespace between the words of a command
MAX_OPTION_BYTES = 8192  # bytes of one command-line option (`curl -H ...`) or entity name
WINDOW_OVERLAP_BYTES = 64 * 1024  # bytes: > the longest rule match (curl: ~34 KB)


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

# Where a match of _PIXEL_PATTERN can start: `<` and the first two bytes of a branch (`?php`
# in any case, `?=`, `/script`, `script`, `svg`, `html`, `iframe` in any case; bytes patterns
# fold ASCII case only). 21 needles that noise holds once in ~100 KB; the full pattern is
# tried only there (tests/test_pixel_prefilter.py derives them from the pattern's branches).
_PIXEL_STARTS = (b"?p", b"?=", b"/s", b"sc", b"sv", b"ht", b"if")
_PIXEL_CANDIDATES = NeedleSearch(
    b"<" + variant for stem in _PIXEL_STARTS for variant in case_variants(stem)
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
    # eight or more fixed bytes: safe in compressed data without further validation.
    # Not here: compressed streams (xz, bzip2) and RTF text, which metadata may carry for
    # good reasons; the decoders inflate streams and judge what they hold.
    ("ole", rb"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"),
    ("cab", rb"mscf\x00\x00\x00\x00"),
    ("lnk", rb"l\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0"),
    ("chm", rb"itsf\x03\x00\x00\x00"),
    ("dex", rb"dex\n0[0-9]{2}\x00"),
    ("wasm", rb"\x00asm\x01\x00\x00\x00"),
    ("hta", rb"<hta:application"),
    ("iso", rb"cd001\x01"),  # an ISO 9660 volume descriptor id and version (ECMA-119 8.1)
)
# whitespace, up to four options, whitespace: what separates `curl`/`wget` from the URL
_COMMAND_OPTIONS = rb"\s{1,%d}(?:-\S{1,%d}\s{1,%d}){0,4}" % (
    MAX_SPACE_RUN,
    MAX_OPTION_BYTES,
    MAX_SPACE_RUN,
)
# Telling: too short for pixel data, but one alone in metadata or a trailer is a script.
_TELLING_SOURCES: tuple[tuple[str, bytes], ...] = (
    ("script", rb"document\.(?:cookie|write|location|domain)"),
    ("script", rb"window\.location"),
    ("script", rb"string\.fromcharcode\("),
    (
        "script",
        rb"<!entity\s{1,%d}%%?\s{0,%d}[\w.-]{1,%d}\s{1,%d}(?:system|public)\b"
        % (MAX_SPACE_RUN, MAX_SPACE_RUN, MAX_OPTION_BYTES, MAX_SPACE_RUN),
    ),
    ("php", rb"system\s{0,8}\(\s{0,8}[\"'$]"),
    ("php", rb"exec\s{0,8}\(\s{0,8}[\"'$]"),
    ("php", rb"passthru\s{0,8}\("),
    ("php", rb"popen\s{0,8}\(\s{0,8}[\"'$]"),
    ("shell", rb"curl" + _COMMAND_OPTIONS + rb"(?:https?|ftp)://"),
    ("shell", rb"wget" + _COMMAND_OPTIONS + rb"(?:https?|ftp)://"),
    ("shell", rb"/bin/(?:ba)?sh\b"),
    ("shell", rb"cmd(?:\.exe)?\s{1,%d}/[ck]\s" % MAX_SPACE_RUN),
    # local-file-read requests (ImageMagick CVE-2022-44268 `profile`, LFI via metadata)
    ("file_read", rb"/etc/(?:passwd|shadow)"),  # no \b: a PNG CRC may follow
    ("file_read", rb"/proc/self/"),
    ("file_read", rb"c:\\windows\\(?:system32|win\.ini)"),
    ("script", rb"import\s{0,8}\(\s{0,8}[\"'`]"),  # dynamic import of a module URL
    ("hta", rb"mshta(?:\.exe)?\s"),
    ("python", rb"__import__\s{0,8}\("),
    ("python", rb"subprocess\.(?:popen|call|run|check_output)\s{0,8}\("),
    ("python", rb"os\.system\s{0,8}\("),
)
# Suggestive: script calls and handlers that honest prose also contains ("Allergy
# alert(penicillin)"). No whitespace before `(`: prose puts a space there, code does not.
# Each must start a word (checked after the match: a leading \b would cost the fast path).
_SUGGESTIVE_SOURCES: tuple[tuple[str, bytes], ...] = (
    ("script", rb"alert\("),
    ("script", rb"prompt\("),
    ("script", rb"eval\("),
    ("script", rb"atob\("),
    ("script", rb"import\("),
    ("script", rb"onload\s{0,8}="),
    ("script", rb"onerror\s{0,8}="),
    ("script", rb"onmouseover\s{0,8}="),
)


@dataclass(frozen=True)
class _Rule:
    kind: str
    source: bytes  # the regex, over lower-cased bytes
    suggestive: bool
    label: str  # the pattern's source, naming the rule in Marker.rule
    prefix: bytes  # literal bytes every match starts with (b"" when the pattern has none)

    @property
    def pattern(self) -> re.Pattern[bytes]:
        """The compiled rule. Compiled on first use: most rules' prefixes never occur in a
        clean photo's metadata, so `photogate scan` does not pay to compile them."""
        return _compiled(self.source)


@functools.cache
def _compiled(source: bytes) -> re.Pattern[bytes]:
    return re.compile(source, re.DOTALL)


_QUANTIFIERS = b"?*+{"
_SPECIAL = b"\\[](){}?*+|.^$"


def literal_prefix(source: bytes) -> bytes:
    """The literal bytes every match of the regex `source` starts with.

    Reads plain characters and escapes of punctuation or `\\xNN` up to the first
    construct that is not one literal byte; a literal that a quantifier follows is
    optional and ends the prefix before it.
    """
    out = bytearray()
    i = 0
    while i < len(source):
        char = source[i : i + 1]
        if char == b"\\":
            escaped = source[i + 1 : i + 2]
            if escaped == b"x" and len(source) >= i + 4:
                literal, step = bytes([int(source[i + 2 : i + 4], 16)]), 4
            elif escaped and not escaped.isalnum():
                literal, step = escaped, 2
            else:
                break
        elif char in _SPECIAL:
            break
        else:
            literal, step = char, 1
        if source[i + step : i + step + 1] and source[i + step] in _QUANTIFIERS:
            break
        out += literal
        i += step
    return bytes(out)


def _rules(sources: tuple[tuple[str, bytes], ...], suggestive: bool = False) -> tuple[_Rule, ...]:
    return tuple(
        _Rule(
            kind,
            source,
            suggestive,
            source.decode("latin-1"),
            literal_prefix(source),
        )
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


class _PrefixIndex:
    """Which rules' literal prefixes occur in a small window, in one automaton pass.

    A metadata region is often a few dozen bytes (a quantization table, a JFIF header):
    testing each of ~60 prefixes with `in` costs more in calls than in searching, while
    one ahocorasick-rs pass (`needles`) names every prefix present at once.
    """

    def __init__(self, rules: tuple[_Rule, ...]) -> None:
        self.rules = rules  # kept alive: the index is looked up by the tuple's id
        self.prefixes = tuple(sorted({rule.prefix for rule in rules if rule.prefix}))
        self._automaton = ahocorasick_rs.BytesAhoCorasick(self.prefixes)

    def present(self, lowered: bytes) -> set[bytes]:
        """The prefixes that occur in `lowered` (at most SMALL_WINDOW_BYTES long)."""
        found = self._automaton.find_matches_as_indexes(lowered, overlapping=True)
        return {self.prefixes[index] for index, _, _ in found}


# bytes: windows up to this size get their prefixes from one automaton pass (its match list
# is at most this long); larger ones test each prefix with a C-speed `in`
SMALL_WINDOW_BYTES = 4096
_PREFIX_INDEXES: dict[int, _PrefixIndex] = {}


def _prefixes_in(lowered: bytes, rules: tuple[_Rule, ...]) -> set[bytes] | None:
    """The rule prefixes present in a small window, or None for a large one."""
    if len(lowered) > SMALL_WINDOW_BYTES:
        return None
    index = _PREFIX_INDEXES.get(id(rules))
    if index is None or index.rules is not rules:
        index = _PREFIX_INDEXES[id(rules)] = _PrefixIndex(rules)
    return index.present(lowered)


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
    present = _prefixes_in(lowered, rules)
    for rule in rules:
        if rule.prefix and (
            rule.prefix not in lowered if present is None else rule.prefix not in present
        ):
            continue  # one fast search instead of a regex pass that cannot match
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
    restricts further to the `<`-anchored markers, searched in one pass over the file's
    windows without copying (the fast whole-file pass, see the module docstring).
    """
    if pixel_data:
        pixel: list[Marker] = []
        candidates = _PIXEL_CANDIDATES.starts
        for match in reader.confirmed_matches(candidates, _PIXEL_PATTERN, start, end):
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
        window_end = min(stop, position + LOWERED_WINDOW_BYTES)
        chunk = reader.read(position, window_end + WINDOW_OVERLAP_BYTES - position)
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
