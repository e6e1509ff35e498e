"""The vault on a real disk: move in, encrypted at rest, restore byte-identical, refusals."""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.errors import VaultError
from agent.osmark import REASON_XATTR, VERDICT_XATTR
from agent.vault.crypto import CHUNK_BYTES
from agent.vault.store import CONTENT_SUFFIX, Vault
from tests.vault_helpers import FINDINGS, sample_bytes, sha256_hex, xattr_capable_dir


@pytest.fixture
def work(tmp_path: Path) -> Iterator[Path]:
    """A folder on a filesystem with user xattrs (so restore's marker can be checked)."""
    folder = xattr_capable_dir(tmp_path)
    yield folder
    if folder != tmp_path:
        shutil.rmtree(folder, ignore_errors=True)


def _drop(folder: Path, name: str | bytes, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = Path(os.fsdecode(os.path.join(os.fsencode(folder), os.fsencode(name))))
    path.write_bytes(data)
    return path


def _quarantine(vault: Vault, path: Path) -> str:
    return vault.quarantine(path, FINDINGS, detected_type="jpeg", policy_version="test-1").id


def test_quarantine_moves_file_in_encrypted_and_restore_is_byte_identical(work: Path) -> None:
    data = sample_bytes(1, 3 * CHUNK_BYTES + 17) + b"PK\x03\x04 secret payload marker"
    original = _drop(work / "Downloads", "invoice.jpg", data)
    os.utime(original, ns=(1_600_000_000_000_000_000, 1_600_000_000_123_456_789))
    vault = Vault(work / "vault", clock=lambda: 1_700_000_000.0)

    item = vault.quarantine(original, FINDINGS, detected_type="jpeg", policy_version="p-7")

    assert not original.exists()
    assert (item.size, item.sha256, item.name) == (len(data), sha256_hex(data), "invoice.jpg")
    assert item.original_path == str(original)
    assert item.quarantined_at == 1_700_000_000.0
    assert item.findings == FINDINGS and item.policy_version == "p-7"
    assert vault.items() == [item] and vault.get(item.id) == item
    assert vault.read_content(item.id) == data
    # Neutralized at rest: the stored file is not the plaintext and has a non-image extension.
    stored = (work / "vault" / "items" / f"{item.id}{CONTENT_SUFFIX}").read_bytes()
    assert b"secret payload marker" not in stored and b"JFIF" not in stored
    assert stat.S_IMODE((work / "vault").stat().st_mode) == 0o700
    assert stat.S_IMODE((work / "vault" / "vault.key").stat().st_mode) == 0o600
    assert item.id not in "invoice.jpg" and len(item.id) == 32

    restored = vault.restore(item.id)

    assert restored == original and restored.read_bytes() == data
    assert restored.stat().st_mtime_ns == 1_600_000_000_123_456_789
    assert not restored.stat().st_mode & 0o111  # never executable
    assert os.getxattr(restored, VERDICT_XATTR) == b"untrusted"
    assert b"quarantine" in os.getxattr(restored, REASON_XATTR)
    assert vault.items() == []
    assert sorted(os.listdir(work / "vault" / "items")) == []
    assert sorted(os.listdir(work / "Downloads")) == ["invoice.jpg"]  # no temp left behind


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 2 * CHUNK_BYTES]
)
def test_chunk_boundaries_round_trip(tmp_path: Path, size: int) -> None:
    data = sample_bytes(size, size)
    vault = Vault(tmp_path / "vault")
    item_id = _quarantine(vault, _drop(tmp_path / "in", "f.png", data))
    assert vault.read_content(item_id) == data
    assert vault.restore(item_id, tmp_path / "out.png").read_bytes() == data


