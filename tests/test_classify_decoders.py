"""The bounded decoders' views: offsets, encodings, caps at limit-1/limit/limit+1 and
alignment. Inputs are encoded by the stdlib (base64, binascii, zlib, bz2, lzma) from known
payloads; programs are the PE/ELF headers of classify_samples."""

from __future__ import annotations

import base64
import binascii
import bz2
import gzip
import lzma
import struct
import zlib

import classify_samples as cs
import pytest

from agent.inspect.classify import decoders
from agent.inspect.classify.decoders import View

PE = cs.real_pe()


def mz(lfanew: int, size: int) -> bytes:
    data = bytearray(b"MZ" + bytes(size - 2))
    data[0x3C:0x40] = struct.pack("<I", lfanew)
    data[lfanew : lfanew + 4] = b"PE\x00\x00"
    return bytes(data[:size])


# --- decoders: what each view holds and where it starts ----------------------------------------

PAYLOAD = bytes(range(36))  # 36 bytes: exactly 48 base64 characters, no padding


def test_base64_view_offset_and_data() -> None:
    text = base64.b64encode(PAYLOAD)
    views = decoders.base64_views(b"!!!" + text + b"!")
    assert views[0] == View("base64", 3, PAYLOAD)


@pytest.mark.parametrize(
    ("tail", "extra"),
    [(b"Q", b""), (b"Q=", b""), (b"QQ", b"A"), (b"QQ=", b"A"), (b"QUI", b"AB"), (b"QUI=", b"AB")],
)
def test_base64_ragged_tail(tail: bytes, extra: bytes) -> None:
    text = base64.b64encode(PAYLOAD) + tail
    [view] = [v for v in decoders.base64_views(b"!" + text + b"!") if v.encoding == "base64"]
    assert view.data == PAYLOAD + extra


def test_base64_wrapped_lines() -> None:
    body = bytes(range(200))
    wrapped = base64.encodebytes(body)  # RFC 2045: 76-character lines
    [view] = [v for v in decoders.base64_views(b"!" + wrapped) if v.encoding == "base64"]
    assert (view.offset, view.data) == (1, body)


def test_reversed_base64_view() -> None:
    text = base64.b64encode(PE)[::-1]
    views = decoders.base64_views(b"!" + text + b"!")
    reversed_ = [v for v in views if v.encoding == "reversed base64"]
    # 664 bytes leave "==" padding, which starts the reversed text: the run starts after it
    assert reversed_ and reversed_[0].offset == 3 and reversed_[0].data == PE


@pytest.mark.parametrize("shift", [1, 2, 3])
def test_shifted_base64_is_realigned(shift: int) -> None:
    run = b"Ab9"[:shift] + base64.b64encode(PE)
    views = decoders.base64_views(b"!" + run + b"!")
    shifted = [v for v in views if v.encoding == "base64" and v.offset == 1 + shift]
    assert shifted and shifted[0].data == PE


def test_realignment_accepts_stray_bytes_before_the_signature() -> None:
    # 15 stray decoded bytes, then the program: within REALIGN_SKIP_BYTES (16); 16 are not
    for stray, kept in ((15, True), (16, False)):
        run = b"Q" + base64.b64encode(b"\x01" * stray + PE)
        views = decoders.base64_views(b"!" + run + b"!")
        assert any(v.offset == 2 for v in views) == kept, stray


def test_hex_view_offset_and_odd_digit() -> None:
    digits = binascii.hexlify(PAYLOAD)  # 72 digits
    assert decoders.hex_views(b"!!" + digits + b"a!") == [View("hex", 2, PAYLOAD)]
    spaced = b" ".join(digits[i : i + 2] for i in range(0, len(digits), 2))
    assert decoders.hex_views(b"!" + spaced) == [View("hex", 1, PAYLOAD)]
    assert decoders.hex_views(b"!" * 100) == []


