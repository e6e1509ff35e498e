"""Desktop notifications on Linux through the freedesktop notification service (D-Bus).

pystray's own notifications cannot tell us when one is clicked, and the xorg backend has
none at all. This speaks `org.freedesktop.Notifications` directly with GLib's D-Bus
client (PyGObject): each notification carries a "default" action, which is what a click
on it invokes in every common daemon (GNOME Shell, KDE Plasma, xfce4-notifyd, dunst,
notification-daemon). The daemon answers with `ActionInvoked(id, "default")`; we map the
id back to the vault item and open the review window on it.

Signals are delivered by the GLib main loop, which the gtk tray backend runs on the main
thread; `notify` may be called from any thread (it hands the call to that loop).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"
APP_NAME = "Photogate"
DEFAULT_ACTION = "default"  # the action a click on the notification body invokes
DEFAULT_ACTION_LABEL = "Review"
CALL_TIMEOUT_MS = 2000  # a daemon that does not answer within this is given up on
MAX_REMEMBERED = 200  # notification ids kept for mapping clicks back to items
URGENCY_NORMAL = 1
URGENCY_CRITICAL = 2


def markup_escaped(text: str) -> str:
    """`text` safe for daemons that read the body as markup (`<b>`, `&amp;`)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class DBusNotifier:
    """Sends notifications and reports clicks: `on_click(item_id or None)`."""

    def __init__(self, on_click: Callable[[str | None], None]) -> None:
        """Connect to the session bus now; raises OSError when there is none."""
        import gi

        gi.require_version("Gio", "2.0")
        from gi.repository import Gio, GLib

        self._gio = Gio
        self._glib = GLib
        self._on_click = on_click
        self._items: dict[int, str | None] = {}
        self._lock = threading.Lock()
        try:
            self._bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
        except GLib.Error as error:
            raise OSError(f"no session D-Bus: {error.message}") from None
        self._subscription = self._bus.signal_subscribe(
            BUS_NAME,
            INTERFACE,
            "ActionInvoked",
            OBJECT_PATH,
            None,
            Gio.DBusSignalFlags.NONE,
            self._on_action,
        )

    def notify(self, title: str, message: str, item_id: str | None, *, critical: bool) -> None:
        """Show one notification (title and message already made safe by the caller)."""
        self._glib.idle_add(self._send, title, message, item_id, critical)

    def _send(self, title: str, message: str, item_id: str | None, critical: bool) -> bool:
        GLib = self._glib
        hints = {
            "urgency": GLib.Variant("y", URGENCY_CRITICAL if critical else URGENCY_NORMAL),
            "desktop-entry": GLib.Variant("s", "photogate"),
        }
        parameters = GLib.Variant(
            "(susssasa{sv}i)",
            (
                APP_NAME,
                0,
                "dialog-warning",
                title,
                markup_escaped(message),
                [DEFAULT_ACTION, DEFAULT_ACTION_LABEL],
                hints,
                -1,
            ),
        )
        try:
            reply = self._bus.call_sync(
                BUS_NAME,
                OBJECT_PATH,
                INTERFACE,
                "Notify",
                parameters,
                GLib.VariantType.new("(u)"),
                self._gio.DBusCallFlags.NONE,
                CALL_TIMEOUT_MS,
                None,
            )
        except GLib.Error as error:  # no daemon running: the icon's badge still tells
            log.warning("desktop notification not shown: %s", error.message)
            return False
        (notification_id,) = reply.unpack()
        with self._lock:
            self._items[int(notification_id)] = item_id
            while len(self._items) > MAX_REMEMBERED:
                del self._items[next(iter(self._items))]
        return False  # an idle callback that is done

    def _on_action(self, *args: Any) -> None:
        parameters = args[5]  # (connection, sender, path, interface, signal, parameters)
        try:
            notification_id, action = parameters.unpack()
        except (TypeError, ValueError):
            return
        with self._lock:
            if int(notification_id) not in self._items:
                return  # another program's notification
            item_id = self._items[int(notification_id)]
        if action == DEFAULT_ACTION:
            try:
                self._on_click(item_id)
            except Exception:
                log.exception("opening the review window from a notification failed")

    def close(self) -> None:
        """Stop listening for clicks."""
        self._bus.signal_unsubscribe(self._subscription)
