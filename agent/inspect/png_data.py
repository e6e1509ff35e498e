"""PNG image data accounting: which IDAT/fdAT bytes a decoder really reads.

A decoder reads the IDAT chunks of one consecutive run as one zlib stream and stops at
the stream's end (PNG 1.2 §11.2.4: "There may be multiple IDAT chunks; if so, they shall
appear consecutively with no other intervening chunks"). So three kinds of image-data
bytes are never looked at and are reported as unexplained:

* bytes after the end of the zlib stream (in the last IDAT, or whole IDAT chunks after it),
  and the rest of a stream that inflates to more than the image's rows;
* IDAT chunks after the first run ended (after another chunk came between);
* APNG `fdAT` chunks with no `fcTL` before them, or beyond the frame count of `acTL`.

The stream is inflated in windows with the output thrown away, and never past the raw
size the header declares (plus one byte to see whether it goes on), so a deflate bomb
costs no more than the image it claims to be.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from agent.inspect.base import Region
from agent.inspect.reader import Reader

INFLATE_INPUT_WINDOW_BYTES = 1024 * 1024  # bytes of IDAT fed to zlib at a time
INFLATE_OUTPUT_WINDOW_BYTES = 4 * 1024 * 1024  # bytes of raw rows produced (and dropped) per call
AFTER_ZLIB_END = "PNG IDAT after its zlib end"
# bytes: zlib consumes input ahead of the output it returns (its bit accumulator holds up to
# 8 bytes), so the range judged after the image's last row starts this much earlier.
ZLIB_LOOKAHEAD_BYTES = 8
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
# Adam7 passes: (x start, y start, x step, y step)
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))  # fmt: skip


def raw_size(width: int, height: int, bit_depth: int, colour: int, interlaced: bool) -> int | None:
    """Bytes of filtered scanlines the IDAT stream must inflate to, or None if unknown."""
    channels = CHANNELS.get(colour)
    if channels is None or bit_depth not in (1, 2, 4, 8, 16) or width <= 0 or height <= 0:
        return None
    bits = channels * bit_depth

    def rows(w: int, h: int) -> int:
        return 0 if w <= 0 or h <= 0 else h * (1 + (w * bits + 7) // 8)

    if not interlaced:
        return rows(width, height)
    return sum(
        rows((width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy) for x0, y0, dx, dy in _ADAM7
    )


def decoded_bytes(width: int, height: int, bit_depth: int, colour: int) -> int | None:
    """Bytes a decoder allocates for the image: at least one byte per pixel."""
    channels = CHANNELS.get(colour)
    if channels is None:
        return None
    return width * height * max(1, channels * bit_depth // 8)


@dataclass
class ImageData:
    """Collects IDAT/fdAT chunks during the chunk walk; `finish` judges them."""

    raw_bytes: int | None = None  # what IHDR says the IDAT stream inflates to
    declared_frames: int | None = None  # acTL num_frames
    idat: list[tuple[int, int]] = field(default_factory=list)  # (data offset, length)
    unexplained: list[Region] = field(default_factory=list)
    image_bytes: int = 0
    _run_closed: bool = False
    _frames_seen: int = 0
    _frame_open: bool = False

    def chunk(self, chunk_type: bytes, pos: int, data_offset: int, length: int) -> None:
        """Note one chunk, in file order."""
        end = data_offset + length + 4
        if chunk_type == b"IDAT":
            self.image_bytes += length
            if self._run_closed:
                self.unexplained.append(Region(pos, end, "PNG IDAT after the image data"))
            else:
                self.idat.append((data_offset, length))
            return
        if self.idat:
            self._run_closed = True
        if chunk_type == b"fcTL":
            self._frames_seen += 1
            self._frame_open = self.declared_frames is None or (
                self._frames_seen <= self.declared_frames
            )
        elif chunk_type == b"fdAT":
            self.image_bytes += length
            if not self._frame_open:
                self.unexplained.append(Region(pos, end, "PNG fdAT outside any declared frame"))

    def finish(self, reader: Reader) -> bool:
        """Find where the IDAT zlib stream ends; False when the stream is corrupt."""
        if not self.idat or self.raw_bytes is None:
            return True
        inflater = zlib.decompressobj()
        budget = self.raw_bytes + 1  # one byte more shows a stream longer than the image
        rows_end: int | None = None  # input offset where the image's last row was complete
        for index, (offset, length) in enumerate(self.idat):
            position, stop = offset, offset + length
            while position < stop:
                reader.check_deadline()
                window = reader.read(position, min(INFLATE_INPUT_WINDOW_BYTES, stop - position))
                try:
                    pending = window
                    while pending and budget > 0 and not inflater.eof:
                        out = inflater.decompress(pending, min(budget, INFLATE_OUTPUT_WINDOW_BYTES))
                        budget -= len(out)
                        pending = inflater.unconsumed_tail
                        if budget == 1 and rows_end is None:
                            rows_end = position + len(window) - len(pending)
                except zlib.error:
                    return False
                if inflater.eof:
                    used = len(window) - len(inflater.unused_data)
                    self._after_stream(position + used, stop, index)
                    return True
                if budget <= 0:
                    # Longer than the image: decoders stop at the image's last row, so the
                    # rest of the stream is never used (a payload compressed into it).
                    if rows_end is None:
                        rows_end = position + len(window) - len(pending)
                    start = max(offset, rows_end - ZLIB_LOOKAHEAD_BYTES)
                    self._after_stream(start, stop, index, "PNG IDAT data past the image")
                    return True
                position += len(window)
        return True

    def _after_stream(
        self, stream_end: int, chunk_stop: int, index: int, label: str = AFTER_ZLIB_END
    ) -> None:
        """IDAT bytes from `stream_end` on (and every later IDAT of the run) are unused."""
        if stream_end < chunk_stop:
            self.unexplained.append(Region(stream_end, chunk_stop, label))
        for offset, length in self.idat[index + 1 :]:
            self.unexplained.append(Region(offset, offset + length, label))


ICC_SIGNATURE_OFFSET = 36  # ICC.1 §7.2.5: bytes 36-39 of the header are "acsp"
ICC_HEADER_BYTES = 128  # ICC.1 §7.2: the profile header is 128 bytes


def valid_icc_profile(untrusted_profile: bytes) -> bool:
    """True for an ICC profile whose header says `acsp` and whose declared size is its size."""
    if len(untrusted_profile) < ICC_HEADER_BYTES:
        return False
    declared = int.from_bytes(untrusted_profile[0:4], "big")
    signature = untrusted_profile[ICC_SIGNATURE_OFFSET : ICC_SIGNATURE_OFFSET + 4]
    return signature == b"acsp" and declared == len(untrusted_profile)