def test_restore_never_overwrites_and_numbers_clashes(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    first = _quarantine(vault, _drop(tmp_path / "dl", "photo.jpg", b"first"))
    second = _quarantine(vault, _drop(tmp_path / "dl", "photo.jpg", b"second"))
    _drop(tmp_path / "dl", "photo.jpg", b"someone else's file")

    assert vault.restore(first).name == "photo (restored 1).jpg"
    assert vault.restore(second).name == "photo (restored 2).jpg"
    folder = tmp_path / "dl"
    assert (folder / "photo.jpg").read_bytes() == b"someone else's file"
    assert (folder / "photo (restored 1).jpg").read_bytes() == b"first"
    assert (folder / "photo (restored 2).jpg").read_bytes() == b"second"
    assert sorted(os.listdir(folder)) == [
        "photo (restored 1).jpg",
        "photo (restored 2).jpg",
        "photo.jpg",
    ]


def test_restore_to_a_folder_or_a_file_path(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    a = _quarantine(vault, _drop(tmp_path / "dl", "a.jpg", b"aaa"))
    b = _quarantine(vault, _drop(tmp_path / "dl", "b.jpg", b"bbb"))
    (tmp_path / "it").mkdir()
    assert vault.restore(a, tmp_path / "it") == tmp_path / "it" / "a.jpg"
    assert vault.restore(b, tmp_path / "it" / "renamed.bin").read_bytes() == b"bbb"
    c = _quarantine(vault, _drop(tmp_path / "dl", "c.jpg", b"ccc"))
    with pytest.raises(VaultError, match="does not exist"):
        vault.restore(c, tmp_path / "missing" / "c.jpg")
    assert [i.name for i in vault.items()] == ["c.jpg"]  # a failed restore keeps the item


def test_symlink_fifo_and_directory_are_refused(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    target = _drop(tmp_path / "dl", "real.jpg", b"real")
    link = tmp_path / "dl" / "link.jpg"
    link.symlink_to(target)
    fifo = tmp_path / "dl" / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(VaultError, match="link"):
        _quarantine(vault, link)
    with pytest.raises(VaultError, match="not a regular file"):
        _quarantine(vault, fifo)
    with pytest.raises(VaultError, match="not a regular file"):
        _quarantine(vault, tmp_path / "dl")
    with pytest.raises(VaultError, match="does not exist"):
        _quarantine(vault, tmp_path / "dl" / "missing.jpg")
    assert link.is_symlink() and target.read_bytes() == b"real" and fifo.exists()
    assert vault.items() == []


def test_file_changed_while_moving_stays_in_place(tmp_path: Path) -> None:
    """The clock is read after the content is stored and before the original is removed;
    this one appends to the file at that moment, like a writer that was not finished."""
    original = _drop(tmp_path / "dl", "growing.jpg", b"part one")

    def clock_that_writes() -> float:
        with original.open("ab") as handle:
            handle.write(b" and part two")
        return 1.0

    vault = Vault(tmp_path / "vault", clock=clock_that_writes)
    with pytest.raises(VaultError, match="changed while it was being moved"):
        _quarantine(vault, original)
    assert original.read_bytes() == b"part one and part two"
    assert vault.items() == [] and os.listdir(tmp_path / "vault" / "items") == []


def test_file_replaced_while_moving_stays_in_place(tmp_path: Path) -> None:
    original = _drop(tmp_path / "dl", "swapped.jpg", b"inspected bytes")

    def clock_that_swaps() -> float:
        replacement = _drop(tmp_path / "dl", "new.tmp", b"a new download")
        replacement.replace(original)
        return 1.0

    vault = Vault(tmp_path / "vault", clock=clock_that_swaps)
    with pytest.raises(VaultError, match="changed"):
        _quarantine(vault, original)
    assert original.read_bytes() == b"a new download"
    assert vault.items() == []


def test_expected_sha256_mismatch_keeps_the_file(tmp_path: Path) -> None:
    original = _drop(tmp_path / "dl", "x.jpg", b"now different")
    vault = Vault(tmp_path / "vault")
    with pytest.raises(VaultError, match="changed after it was inspected"):
        vault.quarantine(
            original,
            FINDINGS,
            detected_type="jpeg",
            policy_version="p",
            expected_sha256=sha256_hex(b"what the engine saw"),
        )
    assert original.read_bytes() == b"now different" and vault.items() == []
    item = vault.quarantine(
        original,
        FINDINGS,
        detected_type="jpeg",
        policy_version="p",
        expected_sha256=sha256_hex(b"now different"),
    )
    assert vault.read_content(item.id) == b"now different"


def test_tampered_record_is_refused_naming_the_item(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    item_id = _quarantine(vault, _drop(tmp_path / "dl", "bad.jpg", b"payload"))
    record_path = tmp_path / "vault" / "items" / f"{item_id}.json"
    document = json.loads(record_path.read_text())
    elsewhere = os.fsencode(tmp_path / "autostart" / "evil.desktop")
    import base64

    document["fields"]["original_path_b64"] = base64.b64encode(elsewhere).decode()
    document["fields"]["original_path"] = os.fsdecode(elsewhere)
    record_path.write_text(json.dumps(document))

    with pytest.raises(VaultError, match=f"record {item_id} has been altered"):
        vault.get(item_id)
    with pytest.raises(VaultError, match=item_id):
        vault.restore(item_id)
    assert vault.items() == []
    assert [i for i, _ in vault.damaged()] == [item_id]
    assert not (tmp_path / "autostart").exists() and not (tmp_path / "dl" / "bad.jpg").exists()
    vault.delete(item_id)  # IT can still remove it
    assert vault.damaged() == []


def test_damaged_or_swapped_content_is_refused(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    a = _quarantine(vault, _drop(tmp_path / "dl", "a.jpg", sample_bytes(1, 5000)))
    b = _quarantine(vault, _drop(tmp_path / "dl", "b.jpg", sample_bytes(2, 5000)))
    items = tmp_path / "vault" / "items"
    content_a = items / f"{a}{CONTENT_SUFFIX}"
    damaged = bytearray(content_a.read_bytes())
    damaged[100] ^= 0x01
    content_a.write_bytes(bytes(damaged))
    shutil.copyfile(items / f"{a}{CONTENT_SUFFIX}", items / f"{b}{CONTENT_SUFFIX}")
    for item_id in (a, b):
        with pytest.raises(VaultError, match=f"item {item_id}"):
            vault.read_content(item_id)
        with pytest.raises(VaultError, match=f"item {item_id}"):
            vault.restore(item_id)
    assert sorted(os.listdir(tmp_path / "dl")) == []  # no partial or temp file left behind
    assert len(vault.items()) == 2


def test_truncated_content_is_refused(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    item_id = _quarantine(vault, _drop(tmp_path / "dl", "a.jpg", sample_bytes(3, 2 * CHUNK_BYTES)))
    content = tmp_path / "vault" / "items" / f"{item_id}{CONTENT_SUFFIX}"
    raw = content.read_bytes()
    content.write_bytes(raw[: len(raw) // 2 + 8])  # drop the last chunk
    with pytest.raises(VaultError, match=r"damaged|truncated"):
        vault.read_content(item_id)


HOSTILE_NAMES: list[bytes] = [
    b"line one\nline two.jpg",
    b"bell\x07tab\tesc\x1b[31mred.jpg",
    "invoice_\u202egpj.exe".encode(),
    "zero\u200bwidth\u2066iso\u2069.png".encode(),
    b"bad utf8 \xff\xfe\xc3(.jpg",
    b"n" * 251 + b".jpg",  # 255 bytes: the longest name ext4 allows
]


@pytest.mark.parametrize("raw_name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_hostile_names_survive_quarantine_list_restore(tmp_path: Path, raw_name: bytes) -> None:
    data = sample_bytes(len(raw_name), 2048)
    original = _drop(tmp_path / "dl", raw_name, data)
    assert os.fsencode(original.name) == raw_name
    vault = Vault(tmp_path / "vault")
    item_id = _quarantine(vault, original)

    (listed,) = Vault(tmp_path / "vault").items()  # a fresh instance reads the record back
    assert os.fsencode(listed.original_path) == os.fsencode(original)
    assert os.fsencode(listed.name) == raw_name
    line = json.dumps(listed.to_json())
    assert "\n" not in line
    assert json.loads(line)["original_path_b64"]

    _drop(tmp_path / "dl", raw_name, b"clash")  # the name is taken again meanwhile
    restored = vault.restore(item_id)
    assert restored.read_bytes() == data
    assert len(os.fsencode(restored.name)) <= 255
    assert b"(restored 1)" in os.fsencode(restored.name)
    assert original.read_bytes() == b"clash"


def test_purge_by_age_with_injected_clock(tmp_path: Path) -> None:
    now = [0.0]
    vault = Vault(tmp_path / "vault", clock=lambda: now[0])
    old = _quarantine(vault, _drop(tmp_path / "dl", "old.jpg", b"old"))
    now[0] = 10 * 86400.0
    young = _quarantine(vault, _drop(tmp_path / "dl", "young.jpg", b"young"))
    now[0] = 35 * 86400.0

    assert vault.purge(30) == [old]
    assert [i.id for i in vault.items()] == [young]
    assert vault.purge(30) == []
    assert vault.purge(24) == [young]
    assert vault.items() == [] and os.listdir(tmp_path / "vault" / "items") == []
    with pytest.raises(VaultError):
        vault.purge(-1)


def test_unknown_and_malformed_ids(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    item_id = _quarantine(vault, _drop(tmp_path / "dl", "a.jpg", b"a"))
    for bad in ("0" * 32, "../../etc/passwd", "", item_id.upper() + "x"):
        with pytest.raises(VaultError, match="no quarantined item"):
            vault.get(bad)
        with pytest.raises(VaultError, match="no quarantined item"):
            vault.delete(bad)
    assert vault.resolve(item_id[:8]) == item_id
    with pytest.raises(VaultError):
        vault.resolve(item_id[:3])  # too short to be a safe prefix
    vault.delete(item_id)
    with pytest.raises(VaultError, match="no quarantined item"):
        vault.restore(item_id)


def test_threads_quarantine_concurrently_without_loss(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    files = {
        _drop(tmp_path / "dl", f"f{i}.jpg", sample_bytes(i, 1000 + i)): sample_bytes(i, 1000 + i)
        for i in range(24)
    }
    errors: list[BaseException] = []

    def worker(paths: list[Path]) -> None:
        try:
            for path in paths:
                _quarantine(vault, path)
        except BaseException as error:
            errors.append(error)

    chunks = [list(files)[i::4] for i in range(4)]
    threads = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert os.listdir(tmp_path / "dl") == []
    by_path = {Path(i.original_path): i for i in vault.items()}
    assert set(by_path) == set(files)
    for path, data in files.items():
        assert vault.read_content(by_path[path].id) == data


def test_unusable_vault_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    with pytest.raises(VaultError, match="cannot open the vault at"):
        Vault(blocker / "vault")
