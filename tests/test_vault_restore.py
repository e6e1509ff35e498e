"""Restore, in-process: names, destinations, owner and mode, the no-hard-link path, failures.

Expected values come from agent.vault.restore's documented rules (a clash is named
"stem (restored N).ext" within 255 bytes, at most 999 tries; a restored file is never
executable, 0644 when written for an owner; the item leaves the vault only once its file is
in place) written as literals.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import agent.vault.restore
from agent.errors import VaultError
from agent.osmark import REASON_XATTR, VERDICT_XATTR
from agent.vault.journal import Journal
from agent.vault.restore import Placement, clash_name
from agent.vault.store import CONTENT_SUFFIX, Vault
from tests.vault_helpers import FINDINGS, sample_bytes, xattr_capable_dir


@pytest.fixture
def umask_002() -> Iterator[None]:
    """A umask that keeps group write, so 0666 & ~umask (0664) differs from 0644."""
    old = os.umask(0o002)
    yield
    os.umask(old)


def _vault_with(
    tmp_path: Path, name: str = "scan.jpg", data: bytes = b""
) -> tuple[Vault, Path, str]:
    folder = tmp_path / "Downloads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data or sample_bytes(31, 5000))
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_650_000_000_123_456_789))
    vault = Vault(tmp_path / "vault")
    item = vault.quarantine(path, FINDINGS, detected_type="jpeg", policy_version="t")
    return vault, path, item.id


def _journal_steps(root: Path) -> list[tuple[str, str]]:
    lines = (root / "journal.jsonl").read_text(encoding="ascii").splitlines()
    return [(e["op"], e["step"]) for e in map(json.loads, lines) if e["op"] == "restore"]


# --- clash names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "attempt", "expected"),
    [
        ("photo.jpg", 0, "photo.jpg"),
        ("photo.jpg", 1, "photo (restored 1).jpg"),
        ("photo.tar.gz", 2, "photo.tar (restored 2).gz"),
        (".bashrc", 3, ".bashrc (restored 3)"),  # a leading dot is no extension
        ("README", 999, "README (restored 999)"),
        ("x" * 300 + ".jpg", 1, "x" * 238 + " (restored 1).jpg"),  # 238 + 17 = 255 bytes
        ("é" * 200 + ".jpg", 1, "é" * 119 + " (restored 1).jpg"),  # 2 bytes each: 238 bytes
        ("a." + "e" * 300, 1, "a (restored 1)." + "e" * 240),  # the extension is cut too
        ("a." + "e" * 301, 1, "a (restored 1)." + "e" * 240),  # one character at a time
        ("\udcff" * 250 + ".jpg", 1, "\udcff" * 238 + " (restored 1).jpg"),  # one byte each
    ],
)
def test_clash_names(name: str, attempt: int, expected: str) -> None:
    assert clash_name(name, attempt) == expected
    assert len(os.fsencode(expected)) <= 255


def test_a_clash_name_is_exactly_255_bytes_when_cut() -> None:
    assert len(os.fsencode(clash_name("x" * 300 + ".jpg", 1))) == 255
    assert len(os.fsencode(clash_name("a." + "e" * 300, 1))) == 255
    assert clash_name("x" * 238 + ".jpg", 1) == "x" * 238 + " (restored 1).jpg"  # fits as is


# --- restoring --------------------------------------------------------------------------------


def test_restore_writes_the_original_mode_mtime_marker_and_removes_the_item(
    tmp_path: Path, umask_002: None
) -> None:
    folder = xattr_capable_dir(tmp_path)
    vault, path, item_id = _vault_with(folder, data=b"original bytes \x00\x00")
    restored = vault.restore(item_id)
    assert restored == path
    assert path.read_bytes() == b"original bytes \x00\x00"
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o664  # 0666 under the umask: never executable
    assert info.st_mtime_ns == 1_650_000_000_123_456_789
    assert os.getxattr(path, VERDICT_XATTR) == b"untrusted"
    assert os.getxattr(path, REASON_XATTR) == b"restored from the Photogate quarantine"
    assert sorted(os.listdir(path.parent)) == ["scan.jpg"]  # no temp file left behind
    assert vault.items() == []
    assert list((folder / "vault" / "items").iterdir()) == []
    assert _journal_steps(folder / "vault") == [
        ("restore", "restore-intent"),
        ("restore", "placing"),
        ("restore", "restored"),
        ("restore", "done"),
    ]


def test_restore_for_an_owner_is_theirs_and_0644(tmp_path: Path, umask_002: None) -> None:
    vault, _path, item_id = _vault_with(tmp_path)
    owner = (4242, 4343) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    restored = vault.restore(item_id, placement=Placement(owner=owner))
    info = restored.stat()
    assert (info.st_uid, info.st_gid) == owner
    assert stat.S_IMODE(info.st_mode) == 0o644


def test_restore_refuses_a_folder_of_another_owner(tmp_path: Path) -> None:
    vault, path, item_id = _vault_with(tmp_path)
    mine = path.parent.stat().st_uid
    with pytest.raises(VaultError, match="does not belong to the file's owner"):
        vault.restore(item_id, placement=Placement(folder_uid=mine + 1))
    with pytest.raises(VaultError, match="does not belong to the file's owner"):
        vault.restore(item_id, placement=Placement(folder_sid="S-1-5-21-1-2-3-1001"))
    assert os.listdir(path.parent) == []
    assert [i.id for i in vault.items()] == [item_id]
    assert vault.restore(item_id, placement=Placement(folder_uid=mine)) == path


def test_restore_to_a_symlinked_folder_is_a_file_path_and_refused(tmp_path: Path) -> None:
    vault, _path, item_id = _vault_with(tmp_path)
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    # `to` a link to a folder is not taken as the folder: it would be the file's name, and
    # the folder holding it is fine, but the name is taken by the link: a clash
    restored = vault.restore(item_id, link)
    assert restored == tmp_path / "link (restored 1)"
    assert link.is_symlink() and os.listdir(real) == []


def test_restore_to_a_folder_keeps_the_name_and_to_a_file_path_takes_its_name(
    tmp_path: Path,
) -> None:
    vault, _, item_id = _vault_with(tmp_path, "first.jpg")
    elsewhere = tmp_path / "Elsewhere"
    elsewhere.mkdir()
    assert vault.restore(item_id, elsewhere) == elsewhere / "first.jpg"
    vault, _, item_id = _vault_with(tmp_path, "second.jpg")
    assert vault.restore(item_id, elsewhere / "renamed.bin") == elsewhere / "renamed.bin"
    assert sorted(os.listdir(elsewhere)) == ["first.jpg", "renamed.bin"]


def test_restore_gives_up_after_999_clashes(tmp_path: Path) -> None:
    vault, path, item_id = _vault_with(tmp_path, "a.jpg")
    path.write_bytes(b"taken")
    for attempt in range(1, 999):
        (path.parent / f"a (restored {attempt}).jpg").write_bytes(b"taken")
    assert vault.restore(item_id) == path.parent / "a (restored 999).jpg"
    vault, path, item_id = _vault_with(tmp_path, "a.jpg", b"again")
    path.write_bytes(b"taken")  # a.jpg and "a (restored 1..999).jpg" all exist now
    with pytest.raises(VaultError, match=r"too many files named like a\.jpg"):
        vault.restore(item_id)
    assert [i.id for i in vault.items()] == [item_id]
    assert not any(n.startswith(".photogate-restore-") for n in os.listdir(path.parent))


def test_a_name_taken_between_the_check_and_the_link_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault, path, item_id = _vault_with(tmp_path, "b.jpg")
    real_link = os.link

    def racing_link(source: object, target: object, **kwargs: object) -> None:
        name = os.fsdecode(target).rsplit("/", 1)[-1]  # type: ignore[arg-type]
        if name == "b.jpg":  # another program creates it right after our check
            (path.parent / "b.jpg").write_bytes(b"theirs")
        real_link(source, target, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "link", racing_link)
    restored = vault.restore(item_id)
    assert restored == path.parent / "b (restored 1).jpg"
    assert (path.parent / "b.jpg").read_bytes() == b"theirs"
    # the journal names the final place it tried last
    lines = (tmp_path / "vault" / "journal.jsonl").read_text(encoding="ascii").splitlines()
    placing = [json.loads(x) for x in lines if '"placing"' in x]
    assert len(placing) == 2


def test_without_hard_links_the_temp_file_is_renamed_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a FAT or SMB volume: link() fails with EPERM, the temp is renamed (never replacing)
    vault, path, item_id = _vault_with(tmp_path, "c.jpg", b"content c")

    def no_links(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    restored = vault.restore(item_id)
    assert restored == path and path.read_bytes() == b"content c"
    assert os.listdir(path.parent) == ["c.jpg"]
    assert vault.items() == []


def test_a_link_failing_for_another_reason_keeps_the_item(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault, path, item_id = _vault_with(tmp_path, "d.jpg", b"content d")

    def disk_error(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "link", disk_error)
    with pytest.raises(VaultError, match=r"could not restore to .*Input/output error"):
        vault.restore(item_id)
    assert os.listdir(path.parent) == []  # the temp file is gone, nothing placed
    assert [i.id for i in vault.items()] == [item_id]


def test_a_damaged_item_is_not_restored_and_leaves_nothing(tmp_path: Path) -> None:
    vault, path, item_id = _vault_with(tmp_path, "e.jpg", sample_bytes(32, 9000))
    content = tmp_path / "vault" / "items" / f"{item_id}{CONTENT_SUFFIX}"
    raw = bytearray(content.read_bytes())
    raw[-20] ^= 0xFF
    content.write_bytes(bytes(raw))
    with pytest.raises(VaultError):
        vault.restore(item_id)
    assert os.listdir(path.parent) == []
    assert content.exists()
    assert [i.id for i in vault.items()] == [item_id]


# --- what the journal and the crash hooks see -------------------------------------------------


def _restore_entries(root: Path) -> list[dict[str, object]]:
    lines = (root / "journal.jsonl").read_text(encoding="ascii").splitlines()
    entries = [json.loads(line) for line in lines]
    return [{k: v for k, v in e.items() if k != "mac"} for e in entries if e["op"] == "restore"]


def test_a_restore_journals_each_step_with_its_fields_under_one_transaction(
    tmp_path: Path,
) -> None:
    vault, path, item_id = _vault_with(tmp_path)
    item = vault.get(item_id)
    vault.restore(item_id)
    intent, placing, restored, done = _restore_entries(tmp_path / "vault")
    txn = intent["txn"]
    assert isinstance(txn, str) and re.fullmatch(r"[0-9a-f]{16}", txn)
    temp = Path(os.fsdecode(__import__("base64").b64decode(str(intent["temp_b64"]))))
    assert temp.parent == path.parent
    assert re.fullmatch(rf"\.photogate-restore-{item_id}-[0-9a-f]{{8}}\.tmp", temp.name)
    b64 = __import__("base64").b64encode(os.fsencode(path)).decode("ascii")
    assert (intent, placing, restored, done) == (
        {"txn": txn, "op": "restore", "step": "restore-intent", "id": item_id,
         "temp_b64": intent["temp_b64"], "sha256": item.sha256},
        {"txn": txn, "op": "restore", "step": "placing", "id": item_id, "final_b64": b64},
        {"txn": txn, "op": "restore", "step": "restored", "id": item_id},
        {"txn": txn, "op": "restore", "step": "done", "id": item_id},
    )  # fmt: skip
    reread = Journal(tmp_path / "vault", vault.keys.journal_key)
    assert reread.open_operations() == [] and reread.skipped == []  # every line is valid
    assert Vault(tmp_path / "vault").journal_problems == []


def test_a_failed_restore_journals_a_valid_abort(tmp_path: Path) -> None:
    vault, _path, item_id = _vault_with(tmp_path, "f.jpg", sample_bytes(33, 9000))
    content = tmp_path / "vault" / "items" / f"{item_id}{CONTENT_SUFFIX}"
    raw = bytearray(content.read_bytes())
    raw[-20] ^= 0xFF
    content.write_bytes(bytes(raw))
    with pytest.raises(VaultError):
        vault.restore(item_id)
    assert vault.journal_problems == []  # the recovery after the failure found valid lines
    assert Vault(tmp_path / "vault").journal_problems == []


def test_the_crash_hooks_of_a_restore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # tests/test_vault_crash.py kills a child at these names (agent.testhooks)
    vault, path, item_id = _vault_with(tmp_path)
    seen: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(
        agent.vault.restore,
        "crash_point",
        lambda name: seen.append((name, sorted(os.listdir(path.parent)))),
    )
    vault.restore(item_id)
    [(first, at_first), (second, at_second), (third, at_third)] = seen
    assert (first, second, third) == ("temp-written", "linked", "temp-removed")
    [temp] = at_first
    assert re.fullmatch(rf"\.photogate-restore-{item_id}-[0-9a-f]{{8}}\.tmp", temp)
    assert at_second == sorted(["scan.jpg", temp])
    assert at_third == ["scan.jpg"]


def test_a_failure_after_the_file_is_placed_finishes_the_restore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault, path, item_id = _vault_with(tmp_path, "g.jpg", b"placed bytes")
    real_append = Journal.append

    def failing(self: Journal, txn: str, op: str, step: str, **fields: object) -> None:
        if step == "restored":
            raise OSError(errno.ENOSPC, "No space left on device")
        real_append(self, txn, op, step, **fields)

    monkeypatch.setattr(Journal, "append", failing)
    with pytest.raises(VaultError, match="No space left"):
        vault.restore(item_id)
    monkeypatch.setattr(Journal, "append", real_append)
    # the file was in place: it stays (not undone), and the next recovery (its own `restored`
    # line failing too meanwhile) finishes the restore
    assert path.read_bytes() == b"placed bytes"
    assert Vault(tmp_path / "vault").items() == []
    assert os.listdir(path.parent) == ["g.jpg"]


def test_a_folder_where_nothing_can_be_created_is_a_clear_error(tmp_path: Path) -> None:
    vault, path, item_id = _vault_with(tmp_path, "h.jpg")
    subprocess.run(["chattr", "+i", str(path.parent)], check=True)
    try:
        with pytest.raises(VaultError, match="could not restore to"):
            vault.restore(item_id)
    finally:
        subprocess.run(["chattr", "-i", str(path.parent)], check=True)
    assert os.listdir(path.parent) == []
    assert [i.id for i in vault.items()] == [item_id]


# --- Windows rules, with this OS's calls ------------------------------------------------------


def test_a_folder_sid_is_checked_against_the_destination_folder(tmp_path: Path) -> None:
    from agent import platform

    vault, path, item_id = _vault_with(tmp_path, "sid.jpg")
    owner = "S-1-5-21-1-2-3-1001"

    class SidOwners(type(platform.current())):  # type: ignore[misc]
        """This OS, with the Downloads folder owned by one SID (what Windows would say)."""

        def owner_sid(self, asked: Path) -> str:
            return owner if asked == path.parent else ""

    previous = platform.use(SidOwners())
    try:
        assert vault.restore(item_id, placement=Placement(folder_sid=owner)) == path
        vault, _other, item_id = _vault_with(tmp_path / "b", "sid.jpg")
        with pytest.raises(VaultError, match="does not belong"):
            vault.restore(item_id, placement=Placement(folder_sid=owner))
    finally:
        platform.use(previous)


def test_on_windows_a_restore_for_an_owner_is_not_chowned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask_002: None
) -> None:
    # no uids on Windows (items are owned by SID elsewhere): the file is created 0644 and
    # never passed to fchown/fchmod
    import types

    vault, _path, item_id = _vault_with(tmp_path, "win.jpg")
    monkeypatch.setattr(agent.vault.restore, "sys", types.SimpleNamespace(platform="win32"))
    restored = vault.restore(item_id, placement=Placement(owner=(4242, 4343)))
    info = restored.stat()
    assert (info.st_uid, info.st_gid) == (os.getuid(), os.getgid())
    assert stat.S_IMODE(info.st_mode) == 0o644  # the create mode, under the umask 002


# --- mtime, and the path-based utime where fds cannot be used --------------------------------


def test_a_record_without_nanoseconds_restores_the_float_mtime(tmp_path: Path) -> None:
    # records written before mtime_ns existed carry only `mtime` (seconds, a float)
    from dataclasses import replace

    vault, _path, item_id = _vault_with(tmp_path, "old.jpg")
    item = vault.get(item_id)
    record = tmp_path / "vault" / "items" / f"{item_id}.json"
    record.write_bytes(vault.keys.sign_record(replace(item, mtime_ns=0).record_fields()))
    restored = vault.restore(item_id)
    assert abs(restored.stat().st_mtime_ns - 1_650_000_000_123_456_789) < 1_000  # float: ~0.2 µs


def test_without_fd_utime_the_mtime_is_set_through_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault, _path, item_id = _vault_with(tmp_path, "nofd.jpg")
    monkeypatch.setattr(os, "supports_fd", set())  # Windows: os.utime takes no fd
    restored = vault.restore(item_id)
    assert restored.stat().st_mtime_ns == 1_650_000_000_123_456_789


def test_a_multi_byte_stem_is_dropped_when_only_one_byte_is_left() -> None:
    # the extension is cut to leave one byte; a 4-byte character cannot fit in it
    assert clash_name("😀." + "e" * 300, 1) == " (restored 1)." + "e" * 240
