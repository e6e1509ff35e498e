"""`photogate config check|show` through the real command line in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agent.policy.keys import SPECS

REPO = Path(__file__).resolve().parent.parent
CLI_TIMEOUT_SECONDS = 60


def photogate(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PHOTOGATE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )


def test_check_shipped_config_is_ok(tmp_path: Path) -> None:
    result = photogate("config", "check", str(REPO / "config.toml"), home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok: policy 'builtin-default' (Photogate built-in defaults)\n"


def test_check_reports_every_problem_one_per_line(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[policy]\nversion = "v7"\n[actions]\nhigh = "quarantin"\n[ui]\nallow_restore = "no"\n'
        "[vault]\nretention_days = 0\n",
        encoding="utf-8",
    )
    result = photogate("config", "check", str(policy), home=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{policy}:4: actions.high: 'quarantin' is not an action (quarantine, flag, log, ignore)"
        ' (did you mean "quarantine"?)',
        f"{policy}:6: ui.allow_restore: must be true or false, not the string 'no'",
        f"{policy}:8: vault.retention_days: must be between 1 and 3650, not 0",
    ]


def test_check_missing_file_is_an_error(tmp_path: Path) -> None:
    result = photogate("config", "check", str(tmp_path / "absent.toml"), home=tmp_path)
    assert result.returncode == 2
    assert "no such file" in result.stderr


def test_check_user_preferences_file(tmp_path: Path) -> None:
    prefs = tmp_path / "prefs.toml"
    prefs.write_text("[ui]\nnotifications = false\n", encoding="utf-8")
    ok = photogate("config", "check", "--user", str(prefs), home=tmp_path)
    assert (ok.returncode, ok.stdout) == (0, "ok: user preferences\n")
    prefs.write_text("[ui]\nallow_restore = true\n", encoding="utf-8")
    bad = photogate("config", "check", "--user", str(prefs), home=tmp_path)
    assert bad.returncode == 1
    assert bad.stdout.startswith(f"{prefs}:2: ui.allow_restore: only IT policy may set this")


def _layers(tmp_path: Path) -> tuple[Path, Path, Path]:
    home = tmp_path / "home"
    home.mkdir()
    machine = tmp_path / "machine.toml"
    machine.write_text(
        '[policy]\nversion = "clinic-3"\n[actions]\nmedium = "quarantine"\n'
        '[locks]\nkeys = ["ui.notifications"]\n',
        encoding="utf-8",
    )
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"vault": {"retention_days": 60}}), encoding="utf-8")
    (home / "preferences.toml").write_text(
        '[ui]\nnotifications = false\n[watch]\nfolders = ["/srv/mine"]\n', encoding="utf-8"
    )
    return home, machine, registry


def test_show_json_gives_every_value_and_its_layer(tmp_path: Path) -> None:
    home, machine, registry = _layers(tmp_path)
    result = photogate(
        "config", "show", "--json", "--config", str(machine), "--registry-file", str(registry),
        home=home,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    shown = json.loads(result.stdout)
    keys = shown["keys"]
    assert shown["version"] == "clinic-3"
    assert keys["actions.medium"] == {
        "value": "quarantine",
        "source": f"machine:{machine}",
        "locked": False,
    }
    assert keys["vault.retention_days"]["value"] == 60
    assert keys["vault.retention_days"]["source"] == f"registry:{registry}"
    assert keys["ui.notifications"] == {
        "value": True,
        "source": "built-in",
        "locked": True,
    }
    assert keys["watch.folders"] == {
        "value": ["/srv/mine"],
        "source": f"user:{home / 'preferences.toml'}",
        "locked": False,
    }
    assert keys["actions.high"]["source"] == "built-in"
    assert list(keys) == list(SPECS)  # every key, in reference order
    assert shown["notes"] == [
        f"{home / 'preferences.toml'}:2: ui.notifications: locked by IT policy; user value ignored"
    ]
    assert shown["problems"] == []


def test_show_text_and_problems(tmp_path: Path) -> None:
    home, machine, _registry = _layers(tmp_path)
    result = photogate("config", "show", "--config", str(machine), home=home)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("policy 'clinic-3', fingerprint ")
    medium = next(line for line in lines if line.startswith("actions.medium = "))
    assert medium.endswith(f"# machine:{machine}")
    notify = next(line for line in lines if line.startswith("ui.notifications = "))
    assert notify.endswith("# built-in, locked")

    machine.write_text("[actions]\nmedium = 'maybe'\n", encoding="utf-8")
    rejected = photogate("config", "show", "--config", str(machine), home=home)
    assert rejected.returncode == 1
    assert f"problem: {machine}:2: actions.medium:" in rejected.stdout
    # The invalid machine file is left out: its lock is gone, so the user's value applies.
    notify = next(line for line in rejected.stdout.splitlines() if "ui.notifications" in line)
    assert notify.startswith("ui.notifications = false")


def test_check_rejects_a_mistyped_finding_code_and_an_empty_wildcard(tmp_path: Path) -> None:
    # Issue 12: both used to pass with "ok", so the override silently did nothing.
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[actions.codes]\n"jpeg.trailing_dat" = "flag"\n"nmae.*" = "ignore"\n', encoding="utf-8"
    )
    result = photogate("config", "check", str(policy), home=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{policy}:2: actions.codes: unknown finding code 'jpeg.trailing_dat'"
        " (did you mean 'jpeg.trailing_data'?)",
        f"{policy}:3: actions.codes: wildcard matches no finding code 'nmae.*'"
        " (did you mean 'name.*'?)",
    ]


def test_codes_lists_every_code_with_severity_reason_and_key(tmp_path: Path) -> None:
    result = photogate("codes", "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {row["code"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert rows["content.executable"]["severity"] == "high"
    assert rows["jpeg.trailing_data"]["policy_key"] == 'actions.codes."jpeg.trailing_data"'
    assert rows["png.truncated"]["reason"] == "This PNG picture is cut off (incomplete)."
    assert rows["resource.pixels_over_warn"]["also_changed_by"] == ["inspect.pixels_warn"]
    assert rows["content.other_image_type"]["severity"] == "info"
    text = photogate("codes", home=tmp_path)
    assert text.returncode == 0
    assert "name.double_extension\n  default severity: high" in text.stdout


def test_check_a_fifo_or_an_empty_file_says_why_and_never_blocks(tmp_path: Path) -> None:
    fifo = tmp_path / "pushed.toml"
    os.mkfifo(fifo)
    result = photogate("config", "check", str(fifo), home=tmp_path)
    assert result.returncode == 1
    assert result.stdout == f"{fifo}:0: (file): is a FIFO (named pipe), not a regular file\n"
    empty = tmp_path / "empty.toml"
    empty.write_bytes(b"")
    result = photogate("config", "check", str(empty), home=tmp_path)
    assert result.returncode == 1
    assert "has no settings (empty or cut short?)" in result.stdout
