"""The real ImageMagick `convert`, for tests that check a built file with a second reader.

`shutil.which("convert")` is not enough: some machines put a stand-in called `convert`
first on PATH (one that only converts PNG for a file viewer), and Windows has its own
`convert.exe` (the FAT-to-NTFS tool). A candidate counts only when `-version` says
ImageMagick; `coder` tells whether it can read a format (EXR needs the OpenEXR library,
which Debian ships in libmagickcore-*-extra; scripts/setup.sh --dev installs it).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

_CANDIDATES = ("magick", "convert")
_DEBIAN_CONVERT = "/usr/bin/convert"


def _is_imagemagick(program: str) -> bool:
    try:
        out = subprocess.run(
            [program, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.stdout.startswith("Version: ImageMagick")


@functools.cache
def convert() -> str | None:
    """Path of a real ImageMagick converter, or None when none is installed."""
    seen: list[str] = []
    for name in _CANDIDATES:
        for folder in os.environ.get("PATH", "").split(os.pathsep):
            found = shutil.which(name, path=folder)
            if found and found not in seen:
                seen.append(found)
    if os.path.exists(_DEBIAN_CONVERT):
        seen.append(_DEBIAN_CONVERT)
    return next((program for program in seen if _is_imagemagick(program)), None)


@functools.cache
def coder(name: str) -> bool:
    """True when the real converter can read format `name` (as `-list format` shows it)."""
    program = convert()
    if program is None:
        return False
    out = subprocess.run(
        [program, "-list", "format"], capture_output=True, text=True, timeout=30, check=False
    )
    return any(line.split()[:1] in ([name], [name + "*"]) for line in out.stdout.splitlines())
