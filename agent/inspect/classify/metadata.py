"""Metadata values judged by the classifier: scripts and encoded payloads in text fields.

Markers over the raw bytes (`markers`, with the rule that one lone suggestive marker is
only low) stay the engine's first look. This module adds what a marker list cannot see:

* the script detector (`signatures.script_kind`) over the printable text of the value,
  so a PowerShell cradle, a batch file or a Python dropper in an Exif or XMP field is a
  script even without a `<script>` tag;
* the decoded views of `decoders` (UTF-16 text of Exif XP* tags and UNICODE
  UserComment, base64, hex, uuencode, zlib/gzip/bzip2/xz streams, XOR), each judged by
  the classifier's signatures, markers and script detector;
* for opaque values (an APPn or chunk no format defines), the whole classifier with
  libmagic, as for left-over data.

Text runs are extracted with one regex pass, so a binary value (a TIFF IFD, an ICC
profile) costs little more than that pass.
"""

from __future__ import annotations

import re
import zlib

from agent.inspect.classify.blob import (
    COMPRESSED_KINDS,
    Payload,
    classify,
    decoded_payload,
    entropy,
    text_runs,
)
from agent.inspect.classify.kinds import DANGEROUS_KINDS, SCRIPT_PAYLOAD_KINDS
from agent.inspect.signatures import script_kind

MAX_METADATA_JUDGE_BYTES = 1024 * 1024  # bytes of one metadata value judged
# bytes: a shorter value (a JFIF header) holds no script, encoded run or stream that the
# raw markers would not already see (the shortest decoder input is a 16-byte XOR header)
MIN_JUDGED_VALUE_BYTES = 16


def judge_metadata(
    untrusted_value: bytes, *, opaque: bool = False, use_libmagic: bool = True
) -> Payload | None:
    """The dangerous payload a metadata value holds beyond its raw markers, or None.

    `opaque` marks a value whose structure no format defines (unknown APPn, private
    PNG chunks, GIF application data): it is classified like left-over data as well,
    with libmagic unless `use_libmagic` is False (the caller's per-file budget is spent).
    """
    data = untrusted_value[:MAX_METADATA_JUDGE_BYTES]
    if len(data) < MIN_JUDGED_VALUE_BYTES:
        return None
    text = text_runs(data)
    if text:
        language = script_kind(text)
        if language is not None:
            return Payload(SCRIPT_PAYLOAD_KINDS[language], len(data), 0.0, True, 0)
    if opaque:
        found = classify(data, use_libmagic=use_libmagic)
        if found.kind in COMPRESSED_KINDS and not found.encoding:
            return None  # a compressed value whose content the classifier judged clean
        return found if found.dangerous else None
    decoded = decoded_payload(data)
    if decoded is not None and decoded[0] in DANGEROUS_KINDS:
        kind, offset, encoding = decoded
        return Payload(kind, len(data), entropy(data), True, offset, encoding)
    return None


# --- CVE-2022-44268 -------------------------------------------------------------------------

PROFILE_VALUE_BYTES = 4096  # bytes of a `profile` text value read (a path is short)
_PNG_TEXT_TYPES = frozenset({b"tEXt", b"zTXt", b"iTXt"})
# What ImageMagick < 7.1.0-49 opens as a file when it reads a `profile` text chunk.
_PATH = re.compile(rb"\A\s*(?:/|~[/\\]|\.{1,2}[/\\]|[A-Za-z]:[\\/]|\\\\|file:)")


def _profile_value(chunk_type: bytes, rest: bytes) -> bytes:
    """The text of a PNG text chunk after its keyword (inflated when compressed)."""
    if chunk_type == b"tEXt":
        return rest[:PROFILE_VALUE_BYTES]
    if chunk_type == b"iTXt":
        if len(rest) < 2:
            return b""
        compressed = rest[0] == 1
        parts = rest[2:].split(b"\x00", 2)  # language, translated keyword, text
        if len(parts) < 3:
            return b""
        rest = parts[2]
        if not compressed:
            return rest[:PROFILE_VALUE_BYTES]
        stream = rest
    else:
        stream = rest[1:]  # compression method, then the zlib stream
    try:
        return zlib.decompressobj().decompress(stream, PROFILE_VALUE_BYTES)
    except zlib.error:
        return b""


def png_profile_path(untrusted_chunk: bytes) -> int | None:
    """Offset of the path in a PNG text chunk `profile` that names a file, or None.

    `untrusted_chunk` is the whole chunk (length, type, data, CRC). ImageMagick reads a
    text chunk with the keyword `profile` as the name of a file to embed in the pictures
    it writes (CVE-2022-44268): a server that converts the upload leaks that file.
    """
    if len(untrusted_chunk) < 12 or untrusted_chunk[4:8] not in _PNG_TEXT_TYPES:
        return None
    length = int.from_bytes(untrusted_chunk[0:4], "big")
    data = untrusted_chunk[8 : 8 + length]
    keyword, nul, rest = data.partition(b"\x00")
    if not nul or keyword.strip().lower() != b"profile":
        return None
    value = _profile_value(untrusted_chunk[4:8], rest)
    return 8 + len(keyword) + 1 if _PATH.match(value) else None


# A file name on another computer: UNC (`\\host\share`, or with forward slashes) or a URL.
_NETWORK_PATH = re.compile(rb"\A\s*(?:[\\/]{2}|file:|https?:|smb:)", re.IGNORECASE)


def linked_profile_path(untrusted_value: bytes) -> int | None:
    """Offset 0 when a BMP V5 linked profile (`bmp.LINKED_PROFILE_LABEL`) names a file on
    another computer, else None.

    Windows' colour management opens the named file when the picture is shown with ICM:
    a UNC path makes the PC connect to that host and offer the user's credentials (NTLM).
    A local name (the system's sRGB profile) is what the format means by a link.
    """
    name = untrusted_value[:PROFILE_VALUE_BYTES].split(b"\x00", 1)[0]
    return 0 if _NETWORK_PATH.match(name) else None
