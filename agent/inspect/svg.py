"""SVG checker: active content, file and code references, foreign HTML, entities, size.

SVG is text, so the logical end is the file size. The XML is parsed with defusedxml (no
external fetches); plain internal text entities (Illustrator's namespace macros) expand,
any other entity declaration is refused and judged by `svg_dtd`. Because browsers are more
forgiving than XML parsers (a `<script>` hidden in a CDATA section that an HTML parser closes
early), the raw text is also searched for `<script`, and malformed files get the textual
search only. UTF-16/UTF-32 files (with or without BOM) are read as UTF-8 first.

Active content: `<script>` and SVG Tiny `<handler>`, `on...=` handlers (also installed by
`<set attributeName="onclick">`), javascript:/vbscript:/data:text/html links (also animated
into a link, or made the base of relative links with `xml:base`), XInclude (`xi:include`
reads local files in librsvg: CVE-2023-38633), an XSLT `xml-stylesheet` instruction, and
ImageMagick coders used as URL schemes (`msl:`, `text:`, `label:@`...). A `data:image/svg+xml`
URL in any reference is decoded and judged as an SVG of its own, up to MAX_NESTING_DEPTH.
`foreignObject` is a finding only when the HTML in it is more than passive text and layout
(draw.io and Mermaid labels are `div`s); remote fonts are low, other remote loads medium.
The canvas (width/height, else viewBox) is the raster size, judged against the pixel limits.
"""

from __future__ import annotations

import re
import zlib
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from agent.inspect import svg_refs as refs
from agent.inspect.base import Structure
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.inspect.svg_dtd import judge_entities, replacement_texts
from agent.inspect.svg_text import FoundSet, canvas_pixels, textual_scan
from agent.inspect.wide_text import as_utf8


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


MAX_PARSE_BYTES = 8 * 1024**2  # bytes of (decompressed) SVG parsed as XML
MAX_PROSE_TEXTS = 256  # comments and descriptive texts judged per file
_COMMENT = re.compile(rb"<!--(?P<text>.*?)-->", re.DOTALL)
_DESCRIPTIVE = re.compile(
    rb"<(?P<tag>(?:[\w.-]+:)?(?:desc|title|metadata))\b[^>]*>(?P<text>.*?)</(?P=tag)\s*>",
    re.DOTALL,
)
MAX_NESTING_DEPTH = 3  # data: SVGs inside data: SVGs followed before giving up
GZIP_MAGIC = b"\x1f\x8b"
XINCLUDE_NS = "http://www.w3.org/2001/XInclude"
XHTML_NS = "http://www.w3.org/1999/xhtml"
XML_NS = "http://www.w3.org/XML/1998/namespace"

LOADING_ELEMENTS = frozenset({"use", "image", "feimage", "script", "iframe", "tref", "img"})
EMBEDDING_ELEMENTS = frozenset({"iframe", "embed", "object"})
SCRIPT_ELEMENTS = frozenset({"script", "handler"})  # handler: SVG Tiny 1.2 / XML Events
ANIMATION_VALUE_ATTRS = frozenset({"to", "from", "values", "by"})
LINK_ATTRS = frozenset({"href", "src", "action", "formaction", "data"})
# HTML that only lays out text inside a foreignObject (diagram labels): nothing runs,
# nothing loads, nothing asks for input.
PASSIVE_HTML = _words(
    """
    html body div span p br b i u s em strong small big sub sup font center table caption
    colgroup col thead tbody tfoot tr td th ul ol li dl dt dd h1 h2 h3 h4 h5 h6 pre code
    blockquote hr label abbr cite q mark del ins wbr nobr a img style
    """
)

_PSEUDO_ATTRIBUTE = re.compile(r"(\w+)\s*=\s*([\"'])(.*?)\2")
# An event handler content attribute is "on" + the event's name, letters only (HTML's
# "onclick", SVG's "onload", "onfocusin", "onbegin"...). Editors' own attributes that merely
# start with "on" are not handlers: Inkscape's <inkscape:path-effect only_selected="false">
# is in every drawing that uses a path effect (icon themes, Inkscape's own clip art).
_EVENT_HANDLER_NAME = re.compile(r"on[a-z]+\Z")


