"""Sanitized copies: a picture's pixels re-encoded into a fresh file, nothing else.

Following Qubes' image converter and Dangerzone: the untrusted file is decoded in a
short-lived, resource-limited subprocess (`agent.sanitize.child`), which passes back
only width, height, mode and raw pixels. This process checks them (header shape,
bounds, exact byte count) and encodes a brand-new PNG or JPEG with Pillow. Metadata,
ICC profiles, trailers, extra frames and polyglot payloads cannot survive, because
nothing but pixels ever crosses back. The copy gets the OS's untrusted-origin marker.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from agent import platform
from agent.errors import AgentError
from agent.sanitize import child as sanitize_child
from agent.textsafe import safe_text

log = logging.getLogger(__name__)

CHILD_TIMEOUT_SECONDS = 30.0  # wall clock for one decode; the child's own CPU cap is lower
MAX_SIDE_PX = 65_535  # widest/tallest picture accepted back from the child
MAX_PIXELS = sanitize_child.MAX_PIXELS
MAX_INPUT_BYTES = sanitize_child.MAX_INPUT_BYTES
MAX_HEADER_BYTES = 64  # "PGPX1 <w> <h> <mode>\n" is far shorter
MAX_REASON_CHARS = 200  # of the child's stderr shown to people
JPEG_QUALITY = 92
TRAY_EXECUTABLE = "photogate-tray.exe"  # installer/pyinstaller/photogate.spec (Windows)
CONSOLE_EXECUTABLE = "photogate.exe"
TEMP_PREFIX = ".sanitizing-"  # the agent never judges these (agent.service.pipeline)
MAX_STEM_CHARS = 80  # of the name derived for a sanitized copy
_BANDS = {"RGB": 3, "RGBA": 4, "L": 1, "LA": 2}
_HEADER = re.compile(rb"PGPX1 ([1-9][0-9]{0,5}) ([1-9][0-9]{0,5}) (RGBA|RGB|LA|L)\n")
_UNSAFE_NAME_CHARS = re.compile(r'[\\/:*?"<>|]')


class SanitizeError(AgentError):
    """A sanitized copy could not be made; the message is meant for front-desk staff."""


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

    def read_content(self, item_id: str) -> bytes: ...

    def get(self, item_id: str) -> Any: ...


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


def _child_env() -> dict[str, str]:
    env = {"LC_ALL": "C"}
    for name in ("PATH", "SYSTEMROOT", "TEMP", "TMP"):  # Windows needs SYSTEMROOT to start
        if name in os.environ:
            env[name] = os.environ[name]
    if sanitize_child.TEST_FAULT_ENV in os.environ:
        env[sanitize_child.TEST_FAULT_ENV] = os.environ[sanitize_child.TEST_FAULT_ENV]
    return env


def decode_in_child(
    untrusted_bytes: bytes, timeout: float = CHILD_TIMEOUT_SECONDS
) -> tuple[int, int, str, bytes]:
    """Decode in the limited subprocess; returns validated (width, height, mode, pixels).

    Raises SanitizeError with a plain message when the child fails, hangs, is killed
    or answers anything but a well-formed picture.
    """
    if len(untrusted_bytes) > MAX_INPUT_BYTES:
        raise SanitizeError("The file is too large to make a safe copy of.")
    try:
        child = platform.start_limited(child_command(), _child_env(), sanitize_child.LIMITS)
    except OSError as error:
        raise SanitizeError(f"The picture converter could not be started ({error}).") from None
    try:
        stdout, stderr = child.communicate(untrusted_bytes, timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise SanitizeError(
            "Making a safe copy took too long, so it was stopped. Nothing was copied."
        ) from None
    finally:
        platform.finished(child)
    completed = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
    if completed.returncode == sanitize_child.EXIT_UNCONFINED:
        raise SanitizeError(
            "The picture converter could not be safely limited on this computer, so no copy"
            " was made."
        )
    if completed.returncode == sanitize_child.EXIT_UNDECODABLE:
        reason = safe_text(completed.stderr.decode("utf-8", "replace").strip(), MAX_REASON_CHARS)
        raise SanitizeError(f"No safe copy could be made: {reason}.")
    if completed.returncode != 0:
        log.warning("sanitizer child ended with %s", completed.returncode)
        raise SanitizeError(
            "The picture converter stopped unexpectedly on this file (it may be built to"
            " attack picture programs). Nothing was copied."
        )
    return parse_child_output(completed.stdout)


def parse_child_output(untrusted_output: bytes) -> tuple[int, int, str, bytes]:
    """Check the child's answer: header shape, bounds, and exactly width*height*bands bytes."""
    newline = untrusted_output.find(b"\n", 0, MAX_HEADER_BYTES)
    match = _HEADER.fullmatch(untrusted_output[: newline + 1]) if newline >= 0 else None
    if match is None:
        raise SanitizeError("The picture converter gave an answer that makes no sense.")
    width, height = int(match.group(1)), int(match.group(2))
    mode = match.group(3).decode("ascii")
    if not (1 <= width <= MAX_SIDE_PX and 1 <= height <= MAX_SIDE_PX):
        raise SanitizeError("The picture's size is out of bounds; nothing was copied.")
    if width * height > MAX_PIXELS:
        raise SanitizeError("The picture is too large (pixel bomb); nothing was copied.")
    pixels = untrusted_output[newline + 1 :]
    if len(pixels) != width * height * _BANDS[mode]:
        raise SanitizeError("The picture converter sent the wrong amount of picture data.")
    return width, height, mode, pixels


