"""XML text in UTF-16 or UTF-32, with or without a byte-order mark, read as UTF-8.

Browsers and librsvg open an SVG saved as UTF-16 (Windows editors do that) exactly like a
UTF-8 one, so sniffing and the SVG checks must see its tags. The encoding is taken from the
BOM, or without one from where the NUL bytes sit in the first characters (XML 1.0
Appendix F): `<\\0` is UTF-16LE, `\\0\\0\\0<` UTF-32BE, and so on.
"""

from __future__ import annotations

import re

DETECT_BYTES = 64  # bytes at the start whose NUL layout decides a BOM-less encoding

_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_ENCODING_DECL = re.compile(rb"\A(\s*<\?xml[^>]{0,256}?encoding\s*=\s*)([\"'])[^\"']{0,64}\2")


def wide_encoding(data: bytes) -> tuple[str, int] | None:
    """(codec, BOM length) when `data` is UTF-16/UTF-32 text, else None."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec, len(bom)
    head = data[:DETECT_BYTES]
    if len(head) < 8:
        return None
    if head[0] and not any(head[1:4]) and head[4] and not any(head[5:8]):
        return "utf-32-le", 0
    if not any(head[0:3]) and head[3] and not any(head[4:7]) and head[7]:
        return "utf-32-be", 0
    even, odd = head[0::2], head[1::2]
    if all(even) and not any(odd):
        return "utf-16-le", 0
    if not any(even) and all(odd):
        return "utf-16-be", 0
    return None


def as_utf8(data: bytes) -> bytes:
    """`data` re-encoded as UTF-8 when it is UTF-16/32 (its XML declaration saying so);
    unchanged otherwise. Undecodable sequences become U+FFFD, never an exception."""
    found = wide_encoding(data)
    if found is None:
        return data
    codec, bom = found
    text = data[bom:].decode(codec, "replace").encode("utf-8")
    return _ENCODING_DECL.sub(rb'\1"UTF-8"', text, count=1)
