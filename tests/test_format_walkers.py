"""Every non-JPEG walker on generated benign/malicious pairs and on the real corpus."""

from __future__ import annotations

import pytest

from agent.model import Severity
from tests.conftest import corpus_root
from tests.format_samples import Sample, appended_pairs, metadata_pairs
from tests.walker_helpers import SUFFIX_TYPE, codes, unaccounted_after_end, walk_bytes, walk_file

APPENDED = appended_pairs()
METADATA = metadata_pairs()


def _ids(pairs: list[tuple[Sample, Sample]]) -> list[str]:
    return [benign.name for benign, _ in pairs]


@pytest.mark.parametrize(("benign", "evil"), APPENDED, ids=_ids(APPENDED))
def test_benign_image_ends_exactly_at_its_size(benign: Sample, evil: Sample) -> None:
    st = walk_bytes(benign.fmt, benign.data)
    assert st.end == len(benign.data)
    assert unaccounted_after_end(st, len(benign.data)) == 0
    assert codes(st, Severity.LOW) == set()
    assert st.width is not None and st.width > 0
    assert st.pixels is not None and st.pixels >= st.width


@pytest.mark.parametrize(("benign", "evil"), APPENDED, ids=_ids(APPENDED))
def test_appended_payload_is_left_over(benign: Sample, evil: Sample) -> None:
    st = walk_bytes(evil.fmt, evil.data)
    assert st.end == evil.end == len(benign.data)
    assert unaccounted_after_end(st, len(evil.data)) == len(evil.data) - len(benign.data)
    # The walker itself never calls a trailer benign: nothing above "low" from it.
    assert all(f.severity <= Severity.LOW for f in st.findings)
    # Same dimensions as the clean twin: the payload did not confuse the header walk.
    clean = walk_bytes(benign.fmt, benign.data)
    assert (st.width, st.height, st.frames) == (clean.width, clean.height, clean.frames)


@pytest.mark.parametrize(("benign", "evil"), METADATA, ids=_ids(METADATA))
def test_payload_in_metadata_is_inside_a_metadata_region_or_text(
    benign: Sample, evil: Sample
) -> None:
    clean = walk_bytes(benign.fmt, benign.data)
    st = walk_bytes(evil.fmt, evil.data)
    assert st.end == len(evil.data) and clean.end == len(benign.data)
    assert evil.payload == "php"
    raw_hits = [
        r for r in st.metadata if b"<?php" in evil.data[r.start : r.end]
    ]  # plain text chunks / GIF comments
    text_hits = [t for t in st.texts if b"<?php" in t[2]]  # zTXt / compressed iTXt
    assert raw_hits or text_hits
    assert not any(b"<?php" in benign.data[r.start : r.end] for r in clean.metadata)
    assert not any(b"<?php" in t[2] for t in clean.texts)


# --- the real corpus ------------------------------------------------------------------------


def _corpus(kind: str) -> list[str]:
    root = corpus_root() / kind
    return sorted(p.name for p in root.iterdir() if p.suffix.lower() in SUFFIX_TYPE)


@pytest.mark.parametrize("name", _corpus("benign"))
def test_benign_corpus_file_is_clean_and_fully_accounted(name: str) -> None:
    path = corpus_root() / "benign" / name
    st = walk_file(path)
    assert st.end == path.stat().st_size
    assert unaccounted_after_end(st, path.stat().st_size) == 0
    assert codes(st, Severity.LOW) == set(), st.findings


@pytest.mark.parametrize(
    ("name", "end"),
    [
        ("gifar-gif-jar.gif", 937_265),
        ("gifar-multilang-hh.gif", 1_414),
        ("gif-php-after-trailer.gif", 7_729),
        ("gif-dos-com-bootsector.gif", 497),
        ("gif-js-polyglot.gif", 26),
        ("bmp-jar.bmp", 104_478),
        ("angecryption-png-encrypted-trailer.png", 45_792 - 41_546),
    ],
)
def test_malicious_corpus_payload_is_left_over(name: str, end: int) -> None:
    path = corpus_root() / "malicious" / name
    st = walk_file(path)
    assert st.end == end
    assert unaccounted_after_end(st, path.stat().st_size) == path.stat().st_size - end


def test_gif_js_polyglot_header_is_high() -> None:
    st = walk_file(corpus_root() / "malicious" / "gif-js-polyglot.gif")
    assert codes(st, Severity.HIGH) == {"gif.js_polyglot_header"}


@pytest.mark.parametrize(
    "name",
    [
        "png-php-webshell-in-text.png",
        "gif-php-webshell-after-header.gif",
        "png-imagemagick-cve-2022-44268.png",
    ],
)
def test_malicious_corpus_metadata_is_exposed(name: str) -> None:
    path = corpus_root() / "malicious" / name
    data = path.read_bytes()
    st = walk_file(path)
    assert st.end == len(data)
    needle = b"/etc/passwd" if "44268" in name else b"<?php"
    assert any(needle in data[r.start : r.end] for r in st.metadata)


@pytest.mark.parametrize(
    ("name", "end", "width", "height", "frames"),
    [
        ("png-php-in-idat-resize-bypass.png", 174, 32, 32, 1),
        ("gif-php-in-image-data.gif", 7_420, 215, 84, 1),
    ],
)
def test_payload_in_image_data_files_have_correct_structure(
    name: str, end: int, width: int, height: int, frames: int
) -> None:
    st = walk_file(corpus_root() / "malicious" / name)
    assert (st.end, st.width, st.height, st.frames) == (end, width, height, frames)
    assert codes(st, Severity.LOW) == set()


def test_corpus_dimensions_and_frames() -> None:
    root = corpus_root() / "benign"
    expected = {
        "webp-animated.webp": (320, 240, 101),
        "iphone-photo.heic": (3024, 4032, 1),
        "avif-grid-800x600.avif": (800, 600, 1),
        "dicom-ct-multiframe-jpegls.dcm": (512, 512, 2),
        "gif87a.gif": (500, 375, 1),
        "bmp-photo.bmp": (176, 98, 1),
        "samsung-oneui6-motion-photo.heic": (4000, 3000, 1),
    }
    got = {n: (s.width, s.height, s.frames) for n in expected for s in [walk_file(root / n)]}
    assert got == expected
