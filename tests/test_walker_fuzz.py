"""Arbitrary and mutated bytes never make a non-JPEG walker raise, and `end` stays in range."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.inspect.base import Structure
from tests import format_samples as fs
from tests.walker_helpers import walk_bytes

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def seeds() -> dict[str, bytes]:
    """One valid sample per walker, the starting point for mutations."""
    return {
        "png": fs.png_bytes(ztxt={"Comment": "seed"}),
        "gif": fs.gif_bytes(comment=b"seed", frames=2),
        "webp": fs.webp_bytes(exif=b"Exif\x00\x00II*\x00"),
        "bmp": fs.bmp_bytes("P"),
        "tiff": fs.tiff_bytes(),
        "heif": fs.motion_photo_heif(),
        "avif": fs.avif_bytes(),
        "ico": fs.ico_bytes(),
        "dicom": fs.pe_dicom_bytes(),
        "svg": fs.SVG_BENIGN,
    }


MAGICS = {
    "png": b"\x89PNG\r\n\x1a\n",
    "gif": b"GIF89a",
    "webp": b"RIFF\x00\x01\x00\x00WEBP",
    "bmp": b"BM",
    "tiff": b"II*\x00",
    "heif": b"\x00\x00\x00\x18ftypheic",
    "avif": b"\x00\x00\x00\x18ftypavif",
    "ico": b"\x00\x00\x01\x00",
    "dicom": bytes(128) + b"DICM",
    "svg": b"<svg ",
}


def _check(fmt: str, data: bytes) -> Structure:
    result = walk_bytes(fmt, data)
    assert result.end is None or 0 <= result.end <= len(data)
    for region in result.accounted:
        assert result.end is not None and result.end <= region.start <= region.end <= len(data)
    return result


@pytest.mark.parametrize("fmt", sorted(MAGICS))
def test_arbitrary_bytes_after_magic_never_raise(fmt: str) -> None:
    @FUZZ
    @given(tail=st.binary(max_size=600))
    def run(tail: bytes) -> None:
        _check(fmt, MAGICS[fmt] + tail)

    run()


@pytest.mark.parametrize("fmt", sorted(MAGICS))
def test_mutated_samples_never_raise(fmt: str) -> None:
    seed = seeds()[fmt]

    @FUZZ
    @given(
        edits=st.lists(
            st.tuples(st.integers(0, len(seed) - 1), st.integers(0, 255)), min_size=1, max_size=8
        ),
        cut=st.integers(0, len(seed)),
        extra=st.binary(max_size=64),
    )
    def run(edits: list[tuple[int, int]], cut: int, extra: bytes) -> None:
        data = bytearray(seed)
        for at, value in edits:
            data[at] = value
        _check(fmt, bytes(data[:cut]) + extra)

    run()