class _Target(TreeBuilder):
    """A tree builder that also keeps processing instructions (`xml-stylesheet`)."""

    def __init__(self) -> None:
        super().__init__()
        self.instructions: list[tuple[str, str]] = []

    def pi(self, target: str, text: str | None = None) -> Element:
        self.instructions.append((target, text or ""))
        return Element("pi")


def _split(tag: object) -> tuple[str, str]:
    """'{ns}foreignObject' -> ('ns', 'foreignobject'); a prefixed name keeps no prefix."""
    if not isinstance(tag, str):
        return "", ""
    namespace, _, local = tag[1:].rpartition("}") if tag.startswith("{") else ("", "", tag)
    return namespace, local.rsplit(":", 1)[-1].lower()


def _judge_url(value: str, where: str, found: FoundSet, depth: int, *, loads: bool) -> None:
    """One reference: active, ImageMagick, a nested data: SVG, or remote (if it loads)."""
    coder = refs.imagemagick_coder(value)
    if coder is not None:
        found.add("svg.imagemagick_protocol", f"{where} uses the ImageMagick {coder!r} coder")
        return
    nested = refs.nested_svg(value)
    if nested is not None:
        judge_svg_text(nested, found, depth + 1, f"data: SVG in {where}")
        return
    if loads and refs.is_external(value):
        found.add("svg.external_reference", f"{where} loads {value[:80]!r}")


def _judge_css(text: str, where: str, found: FoundSet, depth: int) -> None:
    """Style sheet or style attribute: remote loads (fonts are low), coders, nested SVG."""
    for url, font in refs.css_urls(text):
        if font and refs.is_external(url):
            found.add("svg.external_font", f"{where} loads the font {url[:80]!r}")
        else:
            _judge_url(url, where, found, depth, loads=True)
    if "@import" in text.lower() and not refs.css_urls(text):
        found.add("svg.external_reference", f"{where} imports a style sheet")


def _check_attributes(
    element: Element, tag: str, found: FoundSet, depth: int, foreign: bool
) -> None:
    for name, value in element.attrib.items():
        namespace, attr = _split(name)
        where = f"{attr}= on <{tag}>"
        if _EVENT_HANDLER_NAME.match(attr):
            found.add("svg.event_handler", where)
        elif attr == "attributename" and _EVENT_HANDLER_NAME.match(_split(value.strip())[1]):
            # <set attributeName="onclick" to="..."> installs an event handler.
            found.add("svg.event_handler", f"<{tag}> animates the {value.strip()!r} handler")
        elif attr == "base" and namespace == XML_NS:
            if refs.is_active(value):
                found.add("svg.javascript_url", f"xml:base={value[:60]!r} makes links run code")
            else:
                _judge_url(value, f"xml:base on <{tag}>", found, depth, loads=False)
        elif attr in LINK_ATTRS or attr in ANIMATION_VALUE_ATTRS:
            if refs.is_active(value, animated=attr in ANIMATION_VALUE_ATTRS):
                found.add("svg.javascript_url", f"{attr}={value[:60]!r} on <{tag}>")
            else:
                loads = tag in LOADING_ELEMENTS or (foreign and tag != "a")
                _judge_url(value, where, found, depth, loads=loads)
        elif attr == "style" or "url(" in value:
            _judge_css(value, where, found, depth)


def _check_tree(root: Element, found: FoundSet, depth: int, check: Reader | None) -> None:
    """Every element, iteratively (deep nesting must not hit Python's recursion limit)."""
    stack: list[tuple[Element, bool]] = [(root, False)]
    count = 0
    while stack:
        element, foreign = stack.pop()
        count += 1
        if check is not None and count % 4096 == 0:
            check.check_deadline()
        namespace, tag = _split(element.tag)
        if tag in SCRIPT_ELEMENTS:
            found.add("svg.script", f"<{tag}> element")
        elif tag == "include" and namespace == XINCLUDE_NS:
            found.add("svg.xinclude", f"<xi:include href={element.get('href', '')[:80]!r}>")
        elif tag in EMBEDDING_ELEMENTS:
            found.add("svg.foreign_object", f"<{tag}> element")
        elif foreign and namespace == XHTML_NS and tag not in PASSIVE_HTML:
            found.add("svg.foreign_object", f"active <{tag}> inside foreignObject")
        elif tag == "style" and element.text:
            _judge_css(element.text, "<style>", found, depth)
        _check_attributes(element, tag, found, depth, foreign)
        inside = foreign or tag == "foreignobject"
        stack.extend((child, inside) for child in reversed(element))


