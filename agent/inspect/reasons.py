"""Finding codes -> one sentence a receptionist understands.

The engine's own `Finding.message` is already plain, but it is written per check; this
module gives the review window and notifications one consistent voice ("This file
pretends to be a JPEG picture but is a Windows program"). Unknown codes fall back to
the finding's own message, so a new check never shows an empty reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from agent.inspect.payload import DANGEROUS_KINDS
from agent.model import Finding

# Detected types and payload kinds -> words people use.
_TYPE_WORDS = {
    "jpeg": "a JPEG picture",
    "png": "a PNG picture",
    "gif": "a GIF picture",
    "webp": "a WebP picture",
    "bmp": "a BMP picture",
    "tiff": "a TIFF picture",
    "heic": "an iPhone (HEIC) photo",
    "heif": "an iPhone (HEIC) photo",
    "avif": "an AVIF picture",
    "ico": "an icon",
    "dicom": "a medical (DICOM) image",
    "svg": "an SVG drawing",
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
}

# Codes whose sentence does not depend on the picture type or the payload.
_FIXED = {
    "name.double_extension": (
        "The name ends like a picture but the real ending makes it a program or script."
    ),
    "name.hidden_extension": "The name hides its real ending, which Windows never shows.",
    "name.padded_extension": (
        "The name is padded with spaces to push its real, dangerous ending out of view."
    ),
    "name.trailing_dots_spaces": (
        "The name ends with dots or spaces that Windows drops, changing what the file is."
    ),
    "name.bidi_control": (
        "The name contains a hidden character that reverses text, so it is not what it looks like."
    ),
    "name.invisible_character": "The name contains invisible characters.",
    "name.dot_lookalike": "The name uses a fake dot to disguise what kind of file it is.",
    "content.not_an_image": "This file is named like a picture but is not one.",
    "content.other_image_type": "This picture is of a different type than its name says.",
    "content.imagemagick_script": (
        "This file pretends to be a picture but is a script that attacks image programs."
    ),
    "jpeg.com_length_exploit": "This photo is built to crash picture viewers (a known attack).",
    "gif.js_polyglot_header": "This GIF picture is built to also run as a script.",
    "dicom.executable_preamble": "This medical image has a Windows program hidden at its start.",
    "dicom.unusual_preamble": (
        "This medical image has unusual text at its start (usually harmless)."
    ),
    "dicom.executable_content": "This medical image has a program hidden inside it.",
    "svg.script": "This drawing (SVG) contains a script that would run when opened.",
    "svg.event_handler": "This drawing (SVG) contains code that runs when it is opened or clicked.",
    "svg.javascript_url": "This drawing (SVG) contains a link that runs a script.",
    "svg.foreign_object": "This drawing (SVG) embeds a web page.",
    "svg.external_reference": "This drawing (SVG) loads content from elsewhere when opened.",
    "svg.entity_declaration": "This drawing (SVG) uses a construct that can be abused.",
    "resource.pixels_over_warn": "This picture is unusually huge and could freeze the computer.",
    "resource.pixels_over_reject": (
        "This picture claims an absurd size, a trick used to crash computers."
    ),
    "resource.too_many_frames": "This picture has an unusually large number of frames.",
    "resource.file_too_large": "This file is too large to check completely.",
    "resource.time_budget": "This file took too long to check completely.",
    "resource.metadata_too_large": "This picture carries an unusually large amount of hidden text.",
    "scan.read_error": "This file could not be read to check it.",
}

# Codes of the form "<fmt>.<suffix>": the sentence names the picture type.
_PER_FORMAT = {
    "trailing_data": "Something is stuck to the end of this {type}.",
    "known_trailer": "This {type} carries extra data that phones normally add (harmless).",
    "payload_in_metadata": "Hidden code is tucked inside the details of this {type}.",
    "payload_in_image_data": "Hidden code is tucked inside this {type}.",
    "malformed": "This {type} is damaged or built in an unusual way.",
    "truncated": "This {type} is cut off (incomplete).",
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
    if code in _FIXED:
        return _FIXED[code]
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
    if suffix in _PER_FORMAT:
        # "a JPEG picture" -> "this JPEG picture"
        this_type = "this " + _type_words(fmt).split(" ", 1)[1]
        if suffix == "trailing_data":
            payload_words = _payload_words(finding.payload)
            if payload_words is not None and finding.payload in _DANGEROUS_TRAILERS:
                return f"A hidden attachment ({payload_words}) is stuck to the end of {this_type}."
            if payload_words is not None:
                return f"Hidden data ({payload_words}) is stuck to the end of {this_type}."
            return f"Unexplained extra data is stuck to the end of {this_type}."
        return _PER_FORMAT[suffix].format(type=this_type.split(" ", 1)[1])
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
