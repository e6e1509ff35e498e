"""Signatures shared by `sniff` (what a whole file is) and `payload` (what a blob holds).

One table, two readers, so the two can never disagree about what a magic number means:

* `START_MAGICS` / `magic_at_start(head)`: binary formats recognised by fixed bytes at
  offset 0 (plus the fat Mach-O / Java class split behind `CA FE BA BE`).
* `script_kind(text)`: PowerShell, VBScript, Windows batch, JavaScript or Python in text.
  One *strong* token (a construct no prose contains, e.g. `Net.WebClient`) decides; weak
  tokens (`Dim x`, `var x =`, a line starting with `set x=`) need `SCRIPT_MIN_HITS`
  different ones, because one English sentence may contain "Dim" or "start".
* `is_text(sample)`: mostly printable, no NUL.

Speed: every script token is its own pattern over lower-cased text and starts with a
literal, so Python's regex engine skips to candidates at memchr speed (a pattern that
starts with an alternation is tried at every position and runs 20-50x slower). Tokens
anchored at a line start begin with a literal newline; the text is searched with one
newline prepended.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

SCRIPT_MIN_HITS = 2  # different weak script tokens before plain text is called a script
MAX_FAT_MACHO_ARCHS = 20  # architectures: a fat Mach-O header declares 1..this many
MIN_JAVA_CLASS_MAJOR = 45  # class-file major version of JDK 1.0.2; a fat count is far smaller

# Bytes that count as printable in text: everything from space up, plus tab, LF, FF, CR.
_NON_PRINTABLE = bytes(b for b in range(0x20) if b not in (9, 10, 12, 13))
TEXT_PRINTABLE_FRACTION = 0.95  # fraction of printable bytes in a text sample


@dataclass(frozen=True)
class Magic:
    """A format recognised by `prefix` at offset 0: its type, family and plain description."""

    prefix: bytes
    type: str
    family: str
    description: str


# Fixed bytes at offset 0. Prefixes are mutually exclusive, so order does not matter.
# Formats needing validation (BMP, ICO, PE behind MZ, ISO-BMFF, RIFF) are not here.
START_MAGICS: tuple[Magic, ...] = (
    Magic(b"\xff\xd8\xff", "jpeg", "image", "JPEG image"),
    Magic(b"\x89PNG\r\n\x1a\n", "png", "image", "PNG image"),
    Magic(b"GIF87a", "gif", "image", "GIF image"),
    Magic(b"GIF89a", "gif", "image", "GIF image"),
    Magic(b"II*\x00", "tiff", "image", "TIFF image"),
    Magic(b"MM\x00*", "tiff", "image", "TIFF image"),
    Magic(b"II+\x00", "tiff", "image", "TIFF image"),
    Magic(b"MM\x00+", "tiff", "image", "TIFF image"),
    Magic(b"\x7fELF", "elf", "executable", "Linux program (ELF)"),
    Magic(b"\xfe\xed\xfa\xce", "macho", "executable", "macOS program (Mach-O)"),
    Magic(b"\xfe\xed\xfa\xcf", "macho", "executable", "macOS program (Mach-O)"),
    Magic(b"\xce\xfa\xed\xfe", "macho", "executable", "macOS program (Mach-O)"),
    Magic(b"\xcf\xfa\xed\xfe", "macho", "executable", "macOS program (Mach-O)"),
    Magic(b"L\x00\x00\x00\x01\x14\x02\x00", "lnk", "executable", "Windows shortcut (LNK)"),
    Magic(b"PK\x03\x04", "zip", "archive", "ZIP archive"),
    Magic(b"PK\x05\x06", "zip", "archive", "ZIP archive"),
    Magic(b"PK\x07\x08", "zip", "archive", "ZIP archive"),
    Magic(b"Rar!\x1a\x07", "rar", "archive", "RAR archive"),
    Magic(b"7z\xbc\xaf\x27\x1c", "7z", "archive", "7-Zip archive"),
    Magic(b"MSCF\x00\x00\x00\x00", "cab", "archive", "Windows cabinet archive"),
    Magic(b"\x1f\x8b\x08", "gzip", "archive", "gzip archive"),
    Magic(b"\xfd7zXZ\x00", "xz", "archive", "xz archive"),
    Magic(b"ITSF\x03\x00\x00\x00", "chm", "document", "compiled Windows help (CHM)"),
    Magic(b"\x00asm\x01\x00\x00\x00", "wasm", "executable", "WebAssembly program"),
    *(Magic(b"dex\n0%d\x00" % v, "dex", "executable", "Android program (DEX)")
      for v in range(35, 42)),
    Magic(b"%PDF-", "pdf", "document", "PDF document"),
    Magic(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole", "document", "Office document (OLE)"),
    Magic(b"AT&TFORM", "djvu", "document", "DjVu document"),
    Magic(b"8BPS", "psd", "image", "Photoshop image"),
    Magic(b"\x00\x00\x00\x0cjP  \r\n\x87\n", "jp2", "image", "JPEG 2000 image"),
    Magic(b"\xff\x4f\xff\x51", "jp2", "image", "JPEG 2000 image"),
    Magic(b"\xff\x0a", "jxl", "image", "JPEG XL image"),
    Magic(b"\x00\x00\x00\x0cJXL \r\n\x87\n", "jxl", "image", "JPEG XL image"),
)  # fmt: skip

_FAT_MACHO = Magic(b"\xca\xfe\xba\xbe", "macho", "executable", "macOS program (Mach-O, universal)")
_JAVA_CLASS = Magic(b"\xca\xfe\xba\xbe", "java_class", "executable", "Java class file")


def magic_at_start(head: bytes) -> Magic | None:
    """The format whose fixed signature `head` starts with, or None.

    `CA FE BA BE` is shared by fat (universal) Mach-O and Java class files: Mach-O follows
    it with a big-endian architecture count (1..MAX_FAT_MACHO_ARCHS), a class file with a
    minor and a major version (major >= 45), so the next four bytes tell them apart.
    """
    if head.startswith(_FAT_MACHO.prefix):
        count = int.from_bytes(head[4:8], "big")
        if len(head) >= 8 and 1 <= count <= MAX_FAT_MACHO_ARCHS:
            return _FAT_MACHO
        major = int.from_bytes(head[6:8], "big")
        if len(head) >= 8 and major >= MIN_JAVA_CLASS_MAJOR:
            return _JAVA_CLASS
        return None
    for magic in START_MAGICS:
        if head.startswith(magic.prefix):
            return magic
    return None


def is_text(sample: bytes) -> bool:
    """Mostly printable ASCII/UTF-8 with no NUL (C-speed count, no per-byte Python)."""
    if not sample or b"\x00" in sample:
        return False
    non_printable = len(sample) - len(sample.translate(None, _NON_PRINTABLE))
    return non_printable <= len(sample) * (1 - TEXT_PRINTABLE_FRACTION)


# --- script tokens --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "powershell", "vbs", "batch", "js", "python"
    source: bytes  # the regex, over lower-cased text with a newline prepended
    strong: bool  # one occurrence decides
    word_start: bool  # the byte before the match must not be a letter, digit or `_`

    @property
    def pattern(self) -> re.Pattern[bytes]:
        """The compiled token, compiled on first use: a scan of clean photos never asks
        for a script's language, so `photogate scan` does not pay to compile ~70 regexes."""
        return _compiled(self.source)


