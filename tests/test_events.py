"""Audit events: JSON lines that hostile names cannot break, hashed names, rotation, syslog."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import threading
from pathlib import Path

import pytest

from agent.policy.schema import ReportSettings
from agent.service.events import EventLog, LogNotifier, read_events
from agent.service.syslog import SyslogSink, format_rfc5424

HOSTILE = [
    "/w/line\nbreak\r.jpg",
    "/w/invoice_\u202egpj.exe",
    "/w/tab\tand\x1b[31mescape.jpg",
    os.fsdecode(b"/w/bad\xff\xfe.jpg"),
    "/w/" + "\u00e9" * 127 + ".jpg",  # 254 bytes of name in UTF-8
]


def test_every_event_is_one_parseable_line_even_with_hostile_names(tmp_path: Path) -> None:
    log = EventLog(ReportSettings(), tmp_path)
    for path in HOSTILE:
        log.emit("verdict", path=path, policy_version="p1", action="flag", findings=["x.y"])
    log.close()
    lines = (tmp_path / "logs" / "events.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b""
    lines = lines[:-1]
    assert len(lines) == len(HOSTILE)
    for line, path in zip(lines, HOSTILE, strict=True):
        assert all(32 <= byte < 127 for byte in line)  # ASCII only: no raw bidi/control
        event = json.loads(line)
        assert event["event"] == "verdict" and event["policy_version"] == "p1"
        assert event["action"] == "flag" and event["findings"] == ["x.y"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["time"])
        assert event["host"] and event["user"]
        assert os.fsencode(path).decode("utf-8", "backslashreplace") == event["path"]
        assert "\u202e" not in event["name"] and "\n" not in event["name"]


def test_hashed_names_never_write_the_path(tmp_path: Path) -> None:
    settings = ReportSettings(hash_local_file_names=True)
    log = EventLog(settings, tmp_path)
    event = log.emit("verdict", path="/home/ann/Downloads/Smith_John_1970.jpg")
    second = log.emit("verdict", path="/home/ann/Downloads/Smith_John_1970.jpg")
    log.close()
    text = (tmp_path / "logs" / "events.jsonl").read_text()
    assert "Smith" not in text and "Downloads" not in text
    assert "path" not in event and "name" not in event
    assert event["path_hash"] == second["path_hash"]  # joinable across events
    salt = (tmp_path / "name_salt").read_bytes()
    # docs/events.md: salted SHA-256 of the path, 32 hex characters (salt, NUL, path bytes).
    expected = hashlib.sha256(salt + b"\0" + b"/home/ann/Downloads/Smith_John_1970.jpg")
    assert event["path_hash"] == expected.hexdigest()[:32]
    assert oct((tmp_path / "name_salt").stat().st_mode & 0o777) == "0o600"


def test_configured_salt_is_used_and_changes_the_hash(tmp_path: Path) -> None:
    a = EventLog(ReportSettings(hash_file_names=True, name_salt="clinic-a"), tmp_path)
    b = EventLog(ReportSettings(hash_file_names=True, name_salt="clinic-b"), tmp_path / "b")
    assert a.build("v", path="/x.jpg")["path_hash"] != b.build("v", path="/x.jpg")["path_hash"]
    a.close()
    b.close()


def test_the_audit_log_rotates_and_keeps_the_configured_number(tmp_path: Path) -> None:
    log = EventLog(ReportSettings(max_log_mb=1, keep_logs=2), tmp_path)
    filler = "x" * 2000
    for index in range(1500):  # ~3 MB
        log.emit("verdict", path=f"/w/{index}.jpg", note=filler)
    log.close()
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]
    for name in files:
        assert (tmp_path / "logs" / name).stat().st_size <= 1024 * 1024 + 4096
        assert all(e["event"] == "verdict" for e in read_events(tmp_path / "logs" / name))


def test_custom_audit_path(tmp_path: Path) -> None:
    target = tmp_path / "it" / "photogate-events.jsonl"
    log = EventLog(ReportSettings(audit_log=str(target)), tmp_path)
    log.emit("agent_started")
    log.close()
    assert read_events(target)[0]["event"] == "agent_started"


def test_rfc5424_shape() -> None:
    event = {"time": "2026-01-02T03:04:05.678Z", "event": "verdict", "action": "quarantine",
             "policy_version": 'v"1]', "path": "/w/a\nb.jpg"}  # fmt: skip
    message = format_rfc5424(event, facility=16, hostname="desk 1")
    header, _, body = message.partition(b"\xef\xbb\xbf")
    # <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] -- local0 (16) * 8 + warning (4) = 132
    assert re.fullmatch(
        rb"<132>1 2026-01-02T03:04:05\.678Z desk1 photogate \d+ verdict "
        rb'\[photogate@32473 action="quarantine" policy="v\\"1\\]"\] ',
        header,
    ), header
    assert json.loads(body)["path"] == "/w/a\nb.jpg"
    assert b"\n" not in message


def _udp_server() -> tuple[socket.socket, int]:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(5)
    return server, server.getsockname()[1]


def test_syslog_over_udp_through_the_event_log(tmp_path: Path) -> None:
    server, port = _udp_server()
    settings = ReportSettings(
        syslog=f"udp://127.0.0.1:{port}", syslog_facility="local3", hash_file_names=False
    )
    log = EventLog(settings, tmp_path)
    log.emit("verdict", path="/w/a.jpg", action="flag")
    data, _ = server.recvfrom(65536)
    log.close()
    server.close()
    assert data.startswith(b"<156>1 ")  # local3 (19) * 8 + warning (4)
    assert json.loads(data.split(b"\xef\xbb\xbf", 1)[1])["path"] == "/w/a.jpg"


def test_syslog_over_tcp_uses_octet_counting(tmp_path: Path) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(5)
    received = bytearray()

    def accept() -> None:
        conn, _ = server.accept()
        conn.settimeout(5)
        with conn:
            while chunk := conn.recv(65536):
                received.extend(chunk)

    thread = threading.Thread(target=accept)
    thread.start()
    sink = SyslogSink(f"tcp://127.0.0.1:{server.getsockname()[1]}", spool_dir=tmp_path)
    sink.send({"event": "verdict", "action": "log", "path": "/w/1.jpg"})
    sink.send({"event": "verdict", "action": "log", "path": "/w/2.jpg"})
    sink.close()
    thread.join(5)
    server.close()
    frames = []
    rest = bytes(received)
    while rest:
        length, _, rest = rest.partition(b" ")
        frames.append(rest[: int(length)])
        rest = rest[int(length) :]
    assert [json.loads(f.split(b"\xef\xbb\xbf", 1)[1])["path"] for f in frames] == [
        "/w/1.jpg",
        "/w/2.jpg",
    ]


def test_syslog_over_a_unix_datagram_socket(tmp_path: Path) -> None:
    address = str(tmp_path / "log.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(address)
    server.settimeout(5)
    sink = SyslogSink(f"unix://{address}")
    sink.send({"event": "policy_rejected", "problem": "bad"})
    data = server.recv(65536)
    sink.close()
    server.close()
    assert data.startswith(b"<131>1 ")  # local0 * 8 + error (3)


def test_an_unreachable_syslog_never_breaks_the_audit_file(tmp_path: Path) -> None:
    settings = ReportSettings(syslog="tcp://127.0.0.1:1")  # nothing listens on port 1
    log = EventLog(settings, tmp_path)
    log.emit("verdict", path="/w/a.jpg")
    log.close()
    assert read_events(tmp_path / "logs" / "events.jsonl")[0]["path"] == "/w/a.jpg"


def test_bad_syslog_targets_are_refused() -> None:
    with pytest.raises(ValueError, match="tls://"):
        SyslogSink("http://example.invalid")
    with pytest.raises(ValueError, match="facility"):
        SyslogSink("udp://127.0.0.1:514", facility="local9")


def test_log_notifier_writes_escaped_lines(caplog: pytest.LogCaptureFixture) -> None:
    notifier = LogNotifier()
    with caplog.at_level(logging.WARNING, logger="photogate.notify"):
        notifier.notify("Moved", "invoice_\u202egpj.exe\nfake line", item_id="abc")
    assert len(caplog.records) == 1
    text = caplog.records[0].getMessage()
    assert "\n" not in text and "\u202e" not in text and "\\u202e" in text and "abc" in text


class _Recorder:
    """A sink that keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, object]] = []

    def send(self, event: dict[str, object]) -> None:
        self.sent.append(event)

    def close(self) -> None:
        pass


