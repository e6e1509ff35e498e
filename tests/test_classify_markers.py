"""Every marker rule finds its own sample (and only that), the suggestive-marker rules, the
structure checks behind MZ and PK, and the per-region cap. Samples are literals written
from the formats (PE/COFF, APPNOTE local file header) and from real dropper one-liners."""

from __future__ import annotations

import struct

import classify_samples as cs
import pytest

from agent.inspect.classify.markers import (
    Marker,
    conclusive,
    decisive_marker,
    find_markers,
    find_markers_in_bytes,
)
from agent.inspect.reader import Reader

# (sample placed after b"x ", expected [(offset, kind, suggestive)] in the whole marker list)
RULE_SAMPLES: list[tuple[bytes, list[tuple[int, str, bool]]]] = [
    # strong
    (b"<?php\n", [(2, "php", False)]),
    (b"<?php(", [(2, "php", False)]),
    (b"<?phpinfo(", [(2, "php", False)]),
    (b"<?= $x[", [(2, "php", False)]),
    (b"<?=`$cmd(", [(2, "php", False)]),
    (b"<script>", [(2, "html", False)]),
    (b"</SCRIPT ", [(2, "html", False)]),
    (b"<html>", [(2, "html", False)]),
    (b"<iframe ", [(2, "html", False)]),
    (b"__halt_compiler();", [(2, "phar", False)]),
    (cs.DOS_MESSAGE, [(2, "pe", False)]),
    (b"\x7fELF\x02\x01\x01", [(2, "elf", False)]),
    (b"Rar!\x1a\x07\x00", [(2, "rar", False)]),
    (b"Rar!\x1a\x07\x01", [(2, "rar", False)]),
    (b"7z\xbc\xaf\x27\x1c", [(2, "7z", False)]),
    (b"%PDF-1.7", [(2, "pdf", False)]),
    (b"#!/usr/bin/env", [(2, "shell", False)]),
    (b"#! /usr/local/bin/x", [(2, "shell", False)]),
    (b"powershell -nop", [(2, "powershell", False)]),
    (b"PowerShell.exe -e", [(2, "powershell", False)]),
    (b"Invoke-Expression", [(2, "powershell", False)]),
    (b"javascript:", [(2, "script", False)]),
    (b"$_GET[", [(2, "php", False)]),
    (b"$_COOKIE[", [(2, "php", False)]),
    (b"base64_decode (", [(2, "php", False)]),
    (b"gzinflate(", [(2, "php", False)]),
    (b"str_rot13(", [(2, "php", False)]),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", [(2, "ole", False)]),
    (b"MSCF\x00\x00\x00\x00", [(2, "cab", False)]),
    (b"L\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0", [(2, "lnk", False)]),
    (b"ITSF\x03\x00\x00\x00", [(2, "chm", False)]),
    (b"dex\n035\x00", [(2, "dex", False)]),
    (b"\x00asm\x01\x00\x00\x00", [(2, "wasm", False)]),
    (b"<HTA:APPLICATION", [(2, "hta", False)]),
    (b"CD001\x01", [(2, "iso", False)]),
    # telling
    (b"document.cookie", [(2, "script", False)]),
    (b"document.write", [(2, "script", False)]),
    (b"window.location", [(2, "script", False)]),
    (b"String.fromCharCode(", [(2, "script", False)]),
    (b'<!ENTITY % x SYSTEM "', [(2, "script", False)]),
    (b'system("', [(2, "php", False)]),
    (b"exec ( '", [(2, "php", False)]),
    (b"passthru(", [(2, "php", False)]),
    (b"popen($", [(2, "php", False)]),
    (b"curl -s http://", [(2, "shell", False)]),
    (b"wget ftp://", [(2, "shell", False)]),
    (b"/bin/bash ", [(2, "shell", False)]),
    (b"cmd.exe /c ", [(2, "shell", False)]),
    (b"cmd /k ", [(2, "shell", False)]),
    (b"/etc/shadow", [(2, "file_read", False)]),
    (b"/proc/self/", [(2, "file_read", False)]),
    (b"C:\\Windows\\win.ini", [(2, "file_read", False)]),
    (b"mshta.exe ", [(2, "hta", False)]),
    (b"__import__(", [(2, "python", False)]),
    (b"subprocess.check_output(", [(2, "python", False)]),
    (b"os.system(", [(2, "python", False)]),
    # a telling dynamic import is also the suggestive `import(` at the same place
    (b"import('", [(2, "script", False), (2, "script", True)]),
    # suggestive
    (b"alert(", [(2, "script", True)]),
    (b"prompt(", [(2, "script", True)]),
    (b"eval(", [(2, "script", True)]),
    (b"atob(", [(2, "script", True)]),
    (b"import(", [(2, "script", True)]),
    (b"onload =", [(2, "script", True)]),
    (b"onerror=", [(2, "script", True)]),
    (b"onmouseover=", [(2, "script", True)]),
]


