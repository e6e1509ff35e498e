"""The classifier family: payload kinds, bounded decoders and their caps, libmagic table."""

from __future__ import annotations

import base64
import binascii
import bz2
import gzip
import lzma
import random
import zlib

import classify_samples as cs
import pytest

from agent.inspect.classify import decoders, libmagic
from agent.inspect.classify.blob import classify
from agent.inspect.classify.decoders import (
    MAX_DECODE_INPUT_BYTES,
    MAX_DECODED_BYTES,
    MIN_BASE64_CHARS,
    MIN_HEX_CHARS,
    MIN_UTF16_CHARS,
)
from agent.inspect.classify.kinds import DANGEROUS_KINDS, PAYLOAD_WORDS, kind_at_start
from agent.inspect.classify.metadata import judge_metadata, png_profile_path

PE = cs.real_pe()


# --- kinds: one signature per format, from its specification ---------------------------------


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (PE, "pe"),
        (cs.elf64(), "elf"),
        (cs.macho64(), "macho"),
        (cs.java_class(), "java_class"),
        (cs.lnk(), "lnk"),
        (cs.cab(), "cab"),
        (cs.ole(), "ole"),
        (cs.iso9660(), "iso"),
        (cs.chm(), "chm"),
        (cs.dex(), "dex"),
        (cs.wasm(), "wasm"),
        (cs.RTF, "rtf"),
        (gzip.compress(b"payload", mtime=0), "gzip"),
        (bz2.compress(b"payload"), "bzip2"),
        (lzma.compress(b"payload", format=lzma.FORMAT_XZ), "xz"),
    ],
)
def test_binary_kinds_at_start(data: bytes, kind: str) -> None:
    assert kind_at_start(data) == kind
    found = classify(data)
    assert (found.kind, found.dangerous, found.offset) == (kind, True, 0)
    assert kind in DANGEROUS_KINDS and kind in PAYLOAD_WORDS


@pytest.mark.parametrize(
    ("data", "kind"),
    [(cs.HTA, "hta"), (cs.PYTHON, "python"), (cs.POWERSHELL, "powershell"), (cs.BATCH, "batch")],
)
def test_script_kinds(data: bytes, kind: str) -> None:
    found = classify(data)
    assert (found.kind, found.dangerous) == (kind, True)


@pytest.mark.parametrize(
    "data",
    [
        b"MZ" + bytes(200),  # no PE header behind MZ
        b"\xcf\xfa\xed\xfe" + b"\xff\xff\xff\x00" + bytes(20),  # no known CPU family
        b"\xca\xfe\xba\xbe\x00\x00\x01\x00" + bytes(20),  # class version 256: absurd
        b"\x1f\x8b\x08\xff" + bytes(20),  # gzip with reserved flag bits set (RFC 1952)
        b"BZh91AY&SX" + bytes(20),  # not the bzip2 block magic
    ],
)
def test_short_magics_need_their_structure(data: bytes) -> None:
    assert kind_at_start(data) is None


def test_embedded_pictures_and_prose_are_not_dangerous() -> None:
    assert classify(b"Patient sat for the photo at 10:30, all fine.\n").kind == "text"
    noise = random.Random(3).randbytes(50_000)
    found = classify(noise)
    assert (found.kind, found.dangerous) == ("unknown", False)


# --- decoders ---------------------------------------------------------------------------------


def test_base64_plain_wrapped_delimited_and_reversed() -> None:
    text = base64.b64encode(PE)
    wrapped = base64.encodebytes(PE)  # 76-column lines (RFC 2045)
    delimited = b"<<BASE64_START>>" + text + b"<<BASE64_END>>"
    reversed_ = text[::-1]
    for data, encoding in (
        (text, "base64"),
        (wrapped, "base64"),
        (b"junk\x00\x01" + delimited + b"\xff\xd9", "base64"),
        (reversed_, "reversed base64"),
    ):
        found = classify(data)
        assert (found.kind, found.dangerous, found.encoding) == ("pe", True, encoding), data[:30]


def test_hex_uuencode_and_nested_encodings() -> None:
    assert classify(binascii.hexlify(PE)).encoding == "hex"
    spaced = b" ".join(binascii.hexlify(PE[i : i + 16]) for i in range(0, len(PE), 16))
    assert classify(spaced).kind == "pe"
    lines = [binascii.b2a_uu(PE[i : i + 45]) for i in range(0, len(PE), 45)]
    uu = b"begin 644 update.exe\n" + b"".join(lines) + b"`\nend\n"
    found = classify(uu)
    assert (found.kind, found.encoding) == ("pe", "uuencode")
    nested = base64.b64encode(gzip.compress(PE, mtime=0))
    found = classify(b"data:" + nested)
    assert (found.kind, found.encoding) == ("pe", "gzip > base64")


