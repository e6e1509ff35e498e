"""Deterministic builder of JPEG test files: real Pillow JPEGs plus the trailers phones write,
and the malicious twins (same photo with a payload where a trailer would be).

Every function returns bytes and is a pure function of its arguments, so the tests can
assert exact offsets.
"""

from __future__ import annotations

import io
import json
import random
import struct
import zipfile

from PIL import Image

XMP_SIGNATURE = b"http://ns.adobe.com/xap/1.0/\x00"


# --- the photo ----------------------------------------------------------------------------


def photo(
    width: int = 64,
    height: int = 48,
    *,
    seed: int = 1,
    progressive: bool = False,
    restart: bool = False,
    make: str = "PhotogateCam",
) -> bytes:
    """A real JPEG made by Pillow from a seeded pixel pattern, with a small Exif segment."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height))
    image.putdata(
        [
            ((x * 7 + rng.randrange(32)) % 256, (y * 5) % 256, (x * y + seed) % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = "Model 1"
    options: dict[str, object] = {"quality": 85, "exif": exif, "progressive": progressive}
    if restart:
        options["restart_marker_blocks"] = 4
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def segment(marker: int, payload: bytes) -> bytes:
    """A marker segment FF xx + length + payload."""
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def insert_segments(jpeg: bytes, *segments: bytes) -> bytes:
    """The JPEG with the given segments inserted right after SOI."""
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def with_xmp(jpeg: bytes, packet: bytes) -> bytes:
    """The JPEG with a standard XMP APP1 segment holding `packet`."""
    return insert_segments(jpeg, segment(0xE1, XMP_SIGNATURE + packet))


# --- payloads -----------------------------------------------------------------------------


def zip_archive() -> bytes:
    """A small real ZIP (fixed timestamps, so deterministic)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo("run.bat", date_time=(2024, 1, 1, 0, 0, 0))
        archive.writestr(info, "echo owned\r\n")
    return out.getvalue()


def pe_executable() -> bytes:
    """A minimal PE shape: MZ header whose e_lfanew points at PE\\0\\0 + a COFF header."""
    dos = bytearray(128)
    dos[0:2] = b"MZ"
    dos[0x3C:0x40] = struct.pack("<I", 0x80)
    return bytes(dos) + b"PE\x00\x00" + struct.pack("<HH", 0x14C, 1) + bytes(200)


HTML = b"<html><body><script>document.location='http://x.invalid/'</script></body></html>\n"
PHP = b"<?php system($_GET['c']); ?>\n"


def random_blob(size: int = 4096, seed: int = 7) -> bytes:
    """High-entropy bytes (an encrypted payload)."""
    return random.Random(seed).randbytes(size)


# --- ISO-BMFF video -----------------------------------------------------------------------


def box(box_type: bytes, payload: bytes) -> bytes:
    """One ISO-BMFF box."""
    return struct.pack(">I", 8 + len(payload)) + box_type + payload


def mp4(media_bytes: int = 3000, seed: int = 3) -> bytes:
    """A tiny MP4-shaped box run: ftyp, mdat (seeded bytes), moov."""
    ftyp = box(b"ftyp", b"mp42\x00\x00\x00\x00isommp42")
    media = random.Random(seed).randbytes(media_bytes).replace(b"PK", b"pk")
    return ftyp + box(b"mdat", media) + box(b"moov", box(b"mvhd", bytes(100)))


# --- Google motion photo ------------------------------------------------------------------


def container_xmp(items: list[tuple[str, str, int, int]]) -> bytes:
    """XMP with GCamera:MotionPhoto and a Container:Directory of (mime, semantic, length, pad)."""
    lis = "".join(
        f'<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="{m}" '
        f'Item:Semantic="{s}" Item:Length="{n}" Item:Padding="{p}"/></rdf:li>'
        for m, s, n, p in items
    )
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        '22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        'xmlns:GCamera="http://ns.google.com/photos/1.0/camera/" '
        'xmlns:Container="http://ns.google.com/photos/1.0/container/" '
        'xmlns:Item="http://ns.google.com/photos/1.0/container/item/" '
        'GCamera:MotionPhoto="1" GCamera:MotionPhotoVersion="1">'
        f"<Container:Directory><rdf:Seq>{lis}</rdf:Seq></Container:Directory>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()


def debug_blobs(count: int = 3, size: int = 300, seed: int = 5) -> bytes:
    """Pixel camera debug blobs: [name][varint length][data] chained."""
    rng = random.Random(seed)
    names = [b"aecDebug", b"gatmDebug", b"afDebug", b"awbDebug"]
    out = b""
    for n in range(count):
        data = rng.randbytes(size).replace(b"PK", b"pk").replace(b"MZ", b"mz")
        out += names[n % len(names)] + _varint(len(data)) + data
    return out


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def motion_photo(video: bytes, *, declared: int | None = None, debug: bytes = b"") -> bytes:
    """Primary JPEG + XMP Container:Directory + optional Pixel debug blobs + the video."""
    items = [
        ("image/jpeg", "Primary", 0, 0),
        ("video/mp4", "MotionPhoto", len(video) if declared is None else declared, 0),
    ]
    return with_xmp(photo(), container_xmp(items)) + debug + video


