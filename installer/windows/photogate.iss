; Inno Setup script for Photogate: per-machine install of the PyInstaller onedir build.
;
; Build (after `pyinstaller installer/pyinstaller/photogate.spec` made dist\photogate\):
;   iscc /DAppVersion=0.1.0 installer\windows\photogate.iss      -> dist\installer\
; Silent install / uninstall (GPO startup script, Intune Win32 app, SCCM):
;   photogate-setup-0.1.0.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART /LOG=C:\Windows\Temp\photogate-install.log
;   "C:\Program Files\Photogate\unins000.exe" /VERYSILENT /SUPPRESSMSGBOXES /NORESTART
;   add /PURGE to the uninstall command line to delete %ProgramData%\Photogate too.
;   Setup exit codes (jrsoftware.org/ishelp, "Setup Exit Codes"): 0 done; 7 when "Preparing to
;   Install" refused: a running Photogate could not be stopped, or the policy folder's owner/ACL
;   could not be reset (the reason is in the /LOG file); the others as Inno Setup documents them.
; Uninstall never touches the users' own state (%LOCALAPPDATA%\Photogate, which holds the vault).
;
; Upgrades over a running install: Restart Manager closes the trays it finds (the tray answers
; WM_QUERYENDSESSION/WM_CLOSE: agent/ui/winsession.py); PrepareToInstall also asks every user's
; tray to close, then force-stops what is left; trays that ran are started again for the
; logged-on users where Task Scheduler can (else the Run key starts them at the next logon).

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
; force: a program that does not answer Restart Manager is closed anyway (no unsaved work).
CloseApplications=force
RestartApplications=no
SetupLogging=yes
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

[Tasks]
; Protected mode: `photogate-setup.exe /VERYSILENT /TASKS="protected"` (Intune, GPO, SCCM).
Name: "protected"; Description: "Protected mode: one Photogate service (LocalSystem) for every user of this PC"; \
  Flags: unchecked

[Run]
; Protected mode, in this order: migrate every user's per-user vault into the machine vault,
; register the LocalSystem service (automatic start, restart on every failure), mark the
; machine for the clients, start it. Only Administrators can stop or reconfigure a service.
Filename: "{app}\photogate.exe"; Parameters: "service migrate"; Tasks: protected; \
  Flags: runhidden waituntilterminated
Filename: "{sys}\sc.exe"; Parameters: "create Photogate binPath= ""\""{app}\photogate.exe\"" service run"" start= auto obj= LocalSystem DisplayName= ""Photogate protected mode"""; \
  Tasks: protected; Flags: runhidden waituntilterminated
Filename: "{sys}\sc.exe"; Parameters: "failure Photogate reset= 86400 actions= restart/2000/restart/2000/restart/2000"; \
  Tasks: protected; Flags: runhidden waituntilterminated
Filename: "{cmd}"; Parameters: "/c echo installed by setup> ""{app}\protected-mode"""; Tasks: protected; \
  Flags: runhidden waituntilterminated
Filename: "{sys}\sc.exe"; Parameters: "start Photogate"; Tasks: protected; Flags: runhidden waituntilterminated
; Start the tray for the installing user right away (not during a silent install: that runs
; as SYSTEM under Intune/GPO; users get it from RestartTrays below or at their next logon).
Filename: "{app}\photogate-tray.exe"; Parameters: "run"; Flags: nowait postinstall skipifsilent runasoriginaluser; \
  Description: "Start Photogate now"

[UninstallRun]
Filename: "{sys}\sc.exe"; Parameters: "stop Photogate"; Flags: runhidden waituntilterminated; RunOnceId: "StopService"
Filename: "{sys}\sc.exe"; Parameters: "delete Photogate"; Flags: runhidden waituntilterminated; RunOnceId: "DeleteService"

[UninstallDelete]
Type: files; Name: "{app}\protected-mode"

[Code]
const
  { taskkill: 0 = processes ended; 128 = none was running ("process not found"). }
  TASKKILL_NONE_FOUND = 128;
  { sc.exe exit codes (winerror.h): the service does not exist / is not started / already runs. }
  SC_NO_SERVICE = 1060;
  SC_NOT_ACTIVE = 1062;
  SC_ALREADY_RUNNING = 1056;
  CLOSE_GRACE_MS = 5000;
  ADMINS_SID = '*S-1-5-32-544';
  SYSTEM_SID = '*S-1-5-18';
  USERS_SID = '*S-1-5-32-545';
  RESTART_TASK = 'PhotogateTrayRestart';

