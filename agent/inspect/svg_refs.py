"""What a reference inside an SVG points at: code, ImageMagick, a remote host, a font, or
another SVG carried inline as a `data:` URL.

URLs are compared the way browsers read them: XML-decoded (the parser did that), without
the whitespace and control characters URL parsers skip (`java\\tscript:`), case-folded.
ImageMagick decides by content, not by name, and treats `msl:`, `text:`, `ephemeral:`,
`vid:`, `label:@file`... in a reference as coders that read, run or delete files (the
ImageTragick family): any reference using one is high, whatever the element.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


MAX_NESTED_SVG_BYTES = 1024 * 1024  # bytes of a data: SVG decoded for judging
ACTIVE_URL_PREFIXES = (
    "javascript:",
    "vbscript:",
    "data:text/html",
    "data:application/xhtml+xml",
    "data:text/xml",
    "data:application/xml",
)
EXTERNAL_URL_PREFIXES = ("http:", "https:", "ftp:", "file:", "//", "\\\\")
# ImageMagick coders that read, write, delete or execute when named as a URL scheme.
IMAGEMAGICK_CODERS = _words(
    """
    msl mvg text txt ephemeral vid show win epi eps ept ps ps2 ps3 pdf ai xps pcl url fd
    inline mpr tmp
    """
)
# Coders that are harmless with literal text but read a file after `@` (`label:@/etc/passwd`).
IMAGEMAGICK_AT_CODERS = frozenset({"label", "caption", "pango"})
SVG_DATA_PREFIX = "data:image/svg+xml"
# Hosts that serve web fonts (and their CSS): a font download is the low kind of reference.
FONT_HOSTS = frozenset(
    {
        "fonts.googleapis.com",
        "fonts.gstatic.com",
        "use.typekit.net",
        "p.typekit.net",
        "fonts.bunny.net",
        "fast.fonts.net",
        "use.fontawesome.com",
        "fonts.cdnfonts.com",
    }
)
FONT_SUFFIXES = (".woff", ".woff2", ".ttf", ".otf", ".eot")

_CONTROL_AND_SPACE = re.compile(r"[\x00-\x20]+")
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]{1,31}):")
# url(...) in CSS or a presentation attribute, and @import "..." without url().
_CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)|@import\s+(['"])(.*?)\3""", re.I | re.S)
_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}", re.I | re.S)


def normalised(value: str) -> str:
    """Lower-case URL with the whitespace/control characters browsers ignore removed."""
    return _CONTROL_AND_SPACE.sub("", value).lower()


def is_active(value: str, animated: bool = False) -> bool:
    """javascript:/vbscript:/data:text/html...; an animation value list is split on `;`."""
    candidates = value.split(";") if animated else [value]
    return any(normalised(c).startswith(ACTIVE_URL_PREFIXES) for c in candidates) or (
        animated and "javascript:" in normalised(value)
    )


def is_external(value: str) -> bool:
    """A URL that makes the viewer fetch something from elsewhere (web, share, local file)."""
    return normalised(value).startswith(EXTERNAL_URL_PREFIXES)


def imagemagick_coder(value: str) -> str | None:
    """The ImageMagick coder a reference names (`msl`, `label@`...), or None."""
    url = normalised(value)
    match = _SCHEME.match(url)
    if match is None:
        return None
    scheme = match.group(1)
    if scheme in IMAGEMAGICK_CODERS:
        return scheme
    if scheme in IMAGEMAGICK_AT_CODERS and url[match.end() :].startswith("@"):
        return scheme + "@"
    return None


def is_font_url(value: str) -> bool:
    """A web-font file or a font host's CSS (Google Fonts `@import`)."""
    url = normalised(value)
    if url.startswith("//"):
        url = "https:" + url
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    return host in FONT_HOSTS or parts.path.endswith(FONT_SUFFIXES)


def css_urls(text: str) -> list[tuple[str, bool]]:
    """Every URL a style sheet or style attribute loads, with whether it is a font source."""
    found: list[tuple[str, bool]] = []
    font_spans = [match.span() for match in _FONT_FACE.finditer(text)]
    for match in _CSS_URL.finditer(text):
        url = match.group(2) if match.group(2) is not None else match.group(4) or ""
        in_font_face = any(start <= match.start() < end for start, end in font_spans)
        found.append((url, in_font_face or is_font_url(url)))
    return found


def nested_svg(value: str) -> bytes | None:
    """The bytes of a `data:image/svg+xml` URL (base64 or percent-encoded), capped; or None.

    Returns None for other URLs and for bodies that do not decode; a body over
    MAX_NESTED_SVG_BYTES is cut there (the judge then sees it as malformed or partial).
    """
    url = value.strip()
    if not normalised(url[: len(SVG_DATA_PREFIX) + 8]).startswith(SVG_DATA_PREFIX):
        return None
    header, comma, body = url.partition(",")
    if not comma:
        return None
    body = body.partition("#")[0]  # `#id` names an element of the drawing, not its bytes
    if normalised(header).endswith(";base64"):
        # whole 4-character groups only, enough for MAX_NESTED_SVG_BYTES decoded bytes
        groups = (MAX_NESTED_SVG_BYTES + 2) // 3
        compact = _CONTROL_AND_SPACE.sub("", body[: groups * 8])[: groups * 4]
        try:
            return base64.b64decode(compact + "=" * (-len(compact) % 4))[:MAX_NESTED_SVG_BYTES]
        except (binascii.Error, ValueError):
            return None
    return urllib.parse.unquote_to_bytes(body[: MAX_NESTED_SVG_BYTES * 3])[:MAX_NESTED_SVG_BYTES]
