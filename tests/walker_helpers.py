"""Small helpers shared by the walker tests: run a walker on bytes or a file."""

from __future__ import annotations

from pathlib import Path

from agent.inspect.base import Structure
from agent.inspect.formats import walker_for
from agent.inspect.limits import Limits
from agent.inspect.reader import Reader
from agent.model import Severity

WALKER_TYPE = {
    "png": "png",
    "gif": "gif",
    "webp": "webp",
    "bmp": "bmp",
    "tiff": "tiff",
    "heif": "heif",
    "avif": "avif",
    "mp4": "mp4",
    "ico": "ico",
    "dicom": "dicom",
    "svg": "svg",
}
SUFFIX_TYPE = {
    ".png": "png",
    ".gif": "gif",
    ".webp": "webp",
    ".bmp": "bmp",
    ".tif": "tiff",
    ".heic": "heif",
    ".avif": "avif",
    ".ico": "ico",
    ".dcm": "dicom",
    ".svg": "svg",
}


def walk_bytes(fmt: str, data: bytes) -> Structure:
    """Run the walker registered for `fmt` over in-memory bytes."""
    walker = walker_for(WALKER_TYPE[fmt])
    assert walker is not None
    return walker(Reader.from_bytes(data), Limits())


def walk_file(path: Path) -> Structure:
    """Run the walker for a file's suffix over the file read by windows."""
    walker = walker_for(SUFFIX_TYPE[path.suffix.lower()])
    assert walker is not None
    with path.open("rb") as handle:
        reader = Reader.open_file(handle)
        try:
            return walker(reader, Limits())
        finally:
            reader.close()


def unaccounted_after_end(st: Structure, size: int) -> int:
    """Bytes after `end` that no accounted region covers."""
    assert st.end is not None
    covered = sum(r.length for r in st.accounted if r.start >= st.end)
    return size - st.end - covered


def codes(st: Structure, minimum: Severity = Severity.INFO) -> set[str]:
    """Finding codes at or above `minimum`."""
    return {f.code for f in st.findings if f.severity >= minimum}
