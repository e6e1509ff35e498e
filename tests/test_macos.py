"""macOS pieces that run anywhere: default mail folders, and notifications via osascript."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from agent.service.folders import default_folders, expand_pattern
from agent.ui.mac_notify import SCRIPT, MacNotifier, notification_command

MAIL = "Library/Containers/com.apple.mail/Data/Library/Mail Downloads"
OUTLOOK = "Library/Containers/com.microsoft.Outlook/Data/tmp/Outlook Temp"


def test_mac_defaults_watch_apple_mail_and_outlook_attachments(tmp_path: Path) -> None:
    home = tmp_path / "Users" / "frontdesk"
    folders = default_folders("darwin", env={"TMPDIR": "/var/folders/xy/T"}, home=home)
    assert folders[0] == str(home / "Downloads")
    assert str(home / MAIL) in folders and str(home / MAIL / "*") in folders
    assert str(home / "Library/Mail Downloads") in folders  # before OS X 10.9's sandbox
    assert str(home / OUTLOOK) in folders
    assert folders[-1] == "/var/folders/xy/T/pid-*"
    # Mail keeps each message's attachments in a subfolder: the glob finds them as they come.
    message = home / MAIL / "6F9619FF-8B86-D011-B42D-00C04FC964FF"
    message.mkdir(parents=True)
    assert expand_pattern(str(home / MAIL / "*")) == [message]


def test_notification_text_travels_as_arguments_never_as_script(tmp_path: Path) -> None:
    record = tmp_path / "argv.txt"
    fake = tmp_path / "osascript"
    fake.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"open({str(record)!r}, 'w').write('\\0'.join(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    hostile = 'x.jpg" with title "pwned" & (do shell script "touch /tmp/p")\\\nline2'
    reaper = MacNotifier(str(fake)).show("Photogate moved a file", hostile)
    assert reaper is not None
    reaper.join(10)
    argv = record.read_text(encoding="utf-8").split("\0")
    script = [line for flag, line in zip(argv[0:6:2], argv[1:6:2], strict=True) if flag == "-e"]
    assert tuple(script) == SCRIPT
    assert argv[6:] == ["--", hostile, "Photogate moved a file"]
    assert notification_command("t", "m", "/usr/bin/osascript")[-3:] == ["--", "m", "t"]


def test_a_missing_osascript_is_no_crash(tmp_path: Path) -> None:
    assert MacNotifier(os.fspath(tmp_path / "nothing-here")).show("t", "m") is None
