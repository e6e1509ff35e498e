"""The inspection engine: one file in, one Report out. Never raises.

Steps for each file: open read-only without following links, read it by windows, check the name,
sniff the type from the bytes, judge content against the name, walk the format, judge
what is left after its logical end, and search metadata and (for images) pixel data for
payload markers. Every byte is touched by at most two C-speed passes (the walker's and
the `<`-anchored marker pass); nothing here hashes the file or imports an image library.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from dataclasses import dataclass

from agent.inspect import names, resources
from agent.inspect.base import Structure, Walker
from agent.inspect.formats import walker_for
from agent.inspect.judge import dicom_executables, judge_structure
from agent.inspect.limits import Limits
from agent.inspect.over_cap import over_cap_findings
from agent.inspect.reader import BudgetExceeded, FileChanged, Reader
from agent.inspect.sniff import HEAD_BYTES, Sniffed, sniff
from agent.inspect.stray_code import first_executable
from agent.model import Finding, Report, Severity, verdict_for

_CONTENT_CODES = {
    "executable": (
        "content.executable",
        "This file pretends to be a picture but is a program.",
    ),
    "script": (
        "content.script",
        "This file pretends to be a picture but is a script or web page.",
    ),
    "archive": (
        "content.archive",
        "This file pretends to be a picture but is an archive of other files.",
    ),
    "document": (
        "content.document",
        "This file pretends to be a picture but is a document that can run commands.",
    ),
    "imagemagick": (
        "content.imagemagick_script",
        "This file pretends to be a picture but is a script that attacks image software.",
    ),
}


@dataclass
class _Scan:
    """The per-file state while the engine works (collected findings survive a budget stop)."""

    name: str
    reader: Reader
    limits: Limits
    findings: list[Finding]
    sniffed: Sniffed | None = None


# --- public API -----------------------------------------------------------------------------


def inspect_path(
    path: str | os.PathLike[str],
    limits: Limits = Limits(),  # noqa: B008 - Limits is frozen, a shared default is safe
    *,
    display_name: str | None = None,
) -> Report:
    """Inspect one file on disk. Never raises; unreadable files yield `scan.read_error`.

    The file is opened read-only, without following a symbolic link (a link is reported
    as not inspected) and, where permitted, without updating its access time. It is read
    with positional reads, never mapped, so a program truncating it meanwhile cannot
    crash the caller: the short read becomes a `scan.read_error` finding.
    `display_name` is the name to judge (e.g. the original name of a quarantined file);
    it defaults to the last component of `path`.
    """
    path_text = os.fspath(path)
    name = display_name if display_name is not None else os.path.basename(path_text)  # noqa: PTH119
    try:
        return _inspect_path(path_text, name, limits)
    except Exception as error:  # last resort: the engine never raises
        findings = [*_safe_name_findings(name), _read_error(error)]
        return _report(path_text, "unknown", 0, findings)


def inspect_bytes(name: str, data: bytes, limits: Limits = Limits()) -> Report:  # noqa: B008
    """Inspect bytes held in memory as if they were a file called `name`. Never raises."""
    try:
        if len(data) > limits.max_file_bytes:
            return _inspect_over_cap(name, name, Reader.from_bytes(data), limits)
        reader = Reader.from_bytes(data, deadline=time.monotonic() + limits.time_budget_seconds)
        return _inspect_reader(name, name, reader, limits)
    except Exception as error:  # last resort: the engine never raises
        findings = [*_safe_name_findings(name), _internal_error(error)]
        return _report(name, "unknown", len(data), findings)


# --- opening files --------------------------------------------------------------------------


def _open_readonly(path: str) -> int:
    """A read-only descriptor that does not follow a final symlink or block on a FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    if noatime:
        try:
            return os.open(path, flags | noatime)
        except PermissionError:
            pass  # O_NOATIME needs file ownership; fall back to a plain read-only open
    return os.open(path, flags)


