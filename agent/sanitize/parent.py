"""Sanitized copies: a picture's pixels re-encoded into a fresh file, nothing else.

Following Qubes' image converter and Dangerzone: the untrusted file is decoded in a
short-lived, resource-limited subprocess (`agent.sanitize.child`), which applies the Exif
orientation, converts colour to sRGB with the embedded profile, and passes back only
width, height, mode, the kind of source and raw pixels. This process checks them
(agent.sanitize.stream: header shape, bounds, exact byte count, read straight into one
image) and encodes a brand-new file with Pillow: photographic sources (JPEG, HEIC, AVIF,
lossy WebP) as a visually lossless JPEG, everything else as PNG. Metadata, profiles,
trailers, extra frames and polyglot payloads cannot survive, because nothing but pixels
ever crosses back. The copy gets a normal download's permissions and the OS's
untrusted-origin marker.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent import platform
from agent.sanitize import child as sanitize_child
from agent.sanitize.encode import JpegWriter, PngWriter
from agent.sanitize.stream import (
    DecodedPicture,
    Drain,
    Feeder,
    SanitizeError,
    SinkFactory,
    StripSink,
    input_chunks,
    read_picture,
)
from agent.sanitize.stream import parse_child_output as _parse
from agent.textsafe import safe_text

log = logging.getLogger(__name__)

CHILD_TIMEOUT_SECONDS = 30.0  # wall clock for one decode; the child's own CPU cap is lower
MAX_PIXELS = sanitize_child.MAX_PIXELS
MAX_INPUT_BYTES = sanitize_child.MAX_INPUT_BYTES
MAX_REASON_CHARS = 200  # of the child's stderr shown to people
# Visually lossless for photos: quality 95 with full-resolution colour (4:4:4, no chroma
# subsampling), the setting photo tools use for "maximum" quality.
JPEG_QUALITY = 95
JPEG_SUBSAMPLING = 0  # Pillow's code for 4:4:4
COPY_FILE_MODE = 0o666  # like a downloaded file: the umask decides (usually 0644)
TRAY_EXECUTABLE = "photogate-tray.exe"  # installer/pyinstaller/photogate.spec (Windows)
CONSOLE_EXECUTABLE = "photogate.exe"
TEMP_PREFIX = ".sanitizing-"  # the agent never judges these (agent.service.pipeline)
MAX_STEM_CHARS = 80  # of the name derived for a sanitized copy
_UNSAFE_NAME_CHARS = re.compile(r'[\\/:*?"<>|]')
__all__ = ["DecodedPicture", "SanitizeError", "SanitizeResult", "parse_child_output"]


@dataclass(frozen=True)
class SanitizeResult:
    """A sanitized copy that was written."""

    path: Path
    width: int
    height: int
    mode: str
    format: str  # "PNG" or "JPEG"
    marked: bool  # the OS untrusted-origin marker was set


class _VaultLike(Protocol):
    """What `sanitize_vault_item` needs from `agent.vault.store.Vault`."""

    def get(self, item_id: str) -> Any: ...

    def plaintext_chunks(self, item: Any) -> Iterator[bytes]: ...


def child_command() -> list[str]:
    """How to start the decoder: the frozen executable's hidden subcommand, or `python -m`.

    A frozen build (PyInstaller) has no interpreter to pass `-I`/`-m` to: its executable
    runs `photogate _sanitize-child` instead (agent/commands/cli.py dispatches it before
    argparse, so it stays out of the help). From source, -I ignores PYTHON* variables, the
    user site and the current folder; the child needs the standard library, Pillow
    (+ pillow-heif) and `agent` from the interpreter's site.
    """
    if getattr(sys, "frozen", False):
        executable = Path(sys.executable)
        # Windows: the tray is a windowed program whose standard streams Python may leave
        # unset; the console photogate.exe beside it, started with CREATE_NO_WINDOW, has
        # real pipes and still shows no window.
        console = executable.with_name(CONSOLE_EXECUTABLE)
        if executable.name.lower() == TRAY_EXECUTABLE and console.is_file():
            executable = console
        return [str(executable), sanitize_child.SUBCOMMAND]
    return [sys.executable, "-I", "-m", "agent.sanitize.child"]


def _child_env(max_pixels: int, thumbnail_px: int | None = None) -> dict[str, str]:
    env = {"LC_ALL": "C", sanitize_child.MAX_PIXELS_ENV: str(max_pixels)}
    if thumbnail_px is not None:
        env[sanitize_child.THUMBNAIL_ENV] = str(thumbnail_px)
    for name in ("PATH", "SYSTEMROOT", "TEMP", "TMP"):  # Windows needs SYSTEMROOT to start
        if name in os.environ:
            env[name] = os.environ[name]
    if sanitize_child.TEST_FAULT_ENV in os.environ:
        env[sanitize_child.TEST_FAULT_ENV] = os.environ[sanitize_child.TEST_FAULT_ENV]
    return env


def pixel_limit(policy_limit: int | None) -> int:
    """The pixel limit in force: the policy's (inspect.pixels_reject), never above MAX_PIXELS."""
    return MAX_PIXELS if policy_limit is None else max(1, min(policy_limit, MAX_PIXELS))


