"""Safe text: every invisible, bidi or blank character is shown escaped; letters stay."""

from __future__ import annotations

import pytest

from agent.textsafe import safe_name, safe_text


@pytest.mark.parametrize(
    ("char", "shown"),
    [
        ("\u202e", "\\u202e"),  # RLO (Cf)
        ("\u200b", "\\u200b"),  # ZWSP (Cf)
        ("\u206f", "\\u206f"),  # NOMINAL DIGIT SHAPES (Cf)
        ("\ufffb", "\\ufffb"),  # INTERLINEAR ANNOTATION TERMINATOR (Cf)
        ("\U0001d173", "\\U0001d173"),  # MUSICAL SYMBOL BEGIN BEAM (Cf)
        ("\u17b5", "\\u17b5"),  # KHMER VOWEL INHERENT AA (default-ignorable, Mn)
        ("\u3164", "\\u3164"),  # HANGUL FILLER
        ("\u2800", "\\u2800"),  # BRAILLE PATTERN BLANK
        ("\u1680", "\\u1680"),  # OGHAM SPACE MARK (Zs)
        ("\u00a0", "\\xa0"),  # NO-BREAK SPACE
        ("\U000e0100", "\\U000e0100"),  # VARIATION SELECTOR-17
        ("\x1b", "\\x1b"),  # ESC forges terminal output
        ("\n", "\\x0a"),  # a newline forges log lines
    ],
)
def test_hidden_characters_are_escaped(char: str, shown: str) -> None:
    assert safe_text(f"a{char}b") == f"a{shown}b"


def test_letters_of_every_script_and_spaces_stay() -> None:
    for text in ("צילום רנטגן.png", "صورة.jpg", "患者照片.jpg", "photo (1).jpg", "Ωmega.tif"):
        assert safe_text(text) == text


def test_long_names_keep_their_end() -> None:
    shown = safe_name("/x/" + "a" * 100 + ".jpg.exe", max_length=20)
    assert shown.endswith(".jpg.exe") and len(shown) == 20
