"""File-name checks at their edges: the exact words staff and IT read, boundaries, sequences.

Written against the mutation run (bench/mutation.py names): each test pins a behaviour a small
deliberate bug in names.py or name_chars.py would change. Expected values are literals from
the Windows rules (trailing dots/spaces stripped, NeverShowExt), Unicode data (UTS #51 emoji
sequences, StandardizedVariants, UTS #39 confusables) and docs/finding-codes.md.
"""

from __future__ import annotations

import pytest

from agent.inspect.name_chars import skeleton, skeleton_char
from agent.inspect.names import (
    check_name,
    claimed_extensions,
    effective_extension,
    is_image_name,
)
from agent.model import Severity

HIGH, MEDIUM, LOW = Severity.HIGH, Severity.MEDIUM, Severity.LOW
FLAG = "\U0001f3f4"  # WAVING BLACK FLAG, the base of a subdivision flag
CANCEL_TAG = "\U000e007f"
ENGLAND = FLAG + "\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067" + CANCEL_TAG  # gbeng
PHOTO_CYRILLIC = "\u0444\u043e\u0442\u043e"  # "фото": Cyrillic letters with no ASCII twin


def codes(name: str) -> dict[str, Severity]:
    return {f.code: f.severity for f in check_name(name)}


def reports(name: str) -> list[tuple[str, Severity, str, str]]:
    return [(f.code, f.severity, f.message, f.detail) for f in check_name(name)]


PRETENDS = "This file pretends to be a .{} but is really a .{} {}."
SHOWN = (
    "This file's name contains hidden characters that change how it is shown, "
    "so its real type is disguised."
)
NOTHING_SHOWN = "This file's name contains invisible characters that change nothing shown."
TRAILING = (
    "This file's name ends in dots or spaces that Windows removes, which can hide its real type."
)
FAKE_DOT = "This file's name uses a fake dot to make it look like a different type of file."


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("photo.jpg.exe", [("name.double_extension", HIGH,
          PRETENDS.format("jpg", "exe", "program or script"),
          "claimed extensions ['jpg', 'exe']; Windows uses .exe")]),
        # the decoy is any piece before the real extension, not only the first one
        ("scan.2024.jpg.exe", [("name.double_extension", HIGH,
          PRETENDS.format("jpg", "exe", "program or script"),
          "claimed extensions ['2024', 'jpg', 'exe']; Windows uses .exe")]),
        ("scan.jpg.xml", [("name.double_extension", LOW,
          PRETENDS.format("jpg", "xml", "file"),
          "claimed extensions ['jpg', 'xml']; Windows uses .xml")]),
        ("photo.jpg.zip", [("name.double_extension", MEDIUM,
          PRETENDS.format("jpg", "zip", "archive"),
          "claimed extensions ['jpg', 'zip']; Windows uses .zip")]),
        ("photo.jpeg.svg", [("name.double_extension", MEDIUM,
          "This file looks like a .jpeg picture but is a .svg drawing, "
          "a type that can carry scripts.",
          "claimed extensions ['jpeg', 'svg']; Windows uses .svg")]),
        ("photo.jpg.lnk", [("name.hidden_extension", HIGH,
          "This file looks like a .jpg but is a Windows shortcut (.lnk) that Windows never shows.",
          "effective extension .lnk (always hidden) after .jpg")]),
        ("holiday.lnk", [("name.hidden_extension", MEDIUM,
          "This file is a .lnk shortcut, a type Windows never shows the extension of.",
          "effective extension .lnk is always hidden by Explorer")]),
        ("setup" + " " * 40 + ".exe", [("name.padded_extension", HIGH,
          "This file's name is padded with blanks to hide its real type (.exe).",
          "40 blank characters before the final extension")]),
        ("setup.exe ", [("name.trailing_dots_spaces", HIGH, TRAILING,
          "Windows opens it as .exe")]),
        ("photo.", [("name.trailing_dots_spaces", MEDIUM, TRAILING,
          "no extension after stripping")]),
        ("report\uff0epdf", [("name.dot_lookalike", HIGH, FAKE_DOT,
          "U+FF0E FULLWIDTH FULL STOP at character 6; no real extension")]),
        ("report.pdf\u2024", [("name.dot_lookalike", MEDIUM, FAKE_DOT,
          "U+2024 ONE DOT LEADER at character 10; Windows uses .pdf\u2024")]),  # not a dot
        ("invoice_\u202egpj.exe", [("name.bidi_control", HIGH, SHOWN,
          "U+202E at character 8; shows .jpg, Windows uses .exe")]),
        # ".jpg" reversed to "gpj.": the displayed name ends in no extension at all
        ("photo\u202e.jpg", [("name.bidi_control", MEDIUM, SHOWN,
          "U+202E at character 5; shows .(none), Windows uses .jpg")]),
        # "x.jpg" on screen, but Windows strips the dot and opens a file with no extension
        ("x\u202egpj.", [("name.bidi_control", MEDIUM, SHOWN,
          "U+202E at character 1; shows .jpg, Windows uses .(none)"),
          ("name.trailing_dots_spaces", MEDIUM, TRAILING, "no extension after stripping")]),
        ("ph\u200boto.jpg", [("name.invisible_character", LOW, NOTHING_SHOWN,
          "U+200B at character 2; shown and real extension agree (.jpg)")]),
        ("ph\u200boto", [("name.invisible_character", LOW, NOTHING_SHOWN,
          "U+200B at character 2; shown and real extension agree (.(none))")]),
    ],
)  # fmt: skip
def test_the_words_of_each_finding(
    name: str, expected: list[tuple[str, Severity, str, str]]
) -> None:
    # what the review window and the IT report show: plain sentences, the facts in the detail
    assert reports(name) == expected


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        # the displayed text is read from its right end: trailing dots dropped, last dot wins
        ("photo.jpg\u200b.", "U+200B at character 9; shows .jpg, Windows uses .jpg\u200b"),
        ("photo.jpg.e\u200bxe", "U+200B at character 11; shows .exe, Windows uses .e\u200bxe"),
        ("report.DO\u200bCX", "U+200B at character 9; shows .docx, Windows uses .do\u200bcx"),
        ("a.j\u200bpg", "U+200B at character 3; shows .jpg, Windows uses .j\u200bpg"),
        # ".jpg" alone on screen is a dot-file with no extension; Windows acts on ".jpg"
        ("\u200b.jpg", "U+200B at character 0; shows .(none), Windows uses .jpg"),
        # a Hebrew stem: the left-to-right window still draws ".jpg" at the right end
        (
            "\u05e6\u05d9\u05dc\u05d5\u05dd.j\u200bpg",
            "U+200B at character 7; shows .jpg, Windows uses .j\u200bpg",
        ),
    ],
)
def test_an_invisible_inside_the_extension_reports_what_is_shown(name: str, detail: str) -> None:
    found = [f for f in check_name(name) if f.code == "name.invisible_character"]
    assert [(f.severity, f.message, f.detail) for f in found] == [(MEDIUM, SHOWN, detail)]


