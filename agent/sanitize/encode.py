"""Fresh PNG and JPEG files written strip by strip, so no whole picture is ever in memory.

Pillow keeps an RGB image at 4 bytes a pixel: a 100-megapixel photo would be 400 MB in
the trusted parent before anything is encoded. Instead the parent encodes each strip of
rows as it arrives from the child:

- PNG: one zlib stream over filter-type-0 rows, cut into IDAT chunks (PNG spec §11.2.4).
- JPEG: each strip (a whole number of 8-pixel MCU rows) is encoded by Pillow as baseline
  JPEG with the standard tables and no chroma subsampling; the strips' entropy-coded
  segments are joined with restart markers RST0..RST7 under one header whose frame
  height is the whole picture and whose DRI interval is one strip (ITU T.81 §B.2.4.4,
  §F.1.1.5.2: a restart resets the DC predictors, exactly as a fresh strip starts).
  The result decodes to the same pixels as encoding the whole image at once.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import BinaryIO

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_COLOUR_TYPES = {"L": 0, "RGB": 2, "LA": 4, "RGBA": 6}
PNG_IDAT_BYTES = 256 * 1024  # compressed bytes per IDAT chunk
PNG_ZLIB_LEVEL = 6
JPEG_MCU_ROWS = 8  # 4:4:4 and greyscale: an MCU is 8x8 pixels
MAX_RESTART_INTERVAL = 65_535  # MCUs: DRI holds 16 bits
TARGET_STRIP_BYTES = 4 * 1024 * 1024  # bytes of raw pixels per strip
_SOF0, _SOS, _EOI, _DRI = 0xC0, 0xDA, 0xD9, 0xDD


def rows_per_strip(width: int, bands: int, fmt: str) -> int:
    """Rows per strip: about TARGET_STRIP_BYTES, a multiple of 8 for JPEG's restart interval."""
    rows = max(1, TARGET_STRIP_BYTES // max(1, width * bands))
    if fmt != "JPEG":
        return rows
    mcus_per_row = -(-width // JPEG_MCU_ROWS)
    max_mcu_rows = max(1, MAX_RESTART_INTERVAL // mcus_per_row)
    return JPEG_MCU_ROWS * max(1, min(rows // JPEG_MCU_ROWS, max_mcu_rows))


class PngWriter:
    """Writes an 8-bit PNG of `mode` (L, LA, RGB, RGBA) to `sink`, strip by strip."""

    def __init__(self, sink: BinaryIO, width: int, height: int, mode: str) -> None:
        """Write the signature and header now; strips follow with `add`."""
        self._sink = sink
        self._compressor = zlib.compressobj(PNG_ZLIB_LEVEL)
        self._pending = b""
        self.rows_per_strip = rows_per_strip(width, len(mode), "PNG")
        header = struct.pack(">IIBBBBB", width, height, 8, PNG_COLOUR_TYPES[mode], 0, 0, 0)
        sink.write(PNG_SIGNATURE)
        self._chunk(b"IHDR", header)

    def _chunk(self, kind: bytes, body: bytes) -> None:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        self._sink.write(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc))

    def add(self, strip: Image.Image) -> None:
        """Append the rows of `strip` (its width and mode are the picture's)."""
        raw = strip.tobytes()
        row = len(raw) // strip.height
        filtered = b"".join(b"\0" + raw[i : i + row] for i in range(0, len(raw), row))
        self._pending += self._compressor.compress(filtered)
        while len(self._pending) >= PNG_IDAT_BYTES:
            self._chunk(b"IDAT", self._pending[:PNG_IDAT_BYTES])
            self._pending = self._pending[PNG_IDAT_BYTES:]

    def finish(self) -> None:
        """Flush the last IDAT and write IEND."""
        self._pending += self._compressor.flush()
        if self._pending:
            self._chunk(b"IDAT", self._pending)
        self._chunk(b"IEND", b"")


def _segments(jpeg: bytes) -> tuple[bytes, bytes]:
    """(everything up to and including the SOS header, the entropy-coded data before EOI)."""
    offset = 2  # after SOI
    while offset + 4 <= len(jpeg):
        marker, length = jpeg[offset + 1], struct.unpack(">H", jpeg[offset + 2 : offset + 4])[0]
        end = offset + 2 + length
        if marker == _SOS:
            if jpeg[-2:] != bytes([0xFF, _EOI]):
                break
            return jpeg[:end], jpeg[end:-2]
        offset = end
    raise ValueError("Pillow wrote a JPEG without a scan")


def _with_height_and_restarts(header: bytes, height: int, interval: int) -> bytes:
    """`header` with the SOF0 height set to `height` and a DRI segment before SOS."""
    out = bytearray(header[:2])
    offset = 2
    while offset < len(header):
        marker, length = header[offset + 1], struct.unpack(">H", header[offset + 2 : offset + 4])[0]
        segment = bytearray(header[offset : offset + 2 + length])
        if marker == _SOF0:
            segment[5:7] = struct.pack(">H", height)
        if marker == _SOS:
            out += bytes([0xFF, _DRI]) + struct.pack(">HH", 4, interval)
        out += segment
        offset += 2 + length
    return bytes(out)


class JpegWriter:
    """Writes a baseline JPEG (RGB or L) to `sink` from strips of `rows_per_strip` rows."""

    def __init__(
        self, sink: BinaryIO, width: int, height: int, mode: str, quality: int, subsampling: int
    ) -> None:
        """Prepare; the header is written with the first strip."""
        self._sink = sink
        self._width, self._height, self._mode = width, height, mode
        self._quality, self._subsampling = quality, subsampling
        self.rows_per_strip = rows_per_strip(width, len(mode), "JPEG")
        self._strips = 0

    def add(self, strip: Image.Image) -> None:
        """Encode one strip (all strips but the last have exactly `rows_per_strip` rows)."""
        if strip.mode in ("RGBA", "LA"):  # JPEG has no alpha: flatten onto white
            rgba = strip.convert("RGBA")
            background = Image.new("RGB", strip.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            strip = background
        buffer = io.BytesIO()
        strip.save(
            buffer,
            "JPEG",
            quality=self._quality,
            subsampling=self._subsampling,
            optimize=False,
            progressive=False,
        )
        header, scan = _segments(buffer.getvalue())
        if self._strips == 0:
            interval = (-(-self._width // JPEG_MCU_ROWS)) * (self.rows_per_strip // JPEG_MCU_ROWS)
            self._sink.write(_with_height_and_restarts(header, self._height, interval))
        else:
            self._sink.write(bytes([0xFF, 0xD0 + (self._strips - 1) % 8]))  # RSTn
        self._sink.write(scan)
        self._strips += 1

    def finish(self) -> None:
        """Write EOI."""
        self._sink.write(bytes([0xFF, _EOI]))
