"""ISO base media file walker (HEIF/HEIC, AVIF, MP4, MOV): top-level boxes.

The logical end is the end of the last well-formed top-level box. Phone motion photos
carry their video in top-level `mpvd` boxes and Samsung SEF records in `sefd`: both are
ordinary boxes here. Dimensions come from `ispe` properties in meta/iprp/ipco; the
top-level `meta` box, and the Exif/XMP items it locates, are metadata regions, as is the
data of every item whose type is no image (other MIME content, URIs, unknown types).

Positive accounting: the content of `free`/`skip`/`junk` boxes, of unknown top-level boxes
and of a size-0 box other than `mdat` is unexplained (the engine judges it like left-over
data); `uuid` boxes are opaque metadata (classified for payloads), and so, in a HEIF/AVIF
picture, is every other top-level box that is not part of the picture (`udta`, `Xtra`,
`moov`, `sefd`...); a `wide` placeholder holds nothing. In a HEIF/AVIF image without
tracks (no `moov`: an image sequence's samples sit in `mdat` too, located by its sample
tables), `mdat` bytes that no `iloc` extent references are never decoded: unexplained; in
an image sequence whose tracks' samples `bmff_tracks` locates, so are those that neither
an item nor a sample uses.
"""

from __future__ import annotations

from agent.inspect.base import Region, Structure
from agent.inspect.bmff_tracks import track_samples
from agent.inspect.boxes import box_header
from agent.inspect.limits import MAX_STRUCTURES, Limits
from agent.inspect.reader import Reader
from agent.inspect.sniff import HEIF_BRANDS
from agent.model import Finding, Severity

MAX_CHILD_BOXES = 4096  # child boxes listed per container box
MAX_ILOC_ITEMS = 4096  # items read from one `iloc` box

KNOWN_TOP_LEVEL = frozenset(
    {
        b"ftyp",
        b"meta",
        b"mdat",
        b"moov",
        b"free",
        b"skip",
        b"uuid",
        b"mpvd",
        b"sefd",
        b"idat",
        b"wide",
        b"pdin",
        b"moof",
        b"mfra",
        b"styp",
        b"sidx",
        b"ssix",
        b"prft",
        b"emsg",
        b"pnot",
        b"jumb",
        b"mdia",
        b"udta",
        b"PICT",
        b"junk",
        b"Xtra",
        b"meco",
    }
)
AVIF_BRANDS = frozenset({b"avif", b"avis"})
METADATA_ITEM_TYPES = {b"Exif": "HEIF Exif item", b"mime": "HEIF XMP item"}
# Item types whose data a decoder reads to draw the picture (ISO/IEC 23008-12 and its
# codec bindings: HEVC, AVC, VVC, AV1, JPEG, JPEG 2000, uncompressed; derived images, tiles,
# masks and tone maps). The data of any other item is judged as metadata.
IMAGE_ITEM_TYPES = frozenset(
    {b"hvc1", b"hev1", b"hvt1", b"lhv1", b"avc1", b"avc3", b"vvc1", b"vvi1", b"av01", b"jpeg",
     b"j2k1", b"unci", b"grid", b"iovl", b"iden", b"tmap", b"mski", b"mask", b"avci", b"jxl "}
)  # fmt: skip


def _finding(code: str, severity: Severity, message: str, offset: int, detail: str) -> Finding:
    return Finding(code=code, severity=severity, message=message, offset=offset, detail=detail)


def _children(reader: Reader, start: int, stop: int) -> list[tuple[bytes, int, int]]:
    """(type, content start, end) of the boxes inside [start, stop)."""
    found: list[tuple[bytes, int, int]] = []
    pos = start
    while pos + 8 <= stop and len(found) < MAX_CHILD_BOXES:
        head = box_header(reader, pos, stop)
        if head is None or head.end > stop:
            break
        found.append((head.kind, pos + head.header, head.end))
        pos = head.end
    return found


def _brand_type(reader: Reader) -> str:
    """ "avif", "heif", "cr3" or "mp4" from the ftyp major and compatible brands."""
    if reader.read(4, 4) != b"ftyp":
        return "mp4"
    size = min(reader.u32be(0) or 0, 4096)
    brands = [reader.read(8, 4)] + [reader.read(o, 4) for o in range(16, size, 4)]
    if brands[0] == b"crx ":  # Canon CR3: tracks in moov, Canon uuid boxes, mdat
        return "cr3"
    if brands[0] in AVIF_BRANDS:
        return "avif"
    if brands[0] in HEIF_BRANDS:
        return "heif"
    if any(b in AVIF_BRANDS for b in brands):
        return "avif"
    return "heif" if any(b in HEIF_BRANDS for b in brands) else "mp4"


