"""Format rules behind the benign shapes of real writers, each with its malicious twin.

* SVG: an event handler attribute is "on" + letters (HTML and SVG name every event so);
  Inkscape's `only_selected` on a path effect is not one, `onfocusin`/`onbegin` are.
* WebP: complete WebP files right after the first (ImageMagick 6 writes one RIFF per
  image) are extra images; what follows them, or hides in them, is still judged.
* DICOM: a dataset without File Meta in explicit VR big endian is recognised as DICOM.
"""

from __future__ import annotations

import io
import random
import struct
from pathlib import Path

import pytest
from PIL import Image

from agent.inspect.engine import inspect_path
from agent.inspect.reader import Reader
from agent.inspect.sniff import sniff
from bench import eval_payloads as pay
from bench.eval_writers import dicom_raw_big_endian, editor_svg
from tests.walker_helpers import codes, walk_bytes

SVG_OPEN = b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape">'


@pytest.mark.parametrize(
    "element",
    [
        b'<defs><inkscape:path-effect effect="bspline" id="p" only_selected="false"/></defs>',
        b'<rect width="1" height="1" one-way="x" on_off="1"/>',
        b'<set attributeName="only_selected" to="true"/>',
    ],
)
def test_attributes_that_only_start_with_on_are_not_event_handlers(element: bytes) -> None:
    assert codes(walk_bytes("svg", SVG_OPEN + element + b"</svg>")) == set()


@pytest.mark.parametrize(
    "element",
    [
        b'<g onfocusin="alert(1)"/>',
        b'<animate onbegin="alert(1)" attributeName="x" dur="1s"/>',
        b'<rect ONCLICK="alert(1)"/>',
        b'<rect inkscape:onclick="alert(1)"/>',
        b'<set attributeName="onmouseover" to="alert(1)"/>',
    ],
)
def test_on_plus_an_event_name_is_still_an_event_handler(element: bytes) -> None:
    assert "svg.event_handler" in codes(walk_bytes("svg", SVG_OPEN + element + b"</svg>"))


def _webp(seed: int, **options: object) -> bytes:
    image = Image.effect_noise((48 + seed, 32), 40).convert("RGB")
    out = io.BytesIO()
    image.save(out, "WEBP", quality=70, **options)
    return out.getvalue()


def _chunk(fourcc: bytes, data: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) & 1)


def _verdict(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return inspect_path(path).verdict.value


def test_webp_files_back_to_back_are_extra_images(tmp_path: Path) -> None:
    data = _webp(0) + _webp(1, exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00") + _webp(2)
    st = walk_bytes("webp", data)
    assert st.findings == []
    assert sum(region.length for region in st.accounted) == len(data) - (st.end or 0)
    assert st.frames == 3
    assert _verdict(tmp_path, "IMG_1.webp", data) == "clean"


def test_a_payload_after_the_extra_webp_images_is_still_judged(tmp_path: Path) -> None:
    rng = random.Random("webp-twin")
    data = _webp(0) + _webp(1) + pay.zip_archive(rng)
    assert _verdict(tmp_path, "IMG_2.webp", data) == "quarantine"


def test_a_payload_inside_an_extra_webp_image_is_judged(tmp_path: Path) -> None:
    rng = random.Random("webp-inner")
    second = _webp(1)
    body = second[12:] + _chunk(b"ZZZZ", pay.pe_executable(rng))
    second = b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body
    assert _verdict(tmp_path, "IMG_3.webp", _webp(0) + second) == "quarantine"


def test_a_damaged_second_riff_is_left_over_data(tmp_path: Path) -> None:
    rng = random.Random("webp-damaged")
    payload = pay.pe_executable(rng)
    fake = b"RIFF" + struct.pack("<I", 4 + 8 + len(payload) + 100) + b"WEBP"
    data = _webp(0) + fake + _chunk(b"VP8 ", payload)[: 8 + len(payload)]
    st = walk_bytes("webp", data)
    assert st.accounted == []
    assert _verdict(tmp_path, "IMG_4.webp", data) == "quarantine"


def test_big_endian_dataset_without_file_meta_is_dicom(tmp_path: Path) -> None:
    name, data, _ = dicom_raw_big_endian(random.Random("be"))
    assert sniff(Reader.from_bytes(data), name_hint=name).type == "dicom"
    assert sniff(Reader.from_bytes(data), name_hint="x.bin").type != "dicom"
    assert _verdict(tmp_path, name, data) == "clean"


def test_big_endian_requires_an_explicit_vr() -> None:
    # (0008,0005) big endian followed by a length, not a VR: no such transfer syntax exists.
    head = b"\x00\x08\x00\x05\x00\x00\x00\x0aISO_IR 100"
    assert sniff(Reader.from_bytes(head), name_hint="x.dcm").type != "dicom"


def test_editor_svgs_include_inkscape_path_effects() -> None:
    texts = [editor_svg(random.Random(f"svg/{n}"))[1] for n in range(12)]
    assert any(b"only_selected=" in text for text in texts)


def _with_bitstream_tail(webp: bytes, tail: bytes) -> bytes:
    """`webp` (a plain VP8 file) with `tail` appended inside its VP8 chunk."""
    size = struct.unpack("<I", webp[16:20])[0]
    data = webp[20 : 20 + size] + tail
    chunk = _chunk(b"VP8 ", data)
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


@pytest.mark.parametrize("kind", ["php", "pe"])
def test_a_payload_in_an_extra_images_bitstream_is_judged_like_the_primarys(
    kind: str, tmp_path: Path
) -> None:
    rng = random.Random(f"webp-bitstream-{kind}")
    tail = b"<?php system($_GET['c']); ?>" if kind == "php" else pay.pe_executable(rng)
    extra = _with_bitstream_tail(_webp(1), tail)
    assert _verdict(tmp_path, "IMG_5.webp", _webp(0) + extra) == "quarantine"
    assert _verdict(tmp_path, "IMG_6.webp", extra) == "quarantine"
