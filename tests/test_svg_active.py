"""SVG: nested data: SVGs, XInclude, XSLT, xml:base, ImageMagick coders, entities, foreign
HTML, fonts, canvas size and wide encodings; each a rule with its false-alarm twin."""

from __future__ import annotations

import base64
import urllib.parse

import pytest

from agent.inspect import svg, svg_dtd, svg_refs
from agent.inspect.engine import inspect_bytes
from agent.model import Severity, Verdict
from tests.walker_helpers import walk_bytes

NS = b'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
OPEN = b"<svg " + NS + b">"
EVIL = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
PLAIN = b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>'


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def found(data: bytes) -> dict[str, Severity]:
    return {f.code: f.severity for f in walk_bytes("svg", data).findings}


@pytest.mark.parametrize(
    "reference",
    [
        b'<use href="data:image/svg+xml;base64,' + b64(EVIL) + b'#a"/>',
        b'<image xlink:href="data:image/svg+xml;base64,' + b64(EVIL) + b'"/>',
        b'<filter id="f"><feImage href="data:image/svg+xml;base64,' + b64(EVIL) + b'"/></filter>',
        b'<image href="data:image/svg+xml,' + urllib.parse.quote(EVIL).encode() + b'"/>',
        b'<image href="data:image/svg+xml;charset=utf-8;base64,' + b64(EVIL) + b'"/>',
        # unpadded base64 and a fragment identifier
        b'<use href="data:image/svg+xml;base64,' + b64(EVIL).rstrip(b"=") + b'#x"/>',
        b'<rect style="fill:url(data:image/svg+xml;base64,' + b64(EVIL) + b')"/>',
    ],
)
def test_a_data_svg_with_script_is_decoded_and_judged(reference: bytes) -> None:
    assert found(OPEN + reference + b"</svg>") == {"svg.event_handler": Severity.HIGH}


def test_a_data_svg_without_script_stays_clean() -> None:
    data = OPEN + b'<image href="data:image/svg+xml;base64,' + b64(PLAIN) + b'"/></svg>'
    assert found(data) == {}


def _nested(levels: int, innermost: bytes) -> bytes:
    data = innermost
    for _ in range(levels):
        data = OPEN + b'<image href="data:image/svg+xml;base64,' + b64(data) + b'"/></svg>'
    return data


@pytest.mark.parametrize(("levels", "too_deep"), [(svg.MAX_NESTING_DEPTH - 1, False),
                                                  (svg.MAX_NESTING_DEPTH, False),
                                                  (svg.MAX_NESTING_DEPTH + 1, True)])  # fmt: skip
def test_nesting_depth_bound(levels: int, too_deep: bool) -> None:
    result = found(_nested(levels, EVIL))
    assert ("svg.nesting_too_deep" in result) is too_deep
    assert ("svg.event_handler" in result) is not too_deep  # judged at every allowed level


def test_nested_svg_size_bound() -> None:
    pad = b"<desc>" + b"a" * (svg_refs.MAX_NESTED_SVG_BYTES - len(EVIL) - 13) + b"</desc>"
    inside = EVIL.replace(b"/>", b">" + pad + b"<script>x()</script></svg>")
    assert len(inside) > svg_refs.MAX_NESTED_SVG_BYTES  # the script lies beyond the cap
    assert (
        svg_refs.nested_svg("data:image/svg+xml;base64," + b64(inside).decode())
        == inside[: svg_refs.MAX_NESTED_SVG_BYTES]
    )


def test_xinclude_xslt_and_xml_base() -> None:
    xinclude = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xi="http://www.w3.org/2001/XInclude">'
        b'<text><xi:include href=".?../../../../etc/passwd" parse="text"/></text></svg>'
    )
    assert found(xinclude) == {"svg.xinclude": Severity.HIGH}
    xslt = b'<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="t.xsl"?>' + PLAIN
    assert found(xslt) == {"svg.xslt": Severity.HIGH}
    base = OPEN + b'<g xml:base="javascript:alert(1)//"><a xlink:href="x"><rect/></a></g></svg>'
    assert found(base) == {"svg.javascript_url": Severity.HIGH}
    # an ordinary base and an ordinary CSS instruction are not findings
    assert found(OPEN + b'<g xml:base="https://clinic.example/"><rect/></g></svg>') == {}
    assert found(b'<?xml-stylesheet type="text/css" href="style.css"?>' + PLAIN) == {}


@pytest.mark.parametrize(
    "reference",
    [b"msl:/tmp/x.msl", b"text:/etc/passwd", b"ephemeral:/tmp/x", b"vid:msl:/tmp/x",
     b"label:@/etc/passwd", b"caption:@/etc/shadow", b"mvg:/tmp/x.mvg", b"MSL:/x",
     b" \tmsl:/x"],
)  # fmt: skip
@pytest.mark.parametrize("place", ["href", "style", "fill"])
def test_imagemagick_coders_in_any_reference_are_high(reference: bytes, place: str) -> None:
    element = {
        "href": b'<image xlink:href="' + reference + b'"/>',
        "style": b'<rect style="fill:url(' + reference + b')"/>',
        "fill": b'<rect fill="url(' + reference + b')"/>',
    }[place]
    assert found(OPEN + element + b"</svg>") == {"svg.imagemagick_protocol": Severity.HIGH}


