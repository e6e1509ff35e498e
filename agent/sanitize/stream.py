"""The trusted side of the child's pipe: feed it the file, read back checked pixels.

Memory is the point of this module. A 100-megapixel photo is 300 MB of RGB pixels (400 MB
as a Pillow image); the parent must never hold them all. So the input is streamed into the
child (from the file, or from the vault's decrypted chunks) rather than read whole, and the
answer is read one strip of rows at a time and handed to a sink that encodes it at once
(agent.sanitize.encode): the parent holds one strip, never the whole picture.

Every byte of the answer is checked: the header's shape and bounds (against the pixel
limit in force), then exactly width × height × bands bytes, nothing more.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from PIL import Image

from agent.errors import AgentError
from agent.sanitize import child as sanitize_child

MAX_SIDE_PX = 65_535  # widest/tallest picture accepted back from the child
MAX_HEADER_BYTES = 64  # "PGPX2 <w> <h> <mode> <kind>\n" is far shorter
INPUT_CHUNK_BYTES = 1024 * 1024  # bytes written to the child's stdin per step
STRIP_BYTES = 4 * 1024 * 1024  # bytes of pixels read from the child per step
MAX_STDERR_BYTES = 64 * 1024  # of the child's stderr kept (its reason is one line)
BANDS = {"RGB": 3, "RGBA": 4, "L": 1, "LA": 2}
_HEADER = re.compile(
    rb"PGPX2 ([1-9][0-9]{0,5}) ([1-9][0-9]{0,5}) (RGBA|RGB|LA|L) (photo|graphic)\n"
)


class SanitizeError(AgentError):
    """A sanitized copy could not be made; the message is meant for front-desk staff."""


class StripSink(Protocol):
    """Where checked pixels go, strip by strip (agent.sanitize.encode's writers)."""

    rows_per_strip: int

    def add(self, strip: Image.Image) -> None:
        """Take the next `rows_per_strip` rows (fewer for the last strip)."""
        ...

    def finish(self) -> None:
        """Every row was given."""
        ...


# (width, height, mode, kind) -> the sink for this picture; called once the header is checked.
SinkFactory = Callable[[int, int, str, str], StripSink]


@dataclass
class DecodedPicture:
    """Checked pixels held in memory (small pictures and tests only), and their kind."""

    image: Image.Image
    kind: str  # sanitize_child.KIND_PHOTO or KIND_GRAPHIC

    @property
    def photographic(self) -> bool:
        """A photo source (JPEG, HEIC, AVIF, lossy WebP)."""
        return self.kind == sanitize_child.KIND_PHOTO


class CollectingSink:
    """A sink that pastes the strips into one image (for `parse_child_output`)."""

    def __init__(self, width: int, height: int, mode: str) -> None:
        self.image = Image.new(mode, (width, height))
        self.rows_per_strip = max(1, STRIP_BYTES // (width * BANDS[mode]))
        self._top = 0

    def add(self, strip: Image.Image) -> None:
        """Paste the strip below the previous one."""
        self.image.paste(strip, (0, self._top))
        self._top += strip.height

    def finish(self) -> None:
        """Nothing to flush."""


def _read_header(stream: IO[bytes], max_pixels: int) -> tuple[int, int, str, str]:
    untrusted_line = bytearray()
    while len(untrusted_line) < MAX_HEADER_BYTES:
        byte = stream.read(1)
        if not byte:
            break
        untrusted_line += byte
        if byte == b"\n":
            break
    match = _HEADER.fullmatch(bytes(untrusted_line))
    if match is None:
        raise SanitizeError("The picture converter gave an answer that makes no sense.")
    width, height = int(match.group(1)), int(match.group(2))
    mode, kind = match.group(3).decode("ascii"), match.group(4).decode("ascii")
    if not (1 <= width <= MAX_SIDE_PX and 1 <= height <= MAX_SIDE_PX):
        raise SanitizeError("The picture's size is out of bounds; nothing was copied.")
    if width * height > max_pixels:
        raise SanitizeError("The picture is too large (pixel bomb); nothing was copied.")
    return width, height, mode, kind


def _read_exact(stream: IO[bytes], buffer: memoryview) -> bool:
    filled = 0
    while filled < len(buffer):
        count = stream.readinto(buffer[filled:])  # type: ignore[attr-defined]
        if not count:
            return False
        filled += count
    return True


def read_picture(
    stream: IO[bytes], max_pixels: int, open_sink: SinkFactory
) -> tuple[int, int, str, str]:
    """Read and check one answer of the child, handing the strips to the sink it opens.

    Returns (width, height, mode, kind). The parent holds one strip at a time.
    """
    width, height, mode, kind = _read_header(stream, max_pixels)
    sink = open_sink(width, height, mode, kind)
    row_bytes = width * BANDS[mode]
    rows_per_strip = max(1, sink.rows_per_strip)
    buffer = bytearray(rows_per_strip * row_bytes)
    for top in range(0, height, rows_per_strip):
        rows = min(rows_per_strip, height - top)
        with memoryview(buffer)[: rows * row_bytes] as view:
            if not _read_exact(stream, view):
                raise SanitizeError("The picture converter sent the wrong amount of picture data.")
            sink.add(Image.frombytes(mode, (width, rows), bytes(view)))
    if stream.read(1):
        raise SanitizeError("The picture converter sent the wrong amount of picture data.")
    sink.finish()
    return width, height, mode, kind


def parse_child_output(untrusted_output: bytes, max_pixels: int) -> DecodedPicture:
    """`read_picture` over an answer held in memory, into one image (tests)."""
    import io

    sinks: list[CollectingSink] = []

    def collect(width: int, height: int, mode: str, _kind: str) -> CollectingSink:
        sinks.append(CollectingSink(width, height, mode))
        return sinks[-1]

    _w, _h, _mode, kind = read_picture(io.BytesIO(untrusted_output), max_pixels, collect)
    return DecodedPicture(sinks[0].image, kind)


def input_chunks(source: Path | bytes | Iterable[bytes], limit: int) -> Iterator[bytes]:
    """The untrusted file in chunks, at most `limit` + 1 bytes (the child says "too large")."""
    sent = 0
    if isinstance(source, bytes):
        yield source[: limit + 1]
        return
    if isinstance(source, Path):
        with open(source, "rb") as handle:
            while sent <= limit and (chunk := handle.read(INPUT_CHUNK_BYTES)):
                sent += len(chunk)
                yield chunk
        return
    for chunk in source:
        if sent > limit:
            return
        sent += len(chunk)
        yield chunk


class Feeder(threading.Thread):
    """Writes the input to the child's stdin, then closes it (a thread: the pipe is small)."""

    def __init__(self, sink: IO[bytes], chunks: Iterator[bytes]) -> None:
        super().__init__(name="sanitize-feed", daemon=True)
        self._sink, self._chunks = sink, chunks
        self.error: OSError | None = None

    def run(self) -> None:
        try:
            for chunk in self._chunks:
                self._sink.write(chunk)
        except BrokenPipeError:
            pass  # the child stopped reading (too large, or it died): its exit code says why
        except OSError as error:
            self.error = error  # the source could not be read
        finally:
            with contextlib.suppress(OSError):
                self._sink.close()


class Drain(threading.Thread):
    """Keeps the first MAX_STDERR_BYTES of the child's stderr, discards the rest."""

    def __init__(self, source: IO[bytes]) -> None:
        super().__init__(name="sanitize-stderr", daemon=True)
        self._source = source
        self.text = b""

    def run(self) -> None:
        try:
            while chunk := self._source.read(4096):
                if len(self.text) < MAX_STDERR_BYTES:
                    self.text += chunk[: MAX_STDERR_BYTES - len(self.text)]
        except (OSError, ValueError):
            pass
