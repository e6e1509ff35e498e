"""Policy layers, locks, validation messages (file, line, key), last-known-good reload."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.policy import keys as ck
from agent.policy.keeper import PolicyKeeper
from agent.policy.layers import check_file, fingerprint, load_policy, shipped_config_text
from agent.policy.registry import FileRegistryPolicySource, coerce_value, flatten_registry_tree
from agent.policy.schema import Policy
from agent.policy.toml_lines import LineIndex
from agent.policy.validate import expand_path

REPO = Path(__file__).resolve().parent.parent
SHA_A = "a" * 64
SHA_B = "B" * 64


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def registry_file(path: Path, tree: dict[str, object]) -> FileRegistryPolicySource:
    path.write_text(json.dumps(tree), encoding="utf-8")
    return FileRegistryPolicySource(path)


# --- the shipped file and the key table -------------------------------------------------


def test_shipped_config_validates_and_equals_built_in_defaults() -> None:
    assert check_file(REPO / "config.toml") == []
    loaded = load_policy(machine_file=REPO / "config.toml")
    assert loaded.policy == Policy()


def test_package_copy_of_default_config_is_identical() -> None:
    packaged = REPO / "agent" / "default_config.toml"
    assert packaged.read_bytes() == (REPO / "config.toml").read_bytes()
    assert shipped_config_text() == (REPO / "config.toml").read_text("utf-8")


def test_every_key_appears_in_the_shipped_config() -> None:
    text = (REPO / "config.toml").read_text("utf-8")
    document = tomllib.loads(text)
    for spec in ck.KEY_SPECS:
        if spec.key == "folder_rules":
            assert "# [[folder_rules]]" in text  # an empty array of tables cannot be written
            continue
        section, name = spec.key.split(".", 1)
        assert name in document[section], spec.key


def test_key_table_covers_every_schema_field() -> None:
    flat = ck.to_flat(Policy())
    assert set(flat) == set(ck.SPECS)
    plain = {"policy", "watch", "inspect", "vault", "report", "ui"}
    for section in plain:
        for f in dataclasses.fields(getattr(Policy(), section)):
            assert f"{section}.{f.name}" in ck.SPECS


def test_generated_files_equal_the_generator_output() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_config_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_flat_round_trip_of_a_full_policy(tmp_path: Path) -> None:
    machine = write(
        tmp_path / "m.toml",
        f"""
