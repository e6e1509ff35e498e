"""Crash safety with a real `kill -9`: a child process moves files in (or restores them) and
is SIGKILLed at every step; the parent then opens the vault, which recovers, and every file
must be exactly once either where it was (original bytes) or in the vault (valid record).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.vault.journal import CRASH_ENV
from agent.vault.store import Vault
from tests.vault_helpers import FINDINGS, REPO_ROOT, sample_bytes

CHILD_TIMEOUT_SECONDS = 60.0

# The child: quarantine (paths as hex of their bytes) or restore (ids) the targets in order;
# before target number CRASH_INDEX it arms the crash point, so earlier targets finish cleanly.
CHILD = r"""
import os, sys, time
from pathlib import Path
from agent.model import Finding, Severity
import agent.vault.store, agent.vault.journal, agent.vault.movein
root, op, crash_at, crash_index = sys.argv[1:5]
targets = sys.argv[5:]
if crash_at.startswith("pause:"):  # hold the lock at that point instead of dying
    pause_at = crash_at[len("pause:"):]
    original = agent.vault.journal.crash_point
    def pausing(name):
        if name == pause_at:
            print("paused", flush=True)
            time.sleep(60)
        original(name)
    agent.vault.journal.crash_point = pausing
    agent.vault.movein.crash_point = pausing
    crash_at = ""
vault = agent.vault.store.Vault(Path(root))
print("started", flush=True)
finding = [Finding("test.crash", Severity.HIGH, "crash test")]
if op == "quarantine_many":  # every target in one batch, the crash point armed throughout
    os.environ[agent.vault.journal.CRASH_ENV] = crash_at
    paths = [Path(os.fsdecode(bytes.fromhex(target))) for target in targets]
    request = agent.vault.store.QuarantineRequest
    requests = [request(p, tuple(finding), "jpeg", "crash-test") for p in paths]
    print("results", [type(r).__name__ for r in vault.quarantine_many(requests)], flush=True)
    targets = []
for index, target in enumerate(targets):
    if index == int(crash_index) and crash_at:
        os.environ[agent.vault.journal.CRASH_ENV] = crash_at
    if op == "quarantine":
        path = Path(os.fsdecode(bytes.fromhex(target)))
        vault.quarantine(path, finding, detected_type="jpeg", policy_version="crash-test")
    else:
        vault.restore(target)
    print("did", index, flush=True)
print("finished", flush=True)
"""

QUARANTINE_STEPS = [
    "intent",
    "encrypted",
    "stored",
    "content-placed",
    "record-placed",
    "original-unlinked",
    "original-removed",
    "done",
]
STEPS_AFTER_WHICH_THE_FILE_IS_IN_THE_VAULT = {  # `stored` comes before the item is placed
    "record-placed",
    "original-unlinked",
    "original-removed",
    "done",
}
# A batch (agent.vault.movein): each per-file point fires at the first file reaching it,
# the batch points once. Once every copy is in items/ (`record-placed`), recovery rolls
# every file forward; before, every original stays.
BATCH_STEPS_ALL_IN_PLACE = ["intent", "encrypted", "stored", "batch-durable", "content-placed"]
BATCH_STEPS_ALL_IN_VAULT = [
    "record-placed",
    "unlinking",
    "original-unlinked",
    "original-removed",
    "done",
]
RESTORE_STEPS = ["restore-intent", "temp-written", "placing", "linked", "restored", "temp-removed"]
STEPS_AFTER_WHICH_THE_FILE_IS_RESTORED = {"linked", "restored", "temp-removed"}


def _child(
    root: Path, op: str, crash_at: str, crash_index: int, targets: list[str]
) -> tuple[list[str], dict[str, str]]:
    argv = [sys.executable, "-c", CHILD, str(root), op, crash_at, str(crash_index), *targets]
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    return argv, env


def _run_child(root: Path, op: str, crash_at: str, crash_index: int, targets: list[str]) -> int:
    argv, env = _child(root, op, crash_at, crash_index, targets)
    done = subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, timeout=CHILD_TIMEOUT_SECONDS
    )
    return done.returncode


def _files(folder: Path) -> dict[Path, bytes]:
    """Three files: a hostile name, one spanning several encryption chunks, an empty one."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {
        b"scan\n\xff\xfe \xe2\x80\xaegpj.exe": sample_bytes(1, 3000),
        b"big.jpg": sample_bytes(2, 2 * 1024 * 1024 + 333),
        b"empty.jpg": b"",
    }
    files = {}
    for raw_name, data in wanted.items():
        path = Path(os.fsdecode(os.path.join(os.fsencode(folder), raw_name)))
        path.write_bytes(data)
        files[path] = data
    return files


