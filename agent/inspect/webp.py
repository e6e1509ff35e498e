"""WebP walker: the RIFF container and its chunks.

The logical end is 8 + the RIFF size (padded to even); complete WebP files written right
after it (ImageMagick 6 writes one RIFF per image) are accounted as extra images.
Dimensions come from VP8X, VP8 or VP8L; ICCP, EXIF, XMP and unknown chunks are metadata
regions; ANMF chunks are frames.

Positive accounting inside the RIFF: bytes past the fixed size of VP8X (10) and ANIM (6),
ANMF bytes that are not its 16-byte header and sub-chunks, a non-zero pad byte and RIFF
bytes after the last chunk are unexplained; unknown chunks, which every decoder skips,
and image chunks the file's layout leaves unread (anything after a simple file's bitstream,
a second still image, frames in a still file) are opaque metadata (the engine classifies
them for payloads).
"""

from __future__ import annotations

from agent.inspect.base import Region, Structure
from agent.inspect.limits import MAX_STRUCTURES, Limits
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

RIFF_HEADER_BYTES = 12  # bytes: "RIFF", size, "WEBP"
CHUNK_HEADER_BYTES = 8  # bytes: fourcc, size
IMAGE_CHUNKS = frozenset({b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF"})
BITSTREAM_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"ALPH"})
FIXED_CHUNK_BYTES = {b"VP8X": 10, b"ANIM": 6}  # WebP container spec: fixed payload sizes
ANMF_HEADER_BYTES = 16  # X, Y, width-1, height-1, duration (3 bytes each), flags
MAX_FRAME_SUBCHUNKS = 16  # sub-chunks walked inside one ANMF (ALPH + VP8 + unknown)
MAX_EXTRA_IMAGES = 64  # whole WebP files after the first accounted as extra images
METADATA_LABELS = {b"ICCP": "WebP ICC profile", b"EXIF": "WebP Exif", b"XMP ": "WebP XMP"}


def _finding(code: str, severity: Severity, message: str, offset: int, detail: str) -> Finding:
    return Finding(code=code, severity=severity, message=message, offset=offset, detail=detail)


def _u24le(data: bytes, at: int) -> int:
    return data[at] | data[at + 1] << 8 | data[at + 2] << 16


