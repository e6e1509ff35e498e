"""The engine's leftover judgement (agent/inspect/judge.py), pinned case by case.

Expected values come from the rules the module documents (padding up to 64 bytes is ignored,
high entropy needs 512 bytes, a one-sector file ending in 55 AA boots, ...) written as literals.
"""

from __future__ import annotations

import base64
import re
import struct
import zlib

import pytest
from jpeg_samples import pe_executable, zip_archive

from agent.inspect import judge
from agent.inspect.base import Region, Structure
from agent.inspect.classify.markers import Marker
from agent.inspect.reader import Reader
from agent.inspect.sniff import Sniffed
from agent.model import Finding, Severity

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
UNIFORM = bytes(range(256))  # every byte value once: exactly 8.00 bits/byte
PHP = b"<?php system($_GET[1]); ?>"


def _reader(data: bytes) -> Reader:
    return Reader.from_bytes(data)


# --- words ------------------------------------------------------------------------------------


def test_words_names_known_kinds_and_falls_back_to_hidden_code() -> None:
    assert judge.words("pe") == "a Windows program"
    assert judge.words("zip") == "a ZIP or Java archive"
    assert judge.words("no-such-kind") == "hidden code"


# --- left_over --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "size", "accounted", "expected"),
    [
        (10, 100, [], [(10, 100)]),
        (-5, 10, [], [(0, 10)]),  # a negative end counts from the first byte
        (100, 100, [], []),
        (10, 100, [(20, 30)], [(10, 20), (30, 100)]),
        (10, 100, [(10, 20)], [(20, 100)]),  # no empty gap before a trailer at the end
        (10, 100, [(5, 10)], [(10, 100)]),  # a region before the end accounts for nothing
        (10, 100, [(0, 15)], [(15, 100)]),  # straddling the end
        (10, 100, [(90, 200)], [(10, 90)]),  # cut at the size
        (10, 100, [(10, 20), (20, 30)], [(30, 100)]),  # adjacent
        (10, 100, [(50, 60), (20, 30), (25, 40)], [(10, 20), (40, 50), (60, 100)]),  # unsorted
        (10, 100, [(20, 80), (30, 40)], [(10, 20), (80, 100)]),  # nested: position never moves back
        (10, 100, [(5, 10), (20, 30)], [(10, 20), (30, 100)]),  # one before the end, one after
        (10, 100, [(20, 80), (30, 40), (90, 95)], [(10, 20), (80, 90), (95, 100)]),
        (10, 100, [(0, 100)], []),
        (10, 100, [(20, 20)], [(10, 100)]),  # an empty region
        (10, 100, [(100, 120)], [(10, 100)]),  # beyond the size
    ],
)
def test_left_over_is_the_tail_minus_accounted_ranges(
    end: int, size: int, accounted: list[tuple[int, int]], expected: list[tuple[int, int]]
) -> None:
    regions = [Region(a, b, "trailer") for a, b in accounted]
    assert judge.left_over(end, size, regions) == expected


# --- covered_by_findings ----------------------------------------------------------------------


def test_covered_by_findings_spans_medium_and_worse_findings_with_an_offset() -> None:
    findings = [
        Finding("a", Severity.HIGH, "m", offset=10, length=5),
        Finding("b", Severity.MEDIUM, "m", offset=100, length=None),  # one byte
        Finding("c", Severity.HIGH, "m", offset=200, length=0),  # one byte
        Finding("d", Severity.LOW, "m", offset=300, length=50),  # too weak to cover
        Finding("e", Severity.INFO, "m", offset=400, length=50),
        Finding("f", Severity.HIGH, "m", offset=None, length=50),  # nowhere
        Finding("g", Severity.HIGH, "m", offset=0, length=3),
    ]
    assert judge.covered_by_findings(findings) == [(10, 15), (100, 101), (200, 201), (0, 3)]


# --- judge_gap --------------------------------------------------------------------------------


def test_a_zip_after_the_end_is_high_with_its_words() -> None:
    data = b"IMAGE" + zip_archive()
    finding = judge.judge_gap(_reader(data), "gif", 5, len(data), [])
    assert finding is not None
    assert (finding.code, finding.severity, finding.payload) == (
        "gif.trailing_data",
        Severity.HIGH,
        "zip",
    )
    assert finding.message == "Attached to the end of this picture is a ZIP or Java archive."
    assert (finding.offset, finding.length) == (5, len(data) - 5)
    assert re.fullmatch(r"124 bytes after the end at 5: zip, \d\.\d\d bits/byte", finding.detail)


def test_a_zip_inside_is_unexplained_data_with_its_words() -> None:
    data = b"IMAGE" + zip_archive() + b"TAIL"
    stop = 5 + len(zip_archive())
    finding = judge.judge_gap(_reader(data), "png", 5, stop, [], trailing=False)
    assert finding is not None
    assert (finding.code, finding.severity, finding.payload) == (
        "png.unexplained_data",
        Severity.HIGH,
        "zip",
    )
    assert finding.message == "Hidden inside this picture is a ZIP or Java archive."
    assert (finding.offset, finding.length) == (5, 124)
    assert re.fullmatch(r"124 bytes unexplained at 5: zip, \d\.\d\d bits/byte", finding.detail)


def test_a_payload_found_later_in_the_range_is_reported_where_it_starts() -> None:
    # junk then EICAR: the finding starts at the signature, and its length runs to the end
    data = b"IMAGE" + b"junk-junk-" + EICAR
    finding = judge.judge_gap(_reader(data), "gif", 5, len(data), [])
    assert finding is not None and finding.payload == "eicar"
    assert (finding.offset, finding.length) == (15, len(EICAR))
    assert finding.severity is Severity.HIGH


def test_an_encoded_payload_names_its_encoding() -> None:
    data = b"IMAGE" + base64.b64encode(pe_executable())
    finding = judge.judge_gap(_reader(data), "gif", 5, len(data), [])
    assert finding is not None and finding.payload == "pe"
    assert re.fullmatch(
        rf"{len(data) - 5} bytes after the end at 5: pe \(base64-encoded\), \d\.\d\d bits/byte",
        finding.detail,
    )


