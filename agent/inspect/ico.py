"""ICO/CUR walker: the icon directory and the images it points to.

The logical end is the furthest image (offset + size) in the directory. Every image must
be a whole PNG or a BMP DIB (BITMAPINFOHEADER or a later version, then palette, XOR
pixels and the 1-bit AND mask): anything else in an entry (a program stored as an "icon
image"), bytes of an entry past its image, and bytes between the directory and the
images, are unexplained and judged by the engine. The pixel count is the image's own
(PNG IHDR, DIB header), not the directory's width/height bytes, which stop at 256: a
decompression bomb hides there.
"""

from __future__ import annotations

from agent.inspect import png
from agent.inspect.base import Region, Structure
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

HEADER_BYTES = 6  # reserved, type, count
ENTRY_BYTES = 16
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DIB_HEADER_SIZES = frozenset({40, 52, 56, 108, 124})  # BITMAPINFOHEADER .. BITMAPV5HEADER
MAX_EMBEDDED_PNG_BYTES = 64 * 1024**2  # bytes of one PNG entry walked (copied out)
DECODED_BYTES_PER_PIXEL = 4  # bytes: icons decode to RGBA


def _finding(code: str, severity: Severity, message: str, offset: int, detail: str) -> Finding:
    return Finding(code=code, severity=severity, message=message, offset=offset, detail=detail)


def _dib_extent(reader: Reader, offset: int) -> tuple[int, int, int] | None:
    """(width, height, bytes) of the BMP DIB at `offset` (XOR + AND masks), or None."""
    header = reader.unpack("<IiiHHII", offset)
    if header is None or header[0] not in DIB_HEADER_SIZES:
        return None
    header_size, width, double_height, _planes, bpp, compression, size_image = header
    height = abs(double_height) // 2
    width = abs(width)
    if bpp not in (1, 4, 8, 16, 24, 32):
        return None
    colors = reader.u32le(offset + 32) or 0
    if colors == 0 and bpp <= 8:
        colors = 1 << bpp
    palette = min(colors, 256) * 4
    masks = 12 if header_size == 40 and compression == 3 else 0
    xor_bytes = (width * bpp + 31) // 32 * 4 * height if compression in (0, 3) else size_image
    and_bytes = (width + 31) // 32 * 4 * height
    return width, height, header_size + masks + palette + xor_bytes + and_bytes


def _png_entry(reader: Reader, st: Structure, offset: int, size: int, label: str, cut: bool) -> int:
    """Walk a PNG entry; record its metadata and what it leaves unexplained. Its pixels."""
    data = reader.read(offset, min(size, MAX_EMBEDDED_PNG_BYTES))
    inner = png.walk(Reader.from_bytes(data), Limits())
    end = inner.end if inner.end is not None else len(data)
    st.metadata.extend(Region(offset + r.start, offset + r.end, r.label) for r in inner.metadata)
    st.unexplained.extend(
        Region(offset + r.start, offset + r.end, r.label) for r in inner.unexplained
    )
    st.texts.extend((lab, offset + at, text) for lab, at, text in inner.texts)
    covered = {(r.start, r.end) for r in inner.accounted}
    if end < size and (end, len(data)) not in covered:
        st.unexplained.append(Region(offset + end, offset + size, f"{label} after its PNG IEND"))
    damaged = any(f.code.endswith((".malformed", ".truncated")) for f in inner.findings)
    if damaged and not cut:  # a cut entry is reported once, as ico.truncated
        st.findings.append(
            _finding(
                "ico.malformed",
                Severity.LOW,
                "The icon's structure is damaged.",
                offset,
                f"{label}: its PNG is damaged",
            )
        )
    return inner.pixels or 0


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk an ICO/CUR directory and its images. Never raises for malformed input."""
    del limits
    st = Structure(type="ico")
    head = reader.unpack("<HHH", 0)
    if head is None or head[0] != 0 or head[1] not in (1, 2) or head[2] == 0:
        st.findings.append(
            _finding(
                "ico.malformed",
                Severity.LOW,
                "The icon's header is damaged.",
                0,
                "ICO/CUR header missing or empty directory",
            )
        )
        return st
    count = head[2]
    directory_end = HEADER_BYTES + count * ENTRY_BYTES
    end = directory_end
    overrun = end > reader.size
    largest = 0
    images: list[Region] = []
    for i in range(count):
        reader.check_deadline()
        entry = reader.unpack("<BBBBHHII", HEADER_BYTES + i * ENTRY_BYTES)
        if entry is None:
            break
        size, offset = entry[6], entry[7]
        label = f"ICO image {i + 1}"
        width, height = entry[0] or 256, entry[1] or 256
        if offset + size > reader.size:
            overrun = True
        stop = min(offset + size, reader.size)
        if offset >= stop:
            continue
        images.append(Region(offset, stop, label))
        if reader.read(offset, 8) == PNG_SIGNATURE:
            dims = reader.unpack(">II", offset + 16)
            if dims is not None:
                width, height = dims
            _png_entry(reader, st, offset, stop - offset, label, offset + size > reader.size)
        else:
            dib = _dib_extent(reader, offset)
            if dib is None:
                st.unexplained.append(Region(offset, stop, f"{label}: neither PNG nor BMP"))
                st.findings.append(
                    _finding(
                        "ico.malformed",
                        Severity.LOW,
                        "The icon holds an image that is not a picture.",
                        offset,
                        f"{label} at {offset} is neither a PNG nor a BMP DIB",
                    )
                )
            else:
                width, height, dib_bytes = dib
                _note_palette(reader, st, offset, stop, label)
                if dib_bytes < stop - offset:
                    st.unexplained.append(
                        Region(offset + dib_bytes, stop, f"{label} after its BMP masks")
                    )
        if largest < width * height:
            largest = width * height
            st.width, st.height = width, height
        end = max(end, offset + size)
    _gaps_between_images(st, directory_end, images)
    st.frames = count
    st.pixels = largest or None
    st.decoded_bytes = largest * DECODED_BYTES_PER_PIXEL if largest else None
    st.end = min(end, reader.size)
    if overrun:
        st.findings.append(
            _finding(
                "ico.truncated",
                Severity.LOW,
                "The icon file is incomplete.",
                reader.size,
                f"the directory describes {end} bytes, file has {reader.size}",
            )
        )
    return st


def _note_palette(reader: Reader, st: Structure, offset: int, stop: int, label: str) -> None:
    """A DIB entry's colour table, like a BMP's: values of the writer's choosing, judged."""
    header_size = reader.u32le(offset) or 0
    compression = reader.u32le(offset + 16) or 0
    bpp = reader.u16le(offset + 14) or 0
    colors = reader.u32le(offset + 32) or 0
    if colors == 0 and bpp <= 8:
        colors = 1 << bpp
    start = offset + header_size + (12 if header_size == 40 and compression == 3 else 0)
    end = min(start + min(colors, 256) * 4, stop)
    if end > start:
        st.metadata.append(Region(start, end, f"{label} palette"))


def _gaps_between_images(st: Structure, directory_end: int, images: list[Region]) -> None:
    """Bytes after the directory that no image covers (up to the last image) are unexplained."""
    position = directory_end
    for image in sorted(images, key=lambda r: r.start):
        if image.start > position:
            st.unexplained.append(Region(position, image.start, "ICO bytes between images"))
        position = max(position, image.end)
