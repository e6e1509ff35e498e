"""A caught file's name as the file manager shows it, and what that picture hides.

A receptionist never saw `invoice_\\u202egpj.exe`: Explorer showed `invoice_exe.jpg`.
The review window shows that, because it is what she recognises, and says in words what
it hid: "Looks like invoice_exe.jpg — really ends in .exe". Nothing shown here can carry
a control, bidi or invisible character: the displayed form has them removed (the bidi
algorithm already applied), and `safe_text` escapes whatever else could not be drawn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.inspect.name_chars import displayed, is_bidi_control, is_invisible
from agent.inspect.names import effective_extension
from agent.textsafe import safe_text

# Extensions Explorer never shows, even with "show extensions" on (NeverShowExt).
ALWAYS_HIDDEN_EXTENSIONS = ("lnk", "url", "pif", "scf", "shs", "shb", "xnk")
PADDING_RUN = re.compile(r"[\s\u2800\u3164]{3,}$")  # blanks pushing the ending out of view


@dataclass(frozen=True)
class NameView:
    """`shown`: the name as drawn (safe); `note`: what it hides, in words, or None."""

    shown: str
    note: str | None = None


def _apparent_extension(text: str) -> str:
    dot = text.rstrip(". ").rfind(".")
    return text.rstrip(". ")[dot + 1 :].lower() if dot > 0 else ""


def name_view(untrusted_name: str, max_chars: int | None = None) -> NameView:
    """How the file manager shows `untrusted_name`, and the truth about its ending."""
    disguised = any(is_bidi_control(ch) or is_invisible(ch) for ch in untrusted_name)
    drawn = displayed(untrusted_name) if disguised else untrusted_name
    real = effective_extension(untrusted_name)
    real_shown = safe_text(real)
    if real in ALWAYS_HIDDEN_EXTENSIONS:
        drawn = drawn[: drawn.lower().rfind("." + real)] if "." in drawn else drawn
        shown = safe_text(drawn, max_chars)
        kind = "a shortcut" if real in ("lnk", "url", "pif", "xnk") else "a command file"
        return NameView(
            shown,
            f"Looks like {shown} — really ends in .{real_shown} ({kind}; Windows never"
            " shows this ending)",
        )
    shown = safe_text(drawn, max_chars)
    if "." in untrusted_name and PADDING_RUN.search(untrusted_name.rsplit(".", 1)[0]):
        return NameView(
            shown,
            f"The name hides its real ending behind blank space: it really ends in .{real_shown}",
        )
    apparent = _apparent_extension(drawn)
    if real and apparent != real and (apparent or disguised):
        if disguised and apparent == "".join(ch for ch in real if not is_invisible(ch)):
            return NameView(
                shown,
                f"Looks like {shown} — its ending contains an invisible character, so it is"
                f" not really .{safe_text(apparent)}",
            )
        return NameView(shown, f"Looks like {shown} — really ends in .{real_shown}")
    return NameView(shown)
