"""Property tests: any bytes under any name give a report, never an exception."""

from __future__ import annotations

import random
import time
from pathlib import Path

from conftest import corpus_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.inspect.engine import inspect_bytes
from agent.model import Report, Verdict

GENEROUS_SECONDS = 5.0  # seconds: a bound no healthy inspection of a small input gets near

_PREFIXES = [
    b"",
    b"\xff\xd8\xff\xe0",
    b"\x89PNG\r\n\x1a\n",
    b"GIF89a",
    b"RIFF\x10\x00\x00\x00WEBP",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"\x00\x00\x00\x18ftypheic",
    b"\x00\x00\x01\x00",
    bytes(128) + b"DICM",
    b"<svg ",
    b"MZ",
    b"PK\x03\x04",
    b"%PDF-1.4",
]

_name_chars = st.characters(
    codec="utf-8",
    exclude_characters="/\x00",
    categories=("L", "M", "N", "P", "S", "Z", "Cc", "Cf", "Co"),
)
names = st.tuples(
    st.text(_name_chars, max_size=40),
    st.sampled_from(["", ".jpg", ".png", ".gif", ".dcm", ".svg", ".exe", ".jpg.exe", ".lnk"]),
    st.sampled_from(["", "\u202e", "\u200b", " ", ".", "\u2024"]),
).map(lambda parts: parts[0] + parts[2] + parts[1])


def _check(report: Report, started: float) -> None:
    assert isinstance(report, Report)
    assert report.verdict in set(Verdict)
    assert time.monotonic() - started < GENEROUS_SECONDS
    for finding in report.findings:
        assert finding.code and finding.message
        # The engine turns crashes into findings so the agent survives; here they must not
        # happen at all: a swallowed exception is a bug in the engine or a walker.
        assert not finding.detail.startswith(("internal error", "walker raised")), finding


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, prefix=st.sampled_from(_PREFIXES), body=st.binary(max_size=3000))
def test_arbitrary_bytes_under_arbitrary_names(name: str, prefix: bytes, body: bytes) -> None:
    started = time.monotonic()
    _check(inspect_bytes(name, prefix + body), started)


_CORPUS = [p.read_bytes() for kind in ("benign", "malicious") for p in corpus_files(kind)]
_SMALL_CORPUS = [data for data in _CORPUS if len(data) <= 300_000]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(min_value=0, max_value=len(_SMALL_CORPUS) - 1),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    flips=st.integers(min_value=1, max_value=40),
    cut=st.booleans(),
)
def test_mutated_real_files(index: int, seed: int, flips: int, cut: bool) -> None:
    rng = random.Random(seed)
    data = bytearray(_SMALL_CORPUS[index])
    for _ in range(flips):
        position = rng.randrange(len(data))
        data[position] = rng.randrange(256)
    if cut:
        data = data[: rng.randrange(1, len(data) + 1)]
    started = time.monotonic()
    _check(inspect_bytes("mutated.jpg", bytes(data)), started)


# --- coverage-guided: a short pass of bench/fuzz.py's atheris targets ----------------------

SHORT_FUZZ_RUNS = 300  # inputs per parser in CI (the bench runs minutes per parser)
SHORT_FUZZ_PARSERS = ("jpeg", "png", "dicom", "svg")  # the parsers with the most code


def test_a_short_coverage_guided_fuzz_pass_finds_no_escape(tmp_path: Path) -> None:
    import subprocess
    import sys

    import atheris  # noqa: F401 - a dev dependency (pyproject): missing means a broken setup

    bench = Path(__file__).resolve().parent.parent / "bench" / "fuzz.py"
    for parser in SHORT_FUZZ_PARSERS:
        corpus = tmp_path / parser
        corpus.mkdir()
        child = subprocess.run(
            [
                sys.executable, str(bench), "--target", parser, "--",
                f"-runs={SHORT_FUZZ_RUNS}", "-max_len=65536", "-print_final_stats=1",
                f"-artifact_prefix={tmp_path}/{parser}-", str(corpus),
            ],
            capture_output=True, timeout=300, check=False,
        )  # fmt: skip
        stderr = child.stderr.decode(errors="replace")
        assert child.returncode == 0, f"{parser}: {stderr[-3000:]}"
        assert f"stat::number_of_executed_units: {SHORT_FUZZ_RUNS}" in stderr, stderr[-2000:]
