"""The registry of finding codes: every code the engine may emit, in one table.

A finding code is an API (policy files, JSON output and the SIEM use it), so it is declared
here before any check emits it. Each entry gives the default severity, the plain sentence a
receptionist reads (`agent.inspect.reasons`), what it means for IT, and the policy keys that
change it. `photogate codes`, `config check` (unknown codes in `[actions.codes]`) and
docs/finding-codes.md are all derived from this table; tests/test_codes.py fails when the
engine emits a code that is missing here.

A *family* is written `<fmt>.suffix` (`<fmt>.trailing_data`) and stands for one code per
walked format (`jpeg.trailing_data`, `png.trailing_data`, ...). How to add a code:
/work/coord/codes-registry.md, or in short: add a `CodeSpec` to `CODE_SPECS` below.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from agent.model import Severity

FAMILY_PREFIX = "<fmt>."  # a family code applies to every format in FAMILY_FORMATS
DID_YOU_MEAN_CUTOFF = 0.75  # difflib similarity (0..1) above which a near-miss is suggested

# Formats that have a structural walker (agent.inspect.formats) and the words people use.
FORMAT_WORDS: Mapping[str, str] = {
    "jpeg": "a JPEG picture",
    "png": "a PNG picture",
    "gif": "a GIF picture",
    "webp": "a WebP picture",
    "bmp": "a BMP picture",
    "tiff": "a TIFF picture",
    "heif": "an iPhone (HEIC) photo",
    "avif": "an AVIF picture",
    "mp4": "a video",
    "cr3": "a Canon raw photo",
    "ico": "an icon",
    "dicom": "a medical (DICOM) image",
    "svg": "an SVG drawing",
    "jp2": "a JPEG 2000 picture",
    "jxl": "a JPEG XL picture",
    "psd": "a Photoshop picture",
    "netpbm": "a Netpbm picture",
    "tga": "a Targa picture",
    "pcx": "a PCX picture",
    "qoi": "a QOI picture",
    "hdr": "a Radiance HDR picture",
    "exr": "an OpenEXR picture",
    "xcf": "a GIMP picture",
    "image_other": "a picture of a less common type",
}
FAMILY_FORMATS: tuple[str, ...] = tuple(FORMAT_WORDS)


@dataclass(frozen=True)
class CodeSpec:
    """One finding code (or family): default severity, plain reason, meaning, policy keys."""

    code: str  # "name.double_extension", or a family "<fmt>.trailing_data"
    severity: Severity  # the usual severity; `severity_note` says when it differs
    reason: str  # one sentence for a receptionist; "{type}" names the format in a family
    meaning: str  # for IT: what makes the check fire
    severity_note: str = ""  # e.g. "high for an executable payload, low otherwise"
    tuned_by: tuple[str, ...] = ()  # policy keys besides [actions.codes] that change it

    @property
    def is_family(self) -> bool:
        """True for `<fmt>.suffix` entries, which expand to one code per format."""
        return self.code.startswith(FAMILY_PREFIX)

    @property
    def suffix(self) -> str:
        """The part after the first dot (`trailing_data`)."""
        return self.code.split(".", 1)[1]

    @property
    def policy_key(self) -> str:
        """The policy key that sets this code's action."""
        return f'actions.codes."{self.code}"'

    def expand(self) -> tuple[str, ...]:
        """The concrete codes this entry stands for."""
        if not self.is_family:
            return (self.code,)
        return tuple(f"{fmt}.{self.suffix}" for fmt in FAMILY_FORMATS)


_H, _M, _L, _I = Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO
_BY_PAYLOAD = (
    "high for an executable, archive, script or document; medium for a high-entropy blob; "
    "low otherwise; info for empty padding"
)

