"""Benign shapes of real writers that once gave false alarms (the benign hunt, notes/benign.md).

Each recipe rebuilds, deterministically and without the tool, the byte layout a real
writer produced when its output was scanned: files that are plain pictures by their
format's specification and must stay clean.

* Inkscape drawings whose path effects carry `only_selected="false"` (Inkscape 1.x writes
  it on every `<inkscape:path-effect>`; icon themes and Inkscape's own clip art have it),
  next to the other editor markup of Inkscape, Illustrator (PGF editing data in a
  `<switch>`), Figma (filters, patterns of data: images), Sketch and draw.io;
* ImageMagick 6 WebP output: `convert a.jpg b.jpg out.webp` writes one complete RIFF
  per image, back to back;
* DICOM datasets without File Meta in explicit VR big endian (PS3.5 §7.3, retired, but
  written by `dcmconv -F +tb` and found in test suites and old archives);
* Encapsulated PDF objects (`pdf2dcm`): the report's `%PDF-` lies in the first KiB;
* and, kept clean as regression guards, the segments, chunks and endings of
  `bench.writer_segments` (C2PA, motion-JPEG frames, editor PNG chunks, BMP v5 profiles...).
"""

from __future__ import annotations

import random
import struct
import time
from collections.abc import Callable

from bench import eval_images as img
from bench import writer_segments as seg
from bench.recipe import Maker, Recipe


def _stem(rng: random.Random) -> str:
    return rng.choice(["IMG_{n:04d}", "scan_{n}", "drawing-{n}", "icon_{n}"]).format(
        n=rng.randint(1, 9999)
    )


# --- SVG from drawing editors ---------------------------------------------------------------

_PATH_EFFECTS = (
    '<inkscape:path-effect effect="spiro" id="path-effect{n}" is_visible="true" lpeversion="1"/>',
    '<inkscape:path-effect effect="bspline" id="path-effect{n}" is_visible="true" '
    'lpeversion="1" weight="33.333333" steps="2" helper_size="0" apply_no_weight="true" '
    'apply_with_weight="true" only_selected="false"/>',
    '<inkscape:path-effect effect="simplify" id="path-effect{n}" is_visible="true" '
    'lpeversion="1" steps="1" threshold="0.002" smooth_angles="360" helper_size="0" '
    'simplify_individual_paths="false" simplify_just_coalesce="false"/>',
    '<inkscape:path-effect effect="powerstroke" id="path-effect{n}" is_visible="true" '
    'lpeversion="1" offset_points="0,0.5" sort_points="true" interpolator_type="CubicBezierJohan" '
    'interpolator_beta="0.2" start_linecap_type="zerowidth" linejoin_type="extrp_arc" '
    'miter_limit="4" scale_width="1" end_linecap_type="zerowidth" not_jump="false" '
    'only_selected="true"/>',
)


