"""The real-corpus gate: benign stays clean, malicious is caught, unusual is never quarantined.

Parametrized per file so a failure names the file. The corpus must exist: the fixture
helpers in conftest.py raise (fail, never skip) when it is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import corpus_files

from agent.inspect.engine import inspect_path
from agent.model import Verdict


def _describe(path: Path) -> str:
    report = inspect_path(path)
    return "; ".join(f"{f.code}({f.severity.label}): {f.detail}" for f in report.findings)


@pytest.mark.parametrize("path", corpus_files("benign"), ids=lambda p: p.name)
def test_benign_file_is_clean(path: Path) -> None:
    report = inspect_path(path)
    assert report.verdict is Verdict.CLEAN, _describe(path)


# What each malicious sample must give, from what SOURCES.md says it is (not from the engine):
# the verdict, and the finding code that names the hiding place. A sample that executes or
# parses as something dangerous is quarantined; an encrypted blob with no signature (the
# AngeCryption trailers) is unexplained high-entropy data, which is flagged for IT.
EXPECTED_MALICIOUS: dict[str, tuple[Verdict, str]] = {
    "angecryption-jpeg-encrypted-trailer.jpg": (Verdict.FLAG, "jpeg.trailing_data"),
    "angecryption-png-encrypted-trailer.png": (Verdict.FLAG, "png.trailing_data"),
    "bmp-jar.bmp": (Verdict.QUARANTINE, "bmp.trailing_data"),
    "exiftool-cve-2021-22204-djvu-named-jpg.jpg": (Verdict.QUARANTINE, "content.document"),
    "ghostscript-postscript-named-jpg.jpg": (Verdict.QUARANTINE, "content.document"),
    "gif-dos-com-bootsector.gif": (Verdict.QUARANTINE, "gif.trailing_data"),
    "gif-js-polyglot.gif": (Verdict.QUARANTINE, "gif.js_polyglot_header"),
    "gif-php-after-trailer.gif": (Verdict.QUARANTINE, "gif.trailing_data"),
    "gif-php-in-image-data.gif": (Verdict.QUARANTINE, "gif.payload_in_image_data"),
    "gif-php-webshell-after-header.gif": (Verdict.QUARANTINE, "gif.payload_in_metadata"),
    "gifar-gif-jar.gif": (Verdict.QUARANTINE, "gif.trailing_data"),
    "gifar-multilang-hh.gif": (Verdict.QUARANTINE, "gif.trailing_data"),
    "imagetragick-mvg-named-png.png": (Verdict.QUARANTINE, "content.imagemagick_script"),
    "jpeg-js-polyglot.jpg": (Verdict.QUARANTINE, "jpeg.payload_in_metadata"),
    "jpeg-pdf-polyglot.jpg": (Verdict.QUARANTINE, "jpeg.payload_in_metadata"),
    "jpeg-php-survives-recompression.jpg": (Verdict.QUARANTINE, "jpeg.payload_in_image_data"),
    "jpeg-php-webshell-in-comment.jpg": (Verdict.QUARANTINE, "jpeg.payload_in_metadata"),
    "jpeg-xss-in-scan-data.jpeg": (Verdict.QUARANTINE, "jpeg.payload_in_image_data"),
    "jpeg-zip-in-comment.jpg": (Verdict.QUARANTINE, "jpeg.payload_in_metadata"),
    "png-imagemagick-cve-2022-44268.png": (Verdict.QUARANTINE, "png.payload_in_metadata"),
    "png-php-in-idat-resize-bypass.png": (Verdict.QUARANTINE, "png.payload_in_image_data"),
    "png-php-webshell-in-text.png": (Verdict.QUARANTINE, "png.payload_in_metadata"),
    "stegosploit-jpeg-html-kevin.jpg": (Verdict.QUARANTINE, "jpeg.payload_in_metadata"),
    "stegosploit-jpeg-html-lena.jpg": (Verdict.QUARANTINE, "jpeg.payload_in_metadata"),
    "svg-script-logo.svg": (Verdict.QUARANTINE, "svg.script"),
    "svg-xss-cdata-script.svg": (Verdict.QUARANTINE, "svg.script"),
    "svg-xss-nested-svg.svg": (Verdict.QUARANTINE, "svg.script"),
    "webshell-double-extension.jpg.php": (Verdict.QUARANTINE, "name.double_extension"),
}


@pytest.mark.parametrize("path", corpus_files("malicious"), ids=lambda p: p.name)
def test_malicious_file_gets_its_expected_verdict_and_code(path: Path) -> None:
    assert path.name in EXPECTED_MALICIOUS, f"add {path.name} to EXPECTED_MALICIOUS"
    verdict, code = EXPECTED_MALICIOUS[path.name]
    report = inspect_path(path)
    assert report.verdict is verdict, _describe(path)
    assert code in {f.code for f in report.findings}, _describe(path)


@pytest.mark.parametrize("path", corpus_files("unusual"), ids=lambda p: p.name)
def test_unusual_file_is_never_quarantined(path: Path) -> None:
    report = inspect_path(path)
    assert report.verdict is not Verdict.QUARANTINE, _describe(path)


def test_corpus_is_populated() -> None:
    assert len(corpus_files("benign")) >= 10
    assert len(corpus_files("malicious")) >= 10
    assert corpus_files("unusual")