def _assert_each_file_exactly_once(root: Path, files: dict[Path, bytes]) -> dict[Path, str]:
    """Open the vault (recovery runs) and check the invariant; returns path -> 'place'|'vault'."""
    vault = Vault(root)
    items = vault.items()
    assert vault.damaged() == []
    where: dict[Path, str] = {}
    for path, data in files.items():
        stored = [i for i in items if i.original_path == str(path)]
        in_place = os.path.lexists(path)
        assert len(stored) <= 1, f"{path!r} is in the vault {len(stored)} times"
        assert in_place != bool(stored), f"{path!r}: in place={in_place}, in vault={bool(stored)}"
        if in_place:
            assert path.read_bytes() == data
            where[path] = "place"
        else:
            assert vault.read_content(stored[0].id) == data
            where[path] = "vault"
    assert len(items) == list(where.values()).count("vault")
    assert os.listdir(root / "tmp") == []
    assert len(os.listdir(root / "items")) == 2 * len(items)  # content + record, nothing else
    journal = root / "journal.jsonl"
    assert not journal.exists() or journal.stat().st_size == 0  # every operation resolved
    return where


@pytest.mark.parametrize("step", QUARANTINE_STEPS)
def test_kill_9_during_quarantine_loses_nothing(tmp_path: Path, step: str) -> None:
    files = _files(tmp_path / "Downloads")
    paths = list(files)
    crash_index = 1  # the multi-chunk file; the first one finishes, the last is untouched
    targets = [os.fsencode(p).hex() for p in paths]

    returncode = _run_child(tmp_path / "vault", "quarantine", step, crash_index, targets)

    assert returncode == -signal.SIGKILL, f"child did not die at {step} (exit {returncode})"
    where = _assert_each_file_exactly_once(tmp_path / "vault", files)
    expected_crashed = "vault" if step in STEPS_AFTER_WHICH_THE_FILE_IS_IN_THE_VAULT else "place"
    assert where == {paths[0]: "vault", paths[1]: expected_crashed, paths[2]: "place"}


@pytest.mark.parametrize("step", BATCH_STEPS_ALL_IN_PLACE + BATCH_STEPS_ALL_IN_VAULT)
def test_kill_9_during_a_batch_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, step: str
) -> None:
    files = _files(tmp_path / "Downloads")
    targets = [os.fsencode(p).hex() for p in files]

    returncode = _run_child(tmp_path / "vault", "quarantine_many", step, 0, targets)

    assert returncode == -signal.SIGKILL, f"child did not die at {step} (exit {returncode})"
    where = _assert_each_file_exactly_once(tmp_path / "vault", files)
    expected = "vault" if step in BATCH_STEPS_ALL_IN_VAULT else "place"
    assert where == dict.fromkeys(files, expected)


def test_a_batch_without_a_crash_moves_every_file(tmp_path: Path) -> None:
    files = _files(tmp_path / "Downloads")
    targets = [os.fsencode(p).hex() for p in files]
    argv, env = _child(tmp_path / "vault", "quarantine_many", "", 0, targets)
    done = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert b"results ['QuarantineItem', 'QuarantineItem', 'QuarantineItem']" in done.stdout
    assert set(_assert_each_file_exactly_once(tmp_path / "vault", files).values()) == {"vault"}


