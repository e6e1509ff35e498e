"""File-name checks: hidden and doubled extensions, padding, bidi and invisible characters.

A file name is the first thing a person trusts, and Windows shows it in ways that lie:
known extensions are hidden by default, some (`.lnk`, `.url`...) are hidden always,
trailing dots and spaces are stripped, and bidi controls reorder what is displayed.
Every check here reasons about two things: what Windows will *do* with the name (its
effective extension, looked up in the generated danger table `extension_table`) and what
a person *reads* in it (the extensions it claims, compared by confusable skeleton, and
the extension its displayed form ends in; see `name_chars`).

Ordinary names must stay quiet: `scan.2024.01.15.jpg`, `IMG_1234.JPG`, `photo (1).jpg`,
`a.b.c.png`, Arabic or Hebrew letters (right-to-left letters are not controls), Persian
names with ZWNJ between letters, emoji with ZWJ, keycaps or variation selectors. A control
or invisible character that changes nothing shown is low (an RLM before a Hebrew word).
"""

from __future__ import annotations

import re
import unicodedata

from agent.inspect import name_chars as nc
from agent.inspect.extension_table import (
    ALWAYS_HIDDEN_EXTENSIONS,
    CONTAINER_EXTENSIONS,
    DATA_WARNED_EXTENSIONS,
)
from agent.inspect.name_types import (
    DECOY_EXTENSIONS,
    DRAWING_EXTENSIONS,
    EXECUTABLE_EXTENSIONS,
    IMAGE_EXTENSION_TYPES,
    PICTURE_EXTENSIONS,
)
from agent.model import Finding, Severity

__all__ = [
    "ALWAYS_HIDDEN_EXTENSIONS",
    "CONTAINER_EXTENSIONS",
    "DATA_WARNED_EXTENSIONS",
    "DECOY_EXTENSIONS",
    "EXECUTABLE_EXTENSIONS",
    "IMAGE_EXTENSION_TYPES",
    "PICTURE_EXTENSIONS",
    "check_name",
    "claimed_extensions",
    "decoy_of",
    "effective_extension",
    "expected_type",
    "is_image_name",
]


PADDING_RUN_MIN_CHARS = 3  # characters: a run of blanks this long before an extension is padding
# A decoy token may carry what copy tools and 8.3 short names append (`jpg_`, `jpg-`, `jpg~1`)
# or a run of `_`/`-` that pushes the real extension out of view.
_DECOY_TOKEN = re.compile(r"([a-z0-9]+)(?:[_-]+|~\d{1,3})?")
_EXTENSION_TOKEN = re.compile(r"[a-z0-9][a-z0-9_~-]*")


def _strip_windows_tail(name: str) -> str:
    """The name as Win32 opens it: trailing dots and spaces removed."""
    return name.rstrip(". ")


def effective_extension(name: str) -> str:
    """The extension Windows acts on (lower case, no dot; "" when there is none).

    Trailing dots and spaces are stripped first, as Win32 path normalisation does, so
    `scan.jpg.exe.` and `scan.jpg.exe   ` both have the effective extension "exe".
    """
    stripped = _strip_windows_tail(name)
    dot = stripped.rfind(".")
    if dot <= 0:
        return ""
    return stripped[dot + 1 :].lower()


def _parts(name: str) -> list[str]:
    """The name split at real dots and dot look-alikes (the pieces a reader sees)."""
    if name.isascii():
        return name.split(".")
    parts: list[str] = []
    current: list[str] = []
    for ch in name:
        if ch == "." or nc.is_dot_like(ch):
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _token(part: str) -> str:
    """A piece as a reader takes it: blanks dropped, then its confusable skeleton."""
    if part.isascii() and part.isprintable():
        return part.replace(" ", "").lower()
    return nc.skeleton("".join(ch for ch in part if not nc.is_space_like(ch)))


def claimed_extensions(name: str) -> list[str]:
    """Every extension-looking token a reader sees in the name, in order, as skeletons.

    Real dots and dot look-alikes both separate tokens (`photo\u2024jpg.exe` claims
    ["jpg", "exe"]); padding blanks and invisible characters are ignored and look-alike
    letters read as the ASCII ones they imitate (`.јрg` claims "jpg"). The first piece (the
    stem) is never an extension; tokens have no length cap (`.settingcontent-ms`).
    """
    claimed: list[str] = []
    for part in _parts(_strip_windows_tail(name))[1:]:
        token = _token(part)
        if _EXTENSION_TOKEN.fullmatch(token):
            claimed.append(token)
    return claimed


def decoy_of(token: str) -> str | None:
    """The harmless-looking extension a claimed token imitates (`jpg_`, `jpg~1` -> "jpg")."""
    match = _DECOY_TOKEN.fullmatch(token)
    if match is None or match.group(1) not in DECOY_EXTENSIONS:
        return None
    return match.group(1)


def is_image_name(name: str) -> bool:
    """True when the effective extension is an image, DICOM or SVG extension."""
    return effective_extension(name) in IMAGE_EXTENSION_TYPES


