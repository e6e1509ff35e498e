"""The pixel-data pass (prefilter `<` + first branch byte, then the full pattern) finds
exactly the markers, at exactly the offsets, that a plain search for them would."""

from __future__ import annotations

import random
import re
from pathlib import Path

from agent.inspect import reader as reader_module
from agent.inspect.classify.markers import find_markers
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
