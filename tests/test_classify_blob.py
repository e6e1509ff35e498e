"""classify(): the order of its steps, the payload it reports (kind, offset, encoding,
severity) and its sampling of large ranges. Expected values are literals or come from the
formats (RFC 1952 gzip via the stdlib, APPNOTE ZIP end record, base64 of a known program)."""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import math
import zipfile
import zlib
from collections import Counter

import classify_samples as cs
import pytest

from agent.inspect.classify import blob
from agent.inspect.classify.blob import Payload, classify, classify_range, decoded_payload
from agent.inspect.reader import Reader

PE = cs.real_pe()
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def shannon(data: bytes) -> float:
    """Shannon entropy in bits per byte, written out here independently of the module."""
    counts = Counter(data)
    return -sum(c / len(data) * math.log2(c / len(data)) for c in counts.values())


def eocd(comment: bytes = b"", declared: int | None = None) -> bytes:
    """APPNOTE 4.3.16 end of central directory record for an empty archive."""
    length = len(comment) if declared is None else declared
    return b"PK\x05\x06" + bytes(16) + length.to_bytes(2, "little") + comment


# --- trivial ranges -------------------------------------------------------------------------


def test_zeros_and_whitespace_are_exact() -> None:
    assert classify(bytes(10)) == Payload("zeros", 10, 0.0, False)
    assert classify(b"") == Payload("zeros", 0, 0.0, False)
    assert classify(b" \n" * 8) == Payload("whitespace", 16, 1.0, False)
    assert classify(b"\x00 ") == Payload("whitespace", 2, 1.0, False)


def test_one_non_zero_byte_is_not_zeros() -> None:
    found = classify(bytes(7) + b"\x01")
    assert found.kind == "unknown" and not found.dangerous


# --- what is reported for a dangerous range ----------------------------------------------------


def test_program_after_padding_is_reported_whole() -> None:
    data = b"\x00" * 6 + PE
    assert classify(data) == Payload("pe", len(data), shannon(data), True, 6, "")


def test_gzip_of_a_program_names_the_program_and_the_archive() -> None:
    stream = gzip.compress(PE, mtime=0)
    data = b"\n\n\n" + stream
    assert classify(data) == Payload("pe", len(data), shannon(data), True, 3, "gzip")


def test_gzip_of_prose_is_the_archive_itself() -> None:
    stream = gzip.compress(b"nothing to see here, only words " * 4, mtime=0)
    found = classify(stream)
    assert (found.kind, found.dangerous, found.offset, found.encoding) == ("gzip", True, 0, "")


def test_base64_of_a_program_reports_the_run_offset() -> None:
    data = b"\x01\x02\x03junk:" + base64.b64encode(PE)
    assert classify(data) == Payload("pe", len(data), shannon(data), True, 8, "base64")


def test_decoded_payload_tuple() -> None:
    assert decoded_payload(b"\x01\x02" + base64.b64encode(PE)) == ("pe", 2, "base64")
    nested = base64.b64encode(gzip.compress(PE, mtime=0))
    assert decoded_payload(b"\x01" + nested) == ("pe", 1, "gzip > base64")
    assert decoded_payload(b"\x01" + base64.b64encode(base64.b64encode(PE))) == (
        "pe",
        1,
        "base64 > base64",
    )
    assert decoded_payload(b"\x01\x02" + base64.b64encode(b"plain words, no program " * 3)) is None


def test_gzip_inside_gzip_names_both() -> None:
    inner = gzip.compress(PE, mtime=0)
    data = gzip.compress(inner, mtime=0)
    found = classify(data)
    assert (found.kind, found.encoding, found.offset) == ("pe", "gzip > gzip", 0)


def test_benign_range_is_text_or_unknown_with_entropy() -> None:
    prose = b"Patient sat for the photo at 10:30, all fine.\n"
    assert classify(prose) == Payload("text", len(prose), shannon(prose), False, 0)
    noise = bytes(range(256)) * 4
    assert classify(noise) == Payload("unknown", 1024, 8.0, False, 0)
    padded = b"\x00\x00" + prose
    assert classify(padded) == Payload("text", len(padded), shannon(padded), False, 0)


def test_embedded_picture_keeps_its_kind_and_offset() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(8) + b"IHDR" + bytes(40)
    data = b"  " + png
    assert classify(data) == Payload("png", len(data), shannon(data), False, 2)


# --- the order of the steps --------------------------------------------------------------------


def test_signature_starting_with_nul_is_found_at_zero() -> None:
    wasm = cs.wasm()
    assert classify(wasm) == Payload("wasm", len(wasm), shannon(wasm), True, 0)


