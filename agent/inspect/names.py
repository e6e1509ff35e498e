"""File-name checks: hidden and doubled extensions, padding, bidi and invisible characters.

A file name is the first thing a person trusts, and Windows shows it in ways that lie:
known extensions are hidden by default, some (`.lnk`, `.url`...) are hidden always,
trailing dots and spaces are stripped, and bidi controls reorder what is displayed.
Every check here reasons about two things: what Windows will *do* with the name (its
effective extension) and what a person *reads* in it (the extensions it claims).

Ordinary names must stay quiet: `scan.2024.01.15.jpg`, `IMG_1234.JPG`, `photo (1).jpg`,
`a.b.c.png`, Arabic or Hebrew letters (right-to-left letters are not controls), Persian
names with ZWNJ between letters, emoji with ZWJ or variation selectors.
"""

from __future__ import annotations

import re
import unicodedata

from agent.model import Finding, Severity


def _words(text: str) -> frozenset[str]:
    """A set from a whitespace-separated list (keeps long extension lists readable)."""
    return frozenset(text.split())


# --- extension sets -------------------------------------------------------------------------

# Extensions whose opening runs code: Outlook's Level-1 blocked list (research/detection.md
# §6.3) without its data-only entries (certificates .cer/.crt/.der, .pst, .tmp), plus script
# containers a browser runs (.svg/.html/.mht: HTML smuggling), server scripts an upload form
# might execute (.php/.phtml/.phar/.jsp), and the Unix/macOS equivalents. A decoy extension in
# front of one of these is the classic lure (ATT&CK T1036.007): high.
EXECUTABLE_EXTENSIONS = _words(
    """
    ade adp app application appcontent-ms appref-ms asp aspx asx bas bat bgi cdxml chm cmd
    cnt com cpl csh diagcab exe fxp gadget grp hlp hpj hta htc inf ins isp its jar jnlp js jse
    ksh library-ms lnk mad maf mag mam maq mar mas mat mau mav maw mcf mda mdb mde mdt mdw mdz
    mht mhtml msc msh msh1 msh2 mshxml msh1xml msh2xml msi msp mst msu ops osd pcd pif pl plg
    prf prg printerexport ps1 ps1xml ps2 ps2xml psc1 psc2 psd1 psdm1 pssc py pyc pyo pyw pyz
    pyzw reg scf scr sct search-ms settingcontent-ms shb shs theme udl url vb vbe vbp vbs
    vsmacros vsw webpnp website ws wsb wsc wsf wsh xbap xll xnk
    svg svgz html htm xhtml xht shtml php php3 php4 php5 php7 phtml phar jsp jspx cgi
    dll ocx sys drv vxd one onepkg desktop sh bash zsh command run appimage pkg
    """
)

# Containers: opening one shows its contents instead of running anything, so a decoy in front
# of one is suspicious but not by itself an attack: medium. Disk images (.iso/.img/.vhd) are
# here because mounting them strips Mark of the Web, and macro-enabled Office documents
# because they need one more click (enable content) to run.
CONTAINER_EXTENSIONS = _words(
    """
    zip zipx 7z rar cab iso img vhd vhdx dmg gz tgz tar bz2 xz lz lzh arj ace z
    docm dotm xlsm xltm xlam pptm potm ppsm sldm
    """
)

# Extensions Explorer hides even with "show extensions" on (NeverShowExt, §6.2).
ALWAYS_HIDDEN_EXTENSIONS = _words(
    """
    lnk pif url scf shs shb xnk appref-ms website cnf mad maf mag mam maq mar mas mat mav maw
    desklink mapimail zfsendtotarget mydocs
    """
)

# Image extension -> the type sniff reports for a file that really is one.
IMAGE_EXTENSION_TYPES: dict[str, str] = {
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "jpe": "jpeg",
    "jfif": "jpeg",
    "pjpeg": "jpeg",
    "pjp": "jpeg",
    "png": "png",
    "apng": "png",
    "gif": "gif",
    "webp": "webp",
    "bmp": "bmp",
    "dib": "bmp",
    "tif": "tiff",
    "tiff": "tiff",
    "heic": "heif",
    "heif": "heif",
    "hif": "heif",
    "avif": "avif",
    "ico": "ico",
    "cur": "ico",
    "dcm": "dicom",
    "dicom": "dicom",
    "dic": "dicom",
    "svg": "svg",
    "svgz": "svg",
}

