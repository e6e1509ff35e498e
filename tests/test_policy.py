"""decide(): severity mapping, per-code and wildcard overrides, folder rules, allowlist."""

from __future__ import annotations

from dataclasses import replace

from agent.model import Finding, Report, Severity
from agent.policy.decide import code_action, decide, folder_rule_for
from agent.policy.schema import ActionSettings, FolderRule, Policy

SHA = "c" * 64


def finding(code: str, severity: Severity) -> Finding:
    return Finding(code=code, severity=severity, message=f"{code} found")


def report(*findings: Finding, path: str = "/home/u/Downloads/photo.jpg") -> Report:
    return Report(path=path, type="jpeg", size=100, findings=tuple(findings))


HIGH = finding("jpeg.trailing_data", Severity.HIGH)
MEDIUM = finding("name.invisible_character", Severity.MEDIUM)
LOW = finding("jpeg.truncated", Severity.LOW)
INFO = finding("jpeg.known_trailer", Severity.INFO)


def test_default_severity_mapping() -> None:
    policy = Policy()
    assert decide(report(HIGH), policy).action == "quarantine"
    assert decide(report(MEDIUM), policy).action == "flag"
    assert decide(report(LOW), policy).action == "log"
    assert decide(report(INFO), policy).action == "log"
    decision = decide(report(MEDIUM), policy)
    assert decision.rule == "severity:medium"
    assert decision.reasons == (MEDIUM,)
    assert decision.allowlisted is False


def test_no_findings_is_logged_as_clean() -> None:
    decision = decide(report(), Policy())
    assert (decision.action, decision.rule, decision.reasons) == ("log", "clean", ())


def test_strongest_action_wins_and_reasons_are_worst_first() -> None:
    other_high = finding("content.executable", Severity.HIGH)
    decision = decide(report(LOW, other_high, MEDIUM, HIGH), Policy())
    assert decision.action == "quarantine"
    assert decision.reasons == (other_high, HIGH)
    assert decision.rule == "severity:high"


def test_configured_severity_actions() -> None:
    policy = Policy(actions=ActionSettings(high="flag", medium="ignore", low="quarantine"))
    decision = decide(report(HIGH, MEDIUM, LOW), policy)
    assert decision.action == "quarantine"  # strongest action, not worst severity
    assert decision.reasons == (LOW,)
    assert decision.rule == "severity:low"
    assert decide(report(MEDIUM), policy).action == "ignore"


def test_exact_code_override() -> None:
    policy = Policy(actions=ActionSettings(codes=(("jpeg.trailing_data", "log"),)))
    decision = decide(report(HIGH), policy)
    assert (decision.action, decision.rule) == ("log", "code:jpeg.trailing_data")


def test_wildcard_code_override_and_longest_wins() -> None:
    codes = (("name.*", "quarantine"), ("jpeg.*", "log"), ("name.invisible_character", "ignore"))
    policy = Policy(actions=ActionSettings(codes=codes))
    assert decide(report(MEDIUM), policy).action == "ignore"  # exact beats wildcard
    bidi = finding("name.bidi_control", Severity.MEDIUM)
    decision = decide(report(bidi), policy)
    assert (decision.action, decision.rule) == ("quarantine", "code:name.*")
    assert code_action("jpeg.truncated", (("jpeg.*", "log"), ("jpeg.trunc.*", "flag"))) == (
        "jpeg.*",
        "log",
    )
    assert code_action("a.b.c", (("a.*", "log"), ("a.b.*", "flag"))) == ("a.b.*", "flag")
    assert code_action("namex.y", (("name.*", "log"),)) is None  # whole segments only


def test_folder_rule_longest_prefix_wins() -> None:
    rules = (
        FolderRule(path="/srv/scans", high="flag"),
        FolderRule(path="/srv/scans/inbox", high="log"),
        FolderRule(path="/srv/other", high="ignore"),
    )
    policy = Policy(folder_rules=rules)
    inbox = decide(report(HIGH, path="/srv/scans/inbox/a/x.jpg"), policy)
    assert (inbox.action, inbox.rule) == ("log", "folder:/srv/scans/inbox severity:high")
    scans = decide(report(HIGH, path="/srv/scans/x.jpg"), policy)
    assert (scans.action, scans.rule) == ("flag", "folder:/srv/scans severity:high")
    sibling = decide(report(HIGH, path="/srv/scans-old/x.jpg"), policy)
    assert (sibling.action, sibling.rule) == ("quarantine", "severity:high")


def test_folder_argument_overrides_report_path() -> None:
    policy = Policy(folder_rules=(FolderRule(path="/srv/scans", high="flag"),))
    decision = decide(report(HIGH, path="/elsewhere/x.jpg"), policy, folder="/srv/scans")
    assert decision.action == "flag"


def test_folder_rule_falls_back_to_global_settings() -> None:
    rule = FolderRule(path="/srv/scans", high="flag", codes=(("jpeg.*", "ignore"),))
    policy = Policy(actions=ActionSettings(codes=(("name.*", "quarantine"),)), folder_rules=(rule,))
    in_scans = "/srv/scans/x.jpg"
    assert decide(report(HIGH, path=in_scans), policy).action == "ignore"  # rule's code
    decision = decide(report(MEDIUM, path=in_scans), policy)  # rule has no medium: global code
    assert (decision.action, decision.rule) == ("quarantine", "code:name.*")
    other = finding("content.executable", Severity.HIGH)
    assert decide(report(other, path=in_scans), policy).rule == "folder:/srv/scans severity:high"


