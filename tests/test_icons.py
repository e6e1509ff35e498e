"""The tray icon's count badge stays legible where trays draw icons: 16, 22 and 24 px.

Each badge is downscaled the way a tray does (Lanczos) and compared with every other
count: two counts that look alike at tray size are a badge nobody can read. The bar
(a mean difference of 8 grey levels over the badge area) was measured on the previous
badge design, whose 3 and 8 differed by 3.5 levels and were unreadable at 16 px.
"""

from __future__ import annotations

import itertools

import pytest
from PIL import Image, ImageChops, ImageStat

from agent.ui.icons import draw_icon
from agent.ui.menu import IconKind, IconState

TRAY_SIZES_PX = (16, 22, 24)
MIN_MEAN_DIFFERENCE = 8.0  # grey levels (0-255) between any two counts' badge areas
MIN_CONTRAST = 200  # grey levels between the digit and the badge behind it


def _badge_area(count: int, size: int) -> Image.Image:
    icon = draw_icon(IconState(IconKind.REVIEW, count))
    small = icon.resize((size, size), Image.Resampling.LANCZOS).convert("L")
    return small.crop((size // 2 - 1, 0, size, size // 2 + 1))


@pytest.mark.parametrize("size", TRAY_SIZES_PX)
def test_every_count_reads_differently_at_tray_size(size: int) -> None:
    badges = {count: _badge_area(count, size) for count in range(1, 11)}
    for first, second in itertools.combinations(badges, 2):
        difference = ImageStat.Stat(ImageChops.difference(badges[first], badges[second]))
        assert difference.mean[0] >= MIN_MEAN_DIFFERENCE, (size, first, second)
    for badge in badges.values():
        darkest, lightest = badge.getextrema()  # type: ignore[misc]
        assert lightest - darkest >= MIN_CONTRAST


def test_states_look_different_with_and_without_a_badge() -> None:
    looks = {
        kind: draw_icon(IconState(kind, 0)).tobytes()
        for kind in (IconKind.WATCHING, IconKind.PAUSED, IconKind.REVIEW, IconKind.PROBLEM)
    }
    assert len(set(looks.values())) == len(looks)
    assert draw_icon(IconState(IconKind.PAUSED, 3)).tobytes() != looks[IconKind.PAUSED]
