"""GIF walker: header, logical screen, colour tables, blocks up to the 0x3B trailer.

Each frame's LZW data is followed to its end code (`gif_lzw`): sub-block bytes after it
are never decoded and are reported as unexplained. The declared size is the canvas a
decoder allocates: the logical screen grown to cover every frame at its offset (Pillow
does so), so a 1x1 screen with a frame at (65534, 65534) counts as 65535x65535.

Comment (0xFE), application (0xFF) and plain-text (0x01) extensions are metadata regions.
Photoshop's XMP application extension ("XMP DataXMP") stores raw XMP followed by a
258-byte "magic trailer" that makes a sub-block walk land on the terminator; we skip to
the end of that trailer directly when it is present.
"""

from __future__ import annotations

import re

from agent.inspect import gif_lzw
from agent.inspect.base import Region, Structure
from agent.inspect.limits import MAX_STRUCTURES, Limits
from agent.inspect.reader import Reader
from agent.model import Finding, Severity

GIF_SIGNATURES = (b"GIF87a", b"GIF89a")
LOGICAL_SCREEN_END = 13  # bytes: header (6) + logical screen descriptor (7)
IMAGE_DESCRIPTOR_BYTES = 10  # bytes: separator, left, top, width, height, flags
SUB_BLOCK_READ_BYTES = 64 * 1024  # bytes read at once while hopping over sub-blocks
XMP_APP_ID = b"XMP DataXMP"
XMP_MAGIC_TRAILER = b"\x01" + bytes(range(0xFF, -1, -1)) + b"\x00"  # 258 bytes
JS_COMMENT_OPENERS = (b"/*", b"//")
_JS_IDENTIFIER = re.compile(rb"[A-Za-z0-9_$]{2}")

EXTENSION_LABELS = {0xFE: "comment", 0xFF: "application", 0x01: "plain text"}
GRAPHIC_CONTROL = 0xF9  # GIF89a §23: one 4-byte block (flags, delay, transparent index)
GRAPHIC_CONTROL_BYTES = 4


def _finding(code: str, severity: Severity, message: str, offset: int, detail: str) -> Finding:
    return Finding(code=code, severity=severity, message=message, offset=offset, detail=detail)


def skip_sub_blocks(reader: Reader, pos: int) -> int | None:
    """Offset just past the 0x00 block terminator, or None when the file ends first.

    Reads the data in 64 KiB pieces and hops from length byte to length byte there.
    """
    while True:
        reader.check_deadline()
        window = reader.read(pos, SUB_BLOCK_READ_BYTES)
        if not window:
            return None
        i = 0
        while i < len(window):
            size = window[i]
            if size == 0:
                return pos + i + 1
            i += size + 1
        pos += i