def test_utf16_text_is_judged() -> None:
    # Big-endian text is little-endian text shifted by one byte: either name is right.
    for encoding in ("utf-16-le", "utf-16-be"):
        data = b"\x01\x01" + cs.POWERSHELL.decode().encode(encoding) + b"\x01\x01"
        found = classify(data)
        assert found.kind == "powershell" and found.encoding.startswith("utf-16")
    [view] = decoders.utf16_views(b"\xff\xff" + "Hidden text!".encode("utf-16-be"))
    assert (view.encoding, view.data) == ("utf-16be", b"Hidden text!")


@pytest.mark.parametrize(
    ("stream", "encoding"),
    [
        (zlib.compress(cs.PYTHON), "zlib"),
        (gzip.compress(cs.PYTHON, mtime=0), "gzip"),
        (bz2.compress(cs.PYTHON), "bzip2"),
        (lzma.compress(cs.PYTHON, format=lzma.FORMAT_XZ), "xz"),
    ],
)
def test_compressed_streams_inside_a_range(stream: bytes, encoding: str) -> None:
    found = classify(b"\x01\x02vendor\x00" + stream)
    assert (found.kind, found.encoding) == ("python", encoding)


@pytest.mark.parametrize("key", [0x01, 0x5A, 0xFF])
def test_single_byte_xor_of_a_program(key: int) -> None:
    encoded = bytes(b ^ key for b in PE)
    found = classify(random.Random(key).randbytes(300) + encoded)
    assert (found.kind, found.encoding, found.offset) == ("pe", f"xor 0x{key:02x}", 300)
    elf = bytes(b ^ key for b in cs.elf64())
    assert classify(b"\x00" * 5 + elf).kind == "elf"


def test_xor_key_zero_is_left_to_the_signatures() -> None:
    assert decoders.xor_views(b"xx" + PE) == []


# --- caps: limit - 1, limit, limit + 1 --------------------------------------------------------


