"""Script-polyglot headers: a picture whose first bytes also start a JavaScript program.

Read as Latin-1 text, `GIF89a`, `BM`, `RIFF` and a JPEG's `FF D8 FF En` (`ÿØÿà`) are
JavaScript identifiers. A polyglot makes the header fields that follow them open a
comment (`GIF89a/*`, an APP0 length of 0x2F2A that reads `/*`), an assignment
(`GIF89a=`, `BM=1;/*`) or a line comment (`//`), hides the binary picture inside the
comment, closes it and runs code: `*/=alert(1);`. A browser given the file as a script
(`<script src=photo.gif>`) runs it.

Such header values are absurd for a picture but not impossible (a 12,074-byte first
APPn segment reads `/*`), so the opening alone proves nothing. JavaScript leaves the
attacker no choice about what comes next: a block comment ends at the first `*/` after
it and a line comment at the first line break, and right there the code must start.
`js_polyglot(reader, type)` checks exactly that place, and reports only when what
follows it is code (a call or an assignment in a run of printable text).
"""

from __future__ import annotations

import re

from agent.inspect.reader import Reader

HEADER_TEXT_BYTES = 64  # bytes after the identifier read for the opening
MAX_COMMENT_BYTES = 64 * 1024**2  # bytes searched for the end of the opened comment
CODE_TAIL_BYTES = 256  # bytes after the comment's end checked for code
MIN_CODE_BYTES = 6  # printable bytes after the comment's end before they can be code

# Format -> the bytes that must start the file (a JavaScript identifier in Latin-1);
# the header fields after them are what the polyglot bends.
IDENTIFIERS: dict[str, re.Pattern[bytes]] = {
    "gif": re.compile(rb"GIF8[79]a"),
    "bmp": re.compile(rb"BM"),
    "webp": re.compile(rb"RIFF"),
    "jpeg": re.compile(rb"\xff\xd8\xff[\xe0-\xef\xfe]"),  # APPn/COM: Latin-1 letters
}
# What the fields after the identifier must read: a comment, possibly after the start of
# an assignment (`=1;/*`), or an assignment whose value runs straight into code.
_COMMENT_OPENING = re.compile(
    rb"[ \t]*(?P<value>=[\x20-\x7e]{0,%d}?)?(?P<comment>/\*|//)" % HEADER_TEXT_BYTES
)
_ASSIGNMENT = re.compile(rb"[ \t]*=")
_OPENING_BYTES = frozenset((b" ", b"\t", b"=", b"/"))  # what an opening can start with
_BLOCK_END = re.compile(rb"\*/")
_LINE_END = re.compile(rb"[\r\n]|\xe2\x80[\xa8\xa9]")
_PRINTABLE_RUN = re.compile(rb"[\t\x20-\x7e]*")
# A call (`alert(`, `window['x'](`, `x.y(`) or an assignment (`x=`, `=1;y=`).
_CODE = re.compile(rb"[A-Za-z_$][\w$.]*(?:\[[^\]]{0,64}\])?\s*(?:\(|=[^=])")


def _is_code(untrusted_tail: bytes) -> bool:
    run = _PRINTABLE_RUN.match(untrusted_tail)
    text = run.group() if run else b""
    return len(text.strip()) >= MIN_CODE_BYTES and _CODE.search(text) is not None


def js_polyglot(reader: Reader, type_: str) -> tuple[int, str] | None:
    """(offset of the code, how the header opens) when the header is a script polyglot."""
    identifier = IDENTIFIERS.get(type_)
    if identifier is None:
        return None
    start = reader.read(0, 8 + HEADER_TEXT_BYTES)
    head = identifier.match(start)
    if head is None or start[head.end() : head.end() + 1] not in _OPENING_BYTES:
        return None  # the common case: a binary header field right after the identifier
    after = start[head.end() : head.end() + HEADER_TEXT_BYTES]
    opening = _COMMENT_OPENING.match(after)
    if opening is None:
        assignment = _ASSIGNMENT.match(after)
        if assignment is not None and _is_code(after[assignment.end() :]):
            return head.end(), "an assignment"
        return None
    comment, value = opening.group("comment"), opening.group("value")
    at = head.end() + opening.end()
    finder = _BLOCK_END if comment == b"/*" else _LINE_END
    closing = reader.search(finder, at, min(reader.size, at + MAX_COMMENT_BYTES))
    if closing is None:
        return None
    if not _is_code(reader.read(closing.end(), CODE_TAIL_BYTES)):
        return None
    how = "a block comment" if comment == b"/*" else "a line comment"
    if value is not None:
        how = f"an assignment and {how}"
    return closing.end(), how
