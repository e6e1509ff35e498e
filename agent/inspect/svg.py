"""SVG checker: active content (script, event handlers, javascript: URLs), foreign HTML,
external references and entity declarations.

SVG is text, so the logical end is the file size. The XML is parsed with defusedxml (no
entity expansion, no external fetches); because browsers are more forgiving than XML
parsers (a `<script>` hidden in a CDATA section that an HTML parser closes early), the
raw text is also searched for `<script`, and malformed files get the textual search only.
A plain `<!DOCTYPE svg PUBLIC ...>` is normal in files from older editors; only entity
declarations are reported.

Active content also hides in: animations that set an event-handler attribute
(`<set attributeName="onclick" to="...">`) or animate a link into a javascript: URL, and
SVG Tiny 1.2 `<handler>` elements (XML Events), which run their text like `<script>`.
URLs are compared after XML decoding, without the whitespace/control characters browsers
skip, case-folded; unparsable files are searched with HTML character references decoded.
"""

from __future__ import annotations

import html
import re
import zlib
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from agent.inspect.base import Structure
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

MAX_PARSE_BYTES = 8 * 1024**2  # bytes of (decompressed) SVG parsed as XML
GZIP_MAGIC = b"\x1f\x8b"

_SCRIPT_TAG = re.compile(rb"<\s*(?:[\w.-]+:)?(?:script|handler)\b", re.IGNORECASE)
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
# HTML parsers accept "/" as well as whitespace before an attribute (`<svg/onload=...>`).
_EVENT_ATTR_TEXT = re.compile(rb"[\s/]on[a-z]+\s*=", re.IGNORECASE)
_JS_URL_TEXT = re.compile(rb"(?:javascript|vbscript)\s*:|data:\s*text/html", re.IGNORECASE)
_JS_URL_DECODED = re.compile(r"(?:javascript|vbscript):|data:text/html", re.IGNORECASE)
_FOREIGN_TEXT = re.compile(rb"<\s*(?:[\w.-]+:)?(?:foreignObject|iframe|embed|object)\b", re.I)
_STYLE_EXTERNAL = re.compile(r"@import|url\(\s*['\"]?\s*(?:https?:|ftp:|file:|//)", re.I)
_CONTROL_AND_SPACE = re.compile(r"[\x00-\x20]+")

ACTIVE_URL_PREFIXES = ("javascript:", "vbscript:", "data:text/html")
EXTERNAL_URL_PREFIXES = ("http:", "https:", "ftp:", "file:", "//")
LOADING_ELEMENTS = frozenset({"use", "image", "feimage", "script", "iframe", "tref"})
FOREIGN_ELEMENTS = frozenset({"foreignobject", "iframe", "embed", "object"})
SCRIPT_ELEMENTS = frozenset({"script", "handler"})  # handler: SVG Tiny 1.2 / XML Events
ANIMATION_VALUE_ATTRS = frozenset({"to", "from", "values", "by"})
LINK_ATTRS = frozenset({"href", "src", "action", "formaction"})

_MESSAGES = {
    "svg.script": (Severity.HIGH, "This drawing contains a script that would run when opened."),
    "svg.event_handler": (Severity.HIGH, "This drawing runs code when it is opened or clicked."),
    "svg.javascript_url": (Severity.HIGH, "This drawing contains a link that runs code."),
    "svg.foreign_object": (Severity.MEDIUM, "This drawing embeds web-page content."),
    "svg.external_reference": (Severity.MEDIUM, "This drawing loads content from elsewhere."),
    "svg.entity_declaration": (Severity.MEDIUM, "This drawing uses risky XML declarations."),
    "svg.malformed": (Severity.LOW, "The drawing's structure is damaged."),
}


class _Findings:
    """Collects at most one finding per code (the first occurrence is the evidence)."""

    def __init__(self) -> None:
        self.by_code: dict[str, Finding] = {}
        self.too_large = False

    def add(self, code: str, detail: str, offset: int | None = None) -> None:
        if code in self.by_code:
            return
        severity, message = _MESSAGES[code]
        payload = "script" if severity is Severity.HIGH else None
        self.by_code[code] = Finding(
            code=code,
            severity=severity,
            message=message,
            offset=offset,
            payload=payload,
            detail=detail,
        )


def _local(name: str) -> str:
    """'{http://www.w3.org/2000/svg}foreignObject' -> 'foreignobject'."""
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


def _normalised_url(value: str) -> str:
    """Lower-case URL with the whitespace/control characters browsers ignore removed."""
    return _CONTROL_AND_SPACE.sub("", value).lower()


def _load_text(reader: Reader, found: _Findings) -> bytes:
    """The SVG text to parse (gunzipped for .svgz), capped at MAX_PARSE_BYTES."""
    head = reader.read(0, MAX_PARSE_BYTES + 1)
    if head.startswith(GZIP_MAGIC):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            head = inflater.decompress(head, MAX_PARSE_BYTES + 1)
        except zlib.error:
            found.add("svg.malformed", "gzip stream is corrupt")
            return b""
    if len(head) > MAX_PARSE_BYTES:
        found.too_large = True
        return b""
    return head


