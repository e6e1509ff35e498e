"""Installer files that cannot be built here are at least well-formed and agree with the code.

The ADMX template must write exactly the registry values `agent.policy.registry` reads (one
subkey per table, value name = key), with values the validator accepts; the macOS LaunchAgent
must be a valid property list; the Inno Setup script must register what the docs promise.
"""

from __future__ import annotations

import json
import plistlib
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from agent.policy import keys as ck
from agent.policy.registry import REGISTRY_KEY, FileRegistryPolicySource
from agent.policy.schema import ACTIONS
from tests.conftest import REPO_ROOT

ADMX = REPO_ROOT / "installer/windows/admx/Photogate.admx"
ADML = REPO_ROOT / "installer/windows/admx/en-US/Photogate.adml"
NS = {"p": "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"}
Q = "{" + NS["p"] + "}"  # namespace prefix for Element.iter
# ADMX element -> policy key kinds it can carry.
ELEMENT_KINDS = {
    "enum": {ck.ACTION},
    "text": {ck.STRING, ck.SYSLOG_URL, ck.PATH, ck.FACILITY},
    "multiText": {ck.STRING_LIST, ck.PATH_LIST, ck.KEY_LIST, ck.SHA256_LIST},
    "decimal": {ck.INT},
}


def _policies() -> list[ET.Element]:
    return ADMX_ROOT.findall("p:policies/p:policy", NS)


ADMX_ROOT = ET.parse(ADMX).getroot()
ADML_ROOT = ET.parse(ADML).getroot()


def _dotted(policy: ET.Element, value_name: str) -> str:
    key = policy.attrib["key"]
    assert key.startswith(REGISTRY_KEY + "\\"), key
    table = key[len(REGISTRY_KEY) + 1 :]
    assert "\\" not in table, f"{key}: one subkey per table"
    return f"{table}.{value_name}"


def test_every_admx_policy_writes_a_known_key_of_the_right_kind() -> None:
    policies = _policies()
    seen = set()
    for policy in policies:
        assert policy.attrib["class"] == "Machine"
        if "valueName" in policy.attrib:  # a plain on/off policy
            dotted = _dotted(policy, policy.attrib["valueName"])
            assert ck.SPECS[dotted].kind == ck.BOOL, dotted
            seen.add(dotted)
            continue
        (elements,) = policy.findall("p:elements", NS)
        for element in elements:
            tag = element.tag.split("}")[1]
            dotted = _dotted(policy, element.attrib["valueName"])
            assert dotted in ck.SPECS, f"{policy.attrib['name']}: unknown key {dotted}"
            assert ck.SPECS[dotted].kind in ELEMENT_KINDS[tag], dotted
            seen.add(dotted)
    # The keys IT asked to manage from Group Policy.
    wanted = {
        "actions.high",
        "actions.medium",
        "ui.allow_restore",
        "ui.allow_pause",
        "ui.allow_quit",
        "vault.retention_days",
        "report.syslog",
        "watch.folders",
    }
    assert wanted <= seen


def test_admx_enum_values_are_valid_actions() -> None:
    values = [v.text for v in ADMX_ROOT.iter(Q + "string")]
    assert values and set(values) <= set(ACTIONS)


def test_every_admx_string_and_presentation_is_defined_in_the_adml() -> None:
    strings = {s.attrib["id"] for s in ADML_ROOT.iter(Q + "string")}
    presentations = {p.attrib["id"] for p in ADML_ROOT.iter(Q + "presentation")}
    text = ADMX.read_text(encoding="utf-8")

    for ref in re.findall(r"\$\(string\.([A-Za-z0-9_]+)\)", text):
        assert ref in strings, ref
    for ref in re.findall(r"\$\(presentation\.([A-Za-z0-9_]+)\)", text):
        assert ref in presentations, ref
    # Each presentation control refers to an element id of the ADMX.
    element_ids = {e.attrib["id"] for e in ADMX_ROOT.iter() if "id" in e.attrib}
    for presentation in ADML_ROOT.iter(Q + "presentation"):
        for control in presentation:
            assert control.attrib["refId"] in element_ids


