"""Characters in file names, judged by their Unicode properties rather than a hand list.

A name can lie with characters in four ways, each found from Unicode data so that the next
character of the same kind is covered too:

* **bidi controls** (bidi class LRE/RLE/LRO/RLO/PDF/LRI/RLI/FSI/PDI, and the format marks
  LRM/RLM/ALM) reorder what is displayed (`invoice_\\u202egpj.exe` shows `invoice_exe.jpg`);
* **invisibles**: format characters (general category Cf), controls (Cc), line/paragraph
  separators (Zl/Zp), Other_Default_Ignorable_Code_Point (Unicode PropList: Hangul fillers,
  Khmer inherent vowels, U+2065, U+FFF0-FFF8, tags) and variation selectors;
* **spaces** (Zs, plus the blank fillers) pad a name until its tail is cut off;
* **dot look-alikes**: a character whose NFKC form or UTS #39 confusable prototype is a full
  stop or middle dot, or whose Unicode name calls it a FULL STOP.

Whether such a character matters is decided by what it changes on screen: `displayed` runs
the Unicode Bidirectional Algorithm (python-bidi) the way Explorer lays out a name in a
left-to-right window, then drops the invisibles. Decoy extensions are compared by their
confusable *skeleton* (UTS #39 data shipped by `confusable-homoglyphs`; nothing is
downloaded), after NFKC, so `.јрg` (Cyrillic) and `.ｊｐｇ` (fullwidth) read as `.jpg`.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from agent.textsafe import VARIATION_SELECTORS, in_ranges, is_blank_char, is_invisible_char

BIDI_CONTROL_CLASSES = frozenset({"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})
# Bidi classes that make the algorithm reorder anything at all.
_REORDERING_CLASSES = BIDI_CONTROL_CLASSES | {"R", "AL"}
KEYCAP = "\u20e3"  # COMBINING ENCLOSING KEYCAP: 1️⃣ is digit, U+FE0F, U+20E3
KEYCAP_BASES = frozenset("0123456789#*")
EMOJI_TAG_BASE = "\U0001f3f4"  # WAVING BLACK FLAG: subdivision flags are it + tags + U+E007F
# UTS #51 emoji tag sequence: the base, one or more tag_spec characters, then the tag_end.
TAG_SPEC_FIRST, TAG_SPEC_LAST = 0xE0020, 0xE007E  # code points: TAG SPACE .. TAG TILDE
CANCEL_TAG = "\U000e007f"  # tag_end
# Punctuation that is ordinary in its own script (Japanese ・ 。, Catalan l·l, Urdu ۔,
# Arabic-Indic zero): only a finding when it fakes an extension.
SCRIPT_DOTS = frozenset("\u00b7\u3002\u30fb\uff61\uff65\u06d4\u0660\u06f0")
_DOT_PROTOTYPES = frozenset(".\u00b7")


@functools.lru_cache(maxsize=4096)
def is_bidi_control(ch: str) -> bool:
    """An explicit embedding/override/isolate, or an LRM/RLM/ALM mark (a Cf of strong class)."""
    bidi = unicodedata.bidirectional(ch)
    return bidi in BIDI_CONTROL_CLASSES or (
        unicodedata.category(ch) == "Cf" and bidi in ("L", "R", "AL")
    )


def is_invisible(ch: str) -> bool:
    """Cf, Cc, Zl, Zp, default-ignorable or a variation selector (bidi controls included)."""
    return is_invisible_char(ch)


def is_space_like(ch: str) -> bool:
    """A space separator (Zs, U+0020 included) or a blank filler: padding material."""
    return is_blank_char(ch)


_DOT_CATEGORIES = frozenset({"Po", "Sk", "Lm"})
_ONE_DOT_NAME = re.compile(
    r"^(?!.*\b(?:WITH|WITHIN|DOUBLE|TWO|THREE|FOUR|DOTS|WHITE|CIRCLE)\b)(?:[A-Z]+ )*DOT(?: ABOVE)?$"
)


@functools.lru_cache(maxsize=4096)
def is_dot_like(ch: str) -> bool:
    """Not U+002E, but read as a dot: NFKC or confusable prototype `.`/`·`, a FULL STOP, or
    punctuation/modifier named for a single dot."""
    if ch.isascii():
        return False
    if unicodedata.normalize("NFKC", ch) in _DOT_PROTOTYPES | {"\u3002"}:
        return True
    if ch in _dot_confusables():
        return True
    name = unicodedata.name(ch, "")
    if unicodedata.category(ch) == "Po" and "FULL STOP" in name:
        return True
    # a lone spacing dot drawn at any height (RAISED DOT, DOT ABOVE, DEVANAGARI SIGN HIGH
    # SPACING DOT): punctuation, a modifier symbol or a modifier letter named for one DOT
    return unicodedata.category(ch) in _DOT_CATEGORIES and _ONE_DOT_NAME.search(name) is not None


def _legit_joiner(name: str, index: int) -> bool:
    """ZWJ/ZWNJ between two non-ASCII letters/marks/symbols (Persian, Indic, emoji)."""
    if index == 0 or index + 1 >= len(name):
        return False
    for neighbour in (name[index - 1], name[index + 1]):
        if neighbour.isascii() or unicodedata.category(neighbour)[0] not in "LMS":
            return False
    return True


def _legit_selector(name: str, index: int) -> bool:
    """A variation selector after a symbol (❤️) or inside a keycap (1️⃣)."""
    if index == 0:
        return False
    before = name[index - 1]
    if unicodedata.category(before) in ("So", "Sm", "Sk"):
        return True
    return before in KEYCAP_BASES and name[index + 1 : index + 2] == KEYCAP


def _is_tag_spec(ch: str) -> bool:
    """A tag character that may spell a tag sequence's specification (TAG SPACE..TAG TILDE)."""
    return TAG_SPEC_FIRST <= ord(ch) <= TAG_SPEC_LAST


