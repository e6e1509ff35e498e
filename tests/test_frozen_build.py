"""The PyInstaller onedir build of the agent works: `--version` and `scan` from the frozen program.

Builds installer/pyinstaller/photogate.spec into a temporary folder (about 10-20 s of CPU on
the development machine, measured: 11 s), then runs the frozen executable as a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, corpus_files

SPEC = REPO_ROOT / "installer" / "pyinstaller" / "photogate.spec"
BUILD_TIMEOUT_SECONDS = 600
RUN_TIMEOUT_SECONDS = 60
# A PE executable named like a photo: "MZ", DOS stub, e_lfanew = 0x80, "PE\0\0".
FAKE_PHOTO_PE = (
    b"MZ" + b"\x90\x00" * 29 + b"\x80\x00\x00\x00" + b"\x00" * 64 + b"PE\x00\x00" + b"\x00" * 400
)


@pytest.fixture(scope="module")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The frozen `photogate` executable, built once for this module."""
    work = tmp_path_factory.mktemp("pyinstaller")
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(work / "dist"),
            "--workpath",
            str(work / "build"),
            str(SPEC),
        ],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    executable = work / "dist" / "photogate" / "photogate"
    assert executable.is_file()
    yield executable


def _run(executable: Path, *args: str | Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PHOTOGATE_HOME"] = str(home)
    env.pop("DISPLAY", None)
    return subprocess.run(
        [str(executable), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        env=env,
        check=False,
    )


def test_frozen_version(frozen: Path, tmp_path: Path) -> None:
    from agent import __version__

    result = _run(frozen, "--version", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"photogate {__version__}"


def test_frozen_is_self_contained(frozen: Path) -> None:
    # The frozen program must not lean on this checkout: the agent package is inside it.
    bundled = frozen.parent / "_internal"
    assert bundled.is_dir()
    assert not (bundled / "agent" / "cli.py").exists()  # compiled into the archive, not copied


def test_frozen_scan_finds_a_disguised_executable(frozen: Path, tmp_path: Path) -> None:
    trap = tmp_path / "wound_photo.jpg"
    trap.write_bytes(FAKE_PHOTO_PE)
    result = _run(frozen, "scan", "--json", trap, home=tmp_path / "home")
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = result.stdout.strip().splitlines()
    report = json.loads(line)
    assert report["verdict"] == "quarantine"
    assert report["type"] == "pe"
    assert "content.executable" in [finding["code"] for finding in report["findings"]]


def test_frozen_scan_passes_a_real_photo(frozen: Path, tmp_path: Path) -> None:
    # Every format walker is imported lazily; a clean verdict on real photos of several formats
    # shows they were bundled (a missing walker would be an error, exit 2).
    benign = [p for p in corpus_files("benign") if p.suffix.lower() in (".jpg", ".png", ".gif")]
    assert benign, "no benign JPEG/PNG/GIF in the corpus"
    result = _run(frozen, "scan", *benign[:5], home=tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr


def test_frozen_sanitize_makes_a_safe_copy_through_the_hidden_child(
    frozen: Path, tmp_path: Path
) -> None:
    """The frozen program starts its decoder as `photogate _sanitize-child` (no -I/-m, which
    a frozen executable would reject): the copy is a fresh PNG with only the pixels."""
    from PIL import Image

    from agent.commands.cli import SANITIZE_CHILD_COMMAND
    from agent.sanitize.child import SUBCOMMAND

    assert SANITIZE_CHILD_COMMAND == SUBCOMMAND
    source = tmp_path / "wound.jpg"
    Image.new("RGB", (40, 30), (200, 10, 10)).save(source, format="JPEG", quality=95)
    with source.open("ab") as handle:
        handle.write(b"PK\x03\x04" + b"\x00" * 64)  # a trailer that must not survive
    out = tmp_path / "copy.png"
    result = _run(frozen, "sanitize", source, "--out", out, home=tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    with Image.open(out) as copy:
        assert (copy.format, copy.size, copy.mode) == ("PNG", (40, 30), "RGB")
        red, green, blue = copy.getpixel((20, 15))
        assert red > 180 and green < 40 and blue < 40
    assert b"PK\x03\x04" not in out.read_bytes()


def test_frozen_hidden_child_speaks_only_its_protocol(frozen: Path, tmp_path: Path) -> None:
    """The hidden subcommand is the decoder itself: bytes in, a plain refusal for non-pictures."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run(
        [str(frozen), "_sanitize-child"],
        input=FAKE_PHOTO_PE,
        capture_output=True,
        timeout=RUN_TIMEOUT_SECONDS,
        env=env,
        check=False,
    )
    assert done.returncode == 3, done.stderr  # EXIT_UNDECODABLE
    assert done.stdout == b""
    assert b"not a picture" in done.stderr
