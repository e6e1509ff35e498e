"""Picture and decoy extensions: the names people read as "a harmless photo or document".

Hand-kept facts (the dangerous side is generated: `extension_table`). `IMAGE_EXTENSION_TYPES`
maps an extension to the type sniff reports for a real file of it, and holds only types the
engine recognises by their bytes; `PICTURE_EXTENSIONS` adds the camera-raw and editor types
a person also takes for a picture.
"""

from __future__ import annotations

from agent.inspect.extension_table import CODE_EXTENSIONS


def _words(text: str) -> frozenset[str]:
    """A set from a whitespace-separated list (keeps long extension lists readable)."""
    return frozenset(text.split())


# Extensions whose opening runs code, generated from Chromium's download danger table,
# Outlook's blocked list and their additions (scripts/gen_extension_table.py). A decoy
# extension in front of one of these is the classic lure (ATT&CK T1036.007): high.
EXECUTABLE_EXTENSIONS = CODE_EXTENSIONS

# Image extension -> the type sniff reports for a file that really is one. Only types the
# engine recognises by their bytes: a real file of the type must never read as "not an
# image" (Analyze .hdr headers, for one, have no signature and stay out).
IMAGE_EXTENSION_TYPES: dict[str, str] = {
    extension: detected_type
    for detected_type, extensions in (
        ("jpeg", "jpg jpeg jpe jfif pjpeg pjp"),
        ("png", "png apng"),
        ("gif", "gif"),
        ("webp", "webp"),
        ("bmp", "bmp dib"),
        ("tiff", "tif tiff"),
        ("heif", "heic heif hif"),
        ("avif", "avif"),
        ("ico", "ico cur"),
        ("dicom", "dcm dicom dic"),
        ("svg", "svg svgz"),
        ("jp2", "jp2 j2k jpf jpx"),
        ("jxl", "jxl"),
        ("psd", "psd psb"),
        ("qoi", "qoi"),
        ("tga", "tga"),
        ("pcx", "pcx"),
        ("netpbm", "ppm pgm pbm pnm pam"),
        ("exr", "exr"),
        ("xcf", "xcf"),
    )
    for extension in extensions.split()
}

# Every real picture type a person recognises in a name: the engine's image types plus
# camera raw and editor formats. These are the decoys of a disguised picture.
PICTURE_EXTENSIONS = frozenset(IMAGE_EXTENSION_TYPES) | _words(
    "hdr pic pfm jpm mj2 jxr hdp wdp raw cr2 cr3 crw nef nrw arw srf sr2 dng orf rw2 raf srw "
    "pef x3f erf kdc mrw 3fr iiq"
)

# Drawings that are also image formats: the SVG walker judges their content (high for
# actual script), so `logo.png.svg` is odd naming (medium), not by itself a disguised program.
DRAWING_EXTENSIONS = _words("svg svgz")

# Extensions people read as "harmless picture or document": the decoys of a double extension.
DECOY_EXTENSIONS = PICTURE_EXTENSIONS | _words(
    """
    pdf doc docx xls xlsx ppt pptx odt ods odp rtf txt csv mp4 mov avi mkv wmv mp3 wav m4a
    """
)
