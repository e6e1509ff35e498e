"""Thumbnails for the review window, made the way safe copies are (policy `ui.thumbnails`).

The untrusted file is decoded only by the limited child (agent.sanitize.child), which
orients it, converts it to sRGB and shrinks it before handing back pixels; this process
checks the few pixels it receives and encodes a fresh PNG that Tk can draw. Nothing else
of the file is ever drawn, and no decoder runs in the window's process.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

from agent.sanitize.parent import MAX_PIXELS, SanitizeError, decode_in_child
from agent.sanitize.stream import CollectingSink

THUMBNAIL_SIDE_PX = 160  # the review window's thumbnail: at most this wide and tall


def thumbnail_png(
    source: Path | bytes | Iterable[bytes], max_side: int, *, max_pixels: int = MAX_PIXELS
) -> bytes:
    """A small PNG of the picture for the review window, made like a safe copy.

    The limited child decodes, orients, converts to sRGB and shrinks; this process checks
    the few pixels it hands back and encodes a fresh PNG. Nothing else of the file is drawn.
    """
    sinks: list[CollectingSink] = []

    def collect(width: int, height: int, mode: str, _kind: str) -> CollectingSink:
        if max(width, height) > max_side:
            raise SanitizeError("The picture converter sent a thumbnail larger than asked.")
        sinks.append(CollectingSink(width, height, mode))
        return sinks[-1]

    decode_in_child(source, collect, max_pixels=max_pixels, thumbnail_px=max_side)
    buffer = io.BytesIO()
    sinks[0].image.save(buffer, "PNG")
    return buffer.getvalue()