def test_a_marker_names_a_harmless_looking_range() -> None:
    # the classifier calls the range text; the pixel pass's marker says what it is
    data = b"IMAGE" + b"ab" * 100
    marker = Marker(offset=40, kind="php", text=b"<?php ")
    finding = judge.judge_gap(_reader(data), "gif", 5, len(data), [marker])
    assert finding == Finding(
        "gif.trailing_data",
        Severity.HIGH,
        "Attached to the end of this picture is a web-server script (PHP).",
        offset=40,
        length=len(data) - 40,
        payload="php",
        detail="200 bytes after the end at 5: php, 1.00 bits/byte",
    )


def test_a_dangerous_range_keeps_its_own_kind_over_a_marker() -> None:
    data = b"IMAGE" + zip_archive()
    marker = Marker(offset=9, kind="php", text=b"<?php ")
    finding = judge.judge_gap(_reader(data), "gif", 5, len(data), [marker])
    assert finding is not None
    assert (finding.payload, finding.offset) == ("zip", 5)


def test_an_encoded_kind_is_not_named_for_a_marker_kind() -> None:
    # the encoding belongs to the classifier's kind; a marker kind shown instead has none.
    # The range is base64 of a harmless text, which the classifier does not call dangerous.
    text = base64.b64encode(b"hello there, this is a harmless sentence " * 4)
    data = b"IMAGE" + text
    marker = Marker(offset=5, kind="php", text=b"<?php ")
    finding = judge.judge_gap(_reader(data), "gif", 5, len(data), [marker])
    assert finding is not None
    assert "-encoded" not in finding.detail


@pytest.mark.parametrize(("padding", "expected"), [(64, None), (65, Severity.INFO)])
def test_zero_padding_inside_is_ignored_up_to_64_bytes(
    padding: int, expected: Severity | None
) -> None:
    data = b"IMAGE" + bytes(padding) + b"MORE"
    finding = judge.judge_gap(_reader(data), "gif", 5, 5 + padding, [], trailing=False)
    if expected is None:
        assert finding is None
        return
    assert finding == Finding(
        "gif.unexplained_data",
        Severity.INFO,
        "This picture has empty padding inside it.",
        offset=5,
        length=65,
        payload="zeros",
        detail="65 bytes unexplained at 5: zeros, 0.00 bits/byte",
    )


def test_trailing_zero_padding_past_64_bytes_is_info() -> None:
    data = b"IMAGE" + bytes(65)
    assert judge.judge_gap(_reader(data), "gif", 5, len(data), []) == Finding(
        "gif.trailing_data",
        Severity.INFO,
        "This picture has empty padding after its end.",
        offset=5,
        length=65,
        payload="zeros",
        detail="65 bytes after the end at 5: zeros, 0.00 bits/byte",
    )


def test_whitespace_padding_up_to_64_bytes_is_ignored() -> None:
    data = b"IMAGE" + b" \r\n" * 21 + b" "  # 64 bytes
    assert judge.judge_gap(_reader(data), "gif", 5, len(data), []) is None


@pytest.mark.parametrize("trailing", [True, False])
def test_high_entropy_from_512_bytes_is_medium(trailing: bool) -> None:
    data = b"IMAGE" + UNIFORM * 2
    finding = judge.judge_gap(_reader(data), "gif", 5, len(data), [], trailing=trailing)
    where = "after the end at 5" if trailing else "unexplained at 5"
    message = (
        "Hidden encrypted or compressed data is stuck to the end of this picture."
        if trailing
        else "Hidden encrypted or compressed data is tucked inside this picture."
    )
    assert finding == Finding(
        "gif.trailing_data" if trailing else "gif.unexplained_data",
        Severity.MEDIUM,
        message,
        offset=5,
        length=512,
        payload="unknown",
        detail=f"512 bytes {where}: unknown, 8.00 bits/byte",
    )


def test_high_entropy_means_at_least_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    # the rule is "entropy >= HIGH_ENTROPY_BITS": with the threshold at 8.00, a range of
    # every byte value (exactly 8.00 bits/byte) is high entropy
    from agent.inspect import payload

    monkeypatch.setattr(payload, "HIGH_ENTROPY_BITS", 8.0)
    data = b"IMAGE" + UNIFORM * 2
    finding = judge.judge_gap(_reader(data), "gif", 5, len(data), [])
    assert finding is not None and finding.severity is Severity.MEDIUM


@pytest.mark.parametrize("trailing", [True, False])
def test_high_entropy_under_512_bytes_and_plain_data_are_low(trailing: bool) -> None:
    data = b"IMAGE" + UNIFORM * 2
    finding = judge.judge_gap(_reader(data), "gif", 5, len(data) - 1, [], trailing=trailing)
    message = (
        "This picture has extra data after its end."
        if trailing
        else "This picture has extra data inside it."
    )
    assert finding is not None
    assert (finding.severity, finding.message, finding.length) == (Severity.LOW, message, 511)
    text = b"IMAGE" + b"ab" * 300
    finding = judge.judge_gap(_reader(text), "gif", 5, len(text), [], trailing=trailing)
    assert finding is not None
    assert (finding.severity, finding.message, finding.payload) == (Severity.LOW, message, "text")


def test_a_one_sector_file_ending_in_55aa_is_boot_sector_code() -> None:
    data = b"IMAGE" + b"ab" * 252 + b"a" + b"\x55\xaa"
    assert len(data) == 512
    finding = judge.judge_gap(_reader(data), "gif", 5, 512, [])
    assert finding is not None
    assert (finding.code, finding.severity, finding.payload) == (
        "gif.trailing_data",
        Severity.HIGH,
        "bootsector",
    )
    assert finding.message == "Attached to the end of this picture is boot-sector code."
    assert (finding.offset, finding.length) == (510, 2)
    assert re.fullmatch(
        r"507 bytes after the end at 5: bootsector, 1\.\d\d bits/byte",
        finding.detail,
    )


