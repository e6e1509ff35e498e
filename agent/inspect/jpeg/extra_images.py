"""Extra images after EOI that no metadata index lists: verified by their own structure.

* A trailer that ends in one complete JPEG ending exactly at the end of the trailers (EOF,
  or where the vendor footers begin) is an extra image (dual-camera phones, editors that
  append the original): it is walked and judged as a JPEG, its metadata scanned.
* HTC dual-camera (Duo Camera, One M8) trailers: private blocks, each closed by a 12-byte
  footer `htcI` + four magic bytes + the u32le length of the next block, the magic bytes
  counting up by four from F1 F2 F3 F4; the last footer's length is that of the final JPEG.
  The chain must hold exactly (block ends may carry up to `HTC_MAX_ALIGNMENT` zero bytes);
  the block bodies (depth and refocus data) are opaque claims, refused when they carry a
  payload signature.
* Maker-note previews (ExifTool's "PreviewImage trailer"): Minolta maker notes give
  PreviewImageStart/Length (tags 0x0088/0x0089, offsets from the Exif TIFF header) of a
  JPEG stored after EOI whose first byte is not always 0xFF (ExifTool accepts
  `/^.\\xd8\\xff[\\xc4\\xdb\\xe0-\\xef]/` there). The preview is walked from its second
  byte on, as a JPEG whose SOI marker lost its 0xFF.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.inspect.jpeg.segments import jpeg_extent, walk_segments
from agent.inspect.reader import Reader

if TYPE_CHECKING:
    from agent.inspect.jpeg.claims import Claims

MAX_FINAL_JPEG_CANDIDATES = 64  # SOI candidates tried when looking for a JPEG ending at EOF
FINAL_JPEG_SEARCH_BYTES = 64 * 1024**2  # bytes before the end searched for its SOI
HTC_FOOTER = b"htcI"
HTC_FOOTER_BYTES = 12  # "htcI", 4 magic bytes, u32le length of the next block
HTC_FIRST_MAGIC = 0xF1  # first footer's magic bytes are F1 F2 F3 F4, the next F5..F8...
HTC_MAX_BLOCKS = 3  # footers: the magic bytes count F1..FC, so at most three exist
HTC_MAX_ALIGNMENT = 8  # zero bytes allowed between a block's data and its footer
_PREVIEW_HEAD_SECOND = frozenset({0xC4, 0xDB, *range(0xE0, 0xF0)})  # ExifTool's check


def final_jpeg(reader: Reader, claims: Claims, tail: int) -> int | None:
    """Claim a complete JPEG that ends exactly at `tail`; its start, or None."""
    low = max(claims.eoi_end, tail - FINAL_JPEG_SEARCH_BYTES)
    at = reader.find(b"\xff\xd8\xff", low, tail)
    for _ in range(MAX_FINAL_JPEG_CANDIDATES):
        if at < 0:
            return None
        reader.check_deadline()
        walked = jpeg_extent(reader, at)
        if walked is not None and walked.end == tail:
            if claims.add_embedded_jpeg(at, "extra image at the end", "extra JPEG image"):
                return at
            return None
        at = reader.find(b"\xff\xd8\xff", at + 1, tail)
    return None


def _htc_magic(index: int) -> bytes:
    """Magic bytes of the `index`-th footer: F1 F2 F3 F4, F5 F6 F7 F8, F9 FA FB FC."""
    first = HTC_FIRST_MAGIC + 4 * index  # index < HTC_MAX_BLOCKS keeps it within a byte
    return bytes(range(first, first + 4))


def htc_blocks(reader: Reader, claims: Claims, final_start: int, final_length: int) -> bool:
    """Claim the HTC private blocks from EOI up to the final JPEG at `final_start`."""
    position = claims.eoi_end
    expected: int | None = None  # the data length the previous footer announced
    blocks: list[tuple[int, int]] = []
    for index in range(HTC_MAX_BLOCKS):
        needle = HTC_FOOTER + _htc_magic(index)
        if expected is None:
            footer = reader.find(needle, position, final_start)
        else:
            low = position + expected
            high = min(final_start, low + HTC_MAX_ALIGNMENT + len(needle))
            footer = reader.find(needle, low, high)
            if footer >= 0 and reader.first_non_zero(low, footer) >= 0:
                return False
        length = reader.u32le(footer + 8) if footer >= 0 else None
        end = footer + HTC_FOOTER_BYTES
        if length is None or end > final_start:
            return False
        blocks.append((position, end))
        if end == final_start:
            if length != final_length:
                return False
            break
        position, expected = end, length
    else:
        return False
    for number, (start, stop) in enumerate(blocks, start=1):
        label = f"HTC dual-camera block {number}"
        if not claims.add(start, stop, label, "HTC dual-camera data", opaque=True):
            return False
    return True


def makernote_preview(reader: Reader, claims: Claims, start: int, length: int) -> int | None:
    """Claim the maker-note preview at [start, start + length) after EOI; its end, or None."""
    head = reader.read(start, 4)
    if len(head) < 4 or head[1:3] != b"\xd8\xff" or head[3] not in _PREVIEW_HEAD_SECOND:
        return None
    walked = walk_segments(reader, start, label_prefix="maker-note preview ")
    if walked.end is None or not walked.clean or not walked.saw_sos:
        return None
    stop = start + length
    if walked.end > stop or not claims.free(start, walked.end):
        return None
    end = walked.end
    if end < stop and reader.first_non_zero(end, stop) < 0:
        end = stop  # the declared length rounds the preview up with zeros
    if not claims.add(start, end, "maker-note preview image", "maker-note preview image"):
        return None
    claims.metadata.extend(walked.metadata)
    return end