def _inkscape(rng: random.Random) -> str:
    """Inkscape 1.x: namedview, path effects, 3-D perspective, RDF metadata, layers, arcs."""
    effects = "".join(
        rng.choice(_PATH_EFFECTS).format(n=n) for n in range(rng.randint(1, len(_PATH_EFFECTS)))
    )
    width, height = rng.choice([("210mm", "297mm"), ("48", "48"), ("841mm", "594mm")])
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        "<!-- Created with Inkscape (http://www.inkscape.org/) -->\n"
        f'<svg width="{width}" height="{height}" viewBox="0 0 210 297" version="1.1" id="svg5" '
        'inkscape:version="1.2.2 (b0a8486541, 2022-12-01)" sodipodi:docname="plan.svg" '
        'xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" '
        'xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns="http://www.w3.org/2000/svg" '
        'xmlns:svg="http://www.w3.org/2000/svg" '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns:cc="http://creativecommons.org/ns#" xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        '<sodipodi:namedview id="namedview7" pagecolor="#ffffff" inkscape:pageopacity="0.0" '
        'inkscape:document-units="mm" showgrid="false" inkscape:zoom="0.7" '
        'inkscape:current-layer="layer1"/>\n'
        f'<defs id="defs2">{effects}'
        '<inkscape:perspective sodipodi:type="inkscape:persp3d" inkscape:vp_x="0 : 148.5 : 1" '
        'inkscape:vp_y="0 : 1000 : 0" inkscape:vp_z="210 : 148.5 : 1" '
        'inkscape:persp3d-origin="105 : 99 : 1" id="perspective1"/></defs>\n'
        '<metadata id="metadata1"><rdf:RDF><cc:Work rdf:about=""><dc:format>image/svg+xml'
        '</dc:format><dc:type rdf:resource="http://purl.org/dc/dcmitype/StillImage"/>'
        "<dc:title>Floor plan</dc:title></cc:Work></rdf:RDF></metadata>\n"
        '<g inkscape:label="Layer 1" inkscape:groupmode="layer" id="layer1">'
        '<path style="fill:none;stroke:#000;stroke-width:0.26px" d="m 20,30 c 40,-10 80,10 120,0" '
        'id="path1" inkscape:path-effect="#path-effect0" inkscape:original-d="m 20,30 h 120" '
        'sodipodi:nodetypes="cc" inkscape:connector-curvature="0"/>'
        '<path sodipodi:type="arc" id="path2" sodipodi:cx="60" sodipodi:cy="80" sodipodi:rx="10" '
        'sodipodi:ry="10" sodipodi:start="0" sodipodi:end="3.14" sodipodi:open="true" '
        'd="M 70,80 A 10,10 0 0 1 60,90"/>'
        f'<image width="20" height="20" xlink:href="data:image/png;base64,{img._TINY_PNG}" '
        'id="image1" x="100" y="100"/>'
        '<a xlink:href="https://www.example-clinic.org/" id="a1"><text xml:space="preserve" '
        'x="20" y="150" id="text1"><tspan sodipodi:role="line" id="tspan1">Reception</tspan>'
        "</text></a></g>\n</svg>\n"
    )


def _illustrator(rng: random.Random) -> str:
    """Illustrator with 'Preserve Illustrator Editing': entity namespaces, PGF in a switch."""
    pgf = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
                  for _ in range(rng.randint(200, 2000)))  # fmt: skip
    lines = "\n".join(pgf[i : i + 76] for i in range(0, len(pgf), 76))
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        "<!-- Generator: Adobe Illustrator 16.0.0, SVG Export Plug-In . SVG Version: 6.00 "
        "Build 0)  -->\n"
        '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [\n'
        '\t<!ENTITY ns_extend "http://ns.adobe.com/Extensibility/1.0/">\n'
        '\t<!ENTITY ns_ai "http://ns.adobe.com/AdobeIllustrator/10.0/">\n'
        '\t<!ENTITY ns_graphs "http://ns.adobe.com/Graphs/1.0/">\n]>\n'
        '<svg version="1.1" id="Layer_1" xmlns:x="&ns_extend;" xmlns:i="&ns_ai;" '
        'xmlns:graph="&ns_graphs;" xmlns="http://www.w3.org/2000/svg" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" x="0px" y="0px" width="200px" '
        'height="100px" viewBox="0 0 200 100" enable-background="new 0 0 200 100" '
        'xml:space="preserve">\n<switch>\n'
        '\t<foreignObject requiredExtensions="&ns_ai;" x="0" y="0" width="1" height="1">\n'
        '\t\t<i:pgfRef xlink:href="#adobe_illustrator_pgf"></i:pgfRef>\n\t</foreignObject>\n'
        '\t<g i:extraneous="self"><rect x="10" y="10" fill="#FF0000" width="50" height="50"/>'
        "</g>\n</switch>\n"
        f'<i:pgf id="adobe_illustrator_pgf">\n\t<![CDATA[\n{lines}\n\t]]>\n</i:pgf>\n</svg>\n'
    )


