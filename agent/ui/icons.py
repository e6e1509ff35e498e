"""Tray icons drawn with Pillow at run time: a shield whose colour and mark say the state.

No binary assets to ship or keep in sync. Colours are told apart by more than hue (a
check, pause bars, a dot, an exclamation mark) so colour-blind staff read them too.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from agent.ui.menu import IconKind, IconState

ICON_SIZE_PX = 64  # pystray scales it to the tray; 64 keeps edges clean at 16-32 px
BADGE_MAX_COUNT = 9  # above this the badge reads "9+"
# The badge is large and its digit heavy so that the count survives the tray's downscale:
# at 16 px the digit is still ~9 px tall with strokes of ~2 px (tests/test_icons.py).
BADGE_DIAMETER_FRACTION = 0.70  # of the icon's side
BADGE_DIGIT_FRACTION = 0.92  # font size of one digit, of the badge's diameter
BADGE_TWO_CHAR_FRACTION = 0.62  # font size of "9+", of the badge's diameter
BADGE_STROKE_FRACTION = 0.045  # extra stroke around the digit (a portable bold), of the side

_COLOURS = {
    IconKind.WATCHING: (46, 125, 50),  # green
    IconKind.PAUSED: (117, 117, 117),  # grey: protection off
    IconKind.REVIEW: (230, 81, 0),  # orange: something was caught
    IconKind.PROBLEM: (198, 40, 40),  # red: IT needs to look
}
_WHITE = (255, 255, 255, 255)
_BADGE = (183, 28, 28, 255)


def _shield(draw: ImageDraw.ImageDraw, size: int, colour: tuple[int, int, int]) -> None:
    s = size / 64
    outline = [
        (32 * s, 3 * s),
        (57 * s, 12 * s),
        (55 * s, 36 * s),
        (44 * s, 52 * s),
        (32 * s, 61 * s),
        (20 * s, 52 * s),
        (9 * s, 36 * s),
        (7 * s, 12 * s),
    ]
    draw.polygon(outline, fill=(*colour, 255), outline=(255, 255, 255, 255))


def _mark(draw: ImageDraw.ImageDraw, size: int, kind: IconKind) -> None:
    s = size / 64
    width = max(2, round(6 * s))
    if kind is IconKind.WATCHING:
        draw.line([(20 * s, 31 * s), (29 * s, 41 * s), (45 * s, 22 * s)], fill=_WHITE, width=width)
    elif kind is IconKind.PAUSED:
        draw.rectangle([22 * s, 20 * s, 28 * s, 44 * s], fill=_WHITE)
        draw.rectangle([36 * s, 20 * s, 42 * s, 44 * s], fill=_WHITE)
    elif kind is IconKind.REVIEW:
        # A dot low in the shield, clear of the count badge in the top-right corner.
        draw.ellipse([23 * s, 31 * s, 39 * s, 47 * s], fill=_WHITE)
    else:  # PROBLEM: an exclamation mark
        draw.rectangle([29 * s, 15 * s, 35 * s, 36 * s], fill=_WHITE)
        draw.rectangle([29 * s, 41 * s, 35 * s, 47 * s], fill=_WHITE)


def _badge(draw: ImageDraw.ImageDraw, size: int, count: int) -> None:
    text = str(count) if count <= BADGE_MAX_COUNT else f"{BADGE_MAX_COUNT}+"
    diameter = size * BADGE_DIAMETER_FRACTION
    left, top = size - diameter, 0.0
    outline = max(1, round(size / 32))
    draw.ellipse([left, top, size - 1, diameter - 1], fill=_BADGE, outline=_WHITE, width=outline)
    fraction = BADGE_DIGIT_FRACTION if len(text) == 1 else BADGE_TWO_CHAR_FRACTION
    font = ImageFont.load_default(size=max(8, int(diameter * fraction)))
    centre = (left + diameter / 2, top + diameter / 2)
    stroke = max(1, round(size * BADGE_STROKE_FRACTION))
    draw.text(
        centre, text, fill=_WHITE, font=font, anchor="mm", stroke_width=stroke, stroke_fill=_WHITE
    )


def draw_icon(state: IconState, size: int = ICON_SIZE_PX) -> Image.Image:
    """The RGBA icon for `state`, with a count badge when there are files to review."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    _shield(draw, size, _COLOURS[state.kind])
    _mark(draw, size, state.kind)
    if state.count > 0:
        _badge(draw, size, state.count)
    return image
