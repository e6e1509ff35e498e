"""Bytes whose end no walker can find: their start and end are judged instead.

Two cases. A bare JPEG XL codestream has no length and no end marker (`jxl.py`). And
libmagic names many more picture types than the engine walks (camera raws such as Olympus
ORF, Panasonic RW2 or Fuji RAF, Sun raster, SGI, XPM, JPEG XR, FITS...): the engine types
them `image_other`, and without a walker data appended to them was judged by nothing.

For both, `head_and_tail` hands the first HEAD_JUDGED_BYTES and the last TAIL_JUDGED_BYTES
of the range to the engine as metadata regions, judged with the full marker set, the script
detector and the decoders (a ZIP's end record lies in its last 65,557 bytes; a program at
the start is in the head); the `<`-anchored pixel pass still covers every byte. The end is
the file's size, so nothing is "after" it, and an info finding says the type was not walked.
"""

from __future__ import annotations

from agent.inspect.base import Region, Structure
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

TAIL_JUDGED_BYTES = 65_557 + 1024  # bytes: a ZIP end record lies in the last 65,557
HEAD_JUDGED_BYTES = 64 * 1024  # bytes at the start judged for a payload


def head_and_tail(st: Structure, start: int, size: int, what: str) -> None:
    """Metadata regions for the first and last bytes of [start, size), labelled by `what`."""
    head_end = min(size, start + HEAD_JUDGED_BYTES)
    st.metadata.append(Region(start, head_end, f"{what} start (unknown length)"))
    tail_start = max(head_end, size - TAIL_JUDGED_BYTES)
    if tail_start < size:
        st.metadata.append(Region(tail_start, size, f"{what} end (unknown length)"))


def walk(reader: Reader, limits: Limits) -> Structure:
    """A picture type with no walker (`image_other`): head and tail judged. Never raises."""
    del limits
    st = Structure(type="image_other", end=reader.size)
    head_and_tail(st, 0, reader.size, "picture")
    st.findings.append(
        Finding(
            "image_other.not_walked",
            Severity.INFO,
            "This picture type's structure is not checked; its start and end were checked "
            "for hidden files.",
            detail=f"first {HEAD_JUDGED_BYTES} and last {TAIL_JUDGED_BYTES} bytes judged",
        )
    )
    return st
