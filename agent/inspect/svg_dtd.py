"""Entity declarations in an SVG's DOCTYPE: harmless text macros, or XXE and bombs.

Illustrator writes `<!ENTITY ns_svg "http://www.w3.org/2000/svg">` and friends and then
uses `&ns_svg;` as the namespace of the root element: such a file means nothing unless
the entities expand. An entity is harmless when its value is plain text (no `&`, `%` or
`<`, so expanding it cannot expand further or inject markup), it is a general entity, and
the file cannot blow up by using it (total expansion bounded). Everything else is risky:

* external entities (`SYSTEM`/`PUBLIC`) read files or URLs when expanded (XXE, the
  CVE-2023-38633 class of librsvg file reads): high;
* parameter entities, values that reference other entities (billion laughs), values with
  markup, and too many or too large entities: medium, and the file is not expanded.

A browser does expand internal entities, character references included, so a value that
spells `&#60;script&#62;` injects a script wherever it is used: `replacement_texts` gives
each value with its character references decoded, for the SVG text checks.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

MAX_PLAIN_ENTITIES = 256  # declarations an ordinary editor writes (Illustrator: ~15)
MAX_ENTITY_VALUE_BYTES = 4096  # bytes in one plain entity value
MAX_EXPANSION_BYTES = 1024 * 1024  # bytes all uses of plain entities may expand to

_DECLARATION = re.compile(
    rb"<!ENTITY\s+(%\s+)?([^\s\"'>%]+)\s*((?:SYSTEM|PUBLIC)\b)?[^\"'>]*(?:\"([^\"]*)\"|'([^']*)')?",
    re.IGNORECASE,
)

_REFERENCE = re.compile(rb"&([A-Za-z_:][\w.:-]{0,63});")


@dataclass(frozen=True)
class EntityVerdict:
    """What the declarations allow: parse with plain entities expanded, or refuse."""

    expandable: bool  # every declaration is plain text, within the bounds
    risks: tuple[tuple[str, str, int], ...]  # (code, detail, offset) for the findings
    declared: int  # how many declarations were seen


def judge_entities(text: bytes) -> EntityVerdict:
    """Classify every `<!ENTITY` declaration in the text (bounded by the caller's cap)."""
    risks: list[tuple[str, str, int]] = []
    plain: dict[bytes, int] = {}  # entity name -> value length
    count = 0
    for count, match in enumerate(_DECLARATION.finditer(text), start=1):
        if count > MAX_PLAIN_ENTITIES:
            break
        name = match.group(2).decode("ascii", "replace")[:40]
        value = match.group(4) if match.group(4) is not None else match.group(5)
        if match.group(3):
            risks.append(("svg.external_entity", f"external entity {name!r}", match.start()))
        elif match.group(1):
            risks.append(("svg.entity_declaration", f"parameter entity {name!r}", match.start()))
        elif value is None:
            risks.append(("svg.entity_declaration", f"entity {name!r} unreadable", match.start()))
        elif b"&" in value or b"%" in value or b"<" in value:
            risks.append(
                ("svg.entity_declaration", f"entity {name!r} expands further", match.start())
            )
        elif len(value) > MAX_ENTITY_VALUE_BYTES:
            risks.append(("svg.entity_declaration", f"entity {name!r} too long", match.start()))
        else:
            plain[match.group(2)] = len(value)
    expansion = 0
    if plain and not risks and count <= MAX_PLAIN_ENTITIES:
        for use in _REFERENCE.finditer(text):
            expansion += plain.get(use.group(1), 0)
    if count > MAX_PLAIN_ENTITIES:
        risks.append(("svg.entity_declaration", f"{count} entity declarations", 0))
    if expansion > MAX_EXPANSION_BYTES:
        risks.append(("svg.entity_declaration", f"entities expand to {expansion} bytes", 0))
    return EntityVerdict(not risks, tuple(risks), count)


def replacement_texts(text: bytes) -> list[bytes]:
    """The replacement text of each internal general entity with markup or references.

    Character references (`&#60;`, `&#x3c;`, `&lt;`) are decoded as an XML parser does when
    it reads the declaration, so what the entity injects is plain to the text checks.
    """
    values: list[bytes] = []
    for count, match in enumerate(_DECLARATION.finditer(text), start=1):
        if count > MAX_PLAIN_ENTITIES:
            break
        value = match.group(4) if match.group(4) is not None else match.group(5)
        if match.group(1) or match.group(3) or value is None:
            continue
        if b"&" not in value and b"<" not in value:
            continue
        decoded = html.unescape(value[:MAX_ENTITY_VALUE_BYTES].decode("utf-8", "replace"))
        values.append(decoded.encode("utf-8"))
    return values