[actions]
high = "flag"
[actions.codes]
"name.*" = "quarantine"
[[folder_rules]]
path = "/srv/scans"
medium = "log"
[folder_rules.codes]
"jpeg.trailing_data" = "ignore"
[allowlist]
sha256 = ["{SHA_B}"]
[locks]
keys = ["ui.*"]
""",
    )
    policy = load_policy(machine_file=machine).policy
    assert ck.from_flat(ck.to_flat(policy)) == policy
    assert policy.folder_rules[0].codes == (("jpeg.trailing_data", "ignore"),)
    assert policy.allowlist_sha256 == ("b" * 64,)  # normalized to lower case
    assert policy.locked == frozenset({"ui.*"})


# --- layers and locks --------------------------------------------------------------------


def test_each_layer_overrides_the_one_below(tmp_path: Path) -> None:
    machine = write(
        tmp_path / "machine.toml",
        '[actions]\nmedium = "quarantine"\nlow = "flag"\n[ui]\nnotifications = false\n'
        'it_contact = "machine"\n',
    )
    registry = registry_file(
        tmp_path / "reg.json", {"actions": {"low": "ignore"}, "ui": {"it_contact": "registry"}}
    )
    user = write(tmp_path / "user.toml", "[ui]\nnotifications = true\n")
    loaded = load_policy(machine, user, registry)
    assert loaded.policy.actions.high == "quarantine"
    assert loaded.sources["actions.high"] == "built-in"
    assert loaded.policy.actions.medium == "quarantine"
    assert loaded.sources["actions.medium"] == f"machine:{machine}"
    assert loaded.policy.actions.low == "ignore"  # registry beats the machine file
    assert loaded.sources["actions.low"] == f"registry:{registry.location}"
    assert loaded.policy.ui.it_contact == "registry"
    assert loaded.policy.ui.notifications is True  # user beats both (not locked)
    assert loaded.sources["ui.notifications"] == f"user:{user}"


def test_machine_lock_makes_user_value_ignored(tmp_path: Path) -> None:
    machine = write(
        tmp_path / "machine.toml",
        '[ui]\nnotifications = false\n[locks]\nkeys = ["ui.notifications"]\n',
    )
    user = write(tmp_path / "user.toml", "[ui]\nnotifications = true\n")
    loaded = load_policy(machine, user)
    assert loaded.policy.ui.notifications is False
    assert loaded.sources["ui.notifications"] == f"machine:{machine}"
    assert loaded.notes == (f"{user}:2: ui.notifications: locked by IT policy; user value ignored",)


def test_section_wildcard_lock_and_registry_lock(tmp_path: Path) -> None:
    machine = write(tmp_path / "machine.toml", '[locks]\nkeys = ["ui.*"]\n')
    registry = registry_file(tmp_path / "reg.json", {"locks": {"keys": ["watch.folders"]}})
    user = write(
        tmp_path / "user.toml", '[ui]\nnotifications = false\n[watch]\nfolders = ["/srv/x"]\n'
    )
    loaded = load_policy(machine, user, registry)
    assert loaded.policy.ui.notifications is True
    assert loaded.policy.watch.folders == ()
    assert loaded.policy.locked == frozenset({"ui.*", "watch.folders"})  # both IT layers count
    assert loaded.sources["locks.keys"] == f"machine:{machine}+registry:{registry.location}"
    assert len(loaded.notes) == 2


def test_registry_lock_alone_applies(tmp_path: Path) -> None:
    registry = registry_file(tmp_path / "reg.json", {"locks": {"keys": ["ui.notifications"]}})
    user = write(tmp_path / "user.toml", "[ui]\nnotifications = false\n")
    assert load_policy(None, user, registry).policy.ui.notifications is True


def test_user_folders_add_to_it_folders(tmp_path: Path) -> None:
    machine = write(tmp_path / "machine.toml", '[watch]\nfolders = ["/srv/it", "/srv/both"]\n')
    user = write(tmp_path / "user.toml", '[watch]\nfolders = ["/srv/both", "/srv/mine"]\n')
    loaded = load_policy(machine, user)
    assert loaded.policy.watch.folders == ("/srv/it", "/srv/both", "/srv/mine")
    assert loaded.sources["watch.folders"] == f"machine:{machine}+user:{user}"


def test_user_file_may_not_set_it_keys(tmp_path: Path) -> None:
    user = write(tmp_path / "user.toml", '[ui]\nnotifications = false\n\n[actions]\nhigh = "log"\n')
    with pytest.raises(ConfigError) as caught:
        load_policy(None, user)
    assert caught.value.problems == [
        f"{user}:5: actions.high: only IT policy may set this; user preferences may set "
        "watch.folders, ui.notifications"
    ]


def test_missing_files_are_absent_layers(tmp_path: Path) -> None:
    loaded = load_policy(tmp_path / "none.toml", tmp_path / "none2.toml", None)
    assert loaded.policy == Policy()
    assert set(loaded.sources.values()) == {"built-in"}


def test_registry_value_types_windows_stores_are_coerced(tmp_path: Path) -> None:
    """DWORDs, REG_SZ numbers and JSON strings become typed policy values (the ADMX itself is
    read back through this reader in tests/test_installer_templates.py)."""
    registry = registry_file(
        tmp_path / "reg.json",
        {
            "ui": {"allow_restore": 1, "notifications": 0},
            "vault": {"retention_days": "90"},
            "watch": {"settle_seconds": "2.5", "folders": "/srv/one"},
            "actions": {"codes": {"name.*": "flag"}},
            "allowlist": {"sha256": [SHA_A]},
            "folder_rules": json.dumps([{"path": "/srv/scans", "high": "log"}]),
        },
    )
    policy = load_policy(registry=registry).policy
    assert policy.ui.allow_restore is True and policy.ui.notifications is False
    assert policy.vault.retention_days == 90
    assert policy.watch.settle_seconds == 2.5
    assert policy.watch.folders == ("/srv/one",)
    assert policy.actions.codes == (("name.*", "flag"),)
    assert policy.allowlist_sha256 == (SHA_A,)
    assert policy.folder_rules[0].high == "log"


def test_registry_problems_name_the_key(tmp_path: Path) -> None:
    registry = registry_file(
        tmp_path / "reg.json", {"ui": {"allow_restore": 7}, "actoins": {"high": "x"}}
    )
    with pytest.raises(ConfigError) as caught:
        load_policy(registry=registry)
    assert caught.value.problems == [
        f"{registry.location}: ui.allow_restore: must be true or false, not the integer 7",
        f'{registry.location}: actoins.high: unknown section [actoins] (did you mean "actions"?)',
    ]


def test_registry_tree_flattening_and_coercion() -> None:
    flat = flatten_registry_tree(
        {"actions": {"high": "flag", "codes": {"a.b": "log"}}, "folder_rules": "[]"}
    )
    assert flat == {"actions.high": "flag", "actions.codes": {"a.b": "log"}, "folder_rules": "[]"}
    assert coerce_value("ui.notifications", 1) is True
    assert coerce_value("ui.notifications", 2) == 2  # left for the validator to reject
    assert coerce_value("inspect.max_file_mb", "12") == 12
    assert coerce_value("locks.keys", '["ui.*"]') == ["ui.*"]


# --- validation messages -----------------------------------------------------------------

INVALID_CASES = [
    ('[actions]\nhigh = "quarantin"\n', 2, "actions.high",
     "'quarantin' is not an action (quarantine, flag, log, ignore) (did you mean \"quarantine\"?)"),
    ("[actions]\nmedium = 3\n", 2, "actions.medium", "must be an action, not the integer 3"),
    ('[watch]\nrecursive = "yes"\n', 2, "watch.recursive",
     "must be true or false, not the string 'yes'"),
    ("[vault]\nretention_days = 0\n", 2, "vault.retention_days",
     "must be between 1 and 3650, not 0"),
    ("[vault]\nretention_days = 1.5\n", 2, "vault.retention_days",
     "must be a whole number, not the number 1.5"),
    ("[inspect]\nmax_file_mb = true\n", 2, "inspect.max_file_mb",
     "must be a whole number, not true (true/false)"),
    ("[watch]\nsweep_interval_seconds = -5\n", 2, "watch.sweep_interval_seconds",
     "must be between 1 and 86400, not -5"),
    ("[ui]\nnotificatons = true\n", 2, "ui.notificatons",
     'unknown key in [ui] (did you mean "notifications"?)'),
    ('[watch]\nhigh = "flag"\n', 2, "watch.high",
     'unknown key in [watch] (did you mean "actions.high"?)'),
    ("[acitons]\nhigh = 'flag'\n", 1, "acitons",
     'unknown section [acitons] (did you mean "actions"?)'),
    ('version = "1"\n', 1, "version", 'unknown key (did you mean "policy.version"?)'),
    ('[report]\nsyslog = "http://siem:514"\n', 2, "report.syslog",
     "'http://siem:514' is not a syslog URL (\"udp://host:514\", \"tcp://host:514\", "
     '"tls://host:6514" or "unix:///dev/log")'),
    ('[report]\nsyslog = "udp://siem:99999"\n', 2, "report.syslog",
     "'udp://siem:99999' is not a syslog URL (\"udp://host:514\", \"tcp://host:514\", "
     '"tls://host:6514" or "unix:///dev/log"): bad port'),
    ('[report]\nsyslog = "udp://:514"\n', 2, "report.syslog", "'udp://:514' names no host"),
    ('[report]\nsyslog = "unix://dev/log"\n', 2, "report.syslog",
     "'unix://dev/log': a unix socket is written \"unix:///path/to/socket\""),
    ('[report]\nsyslog_facility = "local9"\n', 2, "report.syslog_facility",
     "'local9' is not a syslog facility (did you mean \"local7\"?)"),
    ('[allowlist]\nsha256 = ["abc"]\n', 2, "allowlist.sha256[1]",
     "'abc' is not a SHA-256 (64 hex digits)"),
    ('[locks]\nkeys = ["ui.notification"]\n', 2, "locks.keys[1]",
     "'ui.notification' is not a policy key (did you mean \"ui.notifications\"?)"),
    ('[watch]\nfolders = ["Downloads"]\n', 2, "watch.folders[1]",
     "'Downloads' is a relative path: use a full path, or start it with ~ or an environment "
     "variable such as %USERPROFILE%"),
    ('[watch]\nfolders = [""]\n', 2, "watch.folders[1]", "must not be empty"),
    ('[policy]\nversion = ""\n', 2, "policy.version", "must not be empty"),
    ('[actions.codes]\n"Name Bad" = "flag"\n', 2, 'actions.codes."Name Bad"',
     'is not a finding code or prefix wildcard (like "jpeg.trailing_data" or "name.*")'),
    ('[actions.codes]\n"name.*" = "flagg"\n', 2, 'actions.codes."name.*"',
     "'flagg' is not an action (quarantine, flag, log, ignore) (did you mean \"flag\"?)"),
    ('[actions.codes]\n"content.script" = "log"\n"jpeg.trailing_dat" = "flag"\n', 3,
     "actions.codes",
     "unknown finding code 'jpeg.trailing_dat' (did you mean 'jpeg.trailing_data'?)"),
    ('[actions.codes]\n"nmae.*" = "ignore"\n', 2, "actions.codes",
     "wildcard matches no finding code 'nmae.*' (did you mean 'name.*'?)"),
    ('[actions.codes]\n"foo.bar" = "ignore"\n', 2, "actions.codes",
     "unknown finding code 'foo.bar'; `photogate codes` lists them"),
    ("[[folder_rules]]\npath = '/x'\n[folder_rules.codes]\n'svg.scrpt' = 'log'\n", 4,
     "folder_rules[1].codes", "unknown finding code 'svg.scrpt' (did you mean 'svg.script'?)"),
    ("[folder_rules]\npath = '/x'\n", 1, "folder_rules",
     "must be written as [[folder_rules]] (a list)"),
    ("[[folder_rules]]\nhigh = 'flag'\n", 1, "folder_rules[1]", "a folder rule needs a path"),
    ("[inspect]\npixels_warn = 10\npixels_reject = 5\n", 3, "inspect.pixels_reject",
     "inspect.pixels_reject (5) must be at least inspect.pixels_warn (10)"),
    ("[ui]\nit_contact = \"a\\u0007b\"\n", 2, "ui.it_contact",
     "must not contain control characters"),
    ("[watch]\nfolders = '/x'\n", 2, "watch.folders", "must be a list, not the string '/x'"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "key", "message"), INVALID_CASES)
def test_each_invalid_value_gets_a_precise_message(
    tmp_path: Path, text: str, line: int, key: str, message: str
) -> None:
    path = write(tmp_path / "policy.toml", text)
    assert check_file(path) == [f"{path}:{line}: {key}: {message}"]
    with pytest.raises(ConfigError) as caught:
        load_policy(machine_file=path)
    assert caught.value.problems == [f"{path}:{line}: {key}: {message}"]


def test_every_problem_is_reported_with_its_own_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "policy.toml",
        """# comment
