"""The engine reads files by positional windows: truncation, size caps, window edges.

Regressions from the issue-13 attack review: a mapped file truncated under the agent
killed it with SIGBUS; a JPEG padded past the 2 GiB cap was only logged.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jpeg_samples import photo, zip_archive

from agent.inspect import reader as reader_module
from agent.inspect.engine import inspect_path
from agent.inspect.limits import DEFAULT_MAX_FILE_BYTES, WINDOW_BYTES
from agent.inspect.reader import FileChanged, Reader
from agent.model import Severity, Verdict

REPO_ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
BIG_FILE_BYTES = 300 * MIB  # the size of the reproduction (over the old 256 MiB line)
TRUNCATE_FOR_SECONDS = 3.0  # seconds the file is truncated and re-grown under the inspector


def _open_reader(path: Path) -> tuple[int, Reader]:
    fd = os.open(path, os.O_RDONLY)
    return fd, Reader.over_descriptor(fd, os.fstat(fd).st_size)


def test_searches_find_needles_straddling_a_window_edge(tmp_path: Path) -> None:
    path = tmp_path / "edge.bin"
    edge = WINDOW_BYTES
    with path.open("wb") as handle:
        handle.truncate(2 * WINDOW_BYTES + 4096)
        handle.seek(edge - 2)
        handle.write(b"PK\x03\x04")  # two bytes on each side of the first window edge
        handle.seek(edge + 100)
        handle.write(b"<script")
    fd, reader = _open_reader(path)
    try:
        assert reader.find(b"PK\x03\x04") == edge - 2
        assert reader.rfind(b"PK\x03\x04") == edge - 2
        assert reader.find(b"PK\x03\x04", edge - 1) == -1
        assert reader.read(edge - 2, 4) == b"PK\x03\x04"
        assert reader[edge - 2 : edge + 2] == b"PK\x03\x04"
        import re

        pattern = re.compile(rb"PK\x03\x04|<script")
        assert [m.start() for m in reader.finditer(pattern)] == [edge - 2, edge + 100]
        found = reader.search(pattern, edge - 1)
        assert found is not None and (found.start(), found.end()) == (edge + 100, edge + 107)
        assert reader.u32le(edge - 2) == 0x04034B50
    finally:
        os.close(fd)


def test_a_read_past_what_is_left_after_truncation_is_file_changed(tmp_path: Path) -> None:
    path = tmp_path / "shrinks.bin"
    path.write_bytes(bytes(3 * WINDOW_BYTES))
    fd, reader = _open_reader(path)
    try:
        assert reader.read(0, 16) == bytes(16)
        os.truncate(path, WINDOW_BYTES)
        with pytest.raises(FileChanged):
            reader.read(2 * WINDOW_BYTES + 5, 16)
    finally:
        os.close(fd)


def test_truncation_during_inspection_is_a_read_error_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.jpg"
    data = photo()
    with path.open("wb") as handle:
        handle.write(data)
        handle.truncate(3 * WINDOW_BYTES)
    real_read_at = reader_module.read_at
    calls = []

    def truncating_read_at(fd: int, length: int, offset: int) -> bytes:
        calls.append(offset)
        if len(calls) == 2:  # after the first window: another program empties the file
            os.truncate(path, 0)
        return real_read_at(fd, length, offset)

    monkeypatch.setattr(reader_module, "read_at", truncating_read_at)
    report = inspect_path(path)
    codes = {finding.code: finding for finding in report.findings}
    assert codes["scan.read_error"].severity is Severity.MEDIUM
    assert "shrank" in (codes["scan.read_error"].detail or "")
    assert report.verdict is Verdict.FLAG


_INSPECT_LOOP = """
import sys, time
from agent.inspect.engine import inspect_path
deadline = time.monotonic() + float(sys.argv[2])
runs = 0
while time.monotonic() < deadline:
    inspect_path(sys.argv[1])
    runs += 1
print(runs)
"""


def test_truncating_a_big_file_under_the_inspector_cannot_kill_it(tmp_path: Path) -> None:
    """The issue's SIGBUS reproduction: a 300 MiB sparse big.jpg truncated while inspected."""
    path = tmp_path / "big.jpg"
    head = photo()
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(BIG_FILE_BYTES)
    child = subprocess.Popen(
        [sys.executable, "-c", _INSPECT_LOOP, str(path), str(TRUNCATE_FOR_SECONDS)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + TRUNCATE_FOR_SECONDS
    while time.monotonic() < deadline and child.poll() is None:
        os.truncate(path, len(head))  # the tail vanishes under a reader...
        time.sleep(0.01)
        os.truncate(path, BIG_FILE_BYTES)  # ...and comes back for the next one
        time.sleep(0.02)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, (child.returncode, err.decode(errors="replace")[-2000:])
    assert int(out.decode()) >= 1


def test_a_trapped_jpeg_padded_past_the_default_cap_is_still_quarantined(tmp_path: Path) -> None:
    """The issue's reproduction: a JPEG, 2 GiB of nothing, a ZIP at the end (sparse file)."""
    path = tmp_path / "padded.jpg"
    trailer = zip_archive()
    with path.open("wb") as handle:
        handle.write(photo())
        handle.seek(DEFAULT_MAX_FILE_BYTES + MIB)
        handle.write(trailer)
    report = inspect_path(path)
    codes = {finding.code: finding for finding in report.findings}
    assert codes["resource.file_too_large"].severity is Severity.MEDIUM
    assert codes["jpeg.trailing_data"].severity is Severity.HIGH
    assert codes["jpeg.trailing_data"].payload == "zip"
    assert report.verdict is Verdict.QUARANTINE


def test_a_plain_picture_over_the_cap_is_flagged_not_clean(tmp_path: Path) -> None:
    path = tmp_path / "huge.jpg"
    with path.open("wb") as handle:
        handle.write(photo())
        handle.truncate(DEFAULT_MAX_FILE_BYTES + MIB)
    report = inspect_path(path)
    assert {f.code: f.severity for f in report.findings} == {
        "resource.file_too_large": Severity.MEDIUM
    }
    assert report.verdict is Verdict.FLAG
