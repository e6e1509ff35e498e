"""The disposable decoder of sanitized copies: untrusted bytes in, naked pixels out.

Run only by `agent.sanitize.parent` as `python -I -m agent.sanitize.child`. It assumes the
decoder may be exploited, so before reading a byte it caps its own memory, CPU time
and file writes, and it never opens a socket. Protocol:

  stdin:  the untrusted file (at most MAX_INPUT_BYTES)
  stdout: b"PGPX1 <width> <height> <mode>\\n" followed by exactly the raw pixels
  exit:   0 on success; EXIT_UNDECODABLE with a one-line reason on stderr otherwise

Only the first frame is decoded; the trusted parent checks everything it receives.
"""

from __future__ import annotations

import os
import sys

HEADER_MAGIC = b"PGPX1"
MAX_INPUT_BYTES = 512 * 1024 * 1024  # the parent never sends more
MAX_PIXELS = 100_000_000  # decoded pixels; under Pillow's 178,956,970 bomb error
ADDRESS_SPACE_BYTES = 2 * 1024 * 1024 * 1024  # RLIMIT_AS: decoder plus one RGBA frame
CPU_SECONDS = 20  # RLIMIT_CPU: a decoder stuck in a loop dies here at the latest
EXIT_UNDECODABLE = 3
ALLOWED_MODES = ("RGB", "RGBA", "L", "LA")  # everything else is converted to one of these
# Photo formats only: Pillow's other plugins (EPS runs Ghostscript, WMF, PSD, FITS...) are
# attack surface a patient photo never needs.
DECODABLE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "DIB", "TIFF", "ICO", "HEIF", "AVIF")

# Test hook: only honoured when the parent sets it, to prove crashes and hangs are contained.
TEST_FAULT_ENV = "PHOTOGATE_SANITIZE_TEST_FAULT"


def _limit_resources() -> None:
    """Cap memory, CPU and file writes (POSIX); Windows relies on the parent's timeout."""
    try:
        import resource
    except ImportError:  # Windows: no rlimits; the parent's timeout and pixel cap still hold
        return
    limits = (
        (resource.RLIMIT_AS, ADDRESS_SPACE_BYTES),
        (resource.RLIMIT_CPU, CPU_SECONDS),
        (resource.RLIMIT_FSIZE, 0),  # writing any file kills the process (SIGXFSZ)
        (resource.RLIMIT_CORE, 0),
    )
    for which, value in limits:
        try:
            _soft, hard = resource.getrlimit(which)
            new_hard = value if hard == resource.RLIM_INFINITY else min(hard, value)
            resource.setrlimit(which, (min(value, new_hard), new_hard))
        except (ValueError, OSError):
            continue  # a limit the platform does not support is not worth dying for


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
    _limit_resources()
    _forbid_sockets()
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

    untrusted_bytes = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
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
