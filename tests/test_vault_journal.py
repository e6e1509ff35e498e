"""The journal is an authenticated log: no line anyone can append makes recovery act.

Regression tests for the attack review of issue 9 (forged and malformed journal lines, a
vault owned by another account) and the vault tests of issue 15 that must be able to fail
(trailing NUL bytes kept on restore; verify-before-unlink).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest

import agent.vault.movein
from agent.errors import VaultError
from agent.vault.crypto import CHUNK_BYTES, load_or_create_key
from agent.vault.journal import Journal
from agent.vault.store import CONTENT_SUFFIX, Vault
from tests.vault_helpers import FINDINGS, sample_bytes, sha256_hex

ITEM_ID = "ab" * 16
TXN = "cd" * 8


def _b64(path: Path) -> str:
    return base64.b64encode(os.fsencode(path)).decode("ascii")


def _append_raw(root: Path, *lines: str) -> None:
    with (root / "journal.jsonl").open("a", encoding="ascii") as journal:
        for line in lines:
            journal.write(line + "\n")


def _signed_journal(root: Path) -> Journal:
    """A journal writer holding the real key: what only the vault itself can do."""
    return Journal(root, load_or_create_key(root).journal_key)


@pytest.fixture
def setting(tmp_path: Path) -> tuple[Vault, Path, Path, str]:
    """A vault with one item, and an outside file (root-owned in the attack) a forger targets."""
    root = tmp_path / "vault"
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    (downloads / "kept.jpg").write_bytes(b"kept item")
    vault = Vault(root)
    item = vault.quarantine(
        downloads / "kept.jpg", FINDINGS, detected_type="jpeg", policy_version="j1"
    )
    victim = tmp_path / "outside" / "victim.conf"
    victim.parent.mkdir()
    victim.write_bytes(b"important system file\n")
    return vault, root, victim, item.id


def _assert_untouched(root: Path, victim: Path, item_id: str) -> Vault:
    vault = Vault(root)  # recovery runs here: it must neither raise nor act on forged lines
    assert victim.read_bytes() == b"important system file\n"
    assert [i.id for i in vault.items()] == [item_id]
    assert vault.read_content(item_id) == b"kept item"
    return vault


def test_an_incomplete_line_cannot_brick_the_vault(setting: tuple[Vault, Path, Path, str]) -> None:
    _, root, victim, item_id = setting
    _append_raw(root, '{"txn":"t3","op":"quarantine","step":"intent"}')
    vault = _assert_untouched(root, victim, item_id)
    assert len(vault.journal_problems) == 1
    assert vault.journal_problems[0].endswith(": not signed")
    # Reported once: the skipped line is cleared with the resolved journal.
    assert Vault(root).journal_problems == []


@pytest.mark.parametrize(
    "untrusted_line",
    [
        '{"txn":"t3","op":"quarantine","step":"intent"}',
        f'{{"txn":"{TXN}","op":"quarantine","step":"intent","id":"../../etc","path_b64":"!!"}}',
        '{"txn": 1e999, "op": [], "step": {}}',
        "[1, 2, 3]",
        "not json at all",
        '{"txn":"' + "x" * 70_000 + '"}',
        "\udcff",
    ],
)
def test_unsigned_and_malformed_lines_are_skipped(
    setting: tuple[Vault, Path, Path, str], untrusted_line: str
) -> None:
    _, root, victim, item_id = setting
    (root / "journal.jsonl").write_bytes(untrusted_line.encode("utf-8", "surrogateescape") + b"\n")
    vault = _assert_untouched(root, victim, item_id)
    assert len(vault.journal_problems) == 1


def test_forged_restore_intent_naming_an_outside_path_deletes_nothing(
    setting: tuple[Vault, Path, Path, str],
) -> None:
    _, root, victim, item_id = setting
    forged = {
        "txn": TXN,
        "op": "restore",
        "step": "restore-intent",
        "id": item_id,
        "temp_b64": _b64(victim),
        "sha256": "0" * 64,
    }
    _append_raw(root, json.dumps(forged))  # unsigned, as any user could append it
    assert "not signed" in _assert_untouched(root, victim, item_id).journal_problems[0]
    # Even signed with the real key (a bug elsewhere, a leaked key), recovery deletes only
    # its own temp-name pattern for that item: the victim survives.
    _signed_journal(root).append(
        TXN, "restore", "restore-intent", id=item_id, temp_b64=_b64(victim), sha256="0" * 64
    )
    _assert_untouched(root, victim, item_id)


def test_forged_quarantine_intent_and_stored_pair_deletes_nothing(
    setting: tuple[Vault, Path, Path, str],
) -> None:
    _, root, victim, item_id = setting
    data = victim.read_bytes()
    stat = victim.stat()
    fields = {
        "id": ITEM_ID, "path_b64": _b64(victim), "dev": stat.st_dev, "ino": stat.st_ino,
        "size": len(data), "mtime_ns": stat.st_mtime_ns,
    }  # fmt: skip
    for step, extra in (
        ("intent", fields),
        ("stored", {"id": ITEM_ID, "sha256": sha256_hex(data)}),
    ):
        _append_raw(root, json.dumps({"txn": TXN, "op": "quarantine", "step": step, **extra}))
    assert len(_assert_untouched(root, victim, item_id).journal_problems) == 2
    # Signed pair for an item that has no record: rolled back, never rolled forward.
    journal = _signed_journal(root)
    journal.append(TXN, "quarantine", "intent", **fields)
    journal.append(TXN, "quarantine", "stored", id=ITEM_ID, sha256=sha256_hex(data))
    _assert_untouched(root, victim, item_id)
    # Signed pair naming the real item but the victim's path: the record disagrees.
    journal.append(TXN, "quarantine", "intent", **{**fields, "id": item_id})
    journal.append(TXN, "quarantine", "stored", id=item_id, sha256=sha256_hex(data))
    _assert_untouched(root, victim, item_id)  # and the real item is kept too


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"id": "../../../etc/passwd"}, "id is not an item id"),
        ({"path_b64": "***not base64***"}, "path_b64 is not valid base64"),
        ({"path_b64": base64.b64encode(b"relative/x").decode()}, "not an absolute path"),
        ({"path_b64": base64.b64encode(b"/a\0b").decode()}, "NUL"),
        ({"size": -1}, "size is not an unsigned"),
        ({"size": True}, "size is not an unsigned"),
        ({"size": 1.5}, "size is not an unsigned"),
        ({"ino": 2**64}, "ino is not an unsigned"),
        ({"mtime_ns": "yesterday"}, "mtime_ns is not a signed"),
        ({"surprise": 1}, "unknown fields surprise"),
    ],
)
def test_signed_lines_with_bad_fields_are_skipped_with_the_reason(
    tmp_path: Path, fields: dict[str, object], problem: str
) -> None:
    root = tmp_path / "vault"
    Vault(root)
    good = {
        "id": ITEM_ID, "path_b64": _b64(tmp_path / "x.jpg"), "dev": 1, "ino": 2, "size": 3,
        "mtime_ns": 4,
    }  # fmt: skip
    _signed_journal(root).append(TXN, "quarantine", "intent", **{**good, **fields})
    vault = Vault(root)
    assert len(vault.journal_problems) == 1
    assert problem in vault.journal_problems[0]


def test_unknown_op_step_and_a_transaction_without_its_start_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    Vault(root)
    journal = _signed_journal(root)
    journal.append(TXN, "format-disk", "intent", id=ITEM_ID)
    journal.append(TXN, "quarantine", "explode", id=ITEM_ID)
    journal.append("ef" * 8, "quarantine", "stored", id=ITEM_ID, sha256="1" * 64)
    problems = Vault(root).journal_problems
    assert [p.split(": ", 1)[1] for p in problems] == [
        "unknown operation",
        "unknown step of quarantine",
        f"transaction {'ef' * 8} starts at stored, not at intent",
    ]


def test_a_vault_owned_by_another_account_is_never_recovered_or_restored_in_place(
    tmp_path: Path,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to own a vault as another uid")  # CI runs these as root
    root = tmp_path / "vault"
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    (downloads / "a.jpg").write_bytes(b"payload")
    vault = Vault(root)
    item = vault.quarantine(downloads / "a.jpg", FINDINGS, detected_type="jpeg", policy_version="j")
    victim = tmp_path / "victim"
    victim.write_bytes(b"root's")
    _signed_journal(root).append(
        TXN, "restore", "restore-intent", id=item.id, temp_b64=_b64(victim), sha256="0" * 64
    )
    for path in [root, *root.rglob("*")]:
        os.chown(path, 4242, 4242, follow_symlinks=False)
    foreign = Vault(root)  # as root: the owner (uid 4242) could have written all of it
    assert foreign.foreign_owner == 4242
    assert (root / "journal.jsonl").stat().st_size > 0  # not acted on, not cleared
    assert [i.id for i in foreign.items()] == [item.id]
    with pytest.raises(VaultError, match="belongs to another account"):
        foreign.restore(item.id)
    assert victim.read_bytes() == b"root's"


def test_restore_keeps_trailing_nul_bytes_exactly(tmp_path: Path) -> None:
    folder = tmp_path / "Downloads"
    folder.mkdir()
    vault = Vault(tmp_path / "vault")
    cases = {
        "small.jpg": sample_bytes(3, 1000) + b"\0" * 7,
        "boundary.jpg": sample_bytes(4, CHUNK_BYTES - 5) + b"\0" * 11,  # NULs span two chunks
        "whole-chunk.jpg": sample_bytes(5, 10) + b"\0" * CHUNK_BYTES,  # a chunk of only NULs
        "only-nul.jpg": b"\0" * 3,
    }
    for name, data in cases.items():
        (folder / name).write_bytes(data)
        item = vault.quarantine(folder / name, FINDINGS, detected_type="jpeg", policy_version="n")
        assert not (folder / name).exists()
        restored = vault.restore(item.id)
        assert restored.read_bytes() == data, name
        assert hashlib.sha256(restored.read_bytes()).hexdigest() == sha256_hex(data)


def test_original_stays_when_the_stored_copy_fails_verification(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "Downloads"
    folder.mkdir()
    original = folder / "xray.jpg"
    data = sample_bytes(6, 50_000)
    original.write_bytes(data)
    root = tmp_path / "vault"
    vault = Vault(root)

    def corrupt_after_placing(name: str) -> None:
        if name == "record-placed":  # content and record are in items/, not yet verified
            (content,) = (root / "items").glob(f"*{CONTENT_SUFFIX}")
            raw = bytearray(content.read_bytes())
            raw[-20] ^= 0xFF  # one flipped bit in the last chunk's ciphertext
            content.write_bytes(bytes(raw))

    monkeypatch.setattr(agent.vault.movein, "crash_point", corrupt_after_placing)
    with pytest.raises(VaultError, match="damaged or was altered"):
        vault.quarantine(original, FINDINGS, detected_type="jpeg", policy_version="v")
    assert original.read_bytes() == data  # verify-before-unlink kept the only good copy
    assert vault.items() == []
    assert list((root / "items").iterdir()) == []
