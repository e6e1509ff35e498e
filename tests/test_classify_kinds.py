"""Start signatures and the structure behind short magics, at their bounds. Headers are
written from the formats' specifications (PE/COFF, Mach-O loader.h, JVM spec 4.1,
RFC 1952, ECMA-119)."""

from __future__ import annotations

import gzip
import struct

import classify_samples as cs
import pytest

from agent.inspect.classify.kinds import DANGEROUS_KINDS, kind_at_start, valid_pe

PE = cs.real_pe()


def mz(lfanew: int, size: int) -> bytes:
    data = bytearray(b"MZ" + bytes(size - 2))
    data[0x3C:0x40] = struct.pack("<I", lfanew)
    data[lfanew : lfanew + 4] = b"PE\x00\x00"
    return bytes(data[:size])


@pytest.mark.parametrize(
    ("lfanew", "pe"), [(0x3F, False), (0x40, True), (0x10000, True), (0x10001, False)]
)
def test_pe_header_offset_bounds(lfanew: int, pe: bool) -> None:
    data = mz(lfanew, lfanew + 8)
    assert valid_pe(data) is pe
    assert kind_at_start(data) == ("pe" if pe else None)


def test_valid_pe_at_an_offset_and_truncated() -> None:
    assert valid_pe(b"junk" + PE, 4)
    assert not valid_pe(b"junk" + PE, 3)
    assert not valid_pe(b"MZ" + bytes(0x3A))  # 0x3C bytes: e_lfanew missing
    assert not valid_pe(mz(0x40, 0x43))  # PE\0\0 cut short
    big_endian = bytearray(mz(0x40, 0x48))
    big_endian[0x3C:0x40] = struct.pack(">I", 0x40)
    assert not valid_pe(bytes(big_endian))


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (b"\xcf\xfa\xed\xfe" + struct.pack("<I", 0x01000007), "macho"),  # x86_64
        (b"\xce\xfa\xed\xfe" + struct.pack("<I", 7), "macho"),  # i386
        (b"\xfe\xed\xfa\xce" + struct.pack(">I", 18), "macho"),  # PowerPC, big-endian
        (b"\xfe\xed\xfa\xcf" + struct.pack(">I", 0x0100000C), "macho"),  # arm64
        (b"\xcf\xfa\xed\xfe" + struct.pack(">I", 7), None),  # wrong byte order: 0x07000000
        (b"\xcf\xfa\xed\xfe" + struct.pack("<I", 2), None),  # no such CPU family
        (b"\xcf\xfa\xed\xfe" + struct.pack("<I", 0x01000011), None),  # 17: none
        (b"\xcf\xfa\xed\xfe\x07\x00\x00", None),  # CPU type cut short
    ],
)
def test_macho_cpu_type(header: bytes, kind: str | None) -> None:
    assert kind_at_start(header) == kind


def test_macho_cpu_type_is_four_bytes() -> None:
    # big-endian PowerPC, then its CPU subtype: only bytes 4-8 are the CPU type
    header = b"\xfe\xed\xfa\xce" + struct.pack(">II", 18, 3) + bytes(20)
    assert kind_at_start(header) == "macho"


@pytest.mark.parametrize("family", [1, 6, 7, 10, 11, 12, 13, 14, 15, 16, 18])
def test_macho_cpu_families(family: int) -> None:
    assert kind_at_start(b"\xce\xfa\xed\xfe" + struct.pack("<I", family)) == "macho"


@pytest.mark.parametrize(("major", "kind"), [(45, "java_class"), (80, "java_class"), (81, None)])
def test_java_class_version(major: int, kind: str | None) -> None:
    assert kind_at_start(b"\xca\xfe\xba\xbe\x00\x00" + struct.pack(">H", major) + bytes(8)) == kind


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"\x1f\x8b\x08\x1f", "gzip"),  # FTEXT FHCRC FEXTRA FNAME FCOMMENT
        (b"\x1f\x8b\x08\x20", None),  # reserved bit 5
        (b"\x1f\x8b\x08\x80", None),  # reserved bit 7
        (b"\x1f\x8b\x08", None),  # no flags byte
    ],
)
def test_gzip_flags(header: bytes, kind: str | None) -> None:
    assert kind_at_start(header) == kind


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"BZh11AY&SY", "bzip2"),
        (b"BZh01AY&SY", None),
        (b"\xfd7zXZ\x00", "xz"),
        (b"ITSF\x03\x00\x00\x00", "chm"),
        (b"ITSF\x02\x00\x00\x00", None),
        (b"dex\n039\x00", "dex"),
        (b"dex\n03a\x00", None),
        (b"\x00asm\x01\x00\x00\x00", "wasm"),
        (b"\x00asm\x02\x00\x00\x00", None),
        (b"{\\rtf1", "rtf"),
        (b"#!/bin/sh", "shell"),
        (b"#! /bin/sh", "shell"),
        (b"#!bin/sh", None),
        (b"\x00\x00\x00\x18ftypisom", "mp4"),
        (b"\x00\x00\x00\x18ftyp"[:7], None),
        (bytes(0x8001) + b"CD001", "iso"),
        (bytes(0x8801) + b"CD001", "iso"),
        (bytes(0x9001) + b"CD001", "iso"),
        (bytes(0x8002) + b"CD001", None),
        (cs.cab(), "cab"),
        (cs.ole(), "ole"),
        (cs.lnk(), "lnk"),
        (gzip.compress(b"x", mtime=0), "gzip"),
    ],
)
def test_start_signatures(data: bytes, kind: str | None) -> None:
    assert kind_at_start(data) == kind


def test_harmless_kinds_are_not_dangerous() -> None:
    for kind in ("mp4", "jpeg", "png", "text", "unknown", "zeros", "whitespace"):
        assert kind not in DANGEROUS_KINDS
    for kind in ("pe", "zip", "gzip", "pdf", "ole", "html", "python", "file_read", "iso"):
        assert kind in DANGEROUS_KINDS
