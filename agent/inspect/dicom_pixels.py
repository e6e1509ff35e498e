"""DICOM pixel data judged: native values, encapsulated fragments, the Basic Offset Table.

Pixel data is most of a DICOM file and the usual place to hide something (the fragments
of encapsulated pixel data are opaque items of any length). What belongs there is known:

* a native value holds rows x columns x samples x frames pixels of BitsAllocated bits
  (PS3.5 §8.1.1), plus one byte of even-length padding; bytes beyond that are unexplained;
* the Basic Offset Table (first item) is empty or 4-byte offsets, ascending, inside the
  fragments (PS3.5 §A.4); anything else is unexplained;
* a fragment is compressed image data; one that starts like a program, an archive or a
  document is unexplained; a JPEG frame (JPEG, JPEG-LS, lossless) is walked from SOI to
  EOI with the JPEG segment walker (its APPn segments become metadata) and bytes after
  its EOI (beyond one padding byte) are unexplained; a JPEG 2000 codestream ends at its
  last EOC marker.

The engine judges every unexplained range with the classifier (`dicom.unexplained_data`);
the `<`-anchored marker pass over all pixel bytes finds PHP or HTML placed among the pixels
(`dicom.payload_in_image_data`).
"""

from __future__ import annotations

from typing import Literal

from agent.inspect import payload
from agent.inspect.base import Region, Structure
from agent.inspect.classify.kinds import DANGEROUS_KINDS, kind_at_start
from agent.inspect.dicom_parse import PixelData
from agent.inspect.jpeg.segments import walk_segments
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

FRAGMENT_HEAD_BYTES = 4096  # bytes of a fragment's start checked for a foreign signature
J2K_TAIL_BYTES = 64 * 1024  # bytes at a JPEG 2000 fragment's end searched for its EOC
MAX_JPEG_FRAMES_WALKED = 4096  # frames walked with the JPEG segment walker per file
MAX_FRAME_WALK_BYTES = 64 * 1024**2  # bytes: a larger fragment is not walked as a frame
MAX_METADATA_FROM_FRAMES = 1000  # APPn regions of embedded frames recorded per file
JPEG_SOI = b"\xff\xd8"
J2K_SOC = b"\xff\x4f\xff\x51"
J2K_EOC = b"\xff\xd9"
JP2_SIGNATURE_BOX = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
TS_PREFIX = "1.2.840.10008.1.2."
# Transfer syntax (PS3.5 §A.4, §8.2) -> the signatures a frame's first fragment starts with.
FRAME_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    **{TS_PREFIX + n: (JPEG_SOI,) for n in ("4.50", "4.51", "4.57", "4.70", "4.80", "4.81")},
    **{
        TS_PREFIX + n: (J2K_SOC, JP2_SIGNATURE_BOX)
        for n in ("4.90", "4.91", "4.92", "4.93", "4.201", "4.202", "4.203")
    },
}
RLE_LOSSLESS = TS_PREFIX + "5"
MAX_RLE_SEGMENTS = 15  # PS3.5 §G.3.1
RLE_HEADER_BYTES = 64


def native_capacity(values: dict[tuple[int, int], bytes], little: bool) -> int | None:
    """Bytes a native pixel value needs (PS3.5 §8.1.1), or None when the header is unknown."""
    order: Literal["little", "big"] = "little" if little else "big"

    def number(tag: tuple[int, int]) -> int | None:
        raw = values.get(tag, b"")
        return int.from_bytes(raw[:2], order) if len(raw) >= 2 else None

    rows, cols = number((0x0028, 0x0010)), number((0x0028, 0x0011))
    bits = number((0x0028, 0x0100))
    samples = number((0x0028, 0x0002)) or 1
    frames_raw = values.get((0x0028, 0x0008), b"1").strip(b"\x00 ") or b"1"
    frames = int(frames_raw) if frames_raw.isdigit() and len(frames_raw) <= 9 else None
    if rows is None or cols is None or bits is None or frames is None or bits == 0:
        return None
    total_bits = rows * cols * samples * frames * bits
    return (total_bits + 7) // 8


def _offset_table_is_valid(
    reader: Reader, table: tuple[int, int], total: int, little: bool
) -> bool:
    start, end = table
    length = end - start
    if length == 0:
        return True
    if length % 4:
        return False
    raw = reader.read(start, length)
    order: Literal["little", "big"] = "little" if little else "big"
    offsets = [int.from_bytes(raw[i : i + 4], order) for i in range(0, len(raw), 4)]
    return offsets[0] == 0 and offsets == sorted(offsets) and offsets[-1] < max(total, 1)


def _is_rle_header(head: bytes) -> bool:
    """RLE Lossless header: 1-15 segments, the first at offset 64, offsets ascending."""
    if len(head) < RLE_HEADER_BYTES:
        return False
    count = int.from_bytes(head[:4], "little")
    if not 1 <= count <= MAX_RLE_SEGMENTS:
        return False
    offsets = [int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "little") for i in range(count)]
    return offsets[0] == RLE_HEADER_BYTES and offsets == sorted(offsets)


