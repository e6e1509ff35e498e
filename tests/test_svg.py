"""SVG checker: benign drawings stay clean, every kind of active/remote content is named."""

from __future__ import annotations

import gzip

import pytest

from agent.inspect import svg
from agent.model import Severity
from tests.conftest import corpus_root
from tests.format_samples import SVG_BENIGN, SVG_MALICIOUS
from tests.walker_helpers import codes, walk_bytes, walk_file

OPEN = b'<svg xmlns="http://www.w3.org/2000/svg">'


def test_benign_svg_with_doctype_gradients_and_data_images_is_clean() -> None:
    st = walk_bytes("svg", SVG_BENIGN)
    assert st.findings == [] and st.end == len(SVG_BENIGN)


@pytest.mark.parametrize(("code", "data"), list(SVG_MALICIOUS.items()), ids=list(SVG_MALICIOUS))
def test_each_malicious_construct_gives_its_code(code: str, data: bytes) -> None:
    st = walk_bytes("svg", data)
    assert codes(st) == {code}
    assert st.end == len(data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            OPEN + b'<set attributeName="href" to="javascript:alert(1)"/></svg>',
            "svg.javascript_url",
        ),
        (
            OPEN + b'<a href="data:text/html;base64,PHNjcmlwdD4="><rect/></a></svg>',
            "svg.javascript_url",
        ),
        (
            OPEN + b"<style>@import url(https://evil.example/a.css);</style></svg>",
            "svg.external_reference",
        ),
        (
            OPEN + b'<rect style="fill:url(//evil.example/x)"/></svg>',
            "svg.external_reference",
        ),
        (
            OPEN + b'<use href="file:///c:/x.svg#a"/></svg>',
            "svg.external_reference",
        ),
        (
            OPEN + b'<h:script xmlns:h="http://www.w3.org/1999/xhtml">x</h:script></svg>',
            "svg.script",
        ),
        (OPEN + b'<rect onclick="x()"/>', "svg.malformed"),
    ],
)
def test_more_constructs(data: bytes, expected: str) -> None:
    assert expected in codes(walk_bytes("svg", data))


def test_malformed_svg_is_still_scanned_textually() -> None:
    data = b'<svg><g onmouseover="alert(1)"><foreignObject><iframe src="javascript:x">'
    assert codes(walk_bytes("svg", data)) == {
        "svg.malformed",
        "svg.event_handler",
        "svg.javascript_url",
        "svg.foreign_object",
    }


def test_slash_before_an_event_attribute_is_seen_in_malformed_svg() -> None:
    # HTML parsers treat "/" like whitespace before an attribute: <svg/onload=...> runs.
    data = b"<svg/onload=alert(document.domain)>"
    assert "svg.event_handler" in codes(walk_bytes("svg", data))
    assert "svg.event_handler" not in codes(walk_bytes("svg", b"<svg><path d='M0 0'/></svg>"))


def test_utf16_and_gzip_svgs_are_checked() -> None:
    evil = SVG_MALICIOUS["svg.script"]
    assert "svg.script" in codes(walk_bytes("svg", evil.decode().encode("utf-16")))
    assert "svg.script" in codes(walk_bytes("svg", gzip.compress(evil, mtime=0)))
    assert walk_bytes("svg", gzip.compress(SVG_BENIGN, mtime=0)).findings == []


def test_billion_laughs_is_refused_not_expanded() -> None:
    lol = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg"><text>&lol2;</text></svg>'
    )
    assert codes(walk_bytes("svg", lol)) == {"svg.entity_declaration"}


@pytest.mark.parametrize(("delta", "parsed"), [(-1, True), (0, True), (1, False)])
def test_parse_size_bound(delta: int, parsed: bool) -> None:
    head = b'<svg xmlns="http://www.w3.org/2000/svg"><desc>'
    tail = b"</desc><script>alert(1)</script></svg>"
    filler = b"a" * (svg.MAX_PARSE_BYTES + delta - len(head) - len(tail))
    st = walk_bytes("svg", head + filler + tail)
    assert "svg.script" in codes(st, Severity.HIGH)
    assert ("resource.file_too_large" in codes(st)) is not parsed


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("svg-script-logo.svg", {"svg.script"}),
        ("svg-xss-cdata-script.svg", {"svg.script", "svg.malformed"}),
        ("svg-xss-nested-svg.svg", {"svg.script"}),
    ],
)
def test_corpus_svgs(name: str, expected: set[str]) -> None:
    st = walk_file(corpus_root() / "malicious" / name)
    assert codes(st) == expected