# Drawings that are also image formats: the SVG walker judges their content (high for
# actual script), so `logo.png.svg` is odd naming (medium), not by itself a disguised program.
DRAWING_EXTENSIONS = _words("svg svgz")

# Extensions people read as "harmless picture or document": the decoys of a double extension.
DECOY_EXTENSIONS = frozenset(IMAGE_EXTENSION_TYPES) | _words(
    """
    pdf doc docx xls xlsx ppt pptx odt ods odp rtf txt csv mp4 mov avi mkv wmv mp3 wav m4a
    jp2 jxl psd raw cr2 nef arw dng
    """
)

# --- character classes ----------------------------------------------------------------------

BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)

# Zero-width joiners are legitimate between letters of scripts that need them (Persian ZWNJ,
# Indic conjuncts) and inside emoji sequences; elsewhere they only hide things.
_JOINERS = frozenset("\u200c\u200d")
_INVISIBLE_FIXED = frozenset(
    "\u200b\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u034f\u180e\u115f\u1160\u3164\uffa0\u2800"
)

# Space look-alikes (and the ordinary space) used to pad a name until the tail is cut off.
SPACE_LIKE = frozenset(
    " \u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f"
    "\u3000\u2028\u2029"
)
PADDING_RUN_MIN_CHARS = 3  # characters: a run this long in front of an extension is padding

# Dot look-alikes that have no business in a file name: any occurrence is worth a flag.
RARE_DOT_LOOKALIKES = frozenset(
    "\u2024\uff0e\ufe52\u0701\u0702\ua60e\U00010a50\ua4f8\u2027\U0001d16d"
)
# Punctuation that is ordinary in its own script (Japanese ・ and 。, Catalan l·l, Arabic ۔,
# Arabic-Indic zero): only a finding when it fakes an extension.
SCRIPT_DOT_LOOKALIKES = frozenset("\u00b7\u3002\u30fb\u06d4\u0660\u06f0")
DOT_LOOKALIKES = RARE_DOT_LOOKALIKES | SCRIPT_DOT_LOOKALIKES

_EXTENSION_TOKEN = re.compile(r"[a-z0-9][a-z0-9_-]{0,15}\Z")


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


def claimed_extensions(name: str) -> list[str]:
    """Every extension-looking token a reader sees in the name, in order, lower case.

    Real dots and dot look-alikes both separate tokens (`photo\\u2024jpg.exe` claims
    ["jpg", "exe"]); padding spaces around a token are ignored. The first token (the stem)
    is never an extension.
    """
    stripped = _strip_windows_tail(name)
    separators = "[." + "".join(sorted(DOT_LOOKALIKES)) + "]"
    parts = re.split(separators, stripped)
    claimed: list[str] = []
    for part in parts[1:]:
        token = "".join(ch for ch in part if ch not in SPACE_LIKE).lower()
        if _EXTENSION_TOKEN.match(token):
            claimed.append(token)
    return claimed


def is_image_name(name: str) -> bool:
    """True when the effective extension is an image, DICOM or SVG extension."""
    return effective_extension(name) in IMAGE_EXTENSION_TYPES


def expected_type(name: str) -> str | None:
    """The detected type a file of this name should have ("jpeg" for `x.JPG`), or None."""
    return IMAGE_EXTENSION_TYPES.get(effective_extension(name))


def _danger_of(extension: str) -> Severity | None:
    """HIGH for code-running extensions, MEDIUM for containers, None otherwise."""
    if extension in EXECUTABLE_EXTENSIONS:
        return Severity.HIGH
    if extension in CONTAINER_EXTENSIONS:
        return Severity.MEDIUM
    return None