@pytest.mark.parametrize("step", RESTORE_STEPS)
def test_kill_9_during_restore_loses_nothing(tmp_path: Path, step: str) -> None:
    files = _files(tmp_path / "Downloads")
    vault = Vault(tmp_path / "vault")
    ids = [
        vault.quarantine(p, FINDINGS, detected_type="jpeg", policy_version="t").id for p in files
    ]

    returncode = _run_child(tmp_path / "vault", "restore", step, 1, ids)

    assert returncode == -signal.SIGKILL, f"child did not die at {step} (exit {returncode})"
    where = _assert_each_file_exactly_once(tmp_path / "vault", files)
    paths = list(files)
    expected_crashed = "place" if step in STEPS_AFTER_WHICH_THE_FILE_IS_RESTORED else "vault"
    assert where == {paths[0]: "place", paths[1]: expected_crashed, paths[2]: "vault"}
    leftovers = [n for n in os.listdir(tmp_path / "Downloads") if "photogate-restore" in n]
    assert leftovers == []


def test_crash_after_placing_then_file_edited_keeps_both_versions(tmp_path: Path) -> None:
    """Edited after the crash: the stored version is kept, the new version stays in place."""
    files = _files(tmp_path / "Downloads")
    paths = list(files)
    targets = [os.fsencode(p).hex() for p in paths]
    assert _run_child(tmp_path / "vault", "quarantine", "record-placed", 0, targets) == (
        -signal.SIGKILL
    )
    with paths[0].open("ab") as handle:  # same inode, new content and mtime
        handle.write(b"edited after the crash")

    vault = Vault(tmp_path / "vault")
    (item,) = vault.items()
    assert item.original_path == str(paths[0])
    assert vault.read_content(item.id) == files[paths[0]]
    assert paths[0].read_bytes() == files[paths[0]] + b"edited after the crash"


def test_crash_after_stored_then_name_reused_keeps_both_distinct_files(tmp_path: Path) -> None:
    files = _files(tmp_path / "Downloads")
    paths = list(files)
    targets = [os.fsencode(p).hex() for p in paths]
    assert _run_child(tmp_path / "vault", "quarantine", "original-unlinked", 0, targets) == (
        -signal.SIGKILL
    )
    paths[0].write_bytes(b"a new download with the same name")  # a different file (inode)

    vault = Vault(tmp_path / "vault")
    (item,) = vault.items()
    assert item.original_path == str(paths[0])
    assert vault.read_content(item.id) == files[paths[0]]
    assert paths[0].read_bytes() == b"a new download with the same name"


def test_open_while_another_process_is_mid_move_does_not_interfere(tmp_path: Path) -> None:
    files = _files(tmp_path / "Downloads")
    paths = list(files)
    targets = [os.fsencode(paths[1]).hex()]
    argv, env = _child(tmp_path / "vault", "quarantine", "pause:encrypted", 0, targets)
    child = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        lines = [child.stdout.readline(), child.stdout.readline()]
        assert lines == [b"started\n", b"paused\n"]
        # The child holds the lock with its temp content written: opening must not roll it back.
        other = Vault(tmp_path / "vault")
        assert other.items() == []
        assert len(os.listdir(tmp_path / "vault" / "tmp")) == 1
        assert paths[1].read_bytes() == files[paths[1]]
    finally:
        child.kill()
        child.wait(timeout=CHILD_TIMEOUT_SECONDS)
    where = _assert_each_file_exactly_once(tmp_path / "vault", files)
    assert set(where.values()) == {"place"}


@pytest.mark.parametrize("delay_seconds", [0.0, 0.02, 0.05, 0.1, 0.2])
def test_kill_9_at_arbitrary_moments_loses_nothing(tmp_path: Path, delay_seconds: float) -> None:
    folder = tmp_path / "Downloads"
    folder.mkdir()
    files = {}
    for index in range(40):
        path = folder / f"photo-{index:02d}.jpg"
        files[path] = sample_bytes(100 + index, 150_000 + index)
        path.write_bytes(files[path])
    targets = [os.fsencode(p).hex() for p in files]
    argv, env = _child(tmp_path / "vault", "quarantine", "", -1, targets)
    child = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE)
    assert child.stdout is not None
    assert child.stdout.readline() == b"started\n"
    time.sleep(delay_seconds)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=CHILD_TIMEOUT_SECONDS)

    where = _assert_each_file_exactly_once(tmp_path / "vault", files)
    assert len(where) == 40