def _dimensions(fourcc: bytes, data: bytes) -> tuple[int, int] | None:
    """(width, height) declared by a VP8X, VP8, VP8L or ANMF chunk's first bytes."""
    if fourcc == b"VP8X" and len(data) >= 10:
        return _u24le(data, 4) + 1, _u24le(data, 7) + 1
    if fourcc == b"ANMF" and len(data) >= 12:
        return _u24le(data, 6) + 1, _u24le(data, 9) + 1
    if fourcc == b"VP8 " and len(data) >= 10 and data[3:6] == b"\x9d\x01\x2a":
        return (data[6] | data[7] << 8) & 0x3FFF, (data[8] | data[9] << 8) & 0x3FFF
    if fourcc == b"VP8L" and len(data) >= 5 and data[0] == 0x2F:
        bits = int.from_bytes(data[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk a WebP's RIFF chunks, then any complete WebP files after it. Never raises."""
    del limits
    st = Structure(type="webp")
    if not _is_riff_webp(reader, 0):
        st.findings.append(
            _finding(
                "webp.malformed",
                Severity.LOW,
                "The picture's WebP header is damaged.",
                0,
                "RIFF/WEBP header missing",
            )
        )
        return st
    st.end, complete = _walk_riff(reader, st, 0)
    if complete:
        _account_extra_images(reader, st)
    return st


def _is_riff_webp(reader: Reader, start: int) -> bool:
    return (
        reader.read(start, 4) == b"RIFF"
        and reader.read(start + 8, 4) == b"WEBP"
        and reader.u32le(start + 4) is not None
    )


def _account_extra_images(reader: Reader, st: Structure) -> None:
    """Complete WebP files laid one after another from `st.end`: accounted extra images.

    ImageMagick 6 (`convert a.jpg b.jpg out.webp`; Debian 12 ships 6.9.11) writes one whole
    RIFF per image, back to back, and decoders show the first. Each one is accepted only
    when it walks cleanly (no damaged or truncated chunk); its metadata and unexplained
    bytes join the primary's, so they are judged like the primary's. Bytes after the last
    complete one stay left-over data for the engine to judge.
    """
    pos = st.end or 0
    for _ in range(MAX_EXTRA_IMAGES):
        if not _is_riff_webp(reader, pos):
            return
        extra = Structure(type="webp")
        extra_end, complete = _walk_riff(reader, extra, pos)
        if not complete or extra.findings or extra.pixels is None:
            return  # damaged, truncated, or no picture in it: left-over data
        st.accounted.append(Region(pos, extra_end, "extra WebP image"))
        st.metadata.extend(extra.metadata)
        st.unexplained.extend(extra.unexplained)
        st.frames = (st.frames or 1) + (extra.frames or 1)
        st.pixels = max(st.pixels or 0, extra.pixels or 0) or None
        st.image_bytes = (st.image_bytes or 0) + (extra.image_bytes or 0) or None
        pos = extra_end


def _walk_riff(reader: Reader, st: Structure, start: int) -> tuple[int, bool]:
    """Walk the RIFF at `start` into `st`; (its end, whether it lies whole in the file)."""
    riff_size = reader.u32le(start + 4) or 0
    declared_end = start + 8 + riff_size + (riff_size & 1)
    if declared_end > reader.size and declared_end - (riff_size & 1) <= reader.size:
        declared_end = reader.size  # a writer that left out the final pad byte
    end = min(declared_end, reader.size)
    if declared_end > reader.size:
        st.findings.append(
            _finding(
                "webp.truncated",
                Severity.LOW,
                "The picture file is incomplete.",
                reader.size,
                f"RIFF size says {declared_end} bytes, file has {reader.size}",
            )
        )
    frames = 0
    largest = 0
    image_bytes = 0
    layout = _Layout()
    pos = start + RIFF_HEADER_BYTES
    for _ in range(MAX_STRUCTURES):
        reader.check_deadline()
        if pos + CHUNK_HEADER_BYTES > end:
            break
        fourcc = reader.read(pos, 4)
        size = reader.u32le(pos + 4) or 0
        data_at = pos + CHUNK_HEADER_BYTES
        chunk_end = data_at + size + (size & 1)
        overrun = data_at + size > end
        if overrun and declared_end <= reader.size:
            st.findings.append(
                _finding(
                    "webp.malformed",
                    Severity.LOW,
                    "The picture's structure is damaged.",
                    pos,
                    f"chunk {fourcc!r} at {pos} runs past the RIFF end {end}",
                )
            )
            break
        dims = _dimensions(fourcc, reader.read(data_at, 16))
        if dims is not None:
            if st.width is None:
                st.width, st.height = dims
            largest = max(largest, dims[0] * dims[1])
        if fourcc == b"ANMF":
            frames += 1
            image_bytes += _frame_subchunks(reader, st, data_at, min(data_at + size, end))
        if fourcc in METADATA_LABELS:
            st.metadata.append(Region(pos, min(chunk_end, end), METADATA_LABELS[fourcc]))
        elif fourcc not in IMAGE_CHUNKS:
            st.metadata.append(Region(pos, min(chunk_end, end), f"WebP chunk {fourcc!r}"))
        elif not layout.reads(fourcc, reader.byte(data_at)):
            label = f"WebP chunk {fourcc!r} no decoder reads"
            st.metadata.append(Region(pos, min(chunk_end, end), label))
        if fourcc in BITSTREAM_CHUNKS:
            image_bytes += size
        if overrun:
            break  # the file is truncated inside this chunk (already reported)
        _chunk_tail(reader, st, fourcc, data_at, size, chunk_end)
        pos = chunk_end
    else:
        pos = end
    if pos + CHUNK_HEADER_BYTES > end and pos < end and declared_end <= reader.size:
        st.unexplained.append(Region(pos, end, "WebP bytes after the last chunk"))
    st.frames = frames or 1
    st.pixels = largest or None
    st.image_bytes = image_bytes or None
    return end, declared_end <= reader.size


class _Layout:
    """Which image chunks a decoder reads (WebP container specification, "File Format").

    A simple file is one VP8 or VP8L chunk: libwebp reads nothing after it. An extended
    file (VP8X first) holds one still image (an optional ALPH, then VP8 or VP8L) or, with
    the animation flag, ANIM and ANMF frames; a second VP8X, image chunks after the still
    image, frames in a still file and still-image chunks in an animation are never read.
    """

    ANIMATION_FLAG = 0x02  # VP8X flags bit 1

    def __init__(self) -> None:
        self.chunks = 0
        self.extended = False
        self.animated = False
        self.image_done = False

    def reads(self, fourcc: bytes, first_byte: int | None) -> bool:
        """Note one top-level image chunk, in file order; True when a decoder reads it."""
        first = self.chunks == 0
        self.chunks += 1
        if first:
            self.extended = fourcc == b"VP8X"
            self.animated = self.extended and bool((first_byte or 0) & self.ANIMATION_FLAG)
            self.image_done = not self.extended  # a simple file is its first chunk
            return True
        if not self.extended or fourcc == b"VP8X":
            return False
        if self.animated:
            return fourcc in (b"ANIM", b"ANMF")
        if self.image_done or fourcc in (b"ANIM", b"ANMF"):
            return False
        self.image_done = fourcc != b"ALPH"
        return True


def _chunk_tail(
    reader: Reader, st: Structure, fourcc: bytes, data_at: int, size: int, chunk_end: int
) -> None:
    """Bytes past a fixed-size chunk's payload, and a non-zero pad byte, explain nothing."""
    fixed = FIXED_CHUNK_BYTES.get(fourcc)
    if fixed is not None and size > fixed:
        st.unexplained.append(
            Region(data_at + fixed, data_at + size, f"WebP {fourcc.decode()} chunk tail")
        )
    if size & 1 and reader.byte(data_at + size) not in (0, None):
        st.unexplained.append(Region(data_at + size, chunk_end, "WebP chunk pad byte"))


def _frame_subchunks(reader: Reader, st: Structure, start: int, stop: int) -> int:
    """ANMF: a 16-byte header, then ALPH/VP8/VP8L (and unknown) sub-chunks to its end.

    Returns the bytes of bitstream sub-chunks.
    """
    pos = start + ANMF_HEADER_BYTES
    bitstream = 0
    for _ in range(MAX_FRAME_SUBCHUNKS):
        if pos + CHUNK_HEADER_BYTES > stop:
            break
        fourcc = reader.read(pos, 4)
        size = reader.u32le(pos + 4) or 0
        sub_end = pos + CHUNK_HEADER_BYTES + size + (size & 1)
        if not fourcc.isascii() or sub_end > stop + (size & 1):
            break
        if fourcc not in IMAGE_CHUNKS:
            st.metadata.append(Region(pos, min(sub_end, stop), f"WebP chunk {fourcc!r} in a frame"))
        elif fourcc in BITSTREAM_CHUNKS:
            bitstream += size
        pos = sub_end
    if pos < stop:
        st.unexplained.append(Region(pos, stop, "WebP frame bytes after its sub-chunks"))
    return bitstream