[policy]
version = "v1"

[actions]
high = "nope"
low = "log"

[[folder_rules]]
path = "/srv/a"
hgh = "flag"

[[folder_rules]]
path = "/srv/b"
[folder_rules.codes]
"jpeg.trailing_data" = "zap"

[[folder_rules]]
path = "/srv/a"
""",
    )
    problems = check_file(path)
    assert problems == [
        f"{path}:6: actions.high: 'nope' is not an action (quarantine, flag, log, ignore)",
        f'{path}:11: folder_rules[1].hgh: unknown key in a folder rule (did you mean "high"?)',
        f"{path}:16: folder_rules[2].codes.\"jpeg.trailing_data\": 'zap' is not an action "
        "(quarantine, flag, log, ignore)",
    ]


def test_duplicate_folder_rule_paths_are_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.toml",
        '[[folder_rules]]\npath = "/srv/a"\n\n[[folder_rules]]\npath = "/srv/a"\n',
    )
    assert check_file(path) == [
        f"{path}:5: folder_rules[2].path: the same folder already has a rule"
    ]


def test_toml_syntax_error_reports_tomllibs_line(tmp_path: Path) -> None:
    path = write(tmp_path / "p.toml", '[actions]\nhigh = "flag"\nmedium = \n')
    problems = check_file(path)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:3: (syntax): ")


def test_non_utf8_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_bytes(b'[ui]\nit_contact = "\xff"\n')
    assert check_file(path)[0].startswith(f"{path}:1: (file): not UTF-8 text")


def test_line_index_handles_dotted_and_quoted_keys() -> None:
    index = LineIndex(
        '[actions]\ncodes."name.*" = "flag"\n[[folder_rules]]\n[[folder_rules]]\n'
        "  path = 'x'\n[folder_rules.codes]\n'a.b' = 'log'\n"
    )
    assert index.line(("actions", "codes", "name.*")) == 2
    assert index.line(("folder_rules", "1", "path")) == 5
    assert index.line(("folder_rules", "1", "codes", "a.b")) == 7
    assert index.line(("folder_rules", "0", "high")) == 3  # falls back to its table header
    assert index.line(("nowhere",)) == 1


def test_paths_expand_home_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PG_TEST_DIR", "/srv/env")
    monkeypatch.delenv("PG_UNSET_VAR", raising=False)
    assert expand_path("~/Scans") == f"{tmp_path}/Scans"
    assert expand_path("$PG_TEST_DIR/a") == "/srv/env/a"
    assert expand_path("${PG_TEST_DIR}/b") == "/srv/env/b"
    assert expand_path("%PG_TEST_DIR%/c") == "/srv/env/c"
    assert expand_path("%PG_UNSET_VAR%/d") == "%PG_UNSET_VAR%/d"
    path = write(
        tmp_path / "p.toml",
        '[watch]\nfolders = ["~/Scans", "%PG_UNSET_VAR%\\\\Desktop", "C:\\\\Scans"]\n'
        '[[folder_rules]]\npath = "$PG_TEST_DIR/scans"\n',
    )
    policy = load_policy(machine_file=path).policy
    assert policy.watch.folders == (f"{tmp_path}/Scans", "%PG_UNSET_VAR%\\Desktop", "C:\\Scans")
    assert policy.folder_rules[0].path == "/srv/env/scans"


# --- last-known-good ---------------------------------------------------------------------


def _bump_mtime(path: Path, seconds: int) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 1_000_000_000))


def test_keeper_keeps_last_good_policy_and_picks_up_a_fixed_one(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", '[policy]\nversion = "v1"\n[actions]\nmedium = "log"\n')
    keeper = PolicyKeeper(machine, tmp_path / "user.toml")
    assert keeper.current.policy.policy.version == "v1"
    assert keeper.problem is None
    assert keeper.reload_if_changed() is False

    write(machine, '[policy]\nversion = "v2"\n[actions]\nmedium = "lgo"\n')
    _bump_mtime(machine, 5)
    assert keeper.reload_if_changed() is None
    assert keeper.current.policy.policy.version == "v1"
    assert keeper.current.policy.actions.medium == "log"
    assert keeper.problem is not None
    assert f"{machine}:4: actions.medium:" in keeper.problem
    assert keeper.problem.startswith("policy rejected, the last good one stays in force: ")
    assert keeper.reload_if_changed() is False  # the same bad file is not re-reported

    write(machine, '[policy]\nversion = "v3"\n[actions]\nmedium = "quarantine"\n')
    _bump_mtime(machine, 10)
    assert keeper.reload_if_changed() is True
    assert keeper.current.policy.policy.version == "v3"
    assert keeper.current.policy.actions.medium == "quarantine"
    assert keeper.problem is None


def test_keeper_starts_on_built_in_defaults_when_machine_file_is_invalid(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", "[actions]\nhigh = 1\n")
    keeper = PolicyKeeper(machine, None)
    assert keeper.current.policy == Policy()
    assert keeper.problem is not None and f"{machine}:2: actions.high" in keeper.problem


def test_keeper_rejected_user_file_keeps_machine_policy(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", '[locks]\nkeys = []\n[actions]\nhigh = "flag"\n')
    user = write(tmp_path / "u.toml", '[actions]\nhigh = "ignore"\n')
    keeper = PolicyKeeper(machine, user)
    assert keeper.current.policy.actions.high == "flag"
    assert keeper.problem is None  # IT's policy is fine: the user's mistake is their own
    assert keeper.preferences_problem == (
        "Your personal settings file has a mistake; IT's policy is still in force."
    )
    assert any("only IT policy may set this" in p for p in keeper.problems)


def test_keeper_sees_same_size_rewrite_and_deletion(tmp_path: Path) -> None:
    machine = write(tmp_path / "m.toml", '[actions]\nlow = "log"\n')
    keeper = PolicyKeeper(machine, None)
    assert keeper.current.policy.actions.low == "log"
    machine.write_text('[actions]\nlow = "ign"\n')  # same size, same second: still noticed
    machine.write_text('[actions]\nlow = "flg"\n')
    assert keeper.reload_if_changed() is None
    machine.write_text('[actions]\nlow = "flag"\n')
    assert keeper.reload_if_changed() is True
    assert keeper.current.policy.actions.low == "flag"
    machine.unlink()
    assert keeper.reload_if_changed() is True
    assert keeper.current.policy == Policy()


def test_keeper_reloads_registry_changes(tmp_path: Path) -> None:
    registry = registry_file(tmp_path / "reg.json", {"actions": {"medium": "log"}})
    keeper = PolicyKeeper(None, None, registry)
    assert keeper.current.policy.actions.medium == "log"
    assert keeper.reload_if_changed() is False
    registry_file(tmp_path / "reg.json", {"actions": {"medium": "bogus"}})
    assert keeper.reload_if_changed() is None
    assert keeper.current.policy.actions.medium == "log"
    assert keeper.problem is not None and "actions.medium" in keeper.problem
    registry_file(tmp_path / "reg.json", {"actions": {"medium": "quarantine"}})
    assert keeper.reload_if_changed() is True
    assert keeper.current.policy.actions.medium == "quarantine"
    assert keeper.problem is None


def test_fingerprint_changes_with_policy_only(tmp_path: Path) -> None:
    one = write(tmp_path / "a.toml", '# a comment\n[actions]\nlow = "flag"\n')
    two = write(tmp_path / "b.toml", '[actions]\n\nlow    =   "flag"\n')
    three = write(tmp_path / "c.toml", '[actions]\nlow = "ignore"\n')
    assert load_policy(one).fingerprint == load_policy(two).fingerprint
    assert load_policy(one).fingerprint != load_policy(three).fingerprint


# --- issue 15: rules between keys, user checks, registry keys, sources, the fingerprint ---------


def test_a_client_key_without_its_certificate_is_named_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "p.toml", '[report]\nsyslog_client_key = "/k.pem"\n')
    assert check_file(path) == [
        f"{path}:2: report.syslog_client_key: a client key needs report.syslog_client_cert"
    ]
    both = write(
        tmp_path / "q.toml",
        '[report]\nsyslog_client_key = "/k.pem"\nsyslog_client_cert = "/c.pem"\n',
    )
    assert check_file(both) == []


def test_pixel_limits_may_be_equal_and_a_warning_above_the_default_limit_is_named(
    tmp_path: Path,
) -> None:
    equal = write(tmp_path / "p.toml", "[inspect]\npixels_warn = 1000\npixels_reject = 1000\n")
    assert check_file(equal) == []
    # only the warning is set: the built-in limit (178956970) is below it, the warning's line
    # is the one to fix
    warn = write(tmp_path / "q.toml", "[inspect]\npixels_warn = 300000000\n")
    assert check_file(warn) == [
        f"{warn}:2: inspect.pixels_warn: inspect.pixels_reject (178956970) must be at least "
        "inspect.pixels_warn (300000000)"
    ]


def test_a_preferences_file_is_checked_as_one(tmp_path: Path) -> None:
    path = write(tmp_path / "u.toml", '[actions]\nhigh = "log"\n')
    assert check_file(path, user=True) == [
        f"{path}:2: actions.high: only IT policy may set this; user preferences may set "
        "watch.folders, ui.notifications"
    ]
    assert check_file(path) == []  # IT may


def test_registry_codes_keep_the_dots_of_their_names(tmp_path: Path) -> None:
    registry = registry_file(
        tmp_path / "reg.json", {"actions": {"codes": {"jpeg.trailing_data": "ignore"}}}
    )
    assert load_policy(registry=registry).policy.actions.codes == (
        ("jpeg.trailing_data", "ignore"),
    )


def test_a_registry_that_cannot_be_read_is_a_problem_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "reg.json"
    path.write_text("{not json", encoding="utf-8")
    registry = FileRegistryPolicySource(path)
    with pytest.raises(ConfigError) as caught:
        load_policy(registry=registry)
    [problem] = caught.value.problems
    assert problem.startswith(f"{registry.location}: (registry): cannot read: ")


def test_user_folders_added_to_built_in_ones_name_the_user_file(tmp_path: Path) -> None:
    user = write(tmp_path / "u.toml", '[watch]\nfolders = ["/srv/mine"]\n')
    loaded = load_policy(user_file=user)
    assert loaded.policy.watch.folders == ("/srv/mine",)
    assert loaded.sources["watch.folders"] == f"user:{user}"


def test_the_fingerprint_is_of_the_canonical_json_form(tmp_path: Path) -> None:
    """Sorted keys, ASCII escapes: the same policy has the same fingerprint everywhere."""
    machine = write(tmp_path / "p.toml", '[ui]\nit_contact = "Zoë at IT"\n')
    policy = load_policy(machine_file=machine).policy
    flat = ck.to_flat(policy)
    assert list(flat) != sorted(flat)  # so the sorting is what the test pins
    canonical = json.dumps(flat, sort_keys=True, ensure_ascii=True)
    assert "\\u00eb" in canonical
    assert fingerprint(policy) == hashlib.sha256(canonical.encode()).hexdigest()[:12]


def test_a_registry_value_name_with_a_dot_stays_one_key_of_its_section(tmp_path: Path) -> None:
    registry = registry_file(tmp_path / "reg.json", {"actions": {"hi.gh": "log"}})
    with pytest.raises(ConfigError) as caught:
        load_policy(registry=registry)
    assert caught.value.problems == [
        f'{registry.location}: actions.hi.gh: unknown key in [actions] (did you mean "high"?)'
    ]