CODE_SPECS: tuple[CodeSpec, ...] = (
    # --- names ------------------------------------------------------------------------------
    CodeSpec(
        "name.double_extension", _H,
        "The name ends like a picture but the real ending makes it a program or script.",
        "an image/document-looking extension followed by a dangerous one (`x.jpg.exe`); "
        "decoys compared by confusable skeleton after NFKC (`.јрg`, `.ｊｐｇ`) and with "
        "`_`/`-`/`~1` tails (`x.jpg_.exe`); dangerous = `agent/inspect/extension_table.py`, "
        "generated from Chromium's download danger table + Outlook + NeverShowExt",
        "medium for an archive or `.svg` after an image extension; low for a sidecar",
    ),
    CodeSpec(
        "name.hidden_extension", _M,
        "The name hides its real ending, which Windows never shows.",
        "an extension Explorer always hides (`.lnk .url .pif .scf …`)",
        "high when doubled",
    ),
    CodeSpec(
        "name.padded_extension", _H,
        "The name is padded with spaces to push its real, dangerous ending out of view.",
        "runs of space separators (any Zs, e.g. U+1680, U+3000) or blank fillers (U+3164, "
        "U+2800) pushing the real extension out of view",
    ),
    CodeSpec(
        "name.trailing_dots_spaces", _M,
        "The name ends with dots or spaces that Windows drops, changing what the file is.",
        "Windows strips trailing dots/spaces",
        "high when the stripped name is dangerous",
    ),
    CodeSpec(
        "name.bidi_control", _H,
        "The name contains a hidden character that reverses text, so it is not what it "
        "looks like.",
        "bidi class LRE/RLE/LRO/RLO/PDF/LRI/RLI/FSI/PDI, LRM/RLM/ALM",
        "medium for other disguises; low when it changes nothing shown",
    ),
    CodeSpec(
        "name.invisible_character", _M,
        "The name contains invisible characters.",
        "Cf/Cc/Zl/Zp, default-ignorable, variation selectors — by Unicode property; emoji "
        "ZWJ/keycap/flag sequences and ZWJ/ZWNJ between letters are not findings",
        "high inside a dangerous extension; low outside the extension",
    ),
    CodeSpec(
        "name.dot_lookalike", _H,
        "The name uses a fake dot to disguise what kind of file it is.",
        "any character whose NFKC or UTS #39 prototype is `.`/`·` or whose name says FULL "
        "STOP (U+2024, U+FF0E, U+FF61, U+2E3C, U+2219, U+22C5, U+A78F …)",
        "medium when it fakes no extension",
    ),
    # --- content vs name --------------------------------------------------------------------
    CodeSpec(
        "content.executable", _H,
        "This file pretends to be a picture but is a program.",
        "image-named file that is PE/ELF/Mach-O/LNK/COM",
    ),
    CodeSpec(
        "content.script", _H,
        "This file pretends to be a picture but is a script or web page.",
        "image-named file that is a script, HTML or PHP",
    ),
    CodeSpec(
        "content.archive", _H,
        "This file pretends to be a picture but is an archive.",
        "image-named file that is ZIP/JAR/RAR/7z",
    ),
    CodeSpec(
        "content.document", _H,
        "This file pretends to be a picture but is a document.",
        "image-named file that is PDF/PostScript/DjVu",
    ),
    CodeSpec(
        "content.imagemagick_script", _H,
        "This file pretends to be a picture but is a script that attacks image programs.",
        "image-named MVG/MSL (ImageTragick)",
    ),
    CodeSpec(
        "content.not_an_image", _M,
        "This file is named like a picture but is not one.",
        "image-named file whose bytes are no known format",
    ),
    CodeSpec(
        "content.svg_as_picture", _M,
        "This file is named like a photo but is a drawing (SVG) instead.",
        "an SVG under a raster or DICOM extension; its SVG checks still run (high for "
        "script)",
    ),
    CodeSpec(
        "content.other_image_type", _I,
        "This picture is of a different type than its name says.",
        "a PNG named `.jpg` and the like (common, benign)",
    ),
    # --- per-format families ----------------------------------------------------------------
    CodeSpec(
        "<fmt>.trailing_data", _H,
        "Something is stuck to the end of this {type}.",
        "bytes after the logical end that no known trailer accounts for",
        _BY_PAYLOAD,
    ),
    CodeSpec(
        "<fmt>.unexplained_data", _H,
        "This {type} holds extra data that does not belong to the picture.",
        "a range inside the structure that the walker could not explain "
        "(Structure.unexplained), judged like left-over data: stray bytes between JPEG "
        "segments, TIFF bytes no IFD references, the BMP gap before the pixels, GIF data "
        "after the LZW end code, IDAT after the zlib end, late IDAT/stray fdAT, WebP chunk "
        "tails, HEIF `free`/unknown/size-0 boxes and `mdat` bytes no item uses, ICO entries "
        "that are neither PNG nor BMP",
        _BY_PAYLOAD,
    ),
    CodeSpec(
        "<fmt>.js_polyglot_header", _H,
        "This {type} is built to also run as a script.",
        "the header fields after the identifier (`GIF89a`, `BM`, `RIFF`, a JPEG's FF D8 FF En) "
        "open a JS comment or assignment (`GIF89a/*`, `GIF89a=`, `BM=1;/*`, an APP0 length "
        "reading `/*`) and code follows where that comment ends",
    ),
    CodeSpec(
        "<fmt>.known_trailer", _I,
        "This {type} carries extra data that phones normally add (harmless).",
        "a benign trailer that was recognised (motion photo, MPF, SEFT ...)",
    ),
    CodeSpec(
        "<fmt>.payload_in_metadata", _H,
        "Hidden code is tucked inside the details of this {type}.",
        "PHP/script/HTML/PE/ZIP/... inside comments, metadata or text chunks: markers, a "
        "script the script detector recognises (PowerShell, VBScript, batch, JavaScript, "
        "Python), a payload behind a decoder (UTF-16 Exif XP*/UserComment, base64, hex, "
        "uuencode, zlib/gzip/bzip2/xz, XOR), a PNG `profile` chunk naming a path "
        "(CVE-2022-44268), a BMP V5 linked colour profile on another computer (UNC/URL: "
        "Windows signs in to that host when it shows the picture)",
        "low for one lone suggestive marker (`alert(`, `eval(`, `import(` ...)",
    ),
    CodeSpec(
        "<fmt>.payload_in_image_data", _H,
        "Hidden code is tucked inside this {type}.",
        "PHP/script markers inside compressed pixel data; a program header where no region "
        "explains it (BMP pixels, before a JPEG's EOI); a script just before a JPEG's EOI",
    ),
    CodeSpec(
        "<fmt>.malformed", _L,
        "This {type} is damaged or built in an unusual way.",
        "structure broken (overrun lengths, bad CRC, missing end)",
    ),
    CodeSpec(
        "<fmt>.truncated", _L,
        "This {type} is cut off (incomplete).",
        "the file ends before the structure does",
    ),
    # --- format-specific --------------------------------------------------------------------
    CodeSpec(
        "jpeg.com_length_exploit", _H,
        "This photo is built to crash picture viewers (a known attack).",
        "COM segment length 0/1 (MS04-028)",
    ),
    CodeSpec(
        "dicom.executable_preamble", _H,
        "This medical image has a Windows program hidden at its start.",
        "the 128-byte preamble, judged by the payload classifier, is a program or script "
        "(PE/ELF/Mach-O, `#!`, HTML also after a newline or BOM, batch, PowerShell...; "
        "CVE-2019-11687)",
    ),
    CodeSpec(
        "dicom.unusual_preamble", _I,
        "This medical image has unusual text at its start (usually harmless).",
        "non-zero, non-TIFF preamble that is no program, document, archive or picture "
        "(vendor text)",
    ),
    CodeSpec(
        "dicom.polyglot", _H,
        "This medical image is also another kind of file that other programs open.",
        "the file is also a PDF (`%PDF-` in the first KiB or the preamble), a ZIP (a local "
        "header in the preamble, or a ZIP directory ending the dataset) or, medium, another "
        "picture (its signature in the preamble): mitra-style polyglots",
        "medium when the other format is a picture",
    ),
    CodeSpec(
        "dicom.executable_content", _H,
        "This medical image has a program hidden inside it.",
        "PE/ELF headers anywhere inside the DICOM file, also inside a deflated dataset",
    ),
    CodeSpec(
        "svg.script", _H,
        "This drawing (SVG) contains a script that would run when opened.",
        "a `<script>` (or SVG Tiny `<handler>`) element in an SVG, also inside a "
        "`data:image/svg+xml` reference (decoded and judged as an SVG, depth <= 3, 1 MiB)",
    ),
    CodeSpec(
        "svg.event_handler", _H,
        "This drawing (SVG) contains code that runs when it is opened or clicked.",
        "an `on...=` event handler attribute, or an animation that installs one",
    ),
    CodeSpec(
        "svg.javascript_url", _H,
        "This drawing (SVG) contains a link that runs a script.",
        "a `javascript:`/`vbscript:`/`data:text/html` link, also through `xml:base`, "
        "entities, embedded whitespace/control characters or mixed case",
    ),
    CodeSpec(
        "svg.xinclude", _H,
        "This drawing (SVG) tries to copy files from this computer into itself.",
        "an `xi:include` element (librsvg file read, CVE-2023-38633 class)",
    ),
    CodeSpec(
        "svg.xslt", _H,
        "This drawing (SVG) carries a style program that can run code.",
        "an `xml-stylesheet` processing instruction naming XSLT",
    ),
    CodeSpec(
        "svg.imagemagick_protocol", _H,
        "This drawing (SVG) contains commands that attack image programs (ImageMagick).",
        "an ImageMagick coder used as a URL scheme in any reference (`msl:` `mvg:` `text:` "
        "`ephemeral:` `vid:` `label:@` ...): ImageMagick goes by content, not by name",
    ),
    CodeSpec(
        "svg.external_entity", _H,
        "This drawing (SVG) tries to read files from this computer.",
        "a `SYSTEM`/`PUBLIC` XML entity (XXE)",
    ),
    CodeSpec(
        "svg.foreign_object", _M,
        "This drawing (SVG) embeds a web page.",
        "`iframe`/`embed`/`object`, or active HTML (forms, inputs, media, links, meta) "
        "inside a `foreignObject`; plain text and layout HTML (draw.io, Mermaid labels) is "
        "not a finding",
    ),
    CodeSpec(
        "svg.external_reference", _M,
        "This drawing (SVG) loads content from elsewhere when opened.",
        "a loading element or style sheet that fetches remote or local content outside the "
        "file (fonts are svg.external_font)",
    ),
    CodeSpec(
        "svg.entity_declaration", _M,
        "This drawing (SVG) uses a construct that can be abused.",
        "parameter entities, entities that expand others (billion laughs) or carry markup, "
        "more than 256, or expanding past 1 MiB; plain text entities (Illustrator's "
        "`&ns_svg;`) parse and are not findings",
    ),
    CodeSpec(
        "svg.nesting_too_deep", _M,
        "This drawing (SVG) hides drawings inside drawings, too deep to check.",
        "`data:` SVGs nested deeper than the judged depth (3)",
    ),
    CodeSpec(
        "svg.external_font", _L,
        "This drawing (SVG) downloads a font when opened (usually harmless).",
        "a remote web font or font CSS (Google Fonts `@import`, `@font-face` URLs)",
    ),
    # --- resources ----------------------------------------------------------------------------
    CodeSpec(
        "resource.pixels_over_warn", _M,
        "This picture is unusually huge and could freeze the computer.",
        "declared pixels (or decoded bytes / 4) over inspect.pixels_warn (89,478,485 by "
        "default), unless the picture is a large photo (resource.large_photo)",
        tuned_by=("inspect.pixels_warn",),
    ),
    CodeSpec(
        "resource.pixels_over_reject", _H,
        "This picture claims an absurd size, a trick used to crash computers.",
        "declared pixels (or decoded bytes / 4) over inspect.pixels_reject (178,956,970 by "
        "default), unless the picture is a large photo (resource.large_photo)",
        tuned_by=("inspect.pixels_reject",),
    ),
    CodeSpec(
        "resource.large_photo", _I,
        "This is a very large photo; its size matches the picture data it holds.",
        "over the pixel thresholds, but a real photo: its compressed image data is at least "
        "the format's photo density (bytes per pixel, agent/inspect/resources.py) and it "
        "declares at most inspect.photo_max_pixels",
        tuned_by=("inspect.pixels_warn", "inspect.pixels_reject"),
    ),
    CodeSpec(
        "jxl.unbounded_codestream", _I,
        "This JPEG XL picture's end cannot be found without decoding it; its start and end "
        "were checked for hidden files.",
        "a bare JPEG XL codestream (or a codestream box running to the end of the file) has "
        "no length and no end marker: its first 64 KiB and last 65,557 + 1,024 bytes are "
        "classified for payloads instead",
    ),
    CodeSpec(
        "image_other.not_walked", _I,
        "This picture type's structure is not checked; its start and end were checked for "
        "hidden files.",
        "a picture type libmagic recognises but the engine has no walker for (camera raws "
        "such as ORF/RW2/RAF, Sun raster, SGI, XPM, JPEG XR...): its first 64 KiB and last "
        "65,557 + 1,024 bytes are judged for payloads, the pixel pass covers the rest",
    ),
    CodeSpec(
        "resource.too_many_scans", _M,
        "This picture is built to take minutes to open and may be meant to freeze the computer.",
        "a JPEG with more than 500 scans (libjpeg-turbo's fuzzers' TJPARAM_SCANLIMIT): each "
        "progressive scan revisits every coefficient, so a 323 KB file can cost 50 s to decode",
    ),
    CodeSpec(
        "resource.too_many_frames", _M,
        "This picture has an unusually large number of frames.",
        "more frames than the engine's MAX_FRAMES",
    ),
    CodeSpec(
        "resource.file_too_large", _L,
        "This file is too large to check completely.",
        "over inspect.max_file_mb: name and header checked, and the first 1 MiB and last"
        " 8 MiB still judged (a payload there is <fmt>.trailing_data, high); medium for a"
        " picture (image or DICOM), which cannot be vouched for",
        severity_note="medium for a picture (image or DICOM), low otherwise",
        tuned_by=("inspect.max_file_mb",),
    ),
    CodeSpec(
        "resource.time_budget", _M,
        "This file took too long to check completely.",
        "inspection did not finish within inspect.time_budget_seconds",
        tuned_by=("inspect.time_budget_seconds",),
    ),
    CodeSpec(
        "resource.metadata_too_large", _M,
        "This picture carries an unusually large amount of hidden text.",
        "decompressed metadata over its cap",
    ),
    # --- the scan itself ----------------------------------------------------------------------
    CodeSpec(
        "scan.read_error", _M,
        "This file could not be read to check it.",
        "the file could not be read, shrank while it was read (files are read by positional"
        " windows, never mapped, so a truncation is this finding; the agent re-judges the new"
        " version), or an internal error stopped the check",
    ),
    CodeSpec(
        "scan.not_inspected", _I,
        "This item was not inspected because it is not an ordinary file.",
        "a FIFO, device, socket or link given to `photogate scan`",
    ),
    CodeSpec(
        "scan.hard_linked", _I,
        "This file has other names on this computer, so Photogate did not move or mark it.",
        "added by the agent when a file to quarantine or flag has more than one hard link:"
        " moving one name would leave the content under the others, marking would mark"
        " them too; the event's link_count names how many",
    ),
)  # fmt: skip


