"""installer/linux/install.sh end to end, in a temporary prefix.

The installer creates a real virtual environment and pip-installs this source tree into it.
To stay offline and fast, it is given `--deps-from <this venv's python>`: the new venv reuses
the dependencies already installed here (a .pth file) and installs the agent with --no-deps.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

INSTALL_SH = REPO_ROOT / "installer" / "linux" / "install.sh"
UNINSTALL_SH = REPO_ROOT / "installer" / "linux" / "uninstall.sh"
INSTALL_TIMEOUT_SECONDS = 180  # a venv plus one pip install of a local tree
COMMAND_TIMEOUT_SECONDS = 60
AGENT_START_TIMEOUT_SECONDS = 30  # until `photogate status` sees the agent running
QUARANTINE_TIMEOUT_SECONDS = 30  # until the dropped file has left the watched folder
POLL_SECONDS = 0.2
# A PE executable ("MZ" + DOS stub + PE header) named like a photo.
FAKE_PHOTO_PE = (
    b"MZ" + b"\x90\x00" * 29 + b"\x80\x00\x00\x00" + b"\x00" * 64 + b"PE\x00\x00" + b"\x00" * 400
)


def _run(
    argv: list[str | Path], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
        env=env,
        cwd=cwd,
        check=False,
    )


def _install(prefix: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _run(
        [
            "bash",
            INSTALL_SH,
            "--prefix",
            prefix,
            "--python",
            sys.executable,
            "--deps-from",
            sys.executable,
            *extra,
        ]
    )


def _isolated_env(photogate_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHOTOGATE_", "PYTHON"))}
    env["PHOTOGATE_HOME"] = str(photogate_home)
    env.pop("DISPLAY", None)  # headless really means no tray
    return env


@pytest.fixture(scope="module")
def user_install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One per-user install into a fake $HOME, shared by the tests of this module."""
    prefix = tmp_path_factory.mktemp("user-home")
    result = _install(prefix, "--user")
    assert result.returncode == 0, result.stdout + result.stderr
    yield prefix


def test_user_install_layout(user_install: Path) -> None:
    launcher = user_install / ".local/bin/photogate"
    venv = user_install / ".local/share/Photogate/app/venv"
    assert launcher.is_symlink()
    assert Path(os.readlink(launcher)) == venv / "bin/photogate"
    desktop = (user_install / ".config/autostart/photogate.desktop").read_text()
    assert f'Exec="{launcher}" run\n' in desktop
    assert "Type=Application" in desktop
    unit = (user_install / ".config/systemd/user/photogate.service").read_text()
    assert f'ExecStart="{launcher}" run --headless' in unit
    for line in ("Restart=on-failure", "Nice=10", "IOSchedulingClass=idle"):
        assert line in unit.splitlines()
    # Without --headless-service the unit exists but is not enabled: tray and service never
    # both run.
    assert not (user_install / ".config/systemd/user/default.target.wants").exists()
    # The uninstaller travels with the install.
    assert (user_install / ".local/share/Photogate/app/uninstall.sh").is_file()


