"""Where a GIF frame's LZW data really ends: the end-of-information code.

A decoder stops at the LZW end code (GIF89a §22, Appendix F); sub-block bytes after it
are never decoded, so they can carry anything. Finding the end code needs no string
table, only the code width: it starts at min_code_size + 1 bits, grows by one bit when the
next free code reaches 2**width (at most 12 bits), and resets at each clear code (giflib's
DGifDecompressInput does the same arithmetic). The walk is a plain Python loop over the
codes (~7 MB/s), so it is capped per file: frames are followed smallest first, and those
that no longer fit in the cap are not followed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
class _Frame:
    min_code_size: int | None
    blocks_end: int
    pieces: list[tuple[int, int]]  # (file offset, length) of each sub-block's data
    total: int


@dataclass
class FrameData:
    """Collects each frame's LZW data; `finish` follows them, smallest first, within the cap.

    Smallest first: a huge decoy frame cannot use up the cap before the small frame that
    hides data after its end code; only frames that alone exceed what is left go unchecked.
    """

    image_bytes: int = 0
    frames: list[_Frame] = field(default_factory=list)

    def frame(self, reader: Reader, code_size_at: int, blocks_end: int) -> None:
        """Note one frame: LZW code size byte at `code_size_at`, sub-blocks to `blocks_end`."""
        pieces: list[tuple[int, int]] = []
        pos = code_size_at + 1
        while pos < blocks_end:
            length = reader.byte(pos) or 0
            if length == 0:
                break
            pieces.append((pos + 1, length))
            pos += 1 + length
        total = sum(length for _, length in pieces)
        self.image_bytes += total
        self.frames.append(_Frame(reader.byte(code_size_at), blocks_end, pieces, total))

    def finish(self, reader: Reader, st: Structure) -> None:
        """Report the data after each followed frame's end code as unexplained."""
        scanned = 0
        for frame in sorted(self.frames, key=lambda f: f.total):
            if frame.min_code_size is None or scanned + frame.total > MAX_LZW_SCAN_BYTES:
                break
            scanned += frame.total
            reader.check_deadline()
            data = b"".join(reader.read(at, length) for at, length in frame.pieces)
            used = end_code_offset(data, frame.min_code_size)
            if used is None or used >= frame.total:
                continue
            for at, length in frame.pieces:
                if used < length:
                    region = Region(
                        at + used, frame.blocks_end - 1, "GIF data after the LZW end code"
                    )
                    st.unexplained.append(region)
                    break
                used -= length
