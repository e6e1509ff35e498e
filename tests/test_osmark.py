"""OS untrusted-origin markers: real Linux xattrs; Windows/macOS formats on file-backed stores."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.osmark import (
    MAC_QUARANTINE_XATTR,
    ORIGIN_URL_XATTR,
    REASON_XATTR,
    VERDICT_XATTR,
    LinuxUserXattrStore,
    MacXattrTool,
    QuarantineXattrMarker,
    SidecarStreamStore,
    XattrMarker,
    ZoneIdentifierMarker,
    default_marker,
    mac_quarantine_value,
)
from tests.vault_helpers import xattr_capable_dir


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """A folder on a filesystem with user xattrs (fails, never skips, when there is none)."""
    found = xattr_capable_dir(tmp_path)
    yield found
    if found != tmp_path:
        shutil.rmtree(found, ignore_errors=True)


def test_xattr_marker_writes_freedesktop_and_photogate_attributes(folder: Path) -> None:
    photo = folder / "scan.jpg"
    photo.write_bytes(b"\xff\xd8\xff")
    marker = XattrMarker()

    assert marker.mark(photo, reason="ZIP hidden\nafter the picture", origin_url="https://x.test/a")

    assert os.getxattr(photo, VERDICT_XATTR) == b"untrusted"
    assert os.getxattr(photo, REASON_XATTR) == b"ZIP hidden after the picture"
    assert os.getxattr(photo, ORIGIN_URL_XATTR) == b"https://x.test/a"
    assert marker.read(photo) == {
        VERDICT_XATTR: "untrusted",
        REASON_XATTR: "ZIP hidden after the picture",
        ORIGIN_URL_XATTR: "https://x.test/a",
    }
    assert photo.read_bytes() == b"\xff\xd8\xff"  # content untouched


def test_xattr_marker_without_url_sets_no_origin(folder: Path) -> None:
    photo = folder / "p.png"
    photo.write_bytes(b"x")
    assert XattrMarker(verdict="flagged").mark(photo, reason="r")
    assert XattrMarker().read(photo) == {VERDICT_XATTR: "flagged", REASON_XATTR: "r"}


def test_xattr_marker_never_raises_and_never_follows_links(folder: Path) -> None:
    target = folder / "target.jpg"
    target.write_bytes(b"t")
    link = folder / "link.jpg"
    link.symlink_to(target)
    marker = XattrMarker()
    assert marker.mark(link, reason="r") is False  # Linux refuses user xattrs on symlinks
    assert marker.read(target) == {}
    assert marker.mark(folder / "missing.jpg", reason="r") is False
    assert marker.read(folder / "missing.jpg") == {}


def test_xattr_marker_returns_false_on_a_filesystem_without_user_xattrs(folder: Path) -> None:
    # procfs holds no user xattrs: the marker must report that, not raise.
    proc_file = Path(f"/proc/{os.getpid()}/comm")
    assert proc_file.exists()
    assert XattrMarker().mark(proc_file, reason="r") is False


def test_zone_identifier_format_on_a_file_backed_stream(tmp_path: Path) -> None:
    photo = tmp_path / "invoice.jpg"
    photo.write_bytes(b"x")
    marker = ZoneIdentifierMarker(SidecarStreamStore())

    assert marker.mark(photo, reason="hidden ZIP")
    stream = tmp_path / "invoice.jpg:Zone.Identifier"
    assert stream.read_bytes() == b"[ZoneTransfer]\r\nZoneId=3\r\nHostUrl=about:internet\r\n"
    assert marker.read(photo) == {"ZoneId": "3", "HostUrl": "about:internet"}

    assert marker.mark(photo, reason="r", origin_url="https://mail.example/att?id=1")
    assert stream.read_bytes() == (
        b"[ZoneTransfer]\r\nZoneId=3\r\nHostUrl=https://mail.example/att?id=1\r\n"
    )


def test_zone_identifier_returns_false_when_the_stream_cannot_be_written(tmp_path: Path) -> None:
    marker = ZoneIdentifierMarker(SidecarStreamStore())
    assert marker.mark(tmp_path / "no-such-folder" / "a.jpg", reason="r") is False
    assert marker.read(tmp_path / "a.jpg") == {}


def test_mac_quarantine_value_and_marker_on_linux_xattrs(folder: Path) -> None:
    assert mac_quarantine_value(0x5F5E1000) == "0081;5f5e1000;Photogate;"
    photo = folder / "a.heic"
    photo.write_bytes(b"x")
    marker = QuarantineXattrMarker(LinuxUserXattrStore(), clock=lambda: 1_700_000_000.0)

    assert marker.mark(photo, reason="r", origin_url="https://ignored.test")

    assert os.getxattr(photo, f"user.{MAC_QUARANTINE_XATTR}") == b"0081;6553f100;Photogate;"
    assert marker.read(photo) == {MAC_QUARANTINE_XATTR: "0081;6553f100;Photogate;"}


def test_mac_xattr_tool_passes_the_expected_arguments(tmp_path: Path) -> None:
    """A stand-in for /usr/bin/xattr records its argv, so the real command line is checked."""
    log = tmp_path / "argv.log"
    tool = tmp_path / "xattr"
    tool.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"open({str(log)!r}, 'a').write(repr(sys.argv[1:]) + '\\n')\n"
        "print('0081;00000001;Photogate;') if sys.argv[1] == '-p' else None\n"
    )
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    marker = QuarantineXattrMarker(MacXattrTool(str(tool)), clock=lambda: 1.0)

    assert marker.mark(photo, reason="r")
    assert marker.read(photo) == {MAC_QUARANTINE_XATTR: "0081;00000001;Photogate;"}
    assert log.read_text().splitlines() == [
        repr(["-w", MAC_QUARANTINE_XATTR, "0081;00000001;Photogate;", str(photo)]),
        repr(["-p", MAC_QUARANTINE_XATTR, str(photo)]),
    ]
    missing_tool = QuarantineXattrMarker(MacXattrTool(str(tmp_path / "absent")))
    assert missing_tool.mark(photo, reason="r") is False
    assert missing_tool.read(photo) == {}


def test_default_marker_on_this_platform() -> None:
    assert sys.platform.startswith("linux")
    assert isinstance(default_marker(), XattrMarker)


def test_an_existing_zone_identifier_is_kept_and_only_raised(tmp_path: Path) -> None:
    """The browser's HostUrl/ReferrerUrl survive; ZoneId 4 stays 4, 2 becomes 3."""
    marker = ZoneIdentifierMarker(SidecarStreamStore())
    photo = tmp_path / "scan.jpg"
    photo.write_bytes(b"x")
    stream = tmp_path / "scan.jpg:Zone.Identifier"
    edge = (
        b"[ZoneTransfer]\r\nZoneId=4\r\nReferrerUrl=https://mail.example/inbox\r\n"
        b"HostUrl=https://mail.example/att?id=7\r\n"
    )
    stream.write_bytes(edge)
    assert marker.mark(photo, reason="trailing ZIP") is True
    assert stream.read_bytes() == edge  # nothing to add: not even rewritten
    stream.write_bytes(edge.replace(b"ZoneId=4", b"ZoneId=2"))
    assert marker.mark(photo, reason="trailing ZIP") is True
    assert stream.read_bytes() == edge.replace(b"ZoneId=4", b"ZoneId=3")
    stream.write_bytes(b"[ZoneTransfer]\r\nLastWriterPackageFamilyName=Outlook\r\n")
    assert marker.mark(photo, reason="r", origin_url="https://x.example/a.jpg") is True
    assert stream.read_bytes() == (
        b"[ZoneTransfer]\r\nZoneId=3\r\nLastWriterPackageFamilyName=Outlook\r\n"
        b"HostUrl=https://x.example/a.jpg\r\n"
    )
    stream.write_bytes(b"garbage")
    assert marker.mark(photo, reason="r") is True
    assert stream.read_bytes() == b"[ZoneTransfer]\r\nZoneId=3\r\nHostUrl=about:internet\r\n"
