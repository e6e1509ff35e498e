"""Harness for protected mode: real unprivileged accounts, a real root service, real clients.

Needs root (the CI job runs these tests as root): `useradd` makes throw-away accounts with
their own homes and an IT group, `userdel -r` removes them again. Clients run as those
accounts through `runuser`, so the service sees their real uid in SO_PEERCRED.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.agent_harness import PYTHON, REPO_ROOT, wait_for

USER_TIMEOUT_SECONDS = 60.0
SERVICE_READY_SECONDS = 30.0


@dataclass(frozen=True)
class Account:
    """A throw-away local account."""

    name: str
    uid: int
    gid: int
    home: Path

    @property
    def downloads(self) -> Path:
        """The account's Downloads folder (XDG default)."""
        return self.home / "Downloads"


class Accounts:
    """Creates accounts and groups with a random tag, and removes every one of them."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(3)
        self.made: list[Account] = []
        self.groups: list[str] = []

    def group(self, role: str) -> str:
        """A new group `pg<tag><role>`."""
        name = f"pg{self.tag}{role}"
        subprocess.run(["groupadd", name], check=True, capture_output=True)
        self.groups.append(name)
        return name

    def add(self, role: str, groups: tuple[str, ...] = ()) -> Account:
        """A new login account `pg<tag><role>` with a home and a Downloads folder."""
        name = f"pg{self.tag}{role}"
        home = Path("/home") / name
        argv = ["useradd", "-m", "-d", str(home), "-s", "/bin/sh", "-K", "UMASK=022"]
        if groups:
            argv += ["-G", ",".join(groups)]
        subprocess.run([*argv, name], check=True, capture_output=True)
        import pwd

        entry = pwd.getpwnam(name)
        account = Account(name, entry.pw_uid, entry.pw_gid, home)
        self.made.append(account)
        home.chmod(0o755)  # readable like most homes; the test is about the service's files
        run_as(account, "mkdir", "-p", str(account.downloads))
        return account

    def remove_all(self) -> None:
        """userdel -r every account, groupdel every group (idempotent)."""
        for account in self.made:
            subprocess.run(["userdel", "-f", "-r", account.name], capture_output=True)
            shutil.rmtree(account.home, ignore_errors=True)
        for group in self.groups:
            subprocess.run(["groupdel", group], capture_output=True)
        for base in Path("/tmp").glob(f"pgt-{self.tag}-*"):  # the services' state and sockets
            shutil.rmtree(base, ignore_errors=True)
        self.made.clear()
        self.groups.clear()


def run_as(account: Account, *argv: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run `argv` as `account` (its uid, gid and groups), from /, capturing text output."""
    return subprocess.run(
        ["runuser", "-u", account.name, "--", *argv],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=USER_TIMEOUT_SECONDS,
        check=False,
        **kwargs,
    )


@functools.cache
def user_python(account: Account) -> str:
    """An interpreter `account` can run: this one if reachable, else the system's same version."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = (sys.executable, str(PYTHON), f"/usr/bin/{version}", f"/usr/local/bin/{version}")
    for candidate in candidates:
        runs = run_as(account, candidate, "-c", "import json").returncode == 0
        if Path(candidate).exists() and runs:
            return candidate
    raise AssertionError(f"no {version} that {account.name} may run")  # the test cannot run


def client_env(account: Account, socket_path: Path) -> list[str]:
    """`env ...` arguments for a client of the service running as `account`."""
    site = sysconfig.get_paths()["purelib"]
    venv_site = next((REPO_ROOT / ".venv" / "lib").glob("python*/site-packages"), Path(site))
    return [
        "env", "-i", f"HOME={account.home}", f"USER={account.name}", "PATH=/usr/bin:/bin",
        f"PHOTOGATE_SOCKET={socket_path}", f"PYTHONPATH={REPO_ROOT}:{venv_site}",
        f"PHOTOGATE_HOME={account.home / '.photogate'}", "PYTHONDONTWRITEBYTECODE=1",
    ]  # fmt: skip


def photogate_as(
    account: Account, socket_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """`photogate ARGS` as `account`, talking to the service at `socket_path`."""
    python = user_python(account)
    return run_as(account, *client_env(account, socket_path), python, "-m", "agent", *args)


def photogate_root(socket_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`photogate ARGS` as root (IT), talking to the service at `socket_path`."""
    env = {**os.environ, "PHOTOGATE_SOCKET": str(socket_path), "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [str(PYTHON), "-m", "agent", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=USER_TIMEOUT_SECONDS,
        check=False,
    )


