"""Protected mode end to end: one root service, two real staff accounts and an IT account.

Everything is a real process: `photogate service` as root, clients as the accounts through
`runuser` (so the service learns their uid from SO_PEERCRED), files written by the
accounts into their own Downloads. Each attack from issue 9 is a regression test here;
the journal and record attacks on the vault itself are in tests/test_vault_journal.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.vault.store import Vault
from tests.agent_harness import make_jpeg, make_jpeg_with_zip, make_pe_bytes, wait_for
from tests.protected_harness import (
    Account,
    Accounts,
    ServiceProcess,
    items_as,
    photogate_as,
    photogate_root,
    run_as,
    user_python,
    wait_gone,
    write_as,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="protected mode tests create accounts: root"),
]

KILL_BURST_FILES = 120


def policy(path: Path, it_group: str, extra: str = "") -> Path:
    path.write_text(
        '[policy]\nversion = "protected-1"\n\n'
        "[watch]\nuse_default_folders = true\nsettle_seconds = 0.3\n"
        "sweep_interval_seconds = 300.0\n\n"
        f'[ui]\nit_groups = ["{it_group}"]\nit_contact = "Ann in IT"\n{extra}',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[tuple[Accounts, Account, Account, Account]]:
    """alice and bob (staff), carol (IT by group membership, not root)."""
    accounts = Accounts()
    try:
        it_group = accounts.group("it")
        alice = accounts.add("alice")
        bob = accounts.add("bob")
        carol = accounts.add("carol", groups=(it_group,))
        yield accounts, alice, bob, carol
    finally:
        accounts.remove_all()


def service_for(
    tmp_path: Path, machine: tuple[Accounts, Account, Account, Account], extra: str = ""
) -> ServiceProcess:
    """The root service for the three accounts, not started yet."""
    accounts, alice, bob, carol = machine
    base = Path("/tmp") / f"pgt-{accounts.tag}-{secrets.token_hex(2)}"
    config = policy(tmp_path / "policy.toml", accounts.groups[0], extra)
    return ServiceProcess(base, config, [alice, bob, carol])


def start(
    tmp_path: Path, machine: tuple[Accounts, Account, Account, Account], extra: str = ""
) -> ServiceProcess:
    """The root service for the three accounts, started (the caller stops it)."""
    return service_for(tmp_path, machine, extra).start()


def serving(
    tmp_path: Path, machine: tuple[Accounts, Account, Account, Account], extra: str = ""
) -> contextlib.AbstractContextManager[ServiceProcess]:
    """The root service running for a `with` block; it must exit with status 0 after."""
    return service_for(tmp_path, machine, extra).running()


def test_one_service_protects_every_user_and_each_sees_only_their_own(
    tmp_path: Path, machine: tuple[Accounts, Account, Account, Account]
) -> None:
    _, alice, bob, carol = machine
    with serving(tmp_path, machine) as service:
        write_as(alice, alice.downloads / "invoice.jpg", make_jpeg_with_zip(1))
        write_as(bob, bob.downloads / "lab.jpg", make_pe_bytes(2))
        write_as(alice, alice.downloads / "smile.jpg", make_jpeg(3))
        wait_gone(alice.downloads / "invoice.jpg")
        wait_gone(bob.downloads / "lab.jpg")
        assert (alice.downloads / "smile.jpg").read_bytes() == make_jpeg(3)

        mine = items_as(alice, service.socket_path)
        theirs = items_as(bob, service.socket_path)
        everyone = items_as(carol, service.socket_path)
        assert [i["original_path"] for i in mine] == [str(alice.downloads / "invoice.jpg")]
        assert [i["original_path"] for i in theirs] == [str(bob.downloads / "lab.jpg")]
        assert sorted(i["id"] for i in everyone) == sorted(i["id"] for i in mine + theirs)
        assert mine[0]["user"] == alice.name

        peek = photogate_as(bob, service.socket_path, "quarantine", "show", mine[0]["id"])
        assert peek.returncode == 2 and "no quarantined item" in peek.stderr
        refused = [e for e in service.events() if e["event"] == "request_refused"]
        assert [(e["caller"], e["item_id"]) for e in refused] == [(bob.name, mine[0]["id"])]

        status = photogate_as(alice, service.socket_path, "status")
        assert status.returncode == 0 and "running in protected mode" in status.stdout
        assert str(alice.downloads) in status.stdout and str(bob.downloads) not in status.stdout


def test_users_cannot_read_the_vault_or_stop_or_pause_the_service(
    tmp_path: Path, machine: tuple[Accounts, Account, Account, Account]
) -> None:
    _, alice, _, _ = machine
    with serving(tmp_path, machine, "allow_pause = false\n") as service:
        write_as(alice, alice.downloads / "x.jpg", make_jpeg_with_zip(4))
        wait_gone(alice.downloads / "x.jpg")
        vault = service.state_dir / "vault"
        for target in (vault / "vault.key", vault / "items", service.state_dir / "logs"):
            assert run_as(alice, "ls", "-l", str(target)).returncode != 0, target
        for target in (vault / "vault.key", vault / "journal.jsonl"):
            assert run_as(alice, "cat", str(target)).returncode != 0, target
        forge = run_as(alice, "sh", "-c", f'echo "{{}}" >> "{vault / "journal.jsonl"}"')
        assert forge.returncode != 0

        kill = run_as(alice, "kill", "-TERM", str(service.pid))
        assert kill.returncode != 0 and "not permitted" in kill.stderr
        assert service.process is not None and service.process.poll() is None

        pause = photogate_as(alice, service.socket_path, "quarantine", "list")  # still answers
        assert pause.returncode == 0
        asked = _raw_request(alice, service.socket_path, {"op": "pause", "args": {"seconds": 600}})
        assert asked["ok"] is False and asked["error"]["code"] == "refused"
        status = json.loads(photogate_root(service.socket_path, "status", "--json").stdout)
        assert status["paused_until"] is None
        refusals = [e for e in service.events() if e["event"] == "request_refused"]
        assert [(e["request"], e["caller_uid"]) for e in refusals] == [("pause", alice.uid)]


def test_restore_refused_by_policy_is_on_record_and_it_restores_as_the_owner(
    tmp_path: Path, machine: tuple[Accounts, Account, Account, Account]
) -> None:
    _, alice, _, carol = machine
    with serving(tmp_path, machine) as service:  # ui.allow_restore defaults to false
        data = make_jpeg_with_zip(5) + b"\0" * 5
        write_as(alice, alice.downloads / "scan.jpg", data)
        wait_gone(alice.downloads / "scan.jpg")
        (item,) = items_as(alice, service.socket_path)

        refused = photogate_as(alice, service.socket_path, "quarantine", "restore", item["id"])
        assert refused.returncode == 2
        assert (
            "does not allow restoring files here" in refused.stderr
            and "Ann in IT" in refused.stderr
        )
        assert not (alice.downloads / "scan.jpg").exists()
        events = [e for e in service.events() if e["event"] == "request_refused"]
        assert [(e["request"], e["caller"], e["item_id"]) for e in events] == [
            ("restore", alice.name, item["id"])
        ]

        done = photogate_as(carol, service.socket_path, "quarantine", "restore", item["id"])
        assert done.returncode == 0, done.stderr
        restored = alice.downloads / "scan.jpg"
        info = restored.lstat()
        assert restored.read_bytes() == data
        assert (info.st_uid, info.st_gid) == (alice.uid, alice.gid)
        assert stat.S_IMODE(info.st_mode) == 0o644
        restores = [e for e in service.events() if e["event"] == "restored"]
        assert [(e["caller"], e["item_id"]) for e in restores] == [(carol.name, item["id"])]


def test_restore_never_follows_a_symlinked_downloads_folder(
    tmp_path: Path, machine: tuple[Accounts, Account, Account, Account]
) -> None:
    _, alice, _, _ = machine
    service = start(tmp_path, machine, "allow_restore = true\n")
    target = Path("/tmp") / f"pgt-victim-{secrets.token_hex(3)}"
    target.mkdir(mode=0o755)  # a root folder the attacker wants written
    try:
        write_as(alice, alice.downloads / "evil.jpg", make_pe_bytes(6))
        wait_gone(alice.downloads / "evil.jpg")
        (item,) = items_as(alice, service.socket_path)
        # The attack: ~/Downloads becomes a link to a folder of root's.
        moved = run_as(alice, "mv", str(alice.downloads), str(alice.home / "Downloads.real"))
        assert moved.returncode == 0, moved.stderr
        linked = run_as(alice, "ln", "-s", str(target), str(alice.downloads))
        assert linked.returncode == 0, linked.stderr
        for asker in ("alice", "root"):
            done = (
                photogate_as(alice, service.socket_path, "quarantine", "restore", item["id"])
                if asker == "alice"
                else photogate_root(service.socket_path, "quarantine", "restore", item["id"])
            )
            assert done.returncode == 2, (asker, done.stdout)
            assert "no longer one of" in done.stderr, done.stderr
        assert list(target.iterdir()) == []
        assert [i["id"] for i in items_as(None, service.socket_path)] == [item["id"]]
        # IT may choose a folder they own instead.
        mine = Path("/tmp") / f"pgt-it-{secrets.token_hex(3)}"
        mine.mkdir(mode=0o700)
        done = photogate_root(
            service.socket_path, "quarantine", "restore", item["id"], "--to", str(mine)
        )
        assert done.returncode == 0, done.stderr
        assert (mine / "evil.jpg").read_bytes() == make_pe_bytes(6)
        assert (mine / "evil.jpg").stat().st_uid == 0
        for path in mine.iterdir():
            path.unlink()
        mine.rmdir()
    finally:
        service.stop()
        for path in target.iterdir():
            path.unlink()
        target.rmdir()


def test_staff_restore_to_another_folder_is_refused(
    tmp_path: Path, machine: tuple[Accounts, Account, Account, Account]
) -> None:
    _, alice, _, _ = machine
    with serving(tmp_path, machine, "allow_restore = true\n") as service:
        write_as(alice, alice.downloads / "a.jpg", make_jpeg_with_zip(7))
        wait_gone(alice.downloads / "a.jpg")
        (item,) = items_as(alice, service.socket_path)
        done = photogate_as(
            alice, service.socket_path, "quarantine", "restore", item["id"], "--to", "/etc"
        )
        assert done.returncode == 2 and "restoring to another folder" in done.stderr
        assert not Path("/etc/a.jpg").exists()
        own = photogate_as(alice, service.socket_path, "quarantine", "restore", item["id"])
        assert own.returncode == 0, own.stderr
        assert (alice.downloads / "a.jpg").stat().st_uid == alice.uid


def _raw_request(account: Account, socket_path: Path, request: dict[str, object]) -> dict:  # type: ignore[type-arg]
    """Send one raw protocol request as `account` (no client library) and return the reply."""
    script = (
        "import json,socket,sys\n"
        "s=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1])\n"
        "s.sendall(sys.argv[2].encode()+b'\\n')\n"
        "print(s.makefile('rb').readline().decode())\n"
    )
    message = json.dumps({"v": 1, "id": 1, **request})
    done = run_as(account, user_python(account), "-c", script, str(socket_path), message)
    assert done.returncode == 0, done.stderr
    reply: dict = json.loads(done.stdout)  # type: ignore[type-arg]
    return reply


def test_malformed_and_oversized_requests_are_refused_and_the_service_keeps_going(
    tmp_path: Path, machine: tuple[Accounts, Account, Account, Account]
) -> None:
    _, alice, _, _ = machine
    with serving(tmp_path, machine) as service:
        for request in (
            {"op": "format_disk"},
            {"op": "restore", "args": {"item": 7}},
            {"op": "restore", "args": ["x"]},
            {"op": "pause", "args": {"seconds": float("1e999")}},
        ):
            reply = _raw_request(alice, service.socket_path, request)
            assert reply["ok"] is False and reply["error"]["code"] == "bad_request", request
        with socket.socket(socket.AF_UNIX) as raw:  # as root: the cap holds for everyone
            raw.connect(str(service.socket_path))
            raw.sendall(b"{" + b" " * (64 * 1024 + 10) + b"}\n")
            reply = json.loads(raw.makefile("rb").readline())
        assert reply["error"]["code"] == "bad_request" and "cap" in reply["error"]["message"]
        assert photogate_as(alice, service.socket_path, "status").returncode == 0


def test_kill_9_of_the_service_during_a_burst_loses_nothing(
    tmp_path: Path, machine: tuple[Accounts, Account, Account, Account]
) -> None:
    _, alice, _, _ = machine
    service = start(tmp_path, machine)
    originals = {}
    # Written as alice outside the watched folder first, then renamed in at once: writing each
    # file through its own process was slower than the service, which then finished the burst
    # before the kill (and the test could not say it interrupted anything).
    staging = alice.downloads.parent / "staging"
    done = subprocess.run(["runuser", "-u", alice.name, "--", "mkdir", "-p", str(staging)])
    assert done.returncode == 0
    for index in range(KILL_BURST_FILES):
        data = make_jpeg_with_zip(1000 + index)
        write_as(alice, staging / f"dropper-{index:04d}.jpg", data)
        originals[str(alice.downloads / f"dropper-{index:04d}.jpg")] = hashlib.sha256(
            data
        ).hexdigest()
    for name in sorted(os.listdir(staging)):
        os.rename(staging / name, alice.downloads / name)
    # Killed once the first copies reach items/: a burst is moved in batches (group commit)
    # and its verdicts are written after each batch, so counting verdicts came too late.
    items = service.state_dir / "vault" / "items"
    wait_for(lambda: any(items.glob("*.json")), 30, "the first stored copies", interval=0.002)
    service.kill()  # SIGKILL: no cleanup at all
    vault = Vault(service.state_dir / "vault")  # recovery runs (root owns this vault)
    in_vault = {item.original_path: item for item in vault.items()}
    for path, sha in originals.items():
        at_path = os.path.lexists(path)
        assert at_path != (path in in_vault), f"{path}: in place={at_path}"
        if path in in_vault:
            assert in_vault[path].sha256 == sha and in_vault[path].owner_uid == alice.uid
    assert len(in_vault) < KILL_BURST_FILES  # the kill really interrupted the burst
    with service.running():  # the startup sweep finishes the job
        wait_for(
            lambda: (
                not any(alice.downloads.iterdir())
                and len(items_as(None, service.socket_path)) == KILL_BURST_FILES
            ),
            90,
            "every dropper in the vault",
        )
        items = items_as(alice, service.socket_path)
        assert sorted(i["original_path"] for i in items) == sorted(originals)
        assert all(i["sha256"] == originals[i["original_path"]] for i in items)


def test_migration_moves_a_per_user_vault_into_the_machine_vault(
    tmp_path: Path, machine: tuple[Accounts, Account, Account, Account]
) -> None:
    accounts, alice, _, _ = machine
    python = user_python(alice)
    per_user = alice.home / ".local" / "share" / "Photogate" / "vault"
    write_as(alice, alice.downloads / "old.jpg", make_pe_bytes(9))
    script = (
        "import sys; from pathlib import Path; from agent.vault.store import Vault;"
        "from agent.model import Finding, Severity;"
        "v = Vault(Path(sys.argv[1]));"
        "print(v.quarantine(Path(sys.argv[2]), [Finding('content.executable', Severity.HIGH, 'x')],"
        " detected_type='pe', policy_version='per-user').id)"
    )
    from tests.protected_harness import client_env

    made = run_as(
        alice, *client_env(alice, Path("/nonexistent")), python, "-c", script,
        str(per_user), str(alice.downloads / "old.jpg"),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    item_id = made.stdout.strip()
    base = Path("/tmp") / f"pgt-{accounts.tag}-m"
    base.mkdir(mode=0o755, exist_ok=True)
    config = policy(tmp_path / "policy.toml", accounts.groups[0])
    migrate = photogate_root(
        Path("/nonexistent"), "service", "migrate", "--config", str(config),
        "--state-dir", str(base / "state"), "--user", alice.name,
    )  # fmt: skip
    assert migrate.returncode == 0, migrate.stderr
    assert "Migrated 1 item(s)" in migrate.stdout
    machine_vault = Vault(base / "state" / "vault")
    (item,) = machine_vault.items()
    assert (item.id, item.owner_uid, item.user) == (item_id, alice.uid, alice.name)
    assert machine_vault.read_content(item.id) == make_pe_bytes(9)
    assert Vault(per_user).items() == []


TRAY_CLIENT = """
import sys, time
from agent.service.remote import RemoteBackend
from agent.service.remote_agent import RemoteAgent