def _as_utf8(text: bytes) -> bytes:
    """UTF-16/32 SVGs re-encoded so the byte-level regexes see ASCII tags."""
    for bom, codec in (
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if text.startswith(bom):
            return text.decode(codec, "replace").encode("utf-8")
    return text


def _textual_scan(text: bytes, found: _Findings, parsed: bool) -> None:
    """Byte-level search; the whole rule set when the XML could not be parsed."""
    match = _SCRIPT_TAG.search(text)
    if match:
        tag = match.group().decode("ascii", "replace")
        found.add("svg.script", f"{tag!r} element in the raw text", match.start())
    match = _ENTITY_DECL.search(text)
    if match:
        found.add("svg.entity_declaration", "<!ENTITY declaration", match.start())
    if parsed:
        return
    for pattern, code in (
        (_EVENT_ATTR_TEXT, "svg.event_handler"),
        (_JS_URL_TEXT, "svg.javascript_url"),
        (_FOREIGN_TEXT, "svg.foreign_object"),
    ):
        match = pattern.search(text)
        if match:
            found.add(
                code, f"{match.group().decode('ascii', 'replace')!r} in the raw text", match.start()
            )
    if "svg.javascript_url" not in found.by_code:
        # `java&Tab;script&colon;` is no XML, but an HTML parser decodes it.
        decoded = _normalised_url(html.unescape(text.decode("utf-8", "replace")))
        decoded_match = _JS_URL_DECODED.search(decoded)
        if decoded_match:
            found.add(
                "svg.javascript_url",
                f"{decoded_match.group()!r} after decoding character references",
            )


def _scan_large_file(reader: Reader, found: _Findings) -> None:
    """Too large to parse: say so, and still search the raw file for script tags."""
    found.by_code["resource.file_too_large"] = Finding(
        code="resource.file_too_large",
        severity=Severity.LOW,
        message="This drawing is too large to check completely.",
        detail=f"SVG over {MAX_PARSE_BYTES} bytes: searched as text only",
    )
    for match in reader.finditer(_SCRIPT_TAG):
        found.add("svg.script", "<script> element in the raw text", match.start())
        break


def _is_active_url(value: str, animated: bool) -> bool:
    """javascript:/vbscript:/data:text/html URL; an animation value list is split on `;`."""
    candidates = value.split(";") if animated else [value]
    return any(_normalised_url(c).startswith(ACTIVE_URL_PREFIXES) for c in candidates) or (
        animated and "javascript:" in _normalised_url(value)
    )


def _check_element(element: Element, found: _Findings) -> None:
    tag = _local(element.tag) if isinstance(element.tag, str) else ""
    if tag in SCRIPT_ELEMENTS:
        found.add("svg.script", f"<{tag}> element")
    elif tag in FOREIGN_ELEMENTS:
        found.add("svg.foreign_object", f"<{tag}> element")
    elif tag == "style" and element.text and _STYLE_EXTERNAL.search(element.text):
        found.add("svg.external_reference", "style sheet imports or loads a remote URL")
    for name, value in element.attrib.items():
        attr = _local(name)
        if attr.startswith("on"):
            found.add("svg.event_handler", f"{attr}= attribute on <{tag}>")
        elif attr == "attributename" and _local(value.strip()).startswith("on"):
            # <set attributeName="onclick" to="..."> installs an event handler.
            found.add("svg.event_handler", f"<{tag}> animates the {value.strip()!r} handler")
        elif attr in LINK_ATTRS or attr in ANIMATION_VALUE_ATTRS:
            if _is_active_url(value, animated=attr in ANIMATION_VALUE_ATTRS):
                found.add("svg.javascript_url", f"{attr}={value[:60]!r} on <{tag}>")
            elif tag in LOADING_ELEMENTS and _normalised_url(value).startswith(
                EXTERNAL_URL_PREFIXES
            ):
                found.add("svg.external_reference", f"<{tag}> loads {value[:80]!r}")
        elif attr == "style" and _STYLE_EXTERNAL.search(value):
            found.add("svg.external_reference", f"style attribute on <{tag}> loads a remote URL")


def walk(reader: Reader, limits: Limits) -> Structure:
    """Check an SVG for active or remote content. Never raises for malformed input."""
    del limits
    st = Structure(type="svg", end=reader.size)
    found = _Findings()
    text = _load_text(reader, found)
    parsed = False
    if text:
        try:
            root = fromstring(text, forbid_dtd=False, forbid_entities=True, forbid_external=True)
        except DefusedXmlException as exc:
            found.add("svg.entity_declaration", f"refused by the XML parser: {type(exc).__name__}")
        except (ParseError, ValueError, LookupError) as exc:  # LookupError: unknown encoding
            found.add("svg.malformed", f"not well-formed XML: {exc}"[:200])
        else:
            parsed = True
            for count, element in enumerate(root.iter()):
                if count % 4096 == 0:
                    reader.check_deadline()
                _check_element(element, found)
    if found.too_large:
        _scan_large_file(reader, found)
    else:
        _textual_scan(_as_utf8(text), found, parsed)
    st.findings.extend(found.by_code.values())
    return st
