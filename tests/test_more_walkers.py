"""Walkers for JPEG 2000, JPEG XL, PSD, netpbm, TGA, PCX and QOI (issue 11): every raster
format the engine sniffs has an end, so data appended after it is judged (OpenEXR and XCF:
tests/test_exr_xcf.py; CR3 and libmagic's other picture types: tests/test_unwalked.py).

Files come from Pillow's writers where it has one (the end is the writer's file size) and
are assembled from the specifications otherwise.
"""

from __future__ import annotations

import io
import random
import struct

import pytest
from PIL import Image

from agent.inspect import jxl, sniff
from agent.inspect.base import Structure
from agent.inspect.engine import inspect_bytes
from agent.inspect.formats import walker_for
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.model import Verdict
from bench import walker_files as ew
from tests.format_samples import zip_payload

ZIP = zip_payload()
PICTURE = Image.linear_gradient("L").resize((37, 23)).convert("RGB")


def _save(fmt: str, image: Image.Image = PICTURE, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _walk(kind: str, data: bytes) -> Structure:
    walker = walker_for(kind)
    assert walker is not None
    return walker(Reader.from_bytes(data), Limits())


WRITTEN = {
    "jp2": lambda: _save("JPEG2000"),
    "j2k": lambda: _save("JPEG2000", no_jp2=True),
    "ppm": lambda: _save("PPM"),
    "pgm": lambda: _save("PPM", PICTURE.convert("L")),
    "pbm": lambda: _save("PPM", PICTURE.convert("1")),
    "tga": lambda: _save("TGA"),
    "tga-rle": lambda: _save("TGA", compression="tga_rle"),
    "pcx": lambda: _save("PCX"),
    "pcx-palette": lambda: _save("PCX", PICTURE.convert("P")),
    "qoi": lambda: _save("QOI"),
    "psd": lambda: ew.psd_bytes(random.Random(1)),
    "psd-rle": lambda: ew.psd_bytes(random.Random(2), rle=True),
    "hdr": lambda: ew.radiance_hdr(random.Random(3), 37, 23),
    "hdr-flat": lambda: ew.radiance_hdr(random.Random(4), 7, 23),
}
TYPE = {"j2k": "jp2", "ppm": "netpbm", "pgm": "netpbm", "pbm": "netpbm", "tga-rle": "tga",
        "pcx-palette": "pcx", "psd-rle": "psd", "hdr-flat": "hdr"}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(WRITTEN))
def test_written_picture_ends_at_its_size_and_appended_zip_is_left_over(kind: str) -> None:
    data = WRITTEN[kind]()
    detected = TYPE.get(kind, kind)
    assert sniff.sniff(Reader.from_bytes(data), name_hint=f"x.{kind[:3]}").type == detected
    st = _walk(detected, data)
    assert st.end == len(data) and not st.findings
    expected = {"psd": (st.width or 0) * (st.height or 0), "hdr-flat": 7 * 23}
    assert st.pixels == expected.get(kind.removesuffix("-rle"), 37 * 23)
    report = inspect_bytes(f"x.{kind[:3]}", data + ZIP)
    assert report.verdict is Verdict.QUARANTINE
    assert any(f.code == f"{detected}.trailing_data" for f in report.findings)
    assert inspect_bytes(f"x.{kind[:3]}", data).verdict is Verdict.CLEAN


def test_jp2_codestream_box_of_size_zero_ends_at_eoc() -> None:
    data = bytearray(_save("JPEG2000"))
    at = data.index(b"jp2c") - 4
    struct.pack_into(">I", data, at, 0)  # "to the end of the file"
    st = _walk("jp2", bytes(data) + ZIP)
    assert st.end == len(data)
    assert st.end is not None and data[st.end - 2 : st.end] == b"\xff\xd9"


def test_jp2_codestream_box_bytes_after_eoc_are_unexplained() -> None:
    data = bytearray(_save("JPEG2000"))
    at = data.index(b"jp2c") - 4
    struct.pack_into(">I", data, at, len(data) - at + len(ZIP))
    st = _walk("jp2", bytes(data) + ZIP)
    assert [(r.start, r.end) for r in st.unexplained] == [(len(data), len(data) + len(ZIP))]