def _figma(rng: random.Random) -> str:
    """Figma export: clip paths, a drop-shadow filter, a pattern filled by a data: PNG."""
    n = rng.randint(1, 999)
    return (
        '<svg width="120" height="48" viewBox="0 0 120 48" fill="none" '
        'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">\n'
        f'<g clip-path="url(#clip0_{n})"><g filter="url(#filter0_d_{n})">'
        '<rect x="4" y="2" width="112" height="40" rx="8" fill="#0A84FF"/></g>'
        f'<rect x="8" y="8" width="32" height="32" fill="url(#pattern0_{n})"/></g>\n<defs>\n'
        f'<filter id="filter0_d_{n}" x="0" y="0" width="120" height="48" '
        'filterUnits="userSpaceOnUse" color-interpolation-filters="sRGB">'
        '<feFlood flood-opacity="0" result="BackgroundImageFix"/>'
        '<feColorMatrix in="SourceAlpha" type="matrix" '
        'values="0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 127 0" result="hardAlpha"/>'
        '<feOffset dy="2"/><feGaussianBlur stdDeviation="2"/>'
        f'<feBlend mode="normal" in="SourceGraphic" in2="effect1_dropShadow_{n}" result="shape"/>'
        "</filter>\n"
        f'<pattern id="pattern0_{n}" patternContentUnits="objectBoundingBox" width="1" height="1">'
        f'<use xlink:href="#image0_{n}" transform="scale(0.01)"/></pattern>\n'
        f'<clipPath id="clip0_{n}"><rect width="120" height="48" fill="white"/></clipPath>\n'
        f'<image id="image0_{n}" width="100" height="100" '
        f'xlink:href="data:image/png;base64,{img._TINY_PNG}"/>\n</defs>\n</svg>\n'
    )


def _sketch(rng: random.Random) -> str:
    """Sketch export: generator comment, masks of internal uses."""
    version = f"{rng.randint(40, 99)}.{rng.randint(0, 9)}"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<svg width="24px" height="24px" viewBox="0 0 24 24" version="1.1" '
        'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">\n'
        f"    <!-- Generator: Sketch {version} - http://www.bohemiancoding.com/sketch -->\n"
        "    <title>icon/tooth</title>\n    <desc>Created with Sketch.</desc>\n"
        '    <defs><path d="M12,2 L22,22 L2,22 Z" id="path-1"></path></defs>\n'
        '    <g id="Symbols" stroke="none" stroke-width="1" fill="none" fill-rule="evenodd">'
        '<g id="icon/tooth"><mask id="mask-2" fill="white"><use xlink:href="#path-1"></use>'
        '</mask><use id="Mask" fill="#000000" xlink:href="#path-1"></use></g></g>\n</svg>\n'
    )


def _drawio(rng: random.Random) -> str:
    """draw.io export: the diagram in a `content` attribute, HTML labels in foreignObject."""
    label = rng.choice(["Reception<br />desk", "X-ray", "Waiting room", "Dr. Evans"])
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'version="1.1" width="241px" height="61px" viewBox="-0.5 -0.5 241 61" '
        'content="&lt;mxfile host=&quot;app.diagrams.net&quot; version=&quot;22.1.18&quot;&gt;'
        "&lt;diagram id=&quot;abc&quot; name=&quot;Page-1&quot;&gt;jZJNT8MwDIZ/TY9I/RhjO64D"
        '&lt;/diagram&gt;&lt;/mxfile&gt;" style="background-color: rgb(255, 255, 255);">'
        '<defs/><g><rect x="0" y="0" width="120" height="60" rx="9" ry="9" fill="#fff" '
        'stroke="#000" pointer-events="all"/><switch><foreignObject pointer-events="none" '
        'width="100%" height="100%" '
        'requiredFeatures="http://www.w3.org/TR/SVG11/feature#Extensibility">'
        '<div xmlns="http://www.w3.org/1999/xhtml" style="display: flex; width: 118px;">'
        f'<div style="display: inline-block; font-size: 12px;">{label}</div></div>'
        '</foreignObject><text x="60" y="34" font-size="12px">Label</text></switch></g>'
        '<switch><g requiredFeatures="http://www.w3.org/TR/SVG11/feature#Extensibility"/>'
        '<a xlink:href="https://www.drawio.com/doc/faq/svg-export-text-problems" '
        'target="_blank"><text x="50%" y="100%">Text is not SVG - cannot display</text></a>'
        "</switch></svg>\n"
    )