@cache
def _index() -> dict[str, CodeSpec]:
    index: dict[str, CodeSpec] = {}
    for spec in CODE_SPECS:
        for code in spec.expand():
            if code in index:
                raise ValueError(f"finding code {code!r} is registered twice")
            index[code] = spec
    return index


def all_codes() -> tuple[str, ...]:
    """Every concrete finding code the engine may emit, sorted."""
    return tuple(sorted(_index()))


def spec_for(code: str) -> CodeSpec | None:
    """The registry entry for a concrete code (`png.trailing_data`), or None if unknown."""
    return _index().get(code)


def is_known(code: str) -> bool:
    """True when `code` is a registered concrete code."""
    return code in _index()


def wildcard_matches(pattern: str) -> tuple[str, ...]:
    """The registered codes a prefix wildcard (`name.*`, `jpeg.*`) stands for."""
    prefix = pattern[:-1] if pattern.endswith(".*") else pattern
    return tuple(code for code in all_codes() if code.startswith(prefix))


def suggest(untrusted_code: str) -> str | None:
    """The registered code (or `section.*` wildcard) closest to a mistyped one, if close."""
    if untrusted_code.endswith(".*"):
        choices = sorted({code.split(".", 1)[0] + ".*" for code in all_codes()})
    else:
        choices = list(all_codes())
    close = difflib.get_close_matches(untrusted_code, choices, n=1, cutoff=DID_YOU_MEAN_CUTOFF)
    return close[0] if close else None


def format_words(fmt: str) -> str:
    """Words for a format (`a PNG picture`); `a picture` for one the table does not know."""
    return FORMAT_WORDS.get(fmt.lower(), "a picture")


def plain_reason_for(code: str) -> str | None:
    """The registry's plain sentence for a concrete code (format named), or None."""
    spec = spec_for(code)
    if spec is None:
        return None
    if not spec.is_family:
        return spec.reason
    fmt = code.split(".", 1)[0]
    return spec.reason.format(type=format_words(fmt).split(" ", 1)[1])
