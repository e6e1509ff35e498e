"""File-name checks: the lures are caught, ordinary names (any script) stay quiet."""

from __future__ import annotations

import pytest

from agent.inspect.names import (
    check_name,
    claimed_extensions,
    effective_extension,
    expected_type,
)
from agent.model import Severity


def codes(name: str) -> dict[str, Severity]:
    return {f.code: f.severity for f in check_name(name)}


@pytest.mark.parametrize(
    "name",
    [
        "scan.2024.01.15.jpg",
        "IMG_1234.JPG",
        "photo (1).jpg",
        "report final.pdf",
        "a.b.c.png",
        "صورة المريض.jpg",  # Arabic letters are right-to-left letters, not controls
        "צילום רנטגן.png",  # Hebrew
        "می‌خواهم.jpg",  # Persian with ZWNJ between letters
        "写真・2024.jpg",  # Japanese middle dot between words
        "❤️ family.jpg",  # emoji with variation selector
        "👨‍👩‍👧.jpg",  # emoji ZWJ sequence
        "setup.exe",  # a program named as a program is not a disguise
        "archive.zip",
        "notes.txt",
        "IMG_20240115_123456~2.jpg",
        "1.2.840.113619.2.55.3.604688119.969.1268071029.320",  # DICOM UID file name
        "",
    ],
)
def test_ordinary_names_have_no_findings(name: str) -> None:
    assert check_name(name) == []


def test_rlo_invoice_is_high_bidi() -> None:
    found = codes("invoice_\u202egpj.exe")
    assert found == {"name.bidi_control": Severity.HIGH}


@pytest.mark.parametrize(
    "char", ["\u202a", "\u202d", "\u2066", "\u2069", "\u200e", "\u200f", "\u061c"]
)
def test_a_bidi_control_that_reorders_nothing_is_low(char: str) -> None:
    # the control sits in front of ".jpg" and nothing after it is reordered: the name shows
    # the extension Windows uses
    assert codes(f"photo{char}.jpg") == {"name.bidi_control": Severity.LOW}


@pytest.mark.parametrize(
    ("name", "severity"),
    [
        ("invoice_\u202egpj.exe", Severity.HIGH),  # shows invoice_exe.jpg
        ("photo_\u202egnp.scr", Severity.HIGH),
        ("report\u202efdp.zip", Severity.HIGH),  # an archive shown as a .pdf
        ("notes\u202etxt.md", Severity.MEDIUM),  # shows notes_dm.txt: disguised, not a program
        ("photo\u202e.jpg", Severity.MEDIUM),  # ".jpg" reversed: the extension is hidden
        ("x\u202d\u202egpj.exe", Severity.HIGH),  # nested overrides
        ("x\u202egpj.exe\u202c", Severity.MEDIUM),  # Windows looks up ".exe\u202c": no program
    ],
)
def test_a_bidi_control_that_changes_the_shown_extension_is_a_finding(
    name: str, severity: Severity
) -> None:
    assert codes(name)["name.bidi_control"] is severity


@pytest.mark.parametrize(
    "name",
    [
        "\u200f\u05e7\u05d5\u05d1\u05e5 - \u05e2\u05d5\u05ea\u05e7.jpg",  # RLM before Hebrew
        "\u05e7\u05d5\u05d1\u05e5 - \u05e2\u05d5\u05ea\u05e7\u200f.jpg",
        "photo\u2067gpj.exe\u2069",  # an RLI isolate does not reverse Latin letters
        "\u05e7\u05d5\u05d1\u05e5\u200f.\u05de\u05e1\u05de\u05da",  # a Hebrew extension
    ],
)
def test_marks_and_isolates_that_show_the_real_extension_are_low(name: str) -> None:
    assert set(codes(name).values()) <= {Severity.LOW}


@pytest.mark.parametrize(
    ("name", "severity"),
    [
        ("posterior.jpg.exe", Severity.HIGH),
        ("scan.JPG.scr", Severity.HIGH),
        ("report.pdf.js", Severity.HIGH),
        ("shell.jpg.php", Severity.HIGH),
        ("photo.png.hta", Severity.HIGH),
        ("image.jpeg.svg", Severity.MEDIUM),  # a drawing: the SVG walker judges its script
        ("photo.jpg.zip", Severity.MEDIUM),  # an archive is a container, not a program
        ("photo.jpg.iso", Severity.MEDIUM),
    ],
)
def test_double_extension(name: str, severity: Severity) -> None:
    assert codes(name) == {"name.double_extension": severity}


def test_double_extension_needs_a_decoy() -> None:
    assert check_name("my.tool.exe") == []
    assert check_name("backup.2024.zip") == []


