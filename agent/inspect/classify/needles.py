"""Every place where one of a few short fixed byte strings starts, at SIMD speed.

The whole-file pixel pass looks for `<` followed by two bytes that can begin a PHP tag or an
HTML/SVG script (`markers.py`). Python's regex engine walks an 8.5 MB photo one byte per
cycle to each `<` (3.1 ms per photo, a third of a camera JPEG's scan). ahocorasick-rs, the
Python binding of the Rust `aho-corasick` crate (the multi-needle searcher of ripgrep and
Rust's regex, SIMD prefilter), finds the same 21 three-byte needles in 1.2 ms on the same
photo (bench/README.md). It only proposes places: every candidate is still confirmed by the
full regex, so what is found does not change.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import ahocorasick_rs

# bytes searched per call: the list of matches one call builds has at most this many entries,
# so a window full of needles costs bounded memory
CHUNK_BYTES = 64 * 1024


class NeedleSearch:
    """Start offsets of fixed needles of one length, in increasing order."""

    def __init__(self, needles: Iterable[bytes]) -> None:
        self.needles = tuple(sorted(set(needles)))
        lengths = {len(needle) for needle in self.needles}
        if len(lengths) != 1 or 0 in lengths:
            # one length: overlapping matches then come in start order, as callers need
            raise ValueError("needles must be non-empty and all of one length")
        self.length = lengths.pop()
        self._automaton = ahocorasick_rs.BytesAhoCorasick(self.needles)

    def starts(self, buffer: bytes, begin: int, step_end: int, scan_end: int) -> Iterator[int]:
        """Offsets in [begin, step_end) of `buffer` where a needle starts (and ends by scan_end).

        The signature of `Reader.confirmed_matches`' candidate finder.
        """
        view = memoryview(buffer)
        for chunk in range(begin, step_end, CHUNK_BYTES):
            chunk_end = min(step_end, chunk + CHUNK_BYTES)
            # a needle starting before chunk_end may end up to length - 1 bytes past it
            hay_end = min(scan_end, chunk_end + self.length - 1)
            found = self._automaton.find_matches_as_indexes(view[chunk:hay_end], overlapping=True)
            for _, offset, _ in found:
                yield chunk + offset


def case_variants(stem: bytes) -> set[bytes]:
    """`stem` in every combination of ASCII upper and lower case (what `(?i:...)` matches
    in a bytes pattern: IGNORECASE folds ASCII letters only)."""
    variants = {b""}
    for byte in stem:
        forms = {bytes([byte]).lower(), bytes([byte]).upper()}
        variants = {head + form for head in variants for form in forms}
    return variants