def test_boot_sector_needs_exactly_512_bytes_a_trailing_range_and_55aa() -> None:
    sector = b"IMAGE" + b"ab" * 252 + b"a" + b"\x55\xaa"
    assert judge.judge_gap(_reader(sector + b"x"), "gif", 5, 513, []).payload != "bootsector"  # type: ignore[union-attr]
    short = sector[1:]
    assert judge.judge_gap(_reader(short), "gif", 5, 511, []).payload != "bootsector"  # type: ignore[union-attr]
    inside = judge.judge_gap(_reader(sector), "gif", 5, 512, [], trailing=False)
    assert inside is not None and inside.payload != "bootsector"
    not_to_the_end = judge.judge_gap(_reader(sector), "gif", 5, 511, [])
    assert not_to_the_end is not None and not_to_the_end.payload != "bootsector"
    wrong_signature = sector[:510] + b"\xaa\x55"
    other = judge.judge_gap(_reader(wrong_signature), "gif", 5, 512, [])
    assert other is not None and other.payload != "bootsector"


# --- judge_structure: pixel data, gaps, unexplained ranges ------------------------------------

GIF = Sniffed("gif", "image", "a GIF picture")
IMAGE_WITH_PHP = b"GIF89a" + bytes(20) + PHP + bytes(30)  # PHP at 26


def _structure(data: bytes, **fields: object) -> Structure:
    return Structure(type="gif", end=fields.pop("end", len(data)), **fields)  # type: ignore[arg-type]


def test_php_in_the_pixels_is_payload_in_image_data() -> None:
    data = IMAGE_WITH_PHP
    assert judge.judge_structure(_reader(data), GIF, _structure(data), []) == [
        Finding(
            "gif.payload_in_image_data",
            Severity.HIGH,
            "Hidden inside this picture's image data is a web-server script (PHP).",
            offset=26,
            length=6,
            payload="php",
            detail="php@26 b'<?php '",
        )
    ]


def test_the_pixel_pass_runs_from_the_first_byte() -> None:
    data = PHP + bytes(40)
    [finding] = judge.judge_structure(_reader(data), GIF, _structure(data), [])
    assert (finding.code, finding.offset) == ("gif.payload_in_image_data", 0)


def test_the_pixel_pass_runs_only_over_pictures() -> None:
    data = IMAGE_WITH_PHP
    other = Sniffed("gif", "document", "not a picture")
    assert judge.judge_structure(_reader(data), other, _structure(data), []) == []


def test_a_program_among_a_pictures_pixels_is_payload_in_image_data() -> None:
    # no region explains the bytes at 62: the whole-picture header search names them
    data = b"BM" + bytes(60) + pe_executable() + bytes(100)
    structure = Structure(type="bmp", end=len(data))
    bmp = Sniffed("bmp", "image", "a BMP picture")
    assert judge.judge_structure(_reader(data), bmp, structure, []) == [
        Finding(
            "bmp.payload_in_image_data",
            Severity.HIGH,
            "Hidden inside this picture's image data is a Windows program.",
            offset=62,
            payload="pe",
            detail="pe header at 62, outside any region the format explains",
        )
    ]
    # the search is the pictures' own: other families are judged by their own checks
    document = Sniffed("bmp", "document", "not a picture")
    assert judge.judge_structure(_reader(data), document, structure, []) == []


def test_the_pixel_pass_looks_only_for_markup_openings() -> None:
    # a 4-byte ZIP signature or "%PDF-1.4" in compressed pixels is chance, not a payload;
    # the pass looks for `<`-anchored PHP/HTML openings only
    data = b"GIF89a" + bytes(20) + b"%PDF-1.4 " + bytes(20) + b"PK\x03\x04" + bytes(40)
    assert judge.judge_structure(_reader(data), GIF, _structure(data), []) == []


def test_a_pixel_marker_a_walker_already_reported_is_not_reported_again() -> None:
    data = IMAGE_WITH_PHP
    reported = [Finding("gif.other", Severity.HIGH, "m", offset=26, length=6)]
    assert judge.judge_structure(_reader(data), GIF, _structure(data), reported) == []
    before = [Finding("gif.other", Severity.HIGH, "m", offset=20, length=6)]  # ends at 26
    [finding] = judge.judge_structure(_reader(data), GIF, _structure(data), before)
    assert (finding.code, finding.offset) == ("gif.payload_in_image_data", 26)


def test_a_pixel_marker_in_a_metadata_region_is_reported_as_metadata() -> None:
    data = IMAGE_WITH_PHP
    structure = _structure(data, metadata=[Region(20, 40, "GIF comment")])
    [finding] = judge.judge_structure(_reader(data), GIF, structure, [])
    assert (finding.code, finding.severity, finding.offset) == (
        "gif.payload_in_metadata",
        Severity.HIGH,
        26,
    )
    # a region ending right before the marker does not hold it
    structure = _structure(data, metadata=[Region(20, 26, "GIF comment")])
    codes = [f.code for f in judge.judge_structure(_reader(data), GIF, structure, [])]
    assert codes == ["gif.payload_in_image_data"]


def test_a_pixel_marker_after_the_end_is_trailing_data() -> None:
    noise = bytes(range(1, 256)) * 4  # no zeros, nothing the classifier knows
    data = b"GIF89a" + bytes(20) + noise[:40] + PHP + noise
    structure = _structure(data, end=26)
    [finding] = judge.judge_structure(_reader(data), GIF, structure, [])
    assert (finding.code, finding.severity, finding.payload, finding.offset) == (
        "gif.trailing_data",
        Severity.HIGH,
        "php",
        66,
    )


def test_a_pixel_marker_in_an_unexplained_range_is_unexplained_data() -> None:
    noise = bytes(range(1, 256)) * 4
    data = b"GIF89a" + bytes(20) + noise[:40] + PHP + noise
    structure = _structure(data, unexplained=[Region(26, 100, "gap")])
    [finding] = judge.judge_structure(_reader(data), GIF, structure, [])
    assert (finding.code, finding.payload, finding.offset, finding.length) == (
        "gif.unexplained_data",
        "php",
        66,
        34,
    )


