"""The running agent: watch the folders, judge complete files, keep status, obey policy.

Threads: watchdog's observer thread only enqueues (agent.service.watch); one worker thread takes
complete files from the queue through the pipeline (agent.service.pipeline) and, between files,
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
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent import __version__, paths
from agent.policy.keeper import POLICY_PROBLEM_WORDS, PendingPolicy, PolicyKeeper
from agent.policy.layers import BUILT_IN, LoadedPolicy
from agent.policy.schema import Policy
from agent.service import folders
from agent.service.events import EventLog, LogNotifier, Notifier
from agent.service.folder_set import FolderSet, PatternSource
from agent.service.logfiles import private_dir
from agent.service.pipeline import (
    Outcome,
    Pipeline,
    Scope,
    Toolkit,
    default_toolkit,
    plain_error,
)
from agent.service.policy_events import apply_policy, emit_policy_changes
from agent.service.recovery import announce_cut_off_verdicts
from agent.service.state import AgentState
from agent.service.statedb import StateDB
from agent.service.supervisor import Heartbeats, Supervised, Supervisor
from agent.service.sweep import Sweep
from agent.service.watch import CompletionTracker, FolderWatcher
from agent.textsafe import safe_path

log = logging.getLogger("photogate.service")

TICK_SECONDS = 0.25  # housekeeping period while idle (the worker's longest sleep)
POLICY_CHECK_SECONDS = 1.0  # policy files are re-read this often
FOLDER_CHECK_SECONDS = 3.0  # missing folders are looked for this often
STATUS_REFRESH_SECONDS = 5.0  # the status file is rewritten at least this often
RETRY_FIRST_SECONDS = 2.0  # a failed quarantine is tried again after this, then doubling
RETRY_MAX_SECONDS = 300.0  # ...up to this interval, for as long as the file is there
STATE_PUBLISH_MIN_SECONDS = 0.2  # listeners hear at most this often during a burst
SWEEP_LOW_WATER = 256  # the sweep feeds the queue only while fewer paths wait than this
SWEEP_BATCH = 128  # paths a sweep adds to the queue per step
# Complete files judged and acted on together (one vault flush, one state commit): the
# worker takes what is queued when it is free, never waiting for more, so a file that
# arrives alone is judged at once and a burst forms batches by itself.
BATCH_MAX_FILES = 128
STATUS_FILE_NAME = "status.json"
REVIEWED_TRIGGER_NAME = "reviewed"
EXIT_WORKER_DIED = 70  # EX_SOFTWARE: autostart and systemd restart the agent
LOW_PRIORITY_NICE = 10  # POSIX niceness the agent lowers itself to
# `photogate status` says "running" only while the worker wrote its heartbeat this recently.
HEARTBEAT_STALE_SECONDS = 3 * STATUS_REFRESH_SECONDS


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


def _events_problem(sinks: list[dict[str, Any]]) -> str | None:
    """The first sink that cannot deliver, in a line for the tray and status."""
    for sink in sinks:
        if sink.get("problem"):
            return f"events are not reaching {sink['target']}: {sink['problem']}"
    return None


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
        pattern_source: PatternSource | None = None,
        vault_root: Path | None = None,
    ) -> None:
        """`pattern_source` and `vault_root` are protected mode's (agent.service.machine):
        the landing folders of every local user, and the machine vault."""
        self.keeper = keeper
        self.home = (home or paths.home()).absolute()
        private_dir(self.home)  # 0700: the state, logs and vault name patients' files
        self._runtime = self.home / "run"
        policy = keeper.current.policy
        # vault.path is read once: moving the vault needs a restart.
        if vault_root is None and policy.vault.path:
            paths.prepare_vault_parent(policy.vault.path)
            vault_root = paths.vault_dir(policy.vault.path)
        if vault_root is None:
            vault_root = self.home / "vault"
        self._vault_root = vault_root.absolute()
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
        self._folder_set = FolderSet(
            self.watcher,
            self.events,
            (self.home, self._vault_root),
            watch_override=watch_override,
            registry=registry,
            pattern_source=pattern_source,
        )
        self._counts = self.statedb.counts()
        self._started_at = 0.0
        self._dirty = True
        self._last_published = 0.0
        self._last_status_write = 0.0
        self._next_policy_check = 0.0
        self._next_folder_check = 0.0
        self._next_sweep = 0.0
        self._sweep = Sweep(self.statedb, self._stop)
        self.ready = threading.Event()  # set once the first folder check is done
        self._fatal_problem: str | None = None
        self._stopped = False
        self._heartbeat = 0.0  # time.time() of the worker's last loop turn
        self.died = threading.Event()  # set when the worker thread ended by an exception
        self._pending_policy: PendingPolicy | None = None  # read by the policy thread
        self._policy_committed = threading.Event()
        self._policy_thread: threading.Thread | None = None
        self._retry_attempts: dict[str, int] = {}  # path -> failed quarantines in a row
        self._unmoved = self.statedb.failed_count()
        self._problems: dict[str, str] = {}  # source -> plain words (state folder full...)
        self._settled = 0  # paths the worker finished with (any outcome): the progress signal
        self._sweeps_done = 0  # sweeps that listed every folder they were given
        self._status_lock = threading.Lock()
        self._worker_error: str | None = None
        self.heartbeats = Heartbeats()
        self.supervisor = Supervisor(
            [
                Supervised("worker", self._worker_dead, self._start_worker),
                Supervised("observer", self.watcher.dead_threads, self._restart_watch),
            ],
            self.heartbeats,
            self._stop,
            on_change=self._on_supervisor_change,
            on_tick=self._supervisor_tick,
        )
        self.pipeline.on_problem = self._set_problem

    # --- public API ----------------------------------------------------------------------

    def start(self) -> None:
        """Start watching (returns at once; the work happens on a worker thread)."""
        lower_priority()
        self._started_at = time.time()
        self._heartbeat = self._started_at  # the worker takes over within a tick
        self._runtime.mkdir(parents=True, exist_ok=True)
        self.watcher.start()
        policy = self.policy
        self.events.emit(
            "agent_started",
            policy_version=policy.policy.version,
            pid=os.getpid(),
            version=__version__,
        )
        try:
            announce_cut_off_verdicts(self.statedb, self.toolkit.vault, self.events)
        except Exception:  # recovery must never keep the agent from protecting
            log.exception("could not recover the verdicts a crash cut off")
        emit_policy_changes(
            self.events, self.keeper.current, self.keeper.startup_changes
        )  # the policy in force at start
        self._check_folders()  # watch now, so "started" means "watching"
        self._next_sweep = time.monotonic() + policy.watch.sweep_interval_seconds
        self.ready.set()
        self._start_worker()
        self.supervisor.start()
        self._policy_thread = threading.Thread(
            target=self._watch_policy, name="photogate-policy", daemon=True
        )
        self._policy_thread.start()
        log.info(
            "watching %d folders (%s)",
            len(self._folder_set.view.roots),
            ", ".join(safe_path(root) for root in self._folder_set.view.roots) or "none yet",
        )

    def stop(self) -> None:
        """Stop watching, finish the file in hand, write the final status (once)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._stop.set()
        self.tracker.wake()
        if self._worker is not None:
            self._worker.join(timeout=30)
        if self._policy_thread is not None:
            self._policy_thread.join(timeout=30)
        self.supervisor.join(timeout=5)
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
            if self.fatal_problem is not None:
                break
        self.stop()
        return 0 if self.fatal_problem is None else EXIT_WORKER_DIED

    @property
    def fatal_problem(self) -> str | None:
        """None while healthy; plain words once protection stopped and cannot recover.

        A thread that dies is restarted by the supervisor (and shown as a problem); only
        one that keeps dying (agent.service.supervisor.MAX_RESTARTS) is fatal: the tray and
        `run --headless` then exit non-zero so that autostart or systemd restart the agent.
        """
        return self._fatal_problem or self.supervisor.fatal_problem

    def progress(self) -> tuple[int, int, bool]:
        """(paths settled, sweeps done, idle): what tests and `status` wait on.

        `settled` counts every path the worker finished with, whatever the outcome (judged,
        unchanged, skipped, gone), so "nothing happened" can be asserted once the agent has
        looked. `idle` is True when nothing waits: no path queued or settling, no sweep.
        """
        with self._lock:
            settled, sweeps = self._settled, self._sweeps_done
        idle = self.tracker.pending_count == 0 and not self._sweep.active
        return settled, sweeps, idle

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
                folders=self._folder_set.view.statuses,
                policy_version=policy.policy.version,
                policy_source=policy_source(self.keeper.current.sources),
                policy_problem=self.keeper.problem,
                policy_problem_words=POLICY_PROBLEM_WORDS if self.keeper.problem else None,
                preferences_problem=self.keeper.preferences_problem,
                events_problem=_events_problem(self.events.sink_health()),
                unreviewed=self._counts.unreviewed,
                quarantined_total=self._counts.quarantined,
                flagged_total=self._counts.flagged,
                inspected_total=self._counts.inspected,
                allow_pause=policy.ui.allow_pause,
                allow_quit=policy.ui.allow_quit,
                started_at=self._started_at,
                fatal_problem=self.fatal_problem,
                unmoved=self._unmoved,
                service_problems=(
                    *self.supervisor.problems,
                    *(self._problems[key] for key in sorted(self._problems)),
                    *((self.events.problem,) if self.events.problem else ()),
                ),
            )

    def pause(
        self, seconds: float, via: str = "tray", *, by: str | None = None, force: bool = False
    ) -> None:
        """Stop acting (still inspecting and logging) for `seconds`, if policy allows it.

        Protected mode: `by` names the caller in the event; `force` is IT's request.
        """
        if not self.policy.ui.allow_pause and not force:
            log.warning("pause refused: policy does not allow pausing")
            return
        with self._lock:
            self._paused_until = time.time() + seconds
        who = {"caller": by} if by else {}
        self.events.emit(
            "paused", policy_version=self.policy.policy.version, seconds=seconds, via=via, **who
        )
        self._changed()

    def resume(self, via: str = "tray", *, by: str | None = None) -> None:
        """Act again; a sweep catches what arrived while paused."""
        with self._lock:
            was_paused = self._paused_until is not None
            self._paused_until = None
        if was_paused:
            who = {"caller": by} if by else {}
            self.events.emit("resumed", policy_version=self.policy.policy.version, via=via, **who)
            self.request_sweep()
            self._changed()

    def record_quit(self, via: str = "tray") -> None:
        """Staff chose Quit (policy allowed it): on record before protection stops."""
        self.events.emit("quit", policy_version=self.policy.policy.version, via=via)

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

    def _start_worker(self) -> None:
        self._worker_error = None
        self._heartbeat = time.time()
        self._worker = threading.Thread(
            target=self._run_worker, name="photogate-worker", daemon=True
        )
        self._worker.start()

    def _run_worker(self) -> None:
        """The worker thread: if it dies, the supervisor restarts it and shows why."""
        try:
            self._work()
        except Exception as error:
            self._worker_error = plain_error(error)
            log.critical("the worker thread died (%s): restarting it", self._worker_error)
            with contextlib.suppress(Exception):
                self.events.emit(
                    "action_failed",
                    policy_version=self.policy.policy.version,
                    error=f"worker thread died: {self._worker_error}",
                )

    def _worker_dead(self) -> str | None:
        worker = self._worker
        if worker is None or worker.is_alive() or self._stop.is_set():
            return None
        why = f" ({self._worker_error})" if self._worker_error else ""
        return f"the worker thread stopped{why}"

    def _restart_watch(self) -> None:
        self.watcher.restart()
        self.request_sweep()  # events were lost while the thread was dead

    def _on_supervisor_change(self) -> None:
        if self.supervisor.fatal_problem is not None:
            with self._lock:
                self._fatal_problem = self._fatal_problem or self.supervisor.fatal_problem
            self.died.set()
            self._stop.set()
            self.tracker.wake()
        with self._lock:
            self._dirty = True
        with contextlib.suppress(Exception):
            self._publish(force=True)  # the tray shows the problem (and a fatal one first)

    def _supervisor_tick(self) -> None:
        """Keep the status file fresh while the worker is busy or restarting."""
        if time.monotonic() - self._last_status_write >= STATUS_REFRESH_SECONDS:
            self._write_status(self.snapshot())

    def _set_problem(self, source: str, problem: str | None) -> None:
        """An expected condition (disk full, read-only folder) began or ended."""
        with self._lock:
            changed = self._problems.get(source) != problem
            if problem is None:
                self._problems.pop(source, None)
            else:
                self._problems[source] = problem
        if changed:
            self._changed()

    def _work(self) -> None:
        next_tick = 0.0
        while not self._stop.is_set():
            self._beat()
            path = self.tracker.next_ready(0.0 if self._sweep.active else TICK_SECONDS)
            if path is not None:
                self._process([path, *self.tracker.take_ready(BATCH_MAX_FILES - 1)])
            now = time.monotonic()
            if now >= next_tick:
                try:
                    self._tick(now)
                except Exception:
                    log.exception("housekeeping failed")
                next_tick = now + TICK_SECONDS
            if path is None and self._sweep.active:
                self._feed_sweep()

    def _beat(self) -> None:
        """The worker is alive (each loop turn, and after each file of a batch)."""
        self._heartbeat = time.time()
        self.heartbeats.beat("worker")

    def _process(self, paths: list[str]) -> None:
        """Judge a batch of complete paths; re-queue each that is not finished with."""
        policy = self.policy
        with self._lock:
            paused = self._paused_until is not None
            scope = self._scope(policy)
        outcomes = self.pipeline.process_many(
            paths, policy, scope, paused=paused, on_step=self._beat
        )
        for path, outcome in zip(paths, outcomes, strict=True):
            self._requeue(path, outcome)
        with self._lock:
            self._settled += len(paths)
            self._dirty = True  # the progress counters are part of the status
        if any(outcome in (Outcome.GONE, Outcome.RETRY) for outcome in outcomes):
            self._on_judged("")

    def _requeue(self, path: str, outcome: Outcome) -> None:
        """A path that is still changing, busy or failed to move is looked at again later."""
        if outcome is Outcome.SETTLE:
            self.tracker.put_settling(path)
        elif outcome is Outcome.BUSY:
            self.tracker.put_settling(path, delay=self.pipeline.busy.retry_delay(path))
        elif outcome is Outcome.RETRY:
            attempts = self._retry_attempts.get(path, 0) + 1
            self._retry_attempts[path] = attempts
            delay = min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** (attempts - 1))
            self.tracker.put_settling(path, delay=delay)
        if outcome is not Outcome.RETRY:
            self._retry_attempts.pop(path, None)

    def _scope(self, policy: Policy) -> Scope:
        return Scope(
            roots=self._folder_set.view.roots,
            excluded=(Path(os.path.realpath(self.home)), Path(os.path.realpath(self._vault_root))),
            ignore_patterns=policy.watch.ignore_patterns,
            recursive=policy.watch.recursive,
        )

    def _on_judged(self, action: str) -> None:
        del action
        counts, unmoved = self.statedb.counts(), self.statedb.failed_count()
        with self._lock:
            self._counts = counts
            self._unmoved = unmoved
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
            self.resume(via="timer")
        if now >= self._next_sweep and not self._sweep.active:
            self._next_sweep = now + self.policy.watch.sweep_interval_seconds
            self._start_sweep(list(self._folder_set.view.roots), fresh=True)
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

    def _watch_policy(self) -> None:
        """The policy thread: read and validate changed layers off the worker (a 16 MB file
        takes seconds); hand each result to the worker and wait until it is committed."""
        while not self._stop.wait(POLICY_CHECK_SECONDS):
            try:
                pending = self.keeper.poll()
            except Exception:
                log.exception("reading the policy failed")
                continue
            if pending is None:
                continue
            self._policy_committed.clear()
            with self._lock:
                self._pending_policy = pending
            while not self._stop.is_set() and not self._policy_committed.wait(TICK_SECONDS):
                pass

    def _check_policy(self) -> None:
        with self._lock:
            pending, self._pending_policy = self._pending_policy, None
        if pending is None:
            return
        try:
            result = self.keeper.commit(pending, self._apply_policy)
        finally:
            self._policy_committed.set()
        emit_policy_changes(self.events, self.keeper.current, self.keeper.changes)
        if result is True:
            policy = self.policy
            self.tracker.settle_seconds = policy.watch.settle_seconds
            log.info("policy %s in force", policy.policy.version)
            self._next_folder_check = 0.0
        if self.keeper.changes:
            self._changed()

    def _apply_policy(self, candidate: LoadedPolicy) -> list[str]:
        return apply_policy(self.events, candidate)

    def _check_reviewed_trigger(self) -> None:
        trigger = self._runtime / REVIEWED_TRIGGER_NAME
        if trigger.exists():
            with contextlib.suppress(OSError):
                trigger.unlink()
            self.mark_reviewed()

    # --- folders and sweeps -------------------------------------------------------------

    def _check_folders(self) -> None:
        """Watch folders that exist, report those that do not, sweep the new ones."""
        self._next_folder_check = time.monotonic() + FOLDER_CHECK_SECONDS
        changed, new_roots = self._folder_set.check(self.policy)
        if new_roots:
            self._start_sweep(new_roots, fresh=True)  # what arrived while we were not watching
        if changed:
            self._changed()

    def _start_sweep(self, roots: list[Path], *, fresh: bool = False) -> None:
        """Queue `roots` to be walked (interleaved with events) for files without a verdict.

        `fresh` for full sweeps; new folders reported by events are not (agent.service.sweep).
        """
        self._sweep.add(roots, self._scope(self.policy), fresh=fresh)

    def _feed_sweep(self) -> None:
        if not self._sweep.active or self.tracker.ready_count >= SWEEP_LOW_WATER:
            return
        for path in self._sweep.take(SWEEP_BATCH):
            # Complete by now unless it is still being written: the settle check decides.
            self._settle_check(path)
        if not self._sweep.active:
            with self._lock:
                self._sweeps_done += 1
                self._dirty = True

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

    def _write_status(self, state: AgentState) -> None:
        settled, sweeps, idle = self.progress()
        data = {
            "pid": os.getpid(),
            "version": state.version,
            "started": state.started_at,
            "updated": time.time(),
            "worker_heartbeat": self._heartbeat,
            "fatal_problem": state.fatal_problem,
            "paused_until": state.paused_until,
            "folders": [
                {"path": f.path, "watching": f.watching, "problem": f.problem}
                for f in state.folders
            ],
            "policy": {
                "version": state.policy_version,
                "source": state.policy_source,
                "problem": state.policy_problem,
                "preferences_problem": state.preferences_problem,
                "fingerprint": self.keeper.current.fingerprint,
            },
            "counts": {
                "inspected": state.inspected_total,
                "quarantined": state.quarantined_total,
                "flagged": state.flagged_total,
                "unreviewed": state.unreviewed,
                "pending": self.tracker.pending_count,
                "could_not_move": state.unmoved,
            },
            # The progress signal: `settled` grows by one for every path the worker is done
            # with; `idle` means nothing is queued, settling or being swept.
            "activity": {"settled": settled, "sweeps": sweeps, "idle": idle},
            "heartbeats": self.heartbeats.ages(),  # seconds since each thread was seen alive
            "problem": state.problem,
            "problems": list(state.service_problems),
            "audit_log": str(self.events.path),
            "vault": str(self._vault_root),
            "sinks": self.events.sink_health(),  # each sink: last delivery, backlog, problem
        }
        with self._status_lock:
            self._last_status_write = time.monotonic()
            try:
                write_json_atomic(self._runtime / STATUS_FILE_NAME, data)
            except OSError as error:
                problem = f"cannot write the status file: {error.strerror or error}"
                if self._problems.get("status") != problem:
                    log.warning("%s", problem)
                self._set_problem("status", problem)
                return
        self._set_problem("status", None)
