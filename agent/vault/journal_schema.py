"""Which fields each journal step carries, and the check every line passes before recovery.

A line is acted on only when its op and step are known and it has exactly the fields that
step has, each of the right kind: ids and transaction ids of the right hex length, paths as
strict base64 of an absolute path without NUL bytes, sizes and times as integers in range
(a JSON `true` is not a number here). Anything else is a problem string, never an exception,
so no journal content can stop the vault from opening.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

TXN_HEX_CHARS = 16  # transaction ids: 8 bytes of os randomness as hex
ITEM_ID_HEX_CHARS = 32  # item ids: 16 bytes of os randomness as hex
SHA256_HEX_CHARS = 64
MAX_PATH_BYTES = 32 * 1024  # bytes of a decoded path (Windows long paths reach 32,767 units)
MAX_UNSIGNED = 2**64 - 1  # st_dev, st_ino and st_size fit in 64 bits
MIN_SIGNED, MAX_SIGNED = -(2**63), 2**63 - 1  # st_mtime_ns is a signed 64-bit count

_TXN = re.compile(f"[0-9a-f]{{{TXN_HEX_CHARS}}}")
_ITEM_ID = re.compile(f"[0-9a-f]{{{ITEM_ID_HEX_CHARS}}}")
_SHA256 = re.compile(f"[0-9a-f]{{{SHA256_HEX_CHARS}}}")


def _item_id(value: Any) -> str:
    return "" if isinstance(value, str) and _ITEM_ID.fullmatch(value) else "not an item id"


def _sha256(value: Any) -> str:
    return "" if isinstance(value, str) and _SHA256.fullmatch(value) else "not a SHA-256"


def _unsigned(value: Any) -> str:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_UNSIGNED
    return "" if ok else "not an unsigned 64-bit integer"


def _signed(value: Any) -> str:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    ok = is_int and MIN_SIGNED <= value <= MAX_SIGNED
    return "" if ok else "not a signed 64-bit integer"


def _path_b64(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_PATH_BYTES * 2:
        return "not a base64 path"
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return "not valid base64"
    if not raw or len(raw) > MAX_PATH_BYTES or b"\0" in raw:
        return "not a path (empty, too long or with a NUL byte)"
    if not Path(os.fsdecode(raw)).is_absolute():
        return "not an absolute path"
    return ""


_Check = Callable[[Any], str]
_ID_ONLY: dict[str, _Check] = {"id": _item_id}

# op -> step -> field -> check. Exactly these fields, each required.
STEPS: dict[str, dict[str, dict[str, _Check]]] = {
    "quarantine": {
        "intent": {
            "id": _item_id, "path_b64": _path_b64, "dev": _unsigned, "ino": _unsigned,
            "size": _unsigned, "mtime_ns": _signed,
        },
        "stored": {"id": _item_id, "sha256": _sha256},
        "original-removed": _ID_ONLY,
        "done": _ID_ONLY,
        "aborted": _ID_ONLY,
    },
    "restore": {
        "restore-intent": {"id": _item_id, "temp_b64": _path_b64, "sha256": _sha256},
        "placing": {"id": _item_id, "final_b64": _path_b64},
        "restored": _ID_ONLY,
        "done": _ID_ONLY,
        "aborted": _ID_ONLY,
    },
}  # fmt: skip
# The step that opens each operation: an operation whose first valid line is another step
# has lost its beginning and is not recovered from (its own later lines say nothing safe).
FIRST_STEP = {"quarantine": "intent", "restore": "restore-intent"}


def validate_entry(untrusted: dict[str, Any]) -> str:
    """ "" when the (signature-checked) entry is a known step with valid fields, else why not."""
    txn, op, step = untrusted.get("txn"), untrusted.get("op"), untrusted.get("step")
    if not isinstance(txn, str) or not _TXN.fullmatch(txn):
        return "transaction id missing or malformed"
    if not isinstance(op, str) or op not in STEPS:
        return "unknown operation"
    if not isinstance(step, str) or step not in STEPS[op]:
        return f"unknown step of {op}"
    schema = STEPS[op][step]
    fields = {k: v for k, v in untrusted.items() if k not in ("txn", "op", "step")}
    missing = sorted(schema.keys() - fields.keys())
    if missing:
        return f"{op} {step} without {', '.join(missing)}"
    extra = sorted(fields.keys() - schema.keys())
    if extra:
        return f"{op} {step} with unknown fields {', '.join(extra)}"
    for name, check in schema.items():
        problem = check(fields[name])
        if problem:
            return f"{op} {step}: {name} is {problem}"
    return ""
