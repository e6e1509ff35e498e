"""macOS: POSIX; extended attributes go through /usr/bin/xattr (agent/osmark.py).

Python's os.setxattr is Linux-only. RLIMIT_AS is accepted but not enforced by macOS, so
the sanitizer child's memory is bounded by the pixel cap and the parent's timeout there;
RLIMIT_CPU and RLIMIT_FSIZE are enforced.
"""

from __future__ import annotations

import sys

assert sys.platform == "darwin"  # mypy on other platforms skips the rest

from agent.platform.posix import PosixPlatform  # noqa: E402


class MacPlatform(PosixPlatform):
    """macOS 12+ (Intel and Apple silicon)."""

    name = "darwin"
