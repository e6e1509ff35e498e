"""SVG findings, the raw-text search that backs the parser, and the canvas size.

The text search runs on every SVG (a `<script>` in a CDATA section that an HTML parser
closes early is invisible to XML) and carries the whole rule set for files the XML parser
refuses: an HTML parser will still render them.
"""

from __future__ import annotations

import html
import re
from xml.etree.ElementTree import Element

from agent.inspect import svg_refs as refs
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

_MESSAGES = {
    "svg.script": (Severity.HIGH, "This drawing contains a script that would run when opened."),
    "svg.event_handler": (Severity.HIGH, "This drawing runs code when it is opened or clicked."),
    "svg.javascript_url": (Severity.HIGH, "This drawing contains a link that runs code."),
    "svg.xinclude": (Severity.HIGH, "This drawing tries to copy files from this computer into it."),
    "svg.xslt": (Severity.HIGH, "This drawing carries a style program (XSLT) that can run code."),
    "svg.imagemagick_protocol": (
        Severity.HIGH,
        "This drawing contains commands that attack image software.",
    ),
    "svg.external_entity": (
        Severity.HIGH,
        "This drawing tries to read files from this computer or the network.",
    ),
    "svg.foreign_object": (Severity.MEDIUM, "This drawing embeds active web-page content."),
    "svg.external_reference": (Severity.MEDIUM, "This drawing loads content from elsewhere."),
    "svg.entity_declaration": (Severity.MEDIUM, "This drawing uses risky XML declarations."),
    "svg.nesting_too_deep": (
        Severity.MEDIUM,
        "This drawing hides drawings inside drawings too deeply to check.",
    ),
    "svg.external_font": (Severity.LOW, "This drawing loads a font from the internet."),
    "svg.malformed": (Severity.LOW, "The drawing's structure is damaged."),
}
CODES = frozenset(_MESSAGES)
SCRIPT_PAYLOAD_CODES = frozenset(
    {"svg.script", "svg.event_handler", "svg.javascript_url", "svg.xslt"}
)

