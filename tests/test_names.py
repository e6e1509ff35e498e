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
def test_every_bidi_control_is_high(char: str) -> None:
    assert codes(f"photo{char}.jpg")["name.bidi_control"] is Severity.HIGH


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


def test_invisible_characters() -> None:
    assert codes("photo\u200b.jpg") == {"name.invisible_character": Severity.MEDIUM}
    assert codes("photo\ufeff.jpg") == {"name.invisible_character": Severity.MEDIUM}
    assert codes("photo\u00ad.jpg") == {"name.invisible_character": Severity.MEDIUM}
    assert codes("ph\U000e0041oto.jpg") == {"name.invisible_character": Severity.MEDIUM}
    assert codes("photo\u200d.jpg") == {"name.invisible_character": Severity.MEDIUM}  # ZWJ by ASCII


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
    assert expected_type("x.JPEG") == "jpeg"
    assert expected_type("x.dcm") == "dicom"
    assert expected_type("x.exe") is None


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