def walk(reader: Reader, limits: Limits) -> Structure:
    """Walk the top-level boxes of an ISO-BMFF file. Never raises for malformed input."""
    del limits
    kind = _brand_type(reader)
    st = Structure(type=kind)
    media: list[tuple[int, int]] = []  # (content start, end) of top-level mdat boxes
    has_tracks = False  # a moov box: mdat also holds track samples (image sequences)
    samples: list[tuple[int, int]] | None = []  # (offset, length) of track chunks; None: unknown
    extents: list[tuple[int, int]] = []  # (file offset, length) of iloc item extents
    pos = 0
    for _ in range(MAX_STRUCTURES):
        reader.check_deadline()
        if pos >= reader.size:
            break
        head = box_header(reader, pos)
        if head is None:
            st.findings.append(
                _finding(
                    f"{kind}.malformed",
                    Severity.LOW,
                    "The file's structure is damaged.",
                    pos,
                    f"no valid box header at offset {pos}",
                )
            )
            break
        box_type, header, box_end = head.kind, head.header, head.end
        if box_end > reader.size:
            if box_type not in KNOWN_TOP_LEVEL:
                st.findings.append(
                    _finding(
                        f"{kind}.malformed",
                        Severity.LOW,
                        "The file's structure is damaged.",
                        pos,
                        f"box {box_type!r} at {pos} runs past the end of the file",
                    )
                )
                break
            st.findings.append(
                _finding(
                    f"{kind}.truncated",
                    Severity.LOW,
                    "The file is incomplete.",
                    pos,
                    f"box {box_type.decode()} at {pos} runs past the end of the file",
                )
            )
            pos = reader.size
            break
        if box_type == b"moov":
            has_tracks = True
            found = track_samples(reader, pos + header, box_end) if kind in _PICTURE_TYPES else None
            samples = None if found is None or samples is None else samples + found
        if box_type == b"meta":
            st.metadata.append(Region(pos, box_end, "HEIF meta box"))
            extents += _read_meta(reader, st, pos + header + 4, box_end)  # +4: FullBox header
        elif box_type == b"mdat":
            media.append((pos + header, box_end))
        elif box_type in _PADDING_BOXES or (kind in _PICTURE_TYPES and box_type == b"junk"):
            st.unexplained.append(Region(pos + header, box_end, f"{box_type.decode()} box"))
        elif kind in _PICTURE_TYPES and box_type == b"wide" and box_end > pos + header:
            st.unexplained.append(Region(pos + header, box_end, "wide box content"))
        elif box_type == b"uuid":
            st.metadata.append(Region(pos, box_end, "uuid box (private data)"))
        elif box_type not in KNOWN_TOP_LEVEL:
            st.metadata.append(Region(pos, box_end, f"unknown box {box_type!r}"))
            st.unexplained.append(Region(pos + header, box_end, f"unknown box {box_type!r}"))
        elif head.to_end and box_type not in _SIZE_ZERO_EXPLAINED:
            st.unexplained.append(Region(pos + header, box_end, f"size-0 box {box_type!r}"))
        elif kind in _PICTURE_TYPES and box_type not in _PICTURE_BOXES:
            # Boxes of movies, streaming and vendors that no HEIF/AVIF decoder reads for
            # the picture (udta, Xtra, moov of a sequence...): opaque values.
            st.metadata.append(Region(pos, box_end, f"non-image box {box_type!r}"))
        pos = box_end
    st.end = min(pos, reader.size)
    if kind != "mp4" and extents and not has_tracks:
        _unreferenced_media(st, media, extents, reader.size)
    elif kind in _PICTURE_TYPES and extents and samples:
        # An image sequence whose tracks' samples are all located: the rest is unused too.
        _unreferenced_media(st, media, extents + samples, reader.size)
    return st


_PADDING_BOXES = frozenset({b"free", b"skip"})  # filler no reader interprets (and a picture's junk)
_PICTURE_TYPES = frozenset({"heif", "avif"})
# Top-level boxes a HEIF/AVIF picture is made of, or that are judged on their own above
# (`mpvd`: a motion photo's video, as accounted as a JPEG's motion-photo trailer).
_PICTURE_BOXES = frozenset({b"ftyp", b"meta", b"mdat", b"uuid", b"wide", b"mpvd"})


# Size-0 boxes whose content something else accounts (mdat by iloc; the ones judged above).
_SIZE_ZERO_EXPLAINED = frozenset({b"mdat", b"meta", b"free", b"skip", b"uuid"})


