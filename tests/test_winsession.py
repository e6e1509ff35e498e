"""The tray answers Windows' session messages (pystray's win32 backend dispatches by dict)."""

from __future__ import annotations

from agent.ui.winsession import (
    ENDSESSION_CLOSEAPP,
    WM_CLOSE,
    WM_ENDSESSION,
    WM_QUERYENDSESSION,
    install_session_handlers,
)


class Win32LikeIcon:
    """What pystray._win32.Icon exposes: `_message_handlers`, called as handler(w, l)."""

    __module__ = "pystray._win32"  # the backend check looks at the icon's module

    def __init__(self) -> None:
        self._message_handlers: dict[int, object] = {0x0401: lambda wparam, lparam: 0}


def dispatch(icon: Win32LikeIcon, message: int, wparam: int, lparam: int) -> int:
    """pystray's _dispatcher: unknown messages answer 0."""
    handler = icon._message_handlers.get(message, lambda wparam, lparam: 0)
    return int(handler(wparam, lparam) or 0)  # type: ignore[operator]


def test_restart_manager_sequence_closes_the_tray() -> None:
    stopped: list[str] = []
    icon = Win32LikeIcon()
    assert dispatch(icon, WM_QUERYENDSESSION, 0, ENDSESSION_CLOSEAPP) == 0  # before: refuses
    assert install_session_handlers(icon, lambda: stopped.append("stop"))
    assert dispatch(icon, WM_QUERYENDSESSION, 0, ENDSESSION_CLOSEAPP) == 1  # TRUE: may close
    assert stopped == []  # asking is not closing
    assert dispatch(icon, WM_ENDSESSION, 0, 0) == 0  # the session goes on: keep running
    assert stopped == []
    assert dispatch(icon, WM_ENDSESSION, 1, ENDSESSION_CLOSEAPP) == 0
    assert stopped == ["stop"]
    assert dispatch(icon, WM_CLOSE, 0, 0) == 0
    assert stopped == ["stop", "stop"]
    assert 0x0401 in icon._message_handlers  # pystray's own handlers stay


def test_other_backends_are_left_alone() -> None:
    class XorgIcon:
        """pystray's xorg icon has a `_message_handlers` dict of X event types too."""

        __module__ = "pystray._xorg"

        def __init__(self) -> None:
            self._message_handlers: dict[int, object] = {}

    xorg = XorgIcon()
    assert install_session_handlers(xorg, lambda: None) is False
    assert xorg._message_handlers == {}
