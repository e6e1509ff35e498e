"""The classifier inside the engine: codes, severities and offsets for each judged place."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import classify_samples as cs
import pytest
from jpeg_samples import (
    box,
    container_xmp,
    insert_segments,
    mp4,
    photo,
    sef_trailer,
    segment,
    with_xmp,
)
from PIL import Image

from agent.inspect import judge
from agent.inspect.base import Region, Structure
from agent.inspect.classify.polyglot import js_polyglot
from agent.inspect.engine import inspect_bytes
from agent.inspect.reader import Reader
from agent.inspect.sniff import Sniffed
from agent.model import Severity, Verdict

PE = cs.real_pe()


def exif_segment(entries: dict[int, bytes | str]) -> bytes:
    exif = Image.Exif()
    for tag, value in entries.items():
        exif[tag] = value
    return segment(0xE1, b"Exif\x00\x00" + exif.tobytes())


def codes(data: bytes, name: str = "IMG_0001.jpg") -> dict[str, Severity]:
    return {f.code: f.severity for f in inspect_bytes(name, data).findings}


# --- metadata values --------------------------------------------------------------------------


def test_powershell_in_exif_xp_comment_is_high() -> None:
    xp = cs.POWERSHELL.decode().encode("utf-16-le") + b"\x00\x00"
    report = inspect_bytes("a.jpg", insert_segments(photo(), exif_segment({0x9C9C: xp})))
    [finding] = [f for f in report.findings if f.code == "jpeg.payload_in_metadata"]
    assert (finding.severity, finding.payload) == (Severity.HIGH, "powershell")
    assert "utf-16le" in finding.detail and report.verdict is Verdict.QUARANTINE


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (cs.BATCH.decode(), "batch"),
        (cs.PYTHON.decode(), "python"),
        ("profile: " + base64.b64encode(PE).decode(), "pe"),
    ],
)
def test_scripts_and_encoded_programs_in_exif_text(value: str, kind: str) -> None:
    report = inspect_bytes("a.jpg", insert_segments(photo(), exif_segment({0x010E: value})))
    found = {f.code: (f.severity, f.payload) for f in report.findings}
    assert found["jpeg.payload_in_metadata"] == (Severity.HIGH, kind)


def test_lone_suggestive_marker_in_metadata_stays_low() -> None:
    data = insert_segments(photo(), exif_segment({0x010E: "Post-op wound eval(day 3)"}))
    assert codes(data) == {"jpeg.payload_in_metadata": Severity.LOW}
    assert inspect_bytes("a.jpg", data).verdict is Verdict.CLEAN


def test_zlib_stream_in_an_unknown_app_segment() -> None:
    data = insert_segments(photo(), segment(0xEF, b"VNDR" + zlib.compress(cs.POWERSHELL)))
    assert codes(data)["jpeg.payload_in_metadata"] is Severity.HIGH


# --- left-over and unexplained ranges ---------------------------------------------------------


def test_encoded_trailer_names_its_encoding() -> None:
    tail = b"<<BASE64_START>>" + base64.b64encode(PE)[::-1] + b"<<BASE64_END>>"
    [finding] = inspect_bytes("a.jpg", photo() + tail).findings
    assert (finding.code, finding.severity, finding.payload) == (
        "jpeg.trailing_data",
        Severity.HIGH,
        "pe",
    )
    assert "reversed base64-encoded" in finding.detail


def test_unexplained_range_is_judged_like_left_over_data() -> None:
    data = b"HEAD" + cs.lnk() + b"TAIL" + bytes(100)
    reader = Reader.from_bytes(data)
    inside = Region(4, 4 + len(cs.lnk()), "stray bytes")
    structure = Structure(type="png", end=len(data), unexplained=[inside])
    sniffed = Sniffed("png", "image", "PNG image")
    [finding] = judge.judge_structure(reader, sniffed, structure, [])
    assert (finding.code, finding.severity, finding.payload, finding.offset) == (
        "png.unexplained_data",
        Severity.HIGH,
        "lnk",
        4,
    )


def test_many_harmless_ranges_cannot_hide_the_payload() -> None:
    prose = b"plain words, nothing to see here"
    data = bytearray(b"HEAD")
    regions = []
    for _ in range(judge.MAX_GAP_FINDINGS + 4):
        regions.append(Region(len(data), len(data) + len(prose), "stray text"))
        data += prose + b"\x00\x01"
    regions.append(Region(len(data), len(data) + len(PE), "stray program"))
    data += PE
    structure = Structure(type="bmp", end=len(data), unexplained=regions)
    sniffed = Sniffed("bmp", "image", "BMP image")
    found = judge.judge_structure(Reader.from_bytes(bytes(data)), sniffed, structure, [])
    assert len(found) == judge.MAX_GAP_FINDINGS
    assert [f.payload for f in found if f.severity is Severity.HIGH] == ["pe"]


# --- trusted containers -----------------------------------------------------------------------


def test_motion_photo_with_a_program_in_mdat_is_not_trusted() -> None:
    video = box(b"ftyp", b"mp42\x00\x00\x00\x00isommp42") + box(b"mdat", PE + bytes(3000))
    video += box(b"moov", box(b"mvhd", bytes(100)))
    items = [("image/jpeg", "Primary", 0, 0), ("video/mp4", "MotionPhoto", len(video), 0)]
    data = with_xmp(photo(), container_xmp(items)) + video
    found = {f.code: (f.severity, f.payload) for f in inspect_bytes("a.jpg", data).findings}
    assert found["jpeg.trailing_data"] == (Severity.HIGH, "pe")
    assert "jpeg.known_trailer" not in found


def test_motion_photo_with_random_video_stays_trusted() -> None:
    video = mp4(media_bytes=200_000, seed=11)
    items = [("image/jpeg", "Primary", 0, 0), ("video/mp4", "MotionPhoto", len(video), 0)]
    data = with_xmp(photo(), container_xmp(items)) + video
    assert codes(data) == {"jpeg.known_trailer": Severity.INFO}


def test_sef_record_body_is_judged() -> None:
    records = [(0x0A01, b"Image_UTC_Data", b"1700000000000"), (0x0B40, b"Info", cs.PYTHON)]
    found = {
        f.code: f.severity for f in inspect_bytes("a.jpg", photo() + sef_trailer(records)).findings
    }
    assert found["jpeg.trailing_data"] is Severity.HIGH
    clean = [(0x0A01, b"Image_UTC_Data", b"1700000000000")]
    assert codes(photo() + sef_trailer(clean)) == {"jpeg.known_trailer": Severity.INFO}


# --- script-polyglot headers ------------------------------------------------------------------


def _gif(width: int) -> bytes:
    out = io.BytesIO()
    Image.new("P", (width, 4)).save(out, "GIF")
    return out.getvalue()


def test_gif_assignment_polyglot() -> None:
    data = bytearray(_gif(20))
    data[6:11] = b"=1;/*"
    report = inspect_bytes("a.gif", bytes(data) + b"*/;alert(document.domain);//")
    found = {f.code: f.severity for f in report.findings}
    assert found["gif.js_polyglot_header"] is Severity.HIGH


def test_header_values_alone_are_not_polyglots() -> None:
    # 317 pixels wide: the width bytes read "=\x01"; nothing runs after them
    assert js_polyglot(Reader.from_bytes(_gif(317)), "gif") is None
    # a first APP1 of 0x2F2A bytes reads "/*", but no code follows the first "*/"
    exif = b"Exif\x00\x00" + bytes(0x2F2A - 2 - 6)
    jpeg = photo()
    data = jpeg[:2] + b"\xff\xe1" + struct.pack(">H", 0x2F2A) + exif + jpeg[2:]
    assert js_polyglot(Reader.from_bytes(data + b"*/\x00\x01"), "jpeg") is None
    assert js_polyglot(Reader.from_bytes(data + b"*/=alert(1)"), "jpeg") is not None


def test_bmp_header_polyglot_offset() -> None:
    data = b"BM=1;/*" + bytes(60) + b"*/;fetch('//x.invalid/')"
    assert js_polyglot(Reader.from_bytes(data), "bmp") == (69, "an assignment and a block comment")


# --- CVE-2022-44268 ---------------------------------------------------------------------------


def test_png_profile_chunk_naming_a_path_is_high() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG")
    png = out.getvalue()
    body = b"tEXtprofile\x00/etc/passwd"
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    report = inspect_bytes("a.png", png[:33] + chunk + png[33:])
    found = {f.code: (f.severity, f.payload) for f in report.findings}
    assert found["png.payload_in_metadata"] == (Severity.HIGH, "file_read")


@pytest.mark.parametrize("length", [5, 6, 7])
def test_polyglot_needs_minimum_code(length: int) -> None:
    from agent.inspect.classify.polyglot import MIN_CODE_BYTES

    assert MIN_CODE_BYTES == 6
    code = b"x=1;y=2;z()"[:length]  # "x=1;y" (5) is too short to call code, "x=1;y=" is
    data = b"GIF89a/*" + bytes(20) + b"*/" + code + b"\x00"
    assert (js_polyglot(Reader.from_bytes(data), "gif") is not None) == (length >= MIN_CODE_BYTES)


@pytest.mark.parametrize(
    "segments",
    [
        judge.MAX_LIBMAGIC_METADATA_CALLS - 1,
        judge.MAX_LIBMAGIC_METADATA_CALLS,
        judge.MAX_LIBMAGIC_METADATA_CALLS + 1,
    ],
)
def test_libmagic_budget_for_opaque_metadata(
    segments: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.inspect.classify import libmagic

    calls: list[int] = []
    real = libmagic.mime_kind

    def counting(untrusted_data: bytes) -> str | None:
        calls.append(len(untrusted_data))
        return real(untrusted_data)

    monkeypatch.setattr(libmagic, "mime_kind", counting)
    opaque = [segment(0xE5, bytes([n]) * 3 + b"\x01\x02" * 40) for n in range(segments)]
    report = inspect_bytes("a.jpg", insert_segments(photo(), *opaque))
    assert report.verdict is Verdict.CLEAN
    assert len(calls) == min(segments, judge.MAX_LIBMAGIC_METADATA_CALLS)


def test_megabytes_of_zeros_cannot_hide_a_trailer() -> None:
    padding = bytes(3 * 1024 * 1024)
    [finding] = inspect_bytes("a.jpg", photo() + padding + PE).findings
    assert (finding.code, finding.severity, finding.payload) == (
        "jpeg.trailing_data",
        Severity.HIGH,
        "pe",
    )
    assert finding.offset == len(photo()) + len(padding)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (cs.dex(), "content.executable"),
        (cs.wasm() + bytes(100), "content.executable"),
        (cs.lnk(), "content.executable"),
        (cs.chm(), "content.document"),
        (cs.ole(), "content.document"),
        (cs.RTF, "content.document"),
        (cs.cab(), "content.archive"),
        (cs.iso9660(), "content.archive"),
        (cs.PYTHON, "content.script"),
        (cs.HTA, "content.script"),
    ],
)
def test_new_kinds_under_a_picture_name(data: bytes, code: str) -> None:
    report = inspect_bytes("photo.jpg", data)
    assert {f.code: f.severity for f in report.findings} == {code: Severity.HIGH}
