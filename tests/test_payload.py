"""Payload classification and marker search: real payloads found, random data quiet."""

from __future__ import annotations

import random

import pytest
from jpeg_samples import HTML, PHP, pe_executable, photo, zip_archive

from agent.inspect import payload
from agent.inspect.limits import WINDOW_BYTES
from agent.inspect.payload import classify, find_markers, find_markers_in_bytes
from agent.inspect.reader import Reader

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