var
  TraysWereRunning: Boolean;
  ServiceWasRunning: Boolean;

{ Exec with the exit code logged; True when it is one of the two accepted codes. }
function RunChecked(const Exe, Params: String; const Accept1, Accept2: Integer; var Code: Integer): Boolean;
begin
  Log('run: ' + Exe + ' ' + Params);
  if not Exec(Exe, Params, '', SW_HIDE, ewWaitUntilTerminated, Code) then begin
    Log('  could not start (' + SysErrorMessage(Code) + ')');
    Result := False;
    Exit;
  end;
  Log('  exit code ' + IntToStr(Code));
  Result := (Code = Accept1) or (Code = Accept2);
end;

function ProgramName(const I: Integer): String;
begin
  if I = 0 then Result := 'photogate-tray.exe' else Result := 'photogate.exe';
end;

{ Ask every user's Photogate to close (taskkill without /F sends WM_CLOSE, which the tray
  answers by stopping), give it a few seconds, then force-stop whatever is left. }
function StopRunningPhotogate(): String;
var
  Code, I: Integer;
begin
  Result := '';
  TraysWereRunning := False;
  { Protected mode: stop the service the documented way first; started again after the upgrade. }
  ServiceWasRunning := False;
  if RunChecked(ExpandConstant('{sys}\sc.exe'), 'stop Photogate', 0, SC_NOT_ACTIVE, Code) then
    ServiceWasRunning := (Code = 0)
  else if Code <> SC_NO_SERVICE then
    Log('  the Photogate service did not stop (sc exit code ' + IntToStr(Code) + '); it is forced below');
  if ServiceWasRunning then
    Sleep(CLOSE_GRACE_MS);
  for I := 0 to 1 do begin
    if not RunChecked(ExpandConstant('{sys}\taskkill.exe'), '/IM ' + ProgramName(I), 0, TASKKILL_NONE_FOUND, Code) then
      Log('  polite close of ' + ProgramName(I) + ' did not succeed; it is forced below');
    if (I = 0) and (Code = 0) then
      TraysWereRunning := True;
  end;
  if TraysWereRunning then
    Sleep(CLOSE_GRACE_MS);
  for I := 0 to 1 do
    if not RunChecked(ExpandConstant('{sys}\taskkill.exe'), '/F /T /IM ' + ProgramName(I), 0, TASKKILL_NONE_FOUND, Code) then begin
      Result := 'Could not stop the running ' + ProgramName(I) + ' (taskkill exit code ' + IntToStr(Code) + ').';
      Exit;
    end;
end;

{ %ProgramData%\Photogate: owner Administrators; Administrators and SYSTEM full control, Users
  read only; nothing inherited from ProgramData (which lets Users create and write there).
  A folder that existed before Photogate was first installed may have been made by a standard
  user, with a config.toml of their choosing: it is moved aside, so the shipped policy lands. }
function ProtectPolicyFolder(): String;
var
  Dir, Aside: String;
  Code: Integer;
