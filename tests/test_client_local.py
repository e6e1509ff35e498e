"""The front ends' one interface in per-user mode (LocalBackend) and the channel's framing."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from agent.policy.schema import Policy, UiSettings
from agent.service import protocol
from agent.service.client import (
    MODE_PER_USER,
    BackendError,
    Refused,
    open_backend,
    protected_mode_installed,
)
from agent.service.local import LocalBackend, state_from_status
from agent.vault.store import Vault
from tests.vault_helpers import FINDINGS, sample_bytes, sha256_hex


def _backend(tmp_path: Path, **ui: object) -> tuple[LocalBackend, Path]:
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    policy = Policy(ui=UiSettings(**ui))  # type: ignore[arg-type]
    home = tmp_path / "home"
    home.mkdir()
    return LocalBackend(policy, Vault(home / "vault"), home=home), downloads


def test_local_backend_lists_gets_restores_and_deletes(tmp_path: Path) -> None:
    backend, downloads = _backend(tmp_path)
    data = sample_bytes(7, 70_000) + b"\0" * 9  # trailing NULs must survive the round trip
    (downloads / "scan.jpg").write_bytes(data)
    item = backend.vault.quarantine(
        downloads / "scan.jpg", FINDINGS, detected_type="jpeg", policy_version="t1"
    )
    assert backend.mode == MODE_PER_USER
    assert [i.id for i in backend.items()] == [item.id]
    assert backend.get(item.id[:8]).sha256 == sha256_hex(data)
    assert backend.restore(item.id[:8]) == str(downloads / "scan.jpg")
    assert (downloads / "scan.jpg").read_bytes() == data
    assert backend.items() == []
    second = backend.vault.quarantine(
        downloads / "scan.jpg", FINDINGS, detected_type="jpeg", policy_version="t1"
    )
    backend.delete(second.id)
    with pytest.raises(BackendError, match="no quarantined item"):
        backend.get(second.id)


def test_local_rights_follow_the_policy_and_pause_is_refused_when_forbidden(
    tmp_path: Path,
) -> None:
    backend, _ = _backend(tmp_path, allow_restore=False, allow_pause=False, it_contact="Ann")
    rights = backend.rights()
    assert (rights.restore, rights.delete, rights.pause, rights.every_item) == (
        False,
        True,
        False,
        False,
    )
    with pytest.raises(Refused, match=r"does not allow pausing\. Ask Ann"):
        backend.pause(60)


def test_false_alarm_report_is_an_audit_event(tmp_path: Path) -> None:
    backend, downloads = _backend(tmp_path)
    (downloads / "xray.jpg").write_bytes(b"x" * 100)
    item = backend.vault.quarantine(
        downloads / "xray.jpg", FINDINGS, detected_type="jpeg", policy_version="t1"
    )
    backend.report_false_alarm(item.id, "patient sent it, looks fine")
    backend.close()
    lines = (backend.home / "logs" / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    reports = [e for e in events if e["event"] == "false_alarm_reported"]
    assert len(reports) == 1
    assert reports[0]["item_id"] == item.id
    assert reports[0]["note"] == "patient sent it, looks fine"
    assert reports[0]["sha256"] == sha256_hex(b"x" * 100)
    assert [i.id for i in backend.items()] == [item.id]  # the item stays


def test_open_backend_is_local_without_a_service_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHOTOGATE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PHOTOGATE_SOCKET", str(tmp_path / "no-such.sock"))
    assert not protected_mode_installed()
    backend = open_backend(tmp_path / "no-machine-policy.toml")
    assert backend.mode == MODE_PER_USER
    assert backend.status()["running"] is False


def test_state_from_a_hostile_status_document_never_raises() -> None:
    state = state_from_status(
        {"counts": {"unreviewed": "lots"}, "folders": [1, {"path": 3}, {"path": "/d"}]}
    )
    assert state.unreviewed == 0
    assert [f.path for f in state.folders] == ["/d"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"x" * (protocol.MAX_REQUEST_BYTES + 1) + b"\n", "cap"),
        (b'{"v":1,"op":"hello"}', "cut off"),  # no newline: torn
        (b"[1,2]\n", "not a JSON object"),
        (b"{nope\n", "not JSON"),
        (b'{"v":2,"op":"hello"}\n', "version"),
    ],
)
def test_malformed_messages_are_protocol_errors(line: bytes, problem: str) -> None:
    with pytest.raises(protocol.ProtocolError, match=problem):
        protocol.read_message(io.BytesIO(line), protocol.MAX_REQUEST_BYTES)


def test_message_exactly_at_the_cap_is_read_and_one_over_is_refused() -> None:
    base = protocol.encode({"v": 1, "pad": ""}, protocol.MAX_REQUEST_BYTES)
    pad = protocol.MAX_REQUEST_BYTES - len(base)
    at_cap = protocol.encode({"v": 1, "pad": "a" * pad}, protocol.MAX_REQUEST_BYTES)
    assert len(at_cap) == protocol.MAX_REQUEST_BYTES
    assert protocol.read_message(io.BytesIO(at_cap), protocol.MAX_REQUEST_BYTES) is not None
    with pytest.raises(protocol.ProtocolError):
        protocol.encode({"v": 1, "pad": "a" * (pad + 1)}, protocol.MAX_REQUEST_BYTES)
