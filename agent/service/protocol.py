"""The local channel's protocol: versioned JSON lines, one request and one response.

Every message is one JSON object on one line (UTF-8, ASCII-escaped), at most
MAX_REQUEST_BYTES from a client and MAX_RESPONSE_BYTES from the service, newline
included. A longer line, a line that is not a JSON object, or an unknown version ends
the conversation with an error response (the service never reads past the cap).

    request:  {"v": 1, "id": 7, "op": "restore", "args": {"item": "3f2a...", "to": null}}
    response: {"v": 1, "id": 7, "ok": true, "result": {...}}
              {"v": 1, "id": 7, "ok": false, "error": {"code": "refused", "message": "..."}}

The first request of a connection must be `hello`. docs/protocol.md lists every op.
"""

from __future__ import annotations

import json
import re
from typing import Any, BinaryIO

from agent.vault.record import QuarantineItem

PROTOCOL_VERSION = 1
MAX_REQUEST_BYTES = 64 * 1024  # bytes per client message: an id, a path and a short note
MAX_RESPONSE_BYTES = 4 * 1024 * 1024  # bytes per service message: one page of items
PAGE_ITEMS = 200  # items per `items` page (a record is ~1 KB; a page stays far below the cap)
MAX_PATH_CHARS = 4096  # characters of a path argument (PATH_MAX on Linux)
MAX_ID_CHARS = 64  # characters of an item id argument (ids are 32; prefixes shorter)

OPS = frozenset(
    {
        "hello", "rights", "items", "damaged", "get", "restore", "delete", "purge",
        "sanitized_copy", "report_false_alarm", "flagged", "pause", "resume",
        "mark_reviewed", "status", "delete_flagged", "report_flagged", "reported",
        "review_opened", "report_exported",
    }
)  # fmt: skip

# error codes: what the client turns into which exception
ERROR_REFUSED = "refused"  # policy does not let this caller do it (an audit event too)
ERROR_FAILED = "failed"  # the operation could not be done (unknown id, no such folder...)
ERROR_BAD_REQUEST = "bad_request"  # malformed, oversized, unknown op or version

_ID_PATTERN = re.compile(r"[0-9a-f]{32}")


class ProtocolError(Exception):
    """A message broke the protocol (too long, not JSON, wrong shape, wrong version)."""


def encode(message: dict[str, Any], max_bytes: int) -> bytes:
    """One message as its line; ProtocolError when it would exceed `max_bytes`."""
    line = json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"
    if len(line) > max_bytes:
        raise ProtocolError(f"message of {len(line)} bytes is over the {max_bytes}-byte cap")
    return line


def read_message(stream: BinaryIO, max_bytes: int) -> dict[str, Any] | None:
    """The next message from `stream`, or None at a clean end of stream.

    Reads at most `max_bytes` (so a client can never make the service buffer more);
    ProtocolError for an over-long, torn or malformed line.
    """
    untrusted_line = stream.readline(max_bytes + 1)
    if not untrusted_line:
        return None
    if len(untrusted_line) > max_bytes or not untrusted_line.endswith(b"\n"):
        raise ProtocolError(f"message over the {max_bytes}-byte cap or cut off")
    try:
        untrusted = json.loads(untrusted_line)
    except ValueError:
        raise ProtocolError("message is not JSON") from None
    if not isinstance(untrusted, dict):
        raise ProtocolError("message is not a JSON object")
    if untrusted.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(f"unsupported protocol version (this side speaks {PROTOCOL_VERSION})")
    return untrusted


def request(op: str, request_id: int, **args: Any) -> dict[str, Any]:
    """A request message."""
    return {"v": PROTOCOL_VERSION, "id": request_id, "op": op, "args": args}


def ok(request_id: Any, result: Any) -> dict[str, Any]:
    """A success response."""
    return {"v": PROTOCOL_VERSION, "id": request_id, "ok": True, "result": result}


def error(request_id: Any, code: str, message: str) -> dict[str, Any]:
    """An error response; `message` is a plain sentence for the person."""
    return {
        "v": PROTOCOL_VERSION,
        "id": request_id,
        "ok": False,
        "error": {"code": code, "message": message},
    }


def item_to_wire(item: QuarantineItem) -> dict[str, Any]:
    """An item as sent to a client: its record fields (exact path bytes in base64)."""
    return item.record_fields()


def item_from_wire(untrusted: Any) -> QuarantineItem:
    """An item from the channel; ProtocolError when the fields are not a valid record."""
    if not isinstance(untrusted, dict) or not isinstance(untrusted.get("id"), str):
        raise ProtocolError("item without an id")
    item_id = untrusted["id"]
    if not _ID_PATTERN.fullmatch(item_id):
        raise ProtocolError("item with a malformed id")
    from agent.errors import VaultError

    try:
        return QuarantineItem.from_record_fields(item_id, untrusted)
    except (VaultError, ValueError, TypeError) as problem:
        raise ProtocolError(f"item {item_id} is malformed: {problem}") from None


def text_arg(args: dict[str, Any], name: str, max_chars: int, *, optional: bool = False) -> Any:
    """A string argument no longer than `max_chars` (None allowed when optional)."""
    value = args.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > max_chars or "\0" in value:
        raise ProtocolError(f"argument {name!r} must be a string of at most {max_chars} characters")
    return value


def number_arg(args: dict[str, Any], name: str, lowest: float, highest: float) -> float | None:
    """A finite number argument within [lowest, highest], or None when absent."""
    value = args.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolError(f"argument {name!r} must be a number")
    if not lowest <= float(value) <= highest:  # also refuses NaN
        raise ProtocolError(f"argument {name!r} must be between {lowest:g} and {highest:g}")
    return float(value)