_EDITORS = {
    "inkscape": _inkscape,
    "illustrator": _illustrator,
    "figma": _figma,
    "sketch": _sketch,
    "drawio": _drawio,
}


def editor_svg(rng: random.Random) -> tuple[str, bytes, str]:
    """An SVG as a drawing editor saves it (Inkscape path effects at least half the time)."""
    editor = "inkscape" if rng.random() < 0.5 else rng.choice(sorted(_EDITORS))
    return f"{_stem(rng)}.svg", _EDITORS[editor](rng).encode("utf-8"), f"{editor} svg"


# --- ImageMagick 6 WebP: one RIFF per image -------------------------------------------------


def imagemagick_webp(rng: random.Random) -> tuple[str, bytes, str]:
    """2-4 complete WebP files back to back, the first possibly animated or with metadata."""
    count = rng.randint(2, 4)
    parts = [img.webp(rng)[0] for _ in range(count)]
    return f"{_stem(rng)}.webp", b"".join(parts), f"{count} WebP files back to back"


# --- DICOM without File Meta, explicit VR big endian ----------------------------------------

_BE_LONG_VRS = frozenset({b"OB", b"OW", b"SQ", b"UN", b"UT"})


def _be_element(group: int, element: int, vr: bytes, value: bytes) -> bytes:
    """One explicit-VR big-endian data element, value padded to even length."""
    if len(value) % 2:
        value += b"\x00" if vr in (b"OB", b"UI") else b" "
    tag = struct.pack(">HH", group, element)
    if vr in _BE_LONG_VRS:
        return tag + vr + b"\x00\x00" + struct.pack(">I", len(value)) + value
    return tag + vr + struct.pack(">H", len(value)) + value