def test_hidden_extension_alone_is_medium_and_doubled_is_high() -> None:
    assert codes("holiday.lnk") == {"name.hidden_extension": Severity.MEDIUM}
    assert codes("photo.jpg.lnk") == {"name.hidden_extension": Severity.HIGH}
    assert codes("x-ray.png.url") == {"name.hidden_extension": Severity.HIGH}


def test_padded_extension() -> None:
    assert codes("scan.jpg" + " " * 40 + ".exe")["name.padded_extension"] is Severity.HIGH
    assert codes("scan.jpg\u2003\u2003\u2003.exe")["name.padded_extension"] is Severity.HIGH
    # two spaces are below the padding run; three in front of a harmless ext hide nothing
    assert "name.padded_extension" not in codes("scan  .exe")
    assert "name.padded_extension" not in codes("holiday   .jpg")


def test_trailing_dots_and_spaces() -> None:
    assert codes("scan.jpg.exe.")["name.trailing_dots_spaces"] is Severity.HIGH
    assert codes("scan.jpg.exe   ")["name.trailing_dots_spaces"] is Severity.HIGH
    assert codes("photo.jpg.") == {"name.trailing_dots_spaces": Severity.MEDIUM}


@pytest.mark.parametrize(
    "char",
    # by property, not a list: Cf (ZWSP, BOM, soft hyphen, U+206F, U+FFFB, U+1D173), tags,
    # a ZWJ next to ASCII, Other_Default_Ignorable (U+17B5 Khmer, U+3164 Hangul filler)
    ["\u200b", "\ufeff", "\u00ad", "\U000e0041", "\u200d", "\u206f", "\u17b5", "\ufffb",
     "\U0001d173", "\u3164", "\u2065"],
)  # fmt: skip
def test_an_invisible_character_that_changes_nothing_shown_is_low(char: str) -> None:
    assert codes(f"ph{char}oto.jpg") == {"name.invisible_character": Severity.LOW}


@pytest.mark.parametrize("char", ["\u200b", "\u206f", "\u17b5", "\ufffb", "\U0001d173"])
def test_an_invisible_character_inside_the_extension_is_a_finding(char: str) -> None:
    # `.j?pg` shows ".jpg" but Windows looks up another extension
    assert codes(f"photo.j{char}pg") == {"name.invisible_character": Severity.MEDIUM}
    found = codes(f"photo.jpg{char}.exe")
    assert found["name.double_extension"] is Severity.HIGH  # the decoy is read through it


@pytest.mark.parametrize(
    "name",
    [
        "1\ufe0f\u20e3 photo.jpg",  # keycap emoji: digit, VS16, enclosing keycap
        "#\ufe0f\u20e3 tag.png",
        "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f team.jpg",
    ],
)
def test_emoji_sequences_are_not_invisible_characters(name: str) -> None:
    assert check_name(name) == []


@pytest.mark.parametrize(
    "dot", ["\u2024", "\uff0e", "\uff61", "\u2e3c", "\u2219", "\u22c5", "\ua78f", "\ufe52"]
)
def test_every_dot_lookalike_fakes_an_extension(dot: str) -> None:
    found = codes(f"photo{dot}jpg.exe")
    assert found["name.dot_lookalike"] is Severity.HIGH
    assert found["name.double_extension"] is Severity.HIGH


def test_dot_lookalikes() -> None:
    assert codes("photo\u2024jpg.exe")["name.dot_lookalike"] is Severity.HIGH
    assert codes("report\uff0epdf")["name.dot_lookalike"] is Severity.HIGH
    assert codes("report.pdf\u2024") == {"name.dot_lookalike": Severity.MEDIUM}
    assert codes("Catalan\u00b7jpg")["name.dot_lookalike"] is Severity.HIGH  # fakes .jpg
    assert check_name("col\u00b7legi.jpg") == []  # Catalan l·l is a letter pair


def test_effective_and_claimed_extensions() -> None:
    assert effective_extension("scan.jpg.exe. . ") == "exe"
    assert effective_extension("IMG_1234.JPG") == "jpg"
    assert effective_extension(".bashrc") == ""
    assert effective_extension("noext") == ""
    assert claimed_extensions("photo\u2024jpg.exe") == ["jpg", "exe"]
    assert claimed_extensions("scan.jpg      .exe") == ["jpg", "exe"]
    assert claimed_extensions("x.\u0458\u0440g.settingcontent-ms") == ["jpg", "settingcontent-ms"]
    assert expected_type("x.JPEG") == "jpeg"
    assert expected_type("x.dcm") == "dicom"
    assert expected_type("x.exe") is None
    assert expected_type("x.jp2") == "jp2"
    assert expected_type("x.JXL") == "jxl"
    assert expected_type("x.hdr") is None  # Analyze headers share it and have no signature


def test_messages_are_plain_sentences() -> None:
    for name in ("photo.jpg.exe", "invoice_\u202egpj.exe", "a.lnk", "scan.jpg.exe."):
        for finding in check_name(name):
            assert finding.message.endswith(".")
            assert "\u202e" not in finding.message