def test_windows_folder_rules_compare_case_insensitively() -> None:
    policy = Policy(folder_rules=(FolderRule(path="C:\\Users\\Front\\Scans", high="flag"),))
    decision = decide(report(HIGH, path="c:\\users\\front\\scans\\sub\\x.jpg"), policy)
    assert decision.action == "flag"
    assert folder_rule_for("C:\\Users\\Front\\Scans2", policy.folder_rules) is None


def test_allowlist_wins_over_everything() -> None:
    rule = FolderRule(path="/srv", high="quarantine")
    policy = Policy(
        allowlist_sha256=(SHA,),
        folder_rules=(rule,),
        actions=ActionSettings(codes=(("jpeg.*", "quarantine"),)),
    )
    decision = decide(report(HIGH, MEDIUM, path="/srv/x.jpg"), policy, sha256=SHA.upper())
    assert (decision.action, decision.allowlisted, decision.rule) == ("log", True, "allowlist")
    assert decision.reasons == (HIGH, MEDIUM)
    not_listed = decide(report(HIGH, path="/srv/x.jpg"), policy, sha256="d" * 64)
    assert (not_listed.action, not_listed.allowlisted) == ("quarantine", False)


def test_decide_is_pure() -> None:
    policy = replace(Policy(), folder_rules=(FolderRule(path="/srv", medium="quarantine"),))
    the_report = report(MEDIUM, LOW, path="/srv/a.jpg")
    first = decide(the_report, policy)
    assert all(decide(the_report, policy) == first for _ in range(3))
    assert the_report.findings == (MEDIUM, LOW)


# --- folder matching at the edges (each case a path shape IT can write in a policy) ----------


def test_a_rule_for_the_root_folder_covers_everything_below_it() -> None:
    posix = (FolderRule(path="/", high="flag"),)
    assert folder_rule_for("/home/ann/Downloads", posix) == posix[0]
    assert folder_rule_for("/", posix) == posix[0]
    windows = (FolderRule(path="C:\\", high="flag"),)
    assert folder_rule_for("C:\\Users\\Ann\\Downloads", windows) == windows[0]
    assert folder_rule_for("D:\\Users", windows) is None


def test_a_trailing_separator_in_a_rule_changes_nothing() -> None:
    rules = (
        FolderRule(path="/srv/scans/", high="flag"),
        FolderRule(path="D:\\Scans\\", low="flag"),
    )
    assert folder_rule_for("/srv/scans/in", rules) == rules[0]
    assert folder_rule_for("/srv/scansx", rules) is None
    assert folder_rule_for("d:\\scans\\in", rules) == rules[1]


def test_windows_paths_are_recognised_by_drive_or_by_backslash() -> None:
    # A drive letter with forward slashes, and a rooted path without a drive, are both Windows
    # paths: compared case-insensitively, whichever way the separators are written.
    by_drive = (FolderRule(path="c:\\users\\ann\\scans", high="flag"),)
    assert folder_rule_for("C:/Users/Ann/Scans/in", by_drive) == by_drive[0]
    rooted = (FolderRule(path="\\Clinic\\Scans", high="flag"),)
    assert folder_rule_for("\\clinic\\scans\\in", rooted) == rooted[0]
    assert folder_rule_for("\\clinic\\scans2", rooted) is None
    # POSIX paths stay case-sensitive.
    assert folder_rule_for("/SRV/scans", (FolderRule(path="/srv/scans", high="flag"),)) is None


def test_of_two_rules_for_the_same_folder_the_first_listed_wins() -> None:
    rules = (FolderRule(path="/srv/scans", high="flag"), FolderRule(path="/srv/scans", high="log"))
    assert folder_rule_for("/srv/scans/x", rules) is rules[0]


def test_the_rule_name_of_a_folder_code_override_names_the_pattern() -> None:
    rule = FolderRule(path="/srv/scans", codes=(("jpeg.*", "log"),))
    decision = decide(report(HIGH, path="/srv/scans/x.jpg"), Policy(folder_rules=(rule,)))
    assert (decision.action, decision.rule) == ("log", "folder:/srv/scans code:jpeg.*")


def test_a_clean_file_is_not_reported_as_allowlisted() -> None:
    decision = decide(report(), Policy(allowlist_sha256=(SHA,)), sha256="d" * 64)
    assert decision.allowlisted is False
    assert (decision.action, decision.rule, decision.reasons) == ("log", "clean", ())


def test_a_unc_share_rule_written_with_a_trailing_backslash_covers_the_share() -> None:
    # normpath keeps the backslash after a UNC share's name; the rule is still that share
    rules = (FolderRule(path="\\\\srv\\share\\", high="flag"),)
    assert folder_rule_for("\\\\srv\\share", rules) == rules[0]
    assert folder_rule_for("\\\\SRV\\Share\\scans", rules) == rules[0]


def test_only_separators_are_trimmed_from_a_posix_rule() -> None:
    # a trailing space or a final capital X is part of the folder's name
    assert folder_rule_for("/srv/scans/in", (FolderRule(path="/srv/scans ", high="flag"),)) is None
    assert folder_rule_for("/srv/scan/in", (FolderRule(path="/srv/scanX", high="flag"),)) is None
    spaced = (FolderRule(path="/srv/scans ", high="flag"),)
    assert folder_rule_for("/srv/scans /in", spaced) == spaced[0]
