"""The finding-code registry (agent/inspect/codes.py) knows every code the engine emits.

Two ways to find emitted codes, so a new check cannot slip past either:
- a static scan of agent/inspect for code literals ("svg.script") and family f-strings
  (f"{type_}.trailing_data"), whatever helper they are passed to;
- the engine run over the real corpus (../shared/corpus), the generated format samples and a
  slice of the evaluation corpus, collecting every code of every report.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from agent.inspect import codes, formats
from agent.inspect.engine import inspect_bytes, inspect_path
from agent.inspect.reasons import plain_reason
from agent.model import Finding, Severity
from bench.eval_corpus import generate
from tests import format_samples
from tests.conftest import corpus_files

REPO = Path(__file__).resolve().parent.parent
INSPECT = REPO / "agent" / "inspect"
EVAL_SLICE_SCALE = 0.15  # fraction of the evaluation corpus (~200 files)
# A code literal: "section.name" in lower case (no file names: those carry no second dot-part
# made of identifier characters only and never start with a registered section).
_CODE_LITERAL = re.compile(r"[a-z][a-z0-9]*\.[a-z][a-z0-9_]*")
_FAMILY_SUFFIX = re.compile(r"\.[a-z][a-z0-9_]*")
_SECTIONS = {code.split(".", 1)[0] for code in codes.all_codes()} | {"content", "name"}


def _static_codes() -> tuple[set[str], set[str]]:
    """(code literals, family suffixes of f"{x}.suffix") found in agent/inspect sources."""
    literals: set[str] = set()
    suffixes: set[str] = set()
    for source in INSPECT.rglob("*.py"):
        if source.name == "codes.py":
            continue  # the registry itself
        for node in ast.walk(ast.parse(source.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                value = node.value
                if _CODE_LITERAL.fullmatch(value) and value.split(".", 1)[0] in _SECTIONS:
                    literals.add(value)
            elif isinstance(node, ast.JoinedStr) and len(node.values) == 2:
                head, tail = node.values
                if (
                    isinstance(head, ast.FormattedValue)
                    and isinstance(tail, ast.Constant)
                    and isinstance(tail.value, str)
                    and _FAMILY_SUFFIX.fullmatch(tail.value)
                ):
                    suffixes.add(tail.value[1:])
    return literals, suffixes


def test_static_scan_finds_the_codes_it_should() -> None:
    literals, suffixes = _static_codes()
    # Anchors from docs/ARCHITECTURE.md: if the scan misses these it would miss new ones too.
    assert {"svg.script", "dicom.executable_preamble", "name.double_extension"} <= literals
    assert {"trailing_data", "payload_in_metadata", "malformed"} <= suffixes


def test_every_code_literal_in_the_engine_is_registered() -> None:
    literals, _suffixes = _static_codes()
    missing = sorted(code for code in literals if not codes.is_known(code))
    assert not missing, f"register these in agent/inspect/codes.py: {missing}"


def test_every_family_f_string_in_the_engine_is_a_registered_family() -> None:
    _literals, suffixes = _static_codes()
    families = {spec.suffix for spec in codes.CODE_SPECS if spec.is_family}
    missing = sorted(suffixes - families)
    assert not missing, f"register these as <fmt>.suffix in agent/inspect/codes.py: {missing}"


def test_every_walked_format_has_family_codes() -> None:
    # Family codes are emitted with the walker's type; a walker without words would give
    # unregistered codes such as "jxl.malformed".
    assert set(formats.walked_types()) <= set(codes.FAMILY_FORMATS)


def test_every_code_emitted_over_the_corpora_is_registered() -> None:
    emitted: dict[str, str] = {}
    files = [p for kind in ("benign", "malicious", "unusual") for p in corpus_files(kind)]
    assert len(files) >= 20, "the real corpus looks empty"
    for path in files:
        for finding in inspect_path(path).findings:
            emitted.setdefault(finding.code, str(path))
    pairs = format_samples.appended_pairs() + format_samples.metadata_pairs()
    for benign, malicious in pairs:
        for sample in (benign, malicious):
            for finding in inspect_bytes(sample.name, sample.data).findings:
                emitted.setdefault(finding.code, f"format_samples {sample.name}")
    for item in generate(scale=EVAL_SLICE_SCALE):
        for finding in inspect_bytes(item.name, item.data).findings:
            emitted.setdefault(finding.code, f"eval corpus {item.category}/{item.name!r}")
    assert len(emitted) >= 25, f"too few codes seen to mean anything: {sorted(emitted)}"
    missing = {code: where for code, where in emitted.items() if not codes.is_known(code)}
    assert not missing, f"emitted but not in agent/inspect/codes.py: {missing}"


def test_registry_expands_families_per_walked_format() -> None:
    assert codes.is_known("jpeg.trailing_data")
    assert codes.is_known("png.trailing_data")
    assert codes.is_known("dicom.malformed")
    assert not codes.is_known("jpeg.trailing_dat")
    assert not codes.is_known("<fmt>.trailing_data")
    spec = codes.spec_for("webp.payload_in_metadata")
    assert spec is not None and spec.severity is Severity.HIGH


def test_wildcards_and_suggestions() -> None:
    assert "name.double_extension" in codes.wildcard_matches("name.*")
    assert codes.wildcard_matches("nmae.*") == ()
    assert codes.suggest("jpeg.trailing_dat") == "jpeg.trailing_data"
    assert codes.suggest("nmae.*") == "name.*"
    assert codes.suggest("completely.different") is None


@pytest.mark.parametrize("code", codes.all_codes())
def test_every_registered_code_has_its_own_plain_reason(code: str) -> None:
    fallback = "ENGINE MESSAGE"
    reason = plain_reason(Finding(code, Severity.HIGH, fallback))
    assert reason != fallback and reason.endswith(".")
    assert "{" not in reason


def test_family_reasons_name_the_format() -> None:
    finding = Finding("png.truncated", Severity.LOW, "x")
    assert plain_reason(finding) == "This PNG picture is cut off (incomplete)."
    zip_tail = Finding("gif.trailing_data", Severity.HIGH, "x", payload="zip")
    assert plain_reason(zip_tail) == (
        "A hidden attachment (a ZIP archive) is stuck to the end of this GIF picture."
    )
