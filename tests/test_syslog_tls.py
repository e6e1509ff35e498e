"""Syslog over TLS (RFC 5425) into a real rsyslog, spooling while it is down (issues 12, 13).

rsyslog (Debian's rsyslog + rsyslog-gnutls, installed by scripts/setup.sh --dev) is started by
each test with its own configuration on loopback; what it writes is its own parse of our
messages (APP-NAME, MSGID, structured data, MSG), so a framing or header mistake shows here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.policy.schema import ReportSettings
from agent.service import syslog
from agent.service.events import EventLog, read_events
from agent.service.lock import AgentLock
from agent.service.syslog import SyslogSink
from tests.agent_harness import wait_for
from tests.rsyslog_tls import Pki, Rsyslog, make_pki
from tests.test_service import Agent, write_config

REPO = Path(__file__).resolve().parent.parent
DELIVERY_SECONDS = 20.0  # events must reach rsyslog within this
RELOAD_BACKLOG = 400  # events queued when the policy reloads


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def receiver(tmp_path: Path, pki: Pki) -> Iterator[Rsyslog]:
    server = Rsyslog(tmp_path / "rsyslog", pki)
    server.start()
    yield server
    server.stop()


def parsed(line: str) -> tuple[str, str, str, dict[str, object]]:
    """rsyslog's own parse of one message: app-name, msgid, structured data, our JSON."""
    app, msgid, sd, msg = line.split("\t", 3)
    return app, msgid, sd, json.loads(msg.strip().lstrip("\ufeff"))


def test_events_arrive_over_tls_and_rsyslog_parses_them(
    tmp_path: Path, pki: Pki, receiver: Rsyslog
) -> None:
    settings = ReportSettings(
        syslog=f"tls://127.0.0.1:{receiver.port}",
        syslog_ca_file=str(pki.ca),
        syslog_facility="local4",
    )
    log = EventLog(settings, tmp_path / "home")
    log.emit("agent_started", policy_version="tls-1", pid=os.getpid(), version="t")
    log.emit(
        "verdict",
        path="/home/ann/Downloads/Smith_John.jpg",
        policy_version="tls-1",
        action="quarantine",
        findings=["jpeg.trailing_data"],
    )
    wait_for(lambda: len(receiver.lines()) >= 2, DELIVERY_SECONDS, "two events in rsyslog")
    health = log.sink_health()
    log.close()
    first, second = (parsed(line) for line in receiver.lines()[:2])
    assert first[:2] == ("photogate", "agent_started")
    assert second[:2] == ("photogate", "verdict")
    assert second[2] == '[photogate@32473 action="quarantine" policy="tls-1"]'
    assert second[3]["findings"] == ["jpeg.trailing_data"]
    assert "path" not in second[3] and "Smith" not in receiver.lines()[1]  # hashed by default
    assert second[3]["path_hash"] == read_events(log.path)[1]["path_hash"]
    assert health[0]["ok"] is True and health[0]["backlog"] == 0
    assert health[0]["last_delivery"] is not None


def test_a_client_certificate_is_presented_when_the_receiver_demands_one(
    tmp_path: Path, pki: Pki
) -> None:
    server = Rsyslog(tmp_path / "mutual", pki, require_client_cert=True)
    server.start()
    try:
        target = f"tls://127.0.0.1:{server.port}"
        anonymous = SyslogSink(target, ca_file=str(pki.ca), spool_dir=tmp_path / "s1")
        anonymous.send({"event": "verdict", "action": "log", "n": 1})
        wait_for(lambda: anonymous.health().problem, DELIVERY_SECONDS, "the refusal")
        anonymous.close()
        sink = SyslogSink(
            target,
            ca_file=str(pki.ca),
            client_cert=str(pki.client_cert),
            client_key=str(pki.client_key),
            spool_dir=tmp_path / "s2",
        )
        sink.send({"event": "verdict", "action": "log", "n": 2})
        wait_for(lambda: server.lines(), DELIVERY_SECONDS, "the event from the client")
        sink.close()
        assert [parsed(line)[3]["n"] for line in server.lines()] == [2]
    finally:
        server.stop()


def test_a_wrong_ca_is_refused_with_a_plain_problem(
    tmp_path: Path, pki: Pki, receiver: Rsyslog
) -> None:
    sink = SyslogSink(
        f"tls://127.0.0.1:{receiver.port}", ca_file=str(pki.other_ca), spool_dir=tmp_path / "s"
    )
    sink.send({"event": "verdict", "action": "quarantine"})
    problem = wait_for(lambda: sink.health().problem, DELIVERY_SECONDS, "the refusal")
    health = sink.health()
    sink.close()
    assert problem.startswith("the server's certificate was refused (")
    assert f"it must be signed by the CA in report.syslog_ca_file ({pki.other_ca})" in problem
    assert "Traceback" not in problem
    assert health.backlog == 1 and not health.ok  # kept, not lost
    assert receiver.lines() == []


