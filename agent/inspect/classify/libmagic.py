"""libmagic's opinion of a byte range, as a payload kind from a small explicit MIME table.

The classifier asks libmagic (python-magic) only about ranges its own signatures could
not name, and only in MIME mode: libmagic's free-text descriptions change between
versions and say "executable" or "script" about harmless data, so a severity is never
derived from them. A MIME type not in `MIME_KINDS` is no opinion. libmagic costs
0.2-1 ms per call, so callers ask it only about ranges that are not ordinary metadata.
"""

from __future__ import annotations

MAGIC_RANGE_BYTES = 8192  # bytes of a range handed to libmagic (it reads little more)
MIN_MAGIC_BYTES = 32  # bytes: libmagic's guesses about shorter ranges are noise

# MIME type (as libmagic 5.4x names it) -> payload kind
MIME_KINDS = {
    # not application/x-dosexec: libmagic also says it of any bytes starting with an x86
    # jump (DOS .COM), which ISO-BMFF box sizes and TIFF values often do; a real MZ/PE
    # is found by the own signatures first
    "application/vnd.microsoft.portable-executable": "pe",
    "application/x-msdownload": "pe",
    "application/x-executable": "elf",
    "application/x-sharedlib": "elf",
    "application/x-pie-executable": "elf",
    "application/x-mach-binary": "macho",
    "application/x-java-applet": "java_class",
    "application/java-vm": "java_class",
    "application/x-android-dex": "dex",
    "application/wasm": "wasm",
    "application/x-ms-shortcut": "lnk",
    "application/zip": "zip",
    "application/java-archive": "jar",
    "application/x-rar": "rar",
    "application/vnd.rar": "rar",
    "application/x-7z-compressed": "7z",
    "application/gzip": "gzip",
    "application/x-gzip": "gzip",
    "application/x-bzip2": "bzip2",
    "application/x-xz": "xz",
    "application/vnd.ms-cab-compressed": "cab",
    "application/x-iso9660-image": "iso",
    "application/pdf": "pdf",
    "application/x-ole-storage": "ole",
    "application/vnd.ms-office": "ole",
    "application/msword": "ole",
    "application/x-msi": "ole",
    "application/vnd.ms-excel": "ole",
    "application/vnd.ms-powerpoint": "ole",
    "application/vnd.ms-htmlhelp": "chm",
    "application/x-chm": "chm",
    "text/rtf": "rtf",
    "application/rtf": "rtf",
    "text/html": "html",
    "text/x-php": "php",
    "text/x-shellscript": "shell",
    "text/x-python": "python",
    "text/x-script.python": "python",
    "text/x-msdos-batch": "batch",
}


def mime_kind(untrusted_data: bytes) -> str | None:
    """The payload kind libmagic's MIME type for the range maps to, or None. Never raises."""
    if len(untrusted_data) < MIN_MAGIC_BYTES:
        return None
    try:
        # lazy: only ranges our signatures do not know pay for importing libmagic
        import magic

        mime = str(magic.from_buffer(untrusted_data[:MAGIC_RANGE_BYTES], mime=True))
    except Exception:  # a broken libmagic must never break the engine
        return None
    return MIME_KINDS.get(mime.strip().lower())
