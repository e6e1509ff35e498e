"""Table-segment slack (agent/inspect/jpeg/tables.py), against T.81's segment layouts.

Expected sizes come from the standard: a DQT table is Pq/Tq + 64 entries of 1 or 2 bytes
(B.2.4.1), a DHT table Tc/Th + 16 counts + one byte per code (B.2.4.2), an SOF body is
P, Y, X, Nf + 3 bytes per component (B.2.2), an SOS body Ns + 2 per component + Ss, Se,
Ah/Al (B.2.3), a DRI body Ri (B.2.4.4).
"""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from agent.inspect import stray_code
from agent.inspect.engine import inspect_bytes
from agent.inspect.jpeg.tables import DHT, DQT, DRI, SOS, slack
from tests import classify_samples as cs
from tests import jpeg_samples as js

DQT_8BIT = b"\x00" + bytes(range(64))  # 65 bytes
DQT_16BIT = b"\x11" + bytes(128)  # 129 bytes
DHT_DC = b"\x00" + bytes([0, 1, 5, 1, 1, 1, 1, 1, 1] + [0] * 7) + bytes(range(12))  # 29 bytes
SOF_3 = b"\x08\x00\x10\x00\x10\x03" + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"  # 15 bytes
SOS_3 = b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00"  # 10 bytes


@pytest.mark.parametrize(
    ("marker", "body"),
    [
        (DQT, DQT_8BIT),
        (DQT, DQT_16BIT),
        (DQT, DQT_8BIT + DQT_16BIT),
        (DHT, DHT_DC),
        (DHT, DHT_DC + DHT_DC),
        (0xC0, SOF_3),
        (0xC2, SOF_3),
        (SOS, SOS_3),
        (DRI, b"\x00\x10"),
    ],
)
def test_segments_that_hold_exactly_their_tables_have_no_slack(marker: int, body: bytes) -> None:
    assert slack(marker, body) == 0


@pytest.mark.parametrize(
    ("marker", "body"),
    [(DQT, DQT_8BIT), (DHT, DHT_DC), (0xC0, SOF_3), (SOS, SOS_3), (DRI, b"\x00\x10")],
)
def test_bytes_past_the_tables_are_slack(marker: int, body: bytes) -> None:
    assert slack(marker, body + b"MZ" + bytes(40)) == 42


def test_a_dht_padded_with_ff_is_not_reported() -> None:
    assert slack(DHT, DHT_DC + b"\xff\xff\xff") == 0


def test_a_quantization_segment_that_starts_with_no_table_is_all_slack() -> None:
    """Pq 2 is no precision T.81 defines (B.2.4.1): nothing of the body is a table."""
    assert slack(DQT, b"\x20" + bytes(64)) == 65


def test_app_segments_have_no_table_slack() -> None:
    assert slack(0xE1, b"Exif\x00\x00" + bytes(100)) == 0


def _with_restart_markers(seed: int) -> bytes:

    rng = random.Random(seed)
    image = Image.frombytes("RGB", (128, 96), rng.randbytes(128 * 96 * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, restart_marker_blocks=2)
    return out.getvalue()


def test_a_program_after_a_restart_marker_far_from_eoi_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a restart interval the whole scan is searched, not only the tail before EOI."""
    monkeypatch.setattr(stray_code, "JPEG_TAIL_BYTES", 64)
    jpeg = _with_restart_markers(3)
    cut = jpeg.find(b"\xff\xd1", len(jpeg) // 4) + 2
    report = inspect_bytes("scan.jpg", jpeg[:cut] + cs.real_pe() + jpeg[cut:])
    assert report.verdict.value == "quarantine"
    assert any(
        f.code == "jpeg.payload_in_image_data" and f.payload == "pe" for f in report.findings
    )


def test_a_program_in_table_slack_is_quarantined() -> None:
    jpeg = js.photo(seed=4)
    at = jpeg.find(b"\xff\xdb")
    length = int.from_bytes(jpeg[at + 2 : at + 4], "big")
    pe = cs.real_pe()
    patched = (
        jpeg[: at + 2]
        + (length + len(pe)).to_bytes(2, "big")
        + jpeg[at + 4 : at + 2 + length]
        + pe
        + jpeg[at + 2 + length :]
    )
    report = inspect_bytes("scan.jpg", patched)
    assert report.verdict.value == "quarantine"
    assert any(f.code == "jpeg.unexplained_data" and f.payload == "pe" for f in report.findings)


# --- issue 15: the table headers' bounds (T.81 B.2.4.1: Pq 0..1, Tq 0..3; B.2.4.2: Tc 0..1,
# Th 0..3, at most 256 codes), read exactly at each bound --------------------------------------


def test_dqt_bounds_of_precision_and_destination() -> None:
    assert slack(DQT, b"\x03" + bytes(64)) == 0  # Tq 3: the last destination
    assert slack(DQT, DQT_8BIT + b"\x04" + bytes(64)) == 65  # Tq 4: no table
    assert slack(DQT, DQT_8BIT + b"\x20" + bytes(128)) == 129  # Pq 2: no table


def test_a_16_bit_dqt_table_is_129_bytes() -> None:
    assert slack(DQT, DQT_16BIT + b"MZ" + bytes(40)) == 42


def test_dht_bounds_of_class_destination_and_count() -> None:
    empty_last = b"\x13" + bytes(16)  # Tc 1, Th 3, no codes: 17 bytes, ending the body
    assert slack(DHT, DHT_DC + empty_last) == 0
    assert slack(DHT, DHT_DC + b"\x04" + bytes(16)) == 17  # Th 4: no table
    assert slack(DHT, DHT_DC + b"\x20" + bytes(16)) == 17  # Tc 2: no table
    full = b"\x00" + bytes([16] * 16) + bytes(range(256))  # exactly 256 codes
    assert slack(DHT, DHT_DC + full) == 0


def test_dht_counts_are_the_16_bytes_after_tc_th() -> None:
    two = b"\x00" + bytes([2] + [0] * 15) + b"\x01\x02"  # two 1-bit codes: 19 bytes
    assert slack(DHT, two + b"MZ" + bytes(40)) == 42


def test_dht_bodies_that_are_no_table_or_end_short_are_not_slack() -> None:
    assert slack(DHT, b"\x45" + bytes(20)) == 0  # the first "table" is none: a broken segment
    assert slack(DHT, bytes(10)) == 0  # too short for any table
    cut = b"\x00" + bytes([5] + [0] * 15) + b"\x01\x02"  # says 5 codes, holds 2
    assert slack(DHT, DHT_DC + cut) == 0  # the decoder's problem
    assert slack(DHT, DHT_DC + b"\x00" + bytes(14)) == 15  # too short for its 16 counts
    assert slack(DHT, DHT_DC + b"MZ") == 2


def test_short_or_empty_table_segments_have_no_slack() -> None:
    assert slack(DQT, b"") == 0
    assert slack(DQT, b"\x00" + bytes(30)) == 0  # a table cut short: the decoder's problem
    assert slack(0xC0, b"\x08\x00\x10") == 0  # an SOF too short for its component count


def test_only_ff_bytes_are_huffman_padding() -> None:
    assert slack(DHT, DHT_DC + b"XX") == 2
