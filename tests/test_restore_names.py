"""Restoring over an occupied long name: cut by characters, never inside UTF-8 (issue 13)."""

from __future__ import annotations

import os
from pathlib import Path

from agent.model import Finding, Severity
from agent.vault.restore import clash_name
from agent.vault.store import Vault

NAME_MAX = 255  # bytes in a file name on ext4 (the literal limit, not the module's constant)
FINDINGS = (Finding("content.executable", Severity.HIGH, "test", payload="pe"),)


def test_a_restore_beside_an_occupied_long_utf8_name_keeps_it_valid(tmp_path: Path) -> None:
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    name = "a" + "é" * 124 + ".jpg"  # 253 bytes: a cut by bytes lands inside an "é"
    original = downloads / name
    original.write_bytes(b"MZ" + bytes(100))
    vault = Vault(tmp_path / "vault")
    item = vault.quarantine(original, FINDINGS, detected_type="pe", policy_version="t")
    original.write_bytes(b"a new download under the same name")
    restored = vault.restore(item.id)
    raw = os.fsencode(restored.name)
    assert restored.parent == downloads and restored != original
    assert len(raw) <= NAME_MAX
    assert raw.decode("utf-8").endswith(" (restored 1).jpg")  # decodes: nothing cut in half
    assert set(raw.decode("utf-8")[1 : -len(" (restored 1).jpg")]) == {"é"}
    assert restored.read_bytes() == b"MZ" + bytes(100)
    assert original.read_bytes() == b"a new download under the same name"


def test_clash_names_of_four_byte_characters_stay_whole() -> None:
    name = "😀" * 70 + ".png"  # 284 bytes: over the limit before any tag
    for attempt in (1, 9, 10, 123):
        cut = clash_name(name, attempt)
        raw = os.fsencode(cut)
        assert len(raw) <= NAME_MAX
        assert raw.decode("utf-8") == cut
        assert cut.endswith(f" (restored {attempt}).png")
