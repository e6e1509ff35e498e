"""Left-over data after a picture: the judgement a deliberate bug in the classifier would change.

Expected verdicts follow the design's table: an executable, archive or script after the image
is quarantined; unexplained data with no such structure is at most flagged. Each case pins a
detail of the classifier that once survived a mutation check (issue 15).
"""

from __future__ import annotations

import random
import struct

from jpeg_samples import pe_executable, photo, zip_archive

from agent.inspect.engine import inspect_bytes
from agent.model import Verdict


def _noise(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def test_a_zip_after_junk_is_found_by_its_end_record() -> None:
    # A ZIP reader finds an archive by its end-of-central-directory record at the end of the
    # file, wherever its first local header is: junk in front of it hides nothing.
    for junk_size in (17, 4096, 70_000):
        data = photo() + _noise(junk_size, junk_size) + zip_archive()
        report = inspect_bytes("IMG_0001.jpg", data)
        assert report.verdict is Verdict.QUARANTINE, (junk_size, report.findings)


def test_mz_without_a_pe_header_is_not_a_windows_program() -> None:
    # "MZ" alone is two common bytes; a PE file also has "PE\\0\\0" where e_lfanew points.
    fake = b"MZ" + _noise(510, 3).replace(b"PE\x00\x00", b"PEXX")
    report = inspect_bytes("IMG_0001.jpg", photo() + fake)
    assert report.verdict is not Verdict.QUARANTINE, report.findings


def test_mz_with_a_pe_header_where_e_lfanew_points_is_a_windows_program() -> None:
    assert pe_executable()[:2] == b"MZ"
    lfanew = struct.unpack_from("<I", pe_executable(), 0x3C)[0]
    assert pe_executable()[lfanew : lfanew + 4] == b"PE\x00\x00"
    report = inspect_bytes("IMG_0001.jpg", photo() + pe_executable())
    assert report.verdict is Verdict.QUARANTINE, report.findings