def _inspect_path(path: str, name: str, limits: Limits) -> Report:
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            return _not_inspected(path, name, "symlink", "it is a symbolic link")
        fd = _open_readonly(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return _not_inspected(path, name, "symlink", "it is a symbolic link")
        return _report(path, "unknown", 0, [*_safe_name_findings(name), _read_error(error)])
    try:
        info = os.fstat(fd)
    except OSError as error:
        os.close(fd)
        return _report(path, "unknown", 0, [*_safe_name_findings(name), _read_error(error)])
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return _not_inspected(path, name, "special", "it is not a regular file")
    try:
        size = info.st_size
        if size > limits.max_file_bytes:
            return _inspect_over_cap(path, name, Reader.over_descriptor(fd, size), limits)
        reader = Reader.over_descriptor(
            fd, size, deadline=time.monotonic() + limits.time_budget_seconds
        )
        try:
            return _inspect_reader(path, name, reader, limits)
        finally:
            reader.close()
    finally:
        os.close(fd)


def _not_inspected(path: str, name: str, type_: str, why: str) -> Report:
    finding = Finding(
        "scan.not_inspected",
        Severity.INFO,
        "This item was not inspected because it is not an ordinary file.",
        detail=why,
    )
    return _report(path, type_, 0, [*_safe_name_findings(name), finding])


def _read_error(error: BaseException) -> Finding:
    return Finding(
        "scan.read_error",
        Severity.MEDIUM,
        "This file could not be read, so it could not be checked.",
        detail=f"{type(error).__name__}: {getattr(error, 'strerror', None) or error}",
    )


def _internal_error(error: BaseException) -> Finding:
    return Finding(
        "scan.read_error",
        Severity.MEDIUM,
        "This file could not be checked completely.",
        detail=f"internal error {type(error).__name__}",
    )


def _safe_name_findings(name: str) -> list[Finding]:
    try:
        return names.check_name(name)
    except Exception:  # name checks are pure string code; belt and braces
        return []


def _report(path: str, type_: str, size: int, findings: list[Finding]) -> Report:
    ordered = tuple(sorted(findings, key=lambda f: -int(f.severity)))
    return Report(path=path, type=type_, size=size, findings=ordered, verdict=verdict_for(ordered))


# --- the inspection proper ------------------------------------------------------------------


def _inspect_over_cap(path: str, name: str, reader: Reader, limits: Limits) -> Report:
    """Over the size cap: the name, what the first bytes say, and head and tail judged."""
    findings = _safe_name_findings(name)
    sniffed = sniff(Reader.from_bytes(reader.read(0, HEAD_BYTES)), name_hint=name)
    findings.extend(_content_findings(name, sniffed))
    try:
        findings.extend(over_cap_findings(reader, sniffed, limits))
    except OSError as error:  # it shrank while we read it
        findings.append(_read_error(error))
    return _report(path, sniffed.type, reader.size, findings)


def _inspect_reader(path: str, name: str, reader: Reader, limits: Limits) -> Report:
    scan = _Scan(name=name, reader=reader, limits=limits, findings=_safe_name_findings(name))
    try:
        _run(scan)
    except BudgetExceeded:
        scan.findings.append(
            Finding(
                "resource.time_budget",
                Severity.MEDIUM,
                "This file took too long to check, so it was not checked completely.",
                detail=f"time budget {limits.time_budget_seconds} s spent",
            )
        )
    except (OSError, ValueError) as error:  # the file shrank under us (FileChanged), EIO...
        scan.findings.append(_read_error(error))
    type_ = scan.sniffed.type if scan.sniffed is not None else "unknown"
    return _report(path, type_, reader.size, scan.findings)


def _run(scan: _Scan) -> None:
    reader = scan.reader
    sniffed = sniff(reader, name_hint=scan.name)
    scan.sniffed = sniffed
    scan.findings.extend(_content_findings(scan.name, sniffed))
    scan.findings.extend(_mountable_behind_decoy(scan.findings, sniffed))
    reader.check_deadline()
    walker = _load_walker(sniffed.type)
    if walker is None:
        scan.findings.extend(_program_inside(scan, sniffed))
        return
    try:
        structure = walker(reader, scan.limits)
    except (BudgetExceeded, FileChanged):
        raise  # not the file's structure: the budget, or another program truncating it
    except Exception as error:  # a walker bug is a finding about this file, not a crash
        scan.findings.append(
            Finding(
                f"{sniffed.type}.malformed",
                Severity.LOW,
                "This picture's structure could not be understood.",
                detail=f"walker raised {type(error).__name__}",
            )
        )
        if sniffed.family == "dicom":  # the walker normally does this search itself
            scan.findings.extend(dicom_executables(reader, []))
        return
    scan.findings.extend(structure.findings)
    scan.findings.extend(_resource_findings(structure, scan.limits, scan.findings))
    scan.findings.extend(judge_structure(reader, sniffed, structure, scan.findings))


# Disk images Windows mounts on a double click (8+): what they hold escapes the mark of the web.
_MOUNTABLE_TYPES = frozenset({"iso", "vhd", "vhdx"})


def _mountable_behind_decoy(findings: list[Finding], sniffed: Sniffed) -> list[Finding]:
    """`scan.jpg.iso` that really is a disk image: the loader chain behind a picture's name.

    A double extension over an archive is a milder lie (`IMG_1234.jpg.zip` is what
    macOS's Compress names a photo); a mountable disk named as a picture is not.
    """
    if sniffed.type not in _MOUNTABLE_TYPES:
        return []
    decoy = next((f for f in findings if f.code == "name.double_extension"), None)
    if decoy is None or decoy.severity >= Severity.HIGH:
        return []
    code, message = _CONTENT_CODES["archive"]
    detail = f"{decoy.detail}; content is {sniffed.description}, which Windows mounts"
    return [Finding(code, Severity.HIGH, message, payload=sniffed.type, detail=detail)]


def _program_inside(scan: _Scan, sniffed: Sniffed) -> list[Finding]:
    """A program header inside unrecognised bytes under a picture's name (`FF D8` + junk + PE)."""
    if sniffed.family not in ("unknown", "text") or names.expected_type(scan.name) is None:
        return []
    hit = first_executable(scan.reader, [])
    if hit is None:
        return []
    kind, offset = hit
    code, message = _CONTENT_CODES["executable"]
    detail = f"{kind} header at {offset} inside {sniffed.description}"
    return [Finding(code, Severity.HIGH, message, offset=offset, payload=kind, detail=detail)]


def _load_walker(detected_type: str) -> Walker | None:
    """The walker for a type, or None when its module does not exist (yet)."""
    try:
        return walker_for(detected_type)
    except ModuleNotFoundError as error:
        if error.name is not None and error.name.startswith("agent.inspect."):
            return None
        raise


def _content_findings(name: str, sniffed: Sniffed) -> list[Finding]:
    """Content against name: only image-named files are Photogate's business here."""
    expected = names.expected_type(name)
    if expected is None or sniffed.type == "empty":
        return []
    detail = f"named .{names.effective_extension(name)}, content is {sniffed.description}"
    if sniffed.family in _CONTENT_CODES:
        code, message = _CONTENT_CODES[sniffed.family]
        return [Finding(code, Severity.HIGH, message, payload=sniffed.type, detail=detail)]
    if sniffed.family == "svg" and expected != "svg":
        # A drawing can carry script; under a picture's name it passes for a harmless photo
        # (ImageMagick and browsers go by content). Its own checks run as for any SVG.
        return [
            Finding(
                "content.svg_as_picture",
                Severity.MEDIUM,
                "This file is named like a photo but is a drawing, a type that can carry scripts.",
                payload="svg",
                detail=detail,
            )
        ]
    if sniffed.family in ("image", "dicom", "svg", "video"):
        if sniffed.type == expected:
            return []
        return [
            Finding(
                "content.other_image_type",
                Severity.INFO,
                "This picture is a different picture type than its name says.",
                detail=detail,
            )
        ]
    return [
        Finding(
            "content.not_an_image",
            Severity.MEDIUM,
            "This file is named like a picture but does not contain a picture.",
            detail=detail,
        )
    ]


def _resource_findings(
    structure: Structure, limits: Limits, existing: list[Finding]
) -> list[Finding]:
    """Decompression-bomb checks on the declared sizes (see `resources`)."""
    return resources.resource_findings(structure, limits, existing)
