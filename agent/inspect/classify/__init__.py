"""One classifier for every judged byte range (see `blob` for the order of the checks).

    kinds      payload kinds, which are dangerous, their plain words, start signatures
    markers    payload markers inside a range (strong / telling / suggestive)
    decoders   bounded base64, hex, uuencode, UTF-16, zlib/gzip/bzip2/xz, XOR decoders
    libmagic   libmagic's MIME type of a range, through an explicit table
    blob       classify(): the checks in order; the result is a `Payload`
    metadata   judge_metadata(): the same checks for metadata values
    polyglot   headers whose fields open a JavaScript comment or assignment

`agent.inspect.payload` re-exports the names older callers use.
"""

from __future__ import annotations

from agent.inspect.classify.blob import Payload, classify
from agent.inspect.classify.kinds import DANGEROUS_KINDS, PAYLOAD_WORDS

__all__ = ["DANGEROUS_KINDS", "PAYLOAD_WORDS", "Payload", "classify"]
