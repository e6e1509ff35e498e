"""PNG and APNG walker: signature, chunks (length, type, CRC) up to IEND.

The logical end is the end of the IEND chunk. Text chunks, eXIf, iCCP and every chunk
type we do not know are metadata regions; zTXt, compressed iTXt and iCCP are inflated
(bounded) into `Structure.texts` so the engine can look inside them.
"""

from __future__ import annotations

import zlib

from agent.inspect.base import Region, Structure
from agent.inspect.limits import MAX_METADATA_BYTES, MAX_STRUCTURES, MAX_TEXT_CHUNK_BYTES, Limits
from agent.inspect.png_data import ImageData, decoded_bytes, raw_size, valid_icc_profile
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CHUNK_LENGTH = 0x7FFF_FFFF  # bytes: the PNG spec's limit for one chunk's data
CRC_WINDOW_BYTES = 4 * 1024**2  # bytes hashed per step when checking a large chunk's CRC
MAX_PADDING_AFTER_IEND = 16  # bytes of whitespace/NUL after IEND accepted as writer padding
PADDING_BYTES = b" \t\r\n\x00"
# bytes: an iCCP profile is inflated up to this, outside the text budget. Printer and
# device-link profiles run to several MB (ICC.1 allows up to 4 GB); a real one is then
# checked as ICC (`acsp`, declared size) rather than counted as hidden text.
MAX_ICC_PROFILE_BYTES = 32 * 1024**2

# Chunks whose bytes are text or opaque metadata (scanned by the engine for payloads).
METADATA_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP"})
# Registered chunks that carry image data or small fixed fields (not metadata).
KNOWN_CHUNKS = frozenset(
    {
        b"IHDR",
        b"PLTE",
        b"IDAT",
        b"IEND",
        b"cHRM",
        b"gAMA",
        b"sBIT",
        b"sRGB",
        b"bKGD",
        b"hIST",
        b"tRNS",
        b"pHYs",
        b"sPLT",
        b"tIME",
        b"acTL",
        b"fcTL",
        b"fdAT",
        b"cICP",
        b"mDCV",
        b"mDCv",
        b"cLLI",
        b"cLLi",
        b"oFFs",
        b"pCAL",
        b"sCAL",
        b"sTER",
        b"gIFg",
    }
)
# Registered chunks of fixed-size fields (PNG 3rd edition §11, APNG): the largest payload a
# decoder reads (sBIT and bKGD at RGBA/16-bit). Bytes past it are read by nothing.
FIXED_CHUNK_BYTES = {
    b"IHDR": 13,
    b"IEND": 0,
    b"gAMA": 4,
    b"cHRM": 32,
    b"sRGB": 1,
    b"sBIT": 4,
    b"bKGD": 6,
    b"pHYs": 9,
    b"tIME": 7,
    b"oFFs": 9,
    b"sTER": 1,
    b"gIFg": 4,
    b"acTL": 8,
    b"fcTL": 26,
    b"cICP": 4,
    b"cLLI": 8,
    b"cLLi": 8,
    b"mDCV": 24,
    b"mDCv": 24,
}
# Registered chunks whose whole content is values of the writer's choosing (palette entries,
# alpha values, a histogram, palette names, calibration names and units): judged like text.
VALUE_CHUNKS = frozenset({b"PLTE", b"tRNS", b"hIST", b"sPLT", b"pCAL", b"sCAL"})


def _finding(code: str, severity: Severity, message: str, offset: int, detail: str) -> Finding:
    return Finding(code=code, severity=severity, message=message, offset=offset, detail=detail)


def _is_chunk_type(untrusted_type: bytes) -> bool:
    """Chunk types are four ASCII letters."""
    return len(untrusted_type) == 4 and all(
        0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A for b in untrusted_type
    )


def _crc_matches(reader: Reader, type_offset: int, data_length: int) -> bool:
    """CRC-32 over type + data, computed window by window (no copy of a huge IDAT)."""
    crc = 0
    pos = type_offset
    stop = type_offset + 4 + data_length
    while pos < stop:
        reader.check_deadline()
        step = min(CRC_WINDOW_BYTES, stop - pos)
        crc = zlib.crc32(reader.read(pos, step), crc)
        pos += step
    return crc == reader.u32be(stop)