@functools.cache
def _compiled(source: bytes) -> re.Pattern[bytes]:
    return re.compile(source)


def _t(kind: str, source: bytes, *, strong: bool = False, word_start: bool = True) -> _Token:
    return _Token(kind, source, strong, word_start)


# Each pattern starts with a literal byte (see the module docstring).
_TOKENS: tuple[_Token, ...] = (
    # PowerShell: download cradles, in-memory execution, hidden windows
    _t("powershell", rb"invoke-expression", strong=True),
    _t("powershell", rb"iex\s{0,8}[(\$]", strong=True),
    _t("powershell", rb"net\.webclient", strong=True),
    _t("powershell", rb"downloadstring\s{0,8}\(", strong=True),
    _t("powershell", rb"downloadfile\s{0,8}\(", strong=True),
    _t("powershell", rb"frombase64string\s{0,8}\(", strong=True),
    _t("powershell", rb"invoke-webrequest", strong=True),
    _t("powershell", rb"-encodedcommand\b", strong=True, word_start=False),
    _t("powershell", rb"set-executionpolicy", strong=True),
    _t("powershell", rb"-windowstyle\s{1,8}hidden", strong=True, word_start=False),
    _t("powershell", rb"powershell(?:\.exe)?\s{1,8}-", strong=True),
    _t("powershell", rb"start-process\b"),
    _t("powershell", rb"new-object\s"),
    _t("powershell", rb"add-type\s"),
    _t("powershell", rb"\$env:", word_start=False),
    _t("powershell", rb"\[(?:system\.)?convert\]::", strong=True, word_start=False),
    _t("powershell", rb"pwsh(?:\.exe)?\s{1,8}-", strong=True),
    # `[char]73+[char]69+[char]88`: a command spelled one character code at a time
    _t(
        "powershell",
        rb"\[char\]\s{0,4}\d{1,3}\s{0,4}\+\s{0,4}\[char\]",
        strong=True,
        word_start=False,
    ),
    # VBScript / WSH
    _t("vbs", rb"wscript\.shell", strong=True),
    _t("vbs", rb"on\s{1,8}error\s{1,8}resume\s{1,8}next", strong=True),
    _t("vbs", rb"msxml2\.(?:server)?xmlhttp", strong=True),
    _t("vbs", rb"adodb\.stream", strong=True),
    _t("vbs", rb"createobject\s{0,8}\("),
    _t("vbs", rb"wscript\.(?:createobject|echo|sleep|scriptfullname)"),
    _t("vbs", rb"\ndim\s+\w+(?:\s*,\s*\w+)*[ \t]*\r?\n", word_start=False),
    _t("vbs", rb"\nset\s+\w+\s*=\s*(?:createobject|getobject|nothing)", word_start=False),
    _t("vbs", rb"\n[ \t]*sub\s+\w+\s*\([^)\r\n]{0,200}\)[ \t]*\r?\n", word_start=False),
    _t("vbs", rb"execute(?:global)?\s{0,8}\("),
    _t("vbs", rb"chr\(\d{1,3}\)\s{0,8}&"),
    # Windows batch
    _t("batch", rb"\n[ \t]*@echo\s+off", strong=True, word_start=False),
    _t("batch", rb"bitsadmin(?:\.exe)?\s+/transfer", strong=True),
    _t("batch", rb"certutil(?:\.exe)?\s+-(?:urlcache|decode)", strong=True),
    _t("batch", rb"%~(?:dp0|f0|nx0|0)", strong=True, word_start=False),
    _t("batch", rb"\n[ \t]*set\s+\w+=", word_start=False),
    _t("batch", rb"\n[ \t]*goto\s+:?\w+[ \t]*\r?\n", word_start=False),
    _t("batch", rb"\n[ \t]*call\s+(?::\w|\S+\.(?:bat|cmd)\b)", word_start=False),
    _t("batch", rb"\n[ \t]*start\s+(?:/b|/min)\s", strong=True, word_start=False),
    _t(
        "batch",
        rb"\n[ \t]*start\s+(?:\"|\S+\.(?:exe|bat|cmd|com|scr|vbs|js|ps1)\b)",
        word_start=False,
    ),
    _t("batch", rb"\n[ \t]*if\s+(?:not\s+)?exist\s", word_start=False),
    _t("batch", rb"\n[ \t]*for\s+%%?\w\s+in\s", word_start=False),
    _t("batch", rb"\n[ \t]*del\s+(?:/[fqs]\s|\"?%)", word_start=False),
    _t("batch", rb"cmd(?:\.exe)?\s+/[ck]\b"),
    # Living-off-the-land launchers: Windows programs told to fetch and run remote code
    _t("batch", rb"regsvr32(?:\.exe)?\s[^\r\n]{0,80}/i:", strong=True),
    _t("batch", rb"scrobj\.dll", strong=True),
    _t("batch", rb"mshta(?:\.exe)?\s{1,8}[\"']?(?:https?|vbscript|javascript):", strong=True),
    _t("batch", rb"rundll32(?:\.exe)?\s{1,8}javascript:", strong=True),
    _t("batch", rb"wmic(?:\.exe)?\s[^\r\n]{0,80}process\s{1,8}call\s{1,8}create", strong=True),
    # JavaScript / JScript
    _t("js", rb"activexobject\s{0,8}\(", strong=True),
    _t("js", rb"document\.createelement\s{0,8}\(", strong=True),
    _t("js", rb"document\.write(?:ln)?\s{0,8}\(", strong=True),
    _t("js", rb"string\.fromcharcode\s{0,8}\(", strong=True),
    _t("js", rb"function\s*[\w$]*\s*\([^)]{0,200}\)\s*\{"),
    _t("js", rb"var\s+[\w$]+\s*="),
    _t("js", rb"let\s+[\w$]+\s*="),
    _t("js", rb"const\s+[\w$]+\s*="),
    _t("js", rb"document\.cookie", strong=True),
    _t("js", rb"window\.location(?:\.href)?\s{0,8}=[^=]", strong=True),
    _t("js", rb"document\.(?:getelementbyid|body|location|domain)"),
    _t("js", rb"window\.location"),
    _t("js", rb"eval\("),
    _t("js", rb"atob\("),
    _t("js", rb"unescape\("),
    _t("js", rb"fetch\("),
    _t("js", rb"settimeout\("),
    _t("js", rb"appendchild\("),
    _t("js", rb"wscript\."),
    # Python: droppers and reverse shells (`exec(base64.b64decode(...))`, `pty.spawn`)
    _t("python", rb"__import__\s{0,8}\(", strong=True),
    _t("python", rb"subprocess\.(?:popen|call|run|check_output|check_call)\s{0,8}\(", strong=True),
    _t("python", rb"os\.(?:system|popen|execv?p?e?)\s{0,8}\(", strong=True),
    _t(
        "python",
        rb"exec\s{0,8}\(\s{0,8}(?:base64|zlib|marshal|compile|codecs|bytes\.fromhex)",
        strong=True,
    ),
    _t("python", rb"\nif\s+__name__\s*==\s*[\"']__main__[\"']", strong=True, word_start=False),
    _t("python", rb"urllib\.request\.urlopen\s{0,8}\(", strong=True),
    _t("python", rb"socket\.socket\s{0,8}\(", strong=True),
    _t("python", rb"pty\.spawn\s{0,8}\(", strong=True),
    _t("python", rb"#!\s?/usr/bin/(?:env\s+)?python", strong=True, word_start=False),
    _t(
        "python",
        rb"\nimport\s+[a-z_][\w.]*[ \t]*(?:,[ \t]*[a-z_][\w.]*[ \t]*)*\r?\n",
        word_start=False,
    ),
    _t("python", rb"\nfrom\s+[\w.]+\s+import\s", word_start=False),
    _t(
        "python",
        rb"\n[ \t]*def\s+\w+\s*\([^)\r\n]{0,200}\)\s*(?:->[^:\r\n]{0,80})?:",
        word_start=False,
    ),
    _t("python", rb"base64\.b64decode\s{0,8}\("),
)
# Evidence order for ties: a JScript dropper also names WScript; the more specific wins.
_SCRIPT_KINDS = ("powershell", "vbs", "batch", "js", "python")
_STRONG_WEIGHT = SCRIPT_MIN_HITS  # one strong token weighs as much as the weak minimum