def found(data: bytes, strong_only: bool = False) -> list[tuple[int, str, bool]]:
    return [(m.offset, m.kind, m.suggestive) for m in find_markers_in_bytes(data, strong_only)]


@pytest.mark.parametrize(("sample", "expected"), RULE_SAMPLES)
def test_each_rule_finds_its_sample(sample: bytes, expected: list[tuple[int, str, bool]]) -> None:
    assert found(b"x " + sample) == expected


def test_svg_handler_and_the_handler_inside_it() -> None:
    assert found(b"x <svg onload=go()>") == [(2, "html", False), (7, "script", False)]


def test_strong_only_leaves_out_telling_and_suggestive() -> None:
    assert found(b"x document.cookie alert(", strong_only=True) == []
    assert found(b"x <script>", strong_only=True) == [(2, "html", False)]


def test_marker_text_is_cut_at_forty_bytes() -> None:
    [marker] = find_markers_in_bytes(b"x invoke-expression")
    assert marker.text == b"invoke-expression"
    assert marker.rule == "invoke-expression"


def test_base_offset_is_added() -> None:
    assert [m.offset for m in find_markers_in_bytes(b"x <html>", base_offset=100)] == [102]


# --- PE behind MZ -------------------------------------------------------------------------------


def mz(lfanew: int, size: int, signature: bytes = b"PE\x00\x00") -> bytes:
    data = bytearray(b"MZ" + bytes(size - 2))
    data[0x3C:0x40] = struct.pack("<I", lfanew)
    data[lfanew : lfanew + 4] = signature
    return bytes(data[:size])


def test_mz_with_pe_header() -> None:
    assert found(b"xy" + mz(0x40, 0x44)) == [(2, "pe", False)]  # PE\0\0 are the last 4 bytes
    assert found(b"xy" + mz(0x40, 0x44, b"PE\x00\x01")) == []
    assert found(b"xy" + mz(0x3F, 0x80)) == []  # e_lfanew inside the DOS header
    assert found(b"xy" + mz(0x10000, 0x10004)) == [(2, "pe", False)]
    assert found(b"xy" + mz(0x10001, 0x10005)) == []
    assert found(b"xy" + b"MZ" + bytes(0x3C)) == []  # no room for e_lfanew
    assert found(b"xy" + b"mz" + mz(0x40, 0x80)[2:]) == []  # lower-case mz is no DOS header


def test_mz_through_a_reader() -> None:
    data = b"ab" + mz(0x40, 0x44)
    markers = find_markers(Reader.from_bytes(data), 0, len(data), True)
    assert [(m.offset, m.kind) for m in markers] == [(2, "pe")]
    truncated = data[:-1]
    assert find_markers(Reader.from_bytes(truncated), 0, len(truncated), True) == []


# --- ZIP local file header -------------------------------------------------------------------