def test_zip_end_record_with_comment() -> None:
    junk = b"\x01\x02\x03\x04junk"
    for comment in (b"", b"c", b"comment!"):
        found = classify(junk + eocd(comment))
        assert (found.kind, found.dangerous, found.offset) == ("zip", True, 8)


@pytest.mark.parametrize("declared_delta", [-1, 1])
def test_zip_end_record_must_reach_the_end(declared_delta: int) -> None:
    comment = b"abc"
    data = b"\x01\x02\x03\x04junk" + eocd(comment, declared=len(comment) + declared_delta)
    assert not classify(data).dangerous


def test_zip_end_record_length_is_little_endian() -> None:
    # 0x0100 little-endian is 256; read big-endian it would be 1 and match this 1-byte comment
    data = b"\x01\x02\x03\x04" + b"PK\x05\x06" + bytes(16) + b"\x00\x01" + b"c"
    assert not classify(data).dangerous


def test_truncated_zip_end_record_is_not_a_zip() -> None:
    assert not classify(b"\x01\x02\x03\x04" + eocd()[:21]).dangerous


def test_zip_end_record_with_the_longest_comment() -> None:
    comment = b"c" * 65_535  # the comment length field is 16 bits
    data = b"\x01\x02junk" + eocd(comment)
    found = classify(data)
    assert (found.kind, found.offset) == ("zip", 6)
    assert blob.ZIP_EOCD_SEARCH_BYTES == 65_535 + 22


def test_real_zip_from_the_stdlib() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
    data = b"\x01\x02\x03" + buffer.getvalue()
    found = classify(data)
    assert (found.kind, found.dangerous) == ("zip", True)
    assert found.offset == len(data) - 22


def test_conclusive_marker_reports_its_offset() -> None:
    data = b"\x01\x02\x03\x04" + b"<?php echo 1; ?>"
    found = classify(data)
    assert (found.kind, found.dangerous, found.offset) == ("php", True, 4)


def test_strong_marker_is_preferred_to_an_earlier_suggestive_one() -> None:
    data = b"\x01\x02 alert(1) \x03 <script>x</script>"
    found = classify(data)
    assert (found.kind, found.offset) == ("html", 14)


def test_one_suggestive_marker_is_not_a_payload() -> None:
    found = classify(b"\x01\x02 alert(1) \x03\x04")
    assert not found.dangerous


def test_script_at_start_is_reported_after_its_padding() -> None:
    data = b"\r\n\r\n" + cs.POWERSHELL
    found = classify(data)
    assert (found.kind, found.dangerous, found.offset) == ("powershell", True, 4)


def test_script_text_stops_at_the_first_nul() -> None:
    # a NUL right after a 15-byte script start leaves too little text at the start
    short = b"IEX($p);$x=1;z"[:15]
    assert len(short) < blob.MIN_SCRIPT_BYTES
    assert classify(short + b"\x00\x01\x02").kind != "powershell"


def test_eicar_reports_its_offset() -> None:
    data = b"\x01\x02\x03" + EICAR
    found = classify(data)
    assert (found.kind, found.dangerous, found.offset) == ("eicar", True, 3)


def test_compressed_start_is_looked_inside_before_markers() -> None:
    stream = gzip.compress(cs.PYTHON, mtime=0)
    found = classify(stream)
    assert (found.kind, found.encoding, found.offset) == ("python", "gzip", 0)


def test_libmagic_is_asked_only_when_nothing_decided() -> None:
    found = classify(b"\x01\x02" + PE, use_libmagic=False)
    assert (found.kind, found.offset) == ("pe", 2)


# --- text runs ----------------------------------------------------------------------------------


def test_text_runs_join_runs_and_skip_short_ones() -> None:
    data = b"\x01" + b"a" * 16 + b"\x02" + b"b" * 15 + b"\x03" + b"c" * 17 + b"\x04"
    assert blob.text_runs(data) == b"a" * 16 + b"\n" + b"c" * 17
    assert blob.text_runs(b"\x01\x02") == b""


def test_text_runs_are_capped() -> None:
    run = b"x" * 1000
    data = b"\x01".join([run] * 300)  # 300 runs, 300 KB of text
    text = blob.text_runs(data)
    assert len(text) == 256 * 1024
    assert text.startswith(run + b"\n" + run)


# --- large ranges through a reader ---------------------------------------------------------


def test_classify_range_small_is_the_whole_range() -> None:
    data = b"HEAD" + b"\x01\x02" + PE + b"TAIL"
    found = classify_range(Reader.from_bytes(data), 4, len(data) - 4)
    assert (found.kind, found.offset, found.size) == ("pe", 2, len(PE) + 2)


