"""Compatibility entry point of the classifier (`agent.inspect.classify`).

Walkers and the engine call `payload.classify(data)` to judge a byte range and
`payload.find_markers(...)` to find markers in a region of the file; the implementation
lives in the `classify` package, split along its seams (kinds, markers, decoders,
libmagic, blob). This module only re-exports, so its names stay stable while the
package grows.
"""

from __future__ import annotations

from agent.inspect.classify.blob import (
    CLASSIFY_SAMPLE_BYTES,
    ENTROPY_SAMPLE_BYTES,
    HIGH_ENTROPY_BITS,
    MAX_LEADING_PADDING_BYTES,
    MIN_SCRIPT_BYTES,
    SCRIPT_SAMPLE_BYTES,
    TEXT_SAMPLE_BYTES,
    ZIP_EOCD_SEARCH_BYTES,
    Payload,
    classify,
    entropy,
    leading_padding,
)
from agent.inspect.classify.kinds import (
    DANGEROUS_KINDS,
    MAX_PE_HEADER_OFFSET,
    PAYLOAD_WORDS,
    kind_at_start,
)
from agent.inspect.classify.markers import (
    LOWERED_WINDOW_BYTES,
    MARKUP_LOOKBACK_BYTES,
    MAX_MARKERS,
    MAX_ZIP_NAME_BYTES,
    SUGGESTIVE_MIN_RULES,
    SVG_EVENT_WINDOW,
    Marker,
    conclusive,
    decisive_marker,
    find_markers,
    find_markers_in_bytes,
    valid_pe,
)
from agent.inspect.reader import Reader

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
_LOWERED_WINDOW_BYTES = LOWERED_WINDOW_BYTES  # the name tests and older callers use

__all__ = [
    "CLASSIFY_SAMPLE_BYTES",
    "DANGEROUS_KINDS",
    "EICAR",
    "ENTROPY_SAMPLE_BYTES",
    "HIGH_ENTROPY_BITS",
    "MARKUP_LOOKBACK_BYTES",
    "MAX_LEADING_PADDING_BYTES",
    "MAX_MARKERS",
    "MAX_PE_HEADER_OFFSET",
    "MAX_ZIP_NAME_BYTES",
    "MIN_SCRIPT_BYTES",
    "PAYLOAD_WORDS",
    "SCRIPT_SAMPLE_BYTES",
    "SUGGESTIVE_MIN_RULES",
    "SVG_EVENT_WINDOW",
    "TEXT_SAMPLE_BYTES",
    "ZIP_EOCD_SEARCH_BYTES",
    "Marker",
    "Payload",
    "classify",
    "conclusive",
    "decisive_marker",
    "entropy",
    "find_markers",
    "find_markers_in_bytes",
    "first_non_zero",
    "kind_at_start",
    "leading_padding",
    "valid_pe",
]


def first_non_zero(reader: Reader, start: int, stop: int) -> int:
    """Offset of the first non-zero byte in [start, stop), or -1 (see Reader.first_non_zero)."""
    return reader.first_non_zero(start, stop)
