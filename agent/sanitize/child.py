"""The disposable decoder of sanitized copies: untrusted bytes in, naked pixels out.

Run only by `agent.sanitize.parent`: as `python -I -m agent.sanitize.child` from source, or
as the hidden subcommand `photogate _sanitize-child` of the frozen executable. It assumes the
decoder may be exploited, so before decoding a byte it is confined: POSIX rlimits it sets
itself (memory, CPU time, no file writes), or on Windows the parent's job object (memory,
CPU time, no child processes, killed with the parent), which it checks it is in. It never
opens a socket. Protocol:

  stdin:  the untrusted file (at most MAX_INPUT_BYTES)
  env:    PHOTOGATE_SANITIZE_MAX_PIXELS, the policy's pixel limit (never above MAX_PIXELS)
  stdout: b"PGPX2 <width> <height> <mode> <photo|graphic>\\n", then exactly the raw pixels,
          row by row (written in strips, so the child never holds a second copy)
  exit:   0 on success; EXIT_UNDECODABLE with a one-line reason on stderr otherwise;
          EXIT_TOO_LARGE with "<width> <height>" on stderr when the declared size is over
          the limit (checked before a pixel is decoded)

Only the first frame is decoded. What a clinician needs is done here, inside the limits:
the Exif orientation is applied (a portrait phone photo comes out upright) and colour is
converted to sRGB with the embedded ICC profile (LittleCMS through Pillow's ImageCms), so
Display-P3 skin tones stay skin tones although no profile crosses back. "photo" marks
photographic sources (JPEG, HEIC/HEIF, AVIF, lossy WebP), which the parent re-encodes as
JPEG; everything else becomes PNG. The trusted parent checks everything it receives.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any

from agent import platform
from agent.testhooks import SANITIZE_FAULT, hook_value

HEADER_MAGIC = b"PGPX2"
MAX_INPUT_BYTES = 512 * 1024 * 1024  # the parent never sends more
MAX_PIXELS = 100_000_000  # decoded pixels; under Pillow's 178,956,970 bomb error
ADDRESS_SPACE_BYTES = 2 * 1024 * 1024 * 1024  # RLIMIT_AS: decoder plus one RGBA frame
CPU_SECONDS = 20  # RLIMIT_CPU: a decoder stuck in a loop dies here at the latest
EXIT_UNDECODABLE = 3
EXIT_UNCONFINED = 4  # the limits could not be put in force: nothing was decoded
EXIT_TOO_LARGE = 5  # the declared size is over the pixel limit: nothing was decoded
MAX_PIXELS_ENV = "PHOTOGATE_SANITIZE_MAX_PIXELS"
THUMBNAIL_ENV = "PHOTOGATE_SANITIZE_THUMBNAIL_PX"  # set: hand back a picture this big at most
MAX_THUMBNAIL_PX = 1024  # the largest thumbnail side the child agrees to
STRIP_BYTES = 4 * 1024 * 1024  # bytes of pixels written per strip of rows
KIND_PHOTO = "photo"
KIND_GRAPHIC = "graphic"
PHOTO_FORMATS = ("JPEG", "MPO", "HEIF", "AVIF")  # WebP counts when lossy (a VP8 chunk)
RIFF_HEADER_BYTES = 12  # "RIFF" <size> "WEBP"
MAX_WEBP_CHUNKS = 64  # chunks looked at to tell lossy from lossless WebP
SUBCOMMAND = "_sanitize-child"  # hidden: `photogate _sanitize-child` (frozen builds)
LIMITS = platform.ChildLimits(memory_bytes=ADDRESS_SPACE_BYTES, cpu_seconds=CPU_SECONDS)
ALLOWED_MODES = ("RGB", "RGBA", "L", "LA")  # everything else is converted to one of these
# Photo formats only: Pillow's other plugins (EPS runs Ghostscript, WMF, PSD, FITS...) are
# attack surface a patient photo never needs.
DECODABLE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "DIB", "TIFF", "ICO", "HEIF", "AVIF")

# Test hook: only honoured when the parent sets it, to prove crashes and hangs are contained.
TEST_FAULT_ENV = SANITIZE_FAULT  # a test hook (agent.testhooks): inert in frozen builds


def _forbid_sockets() -> None:
    """Make any socket creation fail: the decoder has no business on the network."""
    import socket

    def _refuse(*_args: object, **_kwargs: object) -> socket.socket:
        raise OSError("network access is not allowed in the sanitizer")

    socket.socket = _refuse  # type: ignore[assignment,misc]
    socket.create_connection = _refuse


def _test_fault() -> None:
    fault = hook_value(TEST_FAULT_ENV)  # a test hook: "" in production and frozen builds
    if fault == "crash":
        os.abort()
    if fault == "hang":
        while True:
            pass


def _fail(reason: str) -> int:
    sys.stderr.write(reason.replace("\n", " ")[:300] + "\n")
    return EXIT_UNDECODABLE


def _pixel_limit() -> int:
    try:
        wanted = int(os.environ.get(MAX_PIXELS_ENV, MAX_PIXELS))
    except ValueError:
        wanted = MAX_PIXELS
    return max(1, min(wanted, MAX_PIXELS))


def _thumbnail_side() -> int | None:
    try:
        wanted = int(os.environ.get(THUMBNAIL_ENV, "0"))
    except ValueError:
        return None
    return min(wanted, MAX_THUMBNAIL_PX) if wanted > 0 else None


def _is_lossy_webp(untrusted_bytes: bytes) -> bool:
    """True when the first image chunk of a WebP file is VP8 (lossy), not VP8L."""
    offset = RIFF_HEADER_BYTES
    for _ in range(MAX_WEBP_CHUNKS):
        fourcc = untrusted_bytes[offset : offset + 4]
        if len(fourcc) < 4:
            return False
        if fourcc == b"VP8 ":
            return True
        if fourcc == b"VP8L":
            return False
        size = int.from_bytes(untrusted_bytes[offset + 4 : offset + 8], "little")
        offset += 8 + size + (size & 1)
    return False


def _kind(image_format: str | None, untrusted_bytes: bytes) -> str:
    if image_format in PHOTO_FORMATS:
        return KIND_PHOTO
    if image_format == "WEBP" and _is_lossy_webp(untrusted_bytes):
        return KIND_PHOTO
    return KIND_GRAPHIC


def _to_srgb(frame: Any, icc: bytes | None) -> Any:
    """The frame in sRGB as RGB/RGBA/L/LA, converted with its embedded profile if any.

    A gray picture with a gray profile stays gray. A profile LittleCMS cannot use is
    ignored: the pixels are then taken as sRGB, as for an untagged file.
    """
    from PIL import Image, ImageCms

    has_alpha = "A" in frame.getbands() or "transparency" in frame.info
    if icc and frame.mode in ("RGB", "RGBA", "CMYK"):
        alpha = frame.getchannel("A") if frame.mode == "RGBA" else None
        colour = frame.convert("RGB") if frame.mode == "RGBA" else frame
        try:
            converted = ImageCms.profileToProfile(
                colour,
                ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                ImageCms.createProfile("sRGB"),
                outputMode="RGB",
            )
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            converted = None
        if isinstance(converted, Image.Image):
            if alpha is not None:
                converted.putalpha(alpha)
            return converted
    if frame.mode in ALLOWED_MODES:
        return frame
    return frame.convert("RGBA" if has_alpha else "RGB")


def _write(frame: Any, kind: str) -> None:
    out = sys.stdout.buffer
    header = f"{frame.width} {frame.height} {frame.mode} {kind}\n".encode("ascii")
    out.write(HEADER_MAGIC + b" " + header)
    row_bytes = frame.width * len(frame.getbands())
    rows = max(1, STRIP_BYTES // row_bytes)
    for top in range(0, frame.height, rows):
        bottom = min(frame.height, top + rows)
        out.write(frame.crop((0, top, frame.width, bottom)).tobytes())
    out.flush()


def main() -> int:
    """Decode stdin's image and write the header and raw pixels to stdout."""
    _forbid_sockets()
    # Read first: on Windows the parent writes stdin only after the job object holds this
    # process, so once the input is here the confinement can be checked. Nothing untrusted
    # is decoded before the limits are in force.
    untrusted_bytes = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    if not platform.limit_this_process(LIMITS):
        sys.stderr.write("the picture converter could not be confined\n")
        return EXIT_UNCONFINED
    _test_fault()
    import warnings

    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:
        pass  # HEIC/AVIF then fail as "not a picture Photogate can read"

    if len(untrusted_bytes) > MAX_INPUT_BYTES:
        return _fail("the file is too large")
    limit = _pixel_limit()
    try:
        with Image.open(io.BytesIO(untrusted_bytes), formats=DECODABLE_FORMATS) as image:
            if image.width * image.height > limit:
                sys.stderr.write(f"{image.width} {image.height}\n")
                return EXIT_TOO_LARGE
            kind = _kind(image.format, untrusted_bytes)
            image.seek(0)
            image.load()
            icc = image.info.get("icc_profile")
            upright = ImageOps.exif_transpose(image)
            frame = _to_srgb(upright, icc if isinstance(icc, bytes) else None)
            del upright
            side = _thumbnail_side()
            if side is not None:  # a thumbnail for the review window: same path, fewer pixels
                frame = frame.copy()
                frame.thumbnail((side, side))
            _write(frame, kind)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return _fail("the picture is too large (pixel bomb)")
    except MemoryError:
        return _fail("the picture needs too much memory")
    except Exception as error:  # any decoder failure is an answer, not a crash
        return _fail(f"not a picture Photogate can read ({type(error).__name__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
