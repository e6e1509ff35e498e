"""The classifier: what one judged byte range holds, and whether that is dangerous.

Every range the engine judges goes through here: left-over data after an image's end,
container bodies (vendor footers, debug blobs, SEF records, motion-photo boxes) and
metadata values. `classify(data)` looks, in order, at

1. the start (after NUL/whitespace padding): own signatures (`kinds.kind_at_start`),
   PHP/HTML openings;
2. a ZIP end record at the end (readers open ZIPs from there);
3. conclusive markers anywhere (`markers`);
4. the script detector on text (PowerShell, VBScript, batch, JavaScript, Python);
5. libmagic's MIME type of the range (`libmagic`, only where nothing above decided);
6. decoded views (`decoders`: base64 and reversed base64, hex, uuencode, UTF-16,
   zlib/gzip/bzip2/xz streams, single-byte XOR of an executable header), each judged by
   steps 1, 3 and 4 down to MAX_DECODE_DEPTH levels.

The first dangerous answer wins. Callers bound the range they pass (at most
CLASSIFY_SAMPLE_BYTES plus the tail of a large range).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, replace

from agent.inspect.classify import decoders, libmagic
from agent.inspect.classify.byte_runs import PRINTABLE, run_prefilter
from agent.inspect.classify.kinds import DANGEROUS_KINDS, SCRIPT_PAYLOAD_KINDS, kind_at_start
from agent.inspect.classify.markers import conclusive, decisive_marker, find_markers_in_bytes
from agent.inspect.reader import Reader
from agent.inspect.signatures import is_text, script_kind

CLASSIFY_SAMPLE_BYTES = 1024 * 1024  # bytes of a left-over region classified by content
ENTROPY_SAMPLE_BYTES = 256 * 1024  # bytes used to estimate entropy
HIGH_ENTROPY_BITS = 7.2  # bits/byte: at or above this a blob is encrypted or compressed
ZIP_EOCD_SEARCH_BYTES = 65_535 + 22  # bytes from the end where a ZIP's EOCD can start
MAX_LEADING_PADDING_BYTES = 64 * 1024  # bytes of NUL/whitespace skipped before a blob's start
TEXT_SAMPLE_BYTES = 4096  # bytes of a blob looked at to call it text
SCRIPT_SAMPLE_BYTES = 64 * 1024  # bytes of a text blob searched for script tokens
MIN_SCRIPT_BYTES = 16  # bytes: a shorter printable run is too short to call a script
MIN_TEXT_RUN_BYTES = 16  # printable bytes in a row before a run counts as text
MAX_TEXT_BYTES = 256 * 1024  # bytes of extracted text given to the script detector
SCRIPT_RUNS_SAMPLE_BYTES = 1024 * 1024  # bytes of a binary range searched for text runs
SAMPLE_MIDDLE_BYTES = 64 * 1024  # bytes sampled from the middle of a large range
MAX_DECODE_DEPTH = 2  # decoding levels (base64 of a gzip of a program is two)
MAX_DECODED_TOTAL_BYTES = 4 * 1024 * 1024  # bytes of decoded views judged per range, all levels
COMPRESSED_KINDS = frozenset({"gzip", "bzip2", "xz"})  # single streams: looked inside

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
_HTML_START = re.compile(
    rb"\A\s*(?:<!--.{0,1024}?-->\s*)?<(?:!doctype\s+html|html|head|body|script|iframe|svg)",
    re.IGNORECASE | re.DOTALL,
)
_HTA_START = re.compile(rb"\A\s*(?:<!--.{0,1024}?-->\s*)?<hta:application", re.I | re.S)
_PHP_START = re.compile(rb"\A\s*<\?(?:php|=)", re.IGNORECASE)
_WHITESPACE = b" \t\r\n\x00\x0b\x0c"
_TEXT_RUN = re.compile(rb"[\t\n\r\x20-\x7e]{%d,}" % MIN_TEXT_RUN_BYTES)
_TEXT_RUN_PREFILTER = run_prefilter({ord("P"): PRINTABLE}, b"P" * MIN_TEXT_RUN_BYTES)


@dataclass(frozen=True)
class Payload:
    """What a range looks like: its kind, size, entropy (bits/byte) and where it was seen.

    `offset` is where the deciding signature starts inside the range; `encoding` names
    the decoder that revealed it ("base64", "xor 0x5a", "gzip > base64"), empty when
    the payload is in plain sight.
    """

    kind: str
    size: int
    entropy: float
    dangerous: bool
    offset: int = 0
    encoding: str = ""


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


def leading_padding(data: bytes) -> int:
    """Bytes of NUL/whitespace at the start of `data`, counted up to MAX_LEADING_PADDING_BYTES.

    Writers and attackers alike pad before a payload; its signature then starts here.
    """
    head = data[:MAX_LEADING_PADDING_BYTES]
    return len(head) - len(head.lstrip(_WHITESPACE))


def _start_kind(data: bytes) -> str | None:
    kind = kind_at_start(data)
    if kind is not None:
        return kind
    if _PHP_START.match(data):
        return "php"
    if _HTA_START.match(data):
        return "hta"
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


def _script_in_text(body: bytes) -> str | None:
    """The payload kind of a script at the start of `body` (up to its first NUL), or None."""
    nul = body.find(b"\x00", 0, SCRIPT_SAMPLE_BYTES)
    text = body[: nul if nul >= 0 else SCRIPT_SAMPLE_BYTES]
    if len(text) < MIN_SCRIPT_BYTES or not is_text(text[:TEXT_SAMPLE_BYTES]):
        return None
    kind = script_kind(text)
    return None if kind is None else SCRIPT_PAYLOAD_KINDS[kind]


def text_runs(untrusted_data: bytes) -> bytes:
    """The printable runs of a range (MIN_TEXT_RUN_BYTES or longer), newline-joined,
    at most MAX_TEXT_BYTES: the text a script hides in between binary records."""
    if not _TEXT_RUN_PREFILTER.may_hold(untrusted_data):
        return b""  # compressed or binary bytes: no run, and no regex tried at every byte
    runs: list[bytes] = []
    total = 0
    for match in _TEXT_RUN.finditer(untrusted_data):
        runs.append(match.group())
        total += len(runs[-1]) + 1
        if total >= MAX_TEXT_BYTES:
            break
    return b"\n".join(runs)[:MAX_TEXT_BYTES]


def _script_in_runs(data: bytes) -> str | None:
    """The payload kind of a script in the printable runs of a mostly binary range."""
    text = text_runs(data)
    kind = script_kind(text) if text else None
    return None if kind is None else SCRIPT_PAYLOAD_KINDS[kind]


def _plain_kind(data: bytes) -> tuple[str | None, int]:
    """Steps 1-4 of the module docstring: (dangerous kind or first kind seen, offset)."""
    lead = leading_padding(data)
    body = data[lead:]
    kind, offset = _start_kind(body), lead
    if kind is None and lead:  # a signature that itself starts with NUL (JPEG 2000, WASM)
        kind, offset = _start_kind(data), 0
    if kind in DANGEROUS_KINDS:
        return kind, offset
    eocd = _has_zip_eocd(data)
    if eocd >= 0:
        return "zip", eocd
    markers = find_markers_in_bytes(data, strong_only=False)
    if markers and conclusive(markers):
        first = decisive_marker(markers)
        return first.kind, first.offset
    script = _script_in_text(body) or _script_in_runs(data[:SCRIPT_RUNS_SAMPLE_BYTES])
    if script is not None:
        return script, lead
    if EICAR in data:
        return "eicar", data.find(EICAR)
    return kind, offset


def _inside_compressed(kind: str | None, data: bytes, depth: int) -> tuple[str, str] | None:
    """(inner kind, encoding) of a dangerous payload inside a gzip/bzip2/xz stream."""
    if kind not in COMPRESSED_KINDS or depth > MAX_DECODE_DEPTH:
        return None
    inner = decoders.inflate(kind, data)
    found, _ = _plain_kind(inner)
    if found in DANGEROUS_KINDS and found not in COMPRESSED_KINDS:
        return found, kind
    deeper = _inside_compressed(found, inner, depth + 1)
    return None if deeper is None else (deeper[0], f"{deeper[1]} > {kind}")


def decoded_payload(
    data: bytes, depth: int = 1, budget: list[int] | None = None
) -> tuple[str, int, str] | None:
    """(kind, offset, encoding) of a dangerous payload inside a decoded view, or None.

    Views nest up to MAX_DECODE_DEPTH (a gzip inside base64); the encoding lists the
    outermost decoder last ("gzip > base64"). All levels together judge at most
    MAX_DECODED_TOTAL_BYTES of decoded views (`budget`, shared by the recursion), so
    nested runs cannot multiply the work.
    """
    budget = [MAX_DECODED_TOTAL_BYTES] if budget is None else budget
    views = (
        decoders.base64_views(data)
        + decoders.hex_views(data)
        + decoders.uuencode_views(data)
        + decoders.utf16_views(data)
        + decoders.stream_views(data)
        + decoders.raw_deflate_view(data)
        + decoders.xor_views(data)
    )
    for view in views[: decoders.MAX_VIEWS * 2]:
        if budget[0] <= 0:
            return None
        budget[0] -= len(view.data)
        kind, at = _plain_kind(view.data)
        if kind in COMPRESSED_KINDS:
            # An encoded compressed stream is judged by what it holds: metadata encodes
            # compressed settings and previews for good reasons.
            inside = _inside_compressed(kind, view.data[at:], depth + 1)
            if inside is not None:
                return inside[0], view.offset, f"{inside[1]} > {view.encoding}"
        elif kind in DANGEROUS_KINDS:
            return kind, view.offset, view.encoding
        if depth < MAX_DECODE_DEPTH:
            inner = decoded_payload(view.data, depth + 1, budget)
            if inner is not None:
                return inner[0], view.offset, f"{inner[2]} > {view.encoding}"
    return None


def classify(data: bytes, *, use_libmagic: bool = True) -> Payload:
    """What a range (typically the bytes left over after an image's logical end) holds.

    `dangerous` is True for executables, archives, documents that run commands and
    scripts (`kinds.DANGEROUS_KINDS`), found in plain sight or behind one of the
    bounded decoders. `use_libmagic=False` skips the libmagic call (0.2-1 ms), for
    ranges whose structure is known metadata.
    """
    size = len(data)
    if size == 0 or data.count(0) == size:
        return Payload("zeros", size, 0.0, False)
    if not data.strip(_WHITESPACE):
        return Payload("whitespace", size, entropy(data), False)
    bits = entropy(data)
    kind, offset = _plain_kind(data)
    if kind in DANGEROUS_KINDS:
        inside = _inside_compressed(kind, data[offset:], 1)
        if inside is not None:  # name what the archive carries: "pe (gzip)"
            return Payload(inside[0], size, bits, True, offset, inside[1])
        return Payload(kind, size, bits, True, offset)
    if kind is None and use_libmagic:
        opinion = libmagic.mime_kind(data[leading_padding(data) :])
        if opinion is not None and opinion in DANGEROUS_KINDS:
            return Payload(opinion, size, bits, True, leading_padding(data))
    decoded = decoded_payload(data)
    if decoded is not None:
        inner, at, encoding = decoded
        return Payload(inner, size, bits, True, at, encoding)
    if kind is None:
        kind = "text" if is_text(data[leading_padding(data) :][:TEXT_SAMPLE_BYTES]) else "unknown"
    return Payload(kind, size, bits, False, offset)


def sample_range(reader: Reader, start: int, stop: int) -> bytes:
    """The bytes of a judged range, or head + middle + tail samples of a large one.

    Head: CLASSIFY_SAMPLE_BYTES (where signatures and most payloads sit); middle:
    SAMPLE_MIDDLE_BYTES; tail: ZIP_EOCD_SEARCH_BYTES (where a ZIP's end record must be).
    """
    length = stop - start
    budget = CLASSIFY_SAMPLE_BYTES + SAMPLE_MIDDLE_BYTES + ZIP_EOCD_SEARCH_BYTES
    if length <= budget:
        return reader.read(start, length)
    middle = start + length // 2
    return (
        reader.read(start, CLASSIFY_SAMPLE_BYTES)
        + reader.read(middle, SAMPLE_MIDDLE_BYTES)
        + reader.read(stop - ZIP_EOCD_SEARCH_BYTES, ZIP_EOCD_SEARCH_BYTES)
    )


def classify_range(reader: Reader, start: int, stop: int, *, use_libmagic: bool = True) -> Payload:
    """`classify` over [start, stop) of the file (sampled when large); offsets are relative.

    Zero padding longer than MAX_LEADING_PADDING_BYTES is skipped before sampling (at
    memcmp speed), so megabytes of zeros cannot push a payload out of the head sample.
    """
    reader.check_deadline()
    if stop - start <= CLASSIFY_SAMPLE_BYTES:
        return classify(reader.read(start, stop - start), use_libmagic=use_libmagic)
    first = reader.first_non_zero(start, stop)
    if first < 0:
        return Payload("zeros", stop - start, 0.0, False)
    skip = first - start if first - start > MAX_LEADING_PADDING_BYTES else 0
    found = classify(sample_range(reader, start + skip, stop), use_libmagic=use_libmagic)
    return replace(found, size=stop - start, offset=found.offset + skip)
