"""BMP walker: file header, DIB header, palette, pixel array and embedded ICC profile.

The logical end is the furthest byte the headers justify (pixel array, V5 profile).
`bfSize` is not trusted on its own: a payload appended after the pixels with `bfSize`
stretched over it must still be left over. A few bytes of slack that `bfSize` (or
`biSizeImage`) declares past the computed pixel array are writer rounding and accounted.
"""

from __future__ import annotations

from agent.inspect.base import Region, Structure
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

FILE_HEADER_BYTES = 14
CORE_HEADER_BYTES = 12  # BITMAPCOREHEADER (OS/2 1.x): 16-bit width/height
V5_HEADER_BYTES = 124
UNCOMPRESSED = frozenset({0, 3, 6})  # BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS
BITFIELDS_MASK_BYTES = {3: 12, 6: 16}  # masks after a 40-byte header
PROFILE_EMBEDDED = 0x4D424544  # bV5CSType 'MBED'
# bV5CSType 'LINK': the profile data is a file name (Windows-1252, NUL-terminated) that a
# colour-managed Windows viewer opens; a network path there makes it connect and sign in.
PROFILE_LINKED = 0x4C494E4B
LINKED_PROFILE_LABEL = "BMP linked profile"
_PROFILE_LABELS = {PROFILE_EMBEDDED: "BMP ICC profile", PROFILE_LINKED: LINKED_PROFILE_LABEL}
MAX_ROUNDING_SLACK = 16  # bytes bfSize/biSizeImage may exceed the computed pixel array


def _finding(code: str, severity: Severity, message: str, offset: int, detail: str) -> Finding:
    return Finding(code=code, severity=severity, message=message, offset=offset, detail=detail)


def _malformed(st: Structure, detail: str) -> Structure:
    st.findings.append(
        _finding("bmp.malformed", Severity.LOW, "The picture's BMP header is damaged.", 0, detail)
    )
    return st


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk a BMP's headers to the end of its pixel array. Never raises for malformed input."""
    del limits
    st = Structure(type="bmp")
    if reader.read(0, 2) != b"BM":
        return _malformed(st, "no BM signature")
    bf_size = reader.u32le(2) or 0
    pixel_offset = reader.u32le(10)
    dib_size = reader.u32le(FILE_HEADER_BYTES)
    if pixel_offset is None or dib_size is None or dib_size < CORE_HEADER_BYTES:
        return _malformed(st, "file or DIB header too short")
    dib = reader.read(FILE_HEADER_BYTES, min(dib_size, V5_HEADER_BYTES))
    if len(dib) < min(dib_size, V5_HEADER_BYTES):
        return _malformed(st, "DIB header runs past the end of the file")
    if dib_size == CORE_HEADER_BYTES:
        width = int.from_bytes(dib[4:6], "little")
        height = int.from_bytes(dib[6:8], "little")
        bpp = int.from_bytes(dib[10:12], "little")
        compression, size_image, colors, entry = 0, 0, 0, 3
    elif len(dib) >= 40:
        width = int.from_bytes(dib[4:8], "little", signed=True)
        height = int.from_bytes(dib[8:12], "little", signed=True)
        bpp = int.from_bytes(dib[14:16], "little")
        compression = int.from_bytes(dib[16:20], "little")
        size_image = int.from_bytes(dib[20:24], "little")
        colors = int.from_bytes(dib[32:36], "little")
        entry = 4
    else:
        return _malformed(st, f"unsupported DIB header size {dib_size}")
    st.width, st.height = abs(width), abs(height)
    st.pixels = st.width * st.height
    st.frames = 1

    header_end = FILE_HEADER_BYTES + dib_size
    if dib_size == 40:
        header_end += BITFIELDS_MASK_BYTES.get(compression, 0)
    if colors == 0 and 0 < bpp <= 8:
        colors = 1 << bpp
    palette_at = header_end
    header_end += min(colors, 256) * entry
    if header_end > palette_at:
        # Entries of the writer's choosing (and a 24-bit image's, which nothing draws with).
        st.metadata.append(Region(palette_at, min(header_end, reader.size), "BMP palette"))
    ends = [header_end]

    if compression in UNCOMPRESSED:
        row_bytes = (st.width * bpp + 31) // 32 * 4
        computed = row_bytes * st.height
        pixel_bytes = computed
        if 0 < size_image - computed <= MAX_ROUNDING_SLACK:
            pixel_bytes = size_image
    else:
        pixel_bytes = size_image  # RLE/JPEG/PNG: only biSizeImage tells the length
    if pixel_bytes:
        ends.append(pixel_offset + pixel_bytes)
    st.image_bytes = pixel_bytes or max(0, min(bf_size, reader.size) - pixel_offset)
    st.decoded_bytes = st.pixels * max(1, -(-bpp // 8))
    profile: Region | None = None
    colour_space = int.from_bytes(dib[56:60], "little") if dib_size >= V5_HEADER_BYTES else 0
    if colour_space in _PROFILE_LABELS:
        profile_at = FILE_HEADER_BYTES + int.from_bytes(dib[112:116], "little")
        profile_len = int.from_bytes(dib[116:120], "little")
        if profile_len:
            ends.append(profile_at + profile_len)
            label = _PROFILE_LABELS[colour_space]
            profile = Region(profile_at, profile_at + profile_len, label)
            st.metadata.append(profile)
    if not pixel_bytes:
        # Compressed with no biSizeImage: bfSize is all we have.
        ends.append(bf_size if bf_size > header_end else reader.size)

    end = max(ends)
    if end > reader.size:
        st.end = reader.size
        st.findings.append(
            _finding(
                "bmp.truncated",
                Severity.LOW,
                "The picture file is incomplete.",
                reader.size,
                f"headers describe {end} bytes, file has {reader.size}",
            )
        )
        return st
    st.end = end
    _gap_before_pixels(st, header_end, pixel_offset, profile)
    slack_end = min(bf_size, reader.size)
    if 0 < slack_end - end <= MAX_ROUNDING_SLACK:
        st.accounted.append(Region(end, slack_end, "BMP size rounding"))
    return st


def _gap_before_pixels(
    st: Structure, header_end: int, pixel_offset: int, profile: Region | None
) -> None:
    """Bytes between the headers (and palette) and bfOffBits explain nothing: judge them.

    A V5 profile placed there is explained; writers' alignment zeros are judged harmless
    by the engine.
    """
    if pixel_offset <= header_end:
        return
    start, stop = header_end, pixel_offset
    if profile is not None and start <= profile.start < stop:
        if profile.start > start:
            st.unexplained.append(Region(start, profile.start, "BMP gap before the pixels"))
        start = max(start, profile.end)
    if start < stop:
        st.unexplained.append(Region(start, stop, "BMP gap before the pixels"))