def decode_in_child(
    source: Path | bytes | Iterable[bytes],
    open_sink: SinkFactory,
    *,
    max_pixels: int = MAX_PIXELS,
    timeout: float = CHILD_TIMEOUT_SECONDS,
    thumbnail_px: int | None = None,
) -> tuple[int, int, str, str]:
    """Decode in the limited subprocess, handing checked strips to `open_sink(w, h, mode, kind)`.

    `source` is the untrusted file: a path, its bytes, or chunks (a vault item), streamed
    in. Returns (width, height, mode, kind) of the upright, sRGB picture. Raises
    SanitizeError with a plain message when the picture is over `max_pixels` (refused
    before a pixel is decoded), the child fails, hangs, is killed, or answers anything
    but a well-formed picture.
    """
    limit = pixel_limit(max_pixels)
    try:
        child = platform.start_limited(
            child_command(), _child_env(limit, thumbnail_px), sanitize_child.LIMITS
        )
    except OSError as error:
        raise SanitizeError(f"The picture converter could not be started ({error}).") from None
    assert child.stdin is not None and child.stdout is not None and child.stderr is not None
    timed_out = threading.Event()

    def on_timeout() -> None:
        timed_out.set()
        child.kill()

    timer = threading.Timer(timeout, on_timeout)
    timer.daemon = True
    feeder = Feeder(child.stdin, input_chunks(source, MAX_INPUT_BYTES))
    drain = Drain(child.stderr)
    shape: tuple[int, int, str, str] | None = None
    problem: SanitizeError | None = None
    try:
        timer.start()
        feeder.start()
        drain.start()
        try:
            shape = read_picture(child.stdout, limit, open_sink)
        except SanitizeError as error:
            problem = error
        child.stdout.close()
        child.wait()
        feeder.join()
        drain.join()
    finally:
        timer.cancel()
        if child.poll() is None:
            child.kill()
            child.wait()
        platform.finished(child)
    _raise_for_child(child.returncode, drain.text, timed_out.is_set(), limit, feeder.error)
    if problem is not None:
        raise problem
    assert shape is not None
    return shape


def _raise_for_child(
    code: int | None, stderr: bytes, timed_out: bool, limit: int, read_error: OSError | None
) -> None:
    if read_error is not None:
        raise SanitizeError(f"The file could not be read ({read_error.strerror}).")
    if timed_out:
        raise SanitizeError(
            "Making a safe copy took too long, so it was stopped. Nothing was copied."
        )
    if code == sanitize_child.EXIT_UNCONFINED:
        raise SanitizeError(
            "The picture converter could not be safely limited on this computer, so no copy"
            " was made."
        )
    if code == sanitize_child.EXIT_TOO_LARGE:
        declared = stderr.decode("ascii", "replace").split()
        size = f"{declared[0]} × {declared[1]} pixels" if len(declared) == 2 else "too many pixels"
        raise SanitizeError(
            f"This picture is too large to copy safely ({safe_text(size)}; the limit is"
            f" {limit:,} pixels). Nothing was copied."
        )
    if code == sanitize_child.EXIT_UNDECODABLE:
        reason = safe_text(stderr.decode("utf-8", "replace").strip(), MAX_REASON_CHARS)
        raise SanitizeError(f"No safe copy could be made: {reason}.")
    if code != 0:
        log.warning("sanitizer child ended with %s", code)
        raise SanitizeError(
            "The picture converter stopped unexpectedly on this file (it may be built to"
            " attack picture programs). Nothing was copied."
        )