def test_uuencode_view() -> None:
    lines = b"".join(binascii.b2a_uu(PE[i : i + 45]) for i in range(0, len(PE), 45))
    data = b"xx\nbegin 644 a.exe\n" + lines + b"`\nend\n"
    assert decoders.uuencode_views(data) == [View("uuencode", 3, PE)]
    assert decoders.uuencode_views(b"no uu here" * 10) == []
    broken = b"begin 644 a.exe\n" + b"\x7f\x7f\x7f\n"
    assert decoders.uuencode_views(broken) == []


def test_utf16_views_le_and_be() -> None:
    le = "powershell -enc".encode("utf-16-le")
    assert decoders.utf16_views(b"\xff\xfe" + le + b"\x01\x01") == [
        View("utf-16le", 2, b"powershell -enc")
    ]
    # 12 big-endian units: read little-endian from one byte on they are 11, below the minimum
    be = "powershell-e".encode("utf-16-be")
    assert decoders.utf16_views(b"\x01\x01" + be + b"\x01\x01") == [
        View("utf-16be", 2, b"powershell-e")
    ]
    # 13 units: the little-endian reading one byte on covers it, the same text is not repeated
    longer = "powershell-en".encode("utf-16-be")
    assert decoders.utf16_views(b"\x01\x01" + longer + b"\x01\x01") == [
        View("utf-16le", 3, b"powershell-e")
    ]
    assert decoders.utf16_views(b"p\x01" * 40) == []


@pytest.mark.parametrize(
    ("stream", "kind"),
    [
        (zlib.compress(b"inside a zlib stream"), "zlib"),
        (gzip.compress(b"inside a zlib stream", mtime=0), "gzip"),
        (bz2.compress(b"inside a zlib stream"), "bzip2"),
        (lzma.compress(b"inside a zlib stream", format=lzma.FORMAT_XZ), "xz"),
    ],
)
def test_stream_view_offset(stream: bytes, kind: str) -> None:
    views = decoders.stream_views(b"\x01\x02\x03" + stream)
    assert View(kind, 3, b"inside a zlib stream") in views
    assert decoders.stream_views(stream, skip_start=True) == [
        v for v in decoders.stream_views(stream) if v.offset != 0
    ]
    assert all(v.offset != 0 for v in decoders.stream_views(stream, skip_start=True))
    assert any(v.offset == 0 for v in decoders.stream_views(stream))


def test_inflate_rejects_garbage() -> None:
    for kind in ("zlib", "gzip", "bzip2", "xz"):
        assert decoders.inflate(kind, b"\x00\x01garbage") == b""


def test_stream_views_per_range_cap() -> None:
    data = b"".join(zlib.compress(b"stream %d" % i) for i in range(20))
    views = decoders.stream_views(data)
    assert len(views) == decoders.MAX_VIEWS == 16
    assert views[0] == View("zlib", 0, b"stream 0")


