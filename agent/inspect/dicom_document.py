"""Encapsulated PDF reports in DICOM (PS3.3 §A.45): the object's content, judged as a PDF.

An Encapsulated PDF object (what `pdf2dcm` and report systems write) carries the report in
Encapsulated Document (0042,0011) and says `application/pdf` in MIME Type of Encapsulated
Document (0042,0012). With a short dataset the report's `%PDF-` falls in the first KiB,
where PDF readers look for a header, so the file also opens as that report: the same
document the object declares, not a disguise. What matters is whether the PDF can act.

It is inert when none of its names is an action that runs code, opens or fetches
something, submits data or carries a file (PDF 32000-1 §12.6.4 action types, §12.6.3
additional actions, §7.11.4 embedded files, §12.7.8 XFA forms), with name escapes decoded
(`/J#61vaScript`, §7.3.5). Every byte is read, streams included: skipping stream bodies
would let a comment (`% stream`) hide a dictionary, and a chance match in compressed data
only keeps the old verdict. Dictionaries packed into compressed object streams (§7.5.7)
cannot be read without inflating them, so a report that has any, or that is larger than
MAX_REPORT_BYTES, is not vouched for and stays a polyglot.
"""

from __future__ import annotations

import re

from agent.inspect.reader import Reader

ENCAPSULATED_DOCUMENT = (0x0042, 0x0011)
DOCUMENT_MIME_TYPE = (0x0042, 0x0012)
MAX_REPORT_BYTES = 16 * 1024**2  # bytes of PDF read for its names (reports are a few MB)
# Names that make a PDF act (and /ObjStm: dictionaries this reading cannot see).
ACTIVE_NAMES = frozenset(
    {
        b"JavaScript", b"JS", b"Launch", b"EmbeddedFile", b"EmbeddedFiles", b"FileAttachment",
        b"RichMedia", b"XFA", b"SubmitForm", b"ImportData", b"GoToE", b"GoToR", b"AA",
        b"ObjStm",
    }
)  # fmt: skip
_NAME = re.compile(rb"/([^\x00\t\n\x0c\r ()<>\[\]{}/%]{1,127})")
_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


def judge_report(
    reader: Reader, document: tuple[int, int] | None, mime: bytes
) -> tuple[int | None, str]:
    """(where the object's own PDF report starts, what in it can act: "" when inert).

    `document` is the value range of (0042,0011), `mime` the value of (0042,0012); the
    start is None when the object carries no PDF it says is one.
    """
    if document is None or mime.rstrip(b"\x00 ").lower() != b"application/pdf":
        return None, ""
    start, end = document
    if reader.read(start, 5) != b"%PDF-":
        return None, ""
    active = active_content(reader, start, end)
    return start, (f"encapsulated PDF report at {start} has {', '.join(active)}" if active else "")


def active_content(reader: Reader, start: int, end: int) -> list[str]:
    """The active names of the PDF in [start, end), sorted; ["too large"] past the cap."""
    if end - start > MAX_REPORT_BYTES:
        return ["too large to read"]
    text = reader.read(start, end - start)
    found = set()
    for match in _NAME.finditer(text):
        name = match.group(1)
        if b"#" in name:
            name = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), name)
        if name in ACTIVE_NAMES:
            found.add("/" + name.decode("ascii"))
    return sorted(found)