def test_imagemagick_coders_in_an_unparsable_svg_are_found_in_the_text() -> None:
    assert "svg.imagemagick_protocol" in found(b'<svg><image href="msl:/tmp/x"></svg')


def test_label_with_literal_text_is_no_file_read() -> None:
    assert found(OPEN + b'<image href="label:Hello"/><a href="#text:1"><rect/></a></svg>') == {}


ILLUSTRATOR = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<!-- Generator: Adobe Illustrator 16.0.0 -->\n'
    b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
    b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [\n'
    b'\t<!ENTITY ns_extend "http://ns.adobe.com/Extensibility/1.0/">\n'
    b'\t<!ENTITY ns_ai "http://ns.adobe.com/AdobeIllustrator/10.0/">\n'
    b'\t<!ENTITY ns_graphs "http://ns.adobe.com/Graphs/1.0/">\n'
    b'\t<!ENTITY ns_svg "http://www.w3.org/2000/svg">\n'
    b'\t<!ENTITY ns_xlink "http://www.w3.org/1999/xlink">\n]>\n'
    b'<svg version="1.1" xmlns:x="&ns_extend;" xmlns:i="&ns_ai;" xmlns:graph="&ns_graphs;" '
    b'xmlns="&ns_svg;" xmlns:xlink="&ns_xlink;" width="200px" height="100px">'
    b'<rect width="10" height="10"/>BODY</svg>'
)


def test_illustrator_namespace_entities_parse_and_stay_clean() -> None:
    assert found(ILLUSTRATOR.replace(b"BODY", b"")) == {}
    # the tree is really walked: a handler (which only the parsed tree reveals) is found
    evil = ILLUSTRATOR.replace(b"BODY", b'<g onclick="x()"/>')
    assert found(evil) == {"svg.event_handler": Severity.HIGH}


def test_plain_entity_that_hides_a_javascript_link_is_found_after_expansion() -> None:
    data = b'<!DOCTYPE svg [<!ENTITY j "javascript:alert(1)">]>' + OPEN
    assert found(data + b'<a href="&j;"><rect/></a></svg>') == {"svg.javascript_url": Severity.HIGH}


@pytest.mark.parametrize(
    ("declarations", "code"),
    [
        (b'<!ENTITY x SYSTEM "file:///etc/passwd">', "svg.external_entity"),
        (b'<!ENTITY x PUBLIC "-//A//B" "http://evil.example/x">', "svg.external_entity"),
        (b'<!ENTITY % p SYSTEM "http://evil.example/x.dtd"> %p;', "svg.external_entity"),
        (b"<!ENTITY % p \"<!ENTITY x 'y'>\">", "svg.entity_declaration"),
        (b'<!ENTITY a "aa"><!ENTITY x "&a;&a;">', "svg.entity_declaration"),
        (b'<!ENTITY x "<script>alert(1)</script>">', "svg.entity_declaration"),
    ],
)
def test_risky_entities_are_refused(declarations: bytes, code: str) -> None:
    data = b"<!DOCTYPE svg [" + declarations + b"]>" + OPEN + b"<text>&x;</text></svg>"
    assert code in found(data)
    assert "svg.external_entity" not in found(data) or code == "svg.external_entity"


@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_plain_entity_expansion_bound(delta: int) -> None:
    value = b"v" * 1000
    uses = (svg_dtd.MAX_EXPANSION_BYTES + delta * 1000) // 1000
    text = b'<!DOCTYPE svg [<!ENTITY x "' + value + b'">]>' + OPEN + b"<desc>"
    verdict = svg_dtd.judge_entities(text + b"&x;" * uses + b"</desc></svg>")
    assert verdict.expandable is (delta <= 0)


MERMAID = OPEN + (
    b'<g class="node"><foreignObject width="80" height="24">'
    b'<div xmlns="http://www.w3.org/1999/xhtml" '
    b'style="display: table-cell; white-space: nowrap; line-height: 1.5;">'
    b'<span class="nodeLabel"><p>Check-in <b>desk</b></p></span></div></foreignObject></g>'
    b'<switch><foreignObject requiredFeatures="http://www.w3.org/TR/SVG11/feature#Extensibility">'
    b'<div xmlns="http://www.w3.org/1999/xhtml"><div><div style="font-size: 12px;">Waiting room'
    b"<br/>2nd floor</div></div></div></foreignObject>"
    b'<a xlink:href="https://www.drawio.com/doc/faq/svg-export-text-problems" target="_blank">'
    b"<text>Text is not SVG - cannot display</text></a></switch></svg>"
)


def test_diagram_labels_in_foreign_object_are_not_a_finding() -> None:
    assert found(MERMAID) == {}