def test_installed_agent_is_the_installed_copy(user_install: Path, tmp_path: Path) -> None:
    venv_python = user_install / ".local/share/Photogate/app/venv/bin/python"
    # Not from the checkout: `python -c` puts the working folder first on sys.path.
    result = _run([venv_python, "-c", "import agent; print(agent.__file__)"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_relative_to(user_install)
    assert (user_install / ".local/share/Photogate/app/venv/pyvenv.cfg").is_file()


def test_installed_version(user_install: Path) -> None:
    from agent import __version__

    result = _run([user_install / ".local/bin/photogate", "--version"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"photogate {__version__}"


def _wait_for(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(POLL_SECONDS)
    return False


@pytest.mark.slow
def test_installed_agent_watches_and_quarantines(user_install: Path, tmp_path: Path) -> None:
    launcher = user_install / ".local/bin/photogate"
    home = tmp_path / "state"
    watched = tmp_path / "Downloads"
    watched.mkdir()
    env = _isolated_env(home)
    agent = subprocess.Popen(
        [str(launcher), "run", "--headless", "--watch", str(watched)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def agent_running() -> bool:
            status = _run([launcher, "status"], env=env)
            return status.returncode == 0 and "running" in status.stdout.lower()

        assert _wait_for(agent_running, AGENT_START_TIMEOUT_SECONDS), "agent never started"
        trap = watched / "xray_results.jpg"
        trap.write_bytes(FAKE_PHOTO_PE)
        assert _wait_for(lambda: not trap.exists(), QUARANTINE_TIMEOUT_SECONDS)
        listing = _run([launcher, "quarantine", "list"], env=env)
        assert listing.returncode == 0, listing.stderr
        assert "xray_results.jpg" in listing.stdout
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(timeout=COMMAND_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
    assert agent.returncode == 0, agent.stdout.read() if agent.stdout else ""


def test_headless_service_then_uninstall_keeps_the_vault(tmp_path: Path) -> None:
    result = _install(tmp_path, "--user")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".config/autostart/photogate.desktop").is_file()
    result = _install(tmp_path, "--user", "--headless-service")
    assert result.returncode == 0, result.stderr
    wants = tmp_path / ".config/systemd/user/default.target.wants/photogate.service"
    assert wants.is_symlink()
    assert wants.resolve() == (tmp_path / ".config/systemd/user/photogate.service").resolve()
    assert not (tmp_path / ".config/autostart/photogate.desktop").exists()

    # Uninstall of that headless install.
    state = tmp_path / ".local/share/Photogate"  # platformdirs' folder for PHOTOGATE_HOME unset
    vault_item = state / "vault" / "item-1" / "content.bin"
    vault_item.parent.mkdir(parents=True)
    vault_item.write_bytes(b"quarantined")
    env = {k: v for k, v in os.environ.items() if k != "PHOTOGATE_HOME"}

    # The copy left in the app folder knows the layout: no options needed.
    result = _run(["bash", tmp_path / ".local/share/Photogate/app/uninstall.sh"], env=env)
    assert result.returncode == 0, result.stderr
    assert "kept state and vault" in result.stdout
    assert not (tmp_path / ".local/share/Photogate/app").exists()
    assert not (tmp_path / ".local/bin/photogate").exists()
    assert not (tmp_path / ".config/systemd/user/photogate.service").exists()
    assert not (tmp_path / ".config/systemd/user/default.target.wants/photogate.service").exists()
    assert not (tmp_path / ".config/autostart/photogate.desktop").exists()
    assert vault_item.read_bytes() == b"quarantined"

    result = _run(["bash", UNINSTALL_SH, "--user", "--prefix", tmp_path, "--purge"], env=env)
    assert result.returncode == 0, result.stderr
    assert not state.exists()


def test_uninstall_leaves_a_foreign_launcher_alone(tmp_path: Path) -> None:
    result = _install(tmp_path, "--user")
    assert result.returncode == 0, result.stderr
    launcher = tmp_path / ".local/bin/photogate"
    launcher.unlink()
    launcher.write_text("#!/bin/sh\necho someone else's photogate\n")
    result = _run(["bash", UNINSTALL_SH, "--user", "--prefix", tmp_path])
    assert result.returncode == 0, result.stderr
    assert launcher.read_text().startswith("#!/bin/sh")


def test_system_install_policy_folder(tmp_path: Path) -> None:
    result = _install(tmp_path, "--system")
    assert result.returncode == 0, result.stderr
    etc = tmp_path / "etc/photogate"
    config = etc / "config.toml"
    assert stat.S_IMODE(etc.stat().st_mode) == 0o755
    assert stat.S_IMODE(config.stat().st_mode) == 0o644
    if os.geteuid() == 0:
        assert etc.stat().st_uid == 0 and config.stat().st_uid == 0
    assert (tmp_path / "usr/local/bin/photogate").is_symlink()
    assert (tmp_path / "opt/photogate/venv/bin/photogate").is_file()
    assert (tmp_path / "etc/xdg/autostart/photogate.desktop").is_file()
    assert (tmp_path / "etc/systemd/user/photogate.service").is_file()

    # IT's edited policy survives a reinstall and an uninstall; --purge removes it.
    config.write_text('[policy]\nversion = "it-edited"\n')
    result = _install(tmp_path, "--system")
    assert result.returncode == 0, result.stderr
    assert config.read_text() == '[policy]\nversion = "it-edited"\n'
    result = _run(["bash", UNINSTALL_SH, "--system", "--prefix", tmp_path])
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "opt/photogate").exists()
    assert not (tmp_path / "usr/local/bin/photogate").exists()
    assert config.read_text() == '[policy]\nversion = "it-edited"\n'
    result = _run(["bash", UNINSTALL_SH, "--system", "--prefix", tmp_path, "--purge"])
    assert result.returncode == 0, result.stderr
    assert not etc.exists()


def test_shipped_policy_is_valid(user_install: Path, tmp_path: Path) -> None:
    shipped = REPO_ROOT / "config.toml"
    result = _run([user_install / ".local/bin/photogate", "config", "check", shipped])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok")


def test_scripts_are_shellcheck_clean() -> None:
    shellcheck = subprocess.run(["sh", "-c", "command -v shellcheck"], capture_output=True)
    if shellcheck.returncode != 0:
        # Not installed (it is an apt package, not a Python one): bash -n still parses them.
        result = _run(["bash", "-n", INSTALL_SH])
        assert result.returncode == 0, result.stderr
        return
    result = _run(
        ["shellcheck", INSTALL_SH, UNINSTALL_SH, REPO_ROOT / "installer/macos/build-pkg.sh"]
    )
    assert result.returncode == 0, result.stdout


# --- issue 12: the README's venv, half-built installs, one folder spelling ---------------

_NOT_A_DEPENDENCY = ("wheel", "pip", "setuptools", "_distutils_hack", "distutils-precedence")


def _venv_without_wheel(folder: Path) -> Path:
    """A venv like scripts/setup.sh makes without --dev: the dependencies, but no `wheel`.

    Offline, so its site-packages links to this venv's packages, minus wheel (and minus the
    packaging tools and this project, which the new venv brings itself).
    """
    subprocess.run([sys.executable, "-m", "venv", folder], check=True, timeout=120)
    python = folder / "bin" / "python"
    query = "import sysconfig; print(sysconfig.get_path('purelib'))"
    target = Path(_run([python, "-c", query]).stdout.strip())
    source = Path(_run([sys.executable, "-c", query]).stdout.strip())
    for entry in source.iterdir():
        name = entry.name.lower()
        if name.startswith(_NOT_A_DEPENDENCY) or "photogate" in name or "__editable__" in name:
            continue
        if not (target / entry.name).exists():
            (target / entry.name).symlink_to(entry)
    assert _run([python, "-c", "import wheel"]).returncode != 0  # really no wheel
    assert _run([python, "-c", "import platformdirs, PIL, watchdog"]).returncode == 0
    return python


def test_install_from_the_readme_venv_without_wheel_in_one_folder(tmp_path: Path) -> None:
    # Issue 12: `--deps-from .venv/bin/python` failed with "invalid command 'bdist_wheel'";
    # and ~/.local/share/photogate (program) and ~/.local/share/Photogate (state) differed
    # only in case. An older install's program folder is removed on upgrade.
    plain = _venv_without_wheel(tmp_path / "readme-venv")
    prefix = tmp_path / "home"
    legacy = prefix / ".local/share/photogate"
    (legacy / "venv").mkdir(parents=True)
    (legacy / "install-info").write_text("mode=user\nprefix=\n")
    result = _run(
        ["bash", INSTALL_SH, "--prefix", prefix, "--user", "--python", plain, "--deps-from", plain]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "without building a wheel" in result.stdout
    from agent import __version__

    done = _run([prefix / ".local/bin/photogate", "--version"])
    assert done.stdout.strip() == f"photogate {__version__}"
    shipped = _run([prefix / ".local/bin/photogate", "config", "check", REPO_ROOT / "config.toml"])
    assert shipped.returncode == 0, shipped.stderr  # package data (default policy) installed
    assert sorted(p.name for p in (prefix / ".local/share").iterdir()) == ["Photogate"]
    assert (prefix / ".local/share/Photogate/app/venv/bin/photogate").is_file()


def _broken_tree(folder: Path) -> Path:
    folder.mkdir()
    (folder / "agent").symlink_to(REPO_ROOT / "agent")
    (folder / "pyproject.toml").write_text("[project\nname = 'photogate'\n")  # not TOML
    return folder


def test_a_failed_install_removes_what_it_built(tmp_path: Path) -> None:
    prefix = tmp_path / "home"
    result = _run(
        ["bash", INSTALL_SH, "--prefix", prefix, "--user", "--python", sys.executable,
         "--deps-from", sys.executable, "--from", _broken_tree(tmp_path / "src")]
    )  # fmt: skip
    assert result.returncode != 0
    assert "removing what this run built" in result.stdout
    assert not (prefix / ".local/share/Photogate").exists()
    assert not os.path.lexists(prefix / ".local/bin/photogate")
    assert not (prefix / ".config/systemd/user/photogate.service").exists()


def test_a_failed_upgrade_puts_the_previous_install_back(
    user_install: Path, tmp_path: Path
) -> None:
    result = _install(user_install, "--user", "--from", str(_broken_tree(tmp_path / "src")))
    assert result.returncode != 0
    assert "the previous installation is back in place" in result.stdout
    done = _run([user_install / ".local/bin/photogate", "--version"])
    assert done.returncode == 0, done.stderr
    assert not (user_install / ".local/share/Photogate/app/venv.previous").exists()


def test_protected_install_is_one_step_and_uninstall_keeps_the_machine_vault(
    tmp_path: Path,
) -> None:
    result = _install(tmp_path, "--protected")
    assert result.returncode == 0, result.stderr
    unit = tmp_path / "etc/systemd/system/photogate-service.service"
    text = unit.read_text()
    launcher = tmp_path / "usr/local/bin/photogate"
    assert f'ExecStart="{launcher}" service run' in text
    assert "Restart=always" in text and "StateDirectoryMode=0700" in text
    assert "RuntimeDirectoryPreserve=yes" in text  # clients never fall back to a per-user vault
    wants = tmp_path / "etc/systemd/system/multi-user.target.wants/photogate-service.service"
    assert wants.is_symlink() and wants.resolve() == unit.resolve()
    assert (tmp_path / "etc/photogate/protected-mode").is_file()
    state = tmp_path / "var/lib/photogate"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert "photogate service migrate" in result.stdout  # staged: IT runs it before starting
    (state / "kept").write_text("vault stand-in")

    result = _run(["bash", UNINSTALL_SH, "--system", "--prefix", tmp_path])
    assert result.returncode == 0, result.stderr
    assert not unit.exists() and not wants.exists()
    assert not (tmp_path / "etc/photogate/protected-mode").exists()
    assert (state / "kept").read_text() == "vault stand-in"
    result = _run(["bash", UNINSTALL_SH, "--system", "--prefix", tmp_path, "--purge"])
    assert result.returncode == 0, result.stderr
    assert not state.exists()