def dicom_raw_big_endian(rng: random.Random) -> tuple[str, bytes, str]:
    """A dataset with no preamble and no File Meta: (0008,0005) first, big-endian values."""
    rows, cols = rng.randint(4, 64), rng.randint(4, 64)
    bits = rng.choice([8, 16])
    instance = f"1.2.826.0.1.3680043.{rng.randint(1, 99999)}".encode()
    pixels = rng.randbytes(rows * cols * bits // 8)
    data = (
        _be_element(0x0008, 0x0005, b"CS", b"ISO_IR 100")
        + _be_element(0x0008, 0x0016, b"UI", b"1.2.840.10008.5.1.4.1.1.7")
        + _be_element(0x0008, 0x0018, b"UI", instance)
        + _be_element(0x0008, 0x0060, b"CS", rng.choice([b"OT", b"CT", b"MR"]))
        + _be_element(0x0010, 0x0010, b"PN", rng.choice([b"Doe^Jane", b"M\xfcller^J\xfcrgen"]))
        + _be_element(0x0028, 0x0002, b"US", struct.pack(">H", 1))
        + _be_element(0x0028, 0x0010, b"US", struct.pack(">H", rows))
        + _be_element(0x0028, 0x0011, b"US", struct.pack(">H", cols))
        + _be_element(0x0028, 0x0100, b"US", struct.pack(">H", bits))
        + _be_element(0x7FE0, 0x0010, b"OW" if bits == 16 else b"OB", pixels)
    )
    return f"{_stem(rng)}.dcm", data, f"raw big-endian dataset {rows}x{cols}x{bits}"


def _named(ext: str, make: Callable[[random.Random], tuple[bytes, str]]) -> Maker:
    """A maker of bytes -> a maker of named files (`ext` "" = by the bytes' own type)."""

    def named(rng: random.Random) -> tuple[str, bytes, str]:
        data, note = make(rng)
        suffix = ext or ("png" if data.startswith(b"\x89PNG") else "jpg")
        return f"{_stem(rng)}.{suffix}", data, note

    return named


# --- DICOM Encapsulated PDF (pdf2dcm, report systems) --------------------------------------

ENCAPSULATED_PDF_STORAGE = b"1.2.840.10008.5.1.4.1.1.104.1"


def report_pdf(rng: random.Random) -> bytes:
    """A one-page PDF report as Pillow writes it (classic xref, no object streams)."""
    page = img.photo_image(rng, (rng.randint(60, 300), rng.randint(80, 400)))
    when = time.gmtime(1_705_314_151)  # 2024-01-15 10:22:31 UTC, fixed: Pillow stamps the time
    return img._save(
        page, "PDF", title="Radiology report", author="Dr. Evans", creationDate=when, modDate=when
    )


def encapsulated_pdf_dicom(rng: random.Random, pdf: bytes | None = None) -> bytes:
    """PS3.3 §A.45 Encapsulated PDF: File Meta, patient/study, (0042,0011) the PDF itself."""
    pdf = report_pdf(rng) if pdf is None else pdf
    meta_body = (
        img.dicom_element(0x0002, 0x0001, b"OB", b"\x00\x01")
        + img.dicom_element(0x0002, 0x0002, b"UI", ENCAPSULATED_PDF_STORAGE)
        + img.dicom_element(
            0x0002, 0x0003, b"UI", f"1.2.276.0.7230010.{rng.randint(1, 9999)}".encode()
        )
        + img.dicom_element(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1")
    )
    meta = img.dicom_element(0x0002, 0x0000, b"UL", struct.pack("<I", len(meta_body))) + meta_body
    dataset = (
        img.dicom_element(0x0008, 0x0016, b"UI", ENCAPSULATED_PDF_STORAGE)
        + img.dicom_element(0x0008, 0x0060, b"CS", b"DOC")
        + img.dicom_element(0x0010, 0x0010, b"PN", rng.choice([b"Doe^Jane", b"Li^Wei"]))
        + img.dicom_element(0x0042, 0x0010, b"ST", b"Radiology report")
        + img.dicom_element(0x0042, 0x0011, b"OB", pdf)
        + img.dicom_element(0x0042, 0x0012, b"LO", b"application/pdf")
    )
    return bytes(128) + b"DICM" + meta + dataset


def dicom_report(rng: random.Random) -> tuple[str, bytes, str]:
    """An Encapsulated PDF object whose report's %PDF- falls in the first KiB."""
    return f"{_stem(rng)}.dcm", encapsulated_pdf_dicom(rng), "encapsulated PDF report"


RECIPES: tuple[Recipe, ...] = (
    Recipe("benign/writer-editor-svg", False, 30, editor_svg),
    Recipe("benign/writer-imagemagick-webp", False, 12, imagemagick_webp),
    Recipe("benign/writer-dicom-raw-big-endian", False, 8, dicom_raw_big_endian),
    Recipe("benign/writer-dicom-encapsulated-pdf", False, 8, dicom_report),
    Recipe("benign/writer-jpeg-segments", False, 24, _named("jpg", seg.jpeg_vendor_segments)),
    Recipe("benign/writer-png-chunks", False, 15, _named("png", seg.png_writer_chunks)),
    Recipe("benign/writer-gif-extensions", False, 6, _named("gif", seg.gif_extensions)),
    Recipe("benign/writer-bmp-v5-profile", False, 6, _named("bmp", seg.bmp_v5_profile)),
    Recipe("benign/writer-transfer-ending", False, 10, _named("", seg.transfer_ending)),
)
