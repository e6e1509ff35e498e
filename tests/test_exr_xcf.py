"""OpenEXR and GIMP XCF walkers (issue 11: every raster format the engine sniffs has an end).

Files are assembled from the formats' specifications (bench/walker_files.py); where
ImageMagick is installed, its OpenEXR writer and its XCF reader check those files against
real implementations.
"""

from __future__ import annotations

import random
import struct
import subprocess
from pathlib import Path

import pytest

from agent.inspect import exr, sniff
from agent.inspect.base import Structure
from agent.inspect.engine import inspect_bytes
from agent.inspect.formats import walker_for
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.model import Verdict
from bench import walker_files as wf
from tests import imagemagick
from tests.format_samples import zip_payload

ZIP = zip_payload()
CONVERT = imagemagick.convert()


def _walk(kind: str, data: bytes) -> Structure:
    walker = walker_for(kind)
    assert walker is not None
    return walker(Reader.from_bytes(data), Limits())


BUILT = {
    "exr-scanlines": lambda: wf.exr_bytes(random.Random(1), size=(37, 23)),
    "exr-tiles": lambda: wf.exr_bytes(random.Random(2), tiled=True, size=(37, 23)),
    "exr-mipmaps": lambda: wf.exr_bytes(random.Random(3), tiled=True, mipmap=True, size=(37, 23)),
    "xcf-v0-rle": lambda: wf.xcf_bytes(random.Random(4), 0, 1, size=(37, 23)),
    "xcf-v3-zlib": lambda: wf.xcf_bytes(random.Random(5), 3, 2, size=(37, 23)),
    "xcf-v11-raw": lambda: wf.xcf_bytes(random.Random(6), 11, 0, size=(37, 23)),
    "xcf-v11-rle-tiles": lambda: wf.xcf_bytes(random.Random(7), 11, 1, size=(150, 70)),
}


@pytest.mark.parametrize("kind", sorted(BUILT))
def test_picture_ends_at_its_size_and_appended_zip_is_left_over(kind: str) -> None:
    data = BUILT[kind]()
    detected = kind[:3]
    assert sniff.sniff(Reader.from_bytes(data)).type == detected
    st = _walk(detected, data)
    assert st.end == len(data) and not st.findings and not st.unexplained
    assert st.pixels == (150 * 70 if kind.endswith("tiles") and detected == "xcf" else 37 * 23)
    report = inspect_bytes(f"x.{detected}", data + ZIP)
    assert report.verdict is Verdict.QUARANTINE
    assert any(f.code == f"{detected}.trailing_data" for f in report.findings)
    assert inspect_bytes(f"x.{detected}", data).verdict is Verdict.CLEAN


def test_exr_mipmap_tile_count_follows_the_level_sizes() -> None:
    # 100x70 in 64x64 tiles, levels rounded down: 100x70 (2x2), 50x35, 25x17, 12x8, 6x4,
    # 3x2, 1x1 (one tile each) = 10 tiles; rounded up: 100x70, 50x35, 25x18, 13x9, 7x5,
    # 4x3, 2x2, 1x1 = 11 tiles
    for mode, tiles in ((0x01, 10), (0x11, 11)):
        part = exr._Part({b"tiles": struct.pack("<IIB", 64, 64, mode)})
        assert exr._tile_count(part, 100, 70) == tiles
    ripmap = exr._Part({b"tiles": struct.pack("<IIB", 64, 64, 0x02)})
    # x levels 100, 50, 25, 12, 6, 3, 1 (7) by y levels 70, 35, 17, 8, 4, 2, 1 (7): 49
    # levels, of which only 100-wide x 70-high needs 2x2 tiles, 100 x (<64) and (<64) x 70
    # need two: 4 + 6 * 2 + 6 * 2 + 36 = 64
    assert exr._tile_count(ripmap, 100, 70) == 64


def test_exr_bytes_before_the_first_chunk_are_unexplained() -> None:
    clean = wf.exr_bytes(random.Random(8), size=(40, 40))
    data = wf.exr_bytes(random.Random(8), gap=ZIP, size=(40, 40))
    st = _walk("exr", data)
    # three chunks of 16 lines for 40 lines: the table of 3 offsets ends where the gap starts
    table_end = data.index(ZIP)
    assert struct.unpack_from("<Q", data, table_end - 8 * 3)[0] == table_end + len(ZIP)
    assert [(r.start, r.end) for r in st.unexplained] == [(table_end, table_end + len(ZIP))]
    assert st.end == len(data) == len(clean) + len(ZIP)
    report = inspect_bytes("x.exr", data)
    assert report.verdict is Verdict.QUARANTINE
    assert any(f.code == "exr.unexplained_data" for f in report.findings)


def test_exr_text_attributes_are_judged_as_metadata() -> None:
    data = wf.exr_bytes(random.Random(9), comments=b"<?php system($_GET['c']); ?>")
    st = _walk("exr", data)
    labels = [m.label for m in st.metadata]
    assert labels == ["EXR attribute channels (chlist)", "EXR attribute comments (string)"]
    report = inspect_bytes("render.exr", data)
    assert report.verdict is Verdict.QUARANTINE
    assert any(f.code == "exr.payload_in_metadata" for f in report.findings)


