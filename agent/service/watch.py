"""Watchdog observers on the watched folders (the only module that imports watchdog).

The handler does one thing: turn a filesystem event into `(kind, path)` and hand it to a
callback that only enqueues. It never raises (an exception in a watchdog handler would
kill the observer thread and silently stop protection).

Kinds: "closed" (Linux close-after-write: the file is complete), "moved" (renamed to its
final name: complete), "created"/"modified" (wait until size and mtime settle), "dir"
(a folder appeared or was moved in: sweep it), "deleted", "overflow" (the OS lost events:
sweep every watched folder afresh).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import time
import types
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, AnyStr

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

log = logging.getLogger("photogate.watch")

# inotify reports close-after-write (IN_CLOSE_WRITE); other platforms have no such event,
# so there files wait for size/mtime to settle (DESIGN.md section 4).
CLOSE_EVENTS_AVAILABLE = sys.platform.startswith("linux")

EventCallback = Callable[[str, str], None]


def _event_filter(close_events: bool) -> list[type[FileSystemEvent]]:
    # Opened/closed-no-write/attrib events are left out on purpose: our own reads and our
    # own xattr marker would otherwise wake us up for every file we inspect or flag.
    kinds: list[type[FileSystemEvent]] = [
        FileCreatedEvent,
        FileMovedEvent,
        FileDeletedEvent,
        DirCreatedEvent,
        DirMovedEvent,
    ]
    if close_events:
        kinds.append(FileClosedEvent)
    else:
        kinds.append(FileModifiedEvent)  # the only sign of progress without close events
    return kinds


def iterative_walk(
    top: AnyStr | os.PathLike[AnyStr],
    topdown: bool = True,
    onerror: Callable[[OSError], object] | None = None,
    followlinks: bool = False,
) -> Iterator[tuple[AnyStr, list[AnyStr], list[AnyStr]]]:
    """`os.walk` (top-down) with an explicit stack instead of recursion.

    Python 3.11's `os.walk` recurses once per level, so a folder chain 1,000 deep moved
    into a watched folder raised RecursionError in watchdog's inotify thread and stopped
    every watch. Same results and order as `os.walk(top)` top-down; `topdown=False` is not
    used by watchdog and is served top-down too.
    """
    del topdown
    stack: list[AnyStr] = [os.fspath(top)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as error:
            if onerror is not None:
                onerror(error)
            continue
        dirs: list[AnyStr] = []
        files: list[AnyStr] = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            (dirs if is_dir else files).append(entry.name)
        yield folder, dirs, files
        for name in reversed(dirs):  # the caller may have pruned `dirs`, as with os.walk
            path = os.path.join(folder, name)  # noqa: PTH118 - bytes or str, as os.walk
            if followlinks or not os.path.islink(path):  # noqa: PTH114
                stack.append(path)


class _WalkSafeOs(types.ModuleType):
    """The `os` module as watchdog's inotify backend sees it: everything, but an iterative walk."""

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    walk = staticmethod(iterative_walk)


def _install_iterative_walk() -> None:
    """Give watchdog's walkers (inotify backend, moved-folder events) a walk without recursion."""
    import watchdog.events

    modules: list[types.ModuleType] = [watchdog.events]
    try:
        from watchdog.observers import inotify as inotify_backend

        modules.append(inotify_backend)
    except ImportError:  # not Linux: that backend is not there
        pass
    for module in modules:
        if not isinstance(getattr(module, "os", None), _WalkSafeOs):
            setattr(module, "os", _WalkSafeOs("os"))  # noqa: B010 - a module global


_install_iterative_walk()


def _inotify_reader_dead() -> bool:
    """True when watchdog's shared inotify reader thread exists but has died (Linux)."""
    try:
        from watchdog.observers.inotify_c import InotifyFD
    except ImportError:
        return False
    instance = getattr(InotifyFD, "_instance", None)
    return instance is not None and not instance.is_alive()


def _reset_inotify_reader() -> None:
    """Forget a dead shared inotify reader so the next watch starts a fresh one."""
    try:
        from watchdog.observers.inotify_c import InotifyFD
    except ImportError:
        return
    with InotifyFD._global_lock:  # watchdog keeps the singleton private
        instance = InotifyFD._instance
        if instance is not None and not instance.is_alive():
            InotifyFD._instance = None


