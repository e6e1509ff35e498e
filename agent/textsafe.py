"""Make untrusted text (file names above all) safe to show in logs, terminals and UIs.

Bidi controls would reorder what a person reads (`invoice_\\u202Egpj.exe` shows as
`invoice_exe.jpg`), zero-width characters hide, control characters forge log lines.
Every such character is shown escaped as `\\u202e` instead; ordinary letters of any
script (Arabic, Hebrew, Chinese...) are kept as they are. Which characters those are is
decided by Unicode properties (general category, default-ignorable, variation selector),
not a hand list, so the engine's name checks share these predicates.
"""

from __future__ import annotations

import functools
import os
import unicodedata
from pathlib import Path

# Other_Default_Ignorable_Code_Point (Unicode PropList.txt): ignorable although not Cf
# (combining grapheme joiner, Hangul fillers, Khmer inherent vowels, U+2065, tag range).
_OTHER_DEFAULT_IGNORABLE = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x2065, 0x2065),
    (0x3164, 0x3164),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0xE0000, 0xE0FFF),
)
# Variation selectors (PropList Variation_Selector).
VARIATION_SELECTORS = ((0x180B, 0x180D), (0x180F, 0x180F), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
# Letters and symbols that draw as nothing but blank space (Hangul fillers, braille blank).
BLANK_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def in_ranges(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    """True when the code point lies in one of the inclusive (low, high) ranges."""
    return any(low <= code <= high for low, high in ranges)


@functools.lru_cache(maxsize=4096)
def is_invisible_char(ch: str) -> bool:
    """Drawn as nothing: Cc, Cf (bidi controls, zero-width, BOM, tags), Zl, Zp, default-
    ignorable (Unicode's Other_Default_Ignorable_Code_Point) or a variation selector."""
    if ch.isascii():
        return not ch.isprintable()
    return (
        unicodedata.category(ch) in ("Cf", "Cc", "Zl", "Zp")
        or in_ranges(ord(ch), _OTHER_DEFAULT_IGNORABLE)
        or in_ranges(ord(ch), VARIATION_SELECTORS)
    )


@functools.lru_cache(maxsize=4096)
def is_blank_char(ch: str) -> bool:
    """Drawn as empty space: a space separator (Zs, U+0020 included) or a blank filler."""
    if ch.isascii():
        return ch == " "
    return unicodedata.category(ch) == "Zs" or ch in BLANK_FILLERS


def _needs_escape(ch: str) -> bool:
    if ch.isascii():
        return not ch.isprintable()
    if is_invisible_char(ch) or is_blank_char(ch):
        return True
    # Cs lone surrogate (undecodable bytes), Co private use, Cn unassigned.
    return unicodedata.category(ch) in {"Cs", "Co", "Cn"}


def _escape(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's surrogateescape: an undecodable byte
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe_text(untrusted_text: str, max_length: int | None = None) -> str:
    """Escape every control, bidi, invisible or undecodable character of the text.

    `max_length` (characters of the result) cuts long names with an ellipsis in the
    middle, keeping the end, because the end carries the real extension.
    """
    out = "".join(_escape(ch) if _needs_escape(ch) else ch for ch in untrusted_text)
    if max_length is not None and len(out) > max_length > 8:
        keep_tail = max_length // 2
        keep_head = max_length - keep_tail - 1
        out = out[:keep_head] + "…" + out[-keep_tail:]
    return out


def safe_name(path: str | os.PathLike[str], max_length: int | None = None) -> str:
    """`safe_text` of a path's last component (the file name people see)."""
    name = Path(os.fspath(path)).name or os.fspath(path)
    return safe_text(name, max_length)


def safe_path(path: str | os.PathLike[str]) -> str:
    """`safe_text` of a whole path."""
    return safe_text(os.fspath(path))
