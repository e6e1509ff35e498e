"""Payload kinds: what the classifier may call a byte range, and which kinds are dangerous.

One table for the engine's findings, the plain reasons and the classifier itself. A kind
is *dangerous* when a reader of the range would run or unpack it: executables, archives
(including single-stream compressors: a gzip after a photo is an attachment, not a
picture), documents that run commands, and scripts. Everything else (zeros, whitespace,
text, an embedded picture, unknown data) is judged by its size and entropy instead.

`kind_at_start(data)` names the signature a range starts with. Own signatures decide
(libmagic is asked by `blob` only when none matched); every magic shorter than eight
bytes is validated by the structure behind it (PE behind MZ, Mach-O CPU type, a Java
class version, a gzip flags byte, a bzip2 block header).
"""

from __future__ import annotations

import re

from agent.inspect.signatures import magic_at_start

MAX_PE_HEADER_OFFSET = 64 * 1024  # bytes: e_lfanew beyond this is not a real PE
ISO9660_DESCRIPTOR_OFFSETS = (0x8001, 0x8801, 0x9001)  # "CD001" of the volume descriptors
MAX_JAVA_CLASS_MAJOR = 80  # class-file major version: Java 8 is 52, Java 23 is 67

EXECUTABLE_KINDS = frozenset(
    {"pe", "elf", "macho", "java_class", "dex", "wasm", "lnk", "bootsector", "eicar"}
)
ARCHIVE_KINDS = frozenset({"zip", "jar", "rar", "7z", "gzip", "bzip2", "xz", "cab", "iso", "phar"})
DOCUMENT_KINDS = frozenset({"pdf", "ole", "rtf", "chm"})
SCRIPT_KINDS = frozenset(
    {"html", "hta", "script", "php", "shell", "powershell", "vbs", "batch", "python",
     "file_read"}
)  # fmt: skip

# Kinds whose presence makes a range dangerous wherever it is found.
DANGEROUS_KINDS = EXECUTABLE_KINDS | ARCHIVE_KINDS | DOCUMENT_KINDS | SCRIPT_KINDS

# Plain words for each kind ("Attached to the end of this picture is <words>.").
PAYLOAD_WORDS = {
    "pe": "a Windows program",
    "elf": "a Linux program",
    "macho": "a Mac program",
    "java_class": "a Java program",
    "dex": "an Android program",
    "wasm": "a WebAssembly program",
    "lnk": "a Windows shortcut that can start programs",
    "bootsector": "boot-sector code",
    "eicar": "an anti-virus test signature",
    "zip": "a ZIP or Java archive",
    "jar": "a Java archive",
    "rar": "a RAR archive",
    "7z": "a 7-Zip archive",
    "gzip": "a compressed (gzip) archive",
    "bzip2": "a compressed (bzip2) archive",
    "xz": "a compressed (xz) archive",
    "cab": "a Windows cabinet archive",
    "iso": "a disk image",
    "phar": "a web-server program (PHP archive)",
    "pdf": "a PDF document",
    "ole": "an Office document or installer",
    "rtf": "an RTF document",
    "chm": "a compiled Windows help file",
    "html": "a web page or script",
    "hta": "a Windows HTML application",
    "script": "a script",
    "php": "a web-server script (PHP)",
    "shell": "a command script",
    "powershell": "a PowerShell script",
    "vbs": "a VBScript",
    "batch": "a Windows command script",
    "python": "a Python script",
    "file_read": "a request to copy private files from the computer",
}

# signatures.script_kind -> payload kind
SCRIPT_PAYLOAD_KINDS = {
    "powershell": "powershell",
    "vbs": "vbs",
    "batch": "batch",
    "js": "script",
    "python": "python",
}

# Fixed signatures the shared start table (`signatures.START_MAGICS`) does not hold
# because `sniff` has no use for them, or that need a pattern. All at offset 0.
_EXTRA_STARTS: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    ("bzip2", re.compile(rb"BZh[1-9]1AY&SY")),  # stream header + first block magic (pi)
    ("xz", re.compile(rb"\xfd7zXZ\x00")),
    ("chm", re.compile(rb"ITSF\x03\x00\x00\x00")),
    ("dex", re.compile(rb"dex\n0[0-9]{2}\x00")),
    ("wasm", re.compile(rb"\x00asm\x01\x00\x00\x00")),
    ("rtf", re.compile(rb"\{\\rtf")),
    ("shell", re.compile(rb"#!\s?/")),
)
# Mach-O thin headers: magic, then a CPU type whose low 24 bits name a known family.
_MACHO_MAGICS = {
    b"\xfe\xed\xfa\xce": "big",
    b"\xfe\xed\xfa\xcf": "big",
    b"\xce\xfa\xed\xfe": "little",
    b"\xcf\xfa\xed\xfe": "little",
}
_MACHO_CPU_FAMILIES = frozenset({1, 6, 7, 10, 11, 12, 13, 14, 15, 16, 18})
_GZIP_RESERVED_FLAGS = 0xE0  # RFC 1952 §2.3.1: FLG bits 5-7 are reserved, must be zero
# signatures.START_MAGICS types -> payload kinds (image types stay their own names)
_START_TYPE_KINDS = {"cab": "cab", "ole": "ole", "gzip": "gzip", "lnk": "lnk"}


def valid_pe(data: bytes, offset: int = 0) -> bool:
    """MZ at `offset` whose e_lfanew points at a PE\\0\\0 signature inside `data`."""
    if data[offset : offset + 2] != b"MZ":
        return False
    raw = data[offset + 0x3C : offset + 0x40]
    if len(raw) < 4:
        return False
    lfanew = int.from_bytes(raw, "little")
    if not 0x40 <= lfanew <= MAX_PE_HEADER_OFFSET:
        return False
    return data[offset + lfanew : offset + lfanew + 4] == b"PE\x00\x00"


def _valid_macho(data: bytes) -> bool:
    order = _MACHO_MAGICS.get(data[:4])
    if order is None or len(data) < 8:
        return False
    cpu = int.from_bytes(data[4:8], order)  # type: ignore[arg-type]
    return (cpu & 0x00FF_FFFF) in _MACHO_CPU_FAMILIES


def _iso9660(data: bytes) -> bool:
    return any(data[at : at + 5] == b"CD001" for at in ISO9660_DESCRIPTOR_OFFSETS)


def kind_at_start(data: bytes) -> str | None:
    """The payload kind whose signature `data` starts with, or None.

    Image types come back as their type ("jpeg", "png"): an embedded picture is a kind,
    but not a dangerous one.
    """
    if data.startswith(b"MZ"):
        return "pe" if valid_pe(data) else None
    if data[:4] in _MACHO_MAGICS:
        return "macho" if _valid_macho(data) else None
    if data.startswith(b"\x1f\x8b\x08"):
        return "gzip" if len(data) > 3 and not data[3] & _GZIP_RESERVED_FLAGS else None
    magic = magic_at_start(data)
    if magic is not None:
        if magic.type == "java_class":
            major = int.from_bytes(data[6:8], "big")
            return "java_class" if major <= MAX_JAVA_CLASS_MAJOR else None
        return _START_TYPE_KINDS.get(magic.type, magic.type)
    for kind, pattern in _EXTRA_STARTS:
        if pattern.match(data):
            return kind
    if data[4:8] == b"ftyp":
        return "mp4"
    if _iso9660(data):
        return "iso"
    return None