def test_names_leave_the_machine_only_as_hashes_by_default(tmp_path: Path) -> None:
    # Issue 13: report.hash_file_names defaults to on for syslog / Event Log; local keeps names.
    remote = _Recorder()
    log = EventLog(ReportSettings(), tmp_path, sinks=[remote])
    patient = "/home/ann/Downloads/Smith_John_1970.jpg"
    local = log.emit("action_failed", path=patient, error=f"[Errno 28] No space left: '{patient}'")
    log.close()
    assert local["path"] == patient and local["name"] == "Smith_John_1970.jpg"
    (sent,) = remote.sent
    assert "path" not in sent and "name" not in sent
    assert sent["path_hash"] == local["path_hash"]  # the SIEM alert joins the local record
    assert "Smith" not in json.dumps(sent)
    assert sent["error"] == "[Errno 28] No space left: '<name hashed>'"
    on_disk = read_events(tmp_path / "logs" / "events.jsonl")[0]
    assert on_disk["path"] == patient


def test_plain_names_go_out_only_when_policy_says_so(tmp_path: Path) -> None:
    remote = _Recorder()
    log = EventLog(ReportSettings(hash_file_names=False), tmp_path, sinks=[remote])
    log.emit("verdict", path="/w/a.jpg")
    log.close()
    assert remote.sent[0]["path"] == "/w/a.jpg" and "path_hash" not in remote.sent[0]


def test_a_failing_new_audit_log_keeps_the_old_one(tmp_path: Path) -> None:
    log = EventLog(ReportSettings(), tmp_path, sinks=[])
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(OSError):
        log.configure(ReportSettings(audit_log=str(blocker / "events.jsonl")), sinks=[])
    log.emit("verdict", path="/w/still-logged.jpg")
    log.close()
    assert read_events(tmp_path / "logs" / "events.jsonl")[0]["path"] == "/w/still-logged.jpg"
