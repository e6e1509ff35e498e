"""Bounded decoders: the encodings a payload hides behind inside a judged byte range.

Each decoder finds candidate runs with one C-speed regex or `find` pass, decodes at most
`MAX_DECODE_INPUT_BYTES` of input per range and returns at most `MAX_DECODED_BYTES` of
output per view, so a hostile range cannot make the classifier allocate or loop more
than these caps. A `View` is what a decoder saw: the encoding ("base64", "utf-16le"...),
where in the range it starts, and the decoded bytes, which the classifier then judges
like any other range (signatures, markers, script detector).

Encodings: base64 (also wrapped in lines and between delimiters such as the
`<<BASE64_START>>`/`<<BASE64_END>>` pair of .NET steganography loaders, and reversed, as
those loaders also store it), hex, uuencode, UTF-16LE/BE text (Exif XP* tags, UNICODE
UserComment), zlib/gzip/bzip2/xz streams (and a raw deflate stream at the start of the
range), URL-safe base64, and XOR of an executable header with a key of 1 to
MAX_XOR_KEY_BYTES bytes (stego loaders use 4- to 16-byte keys as often as one byte).
"""

from __future__ import annotations

import binascii
import bz2
import lzma
import re
import zlib
from dataclasses import dataclass

from agent.inspect.classify.byte_runs import PRINTABLE, run_prefilter
from agent.inspect.classify.kinds import DANGEROUS_KINDS, kind_at_start

MAX_DECODE_INPUT_BYTES = 1024 * 1024  # bytes of one range searched for encoded runs
MAX_DECODED_BYTES = 256 * 1024  # bytes of output kept from one decoded run or stream
MAX_VIEWS = 16  # decoded views produced per range (evidence, not an inventory)
MIN_BASE64_CHARS = 48  # base64 characters (36 bytes) before a run is worth decoding
MIN_HEX_CHARS = 64  # hex digits (32 bytes) before a run is worth decoding
MIN_UTF16_CHARS = 12  # UTF-16 code units of printable ASCII before a run is text
MAX_STREAM_CANDIDATES = 16  # zlib/gzip/bzip2/xz headers tried per range
MAX_UU_LINES = 8192  # uuencoded lines decoded (45 bytes each: ~360 KiB)
XOR_HEADER_BYTES = 4096  # bytes decoded after an XOR-ed executable header is found
MIN_XOR_RANGE_BYTES = 64  # bytes: an XOR-ed program holds at least its 64-byte DOS header
REALIGN_PROBE_CHARS = 1024  # base64 characters decoded to test a shifted start (768 bytes)
REALIGN_SKIP_BYTES = 16  # decoded bytes of stray letters a shifted start may begin with

