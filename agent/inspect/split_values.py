"""Metadata values split over consecutive regions, joined back the way a loader would.

A JPEG segment holds at most 65,533 bytes and a GIF sub-block 255, so formats themselves
split long values (ICC profiles over APP2 chunks, extended XMP over APP1 segments, GIF
comments over sub-blocks). A payload can be split the same way: a program cut into 100-byte
COM segments has no `PE\\0\\0` where its `MZ` header says, and base64 cut into pieces
decodes to nothing piece by piece, so each region alone looks harmless. The loader that
reassembles it only has to concatenate the pieces and drop the header every piece repeats.

`joined_values` does exactly that for every run of two or more adjacent metadata regions
with the same label: the pieces' common prefix (a vendor signature, an application id)
is dropped from each and the rest concatenated. Each piece was judged on its own already,
so only what joining adds is judged again: short pieces whole, big pieces (a phone's 64 KB
extended-XMP segments) only SEAM_BYTES on each side of a seam. GIF extensions are unpacked
from their sub-blocks first. The engine judges the joined value like a decompressed text (markers,
script detector, decoders; its label says it was joined, so it is not asked of libmagic
again: the first piece already was).
"""

from __future__ import annotations

from collections.abc import Iterator

from agent.inspect.base import Region
from agent.inspect.reader import Reader

MAX_REGION_GAP_BYTES = 16  # bytes between two pieces of one run (a JPEG marker and length: 4)
MAX_JOINED_BYTES = 16 * 1024 * 1024  # bytes of one run of pieces joined (larger runs: left alone)
SEAM_BYTES = 2048  # bytes on each side of a seam between two big pieces judged joined
MAX_PREFIX_BYTES = 64  # bytes: a repeated header longer than this is content, not a header
_GIF_LABEL_PREFIX = "GIF "


def _sub_block_data(raw: bytes) -> bytes:
    """The data of a GIF extension (`21 xx` then sub-blocks), without the length bytes."""
    out = bytearray()
    i = 2
    while i < len(raw):
        size = raw[i]
        if size == 0:
            break
        out += raw[i + 1 : i + 1 + size]
        i += size + 1
    return bytes(out)


def _common_prefix_length(pieces: list[bytes]) -> int:
    shortest = min(len(piece) for piece in pieces)
    limit = min(shortest, MAX_PREFIX_BYTES)
    first = pieces[0]
    for index in range(limit):
        if any(piece[index] != first[index] for piece in pieces[1:]):
            return index
    return limit


def _runs(regions: list[Region]) -> Iterator[list[Region]]:
    """Maximal runs of adjacent regions with one label, in file order."""
    run: list[Region] = []
    for region in sorted(regions, key=lambda r: r.start):
        if (
            run
            and region.label == run[-1].label
            and 0 <= region.start - run[-1].end <= MAX_REGION_GAP_BYTES
        ):
            run.append(region)
            continue
        if len(run) >= 2:
            yield run
        run = [region]
    if len(run) >= 2:
        yield run


def _seamed(pieces: list[bytes]) -> Iterator[bytes]:
    """The joined stream where it differs from its pieces: around every seam.

    Small pieces (up to 2 * SEAM_BYTES) are kept whole, so a value cut into many short
    pieces comes back entire; a big piece contributes only SEAM_BYTES at each end (its
    middle was judged as the piece itself) and ends one joined value and starts the next.
    """
    buffer: list[bytes] = []
    parts = 0
    for piece in pieces:
        if len(piece) <= 2 * SEAM_BYTES:
            buffer.append(piece)
            parts += 1
            continue
        buffer.append(piece[:SEAM_BYTES])
        if parts:  # something before this piece's head: a seam to judge
            yield b"".join(buffer)
        buffer, parts = [piece[-SEAM_BYTES:]], 1
    if parts > 1:
        yield b"".join(buffer)


def joined_values(reader: Reader, regions: list[Region]) -> Iterator[tuple[Region, bytes]]:
    """(the run's span and label, joined bytes) for each run of split metadata."""
    for run in _runs(regions):
        total = sum(region.length for region in run)
        if total > MAX_JOINED_BYTES:
            continue
        pieces = [reader.read(region.start, region.length) for region in run]
        label = run[0].label
        if label.startswith(_GIF_LABEL_PREFIX):
            pieces = [_sub_block_data(piece) for piece in pieces]
        if not all(pieces):
            continue
        skip = _common_prefix_length(pieces)
        span = Region(run[0].start, run[-1].end, f"{label}, {len(run)} pieces joined")
        for joined in _seamed([piece[skip:] for piece in pieces]):
            yield span, joined
