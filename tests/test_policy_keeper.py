"""PolicyKeeper: what changed (for events), bounded reads, whole-policy rejection, last good copy.

Issue 12 (policy events as documented) and issue 13 (no file trick at a policy path can hang or
bloat the agent; an empty push is not "defaults"; a policy that cannot be applied as a whole
is rejected as a whole).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.policy.keeper import PREFERENCES_PROBLEM, PendingPolicy, PolicyChange, PolicyKeeper
from agent.policy.layers import LoadedPolicy, fingerprint, load_policy
from agent.policy.reading import MAX_POLICY_FILE_BYTES, PolicyFileError, read_policy_file
from agent.policy.registry import FileRegistryPolicySource
from agent.policy.schema import Policy

FIFO_DEADLINE_SECONDS = 5.0  # a read of a FIFO must return well within this


def write(path: Path, text: str, *, bump: int = 0) -> Path:
    path.write_text(text, encoding="utf-8")
    if bump:
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump * 1_000_000_000))
    return path


def kinds(keeper: PolicyKeeper) -> list[tuple[str, str]]:
    return [(change.kind, change.layer) for change in keeper.changes]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


GOOD = '[policy]\nversion = "v1"\n[actions]\nmedium = "log"\n'
BAD = '[policy]\nversion = "v2"\n[actions]\nmedium = "lgo"\n'


def test_start_reports_policy_loaded_with_layer_source_and_file_hash(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", GOOD)
    keeper = PolicyKeeper(machine, tmp_path / "absent-user.toml")
    assert kinds(keeper) == [("policy_loaded", "machine")]
    change = keeper.changes[0]
    assert change.source == str(machine)
    assert change.sha256 == sha(GOOD)


def test_start_without_any_file_reports_built_in_defaults(tmp_path: Path) -> None:
    keeper = PolicyKeeper(tmp_path / "absent.toml", None)
    assert kinds(keeper) == [("policy_loaded", "built-in")]
    assert keeper.changes[0].source == "built-in defaults"


def test_re_pushing_the_same_good_file_after_a_rejection_recovers(tmp_path: Path) -> None:
    # Issue 12: the rejection alert never cleared because nothing was emitted.
    machine = write(tmp_path / "m.toml", GOOD)
    keeper = PolicyKeeper(machine, None)
    write(machine, BAD, bump=5)
    keeper.reload_if_changed()
    assert kinds(keeper) == [("policy_rejected", "machine")]
    assert keeper.changes[0].problems and "actions.medium" in keeper.changes[0].problems[0]
    assert keeper.changes[0].sha256 == sha(BAD)
    write(machine, GOOD, bump=10)
    keeper.reload_if_changed()
    assert kinds(keeper) == [("policy_loaded", "machine"), ("policy_recovered", "machine")]
    assert keeper.problem is None
    assert keeper.current.policy.policy.version == "v1"


def test_every_problem_is_in_the_rejection(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", GOOD)
    keeper = PolicyKeeper(machine, None)
    write(machine, '[actions]\nhigh = "x"\nlow = "y"\n[ui]\nallow_restore = 3\n', bump=5)
    keeper.reload_if_changed()
    assert len(keeper.changes[0].problems) == 3


def test_preferences_mistake_is_its_own_kind_in_plain_words(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", GOOD)
    user = write(tmp_path / "u.toml", "[ui]\nnotifications = tru\n")  # a TOML syntax error
    keeper = PolicyKeeper(machine, user)
    assert ("preferences_rejected", "user") in kinds(keeper)
    assert keeper.problem is None
    assert keeper.preferences_problem == PREFERENCES_PROBLEM
    assert "Invalid value" not in PREFERENCES_PROBLEM  # never the parser's words
    write(user, "[ui]\nnotifications = false\n", bump=5)
    keeper.reload_if_changed()
    assert kinds(keeper) == [("policy_loaded", "user"), ("preferences_recovered", "user")]
    assert keeper.preferences_problem is None


def test_deleting_the_machine_file_returns_to_defaults_and_says_so(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", GOOD)
    keeper = PolicyKeeper(machine, None)
    machine.unlink()
    assert keeper.reload_if_changed() is True
    assert kinds(keeper) == [("policy_loaded", "machine")]
    assert keeper.changes[0].removed
    assert keeper.current.policy == Policy()


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_an_empty_machine_file_is_rejected_not_read_as_defaults(tmp_path: Path, text: str) -> None:
    # Issue 13: a half-copied push silently dropped IT's locks, folders and allowlist.
    machine = write(tmp_path / "m.toml", '[locks]\nkeys = ["ui.*"]\n')
    keeper = PolicyKeeper(machine, None)
    write(machine, text, bump=5)
    assert keeper.reload_if_changed() is None
    assert keeper.current.policy.locked == frozenset({"ui.*"})
    assert keeper.problem is not None and "has no settings" in keeper.problem


def test_a_cut_machine_file_is_rejected(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", GOOD)
    keeper = PolicyKeeper(machine, None)
    write(machine, GOOD[: GOOD.index("medium") + 9], bump=5)  # cut inside a string
    assert keeper.reload_if_changed() is None
    assert keeper.current.policy.policy.version == "v1"


def test_a_fifo_at_the_policy_path_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "m.toml"
    os.mkfifo(fifo)
    done = threading.Event()
    result: list[PolicyKeeper] = []

    def build() -> None:
        result.append(PolicyKeeper(fifo, None))
        done.set()

    threading.Thread(target=build, daemon=True).start()
    assert done.wait(FIFO_DEADLINE_SECONDS), "reading a FIFO policy blocked"
    assert result[0].problem is not None and "FIFO" in result[0].problem
    with pytest.raises(PolicyFileError, match="FIFO"):
        read_policy_file(fifo)


def test_preferences_linked_to_dev_zero_are_refused_without_reading(tmp_path: Path) -> None:
    user = tmp_path / "u.toml"
    user.symlink_to("/dev/zero")
    started = time.monotonic()
    keeper = PolicyKeeper(None, user)
    assert time.monotonic() - started < FIFO_DEADLINE_SECONDS
    assert keeper.preferences_problem == PREFERENCES_PROBLEM
    assert any("symbolic link" in p for p in keeper.problems)


def test_machine_policy_may_be_a_link_but_only_to_a_regular_file(tmp_path: Path) -> None:
    target = write(tmp_path / "pushed-v1.toml", GOOD)
    machine = tmp_path / "m.toml"
    machine.symlink_to(target)
    assert PolicyKeeper(machine, None).current.policy.policy.version == "v1"
    machine.unlink()
    machine.symlink_to("/dev/zero")
    with pytest.raises(PolicyFileError, match="a device"):
        read_policy_file(machine, allow_symlink=True)


def test_size_is_checked_on_the_descriptor_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "m.toml"
    with big.open("wb") as handle:
        handle.truncate(MAX_POLICY_FILE_BYTES + 1)  # sparse: nothing to read if refused first
    with pytest.raises(PolicyFileError, match="larger than 16 MB"):
        read_policy_file(big)
    with big.open("r+b") as handle:
        handle.truncate(MAX_POLICY_FILE_BYTES)
    assert len(read_policy_file(big)) == MAX_POLICY_FILE_BYTES


def test_a_policy_that_cannot_be_applied_is_rejected_as_a_whole(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", GOOD)
    keeper = PolicyKeeper(machine, None)
    applied: list[str] = []

    def apply(candidate: LoadedPolicy) -> list[str]:
        applied.append(candidate.policy.policy.version)
        return [f"{machine}:2: report.audit_log: cannot create '/x': Permission denied"]

    write(machine, '[policy]\nversion = "v9"\n[report]\naudit_log = "/x/e.jsonl"\n', bump=5)
    assert keeper.reload_if_changed(apply) is None
    assert applied == ["v9"]
    assert keeper.current.policy.policy.version == "v1"
    assert kinds(keeper) == [("policy_rejected", "machine")]
    assert keeper.problem is not None and "report.audit_log" in keeper.problem
    assert keeper.reload_if_changed(apply) is False  # not retried every second
    write(machine, '[policy]\nversion = "v9"\n[report]\naudit_log = "/x/e.jsonl"\n', bump=9)
    applied.clear()
    keeper.reload_if_changed(lambda candidate: [])  # pushed again once the folder exists
    assert keeper.current.policy.policy.version == "v9"
    assert ("policy_recovered", "machine") in kinds(keeper)


def test_last_good_copy_survives_a_restart_on_a_broken_push(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", '[policy]\nversion = "v1"\n[vault]\nretention_days = 7\n')
    copy = tmp_path / "state" / "last-good.toml"
    PolicyKeeper(machine, None, last_good_file=copy)
    assert copy.read_bytes() == machine.read_bytes()
    assert copy.stat().st_mode & 0o777 == 0o600
    write(machine, "[vault]\nretention_days = zero\n")
    restarted = PolicyKeeper(machine, None, last_good_file=copy)
    assert restarted.current.policy.vault.retention_days == 7
    assert restarted.problem is not None  # and it still says the push is broken
    with pytest.raises(ConfigError, match=r"m\.toml:2"):
        load_policy(machine)


# --- issue 15: what each change says, the racy-mtime re-hash, the last good copy in full ---------


def test_a_last_good_copy_that_cannot_be_written_does_not_stop_the_policy(tmp_path: Path) -> None:
    # the copy's folder cannot be made (a file holds its name): the policy is still in force
    (tmp_path / "state").write_text("not a folder", encoding="utf-8")
    machine = write(tmp_path / "m.toml", GOOD)
    keeper = PolicyKeeper(machine, None, last_good_file=tmp_path / "state" / "last-good.toml")
    assert kinds(keeper) == [("policy_loaded", "machine")]
    assert keeper.current.policy.policy.version == "v1"
    machine.unlink()  # and removing a copy that is not there is no error either
    assert keeper.reload_if_changed() is True


def test_the_last_good_copy_is_made_in_new_folders_and_replaced(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", GOOD)
    copy = tmp_path / "a" / "b" / "last-good.toml"
    keeper = PolicyKeeper(machine, None, last_good_file=copy)
    assert copy.read_text(encoding="utf-8") == GOOD
    other = GOOD.replace("v1", "v3")
    write(machine, other, bump=5)
    assert keeper.reload_if_changed() is True
    assert copy.read_text(encoding="utf-8") == other  # the folder exists now
    copy.unlink()  # gone by hand: deleting the machine file still returns to defaults
    machine.unlink()
    assert keeper.reload_if_changed() is True
    assert keeper.current.policy == Policy()


def test_a_restart_on_a_broken_push_reports_the_last_good_copy_in_full(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", GOOD)
    copy = tmp_path / "last-good.toml"
    user = write(tmp_path / "u.toml", "[ui]\nnotifications = false\n")
    PolicyKeeper(machine, user, last_good_file=copy)
    write(machine, BAD)
    keeper = PolicyKeeper(machine, user, last_good_file=copy)
    assert kinds(keeper) == [
        ("policy_rejected", "machine"),
        ("policy_loaded", "user"),
        ("policy_loaded", "machine"),
    ]
    assert keeper.changes[-1] == PolicyChange(
        "policy_loaded", "machine", f"{machine} (last good copy)", sha(GOOD)
    )
    assert keeper.startup_changes == keeper.changes
    assert keeper.current.policy.actions.medium == "log"  # the copy's
    assert keeper.current.policy.ui.notifications is False  # the user's, merged with it
    assert keeper.current.sources["actions.medium"] == f"machine:{machine} (last good copy)"
    # a later change of the user's file keeps the copy's values in force
    write(user, "[ui]\nnotifications = true\n", bump=5)
    assert keeper.reload_if_changed() is True
    assert keeper.current.policy.actions.medium == "log"


def test_no_copy_is_used_when_the_machine_file_is_gone(tmp_path: Path) -> None:
    # IT deleted the file while the agent was stopped: the defaults, not the old copy
    copy = write(tmp_path / "last-good.toml", GOOD)
    keeper = PolicyKeeper(tmp_path / "m.toml", None, last_good_file=copy)
    assert kinds(keeper) == [("policy_loaded", "built-in")]
    assert keeper.current.policy == Policy()


def test_a_rejected_start_names_the_defaults_first(tmp_path: Path) -> None:
    keeper = PolicyKeeper(write(tmp_path / "m.toml", BAD), None)
    assert kinds(keeper) == [("policy_loaded", "built-in"), ("policy_rejected", "machine")]
    assert keeper.changes[0] == PolicyChange("policy_loaded", "built-in", "built-in defaults")


def test_a_start_on_keys_that_conflict_keeps_the_built_in_defaults(tmp_path: Path) -> None:
    text = "[inspect]\npixels_warn = 2000000\npixels_reject = 1000000\n"
    keeper = PolicyKeeper(write(tmp_path / "m.toml", text), None)
    assert keeper.current.policy == Policy()
    assert set(keeper.current.sources.values()) == {"built-in"}
    assert keeper.current.fingerprint == fingerprint(Policy())
    assert kinds(keeper) == [("policy_loaded", "built-in"), ("policy_rejected", "machine")]
    assert (
        "inspect.pixels_reject (1000000) must be at least inspect.pixels_warn"
        in (keeper.changes[1].problems[0])
    )


def test_conflicting_keys_in_a_push_reject_it_as_a_whole(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", GOOD)
    keeper = PolicyKeeper(machine, None)
    write(machine, "[inspect]\npixels_warn = 2000000\npixels_reject = 1000000\n", bump=5)
    assert keeper.reload_if_changed() is None
    [change] = keeper.changes
    assert (change.kind, change.layer, change.source) == (
        "policy_rejected",
        "machine",
        str(machine),
    )
    assert change.problems and "must be at least inspect.pixels_warn" in change.problems[0]
    assert keeper.current.policy.policy.version == "v1"


def test_the_summary_counts_the_problems_it_does_not_spell_out(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", GOOD)
    keeper = PolicyKeeper(machine, None)
    write(machine, '[actions]\nmedium = "lgo"\nhigh = "nuke"\n', bump=5)
    keeper.reload_if_changed()
    first, _second = keeper.problems
    assert keeper.problem == (
        f"policy rejected, the last good one stays in force: {first} (and 1 more)"
    )
    write(machine, '[actions]\nmedium = "lgo"\n', bump=9)
    keeper.reload_if_changed()
    (only,) = keeper.problems
    assert keeper.problem == f"policy rejected, the last good one stays in force: {only}"


def test_recovery_and_removal_name_their_source(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", GOOD)
    keeper = PolicyKeeper(machine, None)
    write(machine, BAD, bump=5)
    keeper.reload_if_changed()
    write(machine, GOOD, bump=10)
    keeper.reload_if_changed()
    assert keeper.changes == (
        PolicyChange("policy_loaded", "machine", str(machine), sha(GOOD)),
        PolicyChange("policy_recovered", "machine", str(machine), sha(GOOD)),
    )
    machine.unlink()
    keeper.reload_if_changed()
    assert keeper.changes == (
        PolicyChange("policy_loaded", "machine", "built-in defaults", removed=True),
    )


def test_nothing_changed_is_no_change(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", GOOD, bump=-100)  # long settled: stat alone decides
    keeper = PolicyKeeper(machine, None)
    assert keeper.reload_if_changed() is False
    assert keeper.changes == ()
    # a new version written with an old time stamp is still a change (its size/inode moved)
    write(machine, GOOD.replace("v1", "v22"), bump=-50)
    assert keeper.reload_if_changed() is True
    assert keeper.current.policy.policy.version == "v22"


def test_a_same_size_rewrite_within_the_racy_window_is_seen(tmp_path: Path) -> None:
    # same size, inode, mode and mtime: only the bytes differ, so a fresh file is hashed
    machine = write(tmp_path / "m.toml", GOOD)
    keeper = PolicyKeeper(machine, None)
    before = machine.stat()
    write(machine, GOOD.replace("v1", "v7"))
    os.utime(machine, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert machine.stat().st_size == before.st_size and machine.stat().st_ino == before.st_ino
    assert keeper.reload_if_changed() is True
    assert keeper.current.policy.policy.version == "v7"


def test_a_value_equal_to_the_policy_in_force_changes_nothing(tmp_path: Path) -> None:
    user = tmp_path / "u.toml"
    keeper = PolicyKeeper(None, user)
    write(user, "[ui]\nnotifications = true\n")  # the default already
    assert keeper.reload_if_changed() is False
    assert kinds(keeper) == [("policy_loaded", "user")]


def test_a_linked_machine_file_is_watched_through_its_link(tmp_path: Path) -> None:
    target = write(tmp_path / "real.toml", GOOD, bump=-100)
    machine = tmp_path / "m.toml"
    machine.symlink_to(target)
    settled = target.stat().st_mtime_ns
    os.utime(machine, ns=(settled, settled), follow_symlinks=False)  # the link is old too
    keeper = PolicyKeeper(machine, None)
    assert keeper.current.policy.policy.version == "v1"
    write(target, GOOD.replace("v1", "v5"), bump=-50)  # the link itself never changes
    assert keeper.reload_if_changed() is True
    assert keeper.current.policy.policy.version == "v5"


def test_a_linked_preferences_file_is_not_read_through_its_link(tmp_path: Path) -> None:
    target = write(tmp_path / "real.toml", "[ui]\nnotifications = false\n", bump=-100)
    user = tmp_path / "u.toml"
    user.symlink_to(target)
    settled = target.stat().st_mtime_ns
    os.utime(user, ns=(settled, settled), follow_symlinks=False)  # the link is old too
    keeper = PolicyKeeper(None, user)
    assert ("preferences_rejected", "user") in kinds(keeper)
    write(target, "[ui]\nnotifications = true\n", bump=-50)  # the link itself never changes
    assert keeper.reload_if_changed() is False
    assert keeper.changes == ()
    target.unlink()  # nor does it when its target goes
    assert keeper.reload_if_changed() is False
    assert keeper.changes == ()


def test_touching_a_file_after_its_retry_is_no_change(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", GOOD)
    keeper = PolicyKeeper(machine, None)
    write(machine, GOOD.replace("v1", "v9"), bump=5)
    assert keeper.reload_if_changed(lambda candidate: ["cannot apply"]) is None
    write(machine, GOOD.replace("v1", "v9"), bump=9)  # pushed again: retried
    assert keeper.reload_if_changed(lambda candidate: []) is True
    write(machine, GOOD.replace("v1", "v9"), bump=12)  # touched: same bytes, no retry owed
    assert keeper.reload_if_changed(lambda candidate: []) is False
    assert keeper.changes == ()
    assert keeper.reload_if_changed(lambda candidate: []) is False  # and still none
    assert keeper.changes == ()


def test_a_rejected_preferences_push_is_retried_when_pushed_again(tmp_path: Path) -> None:
    user = write(tmp_path / "u.toml", "[ui]\nnotifications = true\n")
    keeper = PolicyKeeper(None, user)
    write(user, "[ui]\nnotifications = false\n", bump=5)
    assert keeper.reload_if_changed(lambda candidate: ["cannot apply"]) is None
    assert kinds(keeper) == [("preferences_rejected", "user")]
    write(user, "[ui]\nnotifications = false\n", bump=9)  # same bytes, pushed again
    assert keeper.reload_if_changed(lambda candidate: []) is True
    assert keeper.current.policy.ui.notifications is False


def test_a_registry_layer_is_reported_by_its_location_and_polled_quietly(tmp_path: Path) -> None:
    path = tmp_path / "reg.json"
    path.write_text(json.dumps({"actions": {"low": "ignore"}}), encoding="utf-8")
    registry = FileRegistryPolicySource(path)
    keeper = PolicyKeeper(None, None, registry)
    assert kinds(keeper) == [("policy_loaded", "registry")]
    assert keeper.changes[0].source == registry.location
    assert keeper.current.policy.actions.low == "ignore"
    assert keeper.reload_if_changed() is False  # the same values: no change
    assert keeper.changes == ()


def test_an_empty_registry_is_no_layer(tmp_path: Path) -> None:
    path = tmp_path / "reg.json"
    path.write_text("{}", encoding="utf-8")
    keeper = PolicyKeeper(None, None, FileRegistryPolicySource(path))
    assert keeper.current.policy == Policy()
    assert keeper.reload_if_changed() is False


def test_problems_between_keys_with_no_layer_to_blame_are_kept_until_a_clean_commit(
    tmp_path: Path,
) -> None:
    keeper = PolicyKeeper(None, None)
    assert keeper.commit(PendingPolicy({}, keeper.current, ["keys disagree"])) is None
    assert keeper.problems == ("keys disagree",)
    assert keeper.problem == "policy rejected, the last good one stays in force: keys disagree"
    assert keeper.commit(PendingPolicy({}, keeper.current, [])) is False
    assert keeper.problems == () and keeper.problem is None


def test_a_restart_on_a_broken_push_keeps_the_registry_layer(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", GOOD)
    copy = tmp_path / "last-good.toml"
    path = tmp_path / "reg.json"
    path.write_text(json.dumps({"actions": {"low": "ignore"}}), encoding="utf-8")
    PolicyKeeper(machine, None, FileRegistryPolicySource(path), last_good_file=copy)
    write(machine, BAD)
    keeper = PolicyKeeper(machine, None, FileRegistryPolicySource(path), last_good_file=copy)
    assert keeper.current.policy.actions.medium == "log"  # the copy's
    assert keeper.current.policy.actions.low == "ignore"  # the registry's


def test_the_racy_window_is_two_seconds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file written less than RACY_MTIME_SECONDS (2 s) ago is hashed even when its stat
    looks the same; from 2 s on, the stat decides."""
    from agent.policy import keeper as keeper_module

    machine = write(tmp_path / "m.toml", GOOD)
    whole = 1_700_000_000  # whole seconds: the float arithmetic below is exact
    os.utime(machine, ns=(whole * 10**9, whole * 10**9))
    keeper = PolicyKeeper(machine, None)
    write(machine, GOOD.replace("v1", "v8"))  # same size, inode and mode
    os.utime(machine, ns=(whole * 10**9, whole * 10**9))
    clock = type("Clock", (), {"time": staticmethod(lambda: whole + 2.0)})
    monkeypatch.setattr(keeper_module, "time", clock)
    assert keeper.reload_if_changed() is False  # 2 s old: settled, the stat decides
    clock.time = staticmethod(lambda: whole + 1.5)
    assert keeper.reload_if_changed() is True  # 1.5 s old: hashed
    assert keeper.current.policy.policy.version == "v8"