def test_a_marker_at_a_range_end_belongs_to_the_next_range() -> None:
    # [20, 26) is six zero bytes (ignored), [26, 80) opens with the PHP marker
    noise = bytes(range(1, 256))
    data = b"GIF89a" + bytes(20) + PHP + noise
    structure = _structure(data, unexplained=[Region(20, 26, "a"), Region(26, 80, "b")])
    [finding] = judge.judge_structure(_reader(data), GIF, structure, [])
    assert (finding.code, finding.payload, finding.offset, finding.length) == (
        "gif.unexplained_data",
        "php",
        26,
        54,
    )


def test_a_pixel_marker_beyond_the_classified_samples_names_a_large_range() -> None:
    # a 4 MiB trailer is classified from samples (head, middle, tail); PHP at 1.5 MiB is in
    # none of them, and the pixel pass's marker is what finds it
    import random

    noise = random.Random(15).randbytes(4 * 1024 * 1024)
    at = 1536 * 1024
    trailer = noise[:at] + PHP + noise[at:]
    data = b"GIF89a" + bytes(20) + trailer
    [finding] = judge.judge_structure(_reader(data), GIF, _structure(data, end=26), [])
    assert (finding.code, finding.severity, finding.payload, finding.offset) == (
        "gif.trailing_data",
        Severity.HIGH,
        "php",
        26 + at,
    )
    assert finding.length == len(data) - (26 + at)


def test_no_end_means_no_left_over_data() -> None:
    data = b"GIF89a" + bytes(20) + zip_archive()
    assert judge.judge_structure(_reader(data), GIF, Structure(type="gif", end=None), []) == []
    found = judge.judge_structure(_reader(data), GIF, Structure(type="gif", end=26), [])
    assert [(f.code, f.payload) for f in found] == [("gif.trailing_data", "zip")]


def test_an_unexplained_range_is_cut_at_the_file_size() -> None:
    data = b"GIF89a" + bytes(20) + zip_archive()
    structure = _structure(data, unexplained=[Region(26, 10_000, "gap")])
    [finding] = judge.judge_structure(_reader(data), GIF, structure, [])
    assert (finding.code, finding.offset, finding.length) == ("gif.unexplained_data", 26, 124)
    assert finding.detail.startswith("124 bytes unexplained at 26: zip, ")


def test_a_range_a_walker_already_reported_on_is_not_judged_again() -> None:
    data = b"GIF89a" + bytes(20) + zip_archive() + EICAR
    structure = _structure(
        data, unexplained=[Region(26, 150, "zip"), Region(150, len(data), "eicar")]
    )
    reported = [Finding("gif.other", Severity.MEDIUM, "m", offset=26, length=1)]
    found = judge.judge_structure(_reader(data), GIF, structure, reported)
    assert [(f.code, f.payload, f.offset) for f in found] == [
        ("gif.unexplained_data", "eicar", 150)
    ]


def test_the_largest_ranges_are_judged_when_there_are_too_many() -> None:
    # 256 small harmless ranges first, then the largest one, holding the payload: a cap that
    # kept the first ranges instead of the largest would never look at it
    assert judge.MAX_JUDGED_RANGES == 256
    body = b"ab" * 2000
    small = [Region(10 + 4 * i, 12 + 4 * i, "tiny") for i in range(256)]
    data = b"GIF89a" + body[: 10 + 4 * 256 - 6] + EICAR + b"cd" * 100
    payload_at = 10 + 4 * 256
    structure = _structure(data, unexplained=[*small, Region(payload_at, len(data), "big")])
    found = judge.judge_structure(_reader(data), GIF, structure, [])
    assert ("gif.unexplained_data", "eicar", payload_at) in [
        (f.code, f.payload, f.offset) for f in found
    ]


def test_the_most_severe_range_findings_are_kept_in_file_order() -> None:
    assert judge.MAX_GAP_FINDINGS == 8
    text = b"ab" * 50  # 100 bytes of text: low
    parts = [text] * 3 + [EICAR + b"ab" * 16] + [text] * 5  # the fourth range is high
    data = b"GIF89a" + b"".join(parts)
    regions, at = [], 6
    for part in parts:
        regions.append(Region(at, at + len(part), "gap"))
        at += len(part)
    found = judge.judge_structure(_reader(data), GIF, _structure(data, unexplained=regions), [])
    assert [f.severity for f in found] == [Severity.LOW] * 3 + [Severity.HIGH] + [Severity.LOW] * 4
    assert [f.offset for f in found] == [6, 106, 206, 306, 406, 506, 606, 706]


# --- the script-polyglot header ---------------------------------------------------------------

BMP = Sniffed("bmp", "image", "a BMP picture")
BMP_POLYGLOT = b"BM=1;/*" + bytes(60) + b"*/;fetch('//x.invalid/')"


def test_a_header_that_runs_as_a_script_is_reported_once() -> None:
    data = BMP_POLYGLOT
    structure = Structure(type="bmp", end=len(data))
    assert judge.judge_structure(_reader(data), BMP, structure, []) == [
        Finding(
            "bmp.js_polyglot_header",
            Severity.HIGH,
            "This picture's header is built so that the file also runs as a script.",
            offset=0,
            length=69,
            payload="script",
            detail="header opens an assignment and a block comment; code follows at 69",
        )
    ]
    walker_said = [Finding("bmp.js_polyglot_header", Severity.HIGH, "m")]
    assert judge.judge_structure(_reader(data), BMP, structure, walker_said) == []
    other = [Finding("bmp.js_polyglot_headers", Severity.LOW, "m")]  # not the same code
    assert len(judge.judge_structure(_reader(data), BMP, structure, other)) == 1


# --- metadata regions and decompressed texts --------------------------------------------------