def local_header(
    *,
    version: int = 20,
    system: int = 0,
    flags: int = 0,
    method: int = 8,
    name: bytes = b"a.txt",
    name_length: int | None = None,
    time: int = 0,
    extra: int = 0,
) -> bytes:
    """APPNOTE 4.3.7: signature, version needed, flags, method, time, date, CRC, sizes, lengths."""
    length = len(name) if name_length is None else name_length
    fields = struct.pack(
        "<BBHHHHIIIHH", version, system, flags, method, time, 0, 0, 0, 0, length, extra
    )
    return b"PK\x03\x04" + fields + name + bytes(extra)


@pytest.mark.parametrize(
    ("header", "valid"),
    [
        (local_header(), True),
        (local_header(version=90), True),
        (local_header(version=91), False),
        (local_header(system=20), True),
        (local_header(system=21), False),
        (local_header(flags=0x0808), True),
        (local_header(flags=0x0001), True),  # encrypted: still a ZIP entry
        (local_header(time=0x7FFF), True),  # the modification time follows the method
        (local_header(extra=4), True),  # the extra field length follows the name length
        (local_header(name=b"a\x80"), True),
        (local_header(flags=0x1000), False),
        (local_header(method=0), True),
        (local_header(method=99), True),
        (local_header(method=2), False),
        (local_header(method=100), False),
        (local_header(name=b""), False),
        (local_header(name=b"a"), True),
        (local_header(name=b"n" * 1024), True),
        (local_header(name=b"n" * 1025), False),
        (local_header(name=b"a\x1fb"), False),
        (local_header(name=b" ~"), True),
        (local_header(name=b"a\x7f"), False),
        (local_header(name=b"caf\xc3\xa9"), True),
        (local_header(name=b"ab", name_length=3), False),
        (local_header(name=b"")[:29], False),
    ],
)
def test_zip_local_header_is_validated(header: bytes, valid: bool) -> None:
    assert found(b"xy" + header) == ([(2, "zip", False)] if valid else [])


@pytest.mark.parametrize("method", [1, 6, 9, 12, 14, 19, 93, 95, 96, 97, 98])
def test_zip_methods_of_appnote(method: int) -> None:
    assert found(b"xy" + local_header(method=method)) == [(2, "zip", False)]


# --- suggestive markers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "kept"),
    [
        (0x2F, True),  # '/'
        (0x30, False),  # '0'
        (0x39, False),  # '9'
        (0x3A, True),  # ':'
        (0x41, False),  # 'A' (lower-cased to 'a')
        (0x5E, True),  # '^'
        (0x5F, False),  # '_'
        (0x60, True),  # '`'
        (0x61, False),  # 'a'
        (0x7A, False),  # 'z'
        (0x7B, True),  # '{'
    ],
)
def test_suggestive_marker_must_start_a_word(before: int, kept: bool) -> None:
    assert bool(found(b"x" + bytes([before]) + b"eval(")) == kept


def test_suggestive_at_the_very_start() -> None:
    assert found(b"eval(x)") == [(0, "script", True)]


@pytest.mark.parametrize(
    ("text", "suggestive"),
    [
        (b"<img alert(", False),  # inside an open tag
        (b"<b>alert(", True),  # the tag is closed: prose after it
        (b"<rdf:li alert(", True),  # namespaced: not an HTML tag
        (b'x onfocus="alert(', False),  # an event handler's value
        (b"x;alert(", False),
        (b"x=alert(", False),
        (b"x{alert(", False),
        (b"x}alert(", False),
        (b"x; \talert(", False),
        (b"/* c */alert(", False),
        (b"x,alert(", True),
        (b"a word alert(", True),
        (b"<b>x <img alert(", False),  # the last '<' opens the tag that holds it
        (b"<img a>x<br />y alert(", True),  # that tag is closed again
        (b"x;\nalert(", True),  # a line break after ';' ends the statement: prose may follow
    ],
)
def test_code_context(text: bytes, suggestive: bool) -> None:
    [(_, kind, flag)] = [m for m in found(text) if m[1] == "script"]
    assert (kind, flag) == ("script", suggestive)


