"""The running agent: watch the folders, judge complete files, keep status, obey policy.

Threads: watchdog's observer thread only enqueues (agent.watch); one worker thread takes
complete files from the queue through the pipeline (agent.pipeline) and, between files,
does the housekeeping: policy reload (every second), folder checks (folders that appear
are watched and swept, folders that disappear are reported), settle checks, sweeps,
pause expiry, the `reviewed` trigger and the status file.

Pausing: while paused, files are still inspected and logged, but nothing is moved or
marked; they are recorded as "deferred" and the sweep that runs on resume acts on them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agent import __version__, folders, paths
from agent.config import BUILT_IN, PolicyKeeper
from agent.events import EventLog, LogNotifier, Notifier
from agent.pipeline import Outcome, Pipeline, Scope, Toolkit, default_toolkit
from agent.schema import Policy
from agent.state import AgentState, FolderStatus
from agent.statedb import FileVersion, StateDB
from agent.textsafe import safe_path
from agent.watch import CompletionTracker, FolderWatcher

log = logging.getLogger("photogate.service")

TICK_SECONDS = 0.25  # housekeeping period while idle (the worker's longest sleep)
POLICY_CHECK_SECONDS = 1.0  # policy files are re-read this often
FOLDER_CHECK_SECONDS = 3.0  # missing folders are looked for this often
STATUS_REFRESH_SECONDS = 5.0  # the status file is rewritten at least this often
STATE_PUBLISH_MIN_SECONDS = 0.2  # listeners hear at most this often during a burst
SWEEP_LOW_WATER = 256  # the sweep feeds the queue only while fewer paths wait than this
SWEEP_BATCH = 128  # paths a sweep adds to the queue per step
STATUS_FILE_NAME = "status.json"
REVIEWED_TRIGGER_NAME = "reviewed"
LOW_PRIORITY_NICE = 10  # POSIX niceness the agent lowers itself to


@dataclass
class _FolderView:
    """What the service knows about each configured pattern."""

    statuses: tuple[FolderStatus, ...] = ()
    roots: tuple[Path, ...] = ()
    ever_seen: set[Path] = field(default_factory=set)


def lower_priority() -> None:
    """Run at low CPU and I/O priority where the OS allows it (best effort)."""
    try:
        import psutil

        process = psutil.Process()
        if sys.platform == "win32":  # pragma: no cover - Windows only
            process.nice(psutil.BELOW_NORMAL_PRIORITY_CLASS)
            process.ionice(psutil.IOPRIO_LOW)
        else:
            process.nice(max(process.nice(), LOW_PRIORITY_NICE))
            if hasattr(process, "ionice") and hasattr(psutil, "IOPRIO_CLASS_BE"):
                process.ionice(psutil.IOPRIO_CLASS_BE, value=7)  # lowest best-effort level
    except Exception as error:  # psutil missing or not permitted: run as we are
        log.info("could not lower priority: %s", error)


def policy_source(sources: Any) -> str:
    """Where the policy in force came from, in a few words."""
    origins = sorted({str(value) for value in dict(sources).values()} - {BUILT_IN})
    return ", ".join(origins) if origins else "built-in defaults"


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` with `data` as JSON so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(data, ensure_ascii=True, indent=1), encoding="utf-8")
    temp.replace(path)


class AgentService:
    """The agent. `start()`/`stop()` for the tray; `run_forever()` for headless mode."""

    def __init__(
        self,
        keeper: PolicyKeeper,
        *,
        watch_override: list[str] | None = None,
        home: Path | None = None,
        toolkit: Toolkit | None = None,
        notifier: Notifier | None = None,
        registry: folders.Registry | None = None,
    ) -> None:
        self.keeper = keeper
        self.home = (home or paths.home()).absolute()
        self._watch_override = list(watch_override) if watch_override else None
        self._registry = registry
        self._runtime = self.home / "run"
        policy = keeper.current.policy
        # vault.path is read once: moving the vault needs a restart.
        self._vault_root = (
            Path(folders.expand(policy.vault.path)).absolute()
            if policy.vault.path
            else self.home / "vault"
        )
        self.toolkit = toolkit or default_toolkit(self._vault_root)
        self.statedb = StateDB(self.home / "state.sqlite3")
        self.events = EventLog(policy.report, self.home)
        self.notifier: Notifier = notifier or LogNotifier()
        self.pipeline = Pipeline(
            self.toolkit, self.statedb, self.events, self.notifier, on_judged=self._on_judged
        )
        self.tracker = CompletionTracker(policy.watch.settle_seconds)
        self.watcher = FolderWatcher(self.tracker.on_event)
        self._listeners: list[Callable[[AgentState], None]] = []
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._paused_until: float | None = None
        self._folders = _FolderView()
        self._counts = self.statedb.counts()
        self._started_at = 0.0
        self._dirty = True
        self._last_published = 0.0
        self._last_status_write = 0.0
        self._next_policy_check = 0.0
        self._next_folder_check = 0.0
        self._next_sweep = 0.0
        self._sweep: Iterator[str] | None = None
        self._sweep_again = False
        self.ready = threading.Event()  # set once the first folder check is done

    # --- public API ----------------------------------------------------------------------

    def start(self) -> None:
        """Start watching (returns at once; the work happens on a worker thread)."""
        lower_priority()
        self._started_at = time.time()
        self._runtime.mkdir(parents=True, exist_ok=True)
        self.watcher.start()
        policy = self.policy
        self.events.emit(
            "agent_started",
            policy_version=policy.policy.version,
            pid=os.getpid(),
            version=__version__,
        )
        self._check_folders()  # watch now, so "started" means "watching"
        self._next_sweep = time.monotonic() + policy.watch.sweep_interval_seconds
        self.ready.set()
        self._worker = threading.Thread(target=self._work, name="photogate-worker", daemon=True)
        self._worker.start()
        log.info(
            "watching %d folders (%s)",
            len(self._folders.roots),
            ", ".join(safe_path(root) for root in self._folders.roots) or "none yet",
        )

    def stop(self) -> None:
        """Stop watching, finish the file in hand, write the final status."""
        self._stop.set()
        self.tracker.wake()
        if self._worker is not None:
            self._worker.join(timeout=30)
        self.watcher.stop()
        self.events.emit("agent_stopped", policy_version=self.policy.policy.version)
        self.events.close()
        with contextlib.suppress(OSError):
            (self._runtime / STATUS_FILE_NAME).unlink()
        self.statedb.close()

    def run_forever(self) -> int:
        """Headless mode: run until SIGTERM or SIGINT; returns the exit code."""

        def request_stop(signum: int, frame: object) -> None:
            del frame
            log.info("signal %d: stopping", signum)
            self._stop.set()
            self.tracker.wake()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        self.start()
        while not self._stop.wait(1.0):
            pass
        self.stop()
        return 0

    @property
    def policy(self) -> Policy:
        """The policy in force."""
        return self.keeper.current.policy

    def snapshot(self) -> AgentState:
        """The agent's state now."""
        policy = self.policy
        with self._lock:
            return AgentState(
                version=__version__,
                running=not self._stop.is_set(),
                paused_until=self._paused_until,
                folders=self._folders.statuses,
                policy_version=policy.policy.version,
                policy_source=policy_source(self.keeper.current.sources),
                policy_problem=self.keeper.problem,
                unreviewed=self._counts.unreviewed,
                quarantined_total=self._counts.quarantined,
                flagged_total=self._counts.flagged,
                inspected_total=self._counts.inspected,
                allow_pause=policy.ui.allow_pause,
                allow_quit=policy.ui.allow_quit,
                started_at=self._started_at,
            )

    def pause(self, seconds: float) -> None:
        """Stop acting (still inspecting and logging) for `seconds`, if policy allows it."""
        if not self.policy.ui.allow_pause:
            log.warning("pause refused: policy does not allow pausing")
            return
        with self._lock:
            self._paused_until = time.time() + seconds
        self.events.emit("paused", policy_version=self.policy.policy.version, seconds=seconds)
        self._changed()

    def resume(self) -> None:
        """Act again; a sweep catches what arrived while paused."""
        with self._lock:
            was_paused = self._paused_until is not None
            self._paused_until = None
        if was_paused:
            self.events.emit("resumed", policy_version=self.policy.policy.version)
            self.request_sweep()
            self._changed()

    def add_listener(self, callback: Callable[[AgentState], None]) -> None:
        """Call `callback(state)` (from a worker thread) whenever the state changes."""
        with self._lock:
            self._listeners.append(callback)

    def set_notifier(self, notifier: Notifier) -> None:
        """Send notifications to `notifier` (the tray) from now on."""
        self.notifier = notifier
        self.pipeline.notifier = notifier

    def mark_reviewed(self) -> None:
        """The review window was opened: nothing is unreviewed any more."""
        self.statedb.reset_unreviewed()
        with self._lock:
            self._counts = replace(self._counts, unreviewed=0)
        self._changed()

    def request_sweep(self) -> None:
        """Sweep every watched folder soon (after a resume, a queue overflow...)."""
        with self._lock:
            self._next_sweep = 0.0

    # --- worker --------------------------------------------------------------------------

    def _work(self) -> None:
        next_tick = 0.0
        while not self._stop.is_set():
            path = self.tracker.next_ready(TICK_SECONDS if self._sweep is None else 0.0)
            if path is not None:
                self._process(path)
            now = time.monotonic()
            if now >= next_tick:
                try:
                    self._tick(now)
                except Exception:
                    log.exception("housekeeping failed")
                next_tick = now + TICK_SECONDS
            if path is None and self._sweep is not None:
                self._feed_sweep()

    def _process(self, path: str) -> None:
        policy = self.policy
        with self._lock:
            paused = self._paused_until is not None
            scope = self._scope(policy)
        outcome = self.pipeline.process(path, policy, scope, paused=paused)
        if outcome is Outcome.SETTLE:
            self.tracker.put_settling(path)

    def _scope(self, policy: Policy) -> Scope:
        return Scope(
            roots=self._folders.roots,
            excluded=(Path(os.path.realpath(self.home)), Path(os.path.realpath(self._vault_root))),
            ignore_patterns=policy.watch.ignore_patterns,
            recursive=policy.watch.recursive,
        )

    def _on_judged(self, action: str) -> None:
        del action
        with self._lock:
            self._counts = self.statedb.counts()
            self._dirty = True

    def _changed(self) -> None:
        with self._lock:
            self._dirty = True
        self._publish(force=True)

    def _tick(self, now: float) -> None:
        if now >= self._next_policy_check:
            self._next_policy_check = now + POLICY_CHECK_SECONDS
            self._check_policy()
            self._check_reviewed_trigger()
        if now >= self._next_folder_check:
            self._check_folders()
        for path in self.tracker.due_settling():
            self._settle_check(path)
        for folder in self.tracker.take_dirs():
            self._start_sweep([Path(folder)])
        if self.tracker.take_overflow():
            log.warning("too many files at once: a sweep will pick up the rest")
            self.request_sweep()
        with self._lock:
            paused_until = self._paused_until
        if paused_until is not None and time.time() >= paused_until:
            self.resume()
        if now >= self._next_sweep and self._sweep is None:
            self._next_sweep = now + self.policy.watch.sweep_interval_seconds
            self._start_sweep(list(self._folders.roots))
        self._publish(force=False)

    def _settle_check(self, path: str) -> None:
        """A file without a close event: ready once its mtime is settle_seconds old."""
        try:
            status = os.lstat(path)
        except OSError:
            return
        if not stat.S_ISREG(status.st_mode):
            return
        settle = self.policy.watch.settle_seconds
        age = time.time() - status.st_mtime_ns / 1e9
        if age >= settle:
            self.tracker.put_ready(path)
        else:
            self.tracker.put_settling(path, delay=max(settle - age, 0.05))

    # --- policy --------------------------------------------------------------------------

    def _check_policy(self) -> None:
        result = self.keeper.reload_if_changed()
        if result is True:
            policy = self.policy
            self.events.configure(policy.report)
            self.tracker.settle_seconds = policy.watch.settle_seconds
            self.events.emit(
                "policy_loaded",
                policy_version=policy.policy.version,
                source=policy_source(self.keeper.current.sources),
                fingerprint=self.keeper.current.fingerprint,
            )
            log.info("policy %s loaded", policy.policy.version)
            self._next_folder_check = 0.0
            self._changed()
        elif result is None:
            self.events.emit(
                "policy_rejected",
                policy_version=self.policy.policy.version,
                problem=self.keeper.problem,
            )
            log.warning("%s", self.keeper.problem)
            self._changed()

    def _check_reviewed_trigger(self) -> None:
        trigger = self._runtime / REVIEWED_TRIGGER_NAME
        if trigger.exists():
            with contextlib.suppress(OSError):
                trigger.unlink()
            self.mark_reviewed()

    # --- folders -------------------------------------------------------------------------

    def _check_folders(self) -> None:
        """Watch folders that exist, report those that do not, sweep the new ones."""
        self._next_folder_check = time.monotonic() + FOLDER_CHECK_SECONDS
        policy = self.policy
        patterns = folders.configured_patterns(
            policy.watch.use_default_folders,
            policy.watch.folders,
            self._watch_override,
            registry=self._registry,
        )
        own = (Path(os.path.realpath(self.home)), Path(os.path.realpath(self._vault_root)))
        statuses: list[FolderStatus] = []
        wanted: list[Path] = []
        problems: dict[Path, str] = {}
        for pattern in patterns:
            matches = folders.expand_pattern(pattern)
            is_glob = folders.is_glob_pattern(pattern)
            if is_glob and not matches:
                statuses.append(FolderStatus(folders.expand(pattern), watching=False))
            for folder in matches:
                if folders.is_excluded(folder, policy.watch.exclude) or folder in wanted:
                    continue
                real = Path(os.path.realpath(folder))
                if any(real == mine or mine in real.parents for mine in own):
                    problems[folder] = "this is Photogate's own folder"
                    wanted.append(folder)
                    continue
                wanted.append(folder)
        watched_before = self.watcher.watched()
        new_roots: list[Path] = []
        for folder in wanted:
            if folder in problems:
                statuses.append(FolderStatus(str(folder), False, problems[folder]))
                continue
            covered = policy.watch.recursive and any(
                other != folder and other in folder.parents and other not in problems
                for other in wanted
            )
            if covered:
                statuses.append(FolderStatus(str(folder), True, None))
                continue
            problem = self._ensure_watched(folder, watched_before)
            statuses.append(FolderStatus(str(folder), problem is None, problem))
            if problem is None and folder not in watched_before:
                new_roots.append(folder)
        for folder in watched_before - set(wanted):
            self.watcher.remove(folder)
        roots = tuple(sorted(self.watcher.watched()))
        changed = False
        with self._lock:
            if self._folders.statuses != tuple(statuses) or self._folders.roots != roots:
                changed = True
            self._folders = replace(
                self._folders,
                statuses=tuple(statuses),
                roots=roots,
                ever_seen=self._folders.ever_seen | set(roots),
            )
        for folder in new_roots:
            log.info("watching %s", safe_path(folder))
            self._start_sweep([folder])  # catch what arrived while we were not watching
        if changed:
            self._changed()

    def _ensure_watched(self, folder: Path, watched_before: set[Path]) -> str | None:
        exists = folder.is_dir() and not folder.is_symlink()
        if folder in watched_before:
            if exists:
                return None
            self.watcher.remove(folder)
            self.events.emit(
                "folder_missing", path=folder, policy_version=self.policy.policy.version
            )
            log.warning("folder disappeared: %s", safe_path(folder))
            return "folder disappeared"
        if not exists:
            if folder.is_symlink():
                return "folder is a symbolic link (not followed)"
            return (
                "folder disappeared"
                if folder in self._folders.ever_seen
                else "folder does not exist yet"
            )
        return self.watcher.add(folder, recursive=self.policy.watch.recursive)

    # --- sweeps --------------------------------------------------------------------------

    def _start_sweep(self, roots: list[Path]) -> None:
        """Walk `roots` (lazily, interleaved with events) for files without a verdict."""
        if not roots:
            return
        walker = self._walk(roots)
        if self._sweep is None:
            self._sweep = walker
        else:
            previous = self._sweep

            def chained() -> Iterator[str]:
                yield from previous
                yield from walker

            self._sweep = chained()

    def _walk(self, roots: list[Path]) -> Iterator[str]:
        policy = self.policy
        scope = self._scope(policy)
        for root in roots:
            stack = [str(root)]
            while stack and not self._stop.is_set():
                directory = stack.pop()
                try:
                    entries = list(os.scandir(directory))
                except OSError:
                    continue
                for entry in entries:
                    name_parts = (entry.name,)
                    if scope.is_ignored_name(name_parts):
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            if policy.watch.recursive and not scope.is_excluded(entry.path):
                                stack.append(entry.path)
                            continue
                        if not entry.is_file(follow_symlinks=False):
                            continue
                        version = FileVersion.of(entry.stat(follow_symlinks=False))
                    except OSError:
                        continue
                    if not self.statedb.is_current(entry.path, version):
                        yield entry.path

    def _feed_sweep(self) -> None:
        if self._sweep is None or self.tracker.ready_count >= SWEEP_LOW_WATER:
            return
        for _ in range(SWEEP_BATCH):
            try:
                path = next(self._sweep)
            except StopIteration:
                self._sweep = None
                return
            # Complete by now unless it is still being written: the settle check decides.
            self._settle_check(path)

    # --- state publishing ----------------------------------------------------------------

    def _publish(self, *, force: bool) -> None:
        now = time.monotonic()
        with self._lock:
            dirty = self._dirty
            if not force and dirty and now - self._last_published < STATE_PUBLISH_MIN_SECONDS:
                return
            status_due = now - self._last_status_write >= STATUS_REFRESH_SECONDS
            if not dirty and not status_due:
                return
            self._dirty = False
            self._last_published = now
            listeners = list(self._listeners)
        state = self.snapshot()
        if dirty:
            for listener in listeners:
                try:
                    listener(state)
                except Exception:
                    log.exception("state listener failed")
        self._write_status(state)
        self._last_status_write = now

    def _write_status(self, state: AgentState) -> None:
        data = {
            "pid": os.getpid(),
            "version": state.version,
            "started": state.started_at,
            "updated": time.time(),
            "paused_until": state.paused_until,
            "folders": [
                {"path": f.path, "watching": f.watching, "problem": f.problem}
                for f in state.folders
            ],
            "policy": {
                "version": state.policy_version,
                "source": state.policy_source,
                "problem": state.policy_problem,
                "fingerprint": self.keeper.current.fingerprint,
            },
            "counts": {
                "inspected": state.inspected_total,
                "quarantined": state.quarantined_total,
                "flagged": state.flagged_total,
                "unreviewed": state.unreviewed,
                "pending": self.tracker.pending_count,
            },
            "audit_log": str(self.events.path),
            "vault": str(self._vault_root),
        }
        try:
            write_json_atomic(self._runtime / STATUS_FILE_NAME, data)
        except OSError as error:
            log.warning("could not write the status file: %s", error)