class Recorder:
    def __init__(self):
        self.sent = []
    def notify(self, title, message, *, item_id=None, severity="high"):
        self.sent.append((title, item_id))

agent = RemoteAgent(RemoteBackend(sys.argv[1]))
recorder = Recorder()
agent.set_notifier(recorder)
states = []
agent.add_listener(states.append)
agent.start()
print("ready", flush=True)
deadline = time.monotonic() + 30
while not recorder.sent and time.monotonic() < deadline:
    time.sleep(0.1)
agent.pause(60)  # policy forbids: the request is refused, the tray carries on
agent.stop()  # the tray's Quit
print(recorder.sent[0][0] if recorder.sent else "no notification")
print("paused" if states and states[-1].paused else "not paused")
"""


def test_the_tray_is_a_client_and_its_quit_leaves_protection_running(
    tmp_path: Path, machine: tuple[Accounts, Account, Account, Account]
) -> None:
    _, alice, _, _ = machine
    with serving(tmp_path, machine, "allow_pause = false\n") as service:
        headless = photogate_as(alice, service.socket_path, "run", "--headless")
        assert headless.returncode == 0 and "protected mode is installed" in headless.stdout
        assert not (alice.home / ".photogate" / "vault").exists()  # no per-user watcher ran

        from tests.protected_harness import client_env

        tray = subprocess.Popen(
            ["runuser", "-u", alice.name, "--", *client_env(alice, service.socket_path),
             user_python(alice), "-c", TRAY_CLIENT, str(service.socket_path)],
            stdout=subprocess.PIPE, text=True, cwd="/",
        )  # fmt: skip
        assert tray.stdout is not None
        assert tray.stdout.readline().strip() == "ready"
        write_as(alice, alice.downloads / "notes.jpg", make_jpeg_with_zip(11))
        out, _ = tray.communicate(timeout=60)
        assert out.splitlines() == ["notes.jpg was quarantined", "not paused"]
        assert service.process is not None and service.process.poll() is None
        write_as(alice, alice.downloads / "after.jpg", make_pe_bytes(12))
        wait_gone(alice.downloads / "after.jpg")  # still protected after the tray quit


def test_a_download_dir_pointed_at_a_system_folder_is_neither_watched_nor_restored_into(
    machine: tuple[Accounts, Account, Account, Account],
) -> None:
    from agent.policy.schema import Policy
    from agent.service.machine import MachineFolders, user_by_uid

    _, alice, bob, _ = machine
    config = alice.home / ".config"
    run_as(alice, "mkdir", "-p", str(config))
    write_as(alice, config / "user-dirs.dirs", b'XDG_DOWNLOAD_DIR="/etc"\n')
    folders = MachineFolders([alice.name, bob.name])
    patterns = folders.patterns(Policy())
    assert "/etc" not in patterns  # alice does not own /etc
    assert str(bob.downloads) in patterns
    alice_user, bob_user = user_by_uid(alice.uid), user_by_uid(bob.uid)
    assert alice_user is not None and bob_user is not None
    assert not folders.is_landing_folder_of(Path("/etc"), alice_user, Policy())
    assert folders.is_landing_folder_of(bob.downloads, bob_user, Policy())
    assert not folders.is_landing_folder_of(bob.downloads, alice_user, Policy())


def test_staff_safe_copy_is_written_as_the_owner_and_delete_is_on_record(
    tmp_path: Path, machine: tuple[Accounts, Account, Account, Account]
) -> None:
    _, alice, _, _ = machine
    with serving(tmp_path, machine) as service:
        # A real photo with a ZIP appended: the pixels are fine, the tail is the threat.
        write_as(alice, alice.downloads / "xray.jpg", make_jpeg_with_zip(13))
        wait_gone(alice.downloads / "xray.jpg")
        (item,) = items_as(alice, service.socket_path)
        reply = _raw_request(
            alice, service.socket_path, {"op": "sanitized_copy", "args": {"item": item["id"]}}
        )
        assert reply["ok"] is True, reply
        copy = Path(reply["result"]["path"])
        assert copy.parent == alice.downloads and copy.name == "xray (safe copy).png"
        info = copy.lstat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (alice.uid, 0o644)
        assert copy.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert b"PK\x03\x04" not in copy.read_bytes()  # nothing of the ZIP came along
        deleted = photogate_as(alice, service.socket_path, "quarantine", "delete", item["id"])
        assert deleted.returncode == 0, deleted.stderr
        assert items_as(None, service.socket_path) == []
        kinds = [(e["event"], e.get("caller")) for e in service.events()]
        assert ("safe_copy_saved", alice.name) in kinds and ("deleted", alice.name) in kinds


def test_flagged_files_are_reported_and_deleted_only_by_their_owner(
    tmp_path: Path, machine: tuple[Accounts, Account, Account, Account]
) -> None:
    _, alice, bob, _ = machine
    with serving(tmp_path, machine) as service:
        notes = alice.downloads / "notes.jpg"
        write_as(alice, notes, b"this is not a picture at all, only text\n" * 20)
        wait_for(
            lambda: any(
                e["event"] == "verdict" and e["action"] == "flag" for e in service.events()
            ),
            20,
            "the flag verdict",
        )
        args = {"path": str(notes)}
        stolen = _raw_request(bob, service.socket_path, {"op": "delete_flagged", "args": args})
        assert stolen["ok"] is False and stolen["error"]["code"] == "refused"
        assert notes.exists()
        reported = _raw_request(
            alice, service.socket_path, {"op": "report_flagged", "args": {**args, "note": "ok"}}
        )
        assert reported["ok"] is True, reported
        deleted = _raw_request(alice, service.socket_path, {"op": "delete_flagged", "args": args})
        assert deleted["ok"] is True, deleted
        assert not notes.exists()
        kinds = [(e["event"], e.get("caller")) for e in service.events()]
        assert ("request_refused", bob.name) in kinds
        assert ("false_alarm_reported", alice.name) in kinds and ("deleted", alice.name) in kinds