@pytest.mark.parametrize(("gap", "suggestive"), [(256, False), (257, True)])
def test_code_context_looks_back_256_bytes(gap: int, suggestive: bool) -> None:
    before = b"<img " + b"x" * (gap - 6) + b" "
    assert len(before) == gap
    [marker] = find_markers_in_bytes(before + b"alert(")
    assert (marker.offset, marker.suggestive) == (gap, suggestive)


def test_conclusive_and_decisive() -> None:
    weak_a = Marker(1, "script", b"alert(", True, "a")
    weak_b = Marker(2, "script", b"eval(", True, "b")
    strong = Marker(3, "html", b"<script>", False, "s")
    assert not conclusive([weak_a])
    assert not conclusive([weak_a, weak_a])
    assert conclusive([weak_a, weak_b])
    assert conclusive([strong])
    assert decisive_marker([weak_a, strong, weak_b]) is strong
    assert decisive_marker([weak_b, weak_a]) is weak_b


def test_two_different_suggestive_markers_make_a_script() -> None:
    from agent.inspect.classify.blob import classify

    assert classify(b"\x01\x02 eval(atob(x)) \x03").kind == "script"
    assert not classify(b"\x01\x02 eval(1) eval(2) \x03").dangerous


# --- caps ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "kept"), [(63, 63), (64, 64), (65, 64)])
def test_markers_per_rule_are_capped(count: int, kept: int) -> None:
    data = b"<html> " * count
    offsets = [m.offset for m in find_markers_in_bytes(data)]
    assert offsets == [7 * i for i in range(kept)]


def test_markers_per_region_are_capped_over_rules() -> None:
    data = b"<html> " * 40 + b"<iframe " * 40
    markers = find_markers_in_bytes(data)
    assert len(markers) == 64
    assert [m.offset for m in markers] == sorted(m.offset for m in markers)
    reader_markers = find_markers(Reader.from_bytes(data), 0, len(data), False)
    assert len(reader_markers) == 64
    assert reader_markers[0].offset == 0


def test_find_markers_bounds() -> None:
    data = b"<html> ab <html> cd"
    reader = Reader.from_bytes(data)
    assert [m.offset for m in find_markers(reader, 1, len(data), False)] == [10]
    assert [m.offset for m in find_markers(reader, 0, 10, False)] == [0]
    assert [m.offset for m in find_markers(reader, -5, 100, False)] == [0, 10]


def test_pixel_pass_kinds_and_cap() -> None:
    data = b"\x01<?php echo 1;\x02<script>\x03"
    markers = find_markers(Reader.from_bytes(data), 0, len(data), True, pixel_data=True)
    assert [(m.offset, m.kind) for m in markers] == [(1, "php"), (15, "html")]
    many = b"<html> " * 65
    markers = find_markers(Reader.from_bytes(many), 0, len(many), True, pixel_data=True)
    assert len(markers) == 64


def test_zip_and_pe_at_the_very_start() -> None:
    assert found(local_header()) == [(0, "zip", False)]
    assert found(mz(0x40, 0x44)) == [(0, "pe", False)]


def test_markers_through_a_reader_honour_strong_only() -> None:
    data = b"ab document.cookie <html>"
    reader = Reader.from_bytes(data)
    assert [(m.offset, m.kind) for m in find_markers(reader, 0, len(data), False)] == [
        (3, "script"),
        (19, "html"),
    ]
    assert [(m.offset, m.kind) for m in find_markers(reader, 0, len(data), True)] == [(19, "html")]


def test_pixel_pass_text_and_end() -> None:
    data = b"\x01<?php echo 1;\x02<script>\x03"
    reader = Reader.from_bytes(data)
    markers = find_markers(reader, 0, len(data), True, pixel_data=True)
    assert [m.text for m in markers] == [b"<?php ", b"<script>"]
    assert [m.offset for m in find_markers(reader, 0, 14, True, pixel_data=True)] == [1]