def test_an_invisible_beside_a_reordering_control_is_judged_on_its_own() -> None:
    # the RLO disguises the name; the zero-width space in the stem changes nothing shown
    assert codes("invoice\u200b_\u202egpj.exe") == {
        "name.bidi_control": HIGH,
        "name.invisible_character": LOW,
    }


@pytest.mark.parametrize("mark", ["\u200f", "\u061c", "\u200e"])
def test_a_mark_at_the_start_does_not_turn_the_window_right_to_left(mark: str) -> None:
    # Explorer lays a name out in a left-to-right window: an RLM/ALM first changes nothing
    assert codes(f"{mark}photo.jpg") == {"name.bidi_control": LOW}


def test_windows_strips_only_dots_and_spaces() -> None:
    assert effective_extension("x.XLSX") == "xlsx"
    assert effective_extension("scan.jpg.EXE. ") == "exe"
    assert check_name("Report.2024.DOCX") == []  # ends in a letter: nothing is stripped


def test_image_names_by_effective_extension() -> None:
    assert is_image_name("x.JPG")
    assert is_image_name("scan.dcm")
    assert is_image_name("logo.svg")
    assert is_image_name("photo.jpg. ")  # Windows opens it as .jpg
    assert not is_image_name("photo.jpg.exe")
    assert not is_image_name("notes")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("photo.", {"name.trailing_dots_spaces": MEDIUM}),
        ("notes.txt ", {"name.trailing_dots_spaces": MEDIUM}),
        ("setup.exe.", {"name.trailing_dots_spaces": HIGH}),
        ("holiday.lnk.", {"name.trailing_dots_spaces": HIGH, "name.hidden_extension": MEDIUM}),
        ("my.docs.lnk", {"name.hidden_extension": MEDIUM}),  # two dots, no decoy
        ("shortcut.url ", {"name.trailing_dots_spaces": HIGH, "name.hidden_extension": MEDIUM}),
    ],
)
def test_names_with_one_dot_and_a_stripped_tail_are_judged(
    name: str, expected: dict[str, Severity]
) -> None:
    assert codes(name) == expected


def test_padding_boundaries() -> None:
    # PADDING_RUN_MIN_CHARS is 3 blanks (names.py): two are spacing, three are padding
    assert codes("scan.jpg  .exe") == {"name.double_extension": HIGH}
    assert codes("scan.jpg   .exe") == {
        "name.double_extension": HIGH,
        "name.padded_extension": HIGH,
    }
    # the run may reach the start of the name
    assert codes("   .exe") == {"name.padded_extension": HIGH}
    assert codes("  .exe") == {}


def test_padding_hides_the_decoy_right_before_it() -> None:
    # a harmless real type behind a padded picture decoy still lies about what it is
    assert codes("notes.v2.jpg      .txt") == {"name.padded_extension": HIGH}
    # the decoy must be the piece right before the padding, and the stem is never a decoy
    assert check_name("scan.jpg.v2      .txt") == []
    assert check_name("png      .jpg") == []