def _check_instructions(instructions: list[tuple[str, str]], found: FoundSet, depth: int) -> None:
    for target, text in instructions:
        if target.lower() != "xml-stylesheet":
            continue
        pseudo = dict(
            (key.lower(), value)
            for key, _, value in re.findall(r"(\w+)\s*=\s*([\"'])(.*?)\2", text)
        )
        href, kind = pseudo.get("href", ""), pseudo.get("type", "").lower()
        if "xsl" in kind or refs.normalised(href).endswith((".xsl", ".xslt")):
            found.add("svg.xslt", f"xml-stylesheet {text[:80]!r}")
        elif refs.is_font_url(href) and refs.is_external(href):
            found.add("svg.external_font", f"xml-stylesheet loads the font CSS {href[:80]!r}")
        else:
            _judge_url(href, "xml-stylesheet", found, depth, loads=True)


def judge_svg_text(
    untrusted_svg: bytes,
    found: FoundSet,
    depth: int = 0,
    context: str = "",
    check: Reader | None = None,
) -> Element | None:
    """Judge SVG text (any encoding); returns the parsed root, or None when unparsable."""
    if depth > MAX_NESTING_DEPTH:
        found.add("svg.nesting_too_deep", f"{context}: deeper than {MAX_NESTING_DEPTH} levels")
        return None
    outer = found.context
    found.context = context
    try:
        text = as_utf8(untrusted_svg)
        entities = judge_entities(text)
        for code, detail, offset in entities.risks:
            found.add(code, detail, offset)
        for injected in replacement_texts(text):  # what a browser's expansion inserts
            textual_scan(injected, found, parsed=False)
        root: Element | None = None
        target = _Target()
        try:
            parser = DefusedXMLParser(
                target=target,
                forbid_dtd=False,
                forbid_entities=not entities.expandable,
                forbid_external=True,
            )
            parser.feed(text)
            root = parser.close()
        except DefusedXmlException as exc:
            if not entities.risks:
                found.add(
                    "svg.entity_declaration", f"refused by the XML parser: {type(exc).__name__}"
                )
        except (ParseError, ValueError, LookupError) as exc:  # LookupError: unknown encoding
            found.add("svg.malformed", f"not well-formed XML: {exc}"[:200])
        if root is not None:
            _check_tree(root, found, depth, check)
            _check_instructions(target.instructions, found, depth)
        textual_scan(text, found, parsed=root is not None)
        return root
    finally:
        found.context = outer


def _prose(text: bytes) -> list[tuple[str, int, bytes]]:
    """Comments and the text of desc/title/metadata elements: prose no renderer draws or
    runs, judged like a picture's metadata text (a script or an encoded program there is a
    payload waiting for a loader, as in a JPEG comment)."""
    found: list[tuple[str, int, bytes]] = []
    for pattern, label in ((_COMMENT, "SVG comment"), (_DESCRIPTIVE, "SVG description")):
        for match in pattern.finditer(text):
            if len(found) >= MAX_PROSE_TEXTS:
                return found
            found.append((label, match.start(), match.group("text")))
    return found


def _load_text(reader: Reader, found: FoundSet) -> bytes | None:
    """The SVG text to parse (gunzipped for .svgz), or None when over MAX_PARSE_BYTES."""
    head = reader.read(0, MAX_PARSE_BYTES + 1)
    if head.startswith(GZIP_MAGIC):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            head = inflater.decompress(head, MAX_PARSE_BYTES + 1)
        except zlib.error:
            found.add("svg.malformed", "gzip stream is corrupt")
            return b""
    return None if len(head) > MAX_PARSE_BYTES else head


def walk(reader: Reader, limits: Limits) -> Structure:
    """Check an SVG for active or remote content. Never raises for malformed input."""
    del limits
    st = Structure(type="svg", end=reader.size)
    found = FoundSet()
    text = _load_text(reader, found)
    if text is None:
        found.too_large(reader, MAX_PARSE_BYTES)
    elif text:
        st.texts.extend(_prose(text))
        root = judge_svg_text(text, found, check=reader)
        size = canvas_pixels(root) if root is not None else None
        if size is not None:
            st.width, st.height = size
            st.pixels = size[0] * size[1]
    st.findings.extend(found.findings())
    return st
