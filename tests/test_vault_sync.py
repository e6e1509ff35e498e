"""Which durability calls one quarantine makes, and in which order (Linux: fdatasync).

Recovery relies on this order (agent.vault.recovery): the encrypted content and the signed
record in tmp/, then the journal (`intent` + `stored`), then their names in items/, and
only then the original's removal from its folder. File contents need only their bytes and
length durable (fdatasync); renames and unlinks need the folder itself synced (fsync).
A batch (group commit, agent.vault.movein) keeps the order with one call per step.
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


def test_a_batch_flushes_once_then_places_then_unlinks_then_syncs_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group commit: one syncfs for every copy, record and the journal line announcing them,
    items/ fsynced before the first original goes, the originals' folder fsynced once."""
    from agent.platform import linux_sync
    from agent.vault.store import QuarantineRequest

    root = tmp_path / "vault"
    vault = Vault(root)
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    victims = []
    for index in range(3):
        victim = downloads / f"scan-{index}.jpg"
        victim.write_bytes(sample_bytes(20 + index, 3000))
        victims.append(victim)
    calls: list[tuple[str, str]] = []
    real_fsync, real_fdatasync, real_unlink = os.fsync, os.fdatasync, os.unlink
    real_syncfs = linux_sync._SYNCFS
    assert real_syncfs is not None

    def syncfs(fd: int) -> int:
        calls.append(("syncfs", _where(fd)))
        return real_syncfs(fd)

    def fsync(fd: int) -> None:
        calls.append(("fsync", _where(fd)))
        real_fsync(fd)

    def fdatasync(fd: int) -> None:
        calls.append(("fdatasync", _where(fd)))
        real_fdatasync(fd)

    def unlink(path: str, *, dir_fd: int | None = None) -> None:
        if dir_fd is not None:
            calls.append(("unlink", os.path.join(_where(dir_fd), path)))
        real_unlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(linux_sync, "_SYNCFS", syncfs)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "fdatasync", fdatasync)
    monkeypatch.setattr(os, "unlink", unlink)
    results = vault.quarantine_many([QuarantineRequest(v, FINDINGS, "jpeg", "t") for v in victims])
    monkeypatch.undo()

    first_id = results[0].id  # type: ignore[union-attr]
    assert calls == [
        ("syncfs", str(root / "tmp" / f"{first_id}.pgq")),  # the filesystem of them all
        ("fsync", str(root / "items")),
        *[("unlink", str(v)) for v in victims],
        ("fsync", str(downloads)),
    ]
    assert [vault.read_content(r.id) for r in results] == [  # type: ignore[union-attr]
        sample_bytes(20 + index, 3000) for index in range(3)
    ]
