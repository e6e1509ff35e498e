"""installer/siem/ against events the real agent emits (issue 12): Wazuh, Elastic, Splunk.

The sample events come from the agent itself, in-process on real folders: a quarantine, a flag,
a restore and a false-alarm report through StaffActions, a rejected and a recovered policy, and
a stop. They are taken in both forms: as written to the local audit log, and as they leave the
machine (names hashed, RFC 5424 framing for syslog).
"""

from __future__ import annotations

import configparser
import copy
import datetime as dt
import json
import random
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from agent.service.events import remote_form
from agent.service.staff import StaffActions
from agent.service.syslog import format_rfc5424
from tests.agent_harness import make_jpeg_with_zip, read_events, wait_for, write_plain
from tests.test_service import Agent

REPO = Path(__file__).resolve().parent.parent
SIEM = REPO / "installer" / "siem"
WAIT_SECONDS = 15.0
KINDS_THE_RULES_COVER = {
    "verdict", "restored", "false_alarm_reported", "policy_rejected", "agent_stopped",
}  # fmt: skip


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Local-form events of one short, eventful session of the real agent."""
    tmp_path = tmp_path_factory.mktemp("siem")
    agent = Agent(tmp_path)
    agent.service.start()
    try:
        bad = agent.downloads / "xray_results.jpg"
        write_plain(bad, make_jpeg_with_zip(31))
        quarantined = agent.wait_verdict(bad, timeout=WAIT_SECONDS)
        odd = agent.downloads / "scan.jpg"
        write_plain(odd, random.Random(5).randbytes(3000))  # no known format: flagged
        agent.wait_verdict(odd, timeout=WAIT_SECONDS)
        good = agent.config.read_bytes()
        agent.config.write_text("[watch]\nsettle_seconds = -1\n", encoding="utf-8")
        wait_for(
            lambda: any(e["event"] == "policy_rejected" for e in read_events(agent.home)),
            WAIT_SECONDS,
            "the rejection",
        )
        agent.config.write_bytes(good)
        wait_for(
            lambda: any(e["event"] == "policy_recovered" for e in read_events(agent.home)),
            WAIT_SECONDS,
            "the recovery",
        )
        staff = StaffActions(
            agent.service.toolkit.vault,
            agent.service.statedb,
            agent.service.events,
            agent.service.policy.policy.version,
            via="tray",
        )
        item_id = str(quarantined["item_id"])
        staff.report_false_alarm(
            item_id,
            item_id=item_id,
            sha256=str(quarantined["sha256"]),
            codes=tuple(quarantined["findings"]),
            detected_type=str(quarantined["type"]),
            path=str(bad),
            untrusted_note="it is our x-ray",
        )
        staff.restore(item_id)
    finally:
        agent.service.stop()
    return read_events(agent.home)


def leaving(event: dict[str, Any]) -> dict[str, Any]:
    """The same event as the syslog / Event Log sinks get it (names hashed, the default)."""
    names = tuple(str(event[key]) for key in ("path", "name") if key in event)
    return remote_form(event, names)


def test_the_session_produced_every_kind_the_siem_files_name(events: list[dict[str, Any]]) -> None:
    kinds = {event["event"] for event in events}
    assert KINDS_THE_RULES_COVER | {"policy_recovered", "agent_started"} <= kinds
    actions = {event.get("action") for event in events if event["event"] == "verdict"}
    assert {"quarantine", "flag"} <= actions


# --- Wazuh --------------------------------------------------------------------------------


def _os_regex(pattern: str) -> re.Pattern[str]:
    """The OS_Regex subset the rules use (^ $ | and \\. for any character) as Python regex."""
    assert re.fullmatch(r"[\w^$|\\.* -]+", pattern), f"pattern outside the tested subset: {pattern}"
    return re.compile(pattern.replace("\\.", "."))


def _value_text(value: object) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _rule_matches(rule: ET.Element, rules: dict[str, ET.Element], event: dict[str, Any]) -> bool:
    parents = [sid.strip() for sid in (rule.findtext("if_sid") or "").split(",") if sid.strip()]
    if parents and not any(_rule_matches(rules[sid], rules, event) for sid in parents):
        return False
    for field in rule.findall("field"):
        name = field.get("name", "")
        if name not in event or not _os_regex(field.text or "").search(_value_text(event[name])):
            return False
    return True


def test_wazuh_files_are_well_formed_and_every_rule_fits_real_events(
    events: list[dict[str, Any]],
) -> None:
    # Wazuh reads a decoder file as a sequence of top-level <decoder> elements (as its own
    # files are written), so it is well-formed once wrapped in one root.
    decoders = ET.fromstring(
        "<root>" + (SIEM / "wazuh" / "photogate_decoders.xml").read_text("utf-8") + "</root>"
    )
    assert [d.get("name") for d in decoders.iter("decoder")] == ["photogate", "photogate-json"]
    group = ET.parse(SIEM / "wazuh" / "photogate_rules.xml").getroot()
    rules = {rule.get("id", ""): rule for rule in group.iter("rule")}
    assert len(rules) >= 12
    decoded_as = {rule.findtext("decoded_as") for rule in rules.values()} - {None}
    assert decoded_as == {"json", "photogate"}  # the file route and the syslog route
    all_fields = {key for event in events for key in event} | {
        key for event in events for key in leaving(event)
    }
    for rule_id, rule in rules.items():
        for field in rule.findall("field"):
            assert field.get("name") in all_fields, (
                f"rule {rule_id}: no event has {field.get('name')}"
            )
        for form in (lambda e: e, leaving):
            fired = [e for e in events if _rule_matches(rule, rules, form(e))]
            if rule_id in ("100509", "100510", "100503"):
                continue  # events_dropped, action_failed, quarantine_failed: not in this session
            assert fired, f"rule {rule_id} matches none of the agent's events"
    covered = {
        field.text.strip("^$")
        for rule in rules.values()
        for field in rule.findall("field")
        if field.get("name") == "event" and field.text and "|" not in field.text
    }
    assert covered >= KINDS_THE_RULES_COVER


# --- Elastic ------------------------------------------------------------------------------


def _get(doc: dict[str, Any], dotted: str) -> Any:
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set(doc: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = doc
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _pop(doc: dict[str, Any], dotted: str) -> Any:
    *parents, last = dotted.split(".")
    node: Any = doc
    for part in parents:
        node = node.get(part, {})
    return node.pop(last, None)


def run_pipeline(pipeline: dict[str, Any], message: str) -> dict[str, Any]:
    """The processors the pipeline uses, with Elasticsearch's documented semantics."""
    doc: dict[str, Any] = {"message": message}
    for processor in pipeline["processors"]:
        ((kind, options),) = processor.items()
        field = options.get("field")
        if kind == "gsub":
            _set(doc, field, re.sub(options["pattern"], options["replacement"], _get(doc, field)))
        elif kind == "json":
            _set(doc, options["target_field"], json.loads(_get(doc, field)))
        elif kind == "rename":
            value = _get(doc, field)
            if value is None:
                assert options.get("ignore_missing"), f"rename of missing {field} fails"
                continue
            if _get(doc, options["target_field"]) is not None and not options.get("override"):
                continue  # Elasticsearch would fail; our pipeline lists the wanted one first
            _pop(doc, field)
            _set(doc, options["target_field"], value)
        elif kind == "set":
            _set(doc, field, options["value"])
        elif kind == "date":
            assert options["formats"] == ["ISO8601"]
            parsed = dt.datetime.fromisoformat(_get(doc, field).replace("Z", "+00:00"))
            _set(doc, options["target_field"], parsed.isoformat())
        elif kind == "remove":
            _pop(doc, field)
        else:
            raise AssertionError(f"processor {kind!r} is not covered by this test")
    return doc