def items_as(account: Account | None, socket_path: Path) -> list[dict[str, Any]]:
    """`quarantine list --json` as `account` (None: root)."""
    done = (
        photogate_root(socket_path, "quarantine", "list", "--json")
        if account is None
        else photogate_as(account, socket_path, "quarantine", "list", "--json")
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


class ServiceProcess:
    """A real `photogate service` (root) on a private state folder and socket."""

    def __init__(self, base: Path, config: Path, users: list[Account]) -> None:
        base.mkdir(mode=0o755, parents=True, exist_ok=True)
        base.chmod(0o755)  # traversable by everyone: only the state folder's own mode protects it
        self.state_dir = base / "state"
        self.socket_path = base / "sock" / "photogate.sock"
        self.config = config
        self.users = users
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """The service's argv."""
        argv = [str(PYTHON), "-m", "agent", "service", "--config", str(self.config)]
        argv += ["--state-dir", str(self.state_dir), "--socket", str(self.socket_path)]
        for account in self.users:
            argv += ["--user", account.name]
        return argv

    def start(self) -> ServiceProcess:
        """Start and wait until it answers and watches every account's Downloads."""
        self.stderr_path = self.state_dir.parent / "service-stderr.txt"
        self._stderr = self.stderr_path.open("ab")
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        env.pop("PHOTOGATE_SOCKET", None)
        self.process = subprocess.Popen(
            self.command(), cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self._stderr
        )
        wanted = {str(account.downloads) for account in self.users}

        def watching() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"service exited: {self.stderr_path.read_text()}")
            if not self.socket_path.exists():
                return False
            done = photogate_root(self.socket_path, "status", "--json")
            if done.returncode != 0:
                return False
            folders = json.loads(done.stdout).get("folders") or []
            return wanted <= {f["path"] for f in folders if f["watching"]}

        try:
            wait_for(watching, SERVICE_READY_SECONDS, "the service to watch every Downloads folder")
        except BaseException:
            self.kill()  # a service that never became ready must not outlive the test
            raise
        return self

    @property
    def pid(self) -> int:
        """The service's process id."""
        assert self.process is not None
        return self.process.pid

    def events(self) -> list[dict[str, Any]]:
        """Complete lines of the service's audit log."""
        path = self.state_dir / "logs" / "events.jsonl"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        complete = text[: text.rfind("\n") + 1]
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    @contextlib.contextmanager
    def running(self) -> Iterator[ServiceProcess]:
        """Started for a `with` block and stopped after it; a clean stop must exit 0."""
        self.start()
        try:
            yield self
        finally:
            code = self.stop()
        assert code == 0, f"the service exited with status {code}"

    def stop(self) -> int:
        """SIGTERM (as root) and wait."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.terminate()
        code = self.process.wait(timeout=30)
        self._stderr.close()
        return code

    def kill(self) -> None:
        """SIGKILL and reap."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)
        self._stderr.close()


def write_as(account: Account, path: Path, data: bytes) -> None:
    """Write `data` to `path` as `account` (a download by that user), closing it at once."""
    done = subprocess.run(
        ["runuser", "-u", account.name, "--", "sh", "-c", 'cat > "$1"', "sh", str(path)],
        input=data,
        capture_output=True,
        timeout=USER_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def wait_gone(path: Path, timeout: float = 20.0) -> None:
    """Until `path` no longer exists (the service quarantined it)."""
    wait_for(lambda: not os.path.lexists(path), timeout, f"{path} to be quarantined")
