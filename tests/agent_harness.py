"""Test harness for the agent: sample files, browser-style writes, a real agent process.

Samples are built deterministically: real small JPEGs made with Pillow (benign), the same
with a ZIP appended or PE bytes under an image name (malicious), and a hidden-extension
name (flagged under the default policy). Writes imitate Chrome (`X.crdownload`, then a
rename) and Firefox (zero-byte `X` placeholder, data in `X.part`, rename over it).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
READY_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 20.0


# --- samples --------------------------------------------------------------------------------


def make_jpeg(seed: int, size: tuple[int, int] = (48, 32)) -> bytes:
    """A real, small, benign JPEG whose pixels depend on `seed` (so hashes differ)."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for _ in range(8):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        image.putpixel((x, y), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def make_zip(seed: int) -> bytes:
    """A small ZIP holding a script, as droppers append to images."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        # A fixed timestamp: writestr(name) stamps the current time, so two calls made two
        # seconds apart gave different bytes (and tests comparing them failed at random).
        entry = zipfile.ZipInfo(f"invoice{seed}.js", date_time=(2024, 1, 1, 0, 0, 0))
        archive.writestr(entry, "WScript.Echo('x');\n" * 4)
    return out.getvalue()


def make_jpeg_with_zip(seed: int) -> bytes:
    """Malicious: a real JPEG with a ZIP appended after its end."""
    return make_jpeg(seed) + make_zip(seed)


def make_pe_bytes(seed: int) -> bytes:
    """Malicious: the start of a Windows program (MZ header, PE signature) for `x.jpg`."""
    header = bytearray(512)
    header[0:2] = b"MZ"
    header[0x3C:0x40] = (0x80).to_bytes(4, "little")
    header[0x80:0x84] = b"PE\0\0"
    header[0x84:0x86] = (0x14C).to_bytes(2, "little")  # i386
    header[0x4E:0x76] = b"This program cannot be run in DOS mode.\r\r\n$"
    return bytes(header) + seed.to_bytes(4, "little") * 64


# --- browser-style writes -------------------------------------------------------------------


def write_plain(path: Path, data: bytes) -> None:
    """Write and close in one go (most programs)."""
    with path.open("wb") as handle:
        handle.write(data)


def write_chrome_style(path: Path, data: bytes, chunk: int = 4096) -> None:
    """Chrome/Edge: data goes to `<name>.crdownload`, then a rename to the final name."""
    temp = path.with_name(path.name + ".crdownload")
    with temp.open("wb") as handle:
        for start in range(0, len(data), chunk):
            handle.write(data[start : start + chunk])
            handle.flush()
    os.rename(temp, path)


def write_firefox_style(path: Path, data: bytes, chunk: int = 4096, pause: float = 0.0) -> None:
    """Firefox: a zero-byte placeholder `<name>`, data into `<name>.part`, rename over it."""
    path.write_bytes(b"")
    temp = path.with_name(path.name + ".part")
    with temp.open("wb") as handle:
        for start in range(0, len(data), chunk):
            handle.write(data[start : start + chunk])
            handle.flush()
            if pause:
                time.sleep(pause)
    os.rename(temp, path)


# --- the agent process ----------------------------------------------------------------------


def read_events(home: Path) -> list[dict[str, Any]]:
    """All audit events of the agent in `home` (rotated files first)."""
    logs = home / "logs"
    files = [*sorted(logs.glob("events.jsonl.*"), reverse=True), logs / "events.jsonl"]
    events: list[dict[str, Any]] = []
    for file in files:
        if file.exists():
            text = file.read_text(encoding="utf-8")
            # The agent may be appending right now: like any log tailer (Wazuh, Filebeat),
            # take only complete lines; the last one counts once its newline is written.
            complete = text[: text.rfind("\n") + 1]
            for line in complete.splitlines():
                if line.strip():
                    events.append(json.loads(line))
    return events


def verdicts(home: Path) -> list[dict[str, Any]]:
    """Only the verdict events."""
    return [event for event in read_events(home) if event.get("event") == "verdict"]


def wait_for(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Poll `condition` until it returns something truthy; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def agent_env(home: Path) -> dict[str, str]:
    """Environment for an agent subprocess: private home, no display, repo importable."""
    env = dict(os.environ)
    env["PHOTOGATE_HOME"] = str(home)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


def photogate(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run one `photogate` command against `home` and capture its output."""
    return subprocess.run(
        [str(PYTHON), "-m", "agent", *args],
        env=agent_env(home),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class AgentProcess:
    """A real `photogate run --headless` subprocess on a private PHOTOGATE_HOME."""

    def __init__(
        self,
        home: Path,
        watch: Sequence[Path],
        config: Path | None = None,
        extra: Sequence[str] = (),
    ) -> None:
        self.home = home
        self.watch = list(watch)
        self.config = config
        self.extra = list(extra)
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.ready_at = 0.0

    @property
    def status_file(self) -> Path:
        """The status file the agent writes."""
        return self.home / "run" / "status.json"

    def command(self) -> list[str]:
        """The argv of the agent."""
        argv = [str(PYTHON), "-m", "agent", "run", "--headless"]
        if self.config is not None:
            argv += ["--config", str(self.config)]
        for folder in self.watch:
            argv += ["--watch", str(folder)]
        return argv + self.extra

    def start(self, wait: bool = True) -> AgentProcess:
        """Start the agent; with `wait`, return once it watches every folder that exists."""
        self.home.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.status_file.unlink()
        self.started_at = time.monotonic()
        self.stderr_path = self.home / "agent-stderr.txt"
        self._stderr = self.stderr_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            env=agent_env(self.home),
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
        )
        if wait:
            self.wait_ready()
        return self

    def status(self) -> dict[str, Any] | None:
        """The agent's status file, or None."""
        try:
            data: dict[str, Any] = json.loads(self.status_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> dict[str, Any]:
        """Wait until the status file lists the existing watched folders as watched."""

        def ready() -> dict[str, Any] | None:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"agent exited early: {self.stderr_text()}")
            status = self.status()
            if status is None or status.get("pid") != self.process.pid:
                return None
            watching = {f["path"] for f in status["folders"] if f["watching"]}
            wanted = {str(folder) for folder in self.watch if folder.is_dir()}
            return status if wanted <= watching else None

        status: dict[str, Any] = wait_for(ready, timeout, "the agent to watch its folders")
        self.ready_at = time.monotonic()
        return status

    def stderr_text(self) -> str:
        """What the agent wrote to stderr so far."""
        try:
            return self.stderr_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        self._stderr.close()
        return code

    def kill(self) -> None:
        """SIGKILL (no cleanup at all) and reap."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        self._stderr.close()

    def __enter__(self) -> AgentProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop()


def quarantine_list(home: Path) -> list[dict[str, Any]]:
    """`photogate quarantine list --json` (JSON lines) for `home`."""
    result = photogate(home, "quarantine", "list", "--json")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def has_flag_marker(path: Path) -> bool:
    """True when the file carries Photogate's / freedesktop's untrusted-origin xattr."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return False
    return any(name.startswith("user.") for name in names)


if sys.platform != "linux":  # pragma: no cover
    raise ImportError("the agent harness uses Linux semantics (inotify, xattrs)")