def test_status_shows_the_sink_problem(tmp_path: Path, pki: Pki, receiver: Rsyslog) -> None:
    write_config(
        tmp_path / "config.toml",
        extra=f'\n[report]\nsyslog = "tls://127.0.0.1:{receiver.port}"\n'
        f'syslog_ca_file = "{pki.other_ca}"\n',
    )
    agent = Agent(tmp_path)
    lock = AgentLock(agent.home / "run")
    lock.acquire()
    agent.service.start()
    try:
        wait_for(lambda: agent.service.snapshot().events_problem, DELIVERY_SECONDS, "problem")
        status_file = agent.home / "run" / "status.json"
        wait_for(
            lambda: '"problem": "the server' in status_file.read_text(encoding="utf-8"),
            DELIVERY_SECONDS,
            "the problem in status.json",
        )
        done = subprocess.run(
            [sys.executable, "-m", "agent", "status"],
            cwd=REPO,
            env={**os.environ, "PHOTOGATE_HOME": str(agent.home)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        agent.service.stop()
        lock.release()
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "events problem:" in line]
    assert len(lines) == 1
    assert "the server's certificate was refused" in lines[0]
    assert f"tls://127.0.0.1:{receiver.port}" in lines[0]


def test_events_are_spooled_while_the_receiver_is_down_and_resent_in_order(
    tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(syslog, "RETRY_MAX_SECONDS", 0.5)  # retry quickly in the test
    server = Rsyslog(tmp_path / "late", pki)
    sink = SyslogSink(
        f"tls://127.0.0.1:{server.port}", ca_file=str(pki.ca), spool_dir=tmp_path / "spool"
    )
    try:
        for number in range(5):
            sink.send({"event": "verdict", "action": "log", "n": number})
        wait_for(lambda: sink.health().problem, DELIVERY_SECONDS, "the receiver to be down")
        assert sink.health().backlog == 5
        assert "refused the connection" in (sink.health().problem or "")
        server.start()
        wait_for(lambda: len(server.lines()) >= 5, DELIVERY_SECONDS, "the spooled events")
        assert [parsed(line)[3]["n"] for line in server.lines()] == [0, 1, 2, 3, 4]
        assert sink.health().backlog == 0 and sink.health().ok
    finally:
        sink.close()
        server.stop()


def test_a_full_spool_drops_the_oldest_and_counts_them(
    tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(syslog, "RETRY_MAX_SECONDS", 0.5)
    monkeypatch.setattr("agent.service.spool.SPOOL_MAX_MESSAGES", 3)
    server = Rsyslog(tmp_path / "full", pki)
    settings = ReportSettings(syslog=f"tls://127.0.0.1:{server.port}", syslog_ca_file=str(pki.ca))
    log = EventLog(settings, tmp_path / "home")
    try:
        for number in range(7):
            log.emit("verdict", action="log", n=number)
        assert log.sink_health()[0]["backlog"] == 3
        server.start()
        wait_for(lambda: len(server.lines()) >= 4, DELIVERY_SECONDS, "kept events + the count")
    finally:
        log.close()
        server.stop()
    received = [parsed(line)[3] for line in server.lines()]
    assert [event["n"] for event in received[:3]] == [4, 5, 6]  # the oldest were dropped
    assert received[3]["event"] == "events_dropped" and received[3]["count"] == 4
    local = read_events(tmp_path / "home" / "logs" / "events.jsonl")
    assert [e["event"] for e in local].count("events_dropped") == 1  # the local log has it too


def test_a_policy_reload_with_a_backlog_sends_each_event_once(
    tmp_path: Path, pki: Pki, receiver: Rsyslog
) -> None:
    settings = ReportSettings(syslog=f"tls://127.0.0.1:{receiver.port}", syslog_ca_file=str(pki.ca))
    log = EventLog(settings, tmp_path / "home")
    try:
        for number in range(RELOAD_BACKLOG):
            log.emit("verdict", action="log", n=number)
        log.configure(settings)  # a policy reload while the sender is busy with the backlog
        wait_for(lambda: not log.sink_health()[0]["backlog"], DELIVERY_SECONDS, "an empty spool")
    finally:
        log.close()
    # rsyslog writes its file on its own schedule: wait for the count, then compare.
    wait_for(lambda: len(receiver.lines()) >= RELOAD_BACKLOG, DELIVERY_SECONDS, "rsyslog's file")
    numbers = [parsed(line)[3]["n"] for line in receiver.lines()]
    assert sorted(numbers) == list(range(RELOAD_BACKLOG))  # every event, none twice