@pytest.mark.parametrize(("runs", "kept"), [(7, 14), (8, 16), (9, 16)])
def test_base64_views_cap(runs: int, kept: int) -> None:
    run = base64.b64encode(PAYLOAD)  # each run: a forward and a reversed view
    views = decoders.base64_views(b"!".join([run] * runs))
    assert len(views) == kept
    assert views[-1].offset == 49 * (kept // 2 - 1)


@pytest.mark.parametrize("runs", [15, 16, 17])
def test_hex_views_cap(runs: int) -> None:
    run = binascii.hexlify(PAYLOAD)
    views = decoders.hex_views(b"!".join([run] * runs))
    assert len(views) == min(runs, 16)


def test_xor_view_key_offset_and_length() -> None:
    big = cs.real_pe(body=8000)
    encoded = bytes(b ^ 0x5A for b in big)
    [view] = decoders.xor_views(b"\x01" * 10 + encoded)
    assert (view.encoding, view.offset) == ("xor 0x5a", 10)
    assert view.data == big[:4096]


def test_xor_view_of_a_program_found_by_its_stub_message() -> None:
    # a DOS header other than the linkers' (e_cblp 0x50): found by the message at 0x4E
    odd = bytearray(PE)
    odd[2] = 0x50
    encoded = bytes(b ^ 0x21 for b in odd)
    [view] = decoders.xor_views(b"\x01" * 7 + encoded)
    assert (view.encoding, view.offset, view.data[:2]) == ("xor 0x21", 7, b"MZ")


def test_xor_of_a_stub_message_without_mz_is_no_program() -> None:
    text = (b"\x00" * 0x4E + cs.DOS_MESSAGE).ljust(200, b"\x00")
    encoded = bytes(b ^ 0x33 for b in text)
    assert decoders.xor_views(encoded) == []
    # the message too close to the start for an MZ header before it
    assert decoders.xor_views(bytes(b ^ 0x33 for b in cs.DOS_MESSAGE.ljust(100, b"\x00"))) == []


@pytest.mark.parametrize("header", [cs.elf64(), b"\x7fELF\x01\x01\x01" + bytes(60)])
def test_xor_of_elf(header: bytes) -> None:
    [view] = decoders.xor_views(b"\x01\x02" + bytes(b ^ 0x77 for b in header))
    assert (view.encoding, view.offset, view.data[:4]) == ("xor 0x77", 2, b"\x7fELF")


# --- every decoder reads at most MAX_DECODE_INPUT_BYTES (1 MiB) of a range ----------------------

MIB = 1024 * 1024


def test_runs_at_offset_zero_are_seen() -> None:
    digits = binascii.hexlify(PAYLOAD)
    assert decoders.hex_views(digits)[0].offset == 0
    assert decoders.base64_views(base64.b64encode(PAYLOAD))[0].offset == 0
    text = "powershell -enc".encode("utf-16-le")
    assert decoders.utf16_views(text)[0] == View("utf-16le", 0, b"powershell -enc")
    begin = b"begin 644 a\n" + binascii.b2a_uu(PAYLOAD) + b"`\nend\n"
    assert decoders.uuencode_views(begin) == [View("uuencode", 0, PAYLOAD)]


@pytest.mark.parametrize(("shift", "seen"), [(0, True), (1, False)])
def test_hex_input_cap(shift: int, seen: bool) -> None:
    start = MIB - 64 + shift  # 64 digits are the minimum run
    data = b"!" * start + b"4d" * 32 + b"!"
    assert bool(decoders.hex_views(data)) is seen


@pytest.mark.parametrize(("shift", "seen"), [(0, True), (1, False)])
def test_utf16_input_cap(shift: int, seen: bool) -> None:
    start = MIB - 24 + shift  # 12 units of 2 bytes are the minimum run
    data = b"!" * start + "abcdefghijkl".encode("utf-16-le") + b"!"
    assert [v.data for v in decoders.utf16_views(data)] == ([b"abcdefghijkl"] if seen else [])


@pytest.mark.parametrize(("start", "seen"), [(MIB - 200, True), (MIB, False)])
def test_uuencode_input_cap(start: int, seen: bool) -> None:
    body = b"begin 644 a\n" + binascii.b2a_uu(b"hello") + b"`\nend\n"
    data = b"!" * start + body
    assert [v.data for v in decoders.uuencode_views(data)] == ([b"hello"] if seen else [])


@pytest.mark.parametrize(("at_end", "seen"), [(True, True), (False, False)])
def test_stream_input_cap(at_end: bool, seen: bool) -> None:
    stream = zlib.compress(b"hello hello")
    # ending exactly at 1 MiB, or starting there (a stream cut short still inflates in part)
    data = b"!" * (MIB - len(stream) if at_end else MIB) + stream
    views = decoders.stream_views(data)
    assert [v.data for v in views] == ([b"hello hello"] if seen else [])


@pytest.mark.parametrize(("shift", "seen"), [(0, True), (1, False)])
def test_xor_input_cap(shift: int, seen: bool) -> None:
    # the first needle is 16 bytes: its neighbour differences need all 16 inside the window
    data = b"\x01" * (MIB - 16 + shift) + bytes(b ^ 0x21 for b in PE)
    assert bool(decoders.xor_views(data)) is seen


@pytest.mark.parametrize(("lines", "kept"), [(8191, 8191), (8192, 8192), (8193, 8192)])
def test_uuencode_line_cap(lines: int, kept: int) -> None:
    line = binascii.b2a_uu(b"A")  # one byte per line
    data = b"begin 644 a\n" + line * lines + b"`\nend\n"
    [view] = decoders.uuencode_views(data)
    assert view.data == b"A" * kept


@pytest.mark.parametrize(("lfanew", "seen"), [(764, True), (765, False)])
def test_realignment_probe_is_768_bytes(lfanew: int, seen: bool) -> None:
    """The shifted start is tried on its first 1024 characters (768 bytes): a PE header
    whose PE\\0\\0 ends at byte 768 is recognised there, one byte further it is not."""
    program = mz(lfanew, lfanew + 400)
    run = b"Q" + base64.b64encode(program)
    views = decoders.base64_views(b"!" + run + b"!")
    assert any(v.offset == 2 and v.data == program for v in views) is seen


def test_neighbour_differences() -> None:
    from agent.inspect.classify.decoders import _neighbour_xor

    assert _neighbour_xor(b"") == b""
    assert _neighbour_xor(b"\x01") == b""
    assert _neighbour_xor(b"\x01\x03") == b"\x02"
    assert _neighbour_xor(b"\x01\x03\x03\xff") == b"\x02\x00\xfc"


def test_hex_minimum_without_delimiters_and_output_cap() -> None:
    assert decoders.hex_views(b"4d" * 32) == [View("hex", 0, b"M" * 32)]
    cap = 256 * 1024
    [view] = decoders.hex_views(b"4d" * (cap + 1))
    assert view.data == b"M" * cap


@pytest.mark.parametrize("kind", ["bzip2", "xz"])
def test_inflate_output_cap(kind: str) -> None:
    body = bytes(300_000)
    stream = bz2.compress(body) if kind == "bzip2" else lzma.compress(body, format=lzma.FORMAT_XZ)
    assert decoders.inflate(kind, stream) == bytes(256 * 1024)


BE12 = "powershell-e".encode("utf-16-be")  # 12 units: no little-endian run one byte on


def test_utf16_exact_minimum_and_be_at_offset_zero() -> None:
    assert decoders.utf16_views("abcdefghijkl".encode("utf-16-le")) == [
        View("utf-16le", 0, b"abcdefghijkl")
    ]
    assert decoders.utf16_views(BE12 + b"!!") == [View("utf-16be", 0, b"powershell-e")]


def test_utf16_be_after_a_repeated_one() -> None:
    le = "powershell -enc".encode("utf-16-le")
    data = b"\x01" + le + b"\x01\x01" + BE12 + b"!"
    assert decoders.utf16_views(data) == [
        View("utf-16le", 1, b"powershell -enc"),
        View("utf-16be", 1 + len(le) + 2, b"powershell-e"),
    ]


@pytest.mark.parametrize(("shift", "seen"), [(0, True), (1, False)])
def test_utf16_be_input_cap(shift: int, seen: bool) -> None:
    start = MIB - len(BE12) + shift
    data = b"\x01" * start + BE12 + b"\x01"  # \x01 is no text: no little-endian unit
    expected = [View("utf-16be", start, b"powershell-e")] if seen else []
    assert decoders.utf16_views(data) == expected


@pytest.mark.parametrize("order", ["le", "be"])
def test_utf16_views_cap(order: str) -> None:
    run = "abcdefghijkl".encode("utf-16-le") if order == "le" else BE12
    views = decoders.utf16_views(b"\x01\x01".join([run] * 17))
    assert len(views) == 16


def test_uuencode_output_and_views_cap() -> None:
    big = bytes(range(256)) * 1100  # 281,600 bytes: beyond the 256 KiB cap
    lines = b"".join(binascii.b2a_uu(big[i : i + 45]) for i in range(0, len(big), 45))
    [view] = decoders.uuencode_views(b"begin 644 a\n" + lines + b"`\nend\n")
    assert view.data == big[: 256 * 1024]
    body = b"begin 644 a\n" + binascii.b2a_uu(b"hello") + b"`\nend\n"
    assert len(decoders.uuencode_views(body * 17)) == 16


def test_xor_other_needles_after_a_plain_header() -> None:
    elf = bytes(b ^ 0x77 for b in cs.elf64())
    # a plain PE (key 0: the signatures' job) does not stop the search for a XOR-ed ELF
    [view] = decoders.xor_views(PE + elf)
    assert (view.encoding, view.offset) == ("xor 0x77", len(PE))
    # neither does a XOR-ed stub message too close to the start, or one without MZ before it
    near = bytes(b ^ 0x33 for b in cs.DOS_MESSAGE.ljust(100, b"\x00"))
    [view] = decoders.xor_views(near + elf)
    assert (view.encoding, view.offset) == ("xor 0x77", 100)
    no_mz = bytes(b ^ 0x33 for b in (b"\x00" * 0x4E + cs.DOS_MESSAGE).ljust(200, b"\x00"))
    [view] = decoders.xor_views(no_mz + elf)
    assert (view.encoding, view.offset) == ("xor 0x77", 200)


def test_xor_first_program_wins() -> None:
    first = bytes(b ^ 0x11 for b in PE)
    second = bytes(b ^ 0x22 for b in PE)
    [view] = decoders.xor_views(b"\x01" * 3 + first + second)
    assert (view.encoding, view.offset) == ("xor 0x11", 3)


def test_reversed_base64_ending_in_x() -> None:
    payload = b"_" + bytes(range(35))  # 0x5F first: its base64 starts with "X"
    text = base64.b64encode(payload)
    assert text.startswith(b"X")
    views = decoders.base64_views(b"!" + text[::-1] + b"!")
    assert View("reversed base64", 1, payload) in views


def test_stream_views_skip_only_the_stream_at_the_start() -> None:
    first, second = zlib.compress(b"first stream"), zlib.compress(b"second stream")
    assert decoders.stream_views(first + second, skip_start=True) == [
        View("zlib", len(first), b"second stream")
    ]


def test_stream_views_when_every_first_byte_is_present() -> None:
    data = b"BZh!\xfd7zXZ!\x1f\x8b!" + zlib.compress(b"inside")
    assert View("zlib", 13, b"inside") in decoders.stream_views(data)


def test_base64_ending_in_x() -> None:
    payload = bytes(35) + b"\x17"  # last six bits 23: the text ends in "X"
    text = base64.b64encode(payload)
    assert text.endswith(b"X")
    assert View("base64", 1, payload) in decoders.base64_views(b"!" + text + b"!")


# --- URL-safe base64 (RFC 4648 section 5: `-` for `+`, `_` for `/`) ------------------------------

DASHED = bytes(range(33)) + b"\xfb\xef\xbe"  # 48 characters ending in "----" (no `_`)
UNDERSCORED = bytes(range(33)) + b"\xff\xff\xff"  # 48 characters ending in "____" (no `-`)


def test_url_safe_run_filling_the_whole_range_is_decoded() -> None:
    text = b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g----"
    assert text == base64.urlsafe_b64encode(DASHED)
    # starting at offset 0 and running to the range's end, with `-` as its only RFC 4648
    # section 5 letter: every byte of it decoded, `-` as 62
    assert decoders._urlsafe_views(text, 4) == [View("url-safe base64", 0, DASHED)]
    assert View("url-safe base64", 0, DASHED) in decoders.base64_views(text)


def test_url_safe_runs_in_order_up_to_the_room_left() -> None:
    run = base64.urlsafe_b64encode(UNDERSCORED)
    assert run.endswith(b"____") and b"-" not in run
    data = b".".join([run] * 3)  # runs at 0, 49 and 98
    views = decoders._urlsafe_views(data, 3)
    assert [(v.offset, v.data) for v in views] == [
        (0, UNDERSCORED),
        (49, UNDERSCORED),
        (98, UNDERSCORED),
    ]
    assert [v.offset for v in decoders._urlsafe_views(data, 2)] == [0, 49]


def test_url_safe_views_share_the_per_range_cap_with_the_standard_ones() -> None:
    standard = base64.b64encode(PAYLOAD)  # a forward and a reversed view each
    url_safe = base64.urlsafe_b64encode(UNDERSCORED)
    data = b"!".join([standard] * 7) + b"!" + b".".join([url_safe] * 3)
    views = decoders.base64_views(data)
    assert len(views) == decoders.MAX_VIEWS == 16
    assert [v.encoding for v in views[14:]] == ["url-safe base64"] * 2


# --- runs beyond the first MiB are not decoded, even when one before it is -----------------------


def test_base64_runs_past_the_input_cap_are_left_out() -> None:
    run = base64.b64encode(PAYLOAD)
    data = b"!" + run + b"!" * MIB + run + b"!"
    assert [v.offset for v in decoders.base64_views(data) if v.encoding == "base64"] == [1]


def test_hex_runs_past_the_input_cap_are_left_out() -> None:
    run = binascii.hexlify(PAYLOAD)
    data = b"!" + run + b"!" * MIB + run + b"!"
    assert decoders.hex_views(data) == [View("hex", 1, PAYLOAD)]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_runs_past_the_input_cap_are_left_out(codec: str) -> None:
    run = "abcdefghijkl".encode(codec)
    data = b"\x01" + run + b"\x01" * MIB + run + b"\x01"
    assert [(v.offset, v.data) for v in decoders.utf16_views(data)] == [(1, b"abcdefghijkl")]


def test_uuencode_bodies_past_the_input_cap_are_left_out() -> None:
    body = b"begin 644 a\n" + binascii.b2a_uu(b"hello") + b"`\nend\n"
    data = body + b"!" * MIB + body
    assert decoders.uuencode_views(data) == [View("uuencode", 0, b"hello")]


# --- uuencode: a body ends at its first line that is not a uuencoded line -------------------------


def test_uuencode_body_ends_at_a_blank_line() -> None:
    # a2b_uu would read an empty line as 32 zero bytes: the body must stop there
    body = binascii.b2a_uu(b"hello") + b"\n" + binascii.b2a_uu(b"world") + b"`\nend\n"
    assert decoders.uuencode_views(b"begin 644 a\n" + body) == [View("uuencode", 0, b"hello")]


def test_uuencode_body_ends_at_a_line_a2b_uu_refuses() -> None:
    # "!" announces one byte, the ten letters after it are trailing garbage to a2b_uu
    body = binascii.b2a_uu(b"hello") + b"!AAAAAAAAAA\n" + binascii.b2a_uu(b"world")
    assert decoders.uuencode_views(b"begin 644 a\n" + body) == [View("uuencode", 0, b"hello")]


# --- UTF-16: a big-endian run right after a little-endian one is its own text ------------------


def test_utf16_be_run_starting_where_an_le_run_ends() -> None:
    data = b"A\x00" * 12 + b"\x00B" * 12  # LE [0, 24), then \x00 B ... from 24
    assert decoders.utf16_views(data) == [
        View("utf-16le", 0, b"A" * 12),
        View("utf-16be", 24, b"B" * 12),
    ]


# --- streams ------------------------------------------------------------------------------------


def test_stream_views_with_more_false_headers_than_candidates() -> None:
    # 70 zlib-looking headers fill the candidate list; the gzip stream before them is
    # still a candidate (each kind is searched) and the earliest
    stream = gzip.compress(b"inside", mtime=0)
    assert decoders.stream_views(stream + b"\x78\x01" * 70) == [View("gzip", 0, b"inside")]


RAW_PE = zlib.compress(PE)[2:-4]  # RFC 1951 deflate: no zlib header, no Adler-32


def test_raw_deflate_view_encoding_offset_and_data() -> None:
    assert decoders.raw_deflate_view(RAW_PE) == [View("raw deflate", 0, PE)]


@pytest.mark.parametrize(("size", "seen"), [(63, False), (64, True)])
def test_raw_deflate_needs_a_range_of_64_bytes(size: int, seen: bool) -> None:
    stored = zlib.compressobj(0, zlib.DEFLATED, -zlib.MAX_WBITS)  # level 0: stored block
    raw = stored.compress(b"A" * (size - 5)) + stored.flush()  # 5 bytes of block header
    assert len(raw) == size
    assert decoders.raw_deflate_view(raw) == (
        [View("raw deflate", 0, b"A" * (size - 5))] if seen else []
    )


def test_raw_deflate_output_cap_and_an_empty_stream() -> None:
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    big = squeeze.compress(bytes(300_000)) + squeeze.flush()
    assert decoders.raw_deflate_view(big.ljust(64, b"\xff")) == [
        View("raw deflate", 0, bytes(256 * 1024))
    ]
    # b"\x03\x00" is a final fixed-Huffman block holding only its end code: no bytes out
    assert decoders.raw_deflate_view(b"\x03\x00" + b"\xff" * 62) == []


# --- XOR: headers at the very start of the range, and the key lengths searched ------------------


def _xor(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % len(key)] for i, b in enumerate(data))


