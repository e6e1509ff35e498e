"""JPEG table and header segments: the slack after their content, and the table values
a payload could be written into.

A decoder reads a DQT, DHT, SOF, SOS or DRI segment by its content (T.81 B.2.2-B.2.4,
B.4) and skips to the end its length gives, so bytes between the two are read by no
one: room for a payload that no metadata region, trailer or gap check would see. The
content's own length is computed here; the walker reports the slack as unexplained.

The content itself is data too. A quantization table is 64 free values (1-255, or
1-65535 for 16-bit tables) in which nothing is invalid, so `table_values` hands each
table's values to the walker as a metadata region, judged for scripts and encoded
programs like any other value. A Huffman table's values are the symbols it codes, each
listed once (T.81 C: HUFFVAL); a table that repeats a symbol is no code any encoder
writes, and its values are judged the same way. A table of distinct symbols cannot
spell a script or an encoded program (any text that long repeats a character), so it is
explained by its own structure and costs nothing more.
"""

from __future__ import annotations

from collections.abc import Iterator

DQT, DHT, SOS, DRI = 0xDB, 0xC4, 0xDA, 0xDD
# SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC)
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
TABLE_MARKERS = SOF_MARKERS | {DQT, DHT, SOS, DRI}
HUFFMAN_COUNTS = 16  # code-length counts before a Huffman table's values (T.81 B.2.4.2)
MAX_HUFFMAN_VALUES = 256  # symbols one Huffman table can code
DQT_VALUES = 64  # values in one quantization table (8x8 coefficients)


def _dqt_tables(body: bytes) -> Iterator[tuple[int, int]]:
    """(start, declared end) of each quantization table's values, while the bytes are a
    table's header (Pq 0 or 1, Tq 0..3); the declared end may lie past the body."""
    at = 0
    while at < len(body):
        precision, destination = body[at] >> 4, body[at] & 0x0F
        if precision > 1 or destination > 3:
            return  # not a table: the rest is slack
        end = at + 1 + DQT_VALUES * (2 if precision else 1)
        yield at + 1, end
        at = end


def _dht_tables(body: bytes) -> Iterator[tuple[int, int]]:
    """(start, declared end) of each Huffman table's values, while the bytes are a table's
    header (Tc 0 or 1, Th 0..3, at most 256 codes); the declared end may lie past the body."""
    at = 0
    while at + 1 + HUFFMAN_COUNTS <= len(body):
        table_class, destination = body[at] >> 4, body[at] & 0x0F
        count = sum(body[at + 1 : at + 1 + HUFFMAN_COUNTS])
        if table_class > 1 or destination > 3 or count > MAX_HUFFMAN_VALUES:
            return  # not a table: the rest is slack
        start = at + 1 + HUFFMAN_COUNTS
        yield start, start + count
        at = start + count


def _dqt_used(body: bytes) -> int:
    used = 0
    for _, end in _dqt_tables(body):
        if end > len(body):
            return len(body)  # a short table is the decoder's problem, not slack
        used = end
    return used


def _dht_used(body: bytes) -> int:
    used = 0
    for _, end in _dht_tables(body):
        if end > len(body):
            return len(body)
        used = end
    return len(body) if used == 0 else used  # no table at all: not slack either


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


def table_values(marker: int, body: bytes) -> list[tuple[int, int]]:
    """[start, end) offsets in a table segment's body of values to judge as data: every
    quantization table's values, and those of Huffman tables that repeat a symbol."""
    if marker == DQT:
        return [(start, min(end, len(body))) for start, end in _dqt_tables(body)]
    if marker == DHT:
        spans = [(start, min(end, len(body))) for start, end in _dht_tables(body)]
        return [(a, b) for a, b in spans if len(set(body[a:b])) < b - a]  # a symbol repeats
    return []
