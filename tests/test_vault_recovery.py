"""Vault recovery, step by step, in-process: each journal state a crash can leave.

A crash test (tests/test_vault_crash.py) kills a real process at each crash point; these
tests write the same journal states directly (signed with the vault's key, as only the vault
itself can) with the files on disk as that crash leaves them, and check what recovery does
with each, as agent.vault.recovery's docstring lays it down:
  - no `stored`: roll back (the original untouched, the half-stored copy deleted);
  - `stored`: roll forward only when the path holds exactly the stored bytes and the item
    verifies; other bytes there are a new file, left alone;
  - a restore is finished only when its file is placed (our inode or our bytes), else undone,
    and the only file touched outside the vault is our own temp name for that item.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
from pathlib import Path

import pytest

from agent.vault.crypto import load_or_create_key
from agent.vault.journal import Journal
from agent.vault.record import QuarantineItem
from agent.vault.recovery import foreign_owner
from agent.vault.store import CONTENT_SUFFIX, Vault
from tests.vault_helpers import FINDINGS, sample_bytes

TXN = "cd" * 8


def _b64(path: Path) -> str:
    return base64.b64encode(os.fsencode(path)).decode("ascii")


def _journal(root: Path) -> Journal:
    """A journal writer holding the real key (what a crashed vault process wrote)."""
    return Journal(root, load_or_create_key(root).journal_key)


def _stored(tmp_path: Path, data: bytes | None = None) -> tuple[Path, Path, QuarantineItem, bytes]:
    """A vault holding one quarantined file: (root, original path, item, bytes)."""
    data = sample_bytes(21, 40_000) if data is None else data
    folder = tmp_path / "Downloads"
    folder.mkdir(parents=True, exist_ok=True)
    original = folder / "scan.jpg"
    original.write_bytes(data)
    root = tmp_path / "vault"
    item = Vault(root).quarantine(original, FINDINGS, detected_type="jpeg", policy_version="r")
    assert not original.exists()
    return root, original, item, data


def _quarantine_lines(root: Path, item: QuarantineItem, path: Path, *steps: str) -> None:
    journal = _journal(root)
    journal.append(
        TXN, "quarantine", "intent", id=item.id, path_b64=_b64(path), dev=1, ino=2,
        size=item.size, mtime_ns=3,
    )  # fmt: skip
    for step in steps:
        if step == "stored":
            journal.append(TXN, "quarantine", "stored", id=item.id, sha256=item.sha256)
        else:
            journal.append(TXN, "quarantine", step, id=item.id)


def _ids(vault: Vault) -> list[str]:
    return [i.id for i in vault.items()]


# --- quarantine -------------------------------------------------------------------------------


def test_no_stored_line_rolls_back_and_leaves_the_original(tmp_path: Path) -> None:
    root, original, item, data = _stored(tmp_path)
    original.write_bytes(data)  # the original was never touched before `stored`
    _quarantine_lines(root, item, original)
    vault = Vault(root)
    assert _ids(vault) == []  # the half-stored copy is deleted
    assert list((root / "items").iterdir()) == []
    assert original.read_bytes() == data
    assert (root / "journal.jsonl").stat().st_size == 0  # resolved and cleared


def test_stored_with_the_same_bytes_at_the_path_rolls_forward(tmp_path: Path) -> None:
    root, original, item, data = _stored(tmp_path)
    original.write_bytes(data)  # killed after `stored`, before the unlink
    _quarantine_lines(root, item, original, "stored")
    vault = Vault(root)
    assert not original.exists()
    assert _ids(vault) == [item.id]
    assert vault.read_content(item.id) == data


def test_stored_with_other_bytes_at_the_path_leaves_both(tmp_path: Path) -> None:
    root, original, item, _data = _stored(tmp_path)
    original.write_bytes(b"a new download reusing the name")
    _quarantine_lines(root, item, original, "stored")
    vault = Vault(root)
    assert original.read_bytes() == b"a new download reusing the name"
    assert _ids(vault) == [item.id]


def test_stored_with_the_same_size_but_other_bytes_leaves_both(tmp_path: Path) -> None:
    root, original, item, data = _stored(tmp_path)
    other = bytes([data[0] ^ 1]) + data[1:]
    original.write_bytes(other)
    _quarantine_lines(root, item, original, "stored")
    vault = Vault(root)
    assert original.read_bytes() == other
    assert _ids(vault) == [item.id]


def test_stored_and_the_path_empty_means_the_unlink_happened(tmp_path: Path) -> None:
    root, original, item, _data = _stored(tmp_path)
    _quarantine_lines(root, item, original, "stored")
    vault = Vault(root)
    assert not original.exists()
    assert _ids(vault) == [item.id]
    assert (root / "journal.jsonl").stat().st_size == 0


def test_stored_without_a_record_rolls_back_and_keeps_the_original(tmp_path: Path) -> None:
    root, original, item, data = _stored(tmp_path)
    original.write_bytes(data)
    (root / "items" / f"{item.id}.json").unlink()  # the record never reached items/
    _quarantine_lines(root, item, original, "stored")
    vault = Vault(root)
    assert original.read_bytes() == data
    assert _ids(vault) == []
    assert list((root / "items").glob(f"*{CONTENT_SUFFIX}")) == []


def test_stored_copy_failing_verification_is_dropped_and_the_original_kept(
    tmp_path: Path,
) -> None:
    root, original, item, data = _stored(tmp_path)
    original.write_bytes(data)
    content = root / "items" / f"{item.id}{CONTENT_SUFFIX}"
    raw = bytearray(content.read_bytes())
    raw[-20] ^= 0xFF
    content.write_bytes(bytes(raw))
    _quarantine_lines(root, item, original, "stored")
    vault = Vault(root)
    assert original.read_bytes() == data
    assert _ids(vault) == []
    assert not content.exists()


def test_a_record_of_another_path_is_neither_ours_nor_the_paths(tmp_path: Path) -> None:
    # the journal names the item but a path the record does not: touch neither
    root, _original, item, data = _stored(tmp_path)
    elsewhere = tmp_path / "Downloads" / "other.jpg"
    elsewhere.write_bytes(data)
    _quarantine_lines(root, item, elsewhere, "stored")
    vault = Vault(root)
    assert elsewhere.read_bytes() == data
    assert _ids(vault) == [item.id]


def test_original_removed_only_needs_done(tmp_path: Path) -> None:
    root, original, item, data = _stored(tmp_path)
    original.write_bytes(data)  # a new file with the same bytes, after the unlink
    _quarantine_lines(root, item, original, "stored", "original-removed")
    vault = Vault(root)
    assert original.read_bytes() == data  # already removed once: this is another file
    assert _ids(vault) == [item.id]


def test_closed_operations_are_not_acted_on(tmp_path: Path) -> None:
    root, original, item, data = _stored(tmp_path)
    original.write_bytes(data)
    _quarantine_lines(root, item, original, "stored", "done")
    vault = Vault(root)
    assert original.read_bytes() == data
    assert _ids(vault) == [item.id]


# --- restore ----------------------------------------------------------------------------------


def _temp_for(item: QuarantineItem, folder: Path) -> Path:
    return folder / f".photogate-restore-{item.id}-{secrets.token_hex(4)}.tmp"


def _restore_lines(
    root: Path, item: QuarantineItem, temp: Path, final: Path | None = None, *more: str
) -> None:
    journal = _journal(root)
    journal.append(
        TXN, "restore", "restore-intent", id=item.id, temp_b64=_b64(temp), sha256=item.sha256
    )
    if final is not None:
        journal.append(TXN, "restore", "placing", id=item.id, final_b64=_b64(final))
    for step in more:
        journal.append(TXN, "restore", step, id=item.id)


def test_restore_killed_before_placing_removes_our_temp_and_keeps_the_item(
    tmp_path: Path,
) -> None:
    root, original, item, data = _stored(tmp_path)
    temp = _temp_for(item, original.parent)
    temp.write_bytes(data[:100])  # half written
    _restore_lines(root, item, temp)
    vault = Vault(root)
    assert not temp.exists()
    assert _ids(vault) == [item.id]
    assert not original.exists()


def test_restore_recovery_never_removes_a_name_that_is_not_our_temp_for_the_item(
    tmp_path: Path,
) -> None:
    root, original, item, _data = _stored(tmp_path)
    folder = original.parent
    other_item = folder / f".photogate-restore-{'0' * 32}-00000000.tmp"
    not_ours = folder / "holiday.jpg"
    wrong_suffix = folder / f".photogate-restore-{item.id}-00000000.tmpx"
    for path in (other_item, not_ours, wrong_suffix):
        path.write_bytes(b"someone's file")
        _restore_lines(root, item, path)
        Vault(root)
        assert path.read_bytes() == b"someone's file", path.name
    directory = folder / f".photogate-restore-{item.id}-00000001.tmp"
    directory.mkdir()
    _restore_lines(root, item, directory)
    Vault(root)
    assert directory.is_dir()  # only a regular file is ever removed
    link = folder / f".photogate-restore-{item.id}-00000002.tmp"
    link.symlink_to(not_ours)
    _restore_lines(root, item, link)
    vault = Vault(root)
    assert link.is_symlink() and not_ours.read_bytes() == b"someone's file"
    assert _ids(vault) == [item.id]


def test_restore_killed_after_the_link_is_finished(tmp_path: Path) -> None:
    root, original, item, data = _stored(tmp_path)
    temp = _temp_for(item, original.parent)
    temp.write_bytes(data)
    os.link(temp, original)  # placed: the final name is the temp's inode
    _restore_lines(root, item, temp, original)
    vault = Vault(root)
    assert original.read_bytes() == data
    assert not temp.exists()
    assert _ids(vault) == []  # the item leaves once its file is in place
    assert list((root / "items").iterdir()) == []


def test_restore_placed_by_rename_is_finished_by_its_bytes(tmp_path: Path) -> None:
    # no hard links on the volume: the temp was renamed, only the final name remains
    root, original, item, data = _stored(tmp_path)
    temp = _temp_for(item, original.parent)
    original.write_bytes(data)
    _restore_lines(root, item, temp, original)
    vault = Vault(root)
    assert original.read_bytes() == data
    assert _ids(vault) == []


def test_restore_not_placed_when_the_final_name_holds_another_file(tmp_path: Path) -> None:
    root, original, item, data = _stored(tmp_path)
    temp = _temp_for(item, original.parent)
    temp.write_bytes(data)
    original.write_bytes(data)  # same bytes, but another inode while our temp exists
    _restore_lines(root, item, temp, original)
    vault = Vault(root)
    assert original.read_bytes() == data
    assert not temp.exists()
    assert _ids(vault) == [item.id]  # not placed: the item stays


def test_restore_not_placed_when_the_final_bytes_differ(tmp_path: Path) -> None:
    root, original, item, _data = _stored(tmp_path)
    temp = _temp_for(item, original.parent)
    original.write_bytes(b"a file that took the name")
    _restore_lines(root, item, temp, original)
    vault = Vault(root)
    assert original.read_bytes() == b"a file that took the name"
    assert _ids(vault) == [item.id]


def test_restore_not_placed_when_nothing_is_at_the_final_name(tmp_path: Path) -> None:
    root, original, item, data = _stored(tmp_path)
    temp = _temp_for(item, original.parent)
    temp.write_bytes(data)
    _restore_lines(root, item, temp, original)
    vault = Vault(root)
    assert not original.exists() and not temp.exists()
    assert _ids(vault) == [item.id]


def test_restore_not_placed_when_the_final_name_is_a_link_or_elsewhere(tmp_path: Path) -> None:
    root, original, item, data = _stored(tmp_path)
    temp = _temp_for(item, original.parent)
    target = tmp_path / "target.jpg"
    target.write_bytes(data)
    original.symlink_to(target)
    _restore_lines(root, item, temp, original)
    vault = Vault(root)
    assert original.is_symlink()
    assert _ids(vault) == [item.id]
    other_folder = tmp_path / "Other"
    other_folder.mkdir()
    (other_folder / "scan.jpg").write_bytes(data)  # our bytes, but we only link in one folder
    _restore_lines(root, item, temp, other_folder / "scan.jpg")
    vault = Vault(root)
    assert _ids(vault) == [item.id]


def test_restore_with_restored_line_only_needs_cleanup(tmp_path: Path) -> None:
    root, original, item, data = _stored(tmp_path)
    temp = _temp_for(item, original.parent)
    temp.write_bytes(data)
    os.link(temp, original)
    _restore_lines(root, item, temp, original, "restored")
    vault = Vault(root)
    assert original.read_bytes() == data
    assert not temp.exists()
    assert _ids(vault) == []


def test_restore_placed_but_not_the_last_step_is_not_trusted(tmp_path: Path) -> None:
    # `placing` followed by `aborted` is closed; only an open `placing` is checked
    root, original, item, data = _stored(tmp_path)
    temp = _temp_for(item, original.parent)
    temp.write_bytes(data)
    os.link(temp, original)
    _restore_lines(root, item, temp, original, "aborted")
    vault = Vault(root)
    assert temp.exists() and original.exists()  # a closed operation: nothing touched
    assert _ids(vault) == [item.id]


# --- the whole recovery -----------------------------------------------------------------------


def test_skipped_lines_are_reported_once_and_cleared(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root, _original, _item, _data = _stored(tmp_path)
    (root / "journal.jsonl").write_bytes(b"")  # the quarantine's closed lines
    with (root / "journal.jsonl").open("a", encoding="ascii") as journal:
        journal.write('{"txn": "x"}\n')
        journal.write("not json\n")
    with caplog.at_level(logging.WARNING, logger="photogate.vault"):
        vault = Vault(root)
    assert vault.journal_problems == ["journal line 1: not signed", "journal line 2: not JSON"]
    [record] = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert record.getMessage() == (
        f"vault {root}: 2 journal line(s) skipped, not acted on (first: journal line 1: not signed)"
    )
    assert (root / "journal.jsonl").stat().st_size == 0
    assert Vault(root).journal_problems == []


def test_one_failing_operation_does_not_stop_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _original, item, _data = _stored(tmp_path)
    second = tmp_path / "Downloads" / "second.jpg"
    second.write_bytes(b"second file")
    item2 = Vault(root).quarantine(second, FINDINGS, detected_type="jpeg", policy_version="r")
    second.write_bytes(b"second file")  # stored, not yet unlinked
    journal = _journal(root)
    # first: a restore whose temp folder cannot be opened (a file where the folder was)
    blocker = tmp_path / "blocked"
    blocker.write_bytes(b"")
    journal.append(
        "aa" * 8,
        "restore",
        "restore-intent",
        id=item.id,
        temp_b64=_b64(blocker / f".photogate-restore-{item.id}-00000000.tmp"),
        sha256=item.sha256,
    )
    journal.append("aa" * 8, "restore", "placing", id=item.id, final_b64=_b64(blocker / "x.jpg"))
    journal.append("aa" * 8, "restore", "restored", id=item.id)

    import agent.vault.restore as restore_module

    def broken(temp: Path, item_id: str) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(restore_module, "_remove_temp", broken)
    journal.append(
        "bb" * 8, "quarantine", "intent", id=item2.id, path_b64=_b64(second), dev=1, ino=2,
        size=item2.size, mtime_ns=3,
    )  # fmt: skip
    journal.append("bb" * 8, "quarantine", "stored", id=item2.id, sha256=item2.sha256)
    with caplog.at_level(logging.WARNING, logger="photogate.vault"):
        vault = Vault(root)
    assert f"vault recovery of {'aa' * 8} failed: [Errno 5] Input/output error" in [
        r.getMessage() for r in caplog.records
    ]
    assert not second.exists()  # the second operation was still rolled forward
    assert sorted(_ids(vault)) == sorted([item.id, item2.id])
    # the failed operation's lines stay (only they), to be tried again by the next holder
    [kept] = _journal(root).open_operations()
    assert (kept.txn, kept.steps) == ("aa" * 8, ["restore-intent", "placing", "restored"])
    assert vault.journal.needs_recovery()
    monkeypatch.undo()
    Vault(root)  # now it can be finished
    assert (root / "journal.jsonl").stat().st_size == 0


def test_strays_are_cleared_and_records_keep_their_content(tmp_path: Path) -> None:
    root, _original, item, data = _stored(tmp_path)
    (root / "tmp" / "half-written.pgq").write_bytes(b"x")
    orphan = root / "items" / f"{'e' * 32}{CONTENT_SUFFIX}"
    orphan.write_bytes(b"content whose record never landed")
    _journal(root).append(
        TXN,
        "quarantine",
        "intent",
        id="f" * 32,
        path_b64=_b64(tmp_path / "gone.jpg"),
        dev=1,
        ino=2,
        size=1,
        mtime_ns=3,
    )
    vault = Vault(root)
    assert list((root / "tmp").iterdir()) == []
    assert not orphan.exists()
    assert (root / "items" / f"{item.id}{CONTENT_SUFFIX}").exists()
    assert vault.read_content(item.id) == data


def test_foreign_owner(tmp_path: Path) -> None:
    assert foreign_owner(tmp_path / "missing") is None
    mine = tmp_path / "mine"
    mine.mkdir()
    assert foreign_owner(mine) is None
    if os.geteuid() != 0:
        pytest.skip("needs root to make a folder another account's")
    os.chown(mine, 4242, 4242)
    assert foreign_owner(mine) == 4242


def test_a_foreign_vault_is_not_recovered(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to own a vault as another uid")
    root, original, item, data = _stored(tmp_path)
    original.write_bytes(data)
    _quarantine_lines(root, item, original, "stored")
    for path in [root, *root.rglob("*")]:
        os.chown(path, 4242, 4242, follow_symlinks=False)
    Vault(root)
    assert original.read_bytes() == data  # not rolled forward by us
    assert (root / "journal.jsonl").stat().st_size > 0


def test_restore_recovery_keeps_the_item_when_the_folder_is_gone(tmp_path: Path) -> None:
    # the folder the restore wrote into was removed after the crash: nothing is placed
    root, _original, item, data = _stored(tmp_path)
    folder = tmp_path / "Gone"
    folder.mkdir()
    temp = _temp_for(item, folder)
    temp.write_bytes(data)
    os.link(temp, folder / "scan.jpg")
    _restore_lines(root, item, temp, folder / "scan.jpg")
    for name in os.listdir(folder):
        (folder / name).unlink()
    folder.rmdir()
    vault = Vault(root)
    assert _ids(vault) == [item.id]
    assert vault.read_content(item.id) == data


@pytest.mark.parametrize("placed", [False, True])
def test_the_lines_restore_recovery_writes_are_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, placed: bool
) -> None:
    # as if killed after recovery's own lines and before the journal is cleared: the next
    # recovery reads those lines, and none may be damage
    root, original, item, data = _stored(tmp_path)
    temp = _temp_for(item, original.parent)
    temp.write_bytes(data)
    if placed:
        os.link(temp, original)
    _restore_lines(root, item, temp, original)
    monkeypatch.setattr(Journal, "clear", lambda self, durable=True: None)
    Vault(root)
    monkeypatch.undo()
    lines = (root / "journal.jsonl").read_text(encoding="ascii").splitlines()
    steps = [json.loads(line)["step"] for line in lines]
    closing = ["restored", "done"] if placed else ["aborted"]
    assert steps[-len(closing) :] == closing
    assert Vault(root).journal_problems == []


@pytest.mark.parametrize("same_bytes", [False, True])
def test_the_lines_quarantine_recovery_writes_are_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, same_bytes: bool
) -> None:
    root, original, item, data = _stored(tmp_path)
    if same_bytes:
        original.write_bytes(data)
    _quarantine_lines(root, item, original, "stored")
    monkeypatch.setattr(Journal, "clear", lambda self, durable=True: None)
    Vault(root)
    monkeypatch.undo()
    lines = (root / "journal.jsonl").read_text(encoding="ascii").splitlines()
    assert [json.loads(line)["step"] for line in lines][-2:] == ["original-removed", "done"]
    assert Vault(root).journal_problems == []
    root2, original2, item2, data2 = _stored(tmp_path / "second")
    original2.write_bytes(data2)
    _quarantine_lines(root2, item2, original2)  # no `stored`: rolled back
    monkeypatch.setattr(Journal, "clear", lambda self, durable=True: None)
    Vault(root2)
    monkeypatch.undo()
    lines = (root2 / "journal.jsonl").read_text(encoding="ascii").splitlines()
    assert json.loads(lines[-1])["step"] == "aborted"
    assert Vault(root2).journal_problems == []


@pytest.mark.parametrize("case", ["another path", "no record", "damaged copy"])
def test_the_abort_lines_of_a_refused_roll_forward_are_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    root, original, item, data = _stored(tmp_path)
    path = original
    if case == "another path":
        path = original.parent / "other.jpg"
    elif case == "no record":
        (root / "items" / f"{item.id}.json").unlink()
    else:
        content = root / "items" / f"{item.id}{CONTENT_SUFFIX}"
        raw = bytearray(content.read_bytes())
        raw[-20] ^= 0xFF
        content.write_bytes(bytes(raw))
    path.write_bytes(data)
    _quarantine_lines(root, item, path, "stored")
    monkeypatch.setattr(Journal, "clear", lambda self, durable=True: None)
    Vault(root)
    monkeypatch.undo()
    lines = (root / "journal.jsonl").read_text(encoding="ascii").splitlines()
    assert json.loads(lines[-1])["step"] == "aborted"
    assert Vault(root).journal_problems == []
    assert path.read_bytes() == data  # never rolled forward


def test_a_journal_that_cannot_be_rewritten_stays_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _original, item, _data = _stored(tmp_path)
    (root / "journal.jsonl").write_bytes(b"")
    blocker = tmp_path / "blocked"
    blocker.write_bytes(b"")
    temp = blocker / f".photogate-restore-{item.id}-00000000.tmp"
    _restore_lines(root, item, temp, blocker / "x.jpg", "restored")
    before = (root / "journal.jsonl").read_bytes()

    def failing_remove(self: Vault, item_id: str) -> None:
        raise OSError(5, "Input/output error")

    def failing_retain(self: Journal, txns: set[str]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Vault, "remove_item_files", failing_remove)
    monkeypatch.setattr(Journal, "retain", failing_retain)
    Vault(root)  # opens all the same
    assert (root / "journal.jsonl").read_bytes().startswith(before)  # nothing dropped


def test_strays_that_cannot_be_removed_do_not_stop_the_vault(tmp_path: Path) -> None:
    root, _original, item, _data = _stored(tmp_path)
    (root / "tmp" / "a-folder").mkdir()
    (root / "items" / f"{'e' * 32}{CONTENT_SUFFIX}").mkdir()  # no record, and not a file
    _journal(root).append(TXN, "quarantine", "done", id=item.id)  # something to recover
    (root / "journal.jsonl").write_bytes(b"x\n")  # a line this process did not write
    vault = Vault(root)
    assert (root / "tmp" / "a-folder").is_dir()
    assert _ids(vault) == [item.id]


def test_no_vault_is_foreign_on_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # owners there are SIDs, decided by protected mode, not by this check
    import types

    import agent.vault.recovery

    folder = tmp_path / "theirs"
    folder.mkdir()
    if os.geteuid() == 0:
        os.chown(folder, 4242, 4242)
    monkeypatch.setattr(agent.vault.recovery, "sys", types.SimpleNamespace(platform="win32"))
    assert foreign_owner(folder) is None
