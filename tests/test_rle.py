"""The run-length packet walk shared by the PCX and TGA walkers (agent/inspect/rle.py)."""

from __future__ import annotations

from agent.inspect import pcx, rle, tga
from agent.inspect.reader import Reader


def test_pcx_count_byte_at_a_window_edge_is_read_with_its_value(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(rle, "MAX_RLE_READ_BYTES", 5)
    # literals 1 2 3 4, then a count byte (0xC3: 3 copies) whose value byte is in the next
    # window, then literal 9: 4 + 3 + 1 = 8 bytes decoded from 7 bytes of data
    data = bytes([1, 2, 3, 4, 0xC3, 7, 9]) + b"tail"
    assert rle.packets_end(Reader.from_bytes(data), 0, 8, pcx._scan) == 7
    assert rle.packets_end(Reader.from_bytes(data[:5]), 0, 8, pcx._scan) is None


def test_tga_literal_packet_may_reach_past_the_window_and_the_file(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(rle, "MAX_RLE_READ_BYTES", 4)
    scan = tga._scanner(3)  # 24-bit pixels
    # a run of 2 pixels (0x81 + one pixel), then 3 literal pixels (0x02 + nine bytes)
    data = bytes([0x81, 1, 2, 3, 0x02]) + bytes(9)
    assert rle.packets_end(Reader.from_bytes(data), 0, 5, scan) == 14
    # cut inside the literal pixels: the end lies past the file (the walker's truncation)
    assert rle.packets_end(Reader.from_bytes(data[:8]), 0, 5, scan) == 14
    assert rle.packets_end(Reader.from_bytes(data[:4]), 0, 5, scan) is None
