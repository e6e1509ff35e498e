"""Finding codes -> one sentence a receptionist understands.

The engine's own `Finding.message` is already plain, but it is written per check; this
module gives the review window and notifications one consistent voice ("This file
pretends to be a JPEG picture but is a Windows program"). The sentence of each code lives in
the registry (`agent.inspect.codes`); this module refines it with what the file claims to be
and what the payload is. Unknown codes fall back to the finding's own message, so a new check
never shows an empty reason (and tests/test_codes.py fails until the code is registered).
"""

from __future__ import annotations

from collections.abc import Iterable

from agent.inspect.codes import FORMAT_WORDS, plain_reason_for, spec_for
from agent.inspect.payload import DANGEROUS_KINDS
from agent.model import Finding

# Detected types and payload kinds -> words people use (walked formats: agent.inspect.codes).
_TYPE_WORDS = {
    **FORMAT_WORDS,
    "heic": "an iPhone (HEIC) photo",
    "isobmff": "a photo or video",
}

_PAYLOAD_WORDS = {
    "pe": "a Windows program",
    "exe": "a Windows program",
    "dll": "a Windows program",
    "elf": "a Linux program",
    "macho": "a Mac program",
    "mach-o": "a Mac program",
    "lnk": "a Windows shortcut",
    "com": "a DOS program",
    "zip": "a ZIP archive",
    "jar": "a Java archive",
    "rar": "a RAR archive",
    "7z": "a 7-Zip archive",
    "php": "a web server script (PHP)",
    "phar": "a web server script (PHP)",
    "html": "a web page",
    "script": "a script",
    "js": "a script",
    "javascript": "a script",
    "shell": "a script",
    "powershell": "a PowerShell script",
    "vbs": "a Windows VBScript program",
    "batch": "a Windows batch script",
    "java_class": "a Java program",
    "eicar": "the antivirus test file",
    "bootsector": "a boot-sector program",
    "file_read": "a request to read files from the computer",
    "pdf": "a PDF document",
    "postscript": "a PostScript document",
    "mvg": "an ImageMagick script",
    "msl": "an ImageMagick script",
    "dex": "an Android program",
    "wasm": "a WebAssembly program",
    "gzip": "a compressed archive",
    "bzip2": "a compressed archive",
    "xz": "a compressed archive",
    "cab": "a Windows cabinet archive",
    "iso": "a disk image",
    "vhd": "a virtual disk",
    "vhdx": "a virtual disk",
    "ole": "an Office document or installer",
    "rtf": "an RTF document",
    "chm": "a Windows help file that can run programs",
    "hta": "a Windows HTML program",
    "python": "a Python script",
}

# What the engine calls dangerous is what the reason calls an attachment: one list.
_DANGEROUS_TRAILERS = DANGEROUS_KINDS | {"exe", "dll", "mach-o", "lnk", "com", "jar", "js"}


_EXTENSION_TYPES = {
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "jpe": "jpeg",
    "jfif": "jpeg",
    "png": "png",
    "gif": "gif",
    "webp": "webp",
    "bmp": "bmp",
    "tif": "tiff",
    "tiff": "tiff",
    "heic": "heic",
    "heif": "heif",
    "avif": "avif",
    "ico": "ico",
    "dcm": "dicom",
    "svg": "svg",
}


def _claimed_type(name: str | None) -> str | None:
    """The picture type a file name claims (by its last extension), or None."""
    if not name or "." not in name:
        return None
    return _EXTENSION_TYPES.get(name.rsplit(".", 1)[1].strip().lower())


def _type_words(fmt: str | None) -> str:
    if not fmt:
        return "a picture"
    return _TYPE_WORDS.get(fmt.lower(), "a picture")


def _payload_words(payload: str | None) -> str | None:
    if not payload:
        return None
    return _PAYLOAD_WORDS.get(payload.lower())


def plain_reason(
    finding: Finding, detected_type: str | None = None, name: str | None = None
) -> str:
    """One sentence for a receptionist explaining `finding`.

    `detected_type` (what the bytes are, e.g. "pe") and `name` (the file name, whose
    extension says what it pretends to be) refine content.* sentences. Falls back to
    the finding's own message for codes this module does not know.
    """
    code = finding.code
    fmt, _, suffix = code.partition(".")
    if fmt == "content" and suffix in {"executable", "script", "archive", "document"}:
        what = _payload_words(finding.payload) or _payload_words(detected_type)
        if what is None:
            what = {
                "executable": "a program",
                "script": "a script or web page",
                "archive": "an archive",
                "document": "a document",
            }[suffix]
        claimed = _claimed_type(name)
        pretends = _type_words(claimed) if claimed else "a picture"
        return f"This file pretends to be {pretends} but is {what}."
    spec = spec_for(code)
    if spec is not None and spec.is_family and suffix == "trailing_data":
        this_type = "this " + _type_words(fmt).split(" ", 1)[1]  # "a JPEG picture" -> "this ..."
        payload_words = _payload_words(finding.payload)
        if payload_words is not None and finding.payload in _DANGEROUS_TRAILERS:
            return f"A hidden attachment ({payload_words}) is stuck to the end of {this_type}."
        if payload_words is not None:
            return f"Hidden data ({payload_words}) is stuck to the end of {this_type}."
        return f"Unexplained extra data is stuck to the end of {this_type}."
    if spec is not None and spec.is_family and suffix == "unexplained_data":
        this_type = "this " + _type_words(fmt).split(" ", 1)[1]
        payload_words = _payload_words(finding.payload)
        if payload_words is not None and finding.payload in _DANGEROUS_TRAILERS:
            return f"A hidden attachment ({payload_words}) is tucked inside {this_type}."
    registered = plain_reason_for(code)
    if registered is not None:
        return registered
    return finding.message or "Photogate found something unusual in this file."


def main_finding(findings: Iterable[Finding]) -> Finding | None:
    """The finding that explains the verdict best: the most severe, first one on ties."""
    best: Finding | None = None
    for finding in findings:
        if best is None or finding.severity > best.severity:
            best = finding
    return best


def plain_summary(
    findings: Iterable[Finding], detected_type: str | None = None, name: str | None = None
) -> str:
    """The reason for a whole file: the sentence of its most severe finding."""
    finding = main_finding(findings)
    if finding is None:
        return "Photogate found nothing wrong with this file."
    return plain_reason(finding, detected_type, name)