def _text(path: bytes | str) -> str:
    return path.decode("utf-8", "surrogateescape") if isinstance(path, bytes) else path


class _Handler(FileSystemEventHandler):
    """Translates watchdog events for the callback; swallows every error."""

    def __init__(self, on_event: EventCallback) -> None:
        self._on_event = on_event

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self._translate(event)
        except Exception:  # never let an error kill the observer thread
            log.exception("watch handler failed on %r", type(event).__name__)

    def _translate(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileClosedEvent):
            self._on_event("closed", _text(event.src_path))
        elif isinstance(event, FileMovedEvent):
            self._on_event("moved", _text(event.dest_path))
            self._on_event("deleted", _text(event.src_path))
        elif isinstance(event, DirMovedEvent):
            self._on_event("dir", _text(event.dest_path))
        elif isinstance(event, DirCreatedEvent):
            self._on_event("dir", _text(event.src_path))
        elif isinstance(event, FileCreatedEvent):
            self._on_event("created", _text(event.src_path))
        elif isinstance(event, FileModifiedEvent):
            self._on_event("modified", _text(event.src_path))
        elif isinstance(event, FileDeletedEvent):
            self._on_event("deleted", _text(event.src_path))


class FolderWatcher:
    """One watchdog observer with one watch per folder; add/remove as folders come and go."""

    def __init__(
        self,
        on_event: EventCallback,
        *,
        close_events: bool = CLOSE_EVENTS_AVAILABLE,
        observer_factory: Callable[[], BaseObserver] = Observer,
    ) -> None:
        self._handler = _Handler(on_event)
        self._filter = _event_filter(close_events)
        self._observer_factory = observer_factory
        self._observer = observer_factory()
        self._watches: dict[Path, ObservedWatch] = {}
        self._recursive: dict[Path, bool] = {}
        self._lock = threading.Lock()
        self._started = False
        self.close_events = close_events
        self._on_event = on_event
        # Windows: an overflowed change buffer lost events; sweep that folder at once.
        _hook_windows_overflow(self.on_overflow)

    def on_overflow(self, folder: str) -> None:
        """Events for `folder` were lost: have the watched folders swept afresh, now.

        Not a "dir" event: the sweep skips folders it already listed (same inode), which a
        watched folder always is; "overflow" asks for a fresh sweep, as a full queue does.
        """
        if Path(folder) in self.watched():
            self._on_event("overflow", folder)
        self.restarts = 0  # times the observer was found dead and restarted

    def start(self) -> None:
        """Start the observer thread."""
        self._observer.daemon = True
        self._observer.start()
        self._started = True

    def stop(self) -> None:
        """Stop watching everything and join the observer thread."""
        with self._lock:
            self._watches.clear()
            self._started = False
        self._observer.stop()
        if self._observer.is_alive():
            self._observer.join(timeout=5)

    def add(self, folder: Path, *, recursive: bool) -> str | None:
        """Watch `folder`; returns None on success or a plain-words problem."""
        with self._lock:
            if folder in self._watches:
                return None
            try:
                watch = self._observer.schedule(
                    self._handler,
                    str(folder),
                    recursive=recursive,
                    event_filter=self._filter,
                    follow_symlink=False,
                )
            except FileNotFoundError:
                return "folder does not exist"
            except PermissionError:
                return "access denied"
            except OSError as error:
                # ENOSPC/EMFILE: inotify watch or instance limit reached (watchdog #673, #846)
                return f"cannot watch: {error.strerror or error}"
            self._watches[folder] = watch
            self._recursive[folder] = recursive
            return None

    def remove(self, folder: Path) -> None:
        """Stop watching `folder` (it disappeared, or policy no longer lists it)."""
        with self._lock:
            watch = self._watches.pop(folder, None)
            if watch is None:
                return
            self._recursive.pop(folder, None)
            # The emitter may already have stopped when the folder was deleted.
            with contextlib.suppress(KeyError, OSError):
                self._observer.unschedule(watch)

    def watched(self) -> set[Path]:
        """The folders with a watch on them now."""
        with self._lock:
            return set(self._watches)

    def dead_threads(self) -> str | None:
        """Which watch thread has died, in a few words, or None when all are alive."""
        with self._lock:
            if not self._started:
                return None
            if not self._observer.is_alive():
                return "the folder observer thread stopped"
            if _inotify_reader_dead():
                return "the inotify reader thread stopped"
            emitters = list(getattr(self._observer, "emitters", ()))
        dead = [e for e in emitters if not e.is_alive() and Path(e.watch.path).is_dir()]
        return f"{len(dead)} folder watch thread(s) stopped" if dead else None

    def restart(self) -> list[Path]:
        """Replace dead watch threads with a new observer; returns the folders re-watched.

        Events that arrived while the thread was dead were lost, so the caller sweeps the
        returned folders.
        """
        with self._lock:
            folders = dict(self._recursive)
            watched = set(self._watches)
            old, self._observer = self._observer, self._observer_factory()
            self._watches.clear()
            self.restarts += 1
        with contextlib.suppress(Exception):  # the old one is broken: stopping is best effort
            old.stop()
        _reset_inotify_reader()
        self.start()
        rewatched = []
        for folder in sorted(watched):
            if self.add(folder, recursive=folders.get(folder, True)) is None:
                rewatched.append(folder)
        log.warning("watch threads restarted; %d folders watched again", len(rewatched))
        return rewatched