def test_xor_header_at_offset_zero() -> None:
    [view] = decoders.xor_views(_xor(PE, b"\x5a"))
    assert (view.encoding, view.offset, view.data) == ("xor 0x5a", 0, PE)
    # Borland's stub message instead of Microsoft's: only the MZ header needle matches
    message = b"This program must be run under Win32\r\n$".ljust(len(cs.DOS_MESSAGE), b"\x00")
    borland = PE.replace(cs.DOS_MESSAGE, message)
    assert len(borland) == len(PE) and cs.DOS_MESSAGE not in borland
    [view] = decoders.xor_views(_xor(borland, b"\x5a"))
    assert (view.encoding, view.offset, view.data) == ("xor 0x5a", 0, borland)


def test_xor_header_found_by_its_stub_message_at_offset_zero() -> None:
    odd = bytearray(PE)
    odd[2] = 0x50  # not the linkers' e_cblp: only the stub message at 0x4E matches
    [view] = decoders.xor_views(_xor(bytes(odd), b"\x21"))
    assert (view.encoding, view.offset, view.data) == ("xor 0x21", 0, bytes(odd))


def test_multi_key_xor_header_ending_the_range() -> None:
    # the 0x3C linker bytes fit exactly at the last offset tried: 64 bytes, header at 4
    header = PE[:0x3C]
    [view] = decoders.xor_views(b"VNDR" + _xor(header, b"\x13\x37"))
    assert (view.encoding, view.offset, view.data) == ("xor key 1337", 4, header)