PE_BASE64 = base64.b64encode(pe_executable())
EVAL_ATOB = b'var a = 1; eval(atob("ZG9jdW1lbnQud3JpdGUoMSk="))'  # eval( at 11, atob( at 16
PROSE = b"please eval(this) carefully, it is harmless prose"  # one suggestive marker, at 7
# Mach-O magic with a CPU type no Mach-O family has: only libmagic calls it a Mach-O program
ODD_MACHO = b"\xcf\xfa\xed\xfe" + b"\xff\xff\xff\x00" + bytes(40)
HARMLESS_OPAQUE = b"\x01\x02" * 40


def _with_regions(*values: tuple[str, bytes]) -> tuple[Reader, Structure]:
    """A picture of 20 header bytes, then each value, each a metadata region, 10 bytes apart."""
    data, regions = bytearray(b"GIF89a" + bytes(14)), []
    for label, value in values:
        regions.append(Region(len(data), len(data) + len(value), label))
        data += value + bytes(10)
    return _reader(bytes(data)), Structure(type="gif", end=len(data), metadata=regions)


def _metadata(
    reader: Reader, structure: Structure, findings: list[Finding] | None = None
) -> list[Finding]:
    covered = judge.covered_by_findings(findings or [])
    return judge.judge_metadata_regions(reader, "gif", structure, covered)


def test_conclusive_markers_in_a_region_are_high_at_the_marker() -> None:
    reader, structure = _with_regions(("GIF comment", b"abcdef" + PHP))
    assert _metadata(reader, structure) == [
        Finding(
            "gif.payload_in_metadata",
            Severity.HIGH,
            "Hidden in this picture's information fields is a web-server script (PHP).",
            offset=26,
            length=6,
            payload="php",
            detail="in GIF comment: php@26 b'<?php ', php@32 b'system($', php@39 b'$_get['",
        )
    ]


def test_one_suggestive_marker_in_prose_is_low() -> None:
    reader, structure = _with_regions(("GIF comment", PROSE))
    assert _metadata(reader, structure) == [
        Finding(
            "gif.payload_in_metadata",
            Severity.LOW,
            "This picture's information fields contain text that looks a little like a script.",
            offset=27,
            length=5,
            payload="script",
            detail="in GIF comment: script@27 b'eval(' (one suggestive marker, not proof)",
        )
    ]


def test_an_encoded_program_in_a_region_is_classified_high() -> None:
    reader, structure = _with_regions(("GIF comment", PE_BASE64))
    assert _metadata(reader, structure) == [
        Finding(
            "gif.payload_in_metadata",
            Severity.HIGH,
            "Hidden in this picture's information fields is a Windows program.",
            offset=20,
            payload="pe",
            detail="in GIF comment: pe (base64-encoded) at +0",
        )
    ]


def test_a_classified_region_is_not_also_reported_for_its_suggestive_marker() -> None:
    reader, structure = _with_regions(("GIF comment", b"eval( " + PE_BASE64))
    found = _metadata(reader, structure)
    assert [(f.severity, f.payload, f.offset) for f in found] == [(Severity.HIGH, "pe", 20)]


def test_conclusive_markers_are_reported_as_markers_not_classified() -> None:
    # PHP proves the payload: the region is not classified again (its base64 PE is not
    # what the report names)
    reader, structure = _with_regions(("GIF comment", b"abcdef" + PHP + b" " + PE_BASE64))
    [finding] = _metadata(reader, structure)
    assert (finding.payload, finding.offset, finding.length) == ("php", 26, 6)


def test_a_suggestive_marker_in_a_text_does_not_stop_its_classification() -> None:
    reader, structure = _with_regions()
    structure.texts.append(("PNG zTXt Comment", 40, b"eval( " + PE_BASE64))
    [finding] = _metadata(reader, structure)
    assert (finding.severity, finding.payload, finding.detail) == (
        Severity.HIGH,
        "pe",
        "in PNG zTXt Comment: pe (base64-encoded) at +6",
    )
    structure.texts[0] = ("PNG zTXt Comment", 40, PHP + b" " + PE_BASE64)
    [finding] = _metadata(reader, structure)
    assert (finding.payload, finding.offset, finding.length) == ("php", 40, 6)


def test_texts_are_not_judged_once_eight_conclusive_findings_are_in() -> None:
    # seven from the regions, the eighth from the first text: the second text (a weak
    # marker) is not looked at
    reader, structure = _with_regions(*[("GIF comment", PHP)] * 7)
    structure.texts.extend([("PNG zTXt a", 3, PHP), ("PNG zTXt b", 4, PROSE)])
    found = _metadata(reader, structure)
    assert [f.severity for f in found] == [Severity.HIGH] * 8
    assert found[-1].detail.startswith("in PNG zTXt a: ")


def test_every_classified_region_is_reported_up_to_eight() -> None:
    assert judge.MAX_METADATA_FINDINGS == 8
    reader, structure = _with_regions(*[("GIF comment", PE_BASE64)] * 3)
    assert [f.payload for f in _metadata(reader, structure)] == ["pe", "pe", "pe"]
    reader, structure = _with_regions(*[("GIF comment", PE_BASE64)] * 9)
    assert len(_metadata(reader, structure)) == 8


def test_conclusive_findings_stop_at_eight_and_nothing_is_judged_after() -> None:
    # eight conclusive regions, then a weak one and a decompressed text: the report is full
    values = [("GIF comment", PHP)] * 8 + [("GIF comment", PROSE)]
    reader, structure = _with_regions(*values)
    structure.texts.append(("PNG zTXt Comment", 3, PROSE))
    found = _metadata(reader, structure)
    assert [f.severity for f in found] == [Severity.HIGH] * 8


def test_weak_findings_have_their_own_cap_of_two() -> None:
    assert judge.MAX_WEAK_METADATA_FINDINGS == 2
    reader, structure = _with_regions(*[("GIF comment", PROSE)] * 4, ("GIF comment", PHP))
    found = _metadata(reader, structure)
    assert [f.severity for f in found] == [Severity.LOW, Severity.LOW, Severity.HIGH]
    assert found[-1].offset == 20 + 4 * (len(PROSE) + 10)