def _unreferenced_media(
    st: Structure, media: list[tuple[int, int]], extents: list[tuple[int, int]], size: int
) -> None:
    """`mdat` bytes no item extent covers: a decoder never reads them."""
    spans = sorted((start, size if length == 0 else start + length) for start, length in extents)
    used = 0
    for start, stop in media:
        position = start
        for extent_start, extent_end in spans:
            if extent_end <= position or extent_start >= stop:
                continue
            if extent_start > position:
                st.unexplained.append(Region(position, extent_start, "mdat bytes no item uses"))
            position = max(position, min(extent_end, stop))
        if position < stop:
            st.unexplained.append(Region(position, stop, "mdat bytes no item uses"))
        used += stop - start
    st.image_bytes = sum(min(e, size) - s for s, e in spans if e > s) or used or None


def _read_meta(reader: Reader, st: Structure, start: int, stop: int) -> list[tuple[int, int]]:
    """Dimensions from ipco/ispe and metadata regions from iinf/iloc, when cheap.

    Returns every item extent stored in the file, as (offset, length).
    """
    boxes = {t: (s, e) for t, s, e in _children(reader, start, stop)}
    if b"iprp" in boxes:
        iprp = {t: (s, e) for t, s, e in _children(reader, *boxes[b"iprp"])}
        if b"ipco" in iprp:
            for t, s, _e in _children(reader, *iprp[b"ipco"]):
                if t != b"ispe":
                    continue
                dims = reader.unpack(">II", s + 4)
                if dims and dims[0] * dims[1] > (st.pixels or 0):
                    st.width, st.height = dims
                    st.pixels = dims[0] * dims[1]
    found: list[tuple[int, int]] = []
    if b"iloc" in boxes:
        wanted = _metadata_items(reader, *boxes[b"iinf"]) if b"iinf" in boxes else {}
        for item_id, extent_start, extent_len in _iloc_extents(reader, *boxes[b"iloc"]):
            found.append((extent_start, extent_len))
            if item_id in wanted and extent_start < reader.size:
                # length 0: the extent runs to the end of the file (14496-12 §8.11.3.3)
                extent_end = extent_start + extent_len if extent_len else reader.size
                st.metadata.append(Region(extent_start, extent_end, wanted[item_id]))
    st.frames = st.frames or 1
    return found


def _metadata_items(reader: Reader, start: int, stop: int) -> dict[int, str]:
    """item_ID -> label for Exif and XMP (mime application/rdf+xml) items in `iinf`, and for
    every item whose type is no image (other MIME content, URIs, unknown types)."""
    version = reader.byte(start)
    first = start + 4 + (4 if version else 2)  # FullBox header + entry_count
    wanted: dict[int, str] = {}
    for t, s, e in _children(reader, first, stop):
        if t != b"infe" or (reader.byte(s) or 0) < 2:
            continue
        id_size = 4 if reader.byte(s) == 3 else 2
        item_id = int.from_bytes(reader.read(s + 4, id_size), "big")
        item_type = reader.read(s + 4 + id_size + 2, 4)
        xmp = item_type == b"mime" and b"rdf+xml" in reader.read(s, min(e - s, 256))
        if item_type in METADATA_ITEM_TYPES and (xmp or item_type != b"mime"):
            wanted[item_id] = METADATA_ITEM_TYPES[item_type]
        elif item_type not in IMAGE_ITEM_TYPES:
            # Other MIME content, URI items, types no decoder knows: data no picture needs.
            wanted[item_id] = f"HEIF {item_type!r} item (private data)"
    return wanted


def _iloc_extents(reader: Reader, start: int, stop: int) -> list[tuple[int, int, int]]:
    """(item_ID, file offset, length) of items stored in the file (construction method 0)."""
    version = reader.byte(start)
    sizes = reader.read(start + 4, 2)
    if version is None or version > 2 or len(sizes) < 2:
        return []
    off_size, len_size = sizes[0] >> 4, sizes[0] & 15
    base_size, idx_size = sizes[1] >> 4, (sizes[1] & 15) if version else 0
    pos = start + 6
    id_size = 4 if version == 2 else 2
    count = int.from_bytes(reader.read(pos, id_size), "big")
    pos += id_size
    out: list[tuple[int, int, int]] = []

    def take(n: int) -> int:
        nonlocal pos
        value = int.from_bytes(reader.read(pos, n), "big") if n else 0
        pos += n
        return value

    for _ in range(min(count, MAX_ILOC_ITEMS)):
        if pos >= stop:
            break
        item_id = take(id_size)
        method = take(2) & 15 if version else 0
        take(2)  # data_reference_index
        base = take(base_size)
        extents = take(2)
        for _ in range(min(extents, MAX_ILOC_ITEMS)):
            if pos >= stop:
                break
            take(idx_size)
            offset, length = take(off_size), take(len_size)
            if method == 0:
                out.append((item_id, base + offset, length))
    return out
