"""The running agent and its policy: events as documented, whole-policy rejection, off-worker reads.

Issue 12 (policy_loaded at start, policy_recovered on a re-push, preferences_rejected and a
plain tray sentence) and issue 13 (an audit log that cannot be created rejects the policy as a
whole and the old log keeps every event; validation never runs on the worker).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.policy.keeper import POLICY_PROBLEM_WORDS, PREFERENCES_PROBLEM, PendingPolicy
from tests.agent_harness import make_jpeg, make_pe_bytes, read_events, wait_for, write_plain
from tests.test_service import Agent, write_config

WAIT_SECONDS = 10.0


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    running = Agent(tmp_path)
    running.service.start()
    yield running
    running.service.stop()


def events_of(agent: Agent, kind: str) -> list[dict[str, Any]]:
    return [e for e in read_events(agent.home) if e["event"] == kind]


def test_policy_loaded_at_start_names_layer_source_and_file_hash(agent: Agent) -> None:
    loaded = events_of(agent, "policy_loaded")
    assert len(loaded) == 1
    assert loaded[0]["layer"] == "machine"
    assert loaded[0]["source"] == str(agent.config)
    assert loaded[0]["sha256"] == hashlib.sha256(agent.config.read_bytes()).hexdigest()
    assert loaded[0]["policy_version"] == "test-1"
    assert loaded[0]["fingerprint"] == agent.keeper.current.fingerprint


def test_re_pushing_the_same_good_policy_clears_the_rejection(agent: Agent) -> None:
    good = agent.config.read_bytes()
    agent.config.write_text("[watch]\nsettle_seconds = -5\n", encoding="utf-8")
    wait_for(lambda: events_of(agent, "policy_rejected"), WAIT_SECONDS, "the rejection")
    rejected = events_of(agent, "policy_rejected")[0]
    assert rejected["problems"] and "settle_seconds" in rejected["problem"]
    state = agent.service.snapshot()
    assert state.policy_problem is not None and "settle_seconds" in state.policy_problem
    assert state.problem == POLICY_PROBLEM_WORDS  # the tooltip: never a parser's or key's words
    agent.config.write_bytes(good)  # the very same file as before the bad push
    wait_for(lambda: events_of(agent, "policy_recovered"), WAIT_SECONDS, "the recovery")
    recovered = events_of(agent, "policy_recovered")[0]
    assert recovered["sha256"] == hashlib.sha256(good).hexdigest()
    assert agent.service.snapshot().policy_problem is None


def test_a_preferences_mistake_is_its_own_event_and_a_plain_tray_sentence(agent: Agent) -> None:
    prefs = agent.home / "preferences.toml"
    prefs.write_text("[ui]\nnotifications = flase\n", encoding="utf-8")  # a TOML syntax error
    wait_for(lambda: events_of(agent, "preferences_rejected"), WAIT_SECONDS, "the rejection")
    assert not events_of(agent, "policy_rejected")
    state = agent.service.snapshot()
    assert state.problem == PREFERENCES_PROBLEM
    assert state.policy_problem is None
    assert "line" not in (state.problem or "") and "Invalid" not in (state.problem or "")
    status = (agent.home / "run" / "status.json").read_text(encoding="utf-8")
    assert "Invalid value" not in status.split('"preferences_problem"', 1)[1][:200]


def test_an_audit_log_that_cannot_be_created_rejects_the_policy_as_a_whole(
    agent: Agent, tmp_path: Path
) -> None:
    # Issue 13: the old log was closed first, and every later event was dropped silently.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log folder should be", encoding="utf-8")
    write_config(
        agent.config,
        version="test-2",
        extra=f'\n[report]\naudit_log = "{blocker}/events.jsonl"\n',
    )
    wait_for(lambda: events_of(agent, "policy_rejected"), WAIT_SECONDS, "the rejection")
    rejected = events_of(agent, "policy_rejected")[0]
    assert "report.audit_log" in rejected["problem"] and "cannot create" in rejected["problem"]
    state = agent.service.snapshot()
    assert state.policy_version == "test-1"  # the last good policy stays in force
    assert state.policy_problem is not None and "report.audit_log" in state.policy_problem
    assert state.problem == POLICY_PROBLEM_WORDS  # the tray's words: no path, no key
    bad = agent.downloads / "after.jpg"
    write_plain(bad, make_pe_bytes(21))
    event = agent.wait_verdict(bad)  # still written to the old log
    assert event["policy_version"] == "test-1" and event["action"] == "quarantine"


def test_policy_files_are_read_and_validated_off_the_worker(agent: Agent) -> None:
    seen: list[str] = []
    original_poll = agent.keeper.poll

    def recording_poll() -> PendingPolicy | None:
        seen.append(threading.current_thread().name)
        return original_poll()

    agent.keeper.poll = recording_poll  # type: ignore[method-assign]
    write_config(agent.config, version="test-3")
    wait_for(lambda: agent.service.snapshot().policy_version == "test-3", WAIT_SECONDS, "test-3")
    assert seen and set(seen) == {"photogate-policy"}
    target = agent.downloads / "ok.jpg"
    write_plain(target, make_jpeg(22))
    assert agent.wait_verdict(target)["policy_version"] == "test-3"


def test_a_tls_syslog_ca_file_that_cannot_be_read_rejects_the_policy(
    agent: Agent, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-ca.pem"
    write_config(
        agent.config,
        version="test-4",
        extra=f'\n[report]\nsyslog = "tls://127.0.0.1:6514"\nsyslog_ca_file = "{missing}"\n',
    )
    wait_for(lambda: events_of(agent, "policy_rejected"), WAIT_SECONDS, "the rejection")
    rejected = events_of(agent, "policy_rejected")[0]
    assert "report.syslog_ca_file" in rejected["problem"] and "no such file" in rejected["problem"]
    assert agent.service.snapshot().policy_version == "test-1"
