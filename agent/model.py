"""Plain, frozen data shared by every layer: findings, reports and verdicts.

Finding codes are an API: tests, policy files and JSON output use them, never message text.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """How bad a finding is; the default policy maps it to an action."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        """Lower-case name used in JSON and config (`"high"`)."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Severity from its label; raises ValueError naming the allowed labels."""
        try:
            return cls[text.upper()]
        except KeyError:
            allowed = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r} (allowed: {allowed})") from None


class Verdict(enum.StrEnum):
    """What should happen to a file. Ordered: clean < flag < quarantine."""

    CLEAN = "clean"
    FLAG = "flag"
    QUARANTINE = "quarantine"

    @property
    def rank(self) -> int:
        """0, 1, 2 for clean, flag, quarantine: lets callers take the worst of several."""
        return _VERDICT_RANK[self]


_VERDICT_RANK = {Verdict.CLEAN: 0, Verdict.FLAG: 1, Verdict.QUARANTINE: 2}


def default_verdict(severity: Severity) -> Verdict:
    """The built-in mapping: high -> quarantine, medium -> flag, low/info -> clean."""
    if severity >= Severity.HIGH:
        return Verdict.QUARANTINE
    if severity >= Severity.MEDIUM:
        return Verdict.FLAG
    return Verdict.CLEAN


@dataclass(frozen=True)
class Finding:
    """One thing a check noticed about a file.

    `message` is one plain sentence a receptionist understands; `detail` is for IT
    (what the bytes look like). `payload` names the kind of embedded content when known
    (e.g. "zip", "pe", "php"), so policy and UI need not parse messages.
    """

    code: str
    severity: Severity
    message: str
    offset: int | None = None
    length: int | None = None
    payload: str | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of a finding."""
        return {
            "code": self.code,
            "severity": self.severity.label,
            "message": self.message,
            "offset": self.offset,
            "length": self.length,
            "payload": self.payload,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        """Inverse of `to_json` (used by the vault and the review window)."""
        return cls(
            code=str(data["code"]),
            severity=Severity.parse(str(data["severity"])),
            message=str(data.get("message", "")),
            offset=data.get("offset"),
            length=data.get("length"),
            payload=data.get("payload"),
            detail=str(data.get("detail", "")),
        )


@dataclass(frozen=True)
class Report:
    """Everything the inspection engine says about one file.

    `type` is the type detected from the bytes ("jpeg", "png", "pe", "unknown", ...).
    `verdict` is the verdict under the built-in default policy; the agent's policy may
    decide differently (see `agent.policy.decide`).
    """

    path: str
    type: str
    size: int
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    verdict: Verdict = Verdict.CLEAN

    @property
    def worst_severity(self) -> Severity | None:
        """The highest severity among the findings, or None when there are none."""
        return max((f.severity for f in self.findings), default=None)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of a report (one line of `photogate scan --json`)."""
        return {
            "path": self.path,
            "type": self.type,
            "size": self.size,
            "verdict": self.verdict.value,
            "findings": [f.to_json() for f in self.findings],
        }


def verdict_for(findings: tuple[Finding, ...] | list[Finding]) -> Verdict:
    """The default-policy verdict for a set of findings: the worst one decides."""
    worst = max((f.severity for f in findings), default=None)
    return Verdict.CLEAN if worst is None else default_verdict(worst)