@pytest.mark.parametrize(
    "key",
    [
        b"\x13\x13\x37",  # bytes 0x19.. read 13 37 13 13 37 ..: 13 again 2 bytes on, period 3
        # 16 bytes: bytes 0x19.. read key[9], key[10], key[11] = key[9]: a false period 2
        bytes([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 10, 13, 14, 15, 16]),
    ],
)
def test_multi_key_xor_with_a_key_byte_repeated_inside_the_key(key: bytes) -> None:
    [view] = decoders.xor_views(b"VNDR\x00" + _xor(PE, key))
    assert (view.encoding, view.offset, view.data) == (f"xor key {key.hex()}", 5, PE)


@pytest.mark.parametrize(
    "key",
    # bytes 0x19.. of the header XOR the key read key[8], key[9], ...: in the second key
    # key[10] is key[8] again, a false period 2 before the real one, 17
    [bytes(range(1, 18)), bytes([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 9, *range(12, 18)])],
    ids=["17 distinct bytes", "17 bytes, one repeated"],
)
def test_multi_key_xor_keys_longer_than_16_bytes_are_not_searched(key: bytes) -> None:
    assert len(key) == decoders.MAX_XOR_KEY_BYTES + 1
    assert decoders.xor_views(b"VNDR\x00" + _xor(PE, key)) == []