def _disguise_danger(effective: str, decoy: str | None) -> Severity | None:
    """How bad it is for a file that Windows opens as `effective` to pass for `decoy`.

    A drawing (.svg) behind an image decoy, or with no decoy at all, is medium: the SVG
    walker judges its content, and high for actual script.
    """
    if effective in DRAWING_EXTENSIONS and (decoy is None or decoy in IMAGE_EXTENSION_TYPES):
        return Severity.MEDIUM
    return _danger_of(effective)


def _is_legit_joiner(name: str, index: int) -> bool:
    """A ZWJ/ZWNJ between two non-ASCII letters/marks/symbols (Persian, Indic, emoji)."""
    if index == 0 or index + 1 >= len(name):
        return False
    before, after = name[index - 1], name[index + 1]
    for neighbour in (before, after):
        if neighbour.isascii() or unicodedata.category(neighbour)[0] not in "LMS":
            return False
    return True


def _is_legit_variation_selector(name: str, index: int) -> bool:
    """A variation selector right after a symbol (emoji presentation: ❤️)."""
    return index > 0 and unicodedata.category(name[index - 1]) in {"So", "Sm", "Sk"}


def _invisible_positions(name: str) -> list[int]:
    found: list[int] = []
    for index, ch in enumerate(name):
        code = ord(ch)
        always = ch in _INVISIBLE_FIXED or 0xE0000 <= code <= 0xE007F
        stray_joiner = ch in _JOINERS and not _is_legit_joiner(name, index)
        stray_selector = (0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF) and (
            not _is_legit_variation_selector(name, index)
        )
        if always or stray_joiner or stray_selector:
            found.append(index)
    return found


def _double_extension(name: str, effective: str) -> Finding | None:
    danger = _danger_of(effective)
    if danger is None:
        return None
    claimed = claimed_extensions(name)
    decoys = [ext for ext in claimed[:-1] if ext in DECOY_EXTENSIONS]
    if not decoys:
        return None
    decoy = decoys[-1]
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
    while index >= 0 and stripped[index] in SPACE_LIKE:
        run += 1
        index -= 1
    if run < PADDING_RUN_MIN_CHARS:
        return None
    before = stripped[: index + 1]
    lowered = before.lower()
    hidden = next((ext for ext in DECOY_EXTENSIONS if lowered.endswith("." + ext)), None)
    if hidden is None and (_danger_of(effective) is None or effective in DRAWING_EXTENSIONS):
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
    positions = [i for i, ch in enumerate(name) if ch in DOT_LOOKALIKES]
    if not positions:
        return None
    fakes = False
    for index in positions:
        tail = re.split(r"[.\s]", name[index + 1 :], maxsplit=1)[0].lower()
        if tail in DECOY_EXTENSIONS or tail in EXECUTABLE_EXTENSIONS:
            fakes = True
    rare = any(name[i] in RARE_DOT_LOOKALIKES for i in positions)
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


def check_name(name: str) -> list[Finding]:
    """Every finding about a file name (the last path component); empty for ordinary names."""
    findings: list[Finding] = []
    effective = effective_extension(name)

    bidi = [i for i, ch in enumerate(name) if ch in BIDI_CONTROLS]
    if bidi:
        findings.append(
            Finding(
                "name.bidi_control",
                Severity.HIGH,
                "This file's name contains hidden characters that reverse the text, "
                "so its real type is disguised.",
                detail=f"U+{ord(name[bidi[0]]):04X} at character {bidi[0]}; "
                f"Windows uses .{effective or '(none)'}",
            )
        )
    invisible = _invisible_positions(name)
    if invisible:
        findings.append(
            Finding(
                "name.invisible_character",
                Severity.MEDIUM,
                "This file's name contains invisible characters.",
                detail=f"U+{ord(name[invisible[0]]):04X} at character {invisible[0]}",
            )
        )
    for check in (_double_extension, _padded_extension, _trailing_dots_spaces, _dot_lookalikes):
        finding = check(name, effective)
        if finding is not None:
            findings.append(finding)
    if not any(f.code == "name.hidden_extension" for f in findings):
        hidden = _hidden_extension(name, effective)
        if hidden is not None:
            findings.append(hidden)
    return findings