def _leaves(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_leaves(value, path + "."))
        else:
            out[path] = value
    return out


def _mapped(properties: dict[str, Any], dotted: str) -> dict[str, Any] | None:
    node: Any = {"properties": properties}
    for part in dotted.split("."):
        node = node.get("properties", {}).get(part)
        if node is None:
            return None
    return dict(node)


_TYPES = {"long": int, "float": (int, float), "boolean": bool}


def test_elastic_pipeline_maps_real_events_to_mapped_ecs_fields(
    events: list[dict[str, Any]],
) -> None:
    pipeline = json.loads((SIEM / "elastic" / "photogate-pipeline.json").read_text("utf-8"))
    template = json.loads((SIEM / "elastic" / "photogate-index-template.json").read_text("utf-8"))
    properties = template["template"]["mappings"]["properties"]
    for event in events:
        line = json.dumps(event, separators=(",", ":"))
        syslog = format_rfc5424(leaving(event), 16, "desk").decode("ascii", "replace")
        for message in (line, syslog):
            doc = run_pipeline(pipeline, message)
            assert "error" not in doc or "photogate pipeline" not in str(doc["error"])
            source = json.loads(doc["event"]["original"])
            assert doc["event"]["action"] == event["event"]
            assert doc["@timestamp"].startswith(event["time"][:23].replace("Z", ""))
            assert doc["host"]["hostname"] == event["host"]
            assert doc["labels"]["policy_version"] == event["policy_version"]
            if "sha256" in source:
                assert doc["file"]["hash"]["sha256"] == source["sha256"]
            if "findings" in source:
                assert doc["rule"]["id"] == source["findings"]
            if "path" in source:
                assert doc["file"]["path"] == source["path"]
            for name, value in _leaves(doc).items():
                mapping = _mapped(properties, name)
                if mapping is None:
                    assert name.startswith("photogate."), (
                        f"{name} is neither ECS-mapped nor photogate.*"
                    )
                    assert isinstance(value, str | list), f"{name}: dynamic template maps strings"
                    continue
                expected = _TYPES.get(mapping["type"])
                if expected is not None and not isinstance(value, list):
                    assert isinstance(value, expected), (
                        f"{name}: {value!r} is not {mapping['type']}"
                    )