def _starts_frame(head: bytes, transfer_syntax: str) -> bool:
    """Does a fragment that must begin a frame begin like one for this transfer syntax?"""
    if transfer_syntax == RLE_LOSSLESS:
        return _is_rle_header(head)
    expected = FRAME_SIGNATURES.get(transfer_syntax)
    return expected is None or head.startswith(expected)  # other codecs: not judged


def _judge_jpeg_frame(
    reader: Reader, st: Structure, start: int, end: int, budget: list[int]
) -> bool:
    """Walk one JPEG frame starting a fragment; bytes after its EOI are unexplained.

    Returns True when the frame ended inside this fragment (the next one starts a frame).
    """
    if end - start > MAX_FRAME_WALK_BYTES:
        return False
    # The fragment alone, so a frame without EOI cannot send the walk through the file.
    fragment = Reader.from_bytes(reader.read(start, end - start), deadline=reader.deadline)
    walk = walk_segments(fragment, 0, label_prefix="DICOM frame ")
    if walk.end is None:
        return False  # the frame continues in the next fragment (or is cut)
    for region in walk.metadata:
        if budget[0] > 0:
            st.metadata.append(Region(start + region.start, start + region.end, region.label))
            budget[0] -= 1
    eoi = start + walk.end
    if end - eoi > 1 or (end - eoi == 1 and reader.read(eoi, 1) != b"\x00"):
        st.unexplained.append(Region(eoi, end, "DICOM pixel fragment after the frame's EOI"))
    return True


def _judge_j2k_frame(reader: Reader, st: Structure, start: int, end: int) -> None:
    """A JPEG 2000 codestream ends with EOC (FFD9): bytes after the last EOC are unexplained."""
    window_start = max(start, end - J2K_TAIL_BYTES)
    tail = reader.read(window_start, end - window_start)
    eoc = tail.rfind(J2K_EOC)
    if eoc < 0:
        return  # split over fragments, or the EOC lies beyond the window: not judged here
    after = window_start + eoc + 2
    if end - after > 1 or (end - after == 1 and reader.read(after, 1) != b"\x00"):
        st.unexplained.append(Region(after, end, "DICOM pixel fragment after the codestream"))


def judge_pixel_data(
    reader: Reader,
    st: Structure,
    pixels: PixelData,
    values: dict[tuple[int, int], bytes],
    *,
    little: bool = True,
    transfer_syntax: str = "",
) -> None:
    """Record unexplained pixel bytes in `st` and report markers among the pixels."""
    ranges = list(pixels.fragments)
    if pixels.native is not None:
        start, end = pixels.native
        ranges.append(pixels.native)
        capacity = native_capacity(values, little)
        if capacity is not None and end - start > capacity + 1:
            beyond = Region(start + capacity, end, "DICOM pixel data beyond the image")
            st.unexplained.append(beyond)
    if pixels.offset_table is not None:
        total = sum(8 + b - a for a, b in pixels.fragments)
        if not _offset_table_is_valid(reader, pixels.offset_table, total, little):
            start, end = pixels.offset_table
            st.unexplained.append(Region(start, end, "DICOM Basic Offset Table"))
    budget = [MAX_METADATA_FROM_FRAMES]
    walked = 0
    frame_starts = True  # the first fragment begins a frame, as does one after a whole frame
    for start, end in pixels.fragments:
        reader.check_deadline()
        head = reader.read(start, min(end - start, FRAGMENT_HEAD_BYTES))
        if kind_at_start(head) in DANGEROUS_KINDS or (
            frame_starts and not _starts_frame(head, transfer_syntax)
        ):
            st.unexplained.append(Region(start, end, "DICOM pixel fragment"))
            frame_starts = True
        elif head.startswith(JPEG_SOI) and walked < MAX_JPEG_FRAMES_WALKED:
            walked += 1
            frame_starts = _judge_jpeg_frame(reader, st, start, end, budget)
        elif head.startswith(J2K_SOC):
            _judge_j2k_frame(reader, st, start, end)
            frame_starts = False  # where a codestream ends is not walked: no claim
        else:
            frame_starts = transfer_syntax == RLE_LOSSLESS  # one fragment per RLE frame
    for start, end in ranges:
        markers = payload.find_markers(reader, start, end, True, pixel_data=True)
        if markers:
            first = markers[0]
            st.findings.append(
                Finding(
                    "dicom.payload_in_image_data",
                    Severity.HIGH,
                    "Hidden inside this medical image's pixels is a web page or script.",
                    offset=first.offset,
                    length=len(first.text),
                    payload=first.kind,
                    detail=f"{first.kind} marker {first.text[:24]!r} in pixel data at {start}",
                )
            )
            return