def test_exr_multipart_uses_chunk_count() -> None:
    def header(name: bytes, lines: int) -> bytes:
        box = struct.pack("<iiii", 0, 0, 3, lines - 1)
        channel = b"Y\x00" + struct.pack("<iB3xii", 1, 0, 1, 1) + b"\x00"
        return (
            wf._exr_attribute(b"channels", b"chlist", channel)
            + wf._exr_attribute(b"compression", b"compression", b"\x00")
            + wf._exr_attribute(b"dataWindow", b"box2i", box)
            + wf._exr_attribute(b"name", b"string", name)
            + wf._exr_attribute(b"type", b"string", b"scanlineimage")
            + wf._exr_attribute(b"chunkCount", b"int", struct.pack("<i", lines))
            + b"\x00"
        )

    head = b"\x76\x2f\x31\x01" + struct.pack("<I", 2 | 0x1000)
    head += header(b"left", 2) + header(b"right", 3) + b"\x00"
    chunks = [struct.pack("<iii", part, y, 8) + bytes(8) for part, y in [(0, 0), (0, 1),
              (1, 0), (1, 1), (1, 2)]]  # fmt: skip
    at = len(head) + 8 * len(chunks)
    table = b"".join(struct.pack("<Q", at + 20 * i) for i in range(len(chunks)))
    data = head + table + b"".join(chunks)
    st = _walk("exr", data)
    assert (st.end, st.frames, st.findings) == (len(data), 2, [])
    assert _walk("exr", data[:-1]).findings[0].code == "exr.truncated"


def test_exr_damage_is_a_finding() -> None:
    data = wf.exr_bytes(random.Random(10), size=(40, 40))
    assert _walk("exr", data[:-5]).findings[0].code == "exr.truncated"
    zeroed = bytearray(data)
    table_at = data.index(b"\x00", data.index(b"screenWindowWidth") + 30)  # after the header
    struct.pack_into("<Q", zeroed, table_at + 1, 0)  # an offset OpenEXR never filled in
    assert _walk("exr", bytes(zeroed)).findings[0].code == "exr.truncated"
    assert _walk("exr", b"\x76\x2f\x31\x01\x01\x00\x00\x00").findings[0].code == "exr.malformed"


@pytest.mark.skipif(
    not imagemagick.coder("EXR"), reason="no ImageMagick with OpenEXR (scripts/setup.sh --dev)"
)
@pytest.mark.parametrize("compression", ["None", "Zip", "Zips", "Piz"])
def test_exr_written_by_openexr_ends_at_its_size(compression: str, tmp_path: Path) -> None:
    out = tmp_path / "x.exr"
    argv = [str(CONVERT), "-size", "37x23", "gradient:red-blue", "-compress", compression]
    subprocess.run([*argv, str(out)], check=True, capture_output=True)
    data = out.read_bytes()
    st = _walk("exr", data)
    assert (st.end, st.pixels, st.findings, st.unexplained) == (len(data), 37 * 23, [], [])
    assert inspect_bytes("x.exr", data + ZIP).verdict is Verdict.QUARANTINE


@pytest.mark.skipif(CONVERT is None, reason="no ImageMagick (scripts/setup.sh --dev)")
def test_xcf_builder_is_read_by_imagemagick(tmp_path: Path) -> None:
    path = tmp_path / "x.xcf"
    path.write_bytes(wf.xcf_bytes(random.Random(11), 0, 1, size=(70, 66)))  # 2x2 tiles, RLE
    result = subprocess.run(
        [str(CONVERT), str(path), "-format", "%w %h", "info:"], capture_output=True, check=True
    )
    assert result.stdout.split()[:2] == [b"70", b"66"]


def test_xcf_parasites_are_metadata_and_judged() -> None:
    data = wf.xcf_bytes(random.Random(12), comment=b"powershell -enc SQBFAFgA")
    st = _walk("xcf", data)
    assert [m.label for m in st.metadata if "name" not in m.label] == ["XCF parasites"]
    assert inspect_bytes("logo.xcf", data).verdict is Verdict.QUARANTINE


def test_xcf_damage_is_a_finding() -> None:
    data = wf.xcf_bytes(random.Random(13), 0, 1, size=(37, 23))
    assert _walk("xcf", data[:-3]).findings[0].code == "xcf.truncated"
    wild = bytearray(data)
    # the one layer pointer: right after the image properties, pointing 12 bytes on
    layer_pointer_at = next(
        p for p in range(26, 400) if data[p : p + 4] == struct.pack(">I", p + 12)
    )
    struct.pack_into(">I", wild, layer_pointer_at, len(data) + 100)
    assert _walk("xcf", bytes(wild)).findings[0].code == "xcf.malformed"
    assert _walk("xcf", b"gimp xcf v0x1\x00").findings[0].code == "xcf.malformed"
    assert inspect_bytes("x.xcf", data[:-3]).verdict is not Verdict.QUARANTINE