# --- Splunk -------------------------------------------------------------------------------


def _splunk_time_format(fmt: str) -> str:
    return fmt.replace("%3N", "%f").replace("%Z", "Z")


def test_splunk_props_fit_real_events(events: list[dict[str, Any]]) -> None:
    props = configparser.RawConfigParser(strict=True)
    props.optionxform = str  # type: ignore[assignment,method-assign]
    props.read(SIEM / "splunk" / "props.conf", encoding="utf-8")
    assert set(props.sections()) == {"photogate:event", "photogate:syslog"}
    local = props["photogate:event"]
    for event in events:
        assert local["TIMESTAMP_FIELDS"] in event
        dt.datetime.strptime(event["time"], _splunk_time_format(local["TIME_FORMAT"]))
    all_fields = {key for event in events for key in event}
    for section in props.sections():
        for key, value in props[section].items():
            if key.startswith("FIELDALIAS-"):
                sources = re.findall(r"(\S+) AS \S+", value)
                assert sources
                for source in sources:
                    assert source.removesuffix("{}") in all_fields, f"{section}: {source}"
    syslog = props["photogate:syslog"]
    pattern, replacement = re.fullmatch(
        r"s/(.*)/(.*)/", syslog["SEDCMD-photogate_cut_header"]
    ).groups()  # type: ignore[union-attr]
    for event in events:
        outgoing = leaving(event)
        message = format_rfc5424(outgoing, 16, "desk").decode("ascii", "replace")
        cut = re.sub(pattern, replacement, message, count=1)
        assert json.loads(cut) == json.loads(json.dumps(outgoing))
        prefix = syslog["TIME_PREFIX"]
        stamp = cut.split(prefix, 1)[1][: int(syslog["MAX_TIMESTAMP_LOOKAHEAD"])]
        dt.datetime.strptime(stamp[:24], _splunk_time_format(syslog["TIME_FORMAT"]))


def test_siem_copies_of_events_never_carry_the_file_name(events: list[dict[str, Any]]) -> None:
    names = {e["name"] for e in events if "name" in e}
    assert "xray_results.jpg" in names
    for event in events:
        text = json.dumps(leaving(copy.deepcopy(event)))
        assert "xray_results" not in text