def test_a_region_a_walker_already_reported_on_is_not_judged_again() -> None:
    reader, structure = _with_regions(("GIF comment", b"abcdef" + PHP + b" " + PE_BASE64))
    start = structure.metadata[0].start
    whole = [Finding("gif.other", Severity.HIGH, "m", offset=start, length=6 + len(PHP))]
    assert _metadata(reader, structure, whole) == []
    # only the markers covered: the region itself is still classified
    markers_only = [Finding("gif.other", Severity.HIGH, "m", offset=start + 6, length=len(PHP))]
    assert _metadata(reader, structure, markers_only) == [
        Finding(
            "gif.payload_in_metadata",
            Severity.HIGH,
            "Hidden in this picture's information fields is a Windows program.",
            offset=20,
            payload="pe",
            detail=f"in GIF comment: pe (base64-encoded) at +{6 + len(PHP) + 1}",
        )
    ]


def test_covered_markers_are_dropped_and_the_rest_reported() -> None:
    reader, structure = _with_regions(("GIF comment", b"abcdef" + PHP))
    first_covered = [Finding("gif.other", Severity.HIGH, "m", offset=26, length=1)]
    [finding] = _metadata(reader, structure, first_covered)
    assert (finding.severity, finding.offset) == (Severity.HIGH, 32)


def test_markers_in_a_decompressed_text_are_placed_at_the_text() -> None:
    reader, structure = _with_regions()
    structure.texts.append(("PNG zTXt Comment", 40, EVAL_ATOB))
    assert _metadata(reader, structure) == [
        Finding(
            "gif.payload_in_metadata",
            Severity.HIGH,
            "Hidden in this picture's information fields is a script.",
            offset=40,
            length=5,
            payload="script",
            detail="in PNG zTXt Comment: script@11 b'eval(', script@16 b'atob('",
        )
    ]


def test_a_decompressed_text_is_classified_when_its_markers_prove_nothing() -> None:
    reader, structure = _with_regions()
    structure.texts.append(("PNG zTXt Comment", 40, PE_BASE64))
    assert _metadata(reader, structure) == [
        Finding(
            "gif.payload_in_metadata",
            Severity.HIGH,
            "Hidden in this picture's information fields is a Windows program.",
            offset=40,
            payload="pe",
            detail="in PNG zTXt Comment: pe (base64-encoded) at +0",
        )
    ]
    reader, structure = _with_regions()
    structure.texts.append(("PNG zTXt Comment", 40, PROSE))
    [weak] = _metadata(reader, structure)
    assert (weak.severity, weak.offset, weak.length) == (Severity.LOW, 40, 5)


def test_an_opaque_value_is_classified_like_left_over_data() -> None:
    # an APPn without a known signature is opaque: libmagic is asked about it too
    reader, structure = _with_regions(("JPEG APP5", ODD_MACHO))
    [finding] = _metadata(reader, structure)
    assert (finding.severity, finding.payload, finding.offset) == (Severity.HIGH, "macho", 20)
    assert finding.detail == "in JPEG APP5: macho at +0"
    reader, structure = _with_regions(("GIF comment", ODD_MACHO))  # a defined field
    assert _metadata(reader, structure) == []


@pytest.mark.parametrize(
    "label",
    [
        "JPEG APP5",
        "APP15",
        "PNG prVt",
        "unknown box 'abcd'",
        "uuid box 0123",
        "GIF application NETSCAPE",
        "WebP chunk XYZW",
        "DICOM private (0009,0010)",
    ],
)
def test_opaque_labels(label: str) -> None:
    reader, structure = _with_regions((label, ODD_MACHO))
    assert [f.payload for f in _metadata(reader, structure)] == ["macho"]


@pytest.mark.parametrize(
    "label", ["PNG tEXt", "PNG iTXt", "PNG zTXt", "PNG eXIf", "PNG iCCP", "APP123", "JPEG APP5 x"]
)
def test_defined_labels_are_not_opaque(label: str) -> None:
    reader, structure = _with_regions((label, ODD_MACHO))
    assert _metadata(reader, structure) == []


@pytest.mark.parametrize(("harmless", "found"), [(15, True), (16, False)])
def test_libmagic_is_asked_about_sixteen_opaque_values_per_file(harmless: int, found: bool) -> None:
    assert judge.MAX_LIBMAGIC_METADATA_CALLS == 16
    values = [("JPEG APP5", HARMLESS_OPAQUE)] * harmless + [("JPEG APP5", ODD_MACHO)]
    reader, structure = _with_regions(*values)
    assert [f.payload for f in _metadata(reader, structure)] == (["macho"] if found else [])


def test_defined_values_do_not_use_up_the_libmagic_budget() -> None:
    values = [("GIF comment", HARMLESS_OPAQUE)] * 20 + [("JPEG APP5", ODD_MACHO)]
    reader, structure = _with_regions(*values)
    assert [f.payload for f in _metadata(reader, structure)] == ["macho"]


def _png_text_chunk(body: bytes, chunk_type: bytes = b"tEXt") -> bytes:
    return (
        struct.pack(">I", len(body))
        + chunk_type
        + body
        + struct.pack(">I", zlib.crc32(chunk_type + body))
    )


def test_a_png_profile_chunk_naming_a_file_is_a_file_read_request() -> None:
    # CVE-2022-44268: the path starts after length, type, "profile" and its NUL: at +16
    chunk = _png_text_chunk(b"profile\x00/home/clinic/notes.txt")  # no marker names this path
    reader, structure = _with_regions(("PNG tEXt", chunk))
    assert _metadata(reader, structure) == [
        Finding(
            "gif.payload_in_metadata",
            Severity.HIGH,
            "Hidden in this picture's information fields is a request to copy private files "
            "from the computer.",
            offset=20,
            payload="file_read",
            detail="in PNG tEXt: file_read at +16",
        )
    ]
    reader, structure = _with_regions(("GIF comment", chunk))  # only PNG chunks are read so
    assert _metadata(reader, structure) == []