# base64 in lines of at least 4 characters; the first line long enough to stand out
_BASE64_RUN = re.compile(
    rb"[A-Za-z0-9+/]{%d,}(?:={0,2}[\r\n]{1,2}[A-Za-z0-9+/]{4,})*={0,2}" % MIN_BASE64_CHARS
)
# RFC 4648 section 5 (URL- and file-name-safe): `-` and `_` for `+` and `/`
_URLSAFE_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_URLSAFE_MASK = bytes(0x41 if byte in _URLSAFE_ALPHABET else 0 for byte in range(256))
_URLSAFE_RUN_NEEDLE = b"A" * MIN_BASE64_CHARS
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_BASE64_SPACE = re.compile(rb"[\r\n]|=+(?=[\r\n])")
_HEX_RUN = re.compile(rb"(?:[0-9A-Fa-f]{2}[ \r\n]{0,2}){%d,}" % (MIN_HEX_CHARS // 2))
_HEX_SPACE = re.compile(rb"[ \r\n]")
_UTF16LE_RUN = re.compile(rb"(?:[\t\n\r\x20-\x7e]\x00){%d,}" % MIN_UTF16_CHARS)
_UTF16BE_RUN = re.compile(rb"(?:\x00[\t\n\r\x20-\x7e]){%d,}" % MIN_UTF16_CHARS)
_UU_BEGIN = re.compile(rb"begin(?:-base64)? [0-7]{3,4} [^\r\n]{1,255}\r?\n")
_UU_LINE = re.compile(rb"[\x20-\x60]{2,61}")
# zlib: CMF 0x78 (deflate, 32 KiB window) with each FLG that makes the header check pass
_ZLIB_HEADER = re.compile(rb"\x78[\x01\x5e\x9c\xda]")
_GZIP_HEADER = re.compile(rb"\x1f\x8b\x08[\x00-\x1f]")
_BZIP2_HEADER = re.compile(rb"BZh[1-9]1AY&SY")
_XZ_HEADER = re.compile(rb"\xfd7zXZ\x00")
_STREAM_FIRST_BYTES = (b"\x78", b"\x1f\x8b", b"BZh", b"\xfd7zXZ")
# The runs each regex needs, as literals over masked bytes (byte_runs: skips the regex when
# a range cannot hold a match): MIN_BASE64_CHARS letters of either base64 alphabet, hex
# digits and the separators the hex regex allows, printable ASCII alternating with NUL.
_BASE64_PREFILTER = run_prefilter(
    {ord("A"): b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"},
    b"A" * MIN_BASE64_CHARS,
)
_HEX_PREFILTER = run_prefilter({ord("H"): b"0123456789ABCDEFabcdef \r\n"}, b"H" * MIN_HEX_CHARS)
_UTF16_PREFILTER = run_prefilter(
    {ord("P"): PRINTABLE, ord("Z"): b"\x00"},
    b"PZ" * MIN_UTF16_CHARS,
    b"ZP" * MIN_UTF16_CHARS,
)

# Executable headers whose XOR with one key byte is searched for (see `xor_views`).
_XOR_NEEDLES: tuple[tuple[str, bytes], ...] = (
    ("pe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"),  # every linker's
    ("pe", b"This program cannot be run in DOS mode"),
    ("elf", b"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
    ("elf", b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
)
PE_STUB_OFFSET = 0x4E  # where the DOS stub's message starts in an MZ header
MAX_XOR_KEY_BYTES = 16  # bytes: longest repeating XOR key searched for
# The first 0x3C bytes of the MS-DOS header every Microsoft and GNU linker writes (e_magic
# to e_res2; e_lfanew follows): with a key shorter than this, the header repeats the key
# wherever its plain bytes are equal, which is what the multi-byte search matches.
_LINKER_DOS_HEADER = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8" + bytes(7) + b"\x40"
).ljust(0x3C, b"\x00")


@dataclass(frozen=True)
class View:
    """Decoded bytes of one run: its encoding, where the run starts in the range, the bytes."""

    encoding: str
    offset: int
    data: bytes


def _b64(untrusted_run: bytes) -> bytes:
    """Decode a (possibly wrapped) base64 run, dropping a ragged tail; b"" when invalid."""
    text = _BASE64_SPACE.sub(b"", untrusted_run)
    text = text[: -(-MAX_DECODED_BYTES // 3) * 4]  # whole quanta covering the cap
    text = text.rstrip(b"=")
    ragged = len(text) % 4
    if ragged == 1:  # one lone character carries no whole byte
        text = text[:-1]
    elif ragged:
        text += b"=" * (4 - ragged)
    try:
        return binascii.a2b_base64(text, strict_mode=False)[:MAX_DECODED_BYTES]
    except binascii.Error:
        return b""


def base64_views(untrusted_data: bytes) -> list[View]:
    """base64 runs of at least MIN_BASE64_CHARS, decoded forwards and reversed."""
    if len(untrusted_data) < MIN_BASE64_CHARS or not _BASE64_PREFILTER.may_hold(
        untrusted_data[:MAX_DECODE_INPUT_BYTES]
    ):
        return []
    views: list[View] = []
    for match in _BASE64_RUN.finditer(untrusted_data, 0, MAX_DECODE_INPUT_BYTES):
        run = match.group()
        forward = _b64(run)
        if forward:
            views.append(View("base64", match.start(), forward))
        # Bytes before a payload may be base64 letters by chance (a box size byte like "6"
        # then "mdat"): one to three extra letters shift every quantum. A shifted start is
        # decoded in full only when its first REALIGN_PROBE_CHARS decode to a signature
        # within REALIGN_SKIP_BYTES.
        for shift in (1, 2, 3):
            probe = _b64(run[shift : shift + REALIGN_PROBE_CHARS])
            if any(
                kind_at_start(probe[skip:]) in DANGEROUS_KINDS
                for skip in range(min(REALIGN_SKIP_BYTES, len(probe)))
            ):
                views.append(View("base64", match.start() + shift, _b64(run[shift:])))
                break
        # reversed text: "==AAAA...QqVT" (an MZ header written backwards)
        backward = _b64(run.rstrip(b"=\r\n")[::-1].lstrip(b"=")) if run else b""
        if backward:
            views.append(View("reversed base64", match.start(), backward))
        if len(views) >= MAX_VIEWS:
            break
    # reversed base64 may start with its padding ("==gd..."), which the run regex skips
    if b"-" in untrusted_data or b"_" in untrusted_data:
        views.extend(_urlsafe_views(untrusted_data, MAX_VIEWS - len(views)))
    return views


def _urlsafe_views(untrusted_data: bytes, room: int) -> list[View]:
    """URL-safe base64 runs that use `-` or `_` (the others were decoded as standard).

    The runs are found without a regex that starts with a character class (SRE would try
    it at every byte of a long XMP packet): the alphabet is mapped to `A` and everything
    else to NUL in one C-speed translate, and MIN_BASE64_CHARS `A`s are searched as a
    literal.
    """
    window = untrusted_data[:MAX_DECODE_INPUT_BYTES]
    masked = window.translate(_URLSAFE_MASK)
    views: list[View] = []
    start = masked.find(_URLSAFE_RUN_NEEDLE)
    while start >= 0 and len(views) < room:
        end = masked.find(b"\x00", start)
        end = len(window) if end < 0 else end
        run = window[start:end]
        if b"-" in run or b"_" in run:
            decoded = _b64(run.translate(_URLSAFE_TO_STANDARD))
            if decoded:
                views.append(View("url-safe base64", start, decoded))
        start = masked.find(_URLSAFE_RUN_NEEDLE, end)
    return views


def hex_views(untrusted_data: bytes) -> list[View]:
    """Runs of at least MIN_HEX_CHARS hex digits (also spaced or in lines), decoded."""
    if len(untrusted_data) < MIN_HEX_CHARS or not _HEX_PREFILTER.may_hold(
        untrusted_data[:MAX_DECODE_INPUT_BYTES]
    ):
        return []
    views: list[View] = []
    for match in _HEX_RUN.finditer(untrusted_data, 0, MAX_DECODE_INPUT_BYTES):
        digits = _HEX_SPACE.sub(b"", match.group())[: 2 * MAX_DECODED_BYTES]
        digits = digits[: len(digits) - len(digits) % 2]
        try:
            views.append(View("hex", match.start(), binascii.unhexlify(digits)))
        except binascii.Error:  # pragma: no cover - the regex admits only hex digits
            continue
        if len(views) >= MAX_VIEWS:
            break
    return views


def uuencode_views(untrusted_data: bytes) -> list[View]:
    """uuencoded bodies after a `begin MODE NAME` line, decoded line by line."""
    if b"begin" not in untrusted_data[:MAX_DECODE_INPUT_BYTES]:
        return []
    views: list[View] = []
    for match in _UU_BEGIN.finditer(untrusted_data, 0, MAX_DECODE_INPUT_BYTES):
        out = bytearray()
        lines = untrusted_data[match.end() : MAX_DECODE_INPUT_BYTES].splitlines()
        for line in lines[:MAX_UU_LINES]:
            if not _UU_LINE.fullmatch(line) or line in (b"`", b"end"):
                break
            try:
                out += binascii.a2b_uu(line)
            except binascii.Error:
                break
            if len(out) >= MAX_DECODED_BYTES:
                break
        if out:
            views.append(View("uuencode", match.start(), bytes(out[:MAX_DECODED_BYTES])))
        if len(views) >= MAX_VIEWS:
            break
    return views


def utf16_views(untrusted_data: bytes) -> list[View]:
    """Printable UTF-16LE/BE runs (Exif XP* tags, UNICODE UserComment) as 8-bit text.

    A big-endian run is the same bytes as a little-endian one shifted by one, so a BE
    match inside an LE run is the same text and is left out.
    """
    if len(untrusted_data) < 2 * MIN_UTF16_CHARS or not _UTF16_PREFILTER.may_hold(
        untrusted_data[:MAX_DECODE_INPUT_BYTES]
    ):
        return []
    views: list[View] = []
    spans: list[tuple[int, int]] = []
    for match in _UTF16LE_RUN.finditer(untrusted_data, 0, MAX_DECODE_INPUT_BYTES):
        spans.append(match.span())
        views.append(View("utf-16le", match.start(), match.group()[0::2][:MAX_DECODED_BYTES]))
        if len(views) >= MAX_VIEWS:
            return views
    for match in _UTF16BE_RUN.finditer(untrusted_data, 0, MAX_DECODE_INPUT_BYTES):
        if any(start - 1 <= match.start() < end for start, end in spans):
            continue
        views.append(View("utf-16be", match.start(), match.group()[1::2][:MAX_DECODED_BYTES]))
        if len(views) >= MAX_VIEWS:
            break
    return views


def inflate(kind: str, untrusted_stream: bytes) -> bytes:
    """At most MAX_DECODED_BYTES of one stream; b"" when it is not a valid stream."""
    try:
        if kind == "zlib" or kind == "gzip":
            wbits = zlib.MAX_WBITS | (16 if kind == "gzip" else 0)
            return zlib.decompressobj(wbits).decompress(untrusted_stream, MAX_DECODED_BYTES)
        if kind == "bzip2":
            return bz2.BZ2Decompressor().decompress(untrusted_stream, MAX_DECODED_BYTES)
        return lzma.LZMADecompressor().decompress(untrusted_stream, MAX_DECODED_BYTES)
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError):
        return b""


def stream_views(untrusted_data: bytes, *, skip_start: bool = False) -> list[View]:
    """zlib, gzip, bzip2 and xz streams found inside the range, inflated (bounded).

    `skip_start` leaves out a stream at offset 0 (the caller already named it by kind).
    """
    candidates: list[tuple[int, str]] = []
    window = untrusted_data[:MAX_DECODE_INPUT_BYTES]
    if not any(first in window for first in _STREAM_FIRST_BYTES):
        return []  # one memchr each instead of four regex passes
    for kind, pattern in (
        ("zlib", _ZLIB_HEADER),
        ("gzip", _GZIP_HEADER),
        ("bzip2", _BZIP2_HEADER),
        ("xz", _XZ_HEADER),
    ):
        for match in pattern.finditer(window):
            candidates.append((match.start(), kind))
            if len(candidates) >= MAX_STREAM_CANDIDATES * 4:
                break
    views: list[View] = []
    for offset, kind in sorted(candidates)[:MAX_STREAM_CANDIDATES]:
        if skip_start and offset == 0:
            continue
        out = inflate(kind, window[offset:])
        if out:
            views.append(View(kind, offset, out))
        if len(views) >= MAX_VIEWS:
            break
    return views


def raw_deflate_view(untrusted_data: bytes) -> list[View]:
    """A raw deflate stream (no zlib or gzip header) starting the range, inflated.

    Raw deflate has no signature, so only the range's first byte is tried; the output is
    judged by signatures only, so inflating noise into noise costs nothing but time.
    """
    if len(untrusted_data) < MIN_XOR_RANGE_BYTES:
        return []
    try:
        out = zlib.decompressobj(-zlib.MAX_WBITS).decompress(
            untrusted_data[:MAX_DECODE_INPUT_BYTES], MAX_DECODED_BYTES
        )
    except zlib.error:
        return []
    return [View("raw deflate", 0, out)] if out else []


def _neighbour_xor(data: bytes) -> bytes:
    """d[i] = data[i] ^ data[i + 1]: the same for every XOR key, so one search finds all."""
    if len(data) < 2:
        return b""
    left = int.from_bytes(data[:-1], "big")
    right = int.from_bytes(data[1:], "big")
    return (left ^ right).to_bytes(len(data) - 1, "big")


_XOR_PATTERNS = tuple((kind, needle, _neighbour_xor(needle)) for kind, needle in _XOR_NEEDLES)


def xor_views(untrusted_data: bytes) -> list[View]:
    """Executable headers XOR-ed with one key byte (1..255), decoded from the header on.

    XOR with a constant leaves the XOR of neighbouring bytes unchanged, so the neighbour
    differences of the range are searched once for those of each known header; a hit
    names the key (first byte XOR the header's first byte). Key 0 is the plain header,
    which the signatures already find.
    """
    window = untrusted_data[:MAX_DECODE_INPUT_BYTES]
    if len(window) < MIN_XOR_RANGE_BYTES:
        return []
    differences = _neighbour_xor(window)
    views: list[View] = []
    for kind, needle, needle_differences in _XOR_PATTERNS:
        at = differences.find(needle_differences)
        if at < 0:
            continue
        key = window[at] ^ needle[0]
        if key == 0:
            continue
        start = at - PE_STUB_OFFSET if needle.startswith(b"This") else at
        if start < 0:
            continue
        encoded = window[start : start + XOR_HEADER_BYTES]
        decoded = encoded.translate(bytes(b ^ key for b in range(256)))
        if kind == "pe" and not decoded.startswith(b"MZ"):
            continue
        views.append(View(f"xor 0x{key:02x}", start, decoded))
        break  # one decoded executable is proof enough
    if not views:
        views.extend(_multi_key_xor_views(window))
    return views


# In the linker's DOS header bytes 0x19..0x3B are zero, so XOR-ed they are the key itself,
# repeated: 35 bytes, two or more whole periods of any key up to MAX_XOR_KEY_BYTES.
_ZERO_RUN = (0x19, 0x3C)
MAX_XOR_START_SKIP = 64  # bytes: an XOR-ed header may follow a short vendor header or padding


def _multi_key_xor_views(window: bytes) -> list[View]:
    """A linker's DOS header XOR-ed with a repeating key of 2..MAX_XOR_KEY_BYTES bytes.

    Payloads are appended or stored at the start of a range (after a short header), so
    the first MAX_XOR_START_SKIP offsets are tried: where bytes 0x19..0x3B repeat with
    some period k, they are the key; the header XOR that key must then read `MZ` and the
    rest of the linker's header. A few slice comparisons per offset, no search.
    """
    low, high = _ZERO_RUN
    header = _LINKER_DOS_HEADER
    if window[: MAX_XOR_START_SKIP + len(header)].isascii():
        # Text (an XMP packet, decoded prose) holds no XOR-ed linker header: 0x90, 0xFF and
        # 0xB8 XOR an ASCII key byte are >= 0x80, and a key byte >= 0x80 shows in the zeros.
        return []
    for at in range(min(MAX_XOR_START_SKIP, len(window) - len(header) + 1)):
        run = window[at + low : at + high]
        first = run[:1]
        period = run.find(first, 2, MAX_XOR_KEY_BYTES + 1)  # one C call rules out most offsets
        while period >= 0:
            length = period
            period = run.find(first, period + 1, MAX_XOR_KEY_BYTES + 1)
            if run[length:] != run[: len(run) - length]:
                continue
            key = bytes(run[(j - low) % length] for j in range(length))
            if not any(key):
                break  # zeros: the plain header, which the signatures find
            encoded = window[at : at + len(header)]
            if bytes(b ^ key[i % length] for i, b in enumerate(encoded)) != header:
                continue
            encoded = window[at : at + XOR_HEADER_BYTES]
            decoded = bytes(b ^ key[i % length] for i, b in enumerate(encoded))
            return [View(f"xor key {key.hex()}", at, decoded)]
    return []