def _word_char(byte: int) -> bool:
    return byte == 0x5F or 0x30 <= byte <= 0x39 or 0x61 <= byte <= 0x7A


def _first_hit(token: _Token, lowered: bytes) -> bool:
    for match in token.pattern.finditer(lowered):
        start = match.start()
        if not token.word_start or start == 0 or not _word_char(lowered[start - 1]):
            return True
    return False


# PowerShell's escape character inside a word is a no-op (`n`ew-obj`ect` is New-Object) and
# quoted pieces joined by `+` are one string (`'Down'+'loadString'`): Invoke-Obfuscation's
# first two layers, undone before the tokens are matched.
_JOINED_QUOTES = re.compile(rb"(['\"])\s{0,8}\+\s{0,8}\1")


def _without_obfuscation(lowered: bytes) -> bytes:
    """The text with PowerShell backtick escapes and string concatenation undone."""
    if b"`" in lowered:
        lowered = lowered.replace(b"`", b"")
    if b"+'" in lowered or b'+"' in lowered or b"+ " in lowered:  # memchr-speed prefilters
        lowered = _JOINED_QUOTES.sub(b"", lowered)
    return lowered


def script_kind(untrusted_text: bytes) -> str | None:
    """The script language of `untrusted_text` ("powershell", "vbs", "batch", "js",
    "python") or None.

    A kind needs one strong token or `SCRIPT_MIN_HITS` different weak ones; when several
    kinds qualify, the one with the most evidence wins (ties in `_SCRIPT_KINDS` order).
    The caller bounds the text (a few KiB to 64 KiB).
    """
    lowered = _without_obfuscation(b"\n" + untrusted_text.lower())
    evidence = dict.fromkeys(_SCRIPT_KINDS, 0)
    for token in _TOKENS:
        if _first_hit(token, lowered):
            evidence[token.kind] += _STRONG_WEIGHT if token.strong else 1
    best = max(_SCRIPT_KINDS, key=lambda kind: evidence[kind])
    return best if evidence[best] >= SCRIPT_MIN_HITS else None
