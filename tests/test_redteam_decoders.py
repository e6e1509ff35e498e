"""The decoders red-team round 2 added (agent/inspect/classify/decoders.py), case by case.

Expected values come from the encodings' definitions: RFC 4648 section 5 for URL-safe
base64, the repeating-key XOR of a linker's DOS header, raw deflate (RFC 1951) without
the zlib wrapper; the joined split values from agent/inspect/split_values.py.
"""

from __future__ import annotations

import base64
import zlib

import pytest

from agent.inspect.base import Region
from agent.inspect.classify import decoders
from agent.inspect.classify.blob import classify, decoded_payload
from agent.inspect.reader import Reader
from agent.inspect.split_values import joined_values
from tests import classify_samples as cs

PE = cs.real_pe()


def _xor(data: bytes, key: bytes) -> bytes:
    return bytes(b ^ key[i % len(key)] for i, b in enumerate(data))


def test_url_safe_base64_of_a_program_is_decoded() -> None:
    encoded = base64.urlsafe_b64encode(PE)
    assert b"_" in encoded or b"-" in encoded  # the case the standard alphabet misses
    views = decoders.base64_views(b"x=" + encoded)
    assert any(v.encoding == "url-safe base64" and v.data.startswith(b"MZ") for v in views)


def test_url_safe_decoding_needs_a_long_run_with_its_two_letters() -> None:
    # a long run without `-`/`_` is the standard decoder's; a short one is too short
    assert decoders._urlsafe_views(b"A" * 100 + b" 2024-01-10 xmp.did:a-b_c", 4) == []


@pytest.mark.parametrize("key", [b"\x13\x37", b"\xde\xad\xbe\xef", b"secretk", bytes(range(1, 17))])
def test_a_program_xored_with_a_repeating_key_is_decoded(key: bytes) -> None:
    views = decoders.xor_views(b"VNDR\x00" + _xor(PE, key))
    assert len(views) == 1
    assert views[0].offset == 5 and views[0].data.startswith(PE[:64])
    assert views[0].encoding == f"xor key {key.hex()}" or len(set(key)) == 1


def test_periodic_data_that_is_not_a_dos_header_is_not_a_program() -> None:
    table = bytes(range(7)) * 400  # a calibration table repeating every 7 bytes
    assert decoders.xor_views(table) == []


def test_text_is_ruled_out_before_any_xor_search() -> None:
    assert decoders._multi_key_xor_views(b"<x:xmpmeta>" + b"a-b " * 100) == []


def test_raw_deflate_at_the_start_of_a_range_is_inflated() -> None:
    raw = zlib.compress(PE)[2:-4]  # no zlib header, no Adler-32
    assert decoded_payload(raw) is not None
    assert classify(raw).kind == "pe"


def test_split_pieces_are_joined_without_their_repeated_header() -> None:
    pieces = [b"VNDR\x00" + PE[i : i + 60] for i in range(0, len(PE), 60)]
    data, regions, pos = b"", [], 0
    for piece in pieces:
        data += b"\xff\xe9\x00\x00" + piece
        regions.append(Region(pos + 4, pos + 4 + len(piece), "APP9"))
        pos += 4 + len(piece)
    joined = list(joined_values(Reader.from_bytes(data), regions))
    assert len(joined) == 1
    span, value = joined[0]
    assert value == PE and span.start == 4 and span.end == len(data)
    assert span.label == f"APP9, {len(pieces)} pieces joined"


def test_big_pieces_are_joined_only_around_their_seams() -> None:
    size = 3 * 4096
    data = b"a" * size + b"b" * size
    regions = [Region(0, size, "APP1 extended XMP"), Region(size, 2 * size, "APP1 extended XMP")]
    ((_, value),) = joined_values(Reader.from_bytes(data), regions)
    assert value == b"a" * 2048 + b"b" * 2048  # SEAM_BYTES each side
