"""The tray icon (pystray): the only module importing pystray.

`run_with_tray(service)` owns the main thread (macOS requires it) and starts the agent
in pystray's setup thread. Worker threads never touch pystray: the service's listener
only sets an event; one refresher thread rebuilds the icon, tooltip and menu from a
fresh snapshot (pure functions in `agent.ui.menu`). The xorg, gtk and appindicator
backends marshal those updates into their own loop; on macOS they are handed to the
main thread with PyObjC's `AppHelper.callAfter` (`update_menu` off the main thread
crashes there). The review window and "Scan a file…" run as separate processes.

On Linux the backend is pystray's `gtk` (a GtkStatusIcon through PyGObject): a left
click opens the review window, a right click the menu, and GTK docks the icon into a
tray host whenever one appears (a login race). Notifications go to the freedesktop
service over D-Bus (agent.ui.notify_dbus), so a click on one opens the window on that
item. `xorg` is the last fallback: no menu, no notifications, a click opens the window.

The tray never outlives protection: SIGTERM, SIGINT and Quit stop the agent and the
icon, and a process that has not ended STOP_GRACE_SECONDS later ends hard; if the
agent's worker dies, the icon shows the problem and the process exits non-zero.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from agent import paths, platform
from agent.platform.wintext import (
    NOTIFY_INFO_UNITS,
    NOTIFY_TIP_UNITS,
    NOTIFY_TITLE_UNITS,
    cut_utf16,
)
from agent.service.state import AgentState
from agent.textsafe import safe_text
from agent.ui.icons import draw_icon
from agent.ui.mac_notify import MacNotifier
from agent.ui.menu import (
    ACTION_OPEN_LOGS,
    ACTION_QUIT,
    ACTION_RESUME,
    ACTION_REVIEW,
    ACTION_SCAN,
    MenuEntry,
    build_menu,
    icon_state,
    parse_pause_action,
    tooltip,
)
from agent.ui.winsession import install_session_handlers

log = logging.getLogger(__name__)

REFRESH_SECONDS = 15.0  # re-read the state this often anyway: a pause runs out on its own
STOP_GRACE_SECONDS = 4.0  # after a stop request the process ends hard this long later
FATAL_SHOW_SECONDS = 3.0  # the problem icon stays this long before a dead agent exits
EXIT_WORKER_DIED = 70  # = agent.service.loop.EXIT_WORKER_DIED (EX_SOFTWARE)
LINUX_BACKENDS = ("gtk", "xorg")  # with menus first; xorg only as the last fallback
NOTIFY_TITLE_CHARS = 63  # Windows balloon titles hold 64 UTF-16 units
NOTIFY_MESSAGE_CHARS = 255  # Windows balloon text holds 256 UTF-16 units


class TrayService(Protocol):
    """What the tray needs from `agent.service.loop.AgentService`."""

    def snapshot(self) -> AgentState: ...
    def pause(self, seconds: float) -> None: ...
    def resume(self) -> None: ...
    def add_listener(self, callback: Callable[[AgentState], None]) -> None: ...
    def set_notifier(self, notifier: Any) -> None: ...
    def mark_reviewed(self) -> None: ...
    def record_quit(self, via: str = "tray") -> None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


def choose_backend() -> str | None:
    """Pick pystray's backend before it is imported (Linux: gtk when PyGObject works).

    pystray's own order tries appindicator first, whose icons take no left click; an
    explicit PYSTRAY_BACKEND (set by a person or a test) always wins.
    """
    if not sys.platform.startswith("linux"):
        return os.environ.get("PYSTRAY_BACKEND")
    if os.environ.get("PYSTRAY_BACKEND"):
        return os.environ["PYSTRAY_BACKEND"]
    try:
        import gi

        gi.require_version("Gtk", "3.0")
        from gi.repository import Gtk

        usable = bool(Gtk.init_check()[0])
    except (ImportError, ValueError):
        usable = False
    chosen = LINUX_BACKENDS[0] if usable else LINUX_BACKENDS[-1]
    os.environ["PYSTRAY_BACKEND"] = chosen
    return chosen


def agent_command(*args: str) -> list[str]:
    """The command line that runs `photogate <args>` with this same installation."""
    if getattr(sys, "frozen", False):  # a PyInstaller build: the executable is photogate
        return [sys.executable, *args]
    return [sys.executable, "-m", "agent", *args]


def open_folder(folder: str) -> None:
    """Show `folder` in the OS file manager."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    if sys.platform == "win32":
        os.startfile(folder)  # noqa: S606  (Windows only)
    elif sys.platform == "darwin":
        subprocess.Popen(["open", folder])
    else:
        subprocess.Popen(["xdg-open", folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class TrayApp:
    """The icon, its menu, and the glue between pystray and the agent service."""

    def __init__(self, service: TrayService, pystray_module: Any = None) -> None:
        """Prepare the icon for `service`; nothing is shown until `run`."""
        if pystray_module is None:
            choose_backend()
            import pystray

            pystray_module = pystray
        self.pystray = pystray_module
        self.service = service
        self._state = service.snapshot()
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._shown: tuple[Any, ...] = ()
        self.exit_code = 0
        self.policy_file: Path | None = None  # `run --config FILE`: the windows read it too
        self._stop_lock = threading.Lock()
        self._stop_requested = False
        self.backend = pystray_module.Icon.__module__.rsplit(".", 1)[-1].lstrip("_")
        # python-xlib writes the xorg backend's title as a Latin-1 STRING property.
        self._latin1_titles = self.backend == "xorg"
        self.desktop_notifier: Any = None  # agent.ui.notify_dbus.DBusNotifier once connected
        now = time.time()
        self.icon = pystray_module.Icon(
            "photogate",
            icon=draw_icon(icon_state(self._state, now)),
            title=self._title(tooltip(self._state, now)),
            menu=pystray_module.Menu(self._menu_items),
        )
        # Windows: answer WM_QUERYENDSESSION/WM_ENDSESSION/WM_CLOSE so logoff and the
        # installer's Restart Manager can close the tray (agent/ui/winsession.py).
        install_session_handlers(self.icon, self.stop)

    # --- menu ----------------------------------------------------------------------------

    def _menu_items(self) -> Iterator[Any]:
        """pystray calls this whenever it builds the menu (the menu is a pure function)."""
        for entry in build_menu(self._state, time.time()):
            yield self._to_pystray(entry)

    def _to_pystray(self, entry: MenuEntry) -> Any:
        pystray = self.pystray
        if entry.separator:
            return pystray.Menu.SEPARATOR
        if entry.submenu:
            children = [self._to_pystray(child) for child in entry.submenu]
            return pystray.MenuItem(entry.label, pystray.Menu(*children), enabled=entry.enabled)
        action = entry.action
        callback = None if action is None else (lambda _icon, _item: self.perform(action))
        return pystray.MenuItem(
            entry.label,
            callback,
            enabled=entry.enabled and action is not None,
            default=entry.default,
        )

    def perform(self, action: str) -> None:
        """Run a menu action (called on pystray's thread; everything here is quick)."""
        try:
            self._perform(action)
        except Exception:  # a failing action must not take the icon down
            log.exception("tray action %s failed", action)
        self._changed.set()

    def _perform(self, action: str) -> None:
        seconds = parse_pause_action(action)
        if seconds is not None:
            if self._state.allow_pause:
                self.service.pause(seconds)
        elif action == ACTION_RESUME:
            self.service.resume()
        elif action == ACTION_REVIEW:
            self.open_review(None)
        elif action == ACTION_SCAN:
            self._launch("scan", agent_command("review", "--scan-file"))
        elif action == ACTION_OPEN_LOGS:
            open_folder(str(paths.log_dir()))
        # Re-read on Quit: the policy may have taken it away since the menu was drawn.
        elif (
            action == ACTION_QUIT and self._state.allow_quit and self.service.snapshot().allow_quit
        ):
            self.service.record_quit("tray")
            self.stop()

    def _quit_allowed(self) -> bool:
        """Quit only while policy allows it, re-read now: it may have changed since drawing."""
        return self._state.allow_quit and self.service.snapshot().allow_quit

    def open_review(self, item_id: str | None) -> None:
        """Open the review window (on `item_id` when a notification was clicked)."""
        self.service.mark_reviewed()
        command = agent_command("review")
        if self.policy_file is not None:
            command += ["--policy", str(self.policy_file)]
        if item_id:
            command += ["--item", item_id]
        self._launch("review", command, replace=item_id is not None)

    def _launch(self, kind: str, command: list[str], *, replace: bool = False) -> None:
        """Start a window process unless one of this kind is open (`replace`: reopen it)."""
        running = self._children.get(kind)
        if running is not None and running.poll() is None:
            if not replace:
                return
            running.terminate()
        self._children[kind] = subprocess.Popen(command, stdin=subprocess.DEVNULL)

    # --- state changes -------------------------------------------------------------------

    def state_changed(self, _state: AgentState | None = None) -> None:
        """The service's listener: called from worker threads, so it only sets an event."""
        self._changed.set()

    def refresh(self) -> None:
        """Re-read the state and update icon, tooltip and menu if anything shows differently."""
        self._state = self.service.snapshot()
        now = time.time()
        shown = (
            icon_state(self._state, now),
            tooltip(self._state, now),
            build_menu(self._state, now),
        )
        if shown == self._shown:
            return
        self._shown = shown
        image = draw_icon(shown[0])
        self._on_ui_thread(lambda: self._apply(image, shown[1]))

    def _title(self, text: str) -> str:
        """The tooltip as this backend can carry it (xorg: Latin-1 only)."""
        if not self._latin1_titles:
            return cut_utf16(text, NOTIFY_TIP_UNITS)  # szTip: WCHAR[128] on Windows
        text = text.replace("—", "-").replace("…", "...")
        return text.encode("latin-1", "replace").decode("latin-1")

    def _apply(self, image: Any, title: str) -> None:
        self.icon.icon = image
        self.icon.title = self._title(title)
        if getattr(self.icon, "HAS_MENU", True):
            self.icon.update_menu()

    def _on_ui_thread(self, update: Callable[[], None]) -> None:
        if sys.platform == "darwin":
            try:
                from PyObjCTools import AppHelper  # type: ignore[import-not-found,unused-ignore]
            except ImportError:
                return  # without PyObjC there is no darwin backend either
            AppHelper.callAfter(update)
        else:
            update()

    def notify(
        self, title: str, message: str, *, item_id: str | None = None, severity: str = "high"
    ) -> None:
        """Show a desktop notification where the backend can (Notifier protocol).

        Names in `message` must already be sanitized by the caller; this cuts the text
        to what Windows balloons hold. Where the backend has no notifications (xorg),
        the icon's badge and tooltip carry the news. pystray offers no click callback
        on notifications; a click on the icon itself opens the review window.
        """
        self._changed.set()
        # Windows counts these buffers in UTF-16 units (an emoji in a name is two).
        title = cut_utf16(safe_text(title, NOTIFY_TITLE_CHARS), NOTIFY_TITLE_UNITS)
        message = cut_utf16(safe_text(message, NOTIFY_MESSAGE_CHARS), NOTIFY_INFO_UNITS)
        if sys.platform == "darwin":  # the notification centre (agent/ui/mac_notify.py)
            MacNotifier().show(title, message)
            return
        if self.desktop_notifier is not None:
            self.desktop_notifier.notify(title, message, item_id, critical=severity == "high")
            return
        if not getattr(self.icon, "HAS_NOTIFICATION", False):
            return
        self._on_ui_thread(lambda: self.icon.notify(message, title))

    @staticmethod
    def _listen_for_clicks(icon: Any) -> None:
        """pystray's xorg window never asks for button events: ask, so a click opens review.

        Its ButtonPress handler (left button -> the default menu entry) is already there;
        only the window's event mask lacks ButtonPressMask.
        """
        try:
            from Xlib import X

            icon._window.change_attributes(
                event_mask=X.ExposureMask | X.StructureNotifyMask | X.ButtonPressMask
            )
            icon._display.flush()
        except Exception:  # a private attribute of pystray: without it, the menu-less icon
            log.warning("the xorg tray icon cannot take clicks", exc_info=True)

    def _connect_notifications(self) -> None:
        """The freedesktop notification service, where the backend runs a GLib loop."""
        if self.backend not in ("gtk", "appindicator"):
            return
        try:
            from agent.ui.notify_dbus import DBusNotifier

            self.desktop_notifier = DBusNotifier(self.open_review)
        except (ImportError, OSError, ValueError) as error:
            log.info("desktop notifications unavailable (%s): pystray's own are used", error)

    # --- life cycle ----------------------------------------------------------------------

    def _setup(self, icon: Any) -> None:
        """pystray's setup thread: show the icon, start the agent, then keep it current."""
        icon.visible = True
        if self.backend == "xorg":
            self._listen_for_clicks(icon)
        self._connect_notifications()
        self.service.set_notifier(self)
        self.service.add_listener(self.state_changed)
        if self._stopping.is_set():
            return  # a signal arrived while the icon was being set up
        self.service.start()
        self._changed.set()
        died: threading.Event | None = getattr(self.service, "died", None)
        while not self._stopping.is_set():
            self._changed.wait(REFRESH_SECONDS)
            if self._stopping.is_set():
                break
            self._changed.clear()
            try:
                self.refresh()
            except Exception:
                log.exception("tray refresh failed")
            if died is not None and died.is_set():
                self._fatal()
                return

    def _fatal(self) -> None:
        """The agent's worker died: show it, then exit non-zero so autostart restarts us."""
        log.critical("protection stopped: the tray exits so that it can be restarted")
        self.notify(
            "Photogate stopped protecting this PC",
            "It will restart itself; if this happens again, tell IT.",
        )
        self._stopping.wait(FATAL_SHOW_SECONDS)
        self.exit_code = EXIT_WORKER_DIED
        self.stop()

    def run(self) -> int:
        """Run the icon on this (main) thread until Quit or `stop`; returns the exit code."""
        try:
            self.icon.run(setup=self._setup)
        finally:
            self._stopping.set()
            self._changed.set()
            with contextlib.suppress(Exception):
                self.service.stop()
        return self.exit_code

    def stop(self) -> None:
        """Stop the agent and remove the icon (any thread); the process ends soon after."""
        with self._stop_lock:
            if self._stop_requested:
                return
            self._stop_requested = True
        self._stopping.set()
        self._changed.set()
        # Whatever hangs below (a backend loop, a stuck observer), the tray must not stay
        # behind looking like protection.
        hard_exit = threading.Timer(STOP_GRACE_SECONDS, _exit_now, args=(self,))
        hard_exit.daemon = True
        hard_exit.start()
        with contextlib.suppress(Exception):
            self.service.stop()
        self.icon.stop()


def _exit_now(app: TrayApp) -> None:
    """The last resort of `stop`: end the process without waiting for anything."""
    log.error("the tray did not stop within %.0f s: exiting hard", STOP_GRACE_SECONDS)
    logging.shutdown()
    os._exit(app.exit_code)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _install_handlers(app: TrayApp) -> None:
    """Python-level handlers: they run on the main thread whenever its loop wakes up."""

    def handle(_signum: int, _frame: object) -> None:
        # Stopping joins threads: never on the main thread, whose loop must keep running.
        threading.Thread(target=app.stop, name="stop", daemon=True).start()

    for signum in STOP_SIGNALS:
        signal.signal(signum, handle)


def _stop_on_signals(app: TrayApp) -> None:
    """Stop on SIGTERM/SIGINT even while the main thread sleeps in the tray's loop.

    A Python handler runs only when the main thread executes bytecode, and the xorg
    loop sleeps in a socket read that a signal delivered to another thread never
    interrupts. But the C-level handler writes the signal number to the wakeup fd at
    once, from whichever thread got it: a small thread reads that and stops the app.
    PyGObject's loop (gtk backend) wakes itself on signals with its own wakeup fd while
    it runs, so there the Python handler does the stop; pystray resets SIGINT to the
    default when that loop starts, so the handlers are installed again from inside it.
    """
    read_fd, write_fd = os.pipe()
    if not platform.set_nonblocking(write_fd):  # Windows: no SIGTERM to wait for anyway
        os.close(read_fd)
        os.close(write_fd)
        return
    _install_handlers(app)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)

    def _watch() -> None:
        while True:
            received = os.read(read_fd, 64)
            if not received or any(signum in received for signum in STOP_SIGNALS):
                app.stop()
                return

    threading.Thread(target=_watch, name="stop-signals", daemon=True).start()
    if app.backend in ("gtk", "appindicator"):
        with contextlib.suppress(ImportError, ValueError):
            from gi.repository import GLib

            def reinstall() -> bool:
                _install_handlers(app)
                return False  # once

            GLib.idle_add(reinstall)


def run_with_tray(service: TrayService, *, policy_file: Path | None = None) -> int:
    """Show the tray icon for `service` and run until Quit; owns the calling (main) thread.

    SIGTERM and SIGINT (logout, service manager, Ctrl+C, tests) stop the agent and the
    icon; the exit code is non-zero when the agent's worker died. `policy_file`: the
    machine policy the agent was started with (`run --config`), passed to the review
    window so that it grants what the agent's policy grants.
    """
    app = TrayApp(service)
    app.policy_file = policy_file
    with contextlib.suppress(ValueError, AttributeError, OSError):  # not main thread / Windows
        _stop_on_signals(app)
    return app.run()
