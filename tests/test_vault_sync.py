"""Which durability calls one quarantine makes, and in which order (Linux: fdatasync).

Recovery relies on this order (agent.vault.recovery): the encrypted content and the signed
record in tmp/, then the journal (`intent` + `stored`), then their names in items/, and
only then the original's removal from its folder. File contents need only their bytes and
length durable (fdatasync); renames and unlinks need the folder itself synced (fsync).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from agent.vault.store import Vault
from tests.vault_helpers import FINDINGS, sample_bytes

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="fd paths are read from /proc (Linux)"
)


def _where(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


def test_one_quarantine_syncs_data_three_times_and_folders_twice_in_recovery_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "vault"
    vault = Vault(root)
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    victim = downloads / "scan.jpg"
    victim.write_bytes(sample_bytes(7, 5000))
    calls: list[tuple[str, str]] = []
    real_fsync, real_fdatasync = os.fsync, os.fdatasync

    def fsync(fd: int) -> None:
        calls.append(("fsync", _where(fd)))
        real_fsync(fd)

    def fdatasync(fd: int) -> None:
        calls.append(("fdatasync", _where(fd)))
        real_fdatasync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "fdatasync", fdatasync)
    item = vault.quarantine(victim, FINDINGS, detected_type="jpeg", policy_version="t")
    monkeypatch.undo()

    journal = str(root / "journal.jsonl")
    assert calls == [  # intent is written, not synced: stored's sync covers it
        ("fdatasync", str(root / "tmp" / f"{item.id}.pgq")),  # encrypted content
        ("fdatasync", str(root / "tmp" / f"{item.id}.json")),  # signed record
        ("fdatasync", journal),  # intent + stored, before anything outside tmp/ changes
        ("fsync", str(root / "items")),  # both renamed into items/, before the unlink
        ("fsync", str(downloads)),  # the original's unlink
    ]
    assert not victim.exists()
    assert vault.read_content(item.id) == sample_bytes(7, 5000)
