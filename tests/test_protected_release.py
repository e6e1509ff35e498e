"""Protected mode's release and report: the service's own pipeline honours a staff restore.

Real processes as in tests/test_protected.py: `photogate service` as root, a real staff
account made with useradd (removed after), the client run as that account through
`runuser`, so the service knows who asked from SO_PEERCRED alone. Issue 10 item 1 in
protected mode: a restored file must stay where it was put back, also after a restart.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.service.statedb import RELEASED_ACTION, StateDB
from tests.agent_harness import make_pe_bytes, wait_for
from tests.protected_harness import (
    Account,
    Accounts,
    ServiceProcess,
    client_env,
    items_as,
    photogate_as,
    run_as,
    user_python,
    wait_gone,
    write_as,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="protected mode tests create accounts: root"),
]

TIMEOUT_SECONDS = 30.0
POLICY_VERSION = "protected-release-3"


@pytest.fixture
def staff(tmp_path: Path) -> Iterator[tuple[Accounts, Account]]:
    """One staff account (restores allowed by policy) and the IT group it is not in."""
    accounts = Accounts()
    try:
        accounts.group("it")
        yield accounts, accounts.add("dora")
    finally:
        accounts.remove_all()


def _service(tmp_path: Path, accounts: Accounts, account: Account) -> ServiceProcess:
    config = tmp_path / "policy.toml"
    config.write_text(
        f'[policy]\nversion = "{POLICY_VERSION}"\n\n'
        "[watch]\nuse_default_folders = true\nsettle_seconds = 0.3\n"
        "sweep_interval_seconds = 1.0\n\n"
        f'[ui]\nit_groups = ["{accounts.groups[0]}"]\nallow_restore = true\n',
        encoding="utf-8",
    )
    base = Path("/tmp") / f"pgt-{accounts.tag}-{secrets.token_hex(2)}"
    return ServiceProcess(base, config, [account])


def _row_action(service: ServiceProcess, path: Path) -> str | None:
    with StateDB(service.state_dir / "state.sqlite3", readonly=True) as db:
        record = db.lookup(path)
    return None if record is None else record.action


def _listed(account: Account, service: ServiceProcess) -> list[dict[str, Any]]:
    done = photogate_as(account, service.socket_path, "quarantine", "list", "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _quarantines(service: ServiceProcess, path: Path) -> list[dict[str, Any]]:
    return [
        e
        for e in service.events()
        if e["event"] == "verdict" and e.get("path") == str(path) and e["action"] == "quarantine"
    ]


def test_a_staff_restore_stays_put_across_a_restart_and_names_the_user(
    tmp_path: Path, staff: tuple[Accounts, Account]
) -> None:
    accounts, dora = staff
    service = _service(tmp_path, accounts, dora).start()
    target = dora.downloads / "referral.jpg"
    payload = make_pe_bytes(11)
    try:
        write_as(dora, target, payload)
        wait_gone(target)
        (item,) = items_as(dora, service.socket_path)

        done = photogate_as(dora, service.socket_path, "quarantine", "restore", item["id"])
        assert done.returncode == 0, done.stderr
        assert f"Put back as {target}." in done.stdout
        assert "will not stop this file again there" in done.stdout
        assert target.read_bytes() == payload
        assert target.stat().st_uid == dora.uid

        # The service's pipeline sees the file come back (event, then a sweep a second)
        # and records it as released instead of catching it again.
        wait_for(
            lambda: _row_action(service, target) == RELEASED_ACTION,
            TIMEOUT_SECONDS,
            "the service to record the restored file as released",
        )
        assert target.read_bytes() == payload
        assert items_as(dora, service.socket_path) == []
        assert len(_quarantines(service, target)) == 1
    finally:
        assert service.stop() == 0

    # Across a restart, with the service's memory of the path gone: the release alone keeps it.
    with StateDB(service.state_dir / "state.sqlite3") as db:
        db.forget(target)
    with service.running():
        wait_for(
            lambda: _row_action(service, target) == RELEASED_ACTION,
            TIMEOUT_SECONDS,
            "the restarted service to honour the release",
        )
        assert target.read_bytes() == payload
        assert items_as(dora, service.socket_path) == []
        # A changed file is judged as usual.
        write_as(dora, target, payload + b"changed")
        wait_gone(target)
        assert len(_quarantines(service, target)) == 2

    (event,) = [e for e in service.events() if e["event"] == "restored"]
    assert (event["caller"], event["caller_uid"]) == (dora.name, dora.uid)
    assert event["user"] == "root"  # docs/events.md: the service's own account; caller acted
    assert event["item_id"] == item["id"] and event["sha256"] == item["sha256"]
    assert event["path"] == str(target) and event["released"] is True
    assert event["via"] == "protected_channel"
    assert event["policy_version"] == POLICY_VERSION


def test_a_false_alarm_report_is_on_record_and_the_item_shows_reported(
    tmp_path: Path, staff: tuple[Accounts, Account]
) -> None:
    accounts, dora = staff
    service = _service(tmp_path, accounts, dora).start()
    target = dora.downloads / "ultrasound.jpg"
    try:
        write_as(dora, target, make_pe_bytes(12))
        wait_gone(target)
        (item,) = items_as(dora, service.socket_path)
        assert [row["reported"] for row in _listed(dora, service)] == [False]

        # What the review window's "This is a false alarm" sends (RemoteBackend, as dora).
        script = (
            "import sys\nfrom agent.service.remote import RemoteBackend\n"
            "b=RemoteBackend(sys.argv[1]);b.report_false_alarm(sys.argv[2],'my scan')\n"
            "print(sorted(b.reported()))\n"
            "b.review_opened(1)\n"
            "b.report_exported('/tmp/list.csv',[sys.argv[2],'0'*32])\n"
        )
        python = user_python(dora)
        env = client_env(dora, service.socket_path)
        done = run_as(dora, *env, python, "-c", script, str(service.socket_path), item["id"])
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == repr([f"q:{item['id']}"])

        assert [row["reported"] for row in _listed(dora, service)] == [True]
        (event,) = [e for e in service.events() if e["event"] == "false_alarm_reported"]
        assert (event["caller"], event["caller_uid"]) == (dora.name, dora.uid)
        assert event["item_id"] == item["id"] and event["sha256"] == item["sha256"]
        assert event["note"] == "my scan" and event["findings"]
        assert event["via"] == "protected_channel"
        assert target.exists() is False  # a report releases nothing: IT decides

        # The window's own steps on dora's screen are on the service's record, as dora.
        (opened,) = [e for e in service.events() if e["event"] == "review_opened"]
        assert (opened["caller"], opened["listed"], opened["via"]) == (
            dora.name, 1, "protected_channel",
        )  # fmt: skip
        (exported,) = [e for e in service.events() if e["event"] == "report_exported"]
        assert exported["caller"] == dora.name and exported["export_path"] == "/tmp/list.csv"
        assert exported["item_ids"] == [item["id"]]  # an id not hers is not recorded
    finally:
        assert service.stop() == 0
