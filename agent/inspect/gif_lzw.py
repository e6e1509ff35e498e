"""Where a GIF frame's LZW data really ends: the end-of-information code.

A decoder stops at the LZW end code (GIF89a §22, Appendix F); sub-block bytes after it
are never decoded, so they can carry anything. Finding the end code needs no string
table, only the code width: it starts at min_code_size + 1 bits, grows by one bit when the
next free code reaches 2**width (at most 12 bits), and resets at each clear code (giflib's
DGifDecompressInput does the same arithmetic). The walk is a plain Python loop over the
codes (~7 MB/s), so it is capped per file; frames past the cap are not followed.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.inspect.base import Region, Structure
from agent.inspect.reader import Reader

MAX_LZW_SCAN_BYTES = 4 * 1024**2  # bytes of LZW data followed per file (~0.6 s at most)
MAX_LZW_BITS = 12  # GIF89a Appendix F: codes are at most 12 bits wide
MAX_LZW_CODES = 1 << MAX_LZW_BITS  # table size
MIN_CODE_SIZE_RANGE = range(1, 12)  # LZW minimum code sizes a decoder accepts


def end_code_offset(untrusted_data: bytes, min_code_size: int) -> int | None:
    """Bytes of `untrusted_data` up to and including the end code, or None without one."""
    if min_code_size not in MIN_CODE_SIZE_RANGE:
        return None
    clear = 1 << min_code_size
    end = clear + 1
    width = min_code_size + 1
    limit = 1 << width
    next_code = end + 1
    first = True
    buffer = bits = index = 0
    size = len(untrusted_data)
    while True:
        while bits < width:
            if index >= size:
                return None
            buffer |= untrusted_data[index] << bits
            index += 1
            bits += 8
        code = buffer & (limit - 1)
        buffer >>= width
        bits -= width
        if code == clear:
            width = min_code_size + 1
            limit = 1 << width
            next_code = end + 1
            first = True
            continue
        if code == end:
            return index - bits // 8
        if first:
            first = False  # the first code after a clear adds no table entry
        elif next_code < MAX_LZW_CODES:
            next_code += 1
            if next_code == limit and width < MAX_LZW_BITS:
                width += 1
                limit <<= 1


@dataclass
class FrameData:
    """Follows each frame's LZW data within the per-file cap."""

    image_bytes: int = 0
    scanned: int = 0

    def frame(self, reader: Reader, st: Structure, code_size_at: int, blocks_end: int) -> None:
        """Follow one frame: LZW code size byte at `code_size_at`, sub-blocks to `blocks_end`."""
        min_code_size = reader.byte(code_size_at)
        pieces: list[tuple[int, int]] = []  # (file offset, length) of each sub-block's data
        pos = code_size_at + 1
        while pos < blocks_end:
            length = reader.byte(pos) or 0
            if length == 0:
                break
            pieces.append((pos + 1, length))
            pos += 1 + length
        total = sum(length for _, length in pieces)
        self.image_bytes += total
        if min_code_size is None or self.scanned + total > MAX_LZW_SCAN_BYTES:
            return
        self.scanned += total
        reader.check_deadline()
        data = b"".join(reader.read(at, length) for at, length in pieces)
        used = end_code_offset(data, min_code_size)
        if used is None or used >= total:
            return
        for at, length in pieces:
            if used < length:
                start = at + max(used, 0)
                st.unexplained.append(
                    Region(start, blocks_end - 1, "GIF data after the LZW end code")
                )
                return
            used -= length
