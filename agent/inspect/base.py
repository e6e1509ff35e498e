"""The contract between the engine and the per-format walkers.

A walker is a function `walk(reader: Reader, limits: Limits) -> Structure`. It follows
the format from its first byte to its logical end, accounts for the trailers the format
legitimately carries (MPF images, motion-photo video, vendor footers...), and names the
regions whose bytes are metadata (so the engine can look inside them for payloads).
It never raises for malformed input: problems are findings in `Structure.findings`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.model import Finding, Severity


@dataclass(frozen=True)
class Region:
    """A byte range [start, end) of the file, with a label for evidence ("APP1 Exif")."""

    start: int
    end: int
    label: str

    @property
    def length(self) -> int:
        """Number of bytes in the region."""
        return max(0, self.end - self.start)


@dataclass
class Structure:
    """What a walker learned about one file.

    end:        offset just past the last byte the format's own structure covers
                (JPEG EOI, PNG IEND chunk, GIF trailer...). None when the walker could
                not tell (then the engine judges no trailer).
    accounted:  byte ranges at or after `end` that are known benign trailers (MPF extra
                images, motion-photo video, Samsung SEFT, vendor footers, zero padding).
                Whatever lies after `end` and outside these is "left over" and judged.
    metadata:   regions holding metadata or comments (JPEG COM/APPn, PNG text chunks,
                GIF comment/application extensions, DICOM private OB elements, Exif).
    unexplained: byte ranges inside the structure (before `end`) that the walker could
                not explain: stray bytes between segments, unreferenced TIFF bytes, data
                after a GIF's LZW end code... The engine judges each with the classifier
                exactly like left-over data (`<fmt>.unexplained_data`).
    texts:      decompressed metadata the engine cannot see in the raw bytes
                (zTXt/iTXt/compressed XMP): (label, offset of the chunk, bytes).
    pixels:     declared width*height of the largest image (None when unknown).
    frames:     declared number of frames/images (None when unknown).
    width/height: declared size of the primary image, when known.
    decoded_bytes: bytes a decoder allocates for the largest image (width x height x
                channels x bytes per sample), when the walker knows the sample layout.
    image_bytes: bytes of compressed image data (JPEG scan data, PNG IDAT, HEIF/AVIF item
                data...), for the bytes-per-pixel judgement of a huge declared size.
    scan_data_start: offset of the primary image's first compressed image byte (JPEG: just
                after the first SOS header), when the walker knows it; the segments before it
                are headers whose tables and metadata are judged as such.
    codec:      the family of the largest image's compressed data when a container holds
                another format's codestream ("jpeg" for a TIFF whose strips are JPEG), for
                the same judgement; None when `type` says it.

    Opaque values (a TIFF private tag, a `uuid` box, a strip of unknown length) are
    metadata regions whose label says so ("private", "unknown", "WebP chunk"): the engine
    classifies them and reports only a dangerous payload.
    """

    type: str
    end: int | None = None
    findings: list[Finding] = field(default_factory=list)
    accounted: list[Region] = field(default_factory=list)
    metadata: list[Region] = field(default_factory=list)
    unexplained: list[Region] = field(default_factory=list)
    texts: list[tuple[str, int, bytes]] = field(default_factory=list)
    pixels: int | None = None
    frames: int | None = None
    width: int | None = None
    height: int | None = None
    decoded_bytes: int | None = None
    image_bytes: int | None = None
    scan_data_start: int | None = None
    codec: str | None = None


Walker = Callable[[Reader, Limits], Structure]


def structure_problem(
    st: Structure, code: str, damage: str, *, detail: str = "", offset: int | None = None
) -> Structure:
    """Add a low `<fmt>.truncated` ("incomplete") or `<fmt>.malformed` finding (with the
    format's `damage` sentence) to `st`, and return `st` (walkers return it as it stands)."""
    message = "The picture file is incomplete." if code.endswith(".truncated") else damage
    st.findings.append(Finding(code, Severity.LOW, message, offset=offset, detail=detail))
    return st
