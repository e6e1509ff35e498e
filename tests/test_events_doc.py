"""docs/events.md describes every event kind and every field the agent emits.

The common fields come from a real `EventLog.build` (both with names and with hashed names);
the per-event fields are read from the source: every `.emit("kind", field=...)` call in agent/.
A new field or kind without documentation fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from agent.policy.schema import ReportSettings
from agent.service.events import EventLog
from tests.conftest import REPO_ROOT

EVENTS_DOC = REPO_ROOT / "docs" / "events.md"
# Keyword arguments of emit() that are not fields themselves: `path` becomes path/name/path_hash.
NOT_FIELDS = {"path"}


def _documented_names() -> set[str]:
    """Names in the first column of the doc's tables: | `name` | ..."""
    text = EVENTS_DOC.read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([a-z_0-9]+)` \|", text, flags=re.MULTILINE))


def _emit_calls() -> list[tuple[str, str, set[str]]]:
    """(source file, event kind, keyword fields) of every `.emit("kind", ...)` in agent/."""
    calls = []
    for source in sorted((REPO_ROOT / "agent").rglob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "emit"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                continue  # logging handlers' emit(record) and the like
            keywords = {kw.arg for kw in node.keywords if kw.arg is not None}
            calls.append((str(source.relative_to(REPO_ROOT)), node.args[0].value, keywords))
    return calls


def test_the_source_emits_events() -> None:
    kinds = {kind for _, kind, _ in _emit_calls()}
    # The scan itself must see the calls, or the checks below would pass vacuously.
    assert {"verdict", "agent_started", "policy_rejected"} <= kinds


def test_every_common_field_is_documented(tmp_path: Path) -> None:
    documented = _documented_names()
    for hashed in (False, True):
        log = EventLog(ReportSettings(hash_file_names=hashed), tmp_path, sinks=[])
        try:
            event = log.build("verdict", path=tmp_path / "x.jpg", policy_version="v1")
        finally:
            log.close()
        missing = set(event) - documented
        assert not missing, f"fields not in docs/events.md: {sorted(missing)}"
    assert {"path", "name", "path_hash"} <= documented


def test_every_event_kind_and_field_is_documented() -> None:
    documented = _documented_names()
    problems = []
    for source, kind, keywords in _emit_calls():
        if kind not in documented:
            problems.append(f"{source}: event kind {kind!r}")
        for field in sorted(keywords - NOT_FIELDS - documented):
            problems.append(f"{source}: field {field!r} of {kind!r}")
    assert not problems, "not in docs/events.md:\n" + "\n".join(problems)


def test_documented_kinds_are_emitted() -> None:
    # A kind that no code emits any more is stale documentation.
    text = EVENTS_DOC.read_text(encoding="utf-8")
    section = text.split("## Fields by event kind", 1)[1].split("| field |", 1)[0]
    documented_kinds = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))
    emitted = {kind for _, kind, _ in _emit_calls()}
    assert documented_kinds == emitted