_SCRIPT_TAG = re.compile(rb"<\s*(?:[\w.-]+:)?(?:script|handler)\b", re.IGNORECASE)
# HTML parsers accept "/" as well as whitespace before an attribute (`<svg/onload=...>`).
_EVENT_ATTR_TEXT = re.compile(rb"[\s/]on[a-z]+\s*=", re.IGNORECASE)
_JS_URL_TEXT = re.compile(rb"(?:javascript|vbscript)\s*:|data:\s*text/html", re.IGNORECASE)
_JS_URL_DECODED = re.compile(r"(?:javascript|vbscript):|data:text/html", re.IGNORECASE)
_SRCDOC_TEXT = re.compile(rb"""srcdoc\s*=\s*(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)
# A CSS `url(javascript:...)` (style element or attribute): no ordinary drawing has one.
_CSS_JS_URL_TEXT = re.compile(rb"url\(\s*[\"']?\s*(?:javascript|vbscript)\s*:", re.IGNORECASE)
_FOREIGN_TEXT = re.compile(rb"<\s*(?:[\w.-]+:)?(?:iframe|embed|object)\b", re.IGNORECASE)
_XINCLUDE_TEXT = re.compile(rb"<\s*[\w.-]+:include\b[^>]*\bhref\s*=", re.IGNORECASE)
_XSLT_PI_TEXT = re.compile(rb"<\?xml-stylesheet\b[^>]*xsl", re.IGNORECASE)
_CODER_TEXT = re.compile(rb"""(?:href|src)\s*=\s*["']?\s*([a-z]{2,12})\s*:(\s*@)?""", re.I)
# width/height: a number with an absolute CSS unit (or none); percentages are not a size.
_LENGTH = re.compile(
    r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*(px|pt|pc|mm|cm|in|em|ex)?\s*\Z", re.I
)
PX_PER_UNIT = {"": 1.0, "px": 1.0, "pt": 96 / 72, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54,
               "in": 96.0, "em": 16.0, "ex": 8.0}  # fmt: skip
MAX_CANVAS_SIDE = 10**9  # pixels: larger values are absurd; clamped so products stay exact


class FoundSet:
    """Collects at most one finding per code (the first occurrence is the evidence).

    `context` names the nested data: SVG being judged, so its evidence says where it is.
    """

    def __init__(self) -> None:
        self.by_code: dict[str, Finding] = {}
        self.context = ""

    def add(self, code: str, detail: str, offset: int | None = None) -> None:
        """Record `code` unless already recorded."""
        if code in self.by_code:
            return
        severity, message = _MESSAGES[code]
        where = f"{self.context}: " if self.context else ""
        self.by_code[code] = Finding(
            code=code,
            severity=severity,
            message=message,
            offset=None if self.context else offset,
            payload="script" if code in SCRIPT_PAYLOAD_CODES else None,
            detail=where + detail,
        )

    def too_large(self, reader: Reader, cap: int) -> None:
        """Too large to parse: say so, and still search the raw file for script tags."""
        self.by_code["resource.file_too_large"] = Finding(
            code="resource.file_too_large",
            severity=Severity.LOW,
            message="This drawing is too large to check completely.",
            detail=f"SVG over {cap} bytes: searched as text only",
        )
        for match in reader.finditer(_SCRIPT_TAG):
            self.add("svg.script", "<script> element in the raw text", match.start())
            break

    def findings(self) -> list[Finding]:
        """The collected findings, first occurrence of each code."""
        return list(self.by_code.values())


def textual_scan(text: bytes, found: FoundSet, parsed: bool) -> None:
    """Byte-level search; the whole rule set when the XML could not be parsed."""
    match = _SCRIPT_TAG.search(text)
    if match:
        tag = match.group().decode("ascii", "replace")
        found.add("svg.script", f"{tag!r} element in the raw text", match.start())
    css = _CSS_JS_URL_TEXT.search(text)
    if css:
        found.add("svg.javascript_url", f"{css.group().decode('ascii', 'replace')!r} in CSS")
    for srcdoc in _SRCDOC_TEXT.finditer(text):
        # an iframe's srcdoc is a whole HTML document, escaped into one attribute
        page = html.unescape(srcdoc.group(2).decode("utf-8", "replace")).encode()
        if _SCRIPT_TAG.search(page) or _EVENT_ATTR_TEXT.search(page) or _JS_URL_TEXT.search(page):
            found.add("svg.script", "script in an iframe srcdoc document", srcdoc.start())
            break
    if parsed:
        return
    for pattern, code in (
        (_EVENT_ATTR_TEXT, "svg.event_handler"),
        (_JS_URL_TEXT, "svg.javascript_url"),
        (_FOREIGN_TEXT, "svg.foreign_object"),
        (_XINCLUDE_TEXT, "svg.xinclude"),
        (_XSLT_PI_TEXT, "svg.xslt"),
    ):
        match = pattern.search(text)
        if match:
            found.add(
                code, f"{match.group().decode('ascii', 'replace')!r} in the raw text", match.start()
            )
    for match in _CODER_TEXT.finditer(text):
        scheme = match.group(1).decode("ascii").lower()
        at = match.group(2) is not None
        if scheme in refs.IMAGEMAGICK_CODERS or (at and scheme in refs.IMAGEMAGICK_AT_CODERS):
            found.add("svg.imagemagick_protocol", f"{scheme}: reference in the raw text")
            break
    if "svg.javascript_url" not in found.by_code:
        # `java&Tab;script&colon;` is no XML, but an HTML parser decodes it.
        decoded = refs.normalised(html.unescape(text.decode("utf-8", "replace")))
        decoded_match = _JS_URL_DECODED.search(decoded)
        if decoded_match:
            found.add(
                "svg.javascript_url",
                f"{decoded_match.group()!r} after decoding character references",
            )


def _length(value: str | None) -> float | None:
    """A width/height in pixels at 96 dpi, or None (missing, percentage, unparsable)."""
    if value is None:
        return None
    match = _LENGTH.match(value)
    if match is None:
        return None
    return float(match.group(1)) * PX_PER_UNIT[(match.group(2) or "").lower()]


def canvas_pixels(root: Element) -> tuple[int, int] | None:
    """(width, height) a rasteriser draws: absolute width/height, else the viewBox size.

    With a percentage or no size at all a browser lays the drawing out in its window, but
    ImageMagick and librsvg fall back to the viewBox; a drawing with neither has no size.
    """
    width, height = _length(root.get("width")), _length(root.get("height"))
    if width is None or height is None:
        if root.get("width") is not None or root.get("height") is not None:
            return None  # "100%": laid out by the viewer, not a canvas of its own
        numbers = re.split(r"[\s,]+", (root.get("viewBox") or "").strip())
        if len(numbers) != 4:
            return None
        try:
            width, height = float(numbers[2]), float(numbers[3])
        except ValueError:
            return None
    if not (width > 0 and height > 0):  # also false for NaN
        return None
    return (min(int(width), MAX_CANVAS_SIDE), min(int(height), MAX_CANVAS_SIDE))
