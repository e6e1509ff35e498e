"""JPEG application-segment signatures, shared by the segment walk and the trailer accounting.

Imports nothing, so every module of the JPEG family can use it.
"""

from __future__ import annotations

XMP_SIGNATURE = b"http://ns.adobe.com/xap/1.0/\x00"
EXTENDED_XMP_SIGNATURE = b"http://ns.adobe.com/xmp/extension/\x00"
MPF_SIGNATURE = b"MPF\x00"
EXIF_SIGNATURE = b"Exif\x00\x00"
