#!/usr/bin/env python3
"""Generate agent/inspect/extension_table.py: which extensions run code, hold files, or hide.

The facts come from three published tables, merged here so that the engine carries data,
not hand-kept lists:

* Chromium's download danger table (`download_file_types.asciipb`, see the header of
  scripts/data/chromium_download_file_types.asciipb for the commit and version read): an
  extension whose danger level is DANGEROUS or ALLOW_ON_USER_GESTURE on Windows, macOS or
  Linux (or on every platform) runs code; `is_archive: true` marks a container.
* Outlook's blocked-attachment list ("Level 1", shared/research/detection.md §6.3).
* Explorer's always-hidden types (`NeverShowExt` ProgIDs, research §6.2).

A few additions the tables lack are listed below with the reason for each. Run:

    python scripts/gen_extension_table.py [ASCIIPB] > agent/inspect/extension_table.py

tests/test_extension_table.py regenerates the module in memory and fails when it is stale.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO_ROOT / "scripts" / "data" / "chromium_download_file_types.asciipb"
DESKTOP_PLATFORMS = frozenset({"PLATFORM_WINDOWS", "PLATFORM_MAC", "PLATFORM_LINUX"})
RUNS_CODE_LEVELS = frozenset({"DANGEROUS", "ALLOW_ON_USER_GESTURE"})
LINE_CHARS = 92  # characters of extension words per generated line (ruff's limit is 100)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Outlook "Level 1" blocked attachments (research/detection.md §6.3, with its caveats).
OUTLOOK_BLOCKED = _words(
    """
    ade adp app application appcontent-ms appref-ms asp aspx asx bas bat bgi cab cdxml cer chm
    cmd cnt com cpl crt csh der diagcab exe fxp gadget grp hlp hpj hta htc inf ins iso isp its
    jar jnlp js jse ksh library-ms lnk mad maf mag mam maq mar mas mat mau mav maw mcf mda mdb
    mde mdt mdw mdz mht mhtml msc msh msh1 msh2 mshxml msh1xml msh2xml msi msp mst msu ops osd
    pcd pif pl plg prf prg printerexport ps1 ps1xml ps2 ps2xml psc1 psc2 psd1 psdm1 pssc pst py
    pyc pyo pyw pyz pyzw reg scf scr sct search-ms settingcontent-ms shb shs theme tmp udl url vb
    vbe vbp vbs vhd vhdx vsmacros vsw webpnp website ws wsb wsc wsf wsh xbap xll xnk
    """
)

# Explorer hides these even with "show extensions" on (NeverShowExt, research §6.2).
NEVER_SHOW_EXT = _words(
    """
    lnk pif url scf shs shb xnk appref-ms website cnf mad maf mag mam maq mar mas mat mav maw
    desklink mapimail zfsendtotarget mydocs
    """
)

# Code the tables above miss, each a documented lure of the last years:
# MSIX/AppX packages and App Installer files (CVE-2021-43890 campaigns), .rdp attachments
# (2024 spear-phishing waves), Office add-ins and VSTO (load code when opened), Excel web
# queries and SYLK (.iqy/.slk), PowerShell modules, Windows search connectors, OneNote lures,
# server-side scripts an upload form may run, Unix launchers, and web pages (HTML smuggling;
# Chromium pings them but has no danger level because a browser opens them itself).
EXTRA_CODE = _words(
    """
    msix msixbundle appx appxbundle appinstaller rdp vsto iqy slk psm1 searchconnector-ms
    xla xlam ppa ppam one onepkg dll ocx sys drv vxd cpl scr
    html htm xhtml xht shtml shtm sht dhtml dhtm dht svg svgz hta
    php php3 php4 php5 php7 phtml phar jsp jspx cgi aspx
    sh bash zsh command run appimage desktop
    """
)

# Chromium warns about these, but they are data that needs another program to do harm;
# a picture decoy in front of one is suspicious (medium), not a program (high).
DATA_WARNED = _words(
    """
    xml xsl xsd rels ini cfg cer crt der pst msg eml fon partial xrm-ms job plg local manifest
    tmp theme
    """
)

# Containers the tables miss: macro-enabled Office documents need one more click to run.
EXTRA_CONTAINERS = _words("docm dotm xlsm xltm pptm potm ppsm sldm dmg img")


@dataclass
class FileType:
    """One `file_types` entry: extension, archive flag, platform -> danger level."""

    extension: str
    archive: bool = False
    levels: dict[str, str] = field(default_factory=dict)  # "" = every platform


_TOKEN = re.compile(r'#[^\n]*|"(?:[^"\\]|\\.)*"|[{}:]|[^\s{}:"#]+')


def parse(text: str) -> tuple[int, list[FileType]]:
    """(version_id, entries) of a download_file_types.asciipb text (full file or excerpt)."""
    tokens = [t for t in _TOKEN.findall(text) if not t.startswith("#")]
    version = 0
    entries: list[FileType] = []
    stack: list[str] = []  # names of the open blocks
    current: FileType | None = None
    platform, level = "", ""
    index = 0
    while index < len(tokens):
        word = tokens[index]
        if word == "}":
            closed = stack.pop()
            if closed == "platform_settings" and current is not None and level:
                current.levels[platform] = level
            if closed == "file_types" and current is not None:
                entries.append(current)
                current = None
            index += 1
            continue
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if following == "{":
            stack.append(word)
            if word == "file_types":
                current = FileType("")
            elif word == "platform_settings":
                platform, level = "", ""
            index += 2
            continue
        if following == ":":
            value = tokens[index + 2].strip('"')
            if stack == [] and word == "version_id":
                version = int(value)
            elif stack == ["file_types"] and current is not None:
                if word == "extension":
                    current.extension = value.lower()
                elif word == "is_archive":
                    current.archive = value == "true"
            elif stack[-1:] == ["platform_settings"] and stack[:1] == ["file_types"]:
                if word == "platform":
                    platform = value
                elif word == "danger_level":
                    level = value
            index += 3
            continue
        raise ValueError(f"unexpected token {word!r} at token {index}")
    return version, entries


def runs_code(entry: FileType) -> bool:
    """Dangerous or gesture-gated on a desktop platform, after per-platform overrides."""
    default = entry.levels.get("", "NOT_DANGEROUS")
    for platform in DESKTOP_PLATFORMS:
        if entry.levels.get(platform, default) in RUNS_CODE_LEVELS:
            return True
    return False


def tables(entries: list[FileType]) -> dict[str, frozenset[str]]:
    """The generated sets, by constant name."""
    chromium_code = {e.extension for e in entries if runs_code(e)}
    chromium_archives = {e.extension for e in entries if e.archive}
    # An archive or disk image shows files rather than running one (Outlook blocks .iso/.cab
    # because of what they hold): archives win over the code sets.
    containers = chromium_archives | EXTRA_CONTAINERS
    code = (chromium_code | OUTLOOK_BLOCKED | EXTRA_CODE) - DATA_WARNED - containers
    return {
        "CODE_EXTENSIONS": frozenset(code),
        "CONTAINER_EXTENSIONS": frozenset(containers),
        "DATA_WARNED_EXTENSIONS": frozenset(DATA_WARNED - containers),
        "ALWAYS_HIDDEN_EXTENSIONS": NEVER_SHOW_EXT,
    }


def _wrapped(words: frozenset[str]) -> list[str]:
    lines, line = [], ""
    for word in sorted(words):
        if line and len(line) + 1 + len(word) > LINE_CHARS:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return lines


_COMMENTS = {
    "CODE_EXTENSIONS": "Opening one runs code (Chromium danger level, Outlook Level 1, additions).",
    "CONTAINER_EXTENSIONS": "Containers: opening one shows other files (Chromium is_archive, ...).",
    "DATA_WARNED_EXTENSIONS": "Data Chromium or Outlook warn about; harmful only through a reader.",
    "ALWAYS_HIDDEN_EXTENSIONS": "Explorer never shows these extensions (NeverShowExt).",
}


def render(version: int, entries: list[FileType]) -> str:
    """The text of agent/inspect/extension_table.py."""
    out = [
        '"""GENERATED by scripts/gen_extension_table.py — do not edit; rerun the script.',
        "",
        "Sources: Chromium components/safe_browsing/content/resources/download_file_types.asciipb",
        f"(version_id {version}, commit in scripts/data/chromium_download_file_types.asciipb),",
        "Outlook's blocked-attachment list and Explorer's NeverShowExt types",
        "(shared/research/detection.md §6.2-6.3), plus the additions the script names.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "",
        "def _words(text: str) -> frozenset[str]:",
        '    """A set from a whitespace-separated list."""',
        "    return frozenset(text.split())",
        "",
        "",
        f"CHROMIUM_TABLE_VERSION = {version}",
        f"CHROMIUM_ENTRIES_READ = {len(entries)}",
    ]
    for name, words in tables(entries).items():
        out += ["", f"# {_COMMENTS[name]}", f"{name} = _words(", '    """']
        out += [f"    {line}" for line in _wrapped(words)]
        out += ['    """', ")"]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    """Print the generated module for the asciipb named on the command line (or the excerpt)."""
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    version, entries = parse(source.read_text(encoding="utf-8"))
    sys.stdout.write(render(version, entries))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