def test_claimed_extensions_keep_pieces_with_no_ascii_twin_out() -> None:
    # Hebrew "document" as a middle piece: its letters have no ASCII prototype (UTS #39)
    assert claimed_extensions("scan.\u05de\u05e1\u05de\u05da.pdf") == ["pdf"]


def test_skeleton_keeps_letters_with_no_prototype() -> None:
    assert skeleton("\u05de\u05e1\u05de\u05da") == "\u05de\u05e1\u05de\u05da"
    assert skeleton("\u0436.\u0458\u0440g") == "\u0436.jpg"  # zhe has no twin; je, er do


def test_skeleton_char() -> None:
    assert skeleton_char("a") == "a"
    assert skeleton_char("\u0430") == "a"  # Cyrillic a
    assert skeleton_char("\u0458") == "j"  # Cyrillic je
    assert skeleton_char("\u05e9") == ""  # Hebrew shin: no ASCII prototype


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # ZWJ/ZWNJ legitimate only between two non-ASCII letters, marks or symbols
        ("\u200d" + PHOTO_CYRILLIC, {"name.invisible_character": LOW}),  # first character
        (PHOTO_CYRILLIC + "\u200d", {"name.invisible_character": LOW}),  # last character
        ("photo\u200d" + PHOTO_CYRILLIC + ".jpg", {"name.invisible_character": LOW}),
        (PHOTO_CYRILLIC + "\u200dphoto.jpg", {"name.invisible_character": LOW}),
        ("family \U0001f468\u200d\U0001f469\u200d\U0001f467", {}),  # ends in a ZWJ emoji
        ("\U0001f468\u200d\U0001f469 ph\u200boto.jpg", {"name.invisible_character": LOW}),
        # a variation selector: after a symbol, or in a keycap (UTS #51: [0-9#*] FE0F 20E3)
        ("\ufe0fphoto.jpg", {"name.invisible_character": LOW}),
        ("a\ufe0f\u20e3 photo.jpg", {"name.invisible_character": LOW}),  # not a keycap base
        ("IMG1\ufe0f.jpg", {"name.invisible_character": LOW}),  # digit without the keycap
        ("A\u2229\ufe00B.jpg", {}),  # Sm: INTERSECTION with serifs (StandardizedVariants)
        ("\u2194\ufe0f map.jpg", {}),  # Sm: emoji-variation-sequences 2194 FE0F
        ("\U0001f44d\U0001f3fb\ufe0f ok.jpg", {}),  # Sk: after a skin-tone modifier
        ("\u02dc\ufe0e.jpg", {}),  # Sk: SMALL TILDE
        ("\u2764\u200b family.jpg", {"name.invisible_character": LOW}),  # ZWSP is no selector
        ("\u2764\ufe0f ph\u200boto.jpg", {"name.invisible_character": LOW}),
    ],
)
def test_joiners_and_selectors_in_sequences(name: str, expected: dict[str, Severity]) -> None:
    assert codes(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (ENGLAND + " team.jpg", {}),
        ("team " + ENGLAND + ".jpg", {}),  # the flag need not start the name
        (ENGLAND + " te\u200bam.jpg", {"name.invisible_character": LOW}),
        # UTS #51 ED-14a: tag_spec is U+E0020..U+E007E, one or more, then CANCEL TAG
        (FLAG + "\U000e0020\U000e007e" + CANCEL_TAG + ".jpg", {}),
        (FLAG + "\U000e0000\U000e0067" + CANCEL_TAG + ".jpg", {"name.invisible_character": LOW}),
        (FLAG + "\U000e0001\U000e0067" + CANCEL_TAG + ".jpg", {"name.invisible_character": LOW}),
        (FLAG + "\U000e001f\U000e0067" + CANCEL_TAG + ".jpg", {"name.invisible_character": LOW}),
        (FLAG + "\U000e0067\U000e0080" + CANCEL_TAG + ".jpg", {"name.invisible_character": LOW}),
        (FLAG + "\U000e0067\U000e0062.jpg", {"name.invisible_character": LOW}),  # no end
        (FLAG + CANCEL_TAG + ".jpg", {"name.invisible_character": LOW}),  # no tag_spec
        (ENGLAND + CANCEL_TAG + ".jpg", {"name.invisible_character": LOW}),  # a second end
        (ENGLAND + "\U000e0068i.jpg", {"name.invisible_character": LOW}),  # tags after the end
        ("\U000e0041photo " + FLAG, {"name.invisible_character": LOW}),
        ("\U000e0067" + CANCEL_TAG + " team " + FLAG, {"name.invisible_character": LOW}),
        ("\U000e0041\U000e0042", {"name.invisible_character": LOW}),  # nothing but tags
        ("\U000e0041\U000e0042" + CANCEL_TAG, {"name.invisible_character": LOW}),
    ],
)
def test_tag_characters_only_in_a_complete_flag(name: str, expected: dict[str, Severity]) -> None:
    # tags outside a complete sequence can spell hidden text: a finding, low when shown intact
    assert codes(name) == expected
