"""PURE: (Report, Policy, folder, sha256) -> Decision. No I/O, no clock, no environment.

Per finding, the first rule that says something decides its action:
  1. the folder rule with the longest path containing the file: its `codes`, then its
     severity setting;
  2. [actions.codes]: the exact code, else the longest matching prefix wildcard ("name.*");
  3. [actions] by severity.
The strongest action over all findings wins (quarantine > flag > log > ignore). A SHA-256
on the allowlist overrides everything: the file is only logged.
"""

from __future__ import annotations

import ntpath
import posixpath
from dataclasses import dataclass

from agent.model import Finding, Report
from agent.policy.schema import ACTIONS, FolderRule, Policy

ALLOWLIST_ACTION = "log"
NO_FINDINGS_ACTION = "log"  # every decision is an audit event, even a clean one
_STRENGTH = {action: len(ACTIONS) - rank for rank, action in enumerate(ACTIONS)}


@dataclass(frozen=True)
class Decision:
    """What to do with one file and why."""

    action: str  # one of schema.ACTIONS
    reasons: tuple[Finding, ...]  # the findings that drove the action, worst first
    allowlisted: bool
    rule: str  # "severity:high", "code:name.*", "folder:/home/u/Scans", "allowlist", "clean"


def _normalize(path: str) -> str:
    """A comparable form of a path: Windows-looking paths compare case-insensitively."""
    if "\\" in path or ntpath.splitdrive(path)[0]:
        return ntpath.normcase(ntpath.normpath(path)).rstrip("\\")
    return posixpath.normpath(path).rstrip("/") or "/"


def _is_within(child: str, parent: str) -> bool:
    """True when `child` is `parent` or inside it, by whole path components."""
    if child == parent:
        return True
    separator = "\\" if "\\" in parent or "\\" in child else "/"
    return child.startswith(parent if parent.endswith(separator) else parent + separator)


def folder_rule_for(folder: str, rules: tuple[FolderRule, ...]) -> FolderRule | None:
    """The rule whose path contains `folder`, the longest such path winning."""
    target = _normalize(folder)
    best: FolderRule | None = None
    best_length = -1
    for rule in rules:
        rule_path = _normalize(rule.path)
        if _is_within(target, rule_path) and len(rule_path) > best_length:
            best, best_length = rule, len(rule_path)
    return best


def code_action(code: str, codes: tuple[tuple[str, str], ...]) -> tuple[str, str] | None:
    """(pattern, action) for `code`: the exact code, else the longest prefix wildcard."""
    best: tuple[str, str] | None = None
    for pattern, action in codes:
        if pattern == code:
            return pattern, action
        is_prefix = pattern.endswith(".*") and code.startswith(pattern[:-1])
        if is_prefix and (best is None or len(pattern) > len(best[0])):
            best = (pattern, action)
    return best


def finding_action(finding: Finding, policy: Policy, rule: FolderRule | None) -> tuple[str, str]:
    """(action, rule name) for one finding under `policy` and the folder rule in force."""
    severity = finding.severity.label
    if rule is not None:
        matched = code_action(finding.code, rule.codes)
        if matched is not None:
            return matched[1], f"folder:{rule.path} code:{matched[0]}"
        by_severity: str | None = getattr(rule, severity)
        if by_severity is not None:
            return by_severity, f"folder:{rule.path} severity:{severity}"
    matched = code_action(finding.code, policy.actions.codes)
    if matched is not None:
        return matched[1], f"code:{matched[0]}"
    action: str = getattr(policy.actions, severity)
    return action, f"severity:{severity}"


def decide(
    report: Report, policy: Policy, *, folder: str | None = None, sha256: str | None = None
) -> Decision:
    """The action for `report` under `policy`.

    `folder` is where the file is (default: the folder part of `report.path`); `sha256` is
    the file's hash, checked against the allowlist.
    """
    worst_first = tuple(sorted(report.findings, key=lambda f: f.severity, reverse=True))
    if sha256 is not None and sha256.lower() in policy.allowlist_sha256:
        return Decision(ALLOWLIST_ACTION, worst_first, allowlisted=True, rule="allowlist")
    if not worst_first:
        return Decision(NO_FINDINGS_ACTION, (), allowlisted=False, rule="clean")
    where = folder if folder is not None else _parent(report.path)
    rule = folder_rule_for(where, policy.folder_rules) if policy.folder_rules else None
    judged = [(finding, *finding_action(finding, policy, rule)) for finding in worst_first]
    strongest = max(_STRENGTH[action] for _finding, action, _rule in judged)
    drivers = [
        (finding, name) for finding, action, name in judged if _STRENGTH[action] == strongest
    ]
    action = next(a for a, s in _STRENGTH.items() if s == strongest)
    return Decision(
        action=action,
        reasons=tuple(finding for finding, _name in drivers),
        allowlisted=False,
        rule=drivers[0][1],
    )


def _parent(path: str) -> str:
    if "\\" in path:
        return ntpath.dirname(path)
    return posixpath.dirname(path)