begin
  Result := '';
  Dir := ExpandConstant('{commonappdata}\Photogate');
  if DirExists(Dir) and not FileExists(ExpandConstant('{app}\unins000.exe')) then begin
    Aside := Dir + '.untrusted-' + GetDateTimeString('yyyymmddhhnnss', #0, #0);
    Log('the policy folder existed before Photogate was installed: moved to ' + Aside);
    if not RenameFile(Dir, Aside) then begin
      Result := 'Could not move aside ' + Dir + ', which existed before Photogate was installed.';
      Exit;
    end;
  end;
  if not ForceDirectories(Dir) then begin
    Result := 'Could not create ' + Dir + '.';
    Exit;
  end;
  { icacls exits 0 on success; each step is checked. Owner first (/setowner does not change
    the ACL), then every file back to inherited-only ACLs (/reset), then the folder's own ACL
    without ProgramData's inheritance (/inheritance:r) and with exactly these grants. }
  if not RunChecked(ExpandConstant('{sys}\icacls.exe'), '"' + Dir + '" /setowner ' + ADMINS_SID + ' /T /C /Q', 0, 0, Code)
    or not RunChecked(ExpandConstant('{sys}\icacls.exe'), '"' + Dir + '" /reset /T /C /Q', 0, 0, Code)
    or not RunChecked(ExpandConstant('{sys}\icacls.exe'), '"' + Dir + '" /inheritance:r /grant:r ' + ADMINS_SID
      + ':(OI)(CI)F ' + SYSTEM_SID + ':(OI)(CI)F ' + USERS_SID + ':(OI)(CI)RX /Q', 0, 0, Code) then
    Result := 'Could not protect ' + Dir + ' (icacls exit code ' + IntToStr(Code) + ').';
end;

function PrepareToInstall(var NeedsRestart: Boolean): String;
begin
  Result := StopRunningPhotogate();
  if Result = '' then
    Result := ProtectPolicyFolder();
  if Result <> '' then
    Log('Preparing to Install refused (setup exit code 7): ' + Result);
end;

{ Start the tray again for the users who had it: a one-shot scheduled task whose principal is
  the Users group runs in the interactive session of each logged-on member. Best effort: when
  it fails (logged), the Run key starts the trays at the next logon. }
procedure RestartTrays();
var
  Code: Integer;
  Script: String;
begin
  Script := '$ErrorActionPreference = ''Stop''; try { '
    + '$a = New-ScheduledTaskAction -Execute ''' + ExpandConstant('{app}\photogate-tray.exe') + ''' -Argument ''run''; '
    + '$p = New-ScheduledTaskPrincipal -GroupId ''S-1-5-32-545'' -RunLevel Limited; '
    + 'Register-ScheduledTask -TaskName ''' + RESTART_TASK + ''' -Action $a -Principal $p -Force | Out-Null; '
    + 'Start-ScheduledTask -TaskName ''' + RESTART_TASK + '''; Start-Sleep -Seconds 3; '
    + 'Unregister-ScheduledTask -TaskName ''' + RESTART_TASK + ''' -Confirm:$false; exit 0 '
    + '} catch { Write-Output $_; exit 1 }';
  if not RunChecked(ExpandConstant('{sys}\WindowsPowerShell\v1.0\powershell.exe'),
      '-NoProfile -NonInteractive -ExecutionPolicy Bypass -Command "' + Script + '"', 0, 0, Code) then
    Log('trays not restarted now (exit code ' + IntToStr(Code) + '); they start at the next logon');
end;

procedure CurStepChanged(CurStep: TSetupStep);
var
  Code: Integer;
begin
  if CurStep = ssPostInstall then begin
    if ServiceWasRunning and not RunChecked(ExpandConstant('{sys}\sc.exe'), 'start Photogate', 0, SC_ALREADY_RUNNING, Code) then
      Log('WARNING: the Photogate service did not start again (sc exit code ' + IntToStr(Code) + ')');
    if TraysWereRunning then
      RestartTrays();
  end;
end;

{ Uninstall: stop every user's Photogate first (each step checked and logged) so its files can
  go. /PURGE on the uninstall command line also deletes the machine policy folder. }
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  I, Code: Integer;
begin
  if CurUninstallStep = usUninstall then begin
    if RunChecked(ExpandConstant('{sys}\taskkill.exe'), '/IM photogate-tray.exe', 0, TASKKILL_NONE_FOUND, Code)
      and (Code = 0) then
      Sleep(CLOSE_GRACE_MS);
    for I := 0 to 1 do
      if not RunChecked(ExpandConstant('{sys}\taskkill.exe'), '/F /T /IM ' + ProgramName(I), 0, TASKKILL_NONE_FOUND, Code) then
        Log('WARNING: ' + ProgramName(I) + ' could not be stopped; its files may stay until a reboot');
  end;
  if CurUninstallStep = usPostUninstall then
    for I := 1 to ParamCount do
      if CompareText(ParamStr(I), '/PURGE') = 0 then
        DelTree(ExpandConstant('{commonappdata}\Photogate'), True, True, True);
end;