# --- Windows change-buffer overflow (watchdog #1019) -------------------------------------------


class OverflowSignallingQueue(queue.Queue[Any]):
    """watchdog's ReadDirectoryChangesW buffer queue, telling us when the buffer overflowed.

    Microsoft (ReadDirectoryChangesW): "If the buffer overflows, the entire contents of the
    buffer are discarded, the lpBytesReturned parameter contains zero". watchdog's reader
    thread queues that empty buffer and its consumer skips it silently (#1019). The reader
    also queues one empty buffer when it starts; every later empty one is an overflow.
    """

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        super().__init__()
        self._on_overflow = on_overflow
        self._started = False

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Queue as watchdog does; signal an overflow first (never raises into watchdog)."""
        if isinstance(item, tuple) and item and item[0] == b"":
            if self._started:
                try:
                    self._on_overflow()
                except Exception:  # the reader thread must survive anything we do
                    log.exception("overflow callback failed")
            self._started = True
        super().put(item, block, timeout)


_overflow_listeners: list[Callable[[str], None]] = []
_overflow_hook_lock = threading.Lock()
_HOOK_MARK = "_photogate_overflow_hook"  # set on a reader class once it is hooked


def hook_overflow(reader_class: Any, listener: Callable[[str], None]) -> bool:
    """Make every new `reader_class` (watchdog.observers.winapi.DirectoryChangeReader)
    report overflows of its folder to `listener`; False when its shape is unknown."""
    with _overflow_hook_lock:
        if listener not in _overflow_listeners:
            _overflow_listeners.append(listener)
        if getattr(reader_class, _HOOK_MARK, False):
            return True
        original_init = getattr(reader_class, "__init__", None)
        if original_init is None:
            return False

        def __init__(self: Any, path: str, *args: Any, **kwargs: Any) -> None:
            original_init(self, path, *args, **kwargs)
            if not isinstance(getattr(self, "_buf_queue", None), queue.Queue):
                log.warning("unknown watchdog reader: change-buffer overflows stay unseen")
                return

            def overflowed() -> None:
                log.warning("change notifications overflowed in %r: sweeping it now", path)
                for each in list(_overflow_listeners):
                    each(path)

            self._buf_queue = OverflowSignallingQueue(overflowed)

        reader_class.__init__ = __init__
        setattr(reader_class, _HOOK_MARK, True)
        return True


def _hook_windows_overflow(listener: Callable[[str], None]) -> None:
    if sys.platform != "win32":
        return
    try:
        from watchdog.observers import winapi
    except ImportError:
        return
    reader_class = getattr(winapi, "DirectoryChangeReader", None)
    if reader_class is None or not hook_overflow(reader_class, listener):
        log.warning("this watchdog has no known reader: change-buffer overflows stay unseen")


# --- completion detection -------------------------------------------------------------------

MAX_PENDING_PATHS = 50_000  # paths waiting (ready + settling); beyond this, sweep instead
MAX_PENDING_DIRS = 1_000  # new folders waiting for a sweep; beyond this, sweep everything


class CompletionTracker:
    """Decides when a file is complete and queues it once (thread-safe, bounded).

    "closed" and "moved" mean complete now; "created"/"modified" wait until the file's
    mtime is `settle_seconds` old. A path queued twice is queued once. When more than
    `max_pending` paths wait, new ones are dropped and `overflowed` is set: the service
    answers with a full sweep, which finds them from the folder listing instead.
    """

    def __init__(
        self,
        settle_seconds: float,
        *,
        max_pending: int = MAX_PENDING_PATHS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settle_seconds = settle_seconds
        self._max_pending = max_pending
        self._clock = clock
        self._cond = threading.Condition()
        self._ready: deque[str] = deque()
        self._ready_set: set[str] = set()
        self._settling: dict[str, float] = {}  # path -> monotonic time to look again
        self._dirs: set[str] = set()
        self._overflowed = False

    def on_event(self, kind: str, path: str) -> None:
        """Watch callback: record the event; never raises, never blocks for long."""
        if kind in ("closed", "moved"):
            self.put_ready(path)
        elif kind in ("created", "modified"):
            self.put_settling(path)
        elif kind == "dir":
            with self._cond:
                if len(self._dirs) >= MAX_PENDING_DIRS:
                    self._overflowed = True
                else:
                    self._dirs.add(path)
                self._cond.notify()
        elif kind == "deleted":
            with self._cond:
                self._settling.pop(path, None)
        elif kind == "overflow":  # the OS lost events (Windows buffer overflow): full sweep
            with self._cond:
                self._overflowed = True
                self._cond.notify()

    def _full(self) -> bool:
        return len(self._ready_set) + len(self._settling) >= self._max_pending

    def put_ready(self, path: str) -> bool:
        """Queue `path` for inspection now; False when dropped for overflow."""
        with self._cond:
            self._settling.pop(path, None)
            if path in self._ready_set:
                return True
            if self._full():
                self._overflowed = True
                return False
            self._ready.append(path)
            self._ready_set.add(path)
            self._cond.notify()
            return True

    def put_settling(self, path: str, delay: float | None = None) -> bool:
        """Look at `path` again after `delay` (default: the settle time) unless it is ready."""
        with self._cond:
            if path in self._ready_set:
                return True
            if path not in self._settling and self._full():
                self._overflowed = True
                return False
            wait = self.settle_seconds if delay is None else delay
            self._settling[path] = self._clock() + wait
            return True

    def next_ready(self, timeout: float) -> str | None:
        """The next complete path, waiting up to `timeout` seconds; None if none."""
        with self._cond:
            if not self._ready:
                self._cond.wait(timeout)
            if not self._ready:
                return None
            path = self._ready.popleft()
            self._ready_set.discard(path)
            return path

    def take_ready(self, max_count: int) -> list[str]:
        """Up to `max_count` more complete paths that are queued now (never waits).

        The worker takes the burst at hand after `next_ready`: files that arrived while it
        was busy with the last batch are judged and acted on together."""
        with self._cond:
            taken: list[str] = []
            while self._ready and len(taken) < max_count:
                path = self._ready.popleft()
                self._ready_set.discard(path)
                taken.append(path)
            return taken

    def due_settling(self) -> list[str]:
        """Paths whose settle time has come (removed; the caller re-checks each)."""
        now = self._clock()
        with self._cond:
            due = [path for path, when in self._settling.items() if when <= now]
            for path in due:
                del self._settling[path]
        return due

    def take_dirs(self) -> list[str]:
        """New folders reported since the last call."""
        with self._cond:
            dirs = sorted(self._dirs)
            self._dirs.clear()
            return dirs

    def take_overflow(self) -> bool:
        """True (once) when paths were dropped since the last call."""
        with self._cond:
            overflowed, self._overflowed = self._overflowed, False
            return overflowed

    def wake(self) -> None:
        """Wake a waiting `next_ready` (e.g. to stop)."""
        with self._cond:
            self._cond.notify_all()

    @property
    def ready_count(self) -> int:
        """Paths queued for inspection now."""
        with self._cond:
            return len(self._ready)

    @property
    def pending_count(self) -> int:
        """Paths queued or settling."""
        with self._cond:
            return len(self._ready_set) + len(self._settling)
