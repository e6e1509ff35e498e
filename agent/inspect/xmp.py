"""Tiny, bounded extraction of the few XMP attributes the trailer accounting needs.

Not an XML parser: the Google camera writes these as plain attributes (or simple
elements), and a regex over a bounded packet is enough to read them. Nothing here
resolves entities or follows references, so a hostile packet cannot make it expand.
Whatever is read is only a *hint*: the trailer code verifies the bytes it points at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_XMP_BYTES = 1024**2  # bytes of one XMP packet examined for hints (an APP1 is < 64 KiB)
MAX_CONTAINER_ITEMS = 64  # Container:Directory items read; real files have 2-4
MAX_DECIMAL_DIGITS = 12  # digits of a length/offset attribute (bigger is absurd for a file)

# <Container:Item .../>, <GContainer:Item ...>, Dynamic Depth <Device:Container> items...
_ITEM_ELEMENT = re.compile(rb"<[A-Za-z][\w.-]*:Item\b([^<>]*)>")
_ITEM_ATTRIBUTE = re.compile(
    rb"[A-Za-z][\w.-]*:(Mime|Semantic|Length|Padding)\s*=\s*[\"']([^\"'<>]*)[\"']"
)
_MICRO_VIDEO_OFFSET = re.compile(
    rb"MicroVideoOffset\s*(?:=\s*[\"']|>)\s*(\d{1,%d})" % MAX_DECIMAL_DIGITS
)


@dataclass(frozen=True)
class ContainerItem:
    """One item of an XMP Container:Directory, as declared (unverified)."""

    mime: str
    semantic: str
    length: int
    padding: int


def _small_int(untrusted_text: str) -> int:
    """A non-negative decimal of bounded size, or 0 when absent or not a number."""
    text = untrusted_text.strip()
    if text.isdigit() and len(text) <= MAX_DECIMAL_DIGITS:
        return int(text)
    return 0


def container_items(untrusted_xmp: bytes) -> list[ContainerItem]:
    """Container:Directory (or GContainer) items in document order (at most MAX_CONTAINER_ITEMS)."""
    packet = untrusted_xmp[:MAX_XMP_BYTES]
    items: list[ContainerItem] = []
    for element in _ITEM_ELEMENT.finditer(packet):
        fields: dict[str, str] = {}
        for attribute in _ITEM_ATTRIBUTE.finditer(element.group(1)):
            fields[attribute.group(1).decode("ascii")] = attribute.group(2).decode("latin-1")
        if "Mime" not in fields:
            continue
        items.append(
            ContainerItem(
                mime=fields["Mime"].strip().lower(),
                semantic=fields.get("Semantic", "").strip(),
                length=_small_int(fields.get("Length", "")),
                padding=_small_int(fields.get("Padding", "")),
            )
        )
        if len(items) >= MAX_CONTAINER_ITEMS:
            break
    return items


def micro_video_offset(untrusted_xmp: bytes) -> int | None:
    """GCamera:MicroVideoOffset (bytes from the end of the file to the MP4), if declared."""
    found = _MICRO_VIDEO_OFFSET.search(untrusted_xmp[:MAX_XMP_BYTES])
    if found is None:
        return None
    return int(found.group(1))