def _js_polyglot_header(screen: bytes) -> bool:
    """True when the logical-screen bytes after `GIF89a` open a JavaScript comment."""
    width, height = screen[0:2], screen[2:4]
    if width in JS_COMMENT_OPENERS:
        return True
    return bool(_JS_IDENTIFIER.fullmatch(width)) and height in JS_COMMENT_OPENERS


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk a GIF from its header to the trailer. Never raises for malformed input."""
    del limits
    st = Structure(type="gif")
    if reader.read(0, 6) not in GIF_SIGNATURES or reader.size < LOGICAL_SCREEN_END:
        st.findings.append(
            _finding(
                "gif.malformed",
                Severity.LOW,
                "The picture's GIF header is damaged.",
                0,
                "GIF signature or logical screen descriptor missing",
            )
        )
        return st
    screen = reader.read(6, 7)
    if _js_polyglot_header(screen):
        st.findings.append(
            Finding(
                code="gif.js_polyglot_header",
                severity=Severity.HIGH,
                message="This picture is built to also run as a script.",
                offset=6,
                length=4,
                payload="script",
                detail=f"logical screen bytes {screen[0:4]!r} open a JavaScript comment",
            )
        )
    st.width = screen[0] | screen[1] << 8
    st.height = screen[2] | screen[3] << 8
    canvas_w, canvas_h = st.width, st.height
    lzw = gif_lzw.FrameData()
    flags = screen[4]
    pos = LOGICAL_SCREEN_END + _colour_table(st, LOGICAL_SCREEN_END, flags, "global")
    frames = 0
    for _ in range(MAX_STRUCTURES):
        reader.check_deadline()
        block = reader.byte(pos)
        if block is None:
            st.end = reader.size if pos >= reader.size else pos
            st.findings.append(
                _finding(
                    "gif.malformed",
                    Severity.LOW,
                    "The picture has no proper ending.",
                    reader.size,
                    "no GIF trailer (0x3B) before the end of the file",
                )
            )
            break
        if block == 0x3B:
            st.end = pos + 1
            break
        if block == 0x2C:
            descriptor = reader.read(pos, IMAGE_DESCRIPTOR_BYTES)
            if len(descriptor) < IMAGE_DESCRIPTOR_BYTES:
                next_pos = None
            else:
                frames += 1
                left, top, w, h = (
                    int.from_bytes(descriptor[i : i + 2], "little") for i in (1, 3, 5, 7)
                )
                canvas_w, canvas_h = max(canvas_w, left + w), max(canvas_h, top + h)
                data_pos = pos + IMAGE_DESCRIPTOR_BYTES
                data_pos += _colour_table(st, data_pos, descriptor[9], "local")
                next_pos = skip_sub_blocks(reader, data_pos + 1)  # +1: LZW minimum code size
                if next_pos is not None:
                    lzw.frame(reader, data_pos, next_pos)
        elif block == 0x21:
            next_pos = _extension(reader, st, pos)
        else:
            st.end = pos
            st.findings.append(
                _finding(
                    "gif.malformed",
                    Severity.LOW,
                    "The picture's structure is damaged.",
                    pos,
                    f"unknown block 0x{block:02X} at offset {pos}",
                )
            )
            break
        if next_pos is None:
            st.end = reader.size
            st.findings.append(
                _finding(
                    "gif.truncated",
                    Severity.LOW,
                    "The picture file is incomplete.",
                    pos,
                    f"block at {pos} runs past the end of the file",
                )
            )
            break
        pos = next_pos
    else:
        st.end = pos
        st.findings.append(
            _finding(
                "gif.malformed",
                Severity.LOW,
                "The picture's structure is damaged.",
                pos,
                f"more than {MAX_STRUCTURES} blocks",
            )
        )
    st.frames = frames
    st.pixels = canvas_w * canvas_h
    lzw.finish(reader, st)
    st.image_bytes = lzw.image_bytes
    return st


def _extension(reader: Reader, st: Structure, pos: int) -> int | None:
    """Skip one extension block (recording metadata ones); its end, or None if truncated."""
    label = reader.byte(pos + 1)
    if label is None:
        return None
    body = pos + 2
    end: int | None = None
    if label == 0xFF and reader.read(body, 12) == b"\x0b" + XMP_APP_ID:
        trailer_at = reader.find(XMP_MAGIC_TRAILER, body + 12)
        if trailer_at >= 0:
            end = trailer_at + len(XMP_MAGIC_TRAILER)
    if end is None:
        end = skip_sub_blocks(reader, body)
    region_end = reader.size if end is None else end
    if label in EXTENSION_LABELS:
        st.metadata.append(Region(pos, region_end, f"GIF {EXTENSION_LABELS[label]} extension"))
    elif label == GRAPHIC_CONTROL:
        block = reader.read(body, GRAPHIC_CONTROL_BYTES + 2)  # size byte, fields, terminator
        if block[:1] != bytes([GRAPHIC_CONTROL_BYTES]) or block[-1:] != b"\x00":
            # More than its one 4-byte block: the rest is read by no decoder.
            label_text = "GIF graphic control extension longer than 4 bytes"
            st.unexplained.append(Region(body, region_end, label_text))
    else:
        # A label GIF89a does not define: decoders skip its sub-blocks unread.
        st.metadata.append(Region(pos, region_end, f"GIF unknown extension 0x{label:02X}"))
    return end


def _colour_table(st: Structure, at: int, flags: int, scope: str) -> int:
    """Bytes of the colour table that `flags` announces at `at` (a metadata region: its
    entries are values of the writer's choosing, judged like text), 0 when there is none."""
    if not flags & 0x80:
        return 0
    size = 3 << ((flags & 7) + 1)
    st.metadata.append(Region(at, at + size, f"GIF {scope} colour table"))
    return size
