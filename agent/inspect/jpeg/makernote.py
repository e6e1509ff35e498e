"""The maker-note PreviewImage pointer of an APP1 Exif segment (Minolta), bounded to it.

Minolta maker notes are a plain IFD (no header) in the Exif byte order; tags 0x0088
PreviewImageStart and 0x0089 PreviewImageLength give the preview's offset from the Exif
TIFF header (ExifTool, lib/Image/ExifTool/Minolta.pm). Cameras store that preview after
the main image's EOI, where `extra_images.makernote_preview` verifies and claims it.
"""

from __future__ import annotations

from agent.inspect.reader import Reader

EXIF_SIGNATURE_BYTES = 6  # "Exif\0\0"
MAX_IFD_ENTRIES = 256  # entries read from one IFD
EXIF_IFD_TAG = 0x8769
MAKERNOTE_TAG = 0x927C
PREVIEW_START_TAG = 0x0088
PREVIEW_LENGTH_TAG = 0x0089
PREVIEW_MAKES = ("minolta",)  # Make substrings whose maker note carries these tags


def _entries(reader: Reader, order: str, ifd: int, stop: int) -> dict[int, tuple[int, int, int]]:
    """tag -> (type, count, value or offset) of the IFD at `ifd`, read within `stop`."""
    count = reader.unpack(order + "H", ifd) if ifd + 2 <= stop else None
    found: dict[int, tuple[int, int, int]] = {}
    if count is None:
        return found
    for index in range(min(count[0], MAX_IFD_ENTRIES)):
        at = ifd + 2 + 12 * index
        raw = reader.unpack(order + "HHII", at) if at + 12 <= stop else None
        if raw is None:
            break
        found.setdefault(raw[0], (raw[1], raw[2], raw[3]))
    return found


def preview_pointer(
    reader: Reader, payload_start: int, payload_end: int, make: str | None
) -> tuple[int, int] | None:
    """(file offset, length) of the maker-note preview, or None."""
    if make is None or not any(name in make.lower() for name in PREVIEW_MAKES):
        return None
    base = payload_start + EXIF_SIGNATURE_BYTES
    order = {b"II*\x00": "<", b"MM\x00*": ">"}.get(reader.read(base, 4))
    first = reader.unpack(order + "I", base + 4) if order else None
    if order is None or first is None:
        return None
    ifd0 = _entries(reader, order, base + first[0], payload_end)
    exif = ifd0.get(EXIF_IFD_TAG)
    if exif is None:
        return None
    note = _entries(reader, order, base + exif[2], payload_end).get(MAKERNOTE_TAG)
    if note is None or note[1] <= 4:
        return None
    note_at = base + note[2]
    tags = _entries(reader, order, note_at, min(payload_end, note_at + note[1]))
    start, length = tags.get(PREVIEW_START_TAG), tags.get(PREVIEW_LENGTH_TAG)
    if start is None or length is None or length[2] == 0:
        return None
    return base + start[2], length[2]