@pytest.mark.parametrize("chars", [MIN_BASE64_CHARS - 4, MIN_BASE64_CHARS, MIN_BASE64_CHARS + 4])
def test_base64_minimum_run(chars: int) -> None:
    run = (b"QUJD" * chars)[:chars]  # "ABC" repeated
    views = [v for v in decoders.base64_views(b"!" + run + b"!") if v.encoding == "base64"]
    assert len(views) == (chars >= MIN_BASE64_CHARS)
    if views:
        assert views[0].data == b"ABC" * (chars // 4)


@pytest.mark.parametrize("digits", [MIN_HEX_CHARS - 2, MIN_HEX_CHARS, MIN_HEX_CHARS + 2])
def test_hex_minimum_run(digits: int) -> None:
    views = decoders.hex_views(b"!" + b"4d" * (digits // 2) + b"!")
    assert [len(v.data) for v in views] == ([digits // 2] if digits >= MIN_HEX_CHARS else [])


@pytest.mark.parametrize("units", [MIN_UTF16_CHARS - 1, MIN_UTF16_CHARS, MIN_UTF16_CHARS + 1])
def test_utf16_minimum_run(units: int) -> None:
    views = decoders.utf16_views(b"\xff\xfe" + "a".encode("utf-16-le") * units + b"\x01\x01")
    assert [v.data for v in views] == ([b"a" * units] if units >= MIN_UTF16_CHARS else [])


@pytest.mark.parametrize("size", [MAX_DECODED_BYTES - 1, MAX_DECODED_BYTES, MAX_DECODED_BYTES + 1])
def test_decoded_output_cap(size: int) -> None:
    body = random.Random(size).randbytes(size)
    [view] = [v for v in decoders.base64_views(base64.b64encode(body)) if v.encoding == "base64"]
    assert view.data == body[:MAX_DECODED_BYTES]
    [stream] = decoders.stream_views(b"\x00" + zlib.compress(body))
    assert stream.data == body[:MAX_DECODED_BYTES]


@pytest.mark.parametrize("shift", [-1, 0, 1])
def test_decode_input_cap(shift: int) -> None:
    """A run is seen only as far as MAX_DECODE_INPUT_BYTES reaches into the range."""
    run = b"QUJD" * (MIN_BASE64_CHARS // 4)
    start = MAX_DECODE_INPUT_BYTES - MIN_BASE64_CHARS + shift
    views = decoders.base64_views(b"!" * start + run + b"!")
    assert len([v for v in views if v.encoding == "base64"]) == (shift <= 0)


# --- libmagic: MIME types through the explicit table ------------------------------------------


def test_libmagic_mime_table() -> None:
    script = b"#!/usr/bin/env python3\nprint('hello from a script')\n"
    assert libmagic.mime_kind(script) == "python"
    assert libmagic.mime_kind(random.Random(1).randbytes(4096)) is None  # octet-stream
    short = script[: libmagic.MIN_MAGIC_BYTES - 1]
    assert libmagic.mime_kind(short) is None
    assert all(kind in DANGEROUS_KINDS for kind in libmagic.MIME_KINDS.values())


# --- metadata values --------------------------------------------------------------------------


def test_metadata_values() -> None:
    xp_comment = cs.POWERSHELL.decode().encode("utf-16-le") + b"\x00\x00"
    hit = judge_metadata(xp_comment)
    assert hit is not None and (hit.kind, hit.encoding) == ("powershell", "utf-16le")
    hit = judge_metadata(b"ASCII\x00\x00\x00" + cs.BATCH)
    assert hit is not None and hit.kind == "batch"
    assert judge_metadata(b"Post-op wound eval(day 3), healing well.") is None
    assert judge_metadata(b"UNICODE\x00" + "Dr. Evans, left knee".encode("utf-16-le")) is None


@pytest.mark.parametrize(
    ("chunk_type", "value", "found"),
    [
        (b"tEXt", b"/etc/passwd", True),
        (b"tEXt", b"C:\\Users\\frontdesk\\Documents\\secret.txt", True),
        (b"zTXt", b"\x00" + zlib.compress(b"/home/reception/.ssh/id_rsa"), True),
        (b"iTXt", b"\x00\x00\x00\x00/proc/self/environ", True),
        (b"tEXt", b"sRGB IEC61966-2.1", False),
    ],
)
def test_png_profile_naming_a_path(chunk_type: bytes, value: bytes, found: bool) -> None:
    data = b"profile\x00" + value
    chunk = len(data).to_bytes(4, "big") + chunk_type + data
    chunk += zlib.crc32(chunk[4:]).to_bytes(4, "big")
    assert (png_profile_path(chunk) is not None) == found


@pytest.mark.parametrize("size", [15, 16, 17])
def test_metadata_value_minimum(size: int) -> None:
    from agent.inspect.classify.metadata import MIN_JUDGED_VALUE_BYTES

    assert MIN_JUDGED_VALUE_BYTES == 16
    value = b"@echo off".ljust(size, b" ")
    hit = judge_metadata(value)
    assert (hit is not None and hit.kind == "batch") == (size >= MIN_JUDGED_VALUE_BYTES)


@pytest.mark.parametrize(
    "runs", [decoders.MAX_VIEWS - 1, decoders.MAX_VIEWS, decoders.MAX_VIEWS + 1]
)
def test_views_per_range_cap(runs: int) -> None:
    data = b"!".join(b"4d" * (MIN_HEX_CHARS // 2) for _ in range(runs))
    assert len(decoders.hex_views(data)) == min(runs, decoders.MAX_VIEWS)


@pytest.mark.parametrize("skip", [decoders.REALIGN_SKIP_BYTES - 1, decoders.REALIGN_SKIP_BYTES])
def test_shifted_base64_start(skip: int) -> None:
    """One stray letter before the run; the program starts `skip` decoded bytes in."""
    run = b"Z" + base64.b64encode(bytes(skip) + PE)
    found = [v for v in decoders.base64_views(b"\x00" + run) if v.offset == 2]
    assert bool(found) == (skip < decoders.REALIGN_SKIP_BYTES)


def test_dynamic_import_is_a_marker() -> None:
    from agent.inspect.classify.markers import conclusive, find_markers_in_bytes

    [lone] = find_markers_in_bytes(b"see import(s) list")
    assert lone.suggestive and not conclusive([lone])
    assert conclusive(find_markers_in_bytes(b'x import("//x.invalid/a.js")'))  # telling
    assert conclusive(find_markers_in_bytes(b"*/;import(u)"))  # code context


@pytest.mark.parametrize(
    ("source", "prefix"),
    [
        (rb"</?script[\s>/]", b"<"),
        (rb"ab?c", b"a"),
        (rb"\x7felf[\x01\x02]", b"\x7felf"),
        (rb"\$_(?:get|post)\[", b"$_"),
        (rb"\{\\rtf1\\", b"{\\rtf1\\"),
        (rb"system\s{0,8}\(", b"system"),
        (rb"[\x00-\x03]cd001", b""),
    ],
)
def test_literal_prefix_of_a_marker_rule(source: bytes, prefix: bytes) -> None:
    from agent.inspect.classify.markers import literal_prefix

    assert literal_prefix(source) == prefix


@pytest.mark.parametrize(
    "size",
    [
        decoders.MIN_XOR_RANGE_BYTES - 1,
        decoders.MIN_XOR_RANGE_BYTES,
        decoders.MIN_XOR_RANGE_BYTES + 1,
    ],
)
def test_xor_minimum_range(size: int) -> None:
    encoded = bytes(b ^ 0x21 for b in PE[:size])
    assert len(decoders.xor_views(encoded)) == (size >= decoders.MIN_XOR_RANGE_BYTES)


def test_decode_depth_cap() -> None:
    from agent.inspect.classify.blob import MAX_DECODE_DEPTH

    assert MAX_DECODE_DEPTH == 2
    once, twice = base64.b64encode(PE), base64.b64encode(base64.b64encode(PE))
    thrice = base64.b64encode(twice)
    assert (classify(once).kind, classify(once).encoding) == ("pe", "base64")
    assert (classify(twice).kind, classify(twice).encoding) == ("pe", "base64 > base64")
    assert not classify(thrice).dangerous  # one level beyond the cap is not unpacked


@pytest.mark.parametrize("length", [15, 16, 17])
def test_script_in_a_text_run_between_binary_records(length: int) -> None:
    from agent.inspect.classify.blob import MIN_TEXT_RUN_BYTES

    assert MIN_TEXT_RUN_BYTES == 16
    data = b"\x01\x02" + b"iex($p)".ljust(length) + b"\x02\x01"
    found = classify(data)
    assert (found.kind == "powershell") == (length >= MIN_TEXT_RUN_BYTES)


@pytest.mark.parametrize(
    "decoys",
    [
        decoders.MAX_STREAM_CANDIDATES - 2,
        decoders.MAX_STREAM_CANDIDATES - 1,
        decoders.MAX_STREAM_CANDIDATES,
    ],
)
def test_stream_candidates_cap(decoys: int) -> None:
    """Headers that are no stream use up candidates; the real one is tried while any remain."""
    data = b"\x78\x9c!!" * decoys + zlib.compress(cs.PYTHON)
    views = decoders.stream_views(data)
    assert bool(views) == (decoys < decoders.MAX_STREAM_CANDIDATES)


def test_compressed_values_are_judged_by_their_content() -> None:
    benign = gzip.compress(b"<settings><exposure>1/125</exposure></settings>" * 20, mtime=0)
    assert judge_metadata(b"\x00\x01VNDR" + benign, opaque=True) is None
    assert judge_metadata(base64.b64encode(benign)) is None
    assert not classify(b"pref=" + base64.b64encode(benign)).dangerous
    evil = gzip.compress(cs.PYTHON, mtime=0)
    hit = judge_metadata(b"\x00\x01VNDR" + evil, opaque=True)
    assert hit is not None and hit.kind == "python"
    assert classify(benign).kind == "gzip"  # after a picture's end, an archive is a payload


def test_nested_views_share_one_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.inspect.classify import blob

    judged: list[int] = []
    real = blob._plain_kind

    def counting(data: bytes) -> tuple[str | None, int]:
        judged.append(len(data))
        return real(data)

    # 16 streams, each inflating to 16 streams that each inflate to 256 KiB of zeros:
    # 64 MiB of views without the shared budget
    inner = b"".join(zlib.compress(bytes(300_000)) for _ in range(16))
    outer = zlib.compress(inner + bytes(MAX_DECODED_BYTES)) * 16
    monkeypatch.setattr(blob, "_plain_kind", counting)
    assert not blob.decoded_payload(outer)
    # every judged view was paid for before it was judged: at most one view over the budget
    assert sum(judged) <= blob.MAX_DECODED_TOTAL_BYTES + MAX_DECODED_BYTES
    assert sum(judged) >= blob.MAX_DECODED_TOTAL_BYTES  # the budget, not the input, stopped it
