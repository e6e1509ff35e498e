"""The disposable decoder of sanitized copies: untrusted bytes in, naked pixels out.

Run only by `agent.sanitize.parent`: as `python -I -m agent.sanitize.child` from source, or
as the hidden subcommand `photogate _sanitize-child` of the frozen executable. It assumes the
decoder may be exploited, so before decoding a byte it is confined: POSIX rlimits it sets
itself (memory, CPU time, no file writes), or on Windows the parent's job object (memory,
CPU time, no child processes, killed with the parent), which it checks it is in. It never
opens a socket. Protocol:

  stdin:  the untrusted file (at most MAX_INPUT_BYTES)
  stdout: b"PGPX1 <width> <height> <mode>\\n" followed by exactly the raw pixels
  exit:   0 on success; EXIT_UNDECODABLE with a one-line reason on stderr otherwise

Only the first frame is decoded; the trusted parent checks everything it receives.
"""

from __future__ import annotations

import os
import sys

from agent import platform

HEADER_MAGIC = b"PGPX1"
MAX_INPUT_BYTES = 512 * 1024 * 1024  # the parent never sends more
MAX_PIXELS = 100_000_000  # decoded pixels; under Pillow's 178,956,970 bomb error
ADDRESS_SPACE_BYTES = 2 * 1024 * 1024 * 1024  # RLIMIT_AS: decoder plus one RGBA frame
CPU_SECONDS = 20  # RLIMIT_CPU: a decoder stuck in a loop dies here at the latest
EXIT_UNDECODABLE = 3
EXIT_UNCONFINED = 4  # the limits could not be put in force: nothing was decoded
SUBCOMMAND = "_sanitize-child"  # hidden: `photogate _sanitize-child` (frozen builds)
LIMITS = platform.ChildLimits(memory_bytes=ADDRESS_SPACE_BYTES, cpu_seconds=CPU_SECONDS)
ALLOWED_MODES = ("RGB", "RGBA", "L", "LA")  # everything else is converted to one of these
# Photo formats only: Pillow's other plugins (EPS runs Ghostscript, WMF, PSD, FITS...) are
# attack surface a patient photo never needs.
DECODABLE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "DIB", "TIFF", "ICO", "HEIF", "AVIF")

# Test hook: only honoured when the parent sets it, to prove crashes and hangs are contained.
TEST_FAULT_ENV = "PHOTOGATE_SANITIZE_TEST_FAULT"


def _forbid_sockets() -> None:
    """Make any socket creation fail: the decoder has no business on the network."""
    import socket

    def _refuse(*_args: object, **_kwargs: object) -> socket.socket:
        raise OSError("network access is not allowed in the sanitizer")

    socket.socket = _refuse  # type: ignore[assignment,misc]
    socket.create_connection = _refuse


def _test_fault() -> None:
    fault = os.environ.get(TEST_FAULT_ENV, "")
    if fault == "crash":
        os.abort()
    if fault == "hang":
        while True:
            pass


def _fail(reason: str) -> int:
    sys.stderr.write(reason.replace("\n", " ")[:300] + "\n")
    return EXIT_UNDECODABLE


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
    import io
    import warnings

    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:
        pass  # HEIC/AVIF then fail as "not a picture Photogate can read"

    if len(untrusted_bytes) > MAX_INPUT_BYTES:
        return _fail("the file is too large")
    try:
        with Image.open(io.BytesIO(untrusted_bytes), formats=DECODABLE_FORMATS) as image:
            if image.width * image.height > MAX_PIXELS:
                return _fail("the picture is too large (pixel bomb)")
            image.seek(0)
            image.load()
            frame: Image.Image = image
            if frame.mode not in ALLOWED_MODES:
                has_alpha = "A" in frame.getbands() or "transparency" in frame.info
                frame = frame.convert("RGBA" if has_alpha else "RGB")
            header = f"{frame.width} {frame.height} {frame.mode}\n".encode("ascii")
            pixels = frame.tobytes()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return _fail("the picture is too large (pixel bomb)")
    except MemoryError:
        return _fail("the picture needs too much memory")
    except Exception as error:  # any decoder failure is an answer, not a crash
        return _fail(f"not a picture Photogate can read ({type(error).__name__})")
    out = sys.stdout.buffer
    out.write(HEADER_MAGIC + b" " + header)
    out.write(pixels)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