def test_unknown_xml_encoding_is_malformed_not_a_crash() -> None:
    data = b'<?xml version="1.0" encoding="UT5-8"?><svg><script>alert(1)</script></svg>'
    assert codes(walk_bytes("svg", data)) == {"svg.malformed", "svg.script"}


XLINK = b'xmlns:xlink="http://www.w3.org/1999/xlink"'
ANIMATED_ACTIVE = {
    "set onmouseover": (
        OPEN + b'<set attributeName="onmouseover" to="alert(1)"/></svg>',
        "svg.event_handler",
    ),
    "animate onclick": (
        OPEN + b'<rect><animate attributeName=" onClick " values="alert(1)"/></rect></svg>',
        "svg.event_handler",
    ),
    "animate href list": (
        OPEN + b'<a><animate attributeName="href" values="#a; javascript:alert(1)"/></a></svg>',
        "svg.javascript_url",
    ),
    "set xlink:href entity": (
        OPEN[:-1] + b" " + XLINK + b'><a><set attributeName="xlink:href" '
        b'to="&#106;ava&#x09;script:alert(1)"/></a></svg>',
        "svg.javascript_url",
    ),
    "animate href vbscript": (
        OPEN + b'<a><animate attributeName="href" from="#a" to=" VBScript:msgbox(1)"/></a></svg>',
        "svg.javascript_url",
    ),
    "tiny handler": (
        OPEN[:-1] + b' xmlns:ev="http://www.w3.org/2001/xml-events"><handler ev:event="load" '
        b'type="application/ecmascript">alert(1)</handler></svg>',
        "svg.script",
    ),
    "handler other namespace": (
        OPEN + b'<x:handler xmlns:x="urn:example:events">alert(1)</x:handler></svg>',
        "svg.script",
    ),
}


@pytest.mark.parametrize(
    ("data", "expected"), list(ANIMATED_ACTIVE.values()), ids=list(ANIMATED_ACTIVE)
)
def test_animated_handlers_and_links_and_tiny_handlers_are_high(data: bytes, expected: str) -> None:
    st = walk_bytes("svg", data)
    assert codes(st) == {expected}
    assert all(f.severity is Severity.HIGH for f in st.findings)


OBFUSCATED_JAVASCRIPT = [
    b"java&#x09;script:alert(1)",
    b"JaVaScRiPt:alert(1)",
    b"&#x20;&#x0A;javascript:alert(1)",
    b"&#106;&#97;&#118;&#97;script&#58;alert(1)",
    b"jav&#x0D;ascript :alert(1)",
]


@pytest.mark.parametrize("url", OBFUSCATED_JAVASCRIPT)
def test_obfuscated_javascript_link_is_found_after_xml_decoding(url: bytes) -> None:
    data = OPEN[:-1] + b" " + XLINK + b'><a xlink:href="' + url + b'"><rect/></a></svg>'
    assert codes(walk_bytes("svg", data)) == {"svg.javascript_url"}


@pytest.mark.parametrize("url", [b"java&Tab;script&colon;alert(1)", b"&#x1;javascript:x()"])
def test_html_entities_in_a_malformed_svg_are_decoded_for_the_text_search(url: bytes) -> None:
    """Not XML (an HTML-only entity, a control character): the text search decodes them."""
    data = OPEN + b'<a href="' + url + b'"><rect/></a></svg>'
    assert codes(walk_bytes("svg", data)) == {"svg.malformed", "svg.javascript_url"}


BENIGN_ANIMATIONS = (
    OPEN + b'<rect width="9" height="9"><animate attributeName="opacity" values="0;1;0" '
    b'dur="2s" repeatCount="indefinite"/>'
    b'<set attributeName="visibility" to="hidden" begin="3s"/>'
    b'<animateTransform attributeName="transform" type="rotate" from="0" to="360"/>'
    b'</rect><stop offset="0"><animate attributeName="offset" values="0;0.5"/></stop>'
    b'<a href="https://example.org/javascript-guide"><animate attributeName="href" '
    b'values="#one;#two"/><text>onclick, handler and javascript: are only words</text></a>'
    b"</svg>"
)


def test_ordinary_animations_links_and_words_stay_clean() -> None:
    st = walk_bytes("svg", BENIGN_ANIMATIONS)
    assert st.findings == [] and st.end == len(BENIGN_ANIMATIONS)
