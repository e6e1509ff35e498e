"""Make untrusted text (file names above all) safe to show in logs, terminals and UIs.

Bidi controls would reorder what a person reads (`invoice_\\u202Egpj.exe` shows as
`invoice_exe.jpg`), zero-width characters hide, control characters forge log lines.
Every such character is shown escaped as `\\u202e` instead; ordinary letters of any
script (Arabic, Hebrew, Chinese...) are kept as they are.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

# Format characters (Cf) cover bidi controls, zero-width characters, BOM and tags; the
# rest are invisible or space look-alikes that hide the end of a name.
_INVISIBLE_EXTRA = frozenset(
    "\u115f\u1160\u3164\uffa0\u2800\u034f\u180e\u00a0\u2028\u2029\u202f\u205f\u3000"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
)


def _needs_escape(ch: str) -> bool:
    if ch in _INVISIBLE_EXTRA:
        return True
    category = unicodedata.category(ch)
    # Cc control, Cf format (bidi, zero-width), Cs lone surrogate (undecodable bytes),
    # Co private use, Cn unassigned, Zl/Zp line/paragraph separators.
    return category in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"} or ("\ufe00" <= ch <= "\ufe0f")


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