def expected_type(name: str) -> str | None:
    """The detected type a file of this name should have ("jpeg" for `x.JPG`), or None."""
    return IMAGE_EXTENSION_TYPES.get(effective_extension(name))


def _danger_of(extension: str) -> Severity | None:
    """HIGH for code-running extensions, MEDIUM for containers, LOW for warned data.

    Warned data (`.xml`, `.ini`...) is low: `IMG_1234.jpg.xml` is how sidecar files are named.
    """
    if extension in EXECUTABLE_EXTENSIONS:
        return Severity.HIGH
    if extension in CONTAINER_EXTENSIONS:
        return Severity.MEDIUM
    if extension in DATA_WARNED_EXTENSIONS:
        return Severity.LOW
    return None


def _disguise_danger(effective: str, decoy: str | None) -> Severity | None:
    """How bad it is for a file that Windows opens as `effective` to pass for `decoy`.

    A drawing (.svg) behind an image decoy, or with no decoy at all, is medium: the SVG
    walker judges its content, and high for actual script.
    """
    if effective in DRAWING_EXTENSIONS and (decoy is None or decoy in PICTURE_EXTENSIONS):
        return Severity.MEDIUM
    return _danger_of(effective)


def _double_extension(name: str, effective: str) -> Finding | None:
    danger = _danger_of(effective)
    if danger is None:
        return None
    parts = _parts(_strip_windows_tail(name))
    if len(parts) < 3:
        return None  # a stem and one extension: nothing to pass for
    pieces = [_token(part) for part in parts[1:]]
    decoy = next((d for d in map(decoy_of, reversed(pieces[:-1])) if d is not None), None)
    if decoy is None:
        return None
    claimed = [token for token in pieces if _EXTENSION_TOKEN.fullmatch(token)]
    if _disguise_danger(effective, decoy) is Severity.MEDIUM and danger is Severity.HIGH:
        return Finding(
            "name.double_extension",
            Severity.MEDIUM,
            f"This file looks like a .{decoy} picture but is a .{effective} drawing, "
            "a type that can carry scripts.",
            detail=f"claimed extensions {claimed}; Windows uses .{effective}",
        )
    if effective in ALWAYS_HIDDEN_EXTENSIONS:
        return Finding(
            "name.hidden_extension",
            Severity.HIGH,
            f"This file looks like a .{decoy} but is a Windows shortcut (.{effective}) "
            "that Windows never shows.",
            detail=f"effective extension .{effective} (always hidden) after .{decoy}",
        )
    if danger is Severity.HIGH:
        message = (
            f"This file pretends to be a .{decoy} but is really a .{effective} program or script."
        )
    elif effective in DATA_WARNED_EXTENSIONS:
        message = f"This file pretends to be a .{decoy} but is really a .{effective} file."
    else:
        message = f"This file pretends to be a .{decoy} but is really a .{effective} archive."
    return Finding(
        "name.double_extension",
        danger,
        message,
        detail=f"claimed extensions {claimed}; Windows uses .{effective}",
    )


def _hidden_extension(name: str, effective: str) -> Finding | None:
    if effective not in ALWAYS_HIDDEN_EXTENSIONS:
        return None
    return Finding(
        "name.hidden_extension",
        Severity.MEDIUM,
        f"This file is a .{effective} shortcut, a type Windows never shows the extension of.",
        detail=f"effective extension .{effective} is always hidden by Explorer",
    )


def _padded_extension(name: str, effective: str) -> Finding | None:
    stripped = _strip_windows_tail(name)
    dot = stripped.rfind(".")
    if dot <= 0:
        return None
    run = 0
    index = dot - 1
    while index >= 0 and (nc.is_space_like(stripped[index]) or nc.is_invisible(stripped[index])):
        run += nc.is_space_like(stripped[index])
        index -= 1
    if run < PADDING_RUN_MIN_CHARS:
        return None
    before = _parts(stripped[: index + 1])
    hidden = decoy_of(_token(before[-1])) if len(before) > 1 else None
    if hidden is None and (
        _danger_of(effective) in (None, Severity.LOW) or effective in DRAWING_EXTENSIONS
    ):
        return None  # "holiday   .jpg", "holiday   .svg": odd spacing, nothing hidden
    severity = Severity.HIGH
    if effective in DRAWING_EXTENSIONS:  # an SVG passing for the hidden decoy
        severity = _disguise_danger(effective, hidden) or Severity.HIGH
    return Finding(
        "name.padded_extension",
        severity,
        f"This file's name is padded with blanks to hide its real type (.{effective}).",
        detail=f"{run} blank characters before the final extension",
    )


def _trailing_dots_spaces(name: str, effective: str) -> Finding | None:
    if not name or name[-1] not in ". ":
        return None
    dangerous = _disguise_danger(effective, None) is Severity.HIGH
    return Finding(
        "name.trailing_dots_spaces",
        Severity.HIGH if dangerous else Severity.MEDIUM,
        "This file's name ends in dots or spaces that Windows removes, "
        "which can hide its real type.",
        detail=f"Windows opens it as .{effective}" if effective else "no extension after stripping",
    )