def test_values_the_admx_writes_read_back_through_the_registry_reader(tmp_path: Path) -> None:
    # What GPO would write for a typical clinic policy, in the stand-in file format.
    tree = {
        "actions": {"high": "quarantine", "medium": "quarantine"},
        "ui": {"allow_restore": 0, "allow_pause": 1, "allow_quit": 0},
        "vault": {"retention_days": 90},
        "report": {"syslog": "udp://siem.clinic.lan:514"},
        "watch": {"folders": ["C:\\Scans", "%USERPROFILE%\\Desktop"]},
        "locks": {"keys": ["ui.notifications"]},
    }
    source_file = tmp_path / "registry.json"

    source_file.write_text(json.dumps(tree), encoding="utf-8")
    values = FileRegistryPolicySource(source_file).values()
    assert values["ui.allow_restore"] is False
    assert values["ui.allow_pause"] is True
    assert values["vault.retention_days"] == 90
    assert values["watch.folders"] == ["C:\\Scans", "%USERPROFILE%\\Desktop"]


def test_launch_agent_plist() -> None:
    with (REPO_ROOT / "installer/macos/com.photogate.agent.plist").open("rb") as handle:
        plist = plistlib.load(handle)
    assert plist["Label"] == "com.photogate.agent"
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] is False
    assert plist["ProgramArguments"][1:] == ["run"]


def test_inno_setup_registers_autostart_event_source_and_acl() -> None:
    iss = (REPO_ROOT / "installer/windows/photogate.iss").read_text(encoding="utf-8")
    assert "PrivilegesRequired=admin" in iss
    assert r'Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"' in iss
    assert r"SYSTEM\CurrentControlSet\Services\EventLog\Application\Photogate" in iss
    assert "icacls.exe" in iss and "/inheritance:r" in iss
    assert "onlyifdoesntexist" in iss  # IT's policy is never overwritten


def test_mac_bundle_ids_agree_and_the_privacy_profile_parses() -> None:
    """The LaunchAgent runs the bundle's executable; the PPPC profile names the same id."""
    with (REPO_ROOT / "installer/macos/com.photogate.agent.plist").open("rb") as handle:
        agent = plistlib.load(handle)
    assert agent["ProgramArguments"][0] == "/Applications/Photogate.app/Contents/MacOS/photogate"
    assert agent["AssociatedBundleIdentifiers"] == ["com.photogate.agent"]
    spec = (REPO_ROOT / "installer/pyinstaller/photogate.spec").read_text(encoding="utf-8")
    assert 'MAC_BUNDLE_ID = "com.photogate.agent"' in spec and 'name="Photogate.app"' in spec
    with (REPO_ROOT / "installer/macos/photogate-pppc.mobileconfig").open("rb") as handle:
        profile = plistlib.load(handle)
    assert profile["PayloadType"] == "Configuration" and profile["PayloadScope"] == "System"
    payloads = {p["PayloadType"]: p for p in profile["PayloadContent"]}
    services = payloads["com.apple.TCC.configuration-profile-policy"]["Services"]
    for service in ("SystemPolicyDownloadsFolder", "SystemPolicyAllFiles"):
        (entry,) = services[service]
        assert entry["Identifier"] == "com.photogate.agent"
        assert entry["IdentifierType"] == "bundleID" and entry["Authorization"] == "Allow"
        assert entry["CodeRequirement"].startswith('identifier "com.photogate.agent" and anchor')
    (notify,) = payloads["com.apple.notificationsettings"]["NotificationSettings"]
    assert notify["BundleIdentifier"] == "com.apple.ScriptEditor2"  # who shows osascript's
    rules = payloads["com.apple.servicemanagement"]["Rules"]
    assert {"BundleIdentifier", "Label"} == {rule["RuleType"] for rule in rules}
    uuids = [profile["PayloadUUID"], *(p["PayloadUUID"] for p in profile["PayloadContent"])]
    assert len(set(uuids)) == len(uuids)
    with (REPO_ROOT / "installer/macos/photogate.entitlements").open("rb") as handle:
        assert plistlib.load(handle) == {
            "com.apple.security.cs.allow-unsigned-executable-memory": True
        }
