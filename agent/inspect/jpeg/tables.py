"""Slack in JPEG table and header segments: bytes a segment's length covers but its
content does not use.

A decoder reads a DQT, DHT, SOF, SOS or DRI segment by its content (T.81 B.2.2-B.2.4,
B.4) and skips to the end its length gives, so bytes between the two are read by no
one: room for a payload that no metadata region, trailer or gap check would see. The
content's own length is computed here; the walker reports the slack as unexplained.
"""

from __future__ import annotations

DQT, DHT, SOS, DRI = 0xDB, 0xC4, 0xDA, 0xDD
# SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC)
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
TABLE_MARKERS = SOF_MARKERS | {DQT, DHT, SOS, DRI}
HUFFMAN_COUNTS = 16  # code-length counts before a Huffman table's values (T.81 B.2.4.2)
MAX_HUFFMAN_VALUES = 256  # symbols one Huffman table can code


def _dqt_used(body: bytes) -> int:
    used = 0
    while used < len(body):
        precision, destination = body[used] >> 4, body[used] & 0x0F
        if precision > 1 or destination > 3:
            return used  # not a table (Pq is 0 or 1, Tq 0..3): the rest is slack
        size = 1 + 64 * (2 if precision else 1)
        if used + size > len(body):
            return len(body)  # a short table is the decoder's problem, not slack
        used += size
    return used if used else len(body)


def _dht_used(body: bytes) -> int:
    used = 0
    while used + 1 + HUFFMAN_COUNTS <= len(body):
        table_class, destination = body[used] >> 4, body[used] & 0x0F
        values = sum(body[used + 1 : used + 1 + HUFFMAN_COUNTS])
        if table_class > 1 or destination > 3 or values > MAX_HUFFMAN_VALUES:
            return len(body) if used == 0 else used  # not a table: the rest is slack
        size = 1 + HUFFMAN_COUNTS + values
        if used + size > len(body):
            return len(body)
        used += size
    return len(body) if used == 0 else used


def used_bytes(marker: int, body: bytes) -> int:
    """How many bytes of a table segment's body (after its length field) the content uses."""
    if not body:
        return 0
    if marker == DQT:
        return _dqt_used(body)
    if marker == DHT:
        used = _dht_used(body)
        # a run of 0xFF padding some encoders leave is not worth a region, nor is one byte
        return used if body[used:].strip(b"\xff") else len(body)
    if marker == DRI:
        return min(2, len(body))
    if marker == SOS:
        return min(len(body), 1 + 2 * body[0] + 3)
    return min(len(body), 6 + 3 * body[5]) if len(body) >= 6 else len(body)  # SOFn


def slack(marker: int, body: bytes) -> int:
    """Bytes at the end of a table segment's body that its content does not use."""
    if marker not in TABLE_MARKERS:
        return 0
    return len(body) - used_bytes(marker, body)
