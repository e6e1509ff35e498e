"""Where an ISO-BMFF track's samples lie: the sample tables of every `trak` in a `moov`.

ISO/IEC 14496-12 §8.7: `stbl` locates each sample. `stco`/`co64` give the file offset of
each chunk, `stsc` how many samples each chunk holds (runs of chunks from `first_chunk`
on), `stsz` each sample's size (one size for all when `sample_size` is not 0). A chunk's
samples lie back to back from its offset. A HEIF/AVIF image sequence keeps these samples
in `mdat` beside the items `iloc` locates; with both known, the `mdat` bytes neither uses
are never decoded.

Returns None when a track cannot be followed (no sample tables, the compact `stz2`, counts
past the caps, tables cut short): the caller then judges no `mdat` bytes as unused.
"""

from __future__ import annotations

import struct

from agent.inspect.boxes import box_header
from agent.inspect.reader import Reader

MAX_TRACKS = 64  # `trak` boxes followed in one `moov`
MAX_SAMPLES = 1_000_000  # samples (and chunks) located per track
MAX_CHILDREN = 1024  # child boxes listed per container box
_PATH = (b"mdia", b"minf", b"stbl")  # trak -> ... -> stbl


def _children(reader: Reader, start: int, stop: int) -> dict[bytes, tuple[int, int]]:
    """type -> (content start, end) of the first box of each type inside [start, stop)."""
    found: dict[bytes, tuple[int, int]] = {}
    pos = start
    for _ in range(MAX_CHILDREN):
        head = box_header(reader, pos, stop)
        if head is None or head.end > stop:
            break
        found.setdefault(head.kind, (pos + head.header, head.end))
        pos = head.end
        if pos + 8 > stop:
            break
    return found


def _table(reader: Reader, content: tuple[int, int], fields: str, skip: int = 0) -> list[int]:
    """The entries after a FullBox header, `skip` bytes and an entry count (`fields` each)."""
    start, stop = content
    count = reader.u32be(start + 4 + skip)
    if count is None or count > MAX_SAMPLES:
        raise ValueError("sample table count")
    size = struct.calcsize(">" + fields)
    data = reader.read(start + 8 + skip, count * size)
    if len(data) < count * size or start + 8 + skip + count * size > stop:
        raise ValueError("sample table cut short")
    return list(struct.unpack(f">{count * len(fields)}{fields[0]}", data))


def _track(reader: Reader, start: int, stop: int) -> list[tuple[int, int]]:
    """(offset, length) of each chunk's samples in one `trak`; ValueError when unreadable."""
    boxes = _children(reader, start, stop)
    for kind in _PATH:
        if kind not in boxes:
            raise ValueError(f"no {kind!r}")
        boxes = _children(reader, *boxes[kind])
    if b"stsz" not in boxes or b"stsc" not in boxes:
        raise ValueError("no stsz/stsc")
    if b"stco" in boxes:
        offsets = _table(reader, boxes[b"stco"], "I")
    elif b"co64" in boxes:
        offsets = _table(reader, boxes[b"co64"], "Q")
    else:
        raise ValueError("no chunk offsets")
    fixed = reader.u32be(boxes[b"stsz"][0] + 4)
    if fixed is None:
        raise ValueError("stsz cut short")
    if fixed:
        count = reader.u32be(boxes[b"stsz"][0] + 8) or 0
        sizes = [fixed] * min(count, MAX_SAMPLES)
    else:
        sizes = _table(reader, boxes[b"stsz"], "I", skip=4)
    runs = _table(reader, boxes[b"stsc"], "III")  # first_chunk, samples_per_chunk, index
    spans: list[tuple[int, int]] = []
    sample = 0
    for chunk, offset in enumerate(offsets, start=1):
        per_chunk = 0
        for first, samples, _ in zip(runs[0::3], runs[1::3], runs[2::3], strict=True):
            if first > chunk:
                break
            per_chunk = samples
        length = sum(sizes[sample : sample + per_chunk])
        sample += per_chunk
        if length:
            spans.append((offset, length))
    return spans


def track_samples(reader: Reader, start: int, stop: int) -> list[tuple[int, int]] | None:
    """(offset, length) of every track's chunks in the `moov` content [start, stop), or None
    when a track's samples cannot be located."""
    spans: list[tuple[int, int]] = []
    pos, tracks = start, 0
    for _ in range(MAX_CHILDREN):
        head = box_header(reader, pos, stop)
        if head is None or head.end > stop:
            break
        if head.kind == b"trak":
            tracks += 1
            if tracks > MAX_TRACKS:
                return None
            try:
                spans += _track(reader, pos + head.header, head.end)
            except ValueError:
                return None
        pos = head.end
        if pos + 8 > stop:
            break
    return spans if tracks else None
