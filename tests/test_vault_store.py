"""The vault's store (agent.vault.store): ids and prefixes, listing, damage, delete, purge,
adopting an item from another vault, opening, and the lock's recovery rules. In-process,
real vault on disk; expected values are the documented rules written as literals.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from agent import platform
from agent.errors import VaultError
from agent.vault.journal import Journal
from agent.vault.store import CONTENT_SUFFIX, RECORD_SUFFIX, Vault
from tests.vault_helpers import FINDINGS, sample_bytes

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes, uids and symlinks")
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="fd paths are read from /proc (Linux)"
)

INTENT: dict[str, object] = {
    "id": "ab" * 16, "path_b64": "L3g=", "dev": 1, "ino": 2, "size": 3, "mtime_ns": 4,
}  # fmt: skip


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _put(vault: Vault, folder: Path, name: str, data: bytes) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return vault.quarantine(folder / name, FINDINGS, detected_type="jpeg", policy_version="s").id


# --- ids --------------------------------------------------------------------------------------


def test_resolve_takes_an_id_or_a_unique_prefix_of_six(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    item_id = _put(vault, tmp_path / "dl", "a.jpg", b"aaa")
    assert vault.resolve(item_id) == item_id
    assert vault.resolve(f"  {item_id.upper()} ") == item_id
    assert vault.resolve(item_id[:6]) == item_id
    assert vault.resolve(item_id[:6].upper()) == item_id
    with pytest.raises(VaultError, match=f"no quarantined item with id {item_id[:5]}"):
        vault.resolve(item_id[:5])  # unique, but too short to be typed safely
    with pytest.raises(VaultError, match="no quarantined item with id ffffff0"):
        vault.resolve("ffffff0")


def test_resolve_refuses_a_prefix_of_several_items(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    ids = [_put(vault, tmp_path / "dl", f"{n}.jpg", bytes([n]) * 9) for n in range(3)]
    items = tmp_path / "vault" / "items"
    # give two records a common 8-character prefix (names are what resolve lists)
    for index, new_id in ((0, "abcdef12" + "0" * 24), (1, "abcdef12" + "1" * 24)):
        for suffix in (RECORD_SUFFIX, CONTENT_SUFFIX):
            (items / f"{ids[index]}{suffix}").rename(items / f"{new_id}{suffix}")
    with pytest.raises(VaultError, match="id prefix abcdef12 matches several items"):
        vault.resolve("abcdef12")
    with pytest.raises(VaultError, match="id prefix abcdef matches several items"):
        vault.resolve("abcdef")  # exactly six is long enough
    with pytest.raises(VaultError, match="no quarantined item with id abcde"):
        vault.resolve("abcde")  # several, but shorter than six: unknown
    assert vault.resolve("abcdef120") == "abcdef12" + "0" * 24


def test_ids_that_are_not_ids_are_refused_and_stray_names_ignored(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    item_id = _put(vault, tmp_path / "dl", "a.jpg", b"aaa")
    items = tmp_path / "vault" / "items"
    (items / "notes.json").write_text("{}")
    (items / f"{'A' * 32}{RECORD_SUFFIX}").write_text("{}")  # upper-case hex is no id
    (items / f"{'b' * 31}{RECORD_SUFFIX}").write_text("{}")
    (items / f"{'c' * 32}.txt").write_text("{}")
    assert [i.id for i in vault.items()] == [item_id]
    assert vault.damaged() == []
    for bad in ("../../etc/passwd", "A" * 32, "b" * 31, ""):
        with pytest.raises(VaultError, match="no quarantined item with id"):
            vault.get(bad)


# --- listing and damage -----------------------------------------------------------------------


def test_items_are_listed_oldest_first_then_by_id(tmp_path: Path) -> None:
    clock = Clock(1_700_000_000.0)
    vault = Vault(tmp_path / "vault", clock=clock)
    first = _put(vault, tmp_path / "dl", "1.jpg", b"one")
    clock.now = 1_600_000_000.0  # an earlier time: listed first
    earlier = _put(vault, tmp_path / "dl", "2.jpg", b"two")
    same = [_put(vault, tmp_path / "dl", f"s{n}.jpg", bytes([n]) * 5) for n in range(3)]
    assert [i.id for i in vault.items()] == [*sorted([earlier, *same]), first]


def test_a_tampered_record_is_damaged_and_not_listed(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    good = _put(vault, tmp_path / "dl", "good.jpg", b"good")
    bad = _put(vault, tmp_path / "dl", "bad.jpg", b"bad")
    record = tmp_path / "vault" / "items" / f"{bad}{RECORD_SUFFIX}"
    record.write_bytes(record.read_bytes().replace(b"bad.jpg", b"bam.jpg"))
    assert [i.id for i in vault.items()] == [good]
    [(damaged_id, problem)] = vault.damaged()
    assert damaged_id == bad and bad in problem
    with pytest.raises(VaultError):
        vault.get(bad)


def test_read_content_checks_the_record(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    item_id = _put(vault, tmp_path / "dl", "a.jpg", sample_bytes(41, 3000))
    assert vault.read_content(item_id) == sample_bytes(41, 3000)
    (tmp_path / "vault" / "items" / f"{item_id}{CONTENT_SUFFIX}").unlink()
    with pytest.raises(VaultError, match=f"stored content of item {item_id} is missing"):
        vault.read_content(item_id)


def test_check_digest_needs_both_size_and_sha256(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    item = vault.get(_put(vault, tmp_path / "dl", "a.jpg", b"abc"))
    vault.check_digest(item, 3, item.sha256)
    message = f"stored content of item {item.id} does not match its record"
    with pytest.raises(VaultError, match=message):
        vault.check_digest(item, 4, item.sha256)
    with pytest.raises(VaultError, match=message):
        vault.check_digest(item, 3, "0" * 64)


# --- delete and purge -------------------------------------------------------------------------


def test_delete_removes_every_file_of_the_item_and_refuses_unknown_ids(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    item_id = _put(vault, tmp_path / "dl", "a.jpg", b"aaa")
    kept = _put(vault, tmp_path / "dl", "b.jpg", b"bbb")
    root = tmp_path / "vault"
    (root / "tmp" / f"{item_id}{RECORD_SUFFIX}").write_bytes(b"left over")
    (root / "tmp" / f"{item_id}{CONTENT_SUFFIX}").write_bytes(b"left over")
    vault.delete(item_id)
    assert sorted(os.listdir(root / "items")) == sorted(
        [f"{kept}{RECORD_SUFFIX}", f"{kept}{CONTENT_SUFFIX}"]
    )
    assert os.listdir(root / "tmp") == []
    with pytest.raises(VaultError, match=f"no quarantined item with id {item_id}"):
        vault.delete(item_id)


def test_a_damaged_item_can_be_deleted(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    item_id = _put(vault, tmp_path / "dl", "a.jpg", b"aaa")
    (tmp_path / "vault" / "items" / f"{item_id}{RECORD_SUFFIX}").write_bytes(b"garbage")
    vault.delete(item_id)
    assert os.listdir(tmp_path / "vault" / "items") == []


def test_purge_removes_items_older_than_the_age_only(tmp_path: Path) -> None:
    day = 86400.0
    clock = Clock(1_000 * day)
    vault = Vault(tmp_path / "vault", clock=clock)
    old = _put(vault, tmp_path / "dl", "old.jpg", b"old")  # at day 1000
    clock.now = 1_002 * day
    edge = _put(vault, tmp_path / "dl", "edge.jpg", b"edge")  # at day 1002
    clock.now = 1_012 * day  # old is 12 days old, edge exactly 10
    assert vault.purge(10) == [old]
    assert [i.id for i in vault.items()] == [edge]  # exactly the age: kept
    assert vault.purge(9.5) == [edge]
    assert vault.items() == []
    with pytest.raises(VaultError) as negative:
        vault.purge(-1)
    assert str(negative.value) == "purge age must not be negative"
    assert vault.purge(0) == []


# --- adopt ------------------------------------------------------------------------------------


def test_adopt_copies_an_item_with_the_owner_the_caller_names(tmp_path: Path) -> None:
    source = Vault(tmp_path / "old")
    item = source.get(_put(source, tmp_path / "dl", "a.jpg", sample_bytes(42, 20_000)))
    target = Vault(tmp_path / "new")
    adopted = target.adopt(item, source, 0)
    assert adopted is not None
    assert (adopted.id, adopted.sha256, adopted.size) == (item.id, item.sha256, item.size)
    assert (adopted.owner_uid, adopted.owner_sid, adopted.user) == (0, "", "root")
    assert target.get(item.id) == adopted
    assert target.read_content(item.id) == sample_bytes(42, 20_000)
    # encrypted with the new vault's key: the stored bytes differ from the source's
    old_bytes = (tmp_path / "old" / "items" / f"{item.id}{CONTENT_SUFFIX}").read_bytes()
    new_bytes = (tmp_path / "new" / "items" / f"{item.id}{CONTENT_SUFFIX}").read_bytes()
    assert old_bytes != new_bytes
    assert os.listdir(tmp_path / "new" / "tmp") == []
    assert target.adopt(item, source, 0) is None  # already there: left alone


@posix_only
def test_adopt_records_the_uid_the_caller_names_and_keeps_its_files_private(
    tmp_path: Path,
) -> None:
    import pwd

    source = Vault(tmp_path / "old")
    item = source.get(_put(source, tmp_path / "dl", "a.jpg", b"adopted bytes"))
    target = Vault(tmp_path / "new")
    uid = 4242 if item.owner_uid != 4242 else 4243  # not the source record's owner
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    adopted = target.adopt(item, source, uid)
    assert adopted is not None
    assert (adopted.owner_uid, adopted.owner_sid, adopted.user) == (uid, "", name)
    assert target.get(item.id) == adopted
    for suffix in (CONTENT_SUFFIX, RECORD_SUFFIX):
        mode = (tmp_path / "new" / "items" / f"{item.id}{suffix}").stat().st_mode
        assert stat.S_IMODE(mode) == 0o600, suffix


def test_adopt_records_the_sid_the_caller_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a Windows account lookup cannot exist here: it is stood in for
    sid = "S-1-5-21-1004336348-1177238915-682003330-1001"
    monkeypatch.setattr(platform, "account_name", lambda s: {sid: "DESKTOP\\bob"}.get(s, ""))
    source = Vault(tmp_path / "old")
    item = source.get(_put(source, tmp_path / "dl", "a.jpg", b"adopted bytes"))
    adopted = Vault(tmp_path / "new").adopt(item, source, -1, sid)
    assert adopted is not None
    assert (adopted.owner_uid, adopted.owner_sid, adopted.user) == (-1, sid, "DESKTOP\\bob")


@posix_only
def test_adopt_never_writes_through_a_name_already_in_tmp(tmp_path: Path) -> None:
    source = Vault(tmp_path / "old")
    item = source.get(_put(source, tmp_path / "dl", "a.jpg", b"adopted bytes"))
    target = Vault(tmp_path / "new")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"someone's file")
    planted = tmp_path / "new" / "tmp" / f"{item.id}{CONTENT_SUFFIX}"
    planted.symlink_to(elsewhere)
    with pytest.raises(FileExistsError):
        target.adopt(item, source, 0)
    assert elsewhere.read_bytes() == b"someone's file"
    assert os.listdir(tmp_path / "new" / "items") == []
    assert os.listdir(tmp_path / "new" / "tmp") == []


@linux_only
def test_adopt_syncs_the_content_and_record_before_their_names_go_into_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = Vault(tmp_path / "old")
    item = source.get(_put(source, tmp_path / "dl", "a.jpg", b"adopted bytes"))
    target = Vault(tmp_path / "new")
    calls: list[tuple[str, str]] = []
    real_fsync, real_fdatasync = os.fsync, os.fdatasync

    def fsync(fd: int) -> None:
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def fdatasync(fd: int) -> None:
        calls.append(("fdatasync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fdatasync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "fdatasync", fdatasync)
    target.adopt(item, source, 0)
    monkeypatch.undo()
    new = tmp_path / "new"
    assert calls == [
        ("fdatasync", str(new / "tmp" / f"{item.id}{CONTENT_SUFFIX}")),
        ("fdatasync", str(new / "tmp" / f"{item.id}{RECORD_SUFFIX}")),
        ("fsync", str(new / "items")),  # both renamed in
    ]


def test_stored_content_is_never_decrypted_past_the_size_its_record_names(
    tmp_path: Path,
) -> None:
    vault = Vault(tmp_path / "vault")
    item = vault.get(_put(vault, tmp_path / "dl", "a.jpg", sample_bytes(44, 3000)))
    short = replace(item, size=1000)  # a record (validly signed) naming fewer bytes
    record = tmp_path / "vault" / "items" / f"{item.id}{RECORD_SUFFIX}"
    record.write_bytes(vault.keys.sign_record(short.record_fields()))
    assert vault.get(item.id).size == 1000
    with pytest.raises(VaultError, match="larger than its record"):
        b"".join(vault.plaintext_chunks(vault.get(item.id)))


def test_the_marker_the_vault_is_given_marks_what_it_restores(tmp_path: Path) -> None:
    marked: list[tuple[str, str]] = []

    class Recording:
        def mark(self, path: Path, *, reason: str, origin_url: str | None = None) -> bool:
            marked.append((path.read_bytes().decode(), reason))
            return True

        def read(self, path: Path) -> dict[str, str]:
            return {}

    vault = Vault(tmp_path / "vault", marker=Recording())
    item_id = _put(vault, tmp_path / "dl", "a.jpg", b"marked bytes")
    vault.restore(item_id)
    assert [text for text, _ in marked] == ["marked bytes"]


def test_adopt_refuses_content_that_does_not_match_and_leaves_nothing(tmp_path: Path) -> None:
    source = Vault(tmp_path / "old")
    item = source.get(_put(source, tmp_path / "dl", "a.jpg", sample_bytes(43, 5000)))
    content = tmp_path / "old" / "items" / f"{item.id}{CONTENT_SUFFIX}"
    raw = bytearray(content.read_bytes())
    raw[-20] ^= 0xFF
    content.write_bytes(bytes(raw))
    target = Vault(tmp_path / "new")
    with pytest.raises(VaultError):
        target.adopt(item, source, 0)
    assert os.listdir(tmp_path / "new" / "items") == []
    assert os.listdir(tmp_path / "new" / "tmp") == []


# --- opening, the lock and recovery -----------------------------------------------------------


def _open_with_umask_zero(root: Path) -> None:
    old = os.umask(0o000)
    try:
        Vault(root)
    finally:
        os.umask(old)


def _assert_private(root: Path) -> None:
    for folder in ("", "items", "tmp"):
        assert stat.S_IMODE((root / folder).stat().st_mode) == 0o700, folder


@posix_only
def test_the_vault_folders_are_private_whatever_the_umask(tmp_path: Path) -> None:
    _open_with_umask_zero(tmp_path / "vault")
    _assert_private(tmp_path / "vault")
    (tmp_path / "vault" / "items").chmod(0o755)
    Vault(tmp_path / "vault")
    assert stat.S_IMODE((tmp_path / "vault" / "items").stat().st_mode) == 0o700


def test_an_unusable_location_is_a_vault_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(VaultError) as raised:
        Vault(tmp_path / "file" / "vault")
    cause = raised.value.__cause__
    assert isinstance(cause, OSError)
    where = tmp_path / "file" / "vault"
    assert str(raised.value) == f"cannot open the vault at {where}: {cause.strerror}"


def test_a_vault_is_created_with_its_missing_parent_folders(tmp_path: Path) -> None:
    root = tmp_path / "ProgramData" / "Photogate" / "vault"
    Vault(root)
    assert sorted(os.listdir(root)) == ["items", "tmp", "vault.key", "vault.lock"]


@posix_only
def test_the_folders_are_created_private_where_chmod_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # some mounts refuse chmod (EPERM); the folders must be private from their creation
    def refuse(self: Path, mode: int, *, follow_symlinks: bool = True) -> None:
        raise PermissionError(1, "Operation not permitted", str(self))

    monkeypatch.setattr(Path, "chmod", refuse)
    _open_with_umask_zero(tmp_path / "vault")
    _assert_private(tmp_path / "vault")


def test_a_vault_held_by_a_live_process_is_not_recovered_at_open(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    vault = Vault(root)
    journal = Journal(root, vault.keys.journal_key)
    journal.append("aa" * 8, "quarantine", "intent", **INTENT)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with vault._lock.hold():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        Vault(root)  # another object: the OS lock is taken, so it leaves the journal alone
        assert [o.txn for o in Journal(root, vault.keys.journal_key).open_operations()] == [
            "aa" * 8
        ]
    finally:
        release.set()
        holder.join()
    Vault(root)
    assert (root / "journal.jsonl").stat().st_size == 0


def test_an_operation_recovers_what_another_process_left_first(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    vault = Vault(root)
    (tmp_path / "dl").mkdir()
    victim_tmp = root / "tmp" / "stray.pgq"
    # another process wrote to the journal and died: this vault object sees a size it
    # did not write, and recovers before its own next operation
    Journal(root, vault.keys.journal_key).append("aa" * 8, "quarantine", "intent", **INTENT)
    victim_tmp.write_bytes(b"half")
    _put(vault, tmp_path / "dl", "a.jpg", b"aaa")
    assert not victim_tmp.exists()
    assert Journal(root, vault.keys.journal_key).open_operations() == []


def test_a_foreign_vault_refuses_a_restore_to_the_recorded_path(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to own a vault as another uid")
    root = tmp_path / "vault"
    vault = Vault(root)
    item_id = _put(vault, tmp_path / "dl", "a.jpg", b"aaa")
    for path in [root, *root.rglob("*")]:
        os.chown(path, 4242, 4242, follow_symlinks=False)
    foreign = Vault(root)
    with pytest.raises(VaultError) as refused:
        foreign.restore(item_id)
    assert str(refused.value) == (
        "this vault belongs to another account (uid 4242), which can write its records and "
        "journal: restoring to the path a record names is refused. Use --to a folder of "
        "yours, or protected mode"
    )
    mine = tmp_path / "mine"
    mine.mkdir()
    assert foreign.restore(item_id, mine) == mine / "a.jpg"
