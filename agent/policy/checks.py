"""The value checkers of policy validation: one method per key kind (`agent.policy.keys`).

`Checker.value(spec, path, display, raw)` returns the checked, converted value, or None after
recording why it is wrong in a `Collector`; it never stops at the first problem.
"""

from __future__ import annotations

import math
from typing import Any

from agent.policy import keys as ck
from agent.policy.schema import ACTIONS
from agent.policy.values import (
    CODE_PATTERN,
    CONTROL,
    SHA256_PATTERN,
    SYSLOG_FACILITIES,
    Collector,
    describe_type,
    did_you_mean,
    expand_path,
    path_problem,
    short,
    syslog_url_problem,
    unknown_code_message,
)


class Checker:
    """Validates values of each kind; appends problems to a collector."""

    def __init__(self, out: Collector) -> None:
        self.out = out

    def value(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object) -> Any:
        """The checked, converted value, or None after recording why it is wrong."""
        checker = {
            ck.BOOL: self._bool,
            ck.INT: self._int,
            ck.FLOAT: self._float,
            ck.STRING: self._string,
            ck.STRING_LIST: self._string_list,
            ck.PATH: self._path,
            ck.PATH_LIST: self._path_list,
            ck.ACTION: self._action,
            ck.CODE_ACTIONS: self._code_actions,
            ck.FOLDER_RULES: self._folder_rules,
            ck.SHA256_LIST: self._sha256_list,
            ck.KEY_LIST: self._key_list,
            ck.SYSLOG_URL: self._syslog_url,
            ck.FACILITY: self._facility,
        }[spec.kind]
        return checker(spec, path, display, raw)

    def _fail(self, path: tuple[str, ...], display: str, message: str) -> None:
        self.out.add(path, display, message)

    def _bool(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object) -> Any:
        if isinstance(raw, bool):
            return raw
        self._fail(path, display, f"must be true or false, not {describe_type(raw)}")
        return None

    def _int(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object) -> Any:
        if isinstance(raw, bool) or not isinstance(raw, int):
            self._fail(path, display, f"must be a whole number, not {describe_type(raw)}")
            return None
        return raw if self._in_bounds(spec, path, display, raw) else None

    def _float(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object) -> Any:
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            self._fail(path, display, f"must be a number, not {describe_type(raw)}")
            return None
        return float(raw) if self._in_bounds(spec, path, display, raw) else None

    def _in_bounds(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, n: float) -> bool:
        low, high = spec.minimum, spec.maximum
        if (low is not None and n < low) or (high is not None and n > high):
            if high is None:
                bound = f"at least {low:g}"
            elif low is None:
                bound = f"at most {high:g}"
            else:
                bound = f"between {low:g} and {high:g}"
            self._fail(path, display, f"must be {bound}, not {n:g}")
            return False
        return True

    def _text(self, path: tuple[str, ...], display: str, raw: object, what: str) -> str | None:
        if not isinstance(raw, str):
            self._fail(path, display, f"must be {what}, not {describe_type(raw)}")
            return None
        if len(raw) > ck.MAX_STRING_CHARS:
            self._fail(path, display, f"is longer than {ck.MAX_STRING_CHARS} characters")
            return None
        if CONTROL.search(raw):
            self._fail(path, display, "must not contain control characters")
            return None
        return raw

    def _string(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object) -> Any:
        text = self._text(path, display, raw, "a string")
        if text is not None and not text.strip() and spec.key == "policy.version":
            self._fail(path, display, "must not be empty")
            return None
        return text

    def _list(
        self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object
    ) -> list[Any] | None:
        if not isinstance(raw, list):
            self._fail(path, display, f"must be a list, not {describe_type(raw)}")
            return None
        if len(raw) > spec.max_items:
            self._fail(path, display, f"has {len(raw)} items; at most {spec.max_items}")
            return None
        return raw

    def _items(
        self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object, kind: str
    ) -> Any:
        items = self._list(spec, path, display, raw)
        if items is None:
            return None
        checked = []
        ok = True
        for index, item in enumerate(items, start=1):
            one = getattr(self, "_one_" + kind)(path, f"{display}[{index}]", item)
            ok = ok and one is not None
            checked.append(one)
        if not ok:
            return None
        return list(dict.fromkeys(checked)) if kind in ("sha256", "key") else checked

    def _string_list(self, spec: ck.KeySpec, path: tuple[str, ...], d: str, raw: object) -> Any:
        return self._items(spec, path, d, raw, "pattern")

    def _path_list(self, spec: ck.KeySpec, path: tuple[str, ...], d: str, raw: object) -> Any:
        return self._items(spec, path, d, raw, "path")

    def _sha256_list(self, spec: ck.KeySpec, path: tuple[str, ...], d: str, raw: object) -> Any:
        return self._items(spec, path, d, raw, "sha256")

    def _key_list(self, spec: ck.KeySpec, path: tuple[str, ...], d: str, raw: object) -> Any:
        return self._items(spec, path, d, raw, "key")

    def _one_pattern(self, path: tuple[str, ...], display: str, raw: object) -> str | None:
        text = self._text(path, display, raw, "a string")
        if text is not None and not text.strip():
            self._fail(path, display, "must not be empty")
            return None
        return text

    def _one_path(self, path: tuple[str, ...], display: str, raw: object) -> str | None:
        text = self._text(path, display, raw, "a folder path")
        if text is None:
            return None
        if not text.strip():
            self._fail(path, display, "must not be empty")
            return None
        expanded = expand_path(text)
        problem = path_problem(expanded)
        if problem is not None:
            self._fail(path, display, problem)
            return None
        return expanded

    def _one_sha256(self, path: tuple[str, ...], display: str, raw: object) -> str | None:
        text = self._text(path, display, raw, "a SHA-256 (64 hex digits)")
        if text is not None and not SHA256_PATTERN.fullmatch(text):
            self._fail(path, display, f"{short(text)} is not a SHA-256 (64 hex digits)")
            return None
        return None if text is None else text.lower()

    def _one_key(self, path: tuple[str, ...], display: str, raw: object) -> str | None:
        text = self._text(path, display, raw, "a key name")
        if text is None:
            return None
        if text in ck.SPECS or (text.endswith(".*") and text[:-2] in ck.SECTIONS):
            return text
        hint = did_you_mean(text, [*ck.SPECS, *(f"{s}.*" for s in ck.SECTIONS)])
        self._fail(path, display, f"{short(text)} is not a policy key{hint}")
        return None

    def _path(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object) -> Any:
        if raw == "":
            return ""
        return self._one_path(path, display, raw)

    def _action(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object) -> Any:
        return self._one_action(path, display, raw)

    def _one_action(self, path: tuple[str, ...], display: str, raw: object) -> str | None:
        text = self._text(path, display, raw, "an action")
        if text is None or text in ACTIONS:
            return text
        allowed = ", ".join(ACTIONS)
        hint = did_you_mean(text, ACTIONS)
        self._fail(path, display, f"{short(text)} is not an action ({allowed}){hint}")
        return None

    def _code_actions(
        self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object
    ) -> Any:
        return self._codes(path, display, raw)

    def _codes(self, path: tuple[str, ...], display: str, raw: object) -> dict[str, str] | None:
        if not isinstance(raw, dict):
            self._fail(path, display, f"must be a table, not {describe_type(raw)}")
            return None
        if len(raw) > ck.MAX_LIST_ITEMS:
            self._fail(path, display, f"has {len(raw)} codes; at most {ck.MAX_LIST_ITEMS}")
            return None
        checked: dict[str, str] = {}
        ok = True
        for code, action in raw.items():
            where, shown = (*path, code), f'{display}."{code}"'
            if not CODE_PATTERN.fullmatch(code):
                ok = False
                self._fail(
                    where, shown,
                    'is not a finding code or prefix wildcard (like "jpeg.trailing_data" '
                    'or "name.*")',
                )  # fmt: skip
                continue
            unknown = unknown_code_message(code)
            if unknown is not None:
                ok = False
                self._fail(where, display, unknown)
                continue
            checked_action = self._one_action(where, shown, action)
            ok = ok and checked_action is not None
            checked[code] = checked_action or ""
        return checked if ok else None

    def _folder_rules(
        self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object
    ) -> Any:
        if isinstance(raw, dict):
            self._fail(path, display, "must be written as [[folder_rules]] (a list)")
            return None
        rules = self._list(spec, path, display, raw)
        if rules is None:
            return None
        checked, ok, seen = [], True, set()
        for index, rule in enumerate(rules):
            one = self._folder_rule((*path, str(index)), f"{display}[{index + 1}]", rule)
            if one is not None and one["path"] in seen:
                self._fail((*path, str(index), "path"), f"{display}[{index + 1}].path",
                           "the same folder already has a rule")  # fmt: skip
                one = None
            ok = ok and one is not None
            if one is not None:
                seen.add(one["path"])
                checked.append(one)
        return checked if ok else None

    def _folder_rule(self, path: tuple[str, ...], display: str, raw: object) -> Any:
        if not isinstance(raw, dict):
            self._fail(path, display, f"must be a table, not {describe_type(raw)}")
            return None
        ok = True
        rule: dict[str, Any] = {}
        for name, value in raw.items():
            where, shown = (*path, name), f"{display}.{name}"
            checked: object
            if name == "path":
                checked = self._one_path(where, shown, value)
            elif name == "codes":
                checked = self._codes(where, shown, value)
            elif name in ck.SEVERITY_KEYS:
                checked = self._one_action(where, shown, value)
            else:
                hint = did_you_mean(name, ck.FOLDER_RULE_KEYS)
                self._fail(where, shown, f"unknown key in a folder rule{hint}")
                checked = None
            ok = ok and checked is not None
            rule[name] = checked
        if "path" not in raw:
            ok = False
            self._fail(path, display, "a folder rule needs a path")
        return rule if ok else None

    def _syslog_url(
        self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object
    ) -> Any:
        text = self._text(path, display, raw, "a syslog URL")
        if not text:
            return text
        problem = syslog_url_problem(text)
        if problem is not None:
            self._fail(path, display, problem)
            return None
        return text

    def _facility(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object) -> Any:
        text = self._text(path, display, raw, "a syslog facility")
        if text is None or text in SYSLOG_FACILITIES:
            return text
        hint = did_you_mean(text, SYSLOG_FACILITIES)
        self._fail(path, display, f"{short(text)} is not a syslog facility{hint}")
        return None
