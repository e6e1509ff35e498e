"""One pipeline for the pipeline tests: real engine, policy, vault, state DB and marker.

tests/test_pipeline.py, test_pipeline_batch.py and test_pipeline_guards.py build it the same
way (a Downloads folder watched, our home beside it excluded); only the vault class and the
notifier differ. Also here: a notifier that keeps what it was asked to show, a clock the
tests move by hand, and Windows' reading of a file held by another program on this OS.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent import platform
from agent.platform import wintext
from agent.platform.base import SourceFile
from agent.policy.schema import Policy
from agent.service.events import EventLog, LogNotifier, Notifier, read_events
from agent.service.pipeline import Pipeline, Scope, default_toolkit
from agent.service.statedb import StateDB
from agent.vault.store import Vault


class Notes:
    """A notifier that keeps what it was asked to show."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, str, dict[str, Any]]] = []

    def notify(self, title: str, body: str, **fields: Any) -> None:
        self.shown.append((title, body, fields))


@dataclass
class Parts:
    """A pipeline watching `downloads`, its home (state, events, vault) excluded."""

    pipeline: Pipeline
    scope: Scope
    downloads: Path
    home: Path
    judged: list[str]  # what on_judged was told, once per acted-on batch

    def verdicts(self) -> list[dict[str, Any]]:
        """The verdict events so far."""
        return events_of(self.home, "verdict")


def build(
    tmp_path: Path,
    *,
    vault_class: type[Vault] = Vault,
    notifier: Notifier | Notes | None = None,
    ignore_patterns: tuple[str, ...] = (),
) -> Parts:
    """The pipeline of every pipeline test (`vault_class` lets a test count or break it)."""
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    home = tmp_path / "home"
    toolkit = default_toolkit(home / "vault")
    if vault_class is not Vault:
        toolkit.vault = vault_class(home / "vault")
    judged: list[str] = []
    pipeline = Pipeline(
        toolkit,
        StateDB(home / "state.sqlite3"),
        EventLog(Policy().report, home),
        notifier if notifier is not None else LogNotifier(),  # type: ignore[arg-type]
        on_judged=judged.append,
    )
    scope = Scope(roots=(downloads,), excluded=(home,), ignore_patterns=ignore_patterns)
    return Parts(pipeline, scope, downloads, home, judged)


def events_of(home: Path, kind: str) -> list[dict[str, Any]]:
    """The audit log's events of one kind (none when nothing was written yet)."""
    path = home / "logs" / "events.jsonl"
    return [e for e in read_events(path) if e["event"] == kind] if path.exists() else []


class Clock:
    """time.perf_counter and time.time for a module under test: perf_counter moves by hand."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.wall: float | None = None  # None: the real time.time

    def perf_counter(self) -> float:
        return self.now

    def time(self) -> float:
        return time.time() if self.wall is None else self.wall


def after_a_ctime_tick(folder: Path, ctime_ns: int) -> None:
    """Return once a change made now gets a later ctime than `ctime_ns` (file systems stamp
    times from a coarse clock: a change within the same tick keeps the same ctime)."""
    probe = folder / ".ctime-probe"
    for _ in range(1000):
        probe.write_bytes(b"")
        if os.lstat(probe).st_ctime_ns > ctime_ns:
            probe.unlink()
            return
        time.sleep(0.001)
    raise AssertionError("the file system clock did not move")


def windows_error(code: int, message: str) -> OSError:
    """An OSError as CPython raises it on Windows: errno from its table, plus winerror."""
    error = OSError(errno.EACCES, message)
    error.winerror = code  # type: ignore[attr-defined]
    return error


OS_IMPL = type(platform.current())


class HeldByAnotherProgram(OS_IMPL):  # type: ignore[misc,valid-type]
    """This OS's calls with Windows' reading of errors; the file named `held` is held open:
    the exclusive-open probe says so `probes` times, then the quarantine's open meets a
    sharing violation `opens` times (as CreateFileW would)."""

    def __init__(self, held: str, *, probes: int = 0, opens: int = 0) -> None:
        self.held = held
        self.probes = probes
        self.opens = opens

    def is_in_use(self, error: OSError) -> bool:
        return wintext.winerror_in_use(error)

    def writer_done(self, path: str) -> bool:
        if os.path.basename(path) == self.held and self.probes > 0:
            self.probes -= 1
            return False
        return True

    def open_source(self, path: Path) -> SourceFile:
        if path.name == self.held and self.opens > 0:
            self.opens -= 1
            raise windows_error(wintext.ERROR_SHARING_VIOLATION, "in use")
        opened: SourceFile = super().open_source(path)
        return opened
