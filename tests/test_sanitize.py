"""Sanitized copies: the real child process decodes, this process re-encodes.

Source files are generated here with payloads planted in metadata and trailers; the
output must carry exactly the source's pixels and not one byte of any payload.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image, ImageChops, ImageStat, PngImagePlugin

from agent import osmark
from agent.sanitize import child as sanitize_child
from agent.sanitize.parent import (
    SanitizeError,
    parse_child_output,
    sanitize_file,
    sanitize_vault_item,
    sanitized_name,
    unique_destination,
)
from agent.vault.store import Vault

REPO_ROOT = Path(__file__).resolve().parent.parent

pillow_heif.register_heif_opener()

ZIP_TRAILER = b"PK\x03\x04" + b"\x14\x00" * 8 + b"evil/payload.exe" + b"MZ\x90\x00" * 16
PHP_TRAILER = b"<?php system($_GET['cmd']); ?>"
EXIF_MARKER = b"EXIF-SECRET-7f3a"
COM_MARKER = b"COMMENT-SECRET-91bd"
PNG_TEXT_MARKER = "PNGTEXT-SECRET-42c1"
PAYLOAD_MARKERS = (b"PK\x03\x04", b"payload.exe", b"<?php", EXIF_MARKER, COM_MARKER)


def _pattern(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A deterministic picture with detail in every channel (no flat areas to hide bugs)."""
    width, height = size
    image = Image.new("RGB", size)
    image.putdata(
        [
            ((x * 7 + y) % 256, (y * 5) % 256, (x * y) % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    if mode == "RGBA":
        alpha = Image.new("L", size)
        alpha.putdata([(x + y * 3) % 256 for y in range(height) for x in range(width)])
        image.putalpha(alpha)
    return image


def _jpeg_with_payloads() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = EXIF_MARKER.decode()  # ImageDescription
    buffer = io.BytesIO()
    _pattern((97, 61)).save(buffer, "JPEG", quality=90, exif=exif, comment=COM_MARKER)
    return buffer.getvalue() + ZIP_TRAILER + PHP_TRAILER


def _png_with_payloads(mode: str = "RGBA") -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", PNG_TEXT_MARKER + " <?php eval($_POST[1]); ?>")
    buffer = io.BytesIO()
    _pattern((40, 33), mode).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue() + ZIP_TRAILER


def _decoded(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.copy()


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims width x height (a pixel bomb's header)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_jpeg_copy_has_the_same_pixels_and_no_payload(tmp_path: Path) -> None:
    source_bytes = _jpeg_with_payloads()
    source = tmp_path / "photo.jpg"
    source.write_bytes(source_bytes)
    dest = tmp_path / "photo (safe copy).png"

    result = sanitize_file(source, dest)

    output = dest.read_bytes()
    assert (result.width, result.height, result.format) == (97, 61, "PNG")
    assert _decoded(output).tobytes() == _decoded(source_bytes).convert("RGB").tobytes()
    for marker in PAYLOAD_MARKERS:
        assert marker not in output, marker
    with Image.open(dest) as copy:
        assert copy.format == "PNG"
        assert "exif" not in copy.info and "icc_profile" not in copy.info
        assert not getattr(copy, "text", {})


def test_png_with_alpha_keeps_every_pixel_and_drops_text_chunks(tmp_path: Path) -> None:
    source_bytes = _png_with_payloads("RGBA")
    dest = tmp_path / "copy.png"

    result = sanitize_file(source_bytes, dest)

    output = dest.read_bytes()
    assert result.mode == "RGBA"
    assert _decoded(output).tobytes() == _decoded(source_bytes).tobytes()
    assert PNG_TEXT_MARKER.encode() not in output
    assert b"tEXt" not in output and b"<?php" not in output and b"PK\x03\x04" not in output


def test_jpeg_destination_gives_a_fresh_jpeg_without_metadata(tmp_path: Path) -> None:
    dest = tmp_path / "copy.jpg"
    result = sanitize_file(_jpeg_with_payloads(), dest)
    output = dest.read_bytes()
    assert result.format == "JPEG" and output.startswith(b"\xff\xd8")
    assert output.endswith(b"\xff\xd9")  # nothing after the end-of-image marker
    for marker in PAYLOAD_MARKERS:
        assert marker not in output, marker


def test_heic_is_decoded_through_pillow_heif(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    _pattern((32, 24)).save(buffer, "HEIF", quality=-1)
    source_bytes = buffer.getvalue()
    dest = tmp_path / "iphone.png"
    result = sanitize_file(source_bytes, dest)
    assert (result.width, result.height) == (32, 24)
    assert _decoded(dest.read_bytes()).tobytes() == _decoded(source_bytes).convert("RGB").tobytes()


def _folder_with_user_xattrs(tmp_path: Path) -> Path:
    """tmp_path when its filesystem keeps user.* attributes, else a folder on the repo's disk."""
    for folder in (tmp_path, REPO_ROOT / "test-artifacts" / f"xattr-{os.getpid()}"):
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / "probe"
        probe.write_bytes(b"")
        try:
            os.setxattr(probe, "user.photogate.probe", b"1")
            return folder
        except OSError:
            continue
        finally:
            probe.unlink()
    raise AssertionError("no filesystem here keeps user xattrs: the marker cannot be tested")


def test_copy_gets_the_untrusted_origin_marker(tmp_path: Path) -> None:
    dest = _folder_with_user_xattrs(tmp_path) / "marked.png"
    try:
        result = sanitize_file(_png_with_payloads("RGB"), dest)
        found = osmark.default_marker().read(dest)
    finally:
        dest.unlink(missing_ok=True)
    assert result.marked is True
    assert found.get(osmark.VERDICT_XATTR)


def test_decoder_crash_is_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sanitize_child.TEST_FAULT_ENV, "crash")
    dest = tmp_path / "never.png"
    with pytest.raises(SanitizeError, match="stopped unexpectedly"):
        sanitize_file(_png_with_payloads(), dest)
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no half-written temp file either


def test_decoder_hang_is_stopped_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(sanitize_child.TEST_FAULT_ENV, "hang")
    with pytest.raises(SanitizeError, match="took too long"):
        sanitize_file(_png_with_payloads(), tmp_path / "never.png", timeout=1.5)
    assert not (tmp_path / "never.png").exists()


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (12_000, 10_000),  # 120 Mpx: over the sanitizer's own cap, under Pillow's error
        (20_000, 20_000),  # 400 Mpx: Pillow's DecompressionBombError
    ],
)
def test_pixel_bomb_header_is_refused(tmp_path: Path, width: int, height: int) -> None:
    with pytest.raises(SanitizeError, match="too large"):
        sanitize_file(_png_header_only(width, height), tmp_path / "bomb.png")
    assert not (tmp_path / "bomb.png").exists()


def test_a_program_named_jpg_is_not_a_picture(tmp_path: Path) -> None:
    fake = b"MZ\x90\x00\x03" + b"\x00" * 58 + b"\x80\x00\x00\x00" + b"This program cannot be run"
    with pytest.raises(SanitizeError, match="not a picture Photogate can read"):
        sanitize_file(fake, tmp_path / "x.png")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX rlimits; Windows: the job test below")
def test_child_limits_its_own_memory_and_file_writes() -> None:
    """The child's rlimits are real: a probe process applies them and reads them back."""
    import resource

    probe = (
        "import resource, agent.platform as p, agent.sanitize.child as c;"
        "p.limit_this_process(c.LIMITS);"
        "print(resource.getrlimit(resource.RLIMIT_AS)[0],"
        " resource.getrlimit(resource.RLIMIT_FSIZE)[0])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, check=True, text=True)
    address_space, file_size = (int(v) for v in out.stdout.split())
    assert address_space == sanitize_child.ADDRESS_SPACE_BYTES
    assert file_size == 0
    assert resource.getrlimit(resource.RLIMIT_FSIZE)[0] != 0  # the parent is not limited


def test_existing_destination_is_never_overwritten(tmp_path: Path) -> None:
    dest = tmp_path / "taken.png"
    dest.write_bytes(b"keep me")
    with pytest.raises(SanitizeError, match="already there"):
        sanitize_file(_png_with_payloads(), dest)
    assert dest.read_bytes() == b"keep me"


@pytest.mark.parametrize(
    ("untrusted_output", "message"),
    [
        (b"garbage", "makes no sense"),
        (b"PGPX2 2 2 CMYK photo\n" + b"\x00" * 16, "makes no sense"),
        (b"PGPX2 0 2 RGB photo\n", "makes no sense"),
        (b"PGPX2 2 2 RGB photo\n" + b"\x00" * 11, "wrong amount"),
        (b"PGPX2 2 2 RGB photo\n" + b"\x00" * 13, "wrong amount"),
        (b"PGPX2 70000 1 L graphic\n" + b"\x00" * 70000, "out of bounds"),
        (b"PGPX2 20000 20000 L graphic\n", "too large"),
        (b"PGPX2 2 2 RGB photo \n" + b"\x00" * 12, "makes no sense"),
        (b"PGPX2 2 2 RGB movie\n" + b"\x00" * 12, "makes no sense"),
        (b"PGPX1 2 2 RGB\n" + b"\x00" * 12, "makes no sense"),
    ],
)
def test_child_answers_are_validated(untrusted_output: bytes, message: str) -> None:
    with pytest.raises(SanitizeError, match=message):
        parse_child_output(untrusted_output)


def test_exact_child_answer_is_accepted() -> None:
    picture = parse_child_output(b"PGPX2 2 1 LA graphic\n" + b"\x01\x02\x03\x04")
    assert (picture.image.size, picture.image.mode) == ((2, 1), "LA")
    assert picture.image.tobytes() == b"\x01\x02\x03\x04"
    assert picture.photographic is False
    assert parse_child_output(b"PGPX2 1 1 L photo\n\x07").photographic is True


def test_the_answer_is_checked_against_the_pixel_limit_in_force() -> None:
    answer = b"PGPX2 4 4 L graphic\n" + b"\x00" * 16
    assert parse_child_output(answer, max_pixels=16).image.size == (4, 4)
    with pytest.raises(SanitizeError, match="too large"):
        parse_child_output(answer, max_pixels=15)


def test_copy_names_drop_disguises() -> None:
    assert sanitized_name("invoice_\u202egpj.exe") == "invoice_gpj (safe copy).png"
    assert sanitized_name("scan.jpg      .exe") == "scan.jpg (safe copy).png"
    assert sanitized_name('a/b\\c:"d".jpg') == "a_b_c__d_ (safe copy).png"
    assert sanitized_name("\u200b.jpg") == "picture (safe copy).png"
    assert sanitized_name("صورة.jpg") == "صورة (safe copy).png"  # Arabic letters stay


def test_unique_destination_counts_up(tmp_path: Path) -> None:
    (tmp_path / "a (safe copy).png").write_bytes(b"")
    assert unique_destination(tmp_path, "a (safe copy).png").name == "a (safe copy) (2).png"


def test_sanitize_vault_item(tmp_path: Path) -> None:
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    source_bytes = _jpeg_with_payloads()
    original = downloads / "xray\u202egpj.exe"
    original.write_bytes(source_bytes)
    vault = Vault(tmp_path / "vault")
    item = vault.quarantine(original, [], detected_type="jpeg", policy_version="test")

    copy = sanitize_vault_item(vault, item.id, downloads)

    # A photo stays a photo: a fresh JPEG (visually lossless), beside the original.
    assert copy.parent == downloads and copy.name == "xraygpj (safe copy).jpg"
    got, want = _decoded(copy.read_bytes()), _decoded(source_bytes).convert("RGB")
    assert got.size == want.size
    # The pattern is high-frequency noise, JPEG's worst case; photos differ far less.
    assert ImageStat.Stat(ImageChops.difference(got, want)).mean == pytest.approx([0, 0, 0], abs=4)
    for marker in PAYLOAD_MARKERS:
        assert marker not in copy.read_bytes(), marker
    assert vault.get(item.id).sha256 == item.sha256  # the item stays in the vault


@pytest.mark.skipif(sys.platform != "win32", reason="Windows job objects; POSIX: rlimits above")
def test_windows_child_runs_inside_the_limiting_job() -> None:
    """start_limited puts the child in a job before it reads stdin; the child reads the job's
    limits back (QueryInformationJobObject) and finds them no looser than LIMITS."""
    from agent import platform

    probe = (
        "import sys; from agent import platform; import agent.sanitize.child as c;"
        "sys.stdin.buffer.read(); print(platform.limit_this_process(c.LIMITS))"
    )
    child = platform.start_limited(
        [sys.executable, "-c", probe], dict(os.environ), sanitize_child.LIMITS
    )
    try:
        out, err = child.communicate(b"x", timeout=60)
    finally:
        platform.finished(child)
    assert child.returncode == 0, err
    assert out.decode().strip() == "True"
