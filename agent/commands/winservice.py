"""Protected mode on Windows: `photogate service` as a LocalSystem service (pywin32).

NOT RUNNABLE on the Linux machines this project is tested on: written against pywin32's
`win32serviceutil.ServiceFramework` and the Win32 security API documentation, typed, and
checked with `mypy --platform win32`. The installer (installer/windows/photogate.iss)
registers it as `Photogate`, start type automatic, account LocalSystem, with recovery
"restart the service" on every failure; only Administrators can stop it (the default
service DACL gives Interactive Users query rights only).

`secure_state_dir` gives `%ProgramData%\\Photogate` a protected DACL of SYSTEM and
Administrators only, so no user can read the vault, its key, the state or the events.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from agent import paths

log = logging.getLogger("photogate.service.windows")

SERVICE_NAME = "Photogate"
SERVICE_DISPLAY_NAME = "Photogate protected mode"
SERVICE_DESCRIPTION = (
    "Checks every user's downloads and mail attachments for booby-trapped pictures and "
    "keeps the quarantine; the tray and review window are its clients."
)
# Protected (P), inherited by files and folders (OICI): full control for SYSTEM and
# BUILTIN\Administrators, nothing for anyone else.
STATE_DIR_SDDL = "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"


def secure_state_dir(folder: Path) -> None:  # pragma: no cover - Windows only
    """Create `folder` and replace its DACL with SYSTEM + Administrators (protected)."""
    if sys.platform != "win32":
        raise OSError("Windows only")
    import win32security

    folder.mkdir(parents=True, exist_ok=True)
    descriptor = win32security.ConvertStringSecurityDescriptorToSecurityDescriptor(
        STATE_DIR_SDDL, win32security.SDDL_REVISION_1
    )
    dacl = descriptor.GetSecurityDescriptorDacl()
    win32security.SetNamedSecurityInfo(
        str(folder),
        win32security.SE_FILE_OBJECT,
        win32security.DACL_SECURITY_INFORMATION | win32security.PROTECTED_DACL_SECURITY_INFORMATION,
        None,
        None,
        dacl,
        None,
    )


def build_service() -> Any:  # pragma: no cover - Windows only
    """The ProtectedService with Windows' locations (%ProgramData%\\Photogate, the pipe)."""
    from agent.commands.run import setup_logging
    from agent.policy.keeper import PolicyKeeper
    from agent.policy.registry import default_registry_source
    from agent.service.api import WINDOWS_PIPE_NAME
    from agent.service.protected import ProtectedService

    state_dir = paths.machine_state_dir()
    secure_state_dir(state_dir)
    setup_logging(state_dir / "logs")
    keeper = PolicyKeeper(
        paths.machine_config_path(),
        None,
        default_registry_source(),
        last_good_file=state_dir / "last-good-policy.toml",
    )
    policy = keeper.current.policy
    vault_root = paths.machine_vault_dir(policy.vault.path) if policy.vault.path else None
    return ProtectedService(
        keeper, state_dir=state_dir, address=WINDOWS_PIPE_NAME, vault_root=vault_root
    )


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - Windows only
    """`photogate-service.exe [install|start|stop|remove]`, or run under the SCM."""
    if sys.platform != "win32":
        raise OSError("the Windows service runs on Windows only")
    import servicemanager
    import win32event
    import win32service
    import win32serviceutil

    class PhotogateService(win32serviceutil.ServiceFramework):  # type: ignore[misc]
        _svc_name_ = SERVICE_NAME
        _svc_display_name_ = SERVICE_DISPLAY_NAME
        _svc_description_ = SERVICE_DESCRIPTION

        def __init__(self, args: Any) -> None:
            super().__init__(args)
            self._stopped = win32event.CreateEvent(None, 0, 0, None)
            self._service: Any = None

        def SvcStop(self) -> None:
            self.ReportServiceStatus(win32service.SERVICE_STOP_PENDING)
            if self._service is not None:
                self._service.request_stop()
            win32event.SetEvent(self._stopped)

        def SvcDoRun(self) -> None:
            servicemanager.LogInfoMsg(f"{SERVICE_NAME} starting")
            try:
                self._service = build_service()
                code = self._service.run_forever()  # not the main thread: no signal handlers
            except Exception:
                log.exception("the service failed")
                code = 1
            servicemanager.LogInfoMsg(f"{SERVICE_NAME} stopped ({code})")

    arguments = sys.argv if argv is None else argv
    if len(arguments) == 1:
        servicemanager.Initialize()
        servicemanager.PrepareToHostSingle(PhotogateService)
        servicemanager.StartServiceCtrlDispatcher()
        return 0
    win32serviceutil.HandleCommandLine(PhotogateService, argv=arguments)
    return 0
