"""Which walker handles which detected type.

Walkers are imported lazily so that a scan of PNGs never imports the DICOM walker.
"""

from __future__ import annotations

import importlib

from agent.inspect.base import Walker

# detected type -> module whose `walk` function handles it
_WALKER_MODULES: dict[str, str] = {
    "jpeg": "agent.inspect.jpeg.walk",
    "png": "agent.inspect.png",
    "gif": "agent.inspect.gif",
    "webp": "agent.inspect.webp",
    "bmp": "agent.inspect.bmp",
    "tiff": "agent.inspect.tiff",
    "heif": "agent.inspect.isobmff",
    "avif": "agent.inspect.isobmff",
    "mp4": "agent.inspect.isobmff",
    "cr3": "agent.inspect.isobmff",
    "ico": "agent.inspect.ico",
    "dicom": "agent.inspect.dicom",
    "svg": "agent.inspect.svg",
    "jp2": "agent.inspect.jp2",
    "jxl": "agent.inspect.jxl",
    "psd": "agent.inspect.psd",
    "netpbm": "agent.inspect.netpbm",
    "tga": "agent.inspect.tga",
    "pcx": "agent.inspect.pcx",
    "qoi": "agent.inspect.qoi",
    "hdr": "agent.inspect.hdr",
    "exr": "agent.inspect.exr",
    "xcf": "agent.inspect.xcf",
    # libmagic's other image/* types: no structure known, head and tail judged
    "image_other": "agent.inspect.unwalked",
}


def walker_for(detected_type: str) -> Walker | None:
    """The walker for a detected type, or None when the type has none."""
    module_name = _WALKER_MODULES.get(detected_type)
    if module_name is None:
        return None
    module = importlib.import_module(module_name)
    walk: Walker = module.walk
    return walk


def walked_types() -> frozenset[str]:
    """Every type that has a structural walker."""
    return frozenset(_WALKER_MODULES)
