"""One C-speed test of whether bytes can hold a run a regex looks for.

A regex that starts with a character class (`[A-Za-z0-9+/]{48,}`) is tried by SRE at
every byte of a range: on 16 KiB of compressed pixels that is most of a small file's
inspection. Mapping each class of bytes to one letter with `bytes.translate` and
searching for the run as a literal of those letters costs two C passes, and a range
without the run (nearly every binary range) skips the regex altogether. A hit only says
the regex may match: the caller then runs it as before, so results never change.
"""

from __future__ import annotations

from dataclasses import dataclass

OTHER = 0  # what every byte outside the named classes maps to


@dataclass(frozen=True)
class RunPrefilter:
    """Byte classes mapped to letters, and the literal runs of those letters to look for."""

    table: bytes
    needles: tuple[bytes, ...]

    def may_hold(self, untrusted_data: bytes) -> bool:
        """False when no needle run occurs: the regex it stands for cannot match."""
        masked = untrusted_data.translate(self.table)
        for needle in self.needles:  # noqa: SIM110 - no generator per call on a hot path
            if needle in masked:
                return True
        return False


def run_prefilter(classes: dict[int, bytes], *needles: bytes) -> RunPrefilter:
    """A prefilter mapping each byte of `classes[letter]` to `letter`, other bytes to 0.

    The letters must be non-zero and the classes disjoint; each needle is a run of letters.
    """
    table = bytearray([OTHER]) * 256
    for letter, members in classes.items():
        if letter == OTHER:
            raise ValueError("a class letter must not be 0")
        for byte in members:
            if table[byte] != OTHER:
                raise ValueError(f"byte 0x{byte:02x} is in two classes")
            table[byte] = letter
    return RunPrefilter(bytes(table), needles)


PRINTABLE = b"\t\n\r" + bytes(range(0x20, 0x7F))  # the bytes of a text run
