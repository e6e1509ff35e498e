"""Windows: Win32 through ctypes, written against Microsoft's documentation.

This machine-specific part cannot run on the Linux CI; it is type-checked with
`mypy --platform win32 agent` (scripts/test) and exercised on the windows-latest runner
(.github/workflows/installers.yml). Everything that can be pure Python lives in
`portable.py` (tested on Linux with the Unix-only attributes removed) and `wintext.py`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import msvcrt
import os
import subprocess
import sys
import time
from ctypes import wintypes
from pathlib import Path
from typing import NoReturn

from agent.platform.base import ChildLimits, SourceFile
from agent.platform.portable import PortablePlatform, is_link_or_reparse, same_file
from agent.platform.wintext import extended_path, winerror_in_use, winerror_no_hard_links

assert sys.platform == "win32"  # mypy on other platforms skips the rest of this module

# --- constants (winnt.h / fileapi.h / winerror.h, as documented on learn.microsoft.com) ----
GENERIC_READ = 0x80000000
DELETE = 0x00010000
FILE_READ_ATTRIBUTES = 0x0080
SYNCHRONIZE = 0x00100000
FILE_SHARE_READ = 0x1
FILE_SHARE_WRITE = 0x2
FILE_SHARE_DELETE = 0x4
OPEN_EXISTING = 3
FILE_FLAG_OPEN_REPARSE_POINT = 0x00200000  # CreateFileW: open the link itself, never its target
FILE_FLAG_SEQUENTIAL_SCAN = 0x08000000
FILE_ATTRIBUTE_REPARSE_POINT = 0x400
FILE_FLAG_BACKUP_SEMANTICS = 0x02000000  # CreateFileW: needed to open a folder
READ_CONTROL = 0x00020000  # read the security descriptor (owner) only, no data access
SE_FILE_OBJECT = 1  # SE_OBJECT_TYPE (accctrl.h)
OWNER_SECURITY_INFORMATION = 0x1  # SECURITY_INFORMATION (winnt.h)
INVALID_HANDLE_VALUE = ctypes.c_void_p(-1).value
ERROR_INVALID_PARAMETER = 87  # FileDispositionInfoEx before Windows 10 1607 / off NTFS
# FILE_INFO_BY_HANDLE_CLASS (minwinbase.h): FileDispositionInfo = 4, FileDispositionInfoEx = 21
FILE_DISPOSITION_INFO = 4
FILE_DISPOSITION_INFO_EX = 21
# FILE_DISPOSITION_INFO_EX.Flags (winbase.h): POSIX semantics remove the name at once even
# while another program (an antivirus scanner) still holds a FILE_SHARE_DELETE handle.
FILE_DISPOSITION_FLAG_DELETE = 0x1
FILE_DISPOSITION_FLAG_POSIX_SEMANTICS = 0x2
# Job objects (winnt.h): JOBOBJECTINFOCLASS JobObjectExtendedLimitInformation = 9
JOB_OBJECT_EXTENDED_LIMIT_INFORMATION = 9
JOB_OBJECT_LIMIT_PROCESS_TIME = 0x00000002
JOB_OBJECT_LIMIT_ACTIVE_PROCESS = 0x00000008
JOB_OBJECT_LIMIT_PROCESS_MEMORY = 0x00000100
JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION = 0x00000400
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x00002000
PROCESS_SET_QUOTA = 0x0100
PROCESS_TERMINATE = 0x0001
HUNDRED_NS_PER_SECOND = 10_000_000  # job time limits are in 100-nanosecond ticks
# The lock byte sits far past the few PID bytes at the start of a lock file, so another
# process can read the PID while the lock is held (LockFileEx/_locking lock byte ranges,
# and reading a locked range fails). Locking past the end of file is allowed (LockFile docs).
LOCK_OFFSET_BYTES = 1 << 30
LOCK_RETRY_SECONDS = 0.05  # msvcrt has no "wait forever": blocking locks poll LK_NBLCK

_kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
_CreateFileW = _kernel32.CreateFileW
_CreateFileW.argtypes = [
    wintypes.LPCWSTR, wintypes.DWORD, wintypes.DWORD, wintypes.LPVOID,
    wintypes.DWORD, wintypes.DWORD, wintypes.HANDLE,
]  # fmt: skip
_CreateFileW.restype = wintypes.HANDLE
_CloseHandle = _kernel32.CloseHandle
_CloseHandle.argtypes = [wintypes.HANDLE]
_CloseHandle.restype = wintypes.BOOL
_SetFileInformationByHandle = _kernel32.SetFileInformationByHandle
_SetFileInformationByHandle.argtypes = [
    wintypes.HANDLE, ctypes.c_int, wintypes.LPVOID, wintypes.DWORD,
]  # fmt: skip
_SetFileInformationByHandle.restype = wintypes.BOOL
# Every call gets its prototype: without one ctypes passes and returns C ints, which would cut
# 64-bit HANDLEs (and turn GetCurrentProcess's pseudo-handle -1 into 0xFFFFFFFF).
_CreateJobObjectW = _kernel32.CreateJobObjectW
_CreateJobObjectW.argtypes = [wintypes.LPVOID, wintypes.LPCWSTR]
_CreateJobObjectW.restype = wintypes.HANDLE
_SetInformationJobObject = _kernel32.SetInformationJobObject
_SetInformationJobObject.argtypes = [wintypes.HANDLE, ctypes.c_int, wintypes.LPVOID, wintypes.DWORD]
_SetInformationJobObject.restype = wintypes.BOOL
_OpenProcess = _kernel32.OpenProcess
_OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
_OpenProcess.restype = wintypes.HANDLE
_AssignProcessToJobObject = _kernel32.AssignProcessToJobObject
_AssignProcessToJobObject.argtypes = [wintypes.HANDLE, wintypes.HANDLE]
_AssignProcessToJobObject.restype = wintypes.BOOL
_IsProcessInJob = _kernel32.IsProcessInJob
_IsProcessInJob.argtypes = [wintypes.HANDLE, wintypes.HANDLE, ctypes.POINTER(wintypes.BOOL)]
_IsProcessInJob.restype = wintypes.BOOL
_QueryInformationJobObject = _kernel32.QueryInformationJobObject
_QueryInformationJobObject.argtypes = [
    wintypes.HANDLE, ctypes.c_int, wintypes.LPVOID, wintypes.DWORD, ctypes.POINTER(wintypes.DWORD),
]  # fmt: skip
_QueryInformationJobObject.restype = wintypes.BOOL
_GetCurrentProcess = _kernel32.GetCurrentProcess
_GetCurrentProcess.argtypes = []
_GetCurrentProcess.restype = wintypes.HANDLE
_LocalFree = _kernel32.LocalFree
_LocalFree.argtypes = [wintypes.HLOCAL]
_LocalFree.restype = wintypes.HLOCAL
# Owners (aclapi.h GetSecurityInfo, sddl.h ConvertSidToStringSidW): protected mode tells whose
# file or folder it is by the owner SID, as POSIX does by st_uid.
_advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
_GetSecurityInfo = _advapi32.GetSecurityInfo
_GetSecurityInfo.argtypes = [
    wintypes.HANDLE, ctypes.c_int, wintypes.DWORD, ctypes.POINTER(wintypes.LPVOID),
    ctypes.POINTER(wintypes.LPVOID), ctypes.POINTER(wintypes.LPVOID),
    ctypes.POINTER(wintypes.LPVOID), ctypes.POINTER(wintypes.LPVOID),
]  # fmt: skip
_GetSecurityInfo.restype = wintypes.DWORD  # ERROR_SUCCESS or an error code (not GetLastError)
_ConvertSidToStringSidW = _advapi32.ConvertSidToStringSidW
_ConvertSidToStringSidW.argtypes = [wintypes.LPVOID, ctypes.POINTER(wintypes.LPWSTR)]
_ConvertSidToStringSidW.restype = wintypes.BOOL


class _IoCounters(ctypes.Structure):
    _fields_ = [(name, ctypes.c_ulonglong) for name in (
        "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
        "ReadTransferCount", "WriteTransferCount", "OtherTransferCount",
    )]  # fmt: skip


class _BasicLimits(ctypes.Structure):
    _fields_ = [
        ("PerProcessUserTimeLimit", ctypes.c_int64),
        ("PerJobUserTimeLimit", ctypes.c_int64),
        ("LimitFlags", wintypes.DWORD),
        ("MinimumWorkingSetSize", ctypes.c_size_t),
        ("MaximumWorkingSetSize", ctypes.c_size_t),
        ("ActiveProcessLimit", wintypes.DWORD),
        ("Affinity", ctypes.c_size_t),
        ("PriorityClass", wintypes.DWORD),
        ("SchedulingClass", wintypes.DWORD),
    ]


class _ExtendedLimits(ctypes.Structure):
    _fields_ = [
        ("BasicLimitInformation", _BasicLimits),
        ("IoInfo", _IoCounters),
        ("ProcessMemoryLimit", ctypes.c_size_t),
        ("JobMemoryLimit", ctypes.c_size_t),
        ("PeakProcessMemoryUsed", ctypes.c_size_t),
        ("PeakJobMemoryUsed", ctypes.c_size_t),
    ]


def _raise_last_error(what: str, path: str | None = None) -> NoReturn:
    code = ctypes.get_last_error()
    raise ctypes.WinError(
        code, f"{what}: {ctypes.FormatError(code)}" + (f" ({path})" if path else "")
    )


def _create_file(path: str, access: int, share: int, flags: int) -> int:
    """CreateFileW, OPEN_EXISTING; the raw HANDLE or OSError (winerror set)."""
    handle = _CreateFileW(extended_path(path), access, share, None, OPEN_EXISTING, flags, None)
    if handle is None or handle == INVALID_HANDLE_VALUE:
        _raise_last_error("CreateFileW", path)
    return int(handle)


class HandleSourceFile:
    """The source opened with CreateFileW, read through a CRT fd, deleted by handle.

    Share mode READ|DELETE: other readers (the Photos app, an antivirus) keep working, no one
    can write while we copy, and our own delete is allowed. FILE_FLAG_OPEN_REPARSE_POINT opens
    a symlink/junction itself, which is then refused. The delete goes through this handle
    (SetFileInformationByHandle + FileDispositionInfo[Ex]), so it removes the file we copied
    and never whatever the name may point to by then.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1
        handle = _create_file(
            os.fspath(path),
            GENERIC_READ | DELETE | FILE_READ_ATTRIBUTES | SYNCHRONIZE,
            FILE_SHARE_READ | FILE_SHARE_DELETE,
            FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_SEQUENTIAL_SCAN,
        )
        self._handle = handle
        try:
            # The CRT fd owns the handle from here on: closing the fd closes the handle.
            self.fd = msvcrt.open_osfhandle(handle, os.O_RDONLY | os.O_BINARY)
        except OSError:
            _CloseHandle(handle)
            raise
        self.stat_open = os.fstat(self.fd)  # st_ino = NTFS file ID, st_dev = volume serial
        if is_link_or_reparse(self.stat_open):
            self.close()
            raise OSError(errno.ELOOP, "links are never followed", os.fspath(path))

    def still_same(self) -> bool:
        """The name still names this file ID (os.stat fills st_ino from the file ID)."""
        try:
            now = Path(extended_path(os.fspath(self.path))).lstat()
            return same_file(now, self.stat_open)
        except OSError:
            return False

    def delete(self) -> None:
        """Mark the open file for deletion (POSIX semantics first), then close."""
        flags = wintypes.DWORD(FILE_DISPOSITION_FLAG_DELETE | FILE_DISPOSITION_FLAG_POSIX_SEMANTICS)
        ok = _SetFileInformationByHandle(
            self._handle, FILE_DISPOSITION_INFO_EX, ctypes.byref(flags), ctypes.sizeof(flags)
        )
        if not ok:
            # FILE_DISPOSITION_INFO { BOOLEAN DeleteFile; }: works on every NTFS/FAT volume;
            # the name goes when the last handle (ours, closed below) is closed.
            delete_file = ctypes.c_ubyte(1)
            ok = _SetFileInformationByHandle(
                self._handle, FILE_DISPOSITION_INFO, ctypes.byref(delete_file), 1
            )
            if not ok:
                _raise_last_error("SetFileInformationByHandle", os.fspath(self.path))
        self.close()

    def sync_folder(self) -> None:
        """Nothing to do: NTFS logs the delete in its own metadata journal (the vault's
        folder fsync was never available on Windows either)."""

    def close(self) -> None:
        """Close the fd and with it the handle (idempotent)."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)


class WindowsPlatform(PortablePlatform):
    """Windows 10/11."""

    name = "win32"

    def lock_fd(self, fd: int, *, blocking: bool) -> bool:
        """msvcrt.locking of one byte at LOCK_OFFSET_BYTES (the PID at 0 stays readable)."""
        while True:
            os.lseek(fd, LOCK_OFFSET_BYTES, os.SEEK_SET)
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            except OSError:
                if not blocking:
                    return False
                time.sleep(LOCK_RETRY_SECONDS)
                continue
            finally:
                os.lseek(fd, 0, os.SEEK_SET)
            return True

    def unlock_fd(self, fd: int) -> None:
        """Unlock the byte `lock_fd` locked."""
        os.lseek(fd, LOCK_OFFSET_BYTES, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        os.lseek(fd, 0, os.SEEK_SET)

    def limit_this_process(self, limits: ChildLimits) -> bool:
        """True when this process runs in a job that holds at least `limits`.

        IsProcessInJob(GetCurrentProcess(), NULL): in some job. Then
        QueryInformationJobObject(NULL, JobObjectExtendedLimitInformation) reads the limits of
        the job this process is in ("if hJob is NULL ... the job associated with the calling
        process"): memory, CPU time and process count no looser than asked, killed when the
        parent's handle closes. The child refuses to decode otherwise.
        """
        in_job = wintypes.BOOL(False)
        asked = _IsProcessInJob(_GetCurrentProcess(), None, ctypes.byref(in_job))
        if not asked or not in_job.value:
            return False
        info = _ExtendedLimits()
        if not _QueryInformationJobObject(
            None,
            JOB_OBJECT_EXTENDED_LIMIT_INFORMATION,
            ctypes.byref(info),
            ctypes.sizeof(info),
            None,
        ):
            return False
        basic = info.BasicLimitInformation
        needed = (
            JOB_OBJECT_LIMIT_PROCESS_MEMORY | JOB_OBJECT_LIMIT_PROCESS_TIME
            | JOB_OBJECT_LIMIT_ACTIVE_PROCESS | JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        )  # fmt: skip
        return bool(
            basic.LimitFlags & needed == needed
            and 0 < info.ProcessMemoryLimit <= limits.memory_bytes
            and 0 < basic.PerProcessUserTimeLimit <= limits.cpu_seconds * HUNDRED_NS_PER_SECOND
            and 0 < basic.ActiveProcessLimit <= limits.max_processes
        )

    def start_limited(
        self, argv: list[str], env: dict[str, str], limits: ChildLimits
    ) -> subprocess.Popen[bytes]:
        """Start the child with no console window, then put it in a limiting job object.

        The child reads its untrusted input only after the parent writes stdin, which
        happens after AssignProcessToJobObject returned: nothing untrusted is decoded
        outside the job. KILL_ON_JOB_CLOSE: the job handle is the parent's only, so the
        child dies with the parent.
        """
        job = _CreateJobObjectW(None, None)
        if not job:
            _raise_last_error("CreateJobObjectW")
        info = _ExtendedLimits()
        info.BasicLimitInformation.LimitFlags = (
            JOB_OBJECT_LIMIT_PROCESS_MEMORY | JOB_OBJECT_LIMIT_PROCESS_TIME
            | JOB_OBJECT_LIMIT_ACTIVE_PROCESS | JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
            | JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION
        )  # fmt: skip
        info.BasicLimitInformation.PerProcessUserTimeLimit = (
            limits.cpu_seconds * HUNDRED_NS_PER_SECOND
        )
        info.BasicLimitInformation.ActiveProcessLimit = limits.max_processes
        info.ProcessMemoryLimit = limits.memory_bytes
        if not _SetInformationJobObject(
            job, JOB_OBJECT_EXTENDED_LIMIT_INFORMATION, ctypes.byref(info), ctypes.sizeof(info)
        ):
            _CloseHandle(job)
            _raise_last_error("SetInformationJobObject")
        child = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, creationflags=subprocess.CREATE_NO_WINDOW,
        )  # fmt: skip
        process = _OpenProcess(PROCESS_SET_QUOTA | PROCESS_TERMINATE, False, child.pid)
        assigned = bool(process) and bool(_AssignProcessToJobObject(job, process))
        if process:
            _CloseHandle(process)
        if not assigned:
            code = ctypes.get_last_error()
            child.kill()
            child.wait()
            _CloseHandle(job)
            raise ctypes.WinError(code, "AssignProcessToJobObject")
        _JOBS[child.pid] = int(job)  # closed by `finished`, or at exit (killing the child)
        return child

    def finished(self, child: subprocess.Popen[bytes]) -> None:
        """Close the child's job handle (kills anything left in it)."""
        job = _JOBS.pop(child.pid, None)
        if job is not None:
            _CloseHandle(job)

    def os_path(self, path: str) -> str:
        """`\\\\?\\` form for paths at or over MAX_PATH (see wintext.extended_path)."""
        return extended_path(path)

    def is_in_use(self, error: OSError) -> bool:
        """ERROR_SHARING_VIOLATION / ERROR_LOCK_VIOLATION: a writer or scanner holds it."""
        return winerror_in_use(error)

    def is_no_hard_links(self, error: OSError) -> bool:
        """FAT/exFAT/shares without hard links (see wintext.winerror_no_hard_links)."""
        return winerror_no_hard_links(error)

    def writer_done(self, path: str) -> bool:
        """The exclusive-open probe: CreateFileW with share mode 0.

        Microsoft (GetFileTime/last-write docs): the last-write time is not fully updated
        until every writing handle is closed, so size/mtime stability alone can lie.
        A sharing violation means another program (browser, Outlook, the Photos app, the
        antivirus) still has it open: not complete yet, look again later.
        """
        try:
            handle = _create_file(path, GENERIC_READ, 0, FILE_FLAG_OPEN_REPARSE_POINT)
        except OSError as error:
            return not self.is_in_use(error)  # gone or denied: the pipeline decides
        _CloseHandle(handle)
        return True

    def open_source(self, path: Path) -> SourceFile:
        """CreateFileW READ|DELETE share, no reparse following (see HandleSourceFile)."""
        return HandleSourceFile(path)

    def account_name(self, sid: str) -> str:
        """LookupAccountSid (pywin32, a Windows dependency); "" for a deleted account or an
        unreachable domain controller."""
        try:
            import win32security

            name, _domain, _kind = win32security.LookupAccountSid(
                None, win32security.ConvertStringSidToSid(sid)
            )
        except Exception:  # pywintypes.error, whatever the lookup's failure
            return ""
        return str(name)

    def owner_sid(self, path: Path) -> str:
        """The owner SID in string form (`S-1-5-21-...`), "" when it cannot be read.

        The file or folder itself is opened (FILE_FLAG_OPEN_REPARSE_POINT: a link is not
        followed; BACKUP_SEMANTICS: folders open too) with READ_CONTROL only and every share
        mode, so no writer or reader is disturbed; GetSecurityInfo then reads the owner.
        """
        share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
        flags = FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS
        try:
            handle = _create_file(str(path), READ_CONTROL, share, flags)
        except OSError:
            return ""
        owner = wintypes.LPVOID()
        descriptor = wintypes.LPVOID()
        text = wintypes.LPWSTR()
        try:
            result = _GetSecurityInfo(
                handle, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION, ctypes.byref(owner),
                None, None, None, ctypes.byref(descriptor),
            )  # fmt: skip
            if result != 0 or not owner.value:
                return ""
            if not _ConvertSidToStringSidW(owner, ctypes.byref(text)) or text.value is None:
                return ""
            return str(text.value)
        finally:
            if text:
                _LocalFree(ctypes.cast(text, wintypes.HLOCAL))
            if descriptor.value:
                _LocalFree(ctypes.cast(descriptor, wintypes.HLOCAL))
            _CloseHandle(handle)


_JOBS: dict[int, int] = {}