def _encode(width: int, height: int, mode: str, pixels: bytes, dest: Path) -> str:
    image = Image.frombytes(mode, (width, height), pixels)
    if dest.suffix.lower() in {".jpg", ".jpeg"}:
        if mode in {"RGBA", "LA"}:  # JPEG has no alpha: flatten onto white
            background = Image.new("RGB", image.size, (255, 255, 255))
            background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
            image = background
        fmt = "JPEG"
    else:
        fmt = "PNG"
    # Write beside the destination, then link into place: never a half-written copy,
    # never overwrite an existing file.
    with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=TEMP_PREFIX, delete=False) as tmp:
        temp_path = Path(tmp.name)
        try:
            if fmt == "JPEG":
                image.save(tmp, format="JPEG", quality=JPEG_QUALITY)
            else:
                image.save(tmp, format="PNG", optimize=False)
            tmp.flush()
            os.fsync(tmp.fileno())
        except BaseException:
            temp_path.unlink(missing_ok=True)
            raise
    try:
        os.link(temp_path, dest)
    except FileExistsError:
        raise SanitizeError(f"A file named {safe_text(dest.name)} is already there.") from None
    except OSError as error:
        # FAT/exFAT USB sticks and some shares have no hard links: a rename that never
        # replaces (Windows' rename refuses an existing name; POSIX: checked just before).
        if not platform.is_no_hard_links(error) or os.path.lexists(dest):
            raise
        temp_path.rename(dest)
    finally:
        temp_path.unlink(missing_ok=True)
    return fmt


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
    source: Path | bytes, dest: Path, *, timeout: float = CHILD_TIMEOUT_SECONDS
) -> SanitizeResult:
    """Write a sanitized copy of `source` (a path or the file's bytes) to `dest`.

    `dest` ending in .jpg/.jpeg gives a JPEG, anything else a PNG. Never overwrites.
    Raises SanitizeError (plain message) when no safe copy can be made.
    """
    if isinstance(source, bytes):
        untrusted_bytes = source
    else:
        try:
            with open(source, "rb") as handle:
                untrusted_bytes = handle.read(MAX_INPUT_BYTES + 1)
        except OSError as error:
            raise SanitizeError(f"The file could not be read ({error.strerror}).") from None
    if dest.exists():
        raise SanitizeError(f"A file named {safe_text(dest.name)} is already there.")
    if not dest.parent.is_dir():
        raise SanitizeError(f"The folder {safe_text(str(dest.parent))} does not exist.")
    width, height, mode, pixels = decode_in_child(untrusted_bytes, timeout)
    fmt = _encode(width, height, mode, pixels, dest)
    return SanitizeResult(dest, width, height, mode, fmt, _mark_untrusted(dest))


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


def sanitize_vault_item(
    vault: _VaultLike, item_id: str, dest_dir: Path, name: str | None = None
) -> Path:
    """Sanitized copy of a quarantined item into `dest_dir`; returns the new file's path.

    `name` is the item's original (untrusted) name, used only to name the copy (the
    vault record's name when None). The content is decoded only in the child process.
    """
    if name is None:
        name = str(getattr(vault.get(item_id), "name", "") or "picture")
    dest = unique_destination(dest_dir, sanitized_name(name))
    return sanitize_file(vault.read_content(item_id), dest).path