def test_netpbm_plain_pam_and_concatenated_images() -> None:
    plain = b"P1\n# a comment\n3 2\n0 1 0\n1 0 1\n"
    st = _walk("netpbm", plain + b"PK\x03\x04")
    assert (st.end, st.pixels) == (len(plain), 6)
    pam = b"P7\nWIDTH 2\nHEIGHT 2\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n" + bytes(16)
    assert _walk("netpbm", pam + ZIP).end == len(pam)
    two = _save("PPM") * 2
    st = _walk("netpbm", two)
    assert (st.end, st.frames) == (len(two), 2)


def test_tga_2_footer_and_extension_area_are_accounted() -> None:
    image = _save("TGA")[:-26]  # Pillow writes a 2.0 footer without areas: ours replaces it
    extension_at = len(image)
    extension = struct.pack("<H", 495) + bytes(493)
    footer = struct.pack("<II", extension_at, 0) + b"TRUEVISION-XFILE.\x00"
    data = image + extension + footer
    st = _walk("tga", data)
    assert st.end == len(data) and st.unexplained == []
    sneaky = image + ZIP + extension + footer  # stale offset: the ZIP sits before the area
    sneaky = sneaky[:-26] + struct.pack("<II", extension_at + len(ZIP), 0) + sneaky[-18:]
    st = _walk("tga", sneaky)
    assert [(r.start, r.end) for r in st.unexplained] == [(len(image), len(image) + len(ZIP))]
    assert inspect_bytes("x.tga", sneaky).verdict is Verdict.QUARANTINE


def test_qoi_ends_at_its_end_marker() -> None:
    data = _save("QOI")
    assert data.endswith(b"\x00" * 7 + b"\x01")
    assert _walk("qoi", data + ZIP).end == len(data)


def test_jxl_size_header_and_bare_codestream_are_bounded_honestly() -> None:
    # SizeHeader bits, LSB first: div8 = 1, (height / 8) - 1 = 3, ratio = 1 (1:1): 0x47
    head = b"\xff\x0a\x47" + bytes(9)
    assert jxl.codestream_size(head) == (32, 32)
    data = head + random.Random(3).randbytes(200_000) + ZIP
    st = _walk("jxl", data)
    assert st.end == len(data) and st.pixels == 32 * 32
    assert [f.code for f in st.findings] == ["jxl.unbounded_codestream"]
    assert inspect_bytes("x.jxl", data).verdict is Verdict.QUARANTINE  # ZIP end record judged
    clean = head + random.Random(3).randbytes(200_000)
    assert inspect_bytes("x.jxl", clean).verdict is Verdict.CLEAN


def test_jxl_container_boxes_end_the_file() -> None:
    codestream = b"\xff\x0a\x47" + bytes(61)
    boxes = (
        jxl.SIGNATURE
        + ew.box(b"ftyp", b"jxl \x00\x00\x00\x00jxl ")
        + ew.box(b"jxlc", codestream)
        + ew.box(b"Exif", bytes(4) + b"II*\x00")
    )
    st = _walk("jxl", boxes + ZIP)
    assert st.end == len(boxes) and st.pixels == 32 * 32
    assert [r.label for r in st.metadata] == ["JPEG XL ftyp box", "JPEG XL Exif box"]


@pytest.mark.parametrize("kind", sorted(WRITTEN))
def test_mutated_and_cut_files_never_raise(kind: str) -> None:
    data = WRITTEN[kind]()
    detected = TYPE.get(kind, kind)
    rng = random.Random(kind)
    for round_ in range(150):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        cut = bytes(mutated[: rng.randrange(1, len(mutated) + 1)]) if round_ % 2 else bytes(mutated)
        st = _walk(detected, cut)  # a walker bug would raise here
        assert st.end is None or 0 <= st.end <= len(cut)