@pytest.mark.parametrize(
    ("name", "severity"),
    [
        ("logo.png.svg", Severity.MEDIUM),
        ("scan.JPG.SVGZ", Severity.MEDIUM),
        ("x-ray.tiff.svg", Severity.MEDIUM),
        ("invoice.pdf.svg", Severity.HIGH),  # not an image decoy: an SVG posing as a document
        ("photo.jpg.html", Severity.HIGH),
        ("photo.jpg.htm", Severity.HIGH),
        ("photo.png.hta", Severity.HIGH),
        ("photo.gif.js", Severity.HIGH),
        ("photo.jpeg.xhtml", Severity.HIGH),
    ],
)
def test_svg_after_an_image_extension_is_medium_markup_stays_high(
    name: str, severity: Severity
) -> None:
    assert codes(name) == {"name.double_extension": severity}
    assert check_name("logo.svg") == []  # a drawing named as a drawing


def test_padding_and_trailing_dots_around_an_svg() -> None:
    assert check_name("holiday   .svg") == []  # odd spacing, nothing hidden
    assert codes("logo.png      .svg") == {
        "name.padded_extension": Severity.MEDIUM,
        "name.double_extension": Severity.MEDIUM,
    }
    assert codes("invoice.pdf      .svg")["name.padded_extension"] is Severity.HIGH
    assert codes("logo.svg.") == {"name.trailing_dots_spaces": Severity.MEDIUM}
    # programs and archives keep their severities
    assert codes("setup      .exe") == {"name.padded_extension": Severity.HIGH}
    assert codes("backup      .zip") == {"name.padded_extension": Severity.HIGH}
    assert codes("logo.html.")["name.trailing_dots_spaces"] is Severity.HIGH


@pytest.mark.parametrize(
    "name",
    [
        "scan.jpg.settingcontent-ms",  # 17 characters: no cap on extension tokens
        "scan.jpg.searchconnector-ms",
        "photo.jpg.rdp",
        "photo.jpg.msix",
        "photo.jpg.appx",
        "photo.jpg.appinstaller",
        "photo.png.vsto",
        "photo.png.iqy",
        "photo.jpg.slk",
        "photo.jpg.psm1",
        "photo.jpg.ppam",
        "photo.jpg.xla",
        "photo.jpg.accde",
        "photo.jpg.dmgpart",  # a macOS type from the Chromium table
        "photo.jpg.desktop",
    ],
)
def test_extensions_from_the_danger_tables_are_programs(name: str) -> None:
    assert codes(name) == {"name.double_extension": Severity.HIGH}


@pytest.mark.parametrize(
    "decoy",
    ["jpg_", "jpg-", "jpg~1", "JPG~2", "jpg" + "_" * 40, "jpg" + "-" * 30,
     "\uff4a\uff50\uff47",  # fullwidth
     "\u0458\u0440g",  # Cyrillic je, er + Latin g
     "j\u0440\u0261",  # Cyrillic er, Latin script g
     "jp2", "jxl", "psd", "qoi", "tga", "pcx", "ppm", "pgm", "pbm", "pnm", "pam", "exr", "hdr",
     "xcf", "heif", "avif", "dng"],
)  # fmt: skip
def test_decoys_are_compared_by_skeleton_and_padding(decoy: str) -> None:
    assert codes(f"photo.{decoy}.exe") == {"name.double_extension": Severity.HIGH}


@pytest.mark.parametrize(
    "name",
    [
        "scan.jpg" + "\u1680" * 8 + ".exe",  # Ogham space mark (Zs)
        "scan.jpg" + "\u3164" * 8 + ".exe",  # Hangul filler
        "scan.jpg" + "\u2800" * 8 + ".exe",  # braille blank
        "scan.jpg" + "\u205f" * 8 + ".exe",
    ],
)
def test_padding_is_any_space_separator_or_blank_filler(name: str) -> None:
    assert codes(name)["name.padded_extension"] is Severity.HIGH


@pytest.mark.parametrize(
    "name",
    [
        "IMG_1234.jpg_backup",  # not an extension of anything dangerous
        "photo.jpg_old.png",
        "scan-1.jpg-2.pdf",
        "cat\u00a0photo.jpg",  # a no-break space is a space, not padding
        "ka\u00adtze.jpg",  # soft hyphen: low at most (checked below)
        "IMG_1234.jpg.xmp",  # sidecar
        "photo.jpeg.json",  # Google Takeout sidecar
    ],
)
def test_ordinary_odd_names_do_not_alarm(name: str) -> None:
    assert all(f.severity <= Severity.LOW for f in check_name(name)), codes(name)


def test_sidecar_data_types_behind_a_picture_are_low() -> None:
    assert codes("IMG_1234.jpg.xml") == {"name.double_extension": Severity.LOW}