# --- marker details ---------------------------------------------------------------------------


def test_marker_detail_shows_four_markers_and_counts_the_rest() -> None:
    markers = [Marker(offset=10 * i, kind="php", text=b"<?php " + b"x" * 30) for i in range(6)]
    shown = "php@{} b'<?php xxxxxxxxxxxxxxxxxx'"  # the first 24 bytes of the text
    assert judge._marker_detail(markers) == ", ".join(shown.format(10 * i) for i in range(4)) + (
        " (+2 more)"
    )
    assert (
        judge._marker_detail(markers[:5])
        == ", ".join(shown.format(10 * i) for i in range(4)) + " (+1 more)"
    )
    assert judge._marker_detail(markers[:4]) == ", ".join(shown.format(10 * i) for i in range(4))


# --- executables inside DICOM -----------------------------------------------------------------

DICOM_HEAD = bytes(128) + b"DICM" + b"\x02\x00\x00\x00UL\x04\x00\x00\x00\x00\x00"


@pytest.mark.parametrize(
    ("header", "kind", "words"),
    [
        (b"\x7fELF\x02\x01\x01" + bytes(9), "elf", "a Linux program"),
        (b"\x7fELF\x01\x02\x01" + bytes(9), "elf", "a Linux program"),
        (b"\xcf\xfa\xed\xfe" + bytes(12), "macho", "a Mac program"),
        (b"\xce\xfa\xed\xfe" + bytes(12), "macho", "a Mac program"),
        (b"\xfe\xed\xfa\xce" + bytes(12), "macho", "a Mac program"),
        (b"\xfe\xed\xfa\xcf" + bytes(12), "macho", "a Mac program"),
    ],
)
def test_dicom_executable_headers(header: bytes, kind: str, words: str) -> None:
    data = DICOM_HEAD + header
    at = len(DICOM_HEAD)
    assert judge.dicom_executables(_reader(data), []) == [
        Finding(
            "dicom.executable_content",
            Severity.HIGH,
            f"Hidden inside this medical image is {words}.",
            offset=at,
            length=4,
            payload=kind,
            detail=f"{kind} header at {at}",
        )
    ]


def test_dicom_pe_needs_its_pe_header_and_the_search_goes_on() -> None:
    lone_mz = b"MZ" + b"\x01" * 100  # no PE\0\0 where e_lfanew points
    elf = b"\x7fELF\x02\x01\x01" + bytes(9)
    data = DICOM_HEAD + lone_mz + elf
    [finding] = judge.dicom_executables(_reader(data), [])
    assert (finding.payload, finding.offset) == ("elf", len(DICOM_HEAD) + len(lone_mz))
    data = DICOM_HEAD + pe_executable()
    [finding] = judge.dicom_executables(_reader(data), [])
    assert finding.message == "Hidden inside this medical image is a Windows program."
    assert (finding.payload, finding.offset, finding.detail) == (
        "pe",
        len(DICOM_HEAD),
        f"pe header at {len(DICOM_HEAD)}",
    )


def test_dicom_executables_skips_covered_headers_and_finds_one_at_offset_zero() -> None:
    elf = b"\x7fELF\x02\x01\x01" + bytes(9)
    data = DICOM_HEAD + elf + elf
    first, second = len(DICOM_HEAD), len(DICOM_HEAD) + len(elf)
    [finding] = judge.dicom_executables(_reader(data), [(first, first + 4)])
    assert finding.offset == second
    [finding] = judge.dicom_executables(_reader(elf), [])
    assert finding.offset == 0
    assert judge.dicom_executables(_reader(DICOM_HEAD + bytes(100)), []) == []


@pytest.mark.parametrize(
    ("opening", "kind"),
    [
        (b"<?php ", "php"),
        (b"<?PHP(", "php"),
        (b"<?=$a[", "php"),
        (b"<script>", "html"),
        (b"</script>", "html"),
        (b"<SCRIPT/", "html"),
        (b"<svg onload=", "html"),
        (b"<html>", "html"),
        (b"<iframe ", "html"),
    ],
)
@pytest.mark.parametrize("tail", [b"", bytes(100), b"a" * 5000, bytes(range(256)) * 8])
def test_a_markup_opening_at_a_range_start_is_classified_without_its_marker(
    opening: bytes, kind: str, tail: bytes
) -> None:
    # why a pixel marker on a range's first byte adds nothing (bench/mutation_equivalent.toml):
    # the classifier sees the same opening there and names the same kind at the same offset
    data = b"GIF89a" + opening + tail
    finding = judge.judge_gap(_reader(data), "gif", 6, len(data), [])
    assert finding is not None
    assert (finding.severity, finding.payload, finding.offset) == (Severity.HIGH, kind, 6)


# --- values split over adjacent regions: judged joined unless a piece was reported ---------------


def test_a_split_value_whose_first_piece_was_reported_is_not_judged_again() -> None:
    # the first piece's own script is the finding (at 20, the run's first byte); joined,
    # the pieces hold the same script: one payload, one finding
    reader, structure = _with_regions(
        ("COM", b"<script>alert(1)</script>"), ("COM", b"hello there")
    )
    assert [f.offset for f in _metadata(reader, structure)] == [20]


def test_a_finding_right_after_a_split_value_does_not_stop_its_judgement() -> None:
    # "<scr" and "ipt>" are harmless pieces of one COM value [20, 28); the XMP region right
    # after it (at 28, the run's end) has a finding of its own, which is not a piece
    data = b"GIF89a" + bytes(14) + b"<scr" + b"ipt>" + b"<html> " + bytes(10)
    regions = [Region(20, 24, "COM"), Region(24, 28, "COM"), Region(28, 35, "XMP")]
    structure = Structure(type="gif", end=len(data), metadata=regions)
    found = _metadata(_reader(data), structure)
    assert [(f.offset, f.payload) for f in found] == [(28, "html"), (20, "html")]
    assert found[1].detail.startswith("in COM, 2 pieces joined: html@")


