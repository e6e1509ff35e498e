"""Photoshop PSD/PSB walker: the five sections of Adobe's file format, to the image data's end.

Header (26 bytes: `8BPS`, version 1 = PSD / 2 = PSB, channels, height, width, depth,
mode), then three length-prefixed sections (colour mode data u32; image resources u32;
layer and mask information u32, u64 in PSB), then the merged image data: a compression
u16 and either raw planes (channels x height x row bytes) or RLE (PackBits) with a table
of byte counts per row and channel (u16 each, u32 in PSB). The end is the end of that
data; ZIP-compressed merged data (2, 3) has no length, so it runs to the end of the file
and is judged as opaque image data. Image resources, colour mode data and the layer section
without its channel image data (layer records, additional layer information) are metadata.
"""

from __future__ import annotations

import struct

from agent.inspect.base import Region, Structure
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

HEADER_BYTES = 26
MAX_RLE_ROWS = 4 * 1024 * 1024  # byte-count entries read (channels x height)
MAX_LAYERS = 8000  # layer records read (Photoshop's own limit)


def _malformed(st: Structure, detail: str, offset: int = 0) -> Structure:
    st.findings.append(
        Finding(
            "psd.malformed",
            Severity.LOW,
            "The picture's Photoshop structure is damaged.",
            offset=offset,
            detail=detail,
        )
    )
    return st


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk a PSD/PSB to the end of its merged image data. Never raises for bad input."""
    del limits
    st = Structure(type="psd", frames=1)
    head = reader.unpack(">H6xHIIHH", 4)
    if reader.read(0, 4) != b"8BPS" or head is None or head[0] not in (1, 2):
        return _malformed(st, "no 8BPS header")
    version, channels, height, width, depth, _mode = head
    big = version == 2
    st.width, st.height, st.pixels = width, height, width * height
    st.decoded_bytes = st.pixels * max(1, channels) * max(1, depth // 8)
    pos = HEADER_BYTES
    for index, name in enumerate(("colour mode data", "image resources", "layer and mask data")):
        wide = big and index == 2
        length_t = reader.unpack(">Q" if wide else ">I", pos)
        if length_t is None:
            return _truncated(st, pos, name)
        start = pos + (8 if wide else 4)
        pos = start + length_t[0]
        if pos > reader.size:
            return _truncated(st, start, name)
        if index == 1 and length_t[0]:
            st.metadata.append(Region(start, pos, "PSD image resources"))
        elif index == 0 and length_t[0]:
            # An indexed image's palette or a duotone's curves: values of the writer's choosing.
            st.metadata.append(Region(start, pos, "PSD colour mode data"))
        elif index == 2 and length_t[0]:
            _layer_metadata(reader, st, start, pos, big)
    compression = reader.u16be(pos)
    if compression is None:
        return _truncated(st, pos, "image data")
    data_at = pos + 2
    row_bytes = (width * depth + 7) // 8
    if compression == 0:
        end = data_at + channels * height * row_bytes
    elif compression == 1:
        rows = channels * height
        entry = 4 if big else 2
        if rows > MAX_RLE_ROWS:
            return _malformed(st, f"{rows} RLE rows", pos)
        table = reader.read(data_at, rows * entry)
        if len(table) < rows * entry:
            return _truncated(st, data_at, "RLE byte counts")
        counts = struct.unpack(f">{rows}{'I' if big else 'H'}", table)
        end = data_at + rows * entry + sum(counts)
    elif compression in (2, 3):
        end = reader.size
        st.metadata.append(Region(data_at, end, "PSD ZIP image data (unknown length)"))
    else:
        return _malformed(st, f"compression {compression}", pos)
    st.image_bytes = end - data_at
    if end > reader.size:
        return _truncated(st, data_at, "image data")
    st.end = end
    return st


def _layer_metadata(reader: Reader, st: Structure, start: int, stop: int, big: bool) -> None:
    """The layer and mask section [start, stop) without its channel image data: the layer
    records (names, blend settings, additional layer information: text layers, effects,
    Unicode names) and what follows the layer info (global layer mask, additional layer
    information such as linked smart-object files) are metadata."""
    length = reader.unpack(">Q" if big else ">I", start)
    if length is None:
        return
    info_at = start + (8 if big else 4)
    info_end = min(info_at + length[0], stop)
    count_t = reader.unpack(">h", info_at)
    if count_t is not None and info_end > info_at + 2:
        pos = info_at + 2
        for _ in range(min(abs(count_t[0]), MAX_LAYERS)):
            channels = reader.u16be(pos + 16)
            if channels is None:
                break
            blend_at = pos + 18 + channels * (10 if big else 6)  # id u16, length u32/u64
            extra = reader.u32be(blend_at + 12)  # after signature, key, four single bytes
            if extra is None or blend_at + 16 + extra > info_end:
                break
            pos = blend_at + 16 + extra
        if pos > info_at + 2:
            st.metadata.append(Region(info_at + 2, pos, "PSD layer records"))
    if info_end < stop:
        st.metadata.append(Region(info_end, stop, "PSD global layer mask and layer information"))


def _truncated(st: Structure, offset: int, what: str) -> Structure:
    st.findings.append(
        Finding(
            "psd.truncated",
            Severity.LOW,
            "The picture file is incomplete.",
            offset=offset,
            detail=f"{what} runs past the end of the file",
        )
    )
    return st