def micro_video(video: bytes, *, offset: int | None = None) -> bytes:
    """Legacy MVIMG: XMP GCamera:MicroVideoOffset counts from EOF to the MP4."""
    packet = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        '22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:GCamera="http://ns.google.com/'
        f'photos/1.0/camera/" GCamera:MicroVideo="1" GCamera:MicroVideoOffset='
        f'"{len(video) if offset is None else offset}"/></rdf:RDF></x:xmpmeta>'
    ).encode()
    return with_xmp(photo(), packet) + video


# --- MPF / MPO ----------------------------------------------------------------------------

_MPF_ENTRY_VALUES = 50  # offset of the MP entry array from the MP header (see mpf_segment)


def mpf_segment(entries: list[tuple[int, int, int]]) -> bytes:
    """APP2 MPF (little-endian) with MP entries (attribute, size, offset from MP header)."""
    count = len(entries)
    ifd = struct.pack("<H", 3)
    ifd += struct.pack("<HHI4s", 0xB000, 7, 4, b"0100")
    ifd += struct.pack("<HHII", 0xB001, 4, 1, count)
    ifd += struct.pack("<HHII", 0xB002, 7, 16 * count, _MPF_ENTRY_VALUES)
    ifd += struct.pack("<I", 0)
    values = b"".join(struct.pack("<IIIHH", a, s, o, 0, 0) for a, s, o in entries)
    return segment(0xE2, b"MPF\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd + values)


def mpo(second: bytes, *, pad: int = 0, declared_primary_extra: int = 0) -> bytes:
    """A primary JPEG whose MPF index points at `second` placed after `pad` zero bytes."""
    base_photo = photo(seed=11)
    probe = mpf_segment([(0x030000, 0, 0), (0x050000, 0, 0)])
    primary_length = len(base_photo) + len(probe)
    mp_header = 2 + 4 + 4  # SOI, APP2 marker+length, "MPF\0"
    entries = [
        (0x030000, primary_length + declared_primary_extra, 0),
        (0x050000, len(second), primary_length + pad - mp_header),
    ]
    primary = insert_segments(base_photo, mpf_segment(entries))
    assert len(primary) == primary_length
    return primary + bytes(pad) + second


# --- Samsung SEF --------------------------------------------------------------------------


def sef_trailer(records: list[tuple[int, bytes, bytes]], *, stale_offsets: int = 0) -> bytes:
    """SEF records (type, name, data) + SEFH directory + length + "SEFT".

    `stale_offsets` is added to every directory offset (what shortening a file does).
    """
    body = b""
    placed = []
    for record_type, name, data in records:
        record = struct.pack("<HHI", 0, record_type, len(name)) + name + data
        placed.append((record_type, len(body), len(record)))
        body += record
    directory = b"SEFH" + struct.pack("<II", 101, len(records))
    for record_type, start, size in placed:
        directory += struct.pack("<HHII", 0, record_type, len(body) - start + stale_offsets, size)
    return body + directory + struct.pack("<I", len(directory)) + b"SEFT"


# --- vendor footers -----------------------------------------------------------------------


def afcp(trailer_start: int) -> bytes:
    """An AFCP trailer placed at absolute offset `trailer_start` (one IPTC entry)."""
    iptc = b"\x1c\x02\x78\x00\x05hello"
    header = b"AXS!" + struct.pack(">HH", 1, 1) + struct.pack(">I", 0)
    directory = b"IPTC" + struct.pack(">II", len(iptc), trailer_start + 24)
    return header + directory + iptc + b"AXS!" + struct.pack(">II", trailer_start, 0)


def fotostation(records: int = 2) -> bytes:
    """FotoStation records, each [data][tag u16][size u32 incl. footer][A1B2C3D4]."""
    out = b""
    for n in range(records):
        data = f"record {n} text".encode()
        out += data + struct.pack(">HI", n + 1, len(data) + 10) + b"\xa1\xb2\xc3\xd4"
    return out


def photomechanic() -> bytes:
    """PhotoMechanic: [IPTC records][size u32be]["cbipcbbl"]."""
    iptc = b"\x1c\x02\xdd\x00\x04\x00\x00\x00\x01"
    return iptc + struct.pack(">I", len(iptc)) + b"cbipcbbl"


def insta360(payload_bytes: int = 200) -> bytes:
    """Insta360: records then a 72-byte footer [32 zero][size u32le][version u32le][magic]."""
    payload = bytes(range(256))[:payload_bytes]
    size = payload_bytes + 72
    return payload + bytes(32) + struct.pack("<II", size, 3) + b"8db42d694ccc418790edff439fe026bf"


# --- more vendor footers (layouts from ExifTool; see agent/inspect/jpeg/footers.py) --------

CANON_VRD_SIGNATURE = b"CANON OPTIONAL DATA\x00"


def canon_vrd(blocks: list[tuple[int, bytes]] | None = None) -> bytes:
    """Canon DPP recipe: 0x1c header, blocks [type u32be][len u32be][data], 0x40 footer.

    Header and footer start with the signature and hold the data size (CanonVRD.pm).
    """
    if blocks is None:
        xmp = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF/></x:xmpmeta>"
        blocks = [(0xFFFF00F6, xmp), (0x00000001, bytes(range(40)))]
    data = b"".join(struct.pack(">II", t, len(d)) + d for t, d in blocks)
    header = CANON_VRD_SIGNATURE + struct.pack(">II", 0x00010000, len(data))
    footer = CANON_VRD_SIGNATURE + struct.pack(">I", len(data)) + bytes(0x40 - 24)
    return header + data + footer


def mie_element(tag: bytes, value: bytes, format_code: int = 0x20) -> bytes:
    """One MIE element with a short (< 253 bytes) value: ~ format taglen datalen tag value."""
    return b"~" + bytes([format_code, len(tag), len(value)]) + tag + value


def mie(elements: bytes | None = None, *, little_endian: bool = False, wide: bool = False) -> bytes:
    """A file-level MIE group signed as a trailer ("zmie"), per the MIE 1.1 spec in MIE.pm.

    `wide` writes the 8-byte group-length terminator instead of the 4-byte one.
    """
    if elements is None:
        elements = mie_element(b"Comment", b"taken at reception")
    order = 0x18 if little_endian else 0x10
    e = "<" if little_endian else ">"
    signature = b"~\x00\x04\x00zmie"
    terminator_bytes = 14 if wide else 10
    header_bytes = 12  # "~" order 04 FE "0MIE" + DataLength4
    data_length = len(elements) + len(signature) + terminator_bytes
    group_length = header_bytes + data_length
    header = b"~" + bytes([order, 4, 0xFE]) + b"0MIE" + struct.pack(e + "I", data_length)
    if wide:
        terminator = b"~\x00\x00\x0a" + struct.pack(e + "Q", group_length) + bytes([order, 8])
    else:
        terminator = b"~\x00\x00\x06" + struct.pack(e + "I", group_length) + bytes([order, 4])
    return header + elements + signature + terminator


def nikon_app(xmp: bytes = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>") -> bytes:
    """NikonApp (Nikon.pm ProcessNikonApp): 0x40-byte header holding "NIKON APP\\0",
    records [id u32be][len u32be][data] (1 = XMP) ended by (0, 0), then
    [trailer length u32be][6 zero bytes]["/NIKON APP"]. Header bytes past the magic are zero
    (ExifTool does not read them)."""
    header = b"NIKON APP\x00" + bytes(0x40 - 10)
    records = struct.pack(">II", 1, len(xmp)) + xmp + struct.pack(">II", 0, 0)
    length = len(header) + len(records) + 20
    return header + records + struct.pack(">I", length) + bytes(6) + b"/NIKON APP"


VIVO_FOOTER = b"\xff\xff\xff\xff\x1b*9HWfu\x84\x93\xa2\xb1"


def vivo(hdr_image: bytes | None = None, body: bytes = b"") -> bytes:
    """Vivo (Trailer.pm ProcessVivo): ["streamdata" JPEG "streaminfo"...] vivo{JSON}\\0 footer.

    `body` is placed between the JSON and the footer (where a payload could be slipped in).
    """
    out = b""
    if hdr_image is not None:
        out += b"streamdata" + hdr_image + b"streaminfo" + struct.pack("<II", 1, len(hdr_image))
    return out + b'vivo{"scene":"portrait","hdr":1}\x00' + body + VIVO_FOOTER


def oneplus(blobs: list[tuple[str, bytes]] | None = None, *, extra_offset: int = 0) -> bytes:
    """OnePlus (Trailer.pm ProcessOnePlus): [blobs][JSON index][NULs]["jxrs"][JSON len u32le].

    Offsets count back from the JSON start; `extra_offset` makes the first item's offset lie
    (reaching that many bytes further back).
    """
    if blobs is None:
        blobs = [("watermark.device", b"\x01\x02\x03\x04\x05OnePlus 12\x00")]
    entries = []
    back = 0
    for name, blob in reversed(blobs):
        back += len(blob)
        entries.append({"name": name, "offset": back, "length": len(blob)})
    entries[-1]["offset"] = back + extra_offset
    text = json.dumps(list(reversed(entries))).encode() + b"\x00\x00"
    return b"".join(blob for _, blob in blobs) + text + b"jxrs" + struct.pack("<I", len(text) + 8)


def qdio_block(audio_start: int, audio_end: int) -> bytes:
    """Samsung QDIO block (Samsung.pm comment): "QDIO" 101 1 start end | len=20 | "QDIO"."""
    data = b"QDIO" + struct.pack("<IIII", 101, 1, audio_start, audio_end)
    return data + struct.pack("<I", len(data)) + b"QDIO"


def samsung_sound_shot(audio: bytes, trailer_start: int) -> bytes:
    """A "Sound & Shot" trailer placed at `trailer_start`: SEF audio record, QDIO, "BS"."""
    name = b"SoundShot_Data"
    sef = sef_trailer([(0x0100, name, audio)])
    audio_start = trailer_start + 8 + len(name)
    return sef + qdio_block(audio_start, audio_start + len(audio)) + b"BS"
