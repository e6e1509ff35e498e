"""Vendor footers at the end of a JPEG, matched from the end of the file backwards.

ExifTool's model (lib/Image/ExifTool.pm, IdentifyTrailer and ProcessTrailers; see
research/detection.md §2.2): look at the last bytes before the current end, recognise one
footer, let that trailer's own length information give its start, move the end there and
repeat (trailers chain). Each matcher reads a few bytes at a fixed distance from the end
(within ExifTool's 64-byte identification window) plus what its length field points at;
none loops over bytes in Python.

A matcher returns the trailer's start when its footer was recognised and its extent
verified, or None. The claim itself may still be refused (payload signature, ZIP end
record): the bytes then stay unaccounted for the engine to judge, and the chain goes on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from agent.inspect.jpeg.claims import Claims
from agent.inspect.jpeg.samsung import samsung_trailer
from agent.inspect.reader import Reader

MAX_FOOTERS = 64  # chained footers followed from the end of the file

# --- AFCP, FotoStation, PhotoMechanic, Insta360 ------------------------------------------


def _afcp(reader: Reader, claims: Claims, tail: int) -> int | None:
    """AFCP: footer [AXS! or AXS*][start offset u32][checksum u32]; header repeats the tag."""
    footer = reader.read(tail - 12, 12)
    if len(footer) != 12 or footer[:3] != b"AXS" or footer[3:4] not in (b"!", b"*"):
        return None
    big_endian = footer[3:4] == b"!"
    start = int.from_bytes(footer[4:8], "big" if big_endian else "little")
    if not (claims.eoi_end <= start < tail - 12) or reader.read(start, 4) != footer[:4]:
        # Offsets are absolute and go stale when the file is edited: look for the header.
        start = reader.find(footer[:4], claims.eoi_end, tail - 12)
        if start < 0:
            return None
    claims.add(start, tail, "AFCP trailer", "AFCP", opaque=True)
    return start


def _fotostation(reader: Reader, claims: Claims, tail: int) -> int | None:
    """FotoStation: records chained backwards, each ending [tag u16][size u32][A1 B2 C3 D4]."""
    pos = tail
    for _ in range(MAX_FOOTERS):
        raw = reader.unpack(">HII", pos - 10)
        if raw is None or raw[2] != 0xA1B2C3D4 or raw[1] < 10 or pos - raw[1] < claims.eoi_end:
            break
        pos -= raw[1]
    if pos == tail:
        return None
    claims.add(pos, tail, "FotoStation trailer", "FotoStation", opaque=True)
    return pos


def _photomechanic(reader: Reader, claims: Claims, tail: int) -> int | None:
    """PhotoMechanic: [IPTC records][size u32be]["cbipcbbl"]."""
    if reader.read(tail - 8, 8) != b"cbipcbbl":
        return None
    size = reader.u32be(tail - 12)
    if size is None or tail - 12 - size < claims.eoi_end:
        return None
    start = tail - 12 - size
    claims.add(start, tail, "PhotoMechanic trailer", "PhotoMechanic", opaque=True)
    return start


INSTA360_MAGIC = b"8db42d694ccc418790edff439fe026bf"
INSTA360_FOOTER_BYTES = 72  # 32 reserved + trailer size u32le + version u32le + 32-byte magic


def _insta360(reader: Reader, claims: Claims, tail: int) -> int | None:
    """Insta360: 72-byte footer ending in the ASCII magic; trailer size counts to the end."""
    if reader.read(tail - 32, 32) != INSTA360_MAGIC:
        return None
    size = reader.u32le(tail - 40)
    if size is None or size < INSTA360_FOOTER_BYTES or tail - size < claims.eoi_end:
        return None
    start = tail - size
    claims.add(start, tail, "Insta360 trailer", "Insta360", opaque=True)
    return start


# --- Canon VRD ----------------------------------------------------------------------------

CANON_VRD_SIGNATURE = b"CANON OPTIONAL DATA\x00"
CANON_VRD_HEADER_BYTES = 0x1C  # signature, version, data size u32be at +0x18
CANON_VRD_FOOTER_BYTES = 0x40  # signature, data size u32be at +0x14, reserved
CANON_VRD_LIMIT_BYTES = 0x80000000  # ProcessCanonVRD refuses trailers this long or longer
MAX_CANON_VRD_BLOCKS = 256  # recipe blocks walked (DPP writes a handful)


def _canon_vrd(reader: Reader, claims: Claims, tail: int) -> int | None:
    """Canon DPP recipe: [header][blocks][footer].

    Layout from lib/Image/ExifTool/CanonVRD.pm, ProcessCanonVRD: a 0x1c-byte header and a
    0x40-byte footer both start "CANON OPTIONAL DATA\\0" and hold the size of the data
    between them (u32be at header+0x18 and footer+0x14, kept equal by ExifTool's writer);
    the data is blocks [type u32be][length u32be][data] that end exactly at the footer.
    """
    footer = tail - CANON_VRD_FOOTER_BYTES
    if footer < claims.eoi_end or reader.read(footer, 20) != CANON_VRD_SIGNATURE:
        return None
    size = reader.u32be(footer + 0x14)
    if size is None:
        return None
    total = size + CANON_VRD_HEADER_BYTES + CANON_VRD_FOOTER_BYTES
    start = tail - total
    if total >= CANON_VRD_LIMIT_BYTES or start < claims.eoi_end:
        return None
    if reader.read(start, 20) != CANON_VRD_SIGNATURE or reader.u32be(start + 0x18) != size:
        return None
    pos = start + CANON_VRD_HEADER_BYTES
    for _ in range(MAX_CANON_VRD_BLOCKS):
        if pos == footer:
            break
        length = reader.u32be(pos + 4)
        if length is None or pos + 8 + length > footer:
            return None
        pos += 8 + length
    else:
        return None
    claims.add(start, tail, "Canon VRD recipe", "Canon VRD", opaque=True)
    return start


# --- MIE ----------------------------------------------------------------------------------

# The "zmie" signature element then the file-level group terminator carrying the group
# length (4 or 8 bytes, byte order 0x10 big / 0x18 little): IdentifyTrailer's regexes.
_MIE_FOOTER = re.compile(
    rb"~\x00\x04\x00zmie(?:~\x00\x00\x06.{4}[\x10\x18]\x04|~\x00\x00\x0a.{8}[\x10\x18]\x08)\Z",
    re.DOTALL,
)
MIE_FOOTER_WINDOW_BYTES = 22  # the longest footer variant (8-byte group length)
MAX_MIE_DOCUMENTS = 64  # concatenated MIE groups followed backwards
_MIE_LENGTH_FIELD_BYTES = {0xFF: 2, 0xFE: 4, 0xFD: 8}  # extended DataLength codes


def _mie_group_start(reader: Reader, claims: Claims, end: int) -> int | None:
    """Start of the file-level MIE group whose terminator ends at `end`, or None.

    lib/Image/ExifTool/MIE.pm, ProcessMIE (trailer branch) and its format specification:
    the terminator is "~\\0\\0\\x06" + length u32 + order + 04, or "~\\0\\0\\x0a" + length
    u64 + order + 08; the length covers the whole group, which opens with the element
    "~" order 04 <DataLength> "0MIE" (DataLength, when not 0 = unknown, is the rest).
    """
    last = reader.read(end - 10, 10)
    if len(last) != 10 or last[8] not in (0x10, 0x18):
        return None
    order = ">" if last[8] == 0x10 else "<"
    if last[9] == 4 and last[:4] == b"~\x00\x00\x06":
        length, minimum = int.from_bytes(last[4:8], "big" if order == ">" else "little"), 12
    elif last[9] == 8 and reader.read(end - 14, 4) == b"~\x00\x00\x0a":
        length, minimum = int.from_bytes(last[:8], "big" if order == ">" else "little"), 14
    else:
        return None
    start = end - length
    if length < minimum or start < claims.eoi_end:
        return None
    head = reader.read(start, 8)
    if len(head) != 8 or head[0:1] != b"~" or head[1] != last[8] or head[2] != 4:
        return None
    if head[4:8] != b"0MIE":
        return None
    extra = _MIE_LENGTH_FIELD_BYTES.get(head[3], 0)
    data_length = head[3] if not extra else None
    if extra:
        raw = reader.unpack(order + {2: "H", 4: "I", 8: "Q"}[extra], start + 8)
        if raw is None:
            return None
        data_length = raw[0]
    if data_length and 8 + extra + data_length != length:
        return None
    return start


def _mie(reader: Reader, claims: Claims, tail: int) -> int | None:
    """MIE trailer: file-level MIE groups, the last one signed "zmie" (MIE.pm, ProcessMIE)."""
    if not _MIE_FOOTER.search(reader.read(tail - MIE_FOOTER_WINDOW_BYTES, 22)):
        return None
    start: int | None = None
    end = tail
    for _ in range(MAX_MIE_DOCUMENTS):
        group = _mie_group_start(reader, claims, end)
        if group is None:
            break
        claims.add(group, end, "MIE trailer", "MIE", opaque=True)
        start = end = group
    return start


# --- NikonApp -----------------------------------------------------------------------------

NIKON_APP_MAGIC = b"\x00" * 6 + b"/NIKON APP"
NIKON_APP_FOOTER_BYTES = 20  # trailer length u32be + the magic
NIKON_APP_HEADER_BYTES = 0x40  # must contain "NIKON APP\0"


def _nikon_app(reader: Reader, claims: Claims, tail: int) -> int | None:
    """NikonApp: editing data (XMP records) written by Nikon's apps.

    lib/Image/ExifTool/Nikon.pm, ProcessNikonApp: the last 20 bytes are [trailer length
    u32be][6 zero bytes]["/NIKON APP"]; the length counts the whole trailer, which is at
    least 0x40 bytes and whose first 0x40 bytes contain "NIKON APP\\0".
    """
    if reader.read(tail - 16, 16) != NIKON_APP_MAGIC:
        return None
    length = reader.u32be(tail - NIKON_APP_FOOTER_BYTES)
    if length is None or length < NIKON_APP_HEADER_BYTES or tail - length < claims.eoi_end:
        return None
    start = tail - length
    if reader.find(b"NIKON APP\x00", start, start + NIKON_APP_HEADER_BYTES) < 0:
        return None
    claims.add(start, tail, "NikonApp trailer", "NikonApp", opaque=True)
    return start


# --- Vivo ---------------------------------------------------------------------------------

VIVO_FOOTER = b"\xff\xff\xff\xff\x1b*9HWfu\x84\x93\xa2\xb1"
VIVO_SEARCH_LIMIT_BYTES = 10_000_000  # ProcessVivo gives up on trailers this long
_VIVO_START = re.compile(rb'streamdata|vivo\{"')
_VIVO_HDR_PREFIX = b"streamdata"


def _vivo(reader: Reader, claims: Claims, tail: int) -> int | None:
    """Vivo: optional "streamdata" + HDR JPEG, JSON `vivo{...}`, then the 15-byte footer.

    lib/Image/ExifTool/Trailer.pm, ProcessVivo: the footer carries no length, so the start
    is the first "streamdata" or `vivo{"` after the end of the image (searched here in the
    last VIVO_SEARCH_LIMIT_BYTES before the footer, ExifTool's size limit).
    """
    if reader.read(tail - len(VIVO_FOOTER), len(VIVO_FOOTER)) != VIVO_FOOTER:
        return None
    found = reader.search(_VIVO_START, max(claims.eoi_end, tail - VIVO_SEARCH_LIMIT_BYTES), tail)
    if found is None:
        return None
    start = found.start()
    image_at = start + len(_VIVO_HDR_PREFIX)
    if found.group() == _VIVO_HDR_PREFIX:
        # Claim the HDR image as a JPEG (its pixel data is not an opaque blob).
        image_end = claims.add_embedded_jpeg(image_at, "Vivo HDR image", "Vivo trailer", tail)
        if image_end is not None:
            claims.add(start, image_at, "Vivo trailer header", "Vivo trailer", opaque=True)
            claims.add(image_end, tail, "Vivo trailer", "Vivo trailer", opaque=True)
            return start
    claims.add(start, tail, "Vivo trailer", "Vivo trailer", opaque=True)
    return start


# --- OnePlus ------------------------------------------------------------------------------

ONEPLUS_FOOTER_BYTES = 8  # "jxrs" + JSON length u32le (whose high byte is 0)
MAX_ONEPLUS_JSON_BYTES = 1024**2  # bytes of JSON index parsed (real ones are small)


def _oneplus(reader: Reader, claims: Claims, tail: int) -> int | None:
    """OnePlus: data items, a JSON index of them, then "jxrs" + the JSON length.

    lib/Image/ExifTool/Trailer.pm, ProcessOnePlus: the length (u32le, counting the 8-byte
    footer) gives the JSON start; the JSON is an array of {name, offset, length} whose
    offsets count back from the JSON start; the trailer is the largest offset plus the
    JSON length. No array, no trailer.
    """
    footer = reader.read(tail - ONEPLUS_FOOTER_BYTES, ONEPLUS_FOOTER_BYTES)
    if len(footer) != ONEPLUS_FOOTER_BYTES or footer[:4] != b"jxrs" or footer[7] != 0:
        return None
    json_length = int.from_bytes(footer[4:8], "little")
    if not ONEPLUS_FOOTER_BYTES < json_length < tail - claims.eoi_end:
        return None
    if json_length - ONEPLUS_FOOTER_BYTES > MAX_ONEPLUS_JSON_BYTES:
        return None
    json_start = tail - json_length
    untrusted_text = reader.read(json_start, json_length - ONEPLUS_FOOTER_BYTES).rstrip(b"\x00")
    try:
        untrusted_items = json.loads(untrusted_text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(untrusted_items, list):
        return None
    offsets = [
        item["offset"]
        for item in untrusted_items
        if isinstance(item, dict)
        and isinstance(item.get("offset"), int)
        and not isinstance(item["offset"], bool)
    ]
    start = json_start - max((o for o in offsets if o > 0), default=0)
    if start < claims.eoi_end:
        return None
    claims.add(start, tail, "OnePlus trailer", "OnePlus", opaque=True)
    return start


# --- the chain ----------------------------------------------------------------------------

Footer = Callable[[Reader, Claims, int], int | None]

# IdentifyTrailer's order.
_FOOTERS: tuple[Footer, ...] = (
    _afcp,
    _fotostation,
    _photomechanic,
    _canon_vrd,
    _mie,
    samsung_trailer,
    _insta360,
    _nikon_app,
    _vivo,
    _oneplus,
)


def match_footers(reader: Reader, claims: Claims) -> int:
    """Claim the chained footers at the end of the file; the start of the first one (or EOF)."""
    tail = reader.size
    for _ in range(MAX_FOOTERS):
        reader.check_deadline()
        for footer in _FOOTERS:
            start = footer(reader, claims, tail)
            if start is not None and start < tail:
                tail = start
                break
        else:
            break
    return tail