def parse_child_output(untrusted_output: bytes, max_pixels: int = MAX_PIXELS) -> DecodedPicture:
    """Check one whole answer of the child (the streaming reader over bytes; tests)."""
    return _parse(untrusted_output, max_pixels)


PHOTO_TYPES = ("jpeg", "heic", "heif", "avif", "webp", "mpo")  # detected types kept as JPEG


def copy_suffix(kind: str, mode: str) -> str:
    """ ".jpg" for a photo without transparency, else ".png" (JPEG has no alpha)."""
    photo = kind == sanitize_child.KIND_PHOTO and mode in ("RGB", "L")
    return ".jpg" if photo else ".png"


def expected_suffix(detected_type: str | None) -> str:
    """The suffix a save dialog proposes before decoding, from the inspected type."""
    return ".jpg" if (detected_type or "").lower() in PHOTO_TYPES else ".png"


class _FileSink:
    """Opens the temp file once the header is known and encodes into it."""

    def __init__(self, choose_dest: Any) -> None:
        self._choose_dest = choose_dest
        self.dest: Path | None = None
        self.temp: Path | None = None
        self.fmt = "PNG"
        self.mode = "RGB"
        self._handle: Any = None

    def open(self, width: int, height: int, mode: str, kind: str) -> StripSink:
        dest: Path = self._choose_dest(kind, mode)
        if os.path.lexists(dest):
            raise SanitizeError(f"A file named {safe_text(dest.name)} is already there.")
        self.dest = dest
        self.fmt = "JPEG" if dest.suffix.lower() in (".jpg", ".jpeg") else "PNG"
        self.mode = mode if self.fmt == "PNG" else ("L" if mode == "L" else "RGB")
        self.temp = dest.parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        flags |= getattr(os, "O_BINARY", 0)
        fd = os.open(self.temp, flags, COPY_FILE_MODE)  # the umask applies, as for a download
        self._handle = os.fdopen(fd, "wb")
        if self.fmt == "JPEG":
            return JpegWriter(self._handle, width, height, mode, JPEG_QUALITY, JPEG_SUBSAMPLING)
        return PngWriter(self._handle, width, height, mode)

    def commit(self) -> Path:
        """fsync the written copy and link it into place (never over an existing file)."""
        assert self._handle is not None and self.temp is not None and self.dest is not None
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        self._handle = None
        try:
            os.link(self.temp, self.dest)
        except FileExistsError:
            raise SanitizeError(
                f"A file named {safe_text(self.dest.name)} is already there."
            ) from None
        except OSError as error:
            # FAT/exFAT USB sticks and some shares have no hard links: a rename that never
            # replaces (Windows' rename refuses an existing name; POSIX: checked just before).
            if not platform.is_no_hard_links(error) or os.path.lexists(self.dest):
                raise
            self.temp.rename(self.dest)
        return self.dest

    def discard(self) -> None:
        """Close and remove the temp file (always called; harmless after commit)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)


def _copy(
    source: Path | bytes | Iterable[bytes], choose_dest: Any, max_pixels: int, timeout: float
) -> SanitizeResult:
    sink = _FileSink(choose_dest)
    try:
        width, height, _mode, _kind = decode_in_child(
            source, sink.open, max_pixels=max_pixels, timeout=timeout
        )
        dest = sink.commit()
    finally:
        sink.discard()
    return SanitizeResult(dest, width, height, sink.mode, sink.fmt, _mark_untrusted(dest))


def _mark_untrusted(path: Path) -> bool:
    try:
        from agent import osmark
    except ImportError:  # the marker module is optional on this build
        return False
    try:
        return osmark.default_marker().mark(
            path, reason="Photogate sanitized copy of a caught file"
        )
    except Exception:  # a missing marker must not lose the copy
        log.warning("could not mark %s as untrusted", safe_text(str(path)), exc_info=True)
        return False


def sanitize_file(
    source: Path | bytes | Iterable[bytes],
    dest: Path,
    *,
    max_pixels: int = MAX_PIXELS,
    timeout: float = CHILD_TIMEOUT_SECONDS,
) -> SanitizeResult:
    """Write a sanitized copy of `source` (a path, the file's bytes or chunks) to `dest`.

    `dest` ending in .jpg/.jpeg gives a JPEG, anything else a PNG. Never overwrites.
    Raises SanitizeError (plain message) when no safe copy can be made.
    """
    if os.path.lexists(dest):
        raise SanitizeError(f"A file named {safe_text(dest.name)} is already there.")
    if not dest.parent.is_dir():
        raise SanitizeError(f"The folder {safe_text(str(dest.parent))} does not exist.")
    return _copy(source, lambda _kind, _mode: dest, max_pixels, timeout)


def sanitize_to_folder(
    source: Path | bytes | Iterable[bytes],
    folder: Path,
    untrusted_name: str,
    *,
    max_pixels: int = MAX_PIXELS,
    timeout: float = CHILD_TIMEOUT_SECONDS,
) -> SanitizeResult:
    """A copy in `folder` named "<stem> (safe copy).jpg/.png", the format chosen by the source."""
    if not folder.is_dir():
        raise SanitizeError(f"The folder {safe_text(str(folder))} does not exist.")

    def choose(kind: str, mode: str) -> Path:
        return unique_destination(folder, sanitized_name(untrusted_name, copy_suffix(kind, mode)))

    return _copy(source, choose, max_pixels, timeout)


def sanitized_name(untrusted_name: str, suffix: str = ".png") -> str:
    """A harmless file name for the copy: "<stem> (safe copy).png".

    Bidi, invisible and control characters are dropped (not escaped: backslashes are
    not welcome in Windows names), path characters become "_", length is capped.
    """
    stem = untrusted_name.rsplit(".", 1)[0] if "." in untrusted_name[1:] else untrusted_name
    visible = "".join(ch for ch in stem if safe_text(ch) == ch)
    cleaned = _UNSAFE_NAME_CHARS.sub("_", visible).strip(" .")[:MAX_STEM_CHARS].strip(" .")
    return f"{cleaned or 'picture'} (safe copy){suffix}"


def unique_destination(dest_dir: Path, name: str) -> Path:
    """`dest_dir/name`, or "name (2)", "name (3)"... when taken."""
    candidate = dest_dir / name
    stem, dot, ext = name.rpartition(".")
    counter = 2
    while candidate.exists():
        candidate = dest_dir / f"{stem} ({counter}){dot}{ext}"
        counter += 1
    return candidate


def vault_chunks(vault: _VaultLike, item_id: str) -> Iterator[bytes]:
    """The item's decrypted content in chunks (never whole in memory)."""
    item = vault.get(item_id)
    yield from vault.plaintext_chunks(item)


def sanitize_vault_item(
    vault: _VaultLike,
    item_id: str,
    dest_dir: Path,
    name: str | None = None,
    *,
    max_pixels: int = MAX_PIXELS,
) -> Path:
    """Sanitized copy of a quarantined item into `dest_dir`; returns the new file's path.

    `name` is the item's original (untrusted) name, used only to name the copy (the
    vault record's name when None). The content is decoded only in the child process.
    """
    if name is None:
        name = str(getattr(vault.get(item_id), "name", "") or "picture")
    chunks = vault_chunks(vault, item_id)
    return sanitize_to_folder(chunks, dest_dir, name, max_pixels=max_pixels).path
