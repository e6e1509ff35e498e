"""`photogate scan` as a real subprocess: output lines, JSON, exit codes, no changes to files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from jpeg_samples import pe_executable, photo, zip_archive

REPO = Path(__file__).resolve().parent.parent


def scan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent", "scan", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "clean.jpg": photo(),
        "sub/deeper/also-clean.jpg": photo(seed=2),
        "sub/gifar.jpg": photo() + zip_archive(),
        "invoice_\u202egpj.exe": pe_executable(),
    }
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def test_clean_folder_exits_zero(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(photo())
    result = scan(str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("CLEAN")
    assert result.stderr == ""


def test_flagged_tree_exits_one_and_names_are_escaped(tmp_path: Path) -> None:
    make_tree(tmp_path)
    result = scan(str(tmp_path))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert "\u202e" not in result.stdout  # never print raw bidi characters
    rlo = next(line for line in lines if "invoice_" in line)
    assert "invoice_\\u202egpj.exe" in rlo and rlo.startswith("QUARANTINE")
    assert "name.bidi_control" in rlo
    gifar = next(line for line in lines if "gifar" in line)
    assert gifar.startswith("QUARANTINE") and "jpeg.trailing_data" in gifar


def test_json_lines(tmp_path: Path) -> None:
    make_tree(tmp_path)
    result = scan("--json", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.isascii()
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    by_name = {Path(r["path"]).name: r for r in reports}
    gifar = by_name["gifar.jpg"]
    assert gifar["type"] == "jpeg" and gifar["verdict"] == "quarantine"
    finding = gifar["findings"][0]
    assert {"code", "severity", "message", "offset", "length"} <= finding.keys()
    assert finding["code"] == "jpeg.trailing_data" and finding["offset"] == len(photo())
    assert by_name["clean.jpg"]["findings"] == []
    assert by_name["invoice_\u202egpj.exe"]["findings"][0]["code"] == "name.bidi_control"


def test_missing_path_is_an_error_but_others_are_scanned(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(photo())
    missing = tmp_path / "nope\u202e.jpg"
    result = scan(str(missing), str(tmp_path / "a.jpg"))
    assert result.returncode == 2
    assert "no such file or folder" in result.stderr and "nope\\u202e.jpg" in result.stderr
    assert result.stdout.startswith("CLEAN")


def test_symlinked_folder_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.jpg").write_bytes(pe_executable())
    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / "ok.jpg").write_bytes(photo())
    (inside / "link").symlink_to(outside, target_is_directory=True)
    result = scan("--json", str(inside))
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(Path(r["path"]).name for r in reports) == ["link", "ok.jpg"]
    assert result.returncode == 0


def test_scan_never_modifies_files(tmp_path: Path) -> None:
    files = make_tree(tmp_path)
    for relative in files:
        os.utime(tmp_path / relative, (1_000_000_000, 1_100_000_000))
    scan(str(tmp_path))
    for relative, data in files.items():
        path = tmp_path / relative
        info = path.stat()  # before reading it ourselves, which would touch atime
        assert (info.st_atime, info.st_mtime) == (1_000_000_000, 1_100_000_000)
        assert path.read_bytes() == data