def _legit_tag(name: str, index: int) -> bool:
    """A tag character inside a complete emoji tag sequence (UTS #51 ED-14a: 🏴, tag_spec
    U+E0020-E007E one or more times, CANCEL TAG). Any other tag, or tags that do not
    finish the sequence, can spell hidden text after a flag: stray."""
    if not (_is_tag_spec(name[index]) or name[index] == CANCEL_TAG):
        return False
    start = index
    while start > 0 and _is_tag_spec(name[start - 1]):
        start -= 1
    end = index
    while end < len(name) and _is_tag_spec(name[end]):
        end += 1
    return (
        start > 0
        and name[start - 1] == EMOJI_TAG_BASE
        and end > start
        and name[end : end + 1] == CANCEL_TAG
    )


def stray_invisibles(name: str) -> list[int]:
    """Positions of invisible characters that are not part of a legitimate sequence."""
    found: list[int] = []
    for index, ch in enumerate(name):
        if not is_invisible(ch):
            continue
        code = ord(ch)
        if ch in "\u200c\u200d" and _legit_joiner(name, index):
            continue
        if in_ranges(code, VARIATION_SELECTORS) and _legit_selector(name, index):
            continue
        if _legit_tag(name, index):
            continue
        found.append(index)
    return found


def visible(text: str) -> str:
    """The text without its invisible characters (what is drawn, in logical order)."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(ch for ch in text if not is_invisible(ch))


def displayed(name: str) -> str:
    """What a left-to-right window draws, left to right: bidi-reordered, invisibles dropped."""
    if not any(unicodedata.bidirectional(ch) in _REORDERING_CLASSES for ch in name):
        return visible(name)
    from bidi import get_display  # lazy: only names with right-to-left text or controls

    return visible(str(get_display(name, base_dir="L")))


@functools.lru_cache(maxsize=1)
def _skeleton_table() -> dict[str, str]:
    """Non-ASCII character -> the ASCII character UTS #39 says it is confusable with."""
    # lazy: the data (9,600 entries, ~50 ms to load) is needed only for non-ASCII names
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[str, str] = {}
    for char, glyphs in confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        for glyph in glyphs:
            target = glyph.get("c", "")
            if len(target) == 1 and target.isascii():
                table[char] = target
                break
    return table


@functools.lru_cache(maxsize=1)
def _dot_confusables() -> frozenset[str]:
    """Characters UTS #39 lists as confusable with a full stop or a middle dot."""
    from confusable_homoglyphs.confusables import confusables_data

    return frozenset(
        char
        for char, glyphs in confusables_data.items()
        if len(char) == 1
        and char not in _DOT_PROTOTYPES
        and any(glyph.get("c", "") in _DOT_PROTOTYPES for glyph in glyphs)
    )


def skeleton_char(ch: str) -> str:
    """The ASCII prototype of one character ('' when it has none); ASCII maps to itself."""
    if ch.isascii():
        return ch
    return _skeleton_table().get(ch, "")


def skeleton(text: str) -> str:
    """NFKC, invisibles dropped, case-folded, each character replaced by its ASCII prototype.

    Characters with no ASCII prototype are kept, so a Greek or Hebrew word stays itself.
    """
    folded = unicodedata.normalize("NFKC", visible(text)).casefold()
    if folded.isascii():
        return folded
    table = _skeleton_table()
    return "".join(ch if ch.isascii() else table.get(ch, ch) for ch in folded).casefold()