def test_rules_are_built_from_their_sources() -> None:
    from agent.inspect.classify.markers import _rules

    [rule] = _rules((("pe", b"a.b\xd0"),))  # one raw byte 0xD0
    assert (rule.kind, rule.suggestive, rule.label, rule.prefix) == ("pe", False, "a.b\xd0", b"a")
    assert rule.pattern.search(b"a\nb\xd0")  # DOTALL: '.' matches a line break
    [weak] = _rules((("script", rb"eval\("),), suggestive=True)
    assert (weak.kind, weak.suggestive, weak.prefix) == ("script", True, b"eval(")


def test_find_markers_cuts_at_end_also_from_an_offset() -> None:
    data = b"xxxx<html> "
    assert find_markers(Reader.from_bytes(data), 2, 7, False) == []
    assert [m.offset for m in find_markers(Reader.from_bytes(data), 2, 11, False)] == [4]


def test_marker_in_the_window_overlap_is_reported_once() -> None:
    # searched from offset 1: the first window is [1, 1 + 4 MiB), the marker is the first
    # byte after it (inside that window's 4 KiB overlap), reported by the second window only
    window = 4 * 1024 * 1024
    data = bytes(1 + window) + b"<html> " + bytes(8000)
    markers = find_markers(Reader.from_bytes(data), 1, len(data), False)
    assert [(m.offset, m.kind) for m in markers] == [(1 + window, "html")]


@pytest.mark.parametrize(
    ("source", "prefix"),
    [
        (rb"ab\x41", b"abA"),  # a \xNN escape at the very end
        (rb"ab\sc", b"ab"),  # a class escape ends the prefix
        (rb"\bfoo", b""),
        (rb"a\.b", b"a.b"),
        (rb"abc?", b"ab"),
    ],
)
def test_literal_prefix_escapes(source: bytes, prefix: bytes) -> None:
    from agent.inspect.classify.markers import literal_prefix

    assert literal_prefix(source) == prefix


def test_word_start_at_the_first_bytes() -> None:
    assert found(b"eval(1)a") == [(0, "script", True)]  # nothing before offset 0
    assert found(b"aeval(") == []


def test_rejected_hits_do_not_stop_the_rule() -> None:
    assert found(b"MZ no header " + mz(0x40, 0x44)) == [(13, "pe", False)]
    assert found(b"aeval( eval(") == [(7, "script", True)]


def test_marker_text_is_at_most_forty_bytes() -> None:
    [marker, _] = find_markers_in_bytes(b"<svg " + b"x" * 60 + b" onload=")
    assert marker.kind == "html" and marker.text == (b"<svg " + b"x" * 60)[:40]


def test_literal_prefix_stops_at_a_truncated_escape() -> None:
    from agent.inspect.classify.markers import literal_prefix

    assert literal_prefix(rb"ab\x4") == b"ab"


def test_pixel_marker_text_is_at_most_forty_bytes() -> None:
    data = b"<svg " + b"x" * 60 + b" onload=go()>"
    [marker] = find_markers(Reader.from_bytes(data), 0, len(data), True, pixel_data=True)
    assert marker.text == data[:40]


def test_a_small_window_is_searched_through_one_prefix_index_per_rule_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a fresh cache (the module's is filled by whatever ran before): the first small value
    # builds the index, the next ones reuse it
    from agent.inspect.classify import markers

    monkeypatch.setattr(markers, "_PREFIX_INDEXES", {})
    assert [(m.offset, m.kind) for m in find_markers_in_bytes(b"\x05%PDF-1.7\n")] == [(1, "pdf")]
    [index] = markers._PREFIX_INDEXES.values()
    # `<` is the prefix of `</?script` (the `/` is optional)
    assert index.present(b"xx%pdf-1 <?php") == {b"%pdf-", b"<", b"<?php"}
    value = b"\x05x<?php system($_GET['c']); ?>"
    assert ("php", 2) in {(m.kind, m.offset) for m in find_markers_in_bytes(value)}
    [again] = markers._PREFIX_INDEXES.values()
    assert again is index