class _TextBudget:
    """Inflates compressed text chunks within the per-chunk and per-file caps."""

    def __init__(self) -> None:
        self.used = 0
        self.over_cap_at: int | None = None

    def inflate(
        self, untrusted_compressed: bytes, offset: int, own_cap: int | None = None
    ) -> bytes | None:
        """Decompressed bytes (cut at the cap), or None when the stream is corrupt.

        With `own_cap` the chunk has a budget of its own (an ICC profile) and does not
        count against the per-file text budget.
        """
        if own_cap is not None:
            cap = own_cap
        else:
            cap = min(MAX_TEXT_CHUNK_BYTES, MAX_METADATA_BYTES - self.used)
        if cap <= 0:
            if self.over_cap_at is None:
                self.over_cap_at = offset
            return b""
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(untrusted_compressed, cap)
            # One more byte of output means the text is longer than the cap.
            over = not inflater.eof and bool(inflater.decompress(inflater.unconsumed_tail, 1))
        except zlib.error:
            return None
        if over and self.over_cap_at is None:
            self.over_cap_at = offset
        if own_cap is None:
            self.used += len(out)
        return out


def _compressed_part(chunk_type: bytes, data: bytes) -> bytes | None:
    """The zlib stream inside a zTXt/iCCP/compressed iTXt chunk, or None when not compressed."""
    nul = data.find(b"\x00")
    if nul < 0:
        return None
    if chunk_type in (b"zTXt", b"iCCP"):
        return data[nul + 2 :]  # keyword NUL, compression method, stream
    if chunk_type == b"iTXt":
        if len(data) < nul + 3 or data[nul + 1] != 1:
            return None  # uncompressed iTXt: its text is already in the raw bytes
        rest = data[nul + 3 :]  # flag, method, then language NUL translated-keyword NUL
        lang_end = rest.find(b"\x00")
        key_end = rest.find(b"\x00", lang_end + 1) if lang_end >= 0 else -1
        return rest[key_end + 1 :] if key_end >= 0 else None
    return None


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk a PNG/APNG from its signature to IEND. Never raises for malformed input."""
    del limits  # the pixel thresholds are applied by the engine
    st = Structure(type="png")
    if reader.read(0, 8) != PNG_SIGNATURE:
        st.findings.append(
            _finding(
                "png.malformed",
                Severity.LOW,
                "The picture's PNG header is damaged.",
                0,
                "PNG signature missing or wrong",
            )
        )
        return st
    texts = _TextBudget()
    image = ImageData()
    bad_crc_reported = False
    pos = len(PNG_SIGNATURE)
    for _ in range(MAX_STRUCTURES):
        reader.check_deadline()
        if pos == reader.size:
            st.end = pos
            st.findings.append(
                _finding(
                    "png.truncated",
                    Severity.LOW,
                    "The picture file is incomplete.",
                    pos,
                    "file ends before the IEND chunk",
                )
            )
            break
        length = reader.u32be(pos)
        chunk_type = reader.read(pos + 4, 4)
        if length is None or not _is_chunk_type(chunk_type) or length > MAX_CHUNK_LENGTH:
            # Not a chunk: the PNG stops here and whatever follows is left over.
            st.end = pos
            st.findings.append(
                _finding(
                    "png.malformed",
                    Severity.LOW,
                    "The picture's structure is damaged.",
                    pos,
                    f"no valid chunk header at offset {pos}",
                )
            )
            break
        data_offset = pos + 8
        chunk_end = data_offset + length + 4
        if chunk_end > reader.size:
            st.end = reader.size
            st.findings.append(
                _finding(
                    "png.truncated",
                    Severity.LOW,
                    "The picture file is incomplete.",
                    pos,
                    f"chunk {chunk_type.decode()} at {pos} runs past the end of the file",
                )
            )
            break
        if not _crc_matches(reader, pos + 4, length) and not bad_crc_reported:
            bad_crc_reported = True
            st.findings.append(
                _finding(
                    "png.malformed",
                    Severity.LOW,
                    "The picture has a damaged part.",
                    pos,
                    f"bad CRC on chunk {chunk_type.decode()} at offset {pos}",
                )
            )
        _note_chunk(reader, st, texts, chunk_type, pos, data_offset, length)
        _known_chunk_content(st, chunk_type, pos, data_offset, length)
        if chunk_type == b"IHDR" and length >= 13:
            _note_header(reader, st, image, data_offset)
        elif chunk_type == b"acTL" and length >= 8:
            image.declared_frames = reader.u32be(data_offset)
        image.chunk(chunk_type, pos, data_offset, length)
        pos = chunk_end
        if chunk_type == b"IEND":
            st.end = pos
            _account_padding(reader, st, pos)
            break
    else:
        st.end = pos
        st.findings.append(
            _finding(
                "png.malformed",
                Severity.LOW,
                "The picture's structure is damaged.",
                pos,
                f"more than {MAX_STRUCTURES} chunks",
            )
        )
    _finish_image_data(reader, st, image)
    if texts.over_cap_at is not None:
        st.findings.append(
            Finding(
                code="resource.metadata_too_large",
                severity=Severity.MEDIUM,
                message="The picture carries an unusually large amount of hidden text.",
                offset=texts.over_cap_at,
                detail=f"decompressed text over {MAX_TEXT_CHUNK_BYTES} bytes per chunk "
                f"or {MAX_METADATA_BYTES} bytes per file",
            )
        )
    return st


def _note_chunk(
    reader: Reader,
    st: Structure,
    texts: _TextBudget,
    chunk_type: bytes,
    pos: int,
    data_offset: int,
    length: int,
) -> None:
    """Record what one chunk tells us: dimensions, frames, metadata, inflated text."""
    if chunk_type == b"IHDR" and length >= 8 and st.width is None:
        st.width = reader.u32be(data_offset)
        st.height = reader.u32be(data_offset + 4)
        if st.width is not None and st.height is not None:
            st.pixels = st.width * st.height
            st.frames = st.frames or 1
    elif chunk_type == b"acTL" and length >= 8:
        st.frames = reader.u32be(data_offset)
    elif chunk_type in METADATA_CHUNKS or chunk_type not in KNOWN_CHUNKS:
        label = f"PNG {chunk_type.decode()}"
        st.metadata.append(Region(pos, data_offset + length + 4, label))
        if chunk_type in (b"zTXt", b"iTXt", b"iCCP"):
            stream = _compressed_part(chunk_type, reader.read(data_offset, length))
            if stream is not None:
                own_cap = MAX_ICC_PROFILE_BYTES if chunk_type == b"iCCP" else None
                inflated = texts.inflate(stream, pos, own_cap)
                if inflated and own_cap is not None and not valid_icc_profile(inflated):
                    st.findings.append(
                        _finding(
                            "png.malformed",
                            Severity.LOW,
                            "The picture's colour profile is damaged.",
                            pos,
                            f"iCCP at {pos} does not inflate to an ICC profile "
                            "(no 'acsp' signature or wrong declared size)",
                        )
                    )
                if inflated is None:
                    st.findings.append(
                        _finding(
                            "png.malformed",
                            Severity.LOW,
                            "The picture has a damaged part.",
                            pos,
                            f"{chunk_type.decode()} at {pos}: corrupt zlib stream",
                        )
                    )
                elif inflated:
                    st.texts.append((label, pos, inflated))


def _known_chunk_content(
    st: Structure, chunk_type: bytes, pos: int, data_offset: int, length: int
) -> None:
    """Registered chunks hold nothing a judge skips: the values of a value chunk are
    metadata, and a fixed-size chunk longer than its fields (an IEND with data) is
    unexplained, fields included: a payload written from the chunk's first byte is judged
    from its own start, and the few field bytes cannot make harmless slack look like one."""
    if chunk_type in VALUE_CHUNKS:
        st.metadata.append(Region(pos, data_offset + length + 4, f"PNG {chunk_type.decode()}"))
        return
    fixed = FIXED_CHUNK_BYTES.get(chunk_type)
    if fixed is not None and length > fixed:
        label = f"PNG {chunk_type.decode()} longer than its {fixed} bytes of fields"
        st.unexplained.append(Region(data_offset, data_offset + length, label))


def _account_padding(reader: Reader, st: Structure, end: int) -> None:
    """A few whitespace/NUL bytes after IEND are writer padding, not a payload."""
    rest = reader.size - end
    if 0 < rest <= MAX_PADDING_AFTER_IEND and not reader.read(end, rest).strip(PADDING_BYTES):
        st.accounted.append(Region(end, reader.size, "padding after IEND"))


def _note_header(reader: Reader, st: Structure, image: ImageData, data_offset: int) -> None:
    """IHDR: the raw size the IDAT stream must inflate to and the decoded size."""
    fields = reader.unpack(">IIBBBBB", data_offset)
    if fields is None:
        return
    width, height, bit_depth, colour, _compression, _filter, interlace = fields
    image.raw_bytes = raw_size(width, height, bit_depth, colour, interlace == 1)
    if st.decoded_bytes is None:
        st.decoded_bytes = decoded_bytes(width, height, bit_depth, colour)


def _finish_image_data(reader: Reader, st: Structure, image: ImageData) -> None:
    """Judge the IDAT stream's end and stray IDAT/fdAT chunks (see `png_data`)."""
    if not image.finish(reader):
        st.findings.append(
            _finding(
                "png.malformed",
                Severity.LOW,
                "The picture's image data is damaged.",
                image.idat[0][0] if image.idat else 0,
                "corrupt zlib stream in IDAT",
            )
        )
    st.unexplained.extend(image.unexplained)
    st.image_bytes = image.image_bytes or None
