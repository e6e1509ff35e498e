"""Property tests that assert detection, not only survival.

Hypothesis builds a benign phone-style photo (plain, with an MPF gain map, a motion photo,
zero padding or a Samsung SEF trailer) and a dangerous payload (ZIP, Windows program, PHP,
HTML script), then hides the payload in one of the places the design names: after the
whole file, between the primary image and its benign trailer, or in a JPEG comment. The
expectations come from the design's severity table, not from the engine: the photo alone
is clean; with an executable, archive or script hidden anywhere it is quarantined.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jpeg_samples import (
    HTML,
    PHP,
    insert_segments,
    motion_photo,
    mp4,
    mpo,
    pe_executable,
    photo,
    sef_trailer,
    segment,
    zip_archive,
)

from agent.inspect.engine import inspect_bytes
from agent.model import Verdict

PAYLOADS = {
    "zip": zip_archive(),
    "pe": pe_executable(),
    "php": PHP,
    "html": HTML,
}


def _split_plain(seed: int) -> tuple[bytes, bytes]:
    return photo(seed=seed), b""


def _split_gain_map(seed: int) -> tuple[bytes, bytes]:
    second = photo(32, 24, seed=seed + 100)
    whole = mpo(second)
    return whole[: len(whole) - len(second)], second


def _split_motion(seed: int) -> tuple[bytes, bytes]:
    video = mp4(2000, seed=seed)
    whole = motion_photo(video)
    return whole[: len(whole) - len(video)], video


def _split_zero_padding(seed: int) -> tuple[bytes, bytes]:
    return photo(seed=seed), bytes(4096)


def _split_sef(seed: int) -> tuple[bytes, bytes]:
    trailer = sef_trailer([(0x0A01, b"Image_UTC_Data", b"1700000000000")])
    return photo(seed=seed), trailer


# Each benign photo as (everything up to the end of the primary image, its benign trailer).
BENIGN_SHAPES = {
    "plain": _split_plain,
    "gain map": _split_gain_map,
    "motion photo": _split_motion,
    "zero padding": _split_zero_padding,
    "samsung sef": _split_sef,
}


def _hide(primary: bytes, trailer: bytes, payload: bytes, place: str) -> bytes:
    if place == "end of file":
        return primary + trailer + payload
    if place == "before the benign trailer":
        # Only meaningful for a trailer located from the end (SEF, padding) or by content; an
        # MPF/motion-photo trailer located by offset from the primary is then missed by the
        # pointer, so the payload is left-over data either way.
        return primary + payload + trailer
    return insert_segments(primary, segment(0xFE, payload)) + trailer  # in a comment


def _between_primary_and_gain_map(payload: bytes, seed: int) -> bytes:
    """An MPO whose MPF index still points exactly at its gain map, with `payload` in the gap.

    Both ends of the gap are accounted (the primary by its walk, the gain map by the MPF
    pointer), so only judging the bytes between two accounted regions finds the payload.
    """
    second = photo(32, 24, seed=seed + 100)
    padded = mpo(second, pad=len(payload))
    gap_start = len(padded) - len(second) - len(payload)
    assert padded[gap_start : gap_start + len(payload)] == bytes(len(payload))
    return padded[:gap_start] + payload + second


common = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@common
@given(shape=st.sampled_from(sorted(BENIGN_SHAPES)), seed=st.integers(1, 50))
def test_a_benign_phone_photo_is_clean(shape: str, seed: int) -> None:
    primary, trailer = BENIGN_SHAPES[shape](seed)
    report = inspect_bytes("IMG_0001.jpg", primary + trailer)
    assert report.verdict is Verdict.CLEAN, report.findings


@common
@given(
    shape=st.sampled_from(sorted(BENIGN_SHAPES)),
    payload=st.sampled_from(sorted(PAYLOADS)),
    place=st.sampled_from(["end of file", "before the benign trailer", "in a comment"]),
    seed=st.integers(1, 50),
)
def test_a_dangerous_payload_hidden_in_a_phone_photo_is_quarantined(
    shape: str, payload: str, place: str, seed: int
) -> None:
    primary, trailer = BENIGN_SHAPES[shape](seed)
    if shape == "gain map" and place == "before the benign trailer":
        data = _between_primary_and_gain_map(PAYLOADS[payload], seed)
    else:
        data = _hide(primary, trailer, PAYLOADS[payload], place)
    report = inspect_bytes("IMG_0001.jpg", data)
    assert report.verdict is Verdict.QUARANTINE, (shape, payload, place, report.findings)
