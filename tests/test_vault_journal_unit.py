"""The journal itself (agent.vault.journal): line format, signature, reading back, sizes, lock.

Expected values follow the module's documented format: one line per step,
`{"txn", "op", "step", ...fields, "mac"}` as canonical JSON (sorted keys, no spaces, ASCII)
with `mac` = HMAC-SHA256 of the other fields' canonical JSON under the journal key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest

import agent.vault.journal as journal_module
from agent.vault.journal import Journal, OpenOperation, VaultLock

KEY = b"k" * 32
ID = "ab" * 16
SHA = "12" * 32
REPO_ROOT = Path(__file__).resolve().parent.parent


def _canonical(entry: Mapping[str, object]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":")).encode("ascii")


def _signed_line(entry: Mapping[str, object], key: bytes = KEY) -> bytes:
    mac = hmac.new(key, _canonical(entry), hashlib.sha256).hexdigest()
    return _canonical({**entry, "mac": mac}) + b"\n"


def _intent(txn: str = "aa" * 8, item_id: str = ID) -> dict[str, object]:
    return {
        "txn": txn, "op": "quarantine", "step": "intent", "id": item_id,
        "path_b64": "L3gvYS5qcGc=", "dev": 1, "ino": 2, "size": 3, "mtime_ns": 4,
    }  # fmt: skip


def _fields(entry: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in entry.items() if k not in ("txn", "op", "step")}


def test_a_line_is_canonical_json_signed_with_hmac_sha256(tmp_path: Path) -> None:
    journal = Journal(tmp_path, KEY)
    journal.append("aa" * 8, "quarantine", "stored", id=ID, sha256=SHA)
    raw = (tmp_path / "journal.jsonl").read_bytes()
    entry = {"txn": "aa" * 8, "op": "quarantine", "step": "stored", "id": ID, "sha256": SHA}
    assert raw == _signed_line(entry)
    assert raw.startswith(b'{"id":"' + ID.encode() + b'","mac":"')
    assert stat.S_IMODE((tmp_path / "journal.jsonl").stat().st_mode) == 0o600


def test_the_journal_is_never_written_through_a_link(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    (tmp_path / "journal.jsonl").symlink_to(target)
    with pytest.raises(OSError):
        Journal(tmp_path, KEY).append("aa" * 8, "quarantine", "done", id=ID)
    assert target.read_bytes() == b""


def test_lines_read_back_as_open_operations_oldest_first(tmp_path: Path) -> None:
    journal = Journal(tmp_path, KEY)
    journal.append("bb" * 8, "restore", "restore-intent", id=ID, temp_b64="L3QudG1w", sha256=SHA)
    journal.append("aa" * 8, "quarantine", "intent", **_fields(_intent()))
    journal.append("aa" * 8, "quarantine", "stored", id=ID, sha256=SHA)
    journal.append("cc" * 8, "quarantine", "intent", **_fields(_intent("cc" * 8, "cd" * 16)))
    journal.append("cc" * 8, "quarantine", "done", id="cd" * 16)
    operations = Journal(tmp_path, KEY).open_operations()
    assert operations == [
        OpenOperation(
            "bb" * 8,
            "restore",
            ["restore-intent"],
            {"id": ID, "temp_b64": "L3QudG1w", "sha256": SHA},
        ),
        OpenOperation(
            "aa" * 8,
            "quarantine",
            ["intent", "stored"],
            {
                "id": ID,
                "path_b64": "L3gvYS5qcGc=",
                "dev": 1,
                "ino": 2,
                "size": 3,
                "mtime_ns": 4,
                "sha256": SHA,
            },
        ),
    ]
    assert operations[1].last_step == "stored"


def test_aborted_operations_are_closed(tmp_path: Path) -> None:
    journal = Journal(tmp_path, KEY)
    journal.append("aa" * 8, "restore", "restore-intent", id=ID, temp_b64="L3QudG1w", sha256=SHA)
    journal.append("aa" * 8, "restore", "aborted", id=ID)
    assert Journal(tmp_path, KEY).open_operations() == []


def test_a_torn_last_line_never_happened_and_blank_lines_are_nothing(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b"\n  \n" + _signed_line(_intent()) + _signed_line(_intent("bb" * 8))[:-1])
    journal = Journal(tmp_path, KEY)
    assert [o.txn for o in journal.open_operations()] == ["aa" * 8]
    assert journal.skipped == []  # the torn line is not a problem, it is just not there


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"not json", "journal line 1: not JSON"),
        (b"[1, 2]", "journal line 1: not a JSON object"),
        (b'{"txn": "aa"}', "journal line 1: not signed"),
        (b'{"txn": "aa", "mac": 7}', "journal line 1: not signed"),
        (
            _signed_line(_intent(), key=b"another vault's key!").rstrip(b"\n"),
            "journal line 1: signature does not match (not written by this vault)",
        ),
        (
            _signed_line({**_intent(), "size": -1}).rstrip(b"\n"),
            "journal line 1: quarantine intent: size is not an unsigned 64-bit integer",
        ),
        (b"x" * (64 * 1024 + 1), "journal line 1: longer than 65536 bytes"),
    ],
)
def test_invalid_lines_are_skipped_with_their_problem(
    tmp_path: Path, line: bytes, problem: str
) -> None:
    (tmp_path / "journal.jsonl").write_bytes(line + b"\n" + _signed_line(_intent("bb" * 8)))
    journal = Journal(tmp_path, KEY)
    assert [o.txn for o in journal.open_operations()] == ["bb" * 8]
    assert journal.skipped == [problem]


def test_a_signed_line_of_exactly_64_kib_is_read(tmp_path: Path) -> None:
    entry = {**_intent(), "path_b64": ""}
    short = len(_signed_line(entry)) - 1
    entry["path_b64"] = "QUFB" * ((64 * 1024 - short) // 4)  # "AAA..." as a path
    line = _signed_line(entry)
    assert len(line) - 1 <= 64 * 1024
    (tmp_path / "journal.jsonl").write_bytes(line)
    journal = Journal(tmp_path, KEY)
    journal.open_operations()
    assert all("longer than" not in p for p in journal.skipped)


def test_lines_that_do_not_fit_their_transaction_are_skipped(tmp_path: Path) -> None:
    stored = {"txn": "aa" * 8, "op": "quarantine", "step": "stored", "id": ID, "sha256": SHA}
    lines: list[Mapping[str, object]] = [
        stored,  # a transaction must start at its first step
        _intent(),
        {"txn": "aa" * 8, "op": "restore", "step": "placing", "id": ID, "final_b64": "L3g="},
        {**stored, "id": "cd" * 16},
        stored,
    ]
    (tmp_path / "journal.jsonl").write_bytes(b"".join(_signed_line(e) for e in lines))
    journal = Journal(tmp_path, KEY)
    [operation] = journal.open_operations()
    assert operation.steps == ["intent", "stored"]
    assert journal.skipped == [
        f"journal line 1: transaction {'aa' * 8} starts at stored, not at intent",
        f"journal line 3: transaction {'aa' * 8} changes its op from quarantine to restore",
        f"journal line 4: transaction {'aa' * 8} names two item ids",
    ]


def test_a_missing_journal_has_no_operations(tmp_path: Path) -> None:
    assert Journal(tmp_path, KEY).skipped == []  # nothing read yet, nothing skipped
    assert Journal(tmp_path, KEY).open_operations() == []
    assert not Journal(tmp_path, KEY).needs_recovery()


def test_only_the_first_64_mib_are_read(tmp_path: Path) -> None:
    bound = 64 * 1024 * 1024
    line = _signed_line(_intent())
    path = tmp_path / "journal.jsonl"
    padding = bound - len(line) - 1  # one over-long line of damage, then ours
    path.write_bytes(b"x" * padding + b"\n" + line)  # ends exactly at the bound
    assert [o.txn for o in Journal(tmp_path, KEY).open_operations()] == ["aa" * 8]
    path.write_bytes(b"x" * (padding + 1) + b"\n" + line)  # its newline is past the bound
    assert Journal(tmp_path, KEY).open_operations() == []


# --- needs_recovery, settle, clear ------------------------------------------------------------


def test_needs_recovery_tracks_what_this_process_wrote(tmp_path: Path) -> None:
    journal = Journal(tmp_path, KEY)
    (tmp_path / "journal.jsonl").write_bytes(b"")
    assert not journal.needs_recovery()  # empty
    journal.clear()
    journal.append("aa" * 8, "quarantine", "done", id=ID)
    assert not journal.needs_recovery()  # our own line, our operation closed
    journal.append("bb" * 8, "restore", "restore-intent", id=ID, temp_b64="L3QudG1w", sha256=SHA)
    assert journal.needs_recovery()  # ours, but open
    journal.append("bb" * 8, "restore", "aborted", id=ID)
    assert not journal.needs_recovery()
    with (tmp_path / "journal.jsonl").open("ab") as other:  # another process appends
        other.write(b"{}\n")
    assert journal.needs_recovery()
    journal.append("cc" * 8, "quarantine", "done", id=ID)
    assert journal.needs_recovery()  # the size is no longer only ours
    assert Journal(tmp_path, KEY).needs_recovery()  # a new journal object knows nothing


def test_settle_empties_the_journal_only_past_one_mib(tmp_path: Path) -> None:
    journal = Journal(tmp_path, KEY)
    journal.clear()
    base = len(
        _signed_line({"txn": "aa" * 8, "op": "quarantine", "step": "done", "id": ID, "pad": ""})
    )
    journal.append("aa" * 8, "quarantine", "done", id=ID, pad="p" * (1024 * 1024 - base))
    assert (tmp_path / "journal.jsonl").stat().st_size == 1024 * 1024
    journal.settle()
    assert (tmp_path / "journal.jsonl").stat().st_size == 1024 * 1024  # not past it yet
    journal.append("aa" * 8, "quarantine", "done", id=ID)
    journal.settle()
    assert (tmp_path / "journal.jsonl").stat().st_size == 0
    assert not journal.needs_recovery()


def test_settle_leaves_a_journal_of_unknown_size(tmp_path: Path) -> None:
    (tmp_path / "journal.jsonl").write_bytes(b"x" * (2 * 1024 * 1024))
    Journal(tmp_path, KEY).settle()
    assert (tmp_path / "journal.jsonl").stat().st_size == 2 * 1024 * 1024


def test_clear_empties_and_forgets_open_operations(tmp_path: Path) -> None:
    journal = Journal(tmp_path, KEY)
    journal.append("bb" * 8, "restore", "restore-intent", id=ID, temp_b64="L3QudG1w", sha256=SHA)
    journal.clear(durable=False)
    assert (tmp_path / "journal.jsonl").stat().st_size == 0
    assert not journal.needs_recovery()
    journal.append("aa" * 8, "quarantine", "done", id=ID)
    assert not journal.needs_recovery()  # the size is known again after a clear
    Journal(tmp_path / "missing", KEY).clear()  # nothing to clear is fine


def test_which_steps_are_synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the closing steps and a quarantine's intent are not synced (recovery re-derives
    # them, or the next synced line makes them durable); every other step is
    synced: list[str] = []
    journal = Journal(tmp_path, KEY)
    current: list[str] = []
    monkeypatch.setattr(journal_module, "sync_data", lambda fd: synced.append(current[-1]))
    steps = [
        ("quarantine", "intent"), ("quarantine", "stored"), ("quarantine", "original-removed"),
        ("quarantine", "done"), ("quarantine", "aborted"), ("restore", "restore-intent"),
        ("restore", "placing"), ("restore", "restored"), ("restore", "done"),
    ]  # fmt: skip
    for op, step in steps:
        current.append(f"{op} {step}")
        journal.append("aa" * 8, op, step, id=ID)
    assert synced == [
        "quarantine stored",
        "restore restore-intent",
        "restore placing",
        "restore restored",
    ]


# --- crash_point ------------------------------------------------------------------------------


def _crash(hook: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        "from agent.vault.journal import crash_point\n"
        "sys.stdout.write('before ')\n"
        "crash_point('stored')\n"
        "print('after')\n"
    )
    env = {**os.environ, "PHOTOGATE_TEST_HOOK_VAULT_CRASH_AT": hook}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_crash_point_kills_the_process_at_the_named_step_only() -> None:
    died = _crash("stored")
    assert (died.returncode, died.stdout) == (-9, "before ")  # SIGKILL, output flushed first
    lived = _crash("intent")
    assert (lived.returncode, lived.stdout) == (0, "before after\n")


# --- the lock ---------------------------------------------------------------------------------


def test_the_lock_is_exclusive_between_threads_and_processes(tmp_path: Path) -> None:
    lock = VaultLock(tmp_path)
    with lock.hold() as held:
        assert held is True
        outcome: list[bool] = []
        thread = threading.Thread(target=lambda: outcome.append(_try(lock)))
        thread.start()
        thread.join()
        assert outcome == [False]
        assert _try(VaultLock(tmp_path)) is False  # another holder in this process: flock
        code = (
            "import sys\nfrom pathlib import Path\nfrom agent.vault.journal import VaultLock\n"
            "with VaultLock(Path(sys.argv[1])).hold(blocking=False) as held:\n"
            "    print(held)\n"
        )
        other = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        assert other.stdout == "False\n"
    assert _try(lock) is True  # released
    assert (tmp_path / "vault.lock").exists()


def _try(lock: VaultLock) -> bool:
    with lock.hold(blocking=False) as held:
        return held


def test_retain_keeps_only_the_valid_lines_of_the_unresolved_operations(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    keep = _signed_line(_intent("aa" * 8))
    path.write_bytes(
        _signed_line(_intent("bb" * 8))
        + keep
        + b"not json\n"
        + _signed_line(_intent("aa" * 8), key=b"another vault's key!")
        + _signed_line(
            {"txn": "aa" * 8, "op": "quarantine", "step": "stored", "id": ID, "sha256": SHA}
        )
        + _signed_line(_intent("cc" * 8))[:-1]  # torn: never durable
    )
    journal = Journal(tmp_path, KEY)
    journal.retain({"aa" * 8, "cc" * 8})
    stored = {"txn": "aa" * 8, "op": "quarantine", "step": "stored", "id": ID, "sha256": SHA}
    assert path.read_bytes() == keep + _signed_line(stored)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not (tmp_path / "journal.jsonl.tmp").exists()
    assert journal.needs_recovery()  # the kept operation is open: tried again
    journal.append("dd" * 8, "quarantine", "done", id=ID)
    assert journal.needs_recovery()
    [operation] = Journal(tmp_path, KEY).open_operations()
    assert (operation.txn, operation.steps) == ("aa" * 8, ["intent", "stored"])
    Journal(tmp_path / "missing", KEY).retain({"aa" * 8})  # no journal: nothing to keep
    assert not (tmp_path / "missing").exists()


def test_after_retain_the_journal_is_this_process_s_own(tmp_path: Path) -> None:
    # retain rewrote the journal under the lock: once the kept operation is closed by us,
    # the journal holds only what we wrote and closed, so no recovery is needed.
    (tmp_path / "journal.jsonl").write_bytes(_signed_line(_intent()) + b"not json\n")
    journal = Journal(tmp_path, KEY)
    journal.retain({"aa" * 8})
    journal.append("aa" * 8, "quarantine", "aborted", id=ID)
    assert not journal.needs_recovery()


def test_append_many_writes_one_signed_line_per_transaction_in_one_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    monkeypatch.setattr(journal_module, "sync_data", lambda fd: synced.append(fd))
    journal = Journal(tmp_path, KEY)
    journal.clear()
    entries = [("aa" * 8, {"id": ID, "sha256": SHA}), ("bb" * 8, {"id": "cd" * 16, "sha256": SHA})]
    journal.append_many("quarantine", "stored", entries)
    assert (tmp_path / "journal.jsonl").read_bytes() == b"".join(
        _signed_line({"txn": txn, "op": "quarantine", "step": "stored", **fields})
        for txn, fields in entries
    )
    assert len(synced) == 1  # `stored` is synced, once for the batch
    assert journal.needs_recovery()  # both open
    journal.append_many(
        "quarantine", "done", [("aa" * 8, {"id": ID}), ("bb" * 8, {"id": "cd" * 16})]
    )
    assert not journal.needs_recovery()
    assert len(synced) == 1  # `done` is not synced
    journal.append_many("quarantine", "stored", entries, sync=False)  # the caller flushes
    assert len(synced) == 1
    journal.append_many("quarantine", "done", [("aa" * 8, {"id": ID})], sync=True)
    assert len(synced) == 2
    size = (tmp_path / "journal.jsonl").stat().st_size
    journal.append_many("quarantine", "done", [])  # nothing: not even an empty write
    assert (tmp_path / "journal.jsonl").stat().st_size == size


def test_a_short_journal_write_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    monkeypatch.setattr(journal_module.os, "write", lambda fd, data: real_write(fd, data[:10]))
    with pytest.raises(OSError, match="the vault journal could not be written"):
        Journal(tmp_path, KEY).append("aa" * 8, "quarantine", "done", id=ID)


def test_deeply_nested_lines_are_skipped_never_raised(tmp_path: Path) -> None:
    # a 64 KiB line can nest deeper than Python's stack: json.loads, or the canonical
    # dumps of what it returned, raises RecursionError; the line is damage like any other
    lines = [b'{"mac":"x","a":' + b"[" * n + b"]" * n + b"}\n" for n in range(700, 1300)]
    lines.append(b"[" * 60_000 + b"\n")
    (tmp_path / "journal.jsonl").write_bytes(b"".join(lines) + _signed_line(_intent()))
    journal = Journal(tmp_path, KEY)
    assert [o.txn for o in journal.open_operations()] == ["aa" * 8]
    problems = {p.split(": ", 1)[1] for p in journal.skipped}
    assert problems == {
        "not JSON",
        "not canonical JSON",
        "signature does not match (not written by this vault)",
    }
    assert journal.skipped[-1] == f"journal line {len(lines)}: not JSON"


def test_a_line_of_exactly_64_kib_is_not_too_long(tmp_path: Path) -> None:
    entry = {**_intent(), "pad": ""}
    entry["pad"] = "p" * (64 * 1024 - (len(_signed_line(entry)) - 1))
    line = _signed_line(entry)
    assert len(line) == 64 * 1024 + 1  # with its newline
    (tmp_path / "journal.jsonl").write_bytes(line)
    journal = Journal(tmp_path, KEY)
    journal.open_operations()
    assert journal.skipped == ["journal line 1: quarantine intent with unknown fields pad"]


class _Killed(Exception):
    pass


def test_crash_point_sends_sigkill_to_this_process_or_exits_137(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import signal
    import types

    calls: list[tuple[str, tuple[int, ...]]] = []

    def kill(pid: int, sig: int) -> None:
        calls.append(("kill", (pid, sig)))
        raise _Killed

    def exit_now(code: int) -> None:
        calls.append(("_exit", (code,)))
        raise _Killed

    monkeypatch.setattr(journal_module.os, "kill", kill)
    monkeypatch.setattr(journal_module.os, "_exit", exit_now)
    monkeypatch.setenv("PHOTOGATE_TEST_HOOK_VAULT_CRASH_AT", "stored")
    journal_module.crash_point("intent")
    assert calls == []
    with pytest.raises(_Killed):
        journal_module.crash_point("stored")
    assert calls == [("kill", (os.getpid(), signal.SIGKILL))]
    monkeypatch.setattr(journal_module, "signal", types.SimpleNamespace())  # Windows: none
    with pytest.raises(_Killed):
        journal_module.crash_point("stored")
    assert calls[-1] == ("_exit", (137,))


def test_append_reaches_the_crash_point_of_its_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    monkeypatch.setattr(journal_module, "crash_point", seen.append)
    journal = Journal(tmp_path, KEY)
    journal.append("aa" * 8, "quarantine", "stored", id=ID, sha256=SHA)
    journal.append_many("quarantine", "done", [("aa" * 8, {"id": ID})])
    assert seen == ["stored", "done"]


def test_a_short_write_names_the_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    real_write = os.write
    monkeypatch.setattr(journal_module.os, "write", lambda fd, data: real_write(fd, data[:10]))
    with pytest.raises(OSError) as raised:
        Journal(tmp_path, KEY).append("aa" * 8, "quarantine", "done", id=ID)
    error = raised.value
    assert (error.errno, error.strerror, error.filename) == (
        errno.ENOSPC,
        "the vault journal could not be written",
        str(tmp_path / "journal.jsonl"),
    )


def test_clear_syncs_unless_told_not_to_and_settle_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(journal_module.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    journal = Journal(tmp_path, KEY)
    journal.append("aa" * 8, "quarantine", "done", id=ID)
    journal.clear()
    assert len(synced) == 1
    journal.clear(durable=False)
    assert len(synced) == 1
    journal.append("aa" * 8, "quarantine", "done", id=ID, pad="p" * (1024 * 1024))
    journal.settle()
    assert (tmp_path / "journal.jsonl").stat().st_size == 0
    assert len(synced) == 1  # the compaction after a completed operation is not synced


def test_settle_never_drops_operations_kept_open(tmp_path: Path) -> None:
    journal = Journal(tmp_path, KEY)
    journal.clear()
    journal.append("bb" * 8, "restore", "restore-intent", id=ID, temp_b64="L3QudG1w", sha256=SHA)
    journal.append("aa" * 8, "quarantine", "done", id=ID, pad="p" * (1024 * 1024))
    journal.settle()
    assert [o.txn for o in Journal(tmp_path, KEY).open_operations()] == ["bb" * 8]


def test_the_journal_is_never_read_or_emptied_through_a_link(tmp_path: Path) -> None:
    target = tmp_path / "target.jsonl"
    target.write_bytes(_signed_line(_intent()))
    (tmp_path / "journal.jsonl").symlink_to(target)
    journal = Journal(tmp_path, KEY)
    assert journal.open_operations() == []
    with pytest.raises(OSError):
        journal.clear()
    assert target.read_bytes() == _signed_line(_intent())
    assert journal.needs_recovery()  # the link's own size, not its target's


def test_a_journal_linked_to_an_empty_file_needs_recovery(tmp_path: Path) -> None:
    # An empty journal needs nothing; a link to an empty file is not one (its own size
    # is its target's name), and recovery reading it finds the link, never the target.
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "journal.jsonl").symlink_to(tmp_path / "empty.jsonl")
    assert Journal(tmp_path, KEY).needs_recovery()


def test_retain_keeps_the_last_line_and_never_writes_through_a_link(tmp_path: Path) -> None:
    lines = _signed_line(_intent("bb" * 8)) + _signed_line(_intent())
    (tmp_path / "journal.jsonl").write_bytes(lines)
    Journal(tmp_path, KEY).retain({"aa" * 8})
    assert (tmp_path / "journal.jsonl").read_bytes() == _signed_line(_intent())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"someone's file")
    (tmp_path / "journal.jsonl.tmp").symlink_to(elsewhere)
    with pytest.raises(OSError):
        Journal(tmp_path, KEY).retain({"aa" * 8})
    assert elsewhere.read_bytes() == b"someone's file"


def test_a_blocking_hold_waits_for_the_other_holder(tmp_path: Path) -> None:
    first, second = VaultLock(tmp_path), VaultLock(tmp_path)  # two open files: flock
    got: list[bool] = []
    with first.hold():
        waiter = threading.Thread(target=lambda: got.append(_hold(second)))
        waiter.start()
        _wait_until_blocked_in_flock(waiter)  # the kernel says it waits: no timing guess
    waiter.join(10)
    assert got == [True]


def _wait_until_blocked_in_flock(thread: threading.Thread) -> None:
    wchan = Path(f"/proc/self/task/{thread.native_id}/wchan")
    for _ in range(100_000):
        if "lock" in wchan.read_text() or not thread.is_alive():
            return
        threading.Event().wait(0.001)
    raise AssertionError("the second holder never blocked on the lock")


def _hold(lock: VaultLock) -> bool:
    with lock.hold() as held:
        return held