def test_classify_range_skips_long_zero_padding() -> None:
    zeros = 2 * 1024 * 1024
    data = bytes(zeros) + PE
    found = classify_range(Reader.from_bytes(data), 0, len(data))
    assert (found.kind, found.offset, found.size) == ("pe", zeros, len(data))


def test_classify_range_of_only_zeros() -> None:
    size = 1024 * 1024 + 1
    found = classify_range(Reader.from_bytes(bytes(size)), 0, size)
    assert found == Payload("zeros", size, 0.0, False)


def test_classify_range_sees_the_zip_end_record_at_the_tail() -> None:
    body = bytes(range(1, 256)) * 8000  # ~2 MB, no zero run, no signature
    data = body + eocd(b"zz")
    found = classify_range(Reader.from_bytes(data), 0, len(data))
    assert (found.kind, found.dangerous, found.size) == ("zip", True, len(data))


def test_sample_range_is_head_middle_tail() -> None:
    length = 4 * 1024 * 1024
    data = (bytes(range(251)) * (length // 251 + 1))[:length]
    sample = blob.sample_range(Reader.from_bytes(data), 0, length)
    head, middle, tail = 1024 * 1024, 64 * 1024, 65_535 + 22
    assert sample == (
        data[:head] + data[length // 2 : length // 2 + middle] + data[length - tail :]
    )
    small = data[: head + middle + tail]
    assert blob.sample_range(Reader.from_bytes(small), 0, len(small)) == small


def test_entropy_of_a_large_range_is_sampled_head_middle_tail() -> None:
    # 256 KiB sample: thirds of 87,381 bytes from the head (zeros), the middle and the tail
    # (ones); one third zeros gives H(1/3) = 0.9183 bits, the whole range would give 1.0
    data = bytes(300_000) + b"\x01" * 300_000
    assert blob.entropy(data) == pytest.approx(0.9182958340544896)
    assert blob.entropy(b"") == 0.0


@pytest.mark.parametrize(("size", "sampled"), [(256 * 1024, False), (256 * 1024 + 1, True)])
def test_entropy_samples_only_beyond_256_kib(size: int, sampled: bool) -> None:
    # byte 100,000 lies between the head third (87,381) and the middle sample (from size // 2)
    data = bytearray(size)
    data[100_000] = 1
    p = 1 / size
    expected = 0.0 if sampled else -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
    assert blob.entropy(bytes(data)) == pytest.approx(expected)


@pytest.mark.parametrize(("start", "found"), [(1024 * 1024 - 20, True), (1024 * 1024 - 10, False)])
def test_text_runs_are_searched_in_the_first_mebibyte(start: int, found: bool) -> None:
    script = b"iex($p)".ljust(20)
    data = (b"\x01\x80" * (start // 2) + script).ljust(1024 * 1024 + 64, b"\x80")
    assert (classify(data, use_libmagic=False).kind == "powershell") is found


def test_gzip_nesting_beyond_the_depth_cap_is_the_archive() -> None:
    thrice = gzip.compress(gzip.compress(gzip.compress(PE, mtime=0), mtime=0), mtime=0)
    found = classify(thrice)
    assert (found.kind, found.encoding, found.dangerous) == ("gzip", "", True)


@pytest.mark.parametrize(("short_by", "judged"), [(0, False), (1, True)])
def test_decoded_budget_is_four_mebibytes(short_by: int, judged: bool) -> None:
    """16 streams of 256 KiB use up the 4 MiB budget exactly: the XOR view after them is not
    judged; one byte less and it is."""
    streams = [zlib.compress(bytes(256 * 1024)) for _ in range(15)]
    streams.append(zlib.compress(bytes(256 * 1024 - short_by)))
    xored = bytes(b ^ 0x21 for b in PE)  # zeros become "!": no base64 run
    result = decoded_payload(b"".join(streams) + xored)
    assert (result is not None) is judged
    if judged:
        assert result == ("pe", len(b"".join(streams)), "xor 0x21")


def test_the_view_that_uses_up_the_budget_is_still_looked_inside() -> None:
    """The 16th stream view brings the budget to exactly 0; it was admitted, so the gzip
    stream it starts with is inflated and judged like any other view's."""
    streams = [zlib.compress(bytes(256 * 1024)) for _ in range(15)]
    streams.append(zlib.compress(gzip.compress(PE, mtime=0).ljust(256 * 1024, b"\x00")))
    offset = len(b"".join(streams[:15]))
    assert decoded_payload(b"".join(streams)) == ("pe", offset, "gzip > zlib")


def test_two_streams_inside_a_decoded_view_are_beyond_the_depth_cap() -> None:
    # base64 > bzip2 > gzip is three levels: MAX_DECODE_DEPTH (2) stops before the program
    # (bzip2, unlike deflate, never stores the incompressible gzip as it is)
    twice = bz2.compress(gzip.compress(PE, mtime=0))
    assert decoded_payload(b"\x01" + base64.b64encode(twice)) is None
    assert decoded_payload(b"\x01" + base64.b64encode(gzip.compress(PE, mtime=0))) == (
        "pe",
        1,
        "gzip > base64",
    )


# --- libmagic: asked only where nothing else decided ------------------------------------------

# Mach-O magic with a CPU type no Mach-O family has: own signatures refuse it, libmagic calls
# it application/x-mach-binary
ODD_MACHO = b"\xcf\xfa\xed\xfe" + b"\xff\xff\xff\x00" + bytes(40)


def test_libmagic_opinion_is_reported_after_padding() -> None:
    data = b"\r\n" + ODD_MACHO
    assert classify(data) == Payload("macho", 50, shannon(data), True, 2)
    assert classify(data, use_libmagic=False) == Payload("unknown", 50, shannon(data), False, 0)


def test_classify_range_passes_use_libmagic_on() -> None:
    small = b"ab" + ODD_MACHO
    reader = Reader.from_bytes(small)
    assert classify_range(reader, 2, len(small)).kind == "macho"
    assert classify_range(reader, 2, len(small), use_libmagic=False).kind == "unknown"
    large = bytes(2 * 1024 * 1024) + ODD_MACHO
    reader = Reader.from_bytes(large)
    found = classify_range(reader, 0, len(large))
    assert (found.kind, found.offset, found.size) == ("macho", 2 * 1024 * 1024, len(large))
    assert classify_range(reader, 0, len(large), use_libmagic=False).kind == "unknown"


def binary_entropy(p: float) -> float:
    return -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


# Entropy samples 256 KiB of a larger range: thirds of 87,381 bytes from its head, middle and
# tail (262,143 bytes in all).
THIRD = 87_381


@pytest.mark.parametrize("length", [1024 * 1024 - 1, 1024 * 1024])
def test_classify_range_up_to_a_mebibyte_is_judged_whole(length: int) -> None:
    """Up to CLASSIFY_SAMPLE_BYTES the range is classified as it is, zeros included (the
    entropy tells: the head third is zeros, middle and tail are 0x01); the range's own
    offset in the file does not count."""
    zeros = 100 * 1024
    body = (bytes(zeros) + PE).ljust(length, b"\x01")
    data = bytes(600_000) + body
    found = classify_range(Reader.from_bytes(data), 600_000, len(data))
    assert (found.kind, found.size, found.offset, found.dangerous) == ("pe", length, zeros, True)
    assert found.entropy == pytest.approx(binary_entropy(1 / 3))


def test_classify_range_of_zeros_reports_its_length() -> None:
    data = b"\x01" * 500 + bytes(1024 * 1024 + 1) + b"\x01" * 500
    found = classify_range(Reader.from_bytes(data), 500, 500 + 1024 * 1024 + 1)
    assert found == Payload("zeros", 1024 * 1024 + 1, 0.0, False)


def test_classify_range_skips_zeros_only_beyond_the_padding_bound() -> None:
    ones = b"\x01" * (1024 * 1024 + 1)  # with the zeros, more than 1 MiB: the sampled path
    at_bound = b"\x02" * 10 + bytes(64 * 1024) + ones
    found = classify_range(Reader.from_bytes(at_bound), 10, len(at_bound))
    # 64 KiB of zeros are kept: they fill most of the head third
    assert found.entropy == pytest.approx(binary_entropy(64 * 1024 / (3 * THIRD)))
    beyond = b"\x02" * 10 + bytes(64 * 1024 + 1) + ones
    found = classify_range(Reader.from_bytes(beyond), 10, len(beyond))
    assert (found.entropy, found.size) == (0.0, 64 * 1024 + 1 + len(ones))  # skipped


def test_one_byte_range_is_judged() -> None:
    assert classify(b"A").kind == "text"
    assert classify(b"\x00") == Payload("zeros", 1, 0.0, False)


def test_sample_range_of_a_range_inside_the_file() -> None:
    length = 2 * 1024 * 1024
    data = b"\xee" * 1000 + (bytes(range(251)) * (length // 251 + 1))[:length] + b"\xee" * 1000
    sample = blob.sample_range(Reader.from_bytes(data), 1000, 1000 + length)
    head, middle, tail = 1024 * 1024, 64 * 1024, 65_535 + 22
    body = data[1000 : 1000 + length]
    assert sample == body[:head] + body[length // 2 : length // 2 + middle] + body[-tail:]


# --- the script detector on the start text (up to its first NUL) ------------------------------

# PowerShell's `iex($p)` among UTF-8 letters: text (is_text), but no 16-byte ASCII run, so
# only the start-of-text detector can find it.
ACCENTED = "é".encode()


@pytest.mark.parametrize(("extra", "found"), [(b"", False), (b"!", True), (b"!!", True)])
def test_start_text_needs_sixteen_bytes(extra: bytes, found: bool) -> None:
    text = b"iex($p)" + ACCENTED * 4 + extra  # 15, 16, 17 bytes
    assert (classify(text).kind == "powershell") is found


def test_start_text_ends_at_the_first_nul() -> None:
    text = b"iex($p)" + ACCENTED * 5  # 17 bytes
    found = classify(b"  " + text + b"\x00\x01\x02\x00\x05")
    assert (found.kind, found.offset) == ("powershell", 2)


def test_start_text_is_at_most_64_kib() -> None:
    filler = (ACCENTED + b" ") * (64 * 1024 // 3 + 10)  # ~64 KiB of text, no NUL
    late = filler + b"iex($p)" + ACCENTED * 20 + b"\x00\x01"
    assert len(filler) > 64 * 1024
    assert classify(late).kind != "powershell"
    early = filler[:60_000] + b"iex($p)" + ACCENTED * 20 + b"\x00\x01"
    assert classify(early).kind == "powershell"


# --- decoded views: at most 2 * MAX_VIEWS are judged --------------------------------------------


@pytest.mark.parametrize(("hex_runs", "judged"), [(15, True), (16, False)])
def test_judged_views_cap(hex_runs: int, judged: bool) -> None:
    """8 base64 runs give 16 views (forward and reversed), the hex runs one each, the XOR-ed
    program after them is view 32 or 33: only the first 32 are judged."""
    b64 = b"!".join([base64.b64encode(bytes(range(36)))] * 8)
    hexes = b"!".join([bytes(range(36)).hex().encode()] * hex_runs)
    xored = bytes(b ^ 0x21 for b in PE)
    result = decoded_payload(b64 + b"!" + hexes + b"!" + xored)
    assert (result is not None) is judged


def test_classify_range_offset_after_long_zeros_inside_a_file() -> None:
    zeros = 2 * 1024 * 1024
    data = b"\x01" * 10 + bytes(zeros) + PE
    found = classify_range(Reader.from_bytes(data), 10, len(data))
    assert (found.kind, found.offset, found.size) == ("pe", zeros, zeros + len(PE))


def test_zip_end_record_search() -> None:
    assert blob._has_zip_eocd(eocd()) == 0  # the record alone, at offset 0
    # a stray signature before the real record: the last one is the record
    data = b"junk" + b"PK\x05\x06" + bytes(30) + eocd(b"c")
    assert blob._has_zip_eocd(data) == 38
    assert classify(data).kind == "zip"


def test_text_runs_stop_once_the_cap_is_reached() -> None:
    # 256 runs of 1,023 bytes cost 256 x 1,024 = 262,144 (MAX_TEXT_BYTES) with their
    # separators: collecting stops there, the join has no trailing newline
    a, b = b"a" * 1023, b"b" * 1023
    exact = b"\x01".join([a] * 256 + [b] * 4)
    assert blob.text_runs(exact) == b"\n".join([a] * 256)
    # one byte short of the cap after 256 runs: one more run is taken, then cut at the cap
    short = b"\x01".join([a] * 255 + [b"a" * 1022] + [b] * 4)
    text = blob.text_runs(short)
    assert len(text) == 256 * 1024 and text.endswith(b"a\nb")


def test_zip_end_record_absent_is_minus_one() -> None:
    assert blob._has_zip_eocd(b"no record here") == -1
    assert blob._has_zip_eocd(b"junk" + eocd(b"abc", declared=4)) == -1


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"<?= 'hello' ?> and words", "php"),  # no `$var(` for the marker: the start decides
        (b"<!DOCTYPE html><title>x</title>", "html"),
        (b"  <head><title>x</title></head>", "html"),
    ],
)
def test_start_openings_without_a_marker(data: bytes, kind: str) -> None:
    found = classify(data)
    assert (found.kind, found.dangerous) == (kind, True)


def test_hta_after_a_comment_is_reported_at_the_comment() -> None:
    # the start opening (comment included) decides before the '<hta:application' marker
    data = b"<!-- c -->\n" + cs.HTA
    found = classify(data)
    assert (found.kind, found.offset) == ("hta", 0)