def _dot_lookalikes(name: str, effective: str) -> Finding | None:
    if name.isascii():
        return None  # every dot look-alike is outside ASCII
    positions = [i for i, ch in enumerate(name) if nc.is_dot_like(ch)]
    if not positions:
        return None
    fakes = False
    for index in positions:
        tail = re.split(r"[.\s]", name[index + 1 :], maxsplit=1)[0]
        token = _token(tail)
        if decoy_of(token) is not None or token in EXECUTABLE_EXTENSIONS:
            fakes = True
    rare = any(name[i] not in nc.SCRIPT_DOTS for i in positions)
    if not fakes and not rare:
        return None
    char = name[positions[0]]
    return Finding(
        "name.dot_lookalike",
        Severity.HIGH if fakes else Severity.MEDIUM,
        "This file's name uses a fake dot to make it look like a different type of file.",
        detail=f"U+{ord(char):04X} {unicodedata.name(char, '?')} at character {positions[0]}"
        + (f"; Windows uses .{effective}" if effective else "; no real extension"),
    )


def _shown_extension(text: str) -> str:
    """The extension a reader takes from the right end of displayed text."""
    stripped = text.rstrip(". ")
    dot = stripped.rfind(".")
    return stripped[dot + 1 :].casefold() if dot > 0 else ""


def _disguise_severity(effective: str, shown: str) -> Severity:
    """A name that shows another extension than Windows uses: how bad is the difference."""
    if effective in EXECUTABLE_EXTENSIONS or effective in ALWAYS_HIDDEN_EXTENSIONS:
        return Severity.HIGH
    if decoy_of(nc.skeleton(shown)) is not None and _danger_of(effective) is Severity.MEDIUM:
        return Severity.HIGH  # an archive or warned type shown as a picture
    return Severity.MEDIUM


def _character_findings(name: str, effective: str) -> list[Finding]:
    """Bidi controls and invisibles, judged by what they change on screen.

    A character is a finding when the name it is in *shows* another extension than Windows
    uses: bidi reordering moved the end (`invoice_\u202egpj.exe` shows `.jpg`), or an
    invisible sits inside the extension (`.j\u200bpg` is not `.jpg` to Windows). Anywhere
    else (an RLM before a Hebrew word, a soft hyphen in the stem) it changes nothing: low.
    """
    if name.isascii() and name.isprintable():
        return []
    stray = nc.stray_invisibles(name)
    if not stray:
        return []
    stray_set = set(stray)
    clean = "".join(ch for i, ch in enumerate(name) if i not in stray_set)
    shown = _shown_extension(nc.displayed(name))
    reordered = shown != _shown_extension(nc.displayed(clean))
    hidden_inside = effective != effective_extension(clean)
    bidi = [i for i in stray if nc.is_bidi_control(name[i])]
    other = [i for i in stray if i not in set(bidi)]
    findings: list[Finding] = []
    for positions, code, changed in (
        (bidi, "name.bidi_control", reordered),
        (other, "name.invisible_character", hidden_inside or (reordered and not bidi)),
    ):
        if not positions:
            continue
        first = positions[0]
        where = f"U+{ord(name[first]):04X} at character {first}"
        if changed:
            severity = _disguise_severity(effective, shown)
            message = (
                "This file's name contains hidden characters that change how it is shown, "
                "so its real type is disguised."
            )
            detail = f"{where}; shows .{shown or '(none)'}, Windows uses .{effective or '(none)'}"
        else:
            severity = Severity.LOW
            message = "This file's name contains invisible characters that change nothing shown."
            detail = f"{where}; shown and real extension agree (.{effective or '(none)'})"
        findings.append(Finding(code, severity, message, detail=detail))
    return findings


def _is_plain(name: str) -> bool:
    """Printable ASCII with at most one dot, no blank runs and no Windows-stripped tail:
    most names that arrive; only the always-hidden extension check can apply to them."""
    return (
        name.isascii()
        and name.isprintable()
        and name.count(".") <= 1
        and name[-1:] not in (".", " ")
        and " " * PADDING_RUN_MIN_CHARS not in name
    )


def check_name(name: str) -> list[Finding]:
    """Every finding about a file name (the last path component); empty for ordinary names."""
    effective = effective_extension(name)
    if _is_plain(name):
        hidden = _hidden_extension(name, effective)
        return [] if hidden is None else [hidden]
    findings = _character_findings(name, effective)
    for check in (_double_extension, _padded_extension, _trailing_dots_spaces, _dot_lookalikes):
        finding = check(name, effective)
        if finding is not None:
            findings.append(finding)
    if not any(f.code == "name.hidden_extension" for f in findings):
        hidden = _hidden_extension(name, effective)
        if hidden is not None:
            findings.append(hidden)
    return findings
