"""The pixel-data pass (a multi-needle search for `<` + two branch bytes, then the full
pattern) finds exactly the markers, at exactly the offsets, that a plain search would."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from agent.inspect import reader as reader_module
from agent.inspect.classify import markers, needles
from agent.inspect.classify.markers import find_markers
from agent.inspect.classify.needles import NeedleSearch
from agent.inspect.reader import Reader

# Every branch of the pixel pattern, in mixed case, and near-misses that must not match.
MARKERS = (
    b"<?php ",
    b"<?PhP(",
    b"<?= $cmd(",
    b"<ScRiPt>",
    b"</script>",
    b"<svg x='1' onload=",
    b"<SVG ONerror =",
    b"<html>",
    b"<IFRAME ",
)
NEAR_MISSES = (b"<?ph", b"<scrip", b"<svg>", b"<htm", b"<iframe", b"<<", b"<x>", b"<?=1")


def _sample(seed: int, size: int) -> tuple[bytes, list[int]]:
    """Random bytes (full of `<`) with the markers at known offsets, near misses between."""
    rng = random.Random(seed)
    data = bytearray(rng.randbytes(size))
    # strip accidental markers from the noise: no `<` followed by a branch byte
    data = bytearray(re.sub(rb"<(?=[?/sShHiI])", b"(", bytes(data)))
    offsets = []
    step = size // (len(MARKERS) + len(NEAR_MISSES) + 1)
    for index, token in enumerate(MARKERS + NEAR_MISSES):
        at = step * (index + 1)
        data[at : at + len(token) + 1] = token + b"\x00"
        if token in MARKERS:
            offsets.append(at)
    return bytes(data), offsets


def test_pixel_pass_finds_every_branch_and_no_near_miss() -> None:
    data, offsets = _sample(1, 200_000)
    found = find_markers(Reader.from_bytes(data), 0, len(data), True, pixel_data=True)
    assert [m.offset for m in found] == offsets
    assert [m.kind for m in found] == ["php"] * 3 + ["html"] * 6


def test_overlapping_candidates_yield_one_marker() -> None:
    # `<svg a='<script ' onload=`: the svg match runs over the inner `<script `, which is not
    # reported again (as a plain left-to-right regex search would not)
    data = b"\x00" * 10 + b"<svg a='<script ' onload=" + b"\x00" * 10
    found = find_markers(Reader.from_bytes(data), 0, len(data), True, pixel_data=True)
    assert [(m.offset, m.kind) for m in found] == [(10, "html")]


def test_file_reader_across_window_edges(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    window = 64 * 1024
    monkeypatch.setattr(reader_module, "WINDOW_BYTES", window)
    data, offsets = _sample(2, window * 3 + 5000)
    # one marker straddling the first window edge, one starting on the second edge
    data = (
        data[: window - 3]
        + b"<script>"
        + data[window + 5 : 2 * window]
        + b"<html>"
        + data[2 * window + 6 :]
    )
    assert not [o for o in offsets if abs(o - window) < 32 or abs(o - 2 * window) < 32]
    offsets = sorted([*offsets, window - 3, 2 * window])
    path = tmp_path / "noise.bin"
    path.write_bytes(data)
    with path.open("rb") as handle:
        reader = Reader.open_file(handle)
        found = find_markers(reader, 0, reader.size, True, pixel_data=True)
    assert [m.offset for m in found] == offsets


def test_every_lazily_compiled_rule_compiles() -> None:
    # marker rules and script tokens are compiled on first use in a scan: compile all here
    from agent.inspect import signatures
    from agent.inspect.classify import markers

    for rule in markers._ALL:
        assert rule.prefix, rule.label  # the `in` check that skips the regex needs one
        assert rule.pattern.pattern == rule.source
    for token in signatures._TOKENS:
        assert token.pattern.pattern == token.source


# One completion of each branch of the pixel pattern after its first three bytes.
BRANCH_TAILS = (b"hp ", b"php ", b" $a(", b"cript>", b"ript>", b"g onload=", b"ml>", b"rame>")


def test_every_place_the_pattern_can_match_is_a_candidate() -> None:
    # brute force over every `<xy` (all 65,536 byte pairs, so case folding and non-ASCII
    # bytes included): wherever the full pattern matches, the needle search proposes it
    needle_set = set(markers._PIXEL_CANDIDATES.needles)
    missed = [
        head
        for x in range(256)
        for y in range(256)
        for head in [bytes((0x3C, x, y))]
        if head not in needle_set
        and any(markers._PIXEL_PATTERN.match(head + tail) for tail in BRANCH_TAILS)
    ]
    assert missed == []
    assert len(needle_set) == 21  # ?p ?P ?= /s /S + 4 each of sc sv ht if


def test_needles_straddling_chunk_and_step_edges(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(needles, "CHUNK_BYTES", 100)
    search = NeedleSearch([b"<sc", b"<ht"])
    data = bytearray(b"." * 400)
    # 99 straddles the first chunk edge, 200 starts on the second, 298 crosses step_end
    for at in (0, 99, 200, 250, 298):
        data[at : at + 3] = b"<sc" if at % 2 else b"<ht"
    # begin 0, step_end 299: the needle at 298 ends at 301, which scan_end 301 allows
    assert list(search.starts(bytes(data), 0, 299, 301)) == [0, 99, 200, 250, 298]
    # a needle that would end past scan_end is not proposed
    assert list(search.starts(bytes(data), 0, 299, 300)) == [0, 99, 200, 250]
    # starts are only in [begin, step_end)
    assert list(search.starts(bytes(data), 99, 250, 400)) == [99, 200]


def test_needles_of_mixed_length_are_refused() -> None:
    with pytest.raises(ValueError, match="one length"):
        NeedleSearch([b"<s", b"<sc"])
    with pytest.raises(ValueError, match="one length"):
        NeedleSearch([])


def test_case_variants_fold_ascii_letters_only() -> None:
    assert needles.case_variants(b"?p") == {b"?p", b"?P"}
    assert needles.case_variants(b"s\xe9") == {b"s\xe9", b"S\xe9"}


def test_long_marker_straddling_a_lowered_window_edge_is_found() -> None:
    # `curl` with 5 KiB of options (two long -H values), starting 100 bytes before the
    # edge of the first 4 MiB lower-cased window: its match runs ~5 KiB past the edge
    options = b"-Hx-a:" + b"A" * 2600 + b" -Hx-b:" + b"B" * 2600 + b" "
    marker = b"curl " + options + b"http://203.0.113.9/x.sh"
    edge = markers.LOWERED_WINDOW_BYTES
    data = bytes(edge - 100) + marker + bytes(64 * 1024)
    found = find_markers(Reader.from_bytes(data), 0, len(data), False)
    assert [(m.offset, m.kind) for m in found] == [(edge - 100, "shell")]


def test_every_marker_rule_fits_in_the_window_overlap() -> None:
    # a match that starts before a window's end is searched up to the overlap's end: no
    # rule may match more bytes than that (unbounded `+`/`*` would be cut at an edge)
    from re import _parser  # type: ignore[attr-defined]

    for rule in markers._ALL:
        longest = _parser.parse(rule.source.decode("latin-1")).getwidth()[1]
        assert longest <= markers.WINDOW_OVERLAP_BYTES, rule.label