# --- the program-header search the judge relies on (stray_code.first_executable) ------------------


def _mz(lfanew: int) -> bytes:
    """An MS-DOS header whose e_lfanew (at 0x3C) points at PE\\0\\0 right after it."""
    dos = bytearray(lfanew)
    dos[0:2] = b"MZ"
    dos[0x3C:0x40] = struct.pack("<I", lfanew)
    return bytes(dos) + b"PE\x00\x00" + bytes(20)


ELF_IDENT = b"\x7fELF\x02\x01\x01" + bytes(9)


def _first(data: bytes, **options: object) -> tuple[str, int] | None:
    from agent.inspect.stray_code import first_executable

    covered = options.pop("covered", [])
    return first_executable(_reader(data), covered, **options)  # type: ignore[arg-type]


def test_the_smallest_pe_at_the_first_byte_is_found() -> None:
    assert _first(_mz(0x40)) == ("pe", 0)  # e_lfanew 0x40: PE\0\0 right after the DOS header


def test_the_dos_header_is_the_mz_whose_e_lfanew_points_at_the_signature() -> None:
    data = bytearray(b"\x01" * 0x200)
    data[0x10:0x12] = b"MZ"  # an MZ whose e_lfanew field holds 0x01010101
    data[0x40 : 0x40 + 0x104] = _mz(0x100)  # the real one: PE\0\0 at 0x140
    data[0x90:0x92] = b"MZ"  # another stray MZ between them
    assert _first(bytes(data)) == ("pe", 0x40)


def test_an_mz_closer_than_64_bytes_to_the_signature_is_no_dos_header() -> None:
    # "MZ" 0x3F bytes before PE\0\0 with 3F 00 00 right before it: too close to be a header
    data = b"\x01" * 0x80 + b"MZ" + b"\x01" * 0x3A + b"\x3f\x00\x00" + b"PE\x00\x00" + bytes(20)
    assert _first(data) is None


def test_a_signature_with_no_header_before_it_is_nothing() -> None:
    assert _first(b"\x01" * 0x80 + b"PE\x00\x00" + bytes(20)) is None
    assert _first(_mz(0x80), covered=[(0, 4)]) is None  # its header already reported


def test_the_first_of_each_kind_wins_and_a_too_early_signature_does_not_stop_the_search() -> None:
    early = b"\x01" * 0x10 + b"PE\x00\x00" + b"\x01" * 0x20  # PE\0\0 at 0x10: no room for MZ
    data = early + _mz(0x80) + _mz(0x80)
    assert _first(data) == ("pe", len(early))
    elves = b"\x01" * 8 + ELF_IDENT + ELF_IDENT
    assert _first(elves) == ("elf", 8)
    both = _mz(0x80) + ELF_IDENT
    assert _first(both) == ("pe", 0)


def test_elf_and_macho_are_searched_only_when_asked() -> None:
    assert _first(b"\x01" * 4 + ELF_IDENT, elf=False) is None
    assert _first(b"\x01" * 4 + ELF_IDENT) == ("elf", 4)
    macho = b"\x01" * 4 + b"\xcf\xfa\xed\xfe" + bytes(28)
    assert _first(macho) is None
    assert _first(macho, macho=True) == ("macho", 4)
    assert _first(macho, macho=True, covered=[(4, 8)]) is None


def test_the_search_stays_inside_start_and_end() -> None:
    data = b"\x01" * 0x100 + _mz(0x80)
    assert _first(data, start=0x100) == ("pe", 0x100)  # a header exactly at the start
    assert _first(data, end=0x180) is None  # its signature (at 0x180) past the end
    macho = b"\x01" * 0x40 + b"\xcf\xfa\xed\xfe" + bytes(28)
    assert _first(macho, macho=True, end=0x40) is None


def _stray(data: bytes, findings: list[Finding]) -> list[tuple[str, int | None]]:
    from agent.inspect.stray_code import stray_code

    found = stray_code(_reader(data), "bmp", Structure(type="bmp", end=len(data)), findings)
    return [(f.code, f.offset) for f in found]


PIXELS_WITH_PE = b"BM" + bytes(60) + _mz(0x80)  # the MZ header at 62


def test_a_reported_payload_ends_the_search_and_other_findings_do_not() -> None:
    hit = [("bmp.payload_in_image_data", 62)]
    assert _stray(PIXELS_WITH_PE, []) == hit
    high_payload = Finding("bmp.x", Severity.HIGH, "m", offset=0, payload="script")
    assert _stray(PIXELS_WITH_PE, [high_payload]) == []  # one payload is enough
    high_without = Finding("bmp.x", Severity.HIGH, "m", offset=0)
    assert _stray(PIXELS_WITH_PE, [high_without]) == hit
    medium_payload = Finding("bmp.x", Severity.MEDIUM, "m", offset=0, payload="script")
    assert _stray(PIXELS_WITH_PE, [medium_payload]) == hit


def test_findings_cover_their_bytes_from_medium_up() -> None:
    hit = [("bmp.payload_in_image_data", 62)]
    at_header = Finding("bmp.x", Severity.MEDIUM, "m", offset=62)  # no length: one byte
    assert _stray(PIXELS_WITH_PE, [at_header]) == []
    low = Finding("bmp.x", Severity.LOW, "m", offset=62)
    assert _stray(PIXELS_WITH_PE, [low]) == hit
    before = Finding("bmp.x", Severity.MEDIUM, "m", offset=61)  # covers 61 only
    assert _stray(PIXELS_WITH_PE, [before]) == hit
    one = Finding("bmp.x", Severity.MEDIUM, "m", offset=61, length=1)
    assert _stray(PIXELS_WITH_PE, [one]) == hit


def test_the_dos_header_at_the_first_byte_is_found_behind_a_stray_mz() -> None:
    data = bytearray(_mz(0x100))  # MZ at 0, PE\0\0 at 0x100
    data[0x80:0x82] = b"MZ"  # a stray MZ nearer the signature, its e_lfanew field zero
    assert _first(bytes(data)) == ("pe", 0)