@pytest.mark.parametrize(
    "html",
    [b'<form><input type="password"/></form>', b"<iframe/>", b'<video src="x.mp4"/>',
     b'<button onclick="x()">Go</button>', b'<meta http-equiv="refresh" content="0;url=x"/>',
     b'<link rel="stylesheet" href="x.css"/>', b"<textarea/>"],
)  # fmt: skip
def test_active_html_in_foreign_object_is_a_finding(html: bytes) -> None:
    data = MERMAID.replace(b"<br/>", html)
    assert found(data).get("svg.foreign_object") is Severity.MEDIUM or (
        "svg.event_handler" in found(data)
    )


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        (b'@import url("https://fonts.googleapis.com/css2?family=Inter");', Severity.LOW),
        (b"@import 'https://fonts.googleapis.com/css?family=Roboto';", Severity.LOW),
        (b"@font-face{font-family:X;src:url(https://cdn.example/x.woff2)}", Severity.LOW),
        (b'@import url("https://evil.example/x.css");', Severity.MEDIUM),
        (b".a{background:url(//tracker.example/p.gif)}", Severity.MEDIUM),
    ],
)
def test_remote_fonts_are_low_other_remote_loads_medium(style: bytes, expected: Severity) -> None:
    result = found(OPEN + b"<style>" + style + b"</style></svg>")
    assert set(result.values()) == {expected}


@pytest.mark.parametrize(
    ("root", "size"),
    [
        (b'width="30000" height="20000"', (30000, 20000)),
        (b'width="210mm" height="297mm"', (793, 1122)),
        (b'width="2in" height="1in"', (192, 96)),
        (b'viewBox="0 0 100000 50000"', (100000, 50000)),
        (b'width="100%" height="100%" viewBox="0 0 100000 50000"', None),  # laid out by viewer
        (b'width="-5" height="10"', None),
        (b"", None),
    ],
)
def test_canvas_size(root: bytes, size: tuple[int, int] | None) -> None:
    st = walk_bytes("svg", b'<svg xmlns="http://www.w3.org/2000/svg" ' + root + b"/>")
    assert (None if st.width is None else (st.width, st.height)) == size


def test_a_huge_canvas_is_judged_against_the_pixel_limits() -> None:
    data = b'<svg xmlns="http://www.w3.org/2000/svg" width="20000" height="20000"/>'
    report = inspect_bytes("chart.svg", data)
    assert {f.code for f in report.findings} == {"resource.pixels_over_reject"}
    small = inspect_bytes("chart.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="800"/>')
    assert small.findings == ()


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le",
                                   "utf-32-be"])  # fmt: skip
@pytest.mark.parametrize("declared", [True, False])
def test_wide_encoded_svg_is_an_svg_and_is_judged(codec: str, declared: bool) -> None:
    text = (f'<?xml version="1.0" encoding="{codec.upper()}"?>\n' if declared else "") + (
        OPEN + b"<script>alert(1)</script></svg>"
    ).decode()
    report = inspect_bytes("logo.svg", text.encode(codec))
    assert report.type == "svg"
    assert {f.code for f in report.findings} == {"svg.script"}
    clean = inspect_bytes(
        "logo.svg", text.replace("alert(1)", "").replace("script", "g").encode(codec)
    )
    assert clean.type == "svg" and clean.verdict is Verdict.CLEAN


def test_wide_xml_that_is_not_svg_is_not_called_a_dangerous_document() -> None:
    data = '<?xml version="1.0" encoding="UTF-16"?><note>hello</note>'.encode("utf-16")
    report = inspect_bytes("scan.png", data)  # libmagic says "XML 1.0 document"
    assert report.verdict is not Verdict.QUARANTINE
    assert not any(f.code == "content.document" for f in report.findings)


@pytest.mark.parametrize("name", ["photo.png", "IMG_1.JPG", "scan.webp", "xray.dcm"])
def test_an_svg_under_a_picture_name_is_medium_and_still_judged(name: str) -> None:
    assert {f.code: f.severity for f in inspect_bytes(name, PLAIN).findings} == {
        "content.svg_as_picture": Severity.MEDIUM
    }
    evil = inspect_bytes(name, EVIL)
    assert evil.verdict is Verdict.QUARANTINE
    assert "svg.event_handler" in {f.code for f in evil.findings}


def test_svg_checks_run_under_any_name() -> None:
    for name in ("notes.txt", "download", "report.pdf"):
        report = inspect_bytes(name, EVIL)
        assert report.type == "svg" and "svg.event_handler" in {f.code for f in report.findings}


@pytest.mark.parametrize(
    "prolog",
    [
        b'<?xml version="1.0"?>\n<!--' + b"x" * 6000 + b"-->\n",
        b"<!DOCTYPE svg [<!-- " + b"y" * 9000 + b" -->]>\n",
        b"<?xml version='1.0'?>" + b"<?pi " + b"z" * 5000 + b"?>",
    ],
)
def test_an_svg_behind_a_long_prolog_is_still_an_svg(prolog: bytes) -> None:
    for name in ("logo.svg", "photo.png"):
        report = inspect_bytes(name, prolog + EVIL)
        assert report.type == "svg" and report.verdict is Verdict.QUARANTINE
    html = b"<!--" + b"c" * 5000 + b"--><html><body><svg></svg></body></html>"
    assert inspect_bytes("page.html", html).type != "svg"
