; Inno Setup script for Photogate: per-machine install of the PyInstaller onedir build.
;
; Build (after `pyinstaller installer/pyinstaller/photogate.spec` made dist\photogate\):
;   iscc /DAppVersion=0.1.0 installer\windows\photogate.iss      -> dist\installer\
; Silent install / uninstall (GPO startup script, Intune Win32 app, SCCM):
;   photogate-setup-0.1.0.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART /LOG=C:\Windows\Temp\photogate-install.log
;   "C:\Program Files\Photogate\unins000.exe" /VERYSILENT /SUPPRESSMSGBOXES /NORESTART
;   add /PURGE to the uninstall command line to delete %ProgramData%\Photogate too.
; Uninstall never touches the users' own state (%LOCALAPPDATA%\Photogate, which holds the vault).

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define DistDir "..\..\dist\photogate"

[Setup]
AppId={{6C1F3A52-9B4E-4C33-8E0B-2D5A7F1C9E40}
AppName=Photogate
AppVersion={#AppVersion}
AppPublisher=Photogate
DefaultDirName={autopf}\Photogate
DisableDirPage=yes
DisableProgramGroupPage=yes
PrivilegesRequired=admin
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist\installer
OutputBaseFilename=photogate-setup-{#AppVersion}
Compression=lzma2
SolidCompression=yes
CloseApplications=yes
RestartApplications=no
UninstallDisplayIcon={app}\photogate.exe
VersionInfoVersion={#AppVersion}

[Files]
Source: "{#DistDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
; The machine policy: shipped once, never overwritten (IT edits or replaces it), kept on uninstall.
Source: "..\..\config.toml"; DestDir: "{commonappdata}\Photogate"; Flags: onlyifdoesntexist uninsneveruninstall

[Dirs]
Name: "{commonappdata}\Photogate"; Flags: uninsneveruninstall

[Registry]
; Tray for every user at logon. photogate-tray.exe has no console window.
Root: HKLM; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; \
  ValueName: "Photogate"; ValueData: """{app}\photogate-tray.exe"" run"; Flags: uninsdeletevalue
; Event Log source. The message file is .NET Framework's EventLogMessages.dll (part of every
; Windows 10/11), which defines every event ID as "%1": the event text is the JSON event itself.
; Registering here, as admin, means the agent (running as the user) never needs to.
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Services\EventLog\Application\Photogate"; \
  Flags: uninsdeletekey
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Services\EventLog\Application\Photogate"; \
  ValueType: expandsz; ValueName: "EventMessageFile"; \
  ValueData: "%SystemRoot%\Microsoft.NET\Framework64\v4.0.30319\EventLogMessages.dll"
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Services\EventLog\Application\Photogate"; \
  ValueType: dword; ValueName: "TypesSupported"; ValueData: "7"

[Run]
; %ProgramData%\Photogate: Administrators and SYSTEM full control, users read only. /inheritance:r
; drops the inherited "Users: write" that ProgramData gives to new folders.
Filename: "{sys}\icacls.exe"; \
  Parameters: """{commonappdata}\Photogate"" /inheritance:r /grant:r *S-1-5-32-544:(OI)(CI)F *S-1-5-18:(OI)(CI)F *S-1-5-32-545:(OI)(CI)RX"; \
  Flags: runhidden waituntilterminated; StatusMsg: "Protecting the policy folder..."
; Start the tray for the installing user right away (not during a silent install: that runs
; as SYSTEM under Intune/GPO; users get it at their next logon).
Filename: "{app}\photogate-tray.exe"; Parameters: "run"; Flags: nowait postinstall skipifsilent runasoriginaluser; \
  Description: "Start Photogate now"

[UninstallRun]
; Stop running agents of every user so their files can be removed.
Filename: "{sys}\taskkill.exe"; Parameters: "/F /T /IM photogate-tray.exe"; Flags: runhidden; RunOnceId: "StopTray"
Filename: "{sys}\taskkill.exe"; Parameters: "/F /T /IM photogate.exe"; Flags: runhidden; RunOnceId: "StopAgent"

[Code]
{ /PURGE on the uninstall command line also deletes the machine policy folder. }
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  I: Integer;
begin
  if CurUninstallStep = usPostUninstall then
    for I := 1 to ParamCount do
      if CompareText(ParamStr(I), '/PURGE') = 0 then
        DelTree(ExpandConstant('{commonappdata}\Photogate'), True, True, True);
end;
