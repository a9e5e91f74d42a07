"""Charts drawn in pure Python as PNG files: the jobs-per-day bar chart of ``/admin stats``.

The canvas is one ``bytearray`` of RGB pixels; rectangles are filled a scanline slice at a time and
text is drawn from a built-in 5x7 bitmap font (digits, capital letters and a little punctuation),
so a 90-day chart takes a few milliseconds and needs no imaging library. Colours follow Discord's
dark theme, where the chart is shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Final

from bot.png import png_from_pixels

Rgb = tuple[int, int, int]

BACKGROUND: Final[Rgb] = (43, 45, 49)
GRID: Final[Rgb] = (64, 67, 73)
AXIS: Final[Rgb] = (148, 155, 164)
TEXT: Final[Rgb] = (219, 222, 225)
SUCCEEDED: Final[Rgb] = (87, 242, 135)
FAILED: Final[Rgb] = (237, 66, 69)

TITLE: Final = "JOBS PER DAY (UTC)"
LEGEND_SUCCEEDED: Final = "SUCCEEDED"
LEGEND_FAILED: Final = "FAILED"
NO_JOBS: Final = "NO JOBS"

MIN_WIDTH: Final = 200
MIN_HEIGHT: Final = 120
GLYPH_W: Final = 5
GLYPH_H: Final = 7

# 5x7 glyphs, drawn as text: each block is a row of characters (named in its first line), seven rows
# high, "#" for ink. Lower case is drawn as upper case.
_FONT_SOURCE: Final = """
0     1     2     3     4     5     6     7     8     9     -     /     :     .     (     )     ?
.###. ..#.. .###. ##### ...#. ##### ..##. ##### .###. .###. ..... ..... ..... ..... ...#. .#... .###.
#...# .##.. #...# ...#. ..##. #.... .#... ....# #...# #...# ..... ....# .##.. ..... ..#.. ..#.. #...#
#..## ..#.. ....# ..#.. .#.#. ####. #.... ...#. #...# #...# ..... ...#. .##.. ..... .#... ...#. ....#
#.#.# ..#.. ...#. ...#. #..#. ....# ####. ..#.. .###. .#### ##### ..#.. ..... ..... .#... ...#. ...#.
##..# ..#.. ..#.. ....# ##### ....# #...# .#... #...# ....# ..... .#... .##.. ..... .#... ...#. ..#..
#...# ..#.. .#... #...# ...#. #...# #...# .#... #...# ...#. ..... #.... .##.. .##.. ..#.. ..#.. .....
.###. .###. ##### .###. ...#. .###. .###. .#... .###. .##.. ..... ..... ..... .##.. ...#. .#... ..#..

A     B     C     D     E     F     G     H     I     J     K     L     M
.###. ####. .###. ###.. ##### ##### .###. #...# .###. ..### #...# #.... #...#
#...# #...# #...# #..#. #.... #.... #...# #...# ..#.. ...#. #..#. #.... ##.##
#...# #...# #.... #...# #.... #.... #.... #...# ..#.. ...#. #.#.. #.... #.#.#
##### ####. #.... #...# ####. ####. #.### ##### ..#.. ...#. ##... #.... #.#.#
#...# #...# #.... #...# #.... #.... #...# #...# ..#.. ...#. #.#.. #.... #...#
#...# #...# #...# #..#. #.... #.... #...# #...# ..#.. #..#. #..#. #.... #...#
#...# ####. .###. ###.. ##### #.... .#### #...# .###. .##.. #...# ##### #...#

N     O     P     Q     R     S     T     U     V     W     X     Y     Z
#...# .###. ####. .###. ####. .#### ##### #...# #...# #...# #...# #...# #####
#...# #...# #...# #...# #...# #.... ..#.. #...# #...# #...# #...# #...# ....#
##..# #...# #...# #...# #...# #.... ..#.. #...# #...# #...# .#.#. .#.#. ...#.
#.#.# #...# ####. #...# ####. .###. ..#.. #...# #...# #.#.# ..#.. ..#.. ..#..
#..## #...# #.... #.#.# #.#.. ....# ..#.. #...# #...# #.#.# .#.#. ..#.. .#...
#...# #...# #.... #..#. #..#. ....# ..#.. #...# .#.#. #.#.# #...# ..#.. #....
#...# .###. #.... .##.# #...# ####. ..#.. .###. ..#.. .#.#. #...# ..#.. #####
"""


def _parse_font(source: str) -> dict[str, str]:
    """Character -> its 35 cells, row after row, from the blocks of ``_FONT_SOURCE``."""
    glyphs: dict[str, str] = {" ": "." * GLYPH_W * GLYPH_H}
    lines = [line for line in source.splitlines() if line.strip()]
    for first in range(0, len(lines), GLYPH_H + 1):
        names = lines[first].split()
        rows = [line.split() for line in lines[first + 1 : first + 1 + GLYPH_H]]
        for column, name in enumerate(names):
            glyphs[name] = "".join(row[column] for row in rows)
    return glyphs


def _glyph(rows: str) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Per row, the runs of ink as (first column, length): drawn as one rectangle each."""
    if len(rows) != GLYPH_W * GLYPH_H:
        raise ValueError(f"a glyph has {GLYPH_W * GLYPH_H} cells, not {len(rows)}")
    runs: list[tuple[tuple[int, int], ...]] = []
    for y in range(GLYPH_H):
        row = rows[y * GLYPH_W : (y + 1) * GLYPH_W]
        found: list[tuple[int, int]] = []
        x = 0
        while x < GLYPH_W:
            if row[x] == "#":
                start = x
                while x < GLYPH_W and row[x] == "#":
                    x += 1
                found.append((start, x - start))
            else:
                x += 1
        runs.append(tuple(found))
    return tuple(runs)


_FONT: Final = {char: _glyph(rows) for char, rows in _parse_font(_FONT_SOURCE).items()}


class Canvas:
    """An RGB picture in memory with the few drawing operations a chart needs; drawing clips at the edges."""

    def __init__(self, width: int, height: int, background: Rgb) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(background) * (width * height))

    def fill(self, x0: int, y0: int, x1: int, y1: int, colour: Rgb) -> None:
        """Fill the rectangle from (x0, y0) inclusive to (x1, y1) exclusive."""
        x0, x1 = max(0, x0), min(self.width, x1)
        y0, y1 = max(0, y0), min(self.height, y1)
        if x0 >= x1 or y0 >= y1:
            return
        run = bytes(colour) * (x1 - x0)
        stride = self.width * 3
        pixels = self.pixels
        for y in range(y0, y1):
            start = y * stride + x0 * 3
            pixels[start : start + len(run)] = run

    def text(self, x: int, y: int, text: str, colour: Rgb, scale: int = 1) -> None:
        """Draw ``text`` with its top-left corner at (x, y); unknown characters show as "?"."""
        for char in text.upper():
            for row, runs in enumerate(_FONT.get(char) or _FONT["?"]):
                top = y + row * scale
                for start, length in runs:
                    self.fill(x + start * scale, top, x + (start + length) * scale, top + scale, colour)
            x += text_advance(scale)

    def png(self) -> bytes:
        return png_from_pixels(self.width, self.height, self.pixels)


def text_advance(scale: int) -> int:
    """Horizontal distance from one character to the next."""
    return (GLYPH_W + 1) * scale


def text_width(text: str, scale: int = 1) -> int:
    """Width in pixels of ``text`` drawn at ``scale`` (no trailing gap)."""
    return max(0, len(text) * text_advance(scale) - scale)


def nice_scale(largest: int, lines: int = 4) -> tuple[int, int]:
    """(top, step) of a value axis that shows ``largest`` with about ``lines`` gridlines at round numbers."""
    if largest <= 0:
        return lines, 1
    rough = largest / lines
    magnitude = 10 ** math.floor(math.log10(rough)) if rough >= 1 else 1
    step = next(factor * magnitude for factor in (1, 2, 5, 10) if factor * magnitude >= rough)
    step = max(1, int(step))
    return step * math.ceil(largest / step), step


def jobs_per_day_chart(days: Sequence[tuple[date, int, int]], *, width: int = 720, height: int = 300) -> bytes:
    """A PNG bar chart of jobs per day: succeeded (green) below failed (red), stacked, one bar per day.

    ``days`` are (day, succeeded, failed) in the order to draw, oldest first. With no days, or no jobs
    on any of them, the chart shows its axes and a "NO JOBS" marker.
    """
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        raise ValueError(f"a chart needs at least {MIN_WIDTH}x{MIN_HEIGHT} pixels")
    scale = 2 if width >= 480 and height >= 200 else 1
    line_h = GLYPH_H * scale
    canvas = Canvas(width, height, BACKGROUND)
    largest = max((succeeded + failed for _, succeeded, failed in days), default=0)
    top, step = nice_scale(largest)

    left = max(text_width(str(top), scale), text_width("0", scale)) + 6 * scale + 4
    right = width - 6 * scale
    plot_top = 6 * scale + line_h + 6 * scale
    plot_bottom = height - (4 * scale + line_h + 4 * scale)
    plot_h = plot_bottom - plot_top

    _heading(canvas, scale)
    for value in range(0, top + 1, step):
        y = plot_bottom - round(value / top * plot_h)
        if value:
            canvas.fill(left + 1, y, right, y + 1, GRID)
        label = str(value)
        canvas.text(left - 4 - scale * 2 - text_width(label, scale), y - line_h // 2, label, TEXT, scale)
    canvas.fill(left, plot_top, left + 1, plot_bottom + 1, AXIS)
    canvas.fill(left, plot_bottom, right, plot_bottom + 1, AXIS)

    if days:
        _bars(canvas, days, left + 1, right, plot_bottom, plot_h, top, scale)
    if largest == 0:
        big = scale * 2
        mid_x = (left + right) // 2 - text_width(NO_JOBS, big) // 2
        mid_y = plot_top + plot_h // 2 - GLYPH_H * big // 2
        canvas.text(mid_x, mid_y, NO_JOBS, AXIS, big)
    return canvas.png()


def _heading(canvas: Canvas, scale: int) -> None:
    margin = 6 * scale
    canvas.text(margin, margin, TITLE, TEXT, scale)
    box = GLYPH_H * scale
    x = canvas.width - margin
    for label, colour in ((LEGEND_FAILED, FAILED), (LEGEND_SUCCEEDED, SUCCEEDED)):
        x -= text_width(label, scale)
        canvas.text(x, margin, label, TEXT, scale)
        x -= box + 3 * scale
        canvas.fill(x, margin, x + box, margin + box, colour)
        x -= 6 * scale


def _bars(
    canvas: Canvas,
    days: Sequence[tuple[date, int, int]],
    left: int,
    right: int,
    bottom: int,
    plot_h: int,
    top: int,
    scale: int,
) -> None:
    slot = (right - left) / len(days)
    bar_w = max(1, int(slot * 0.7))
    label_w = text_width("00-00", scale)
    gap = 4 * scale
    every = max(1, math.ceil((label_w + gap) / slot))
    free_until = canvas.width + gap  # labels go right to left from the newest day, each clear of the one after it
    for index in range(len(days) - 1, -1, -1):
        day, succeeded, failed = days[index]
        x0 = left + int(index * slot + (slot - bar_w) / 2)
        ok_h = _height(succeeded, top, plot_h)
        all_h = max(_height(succeeded + failed, top, plot_h), ok_h + (1 if failed > 0 else 0))
        canvas.fill(x0, bottom - ok_h, x0 + bar_w, bottom, SUCCEEDED)
        canvas.fill(x0, bottom - all_h, x0 + bar_w, bottom - ok_h, FAILED)
        if (len(days) - 1 - index) % every == 0:
            x = min(max(0, x0 + bar_w // 2 - label_w // 2), canvas.width - label_w)
            if x + label_w + gap <= free_until:
                canvas.text(x, bottom + 4 * scale, f"{day.month:02d}-{day.day:02d}", TEXT, scale)
                free_until = x


def _height(count: int, top: int, plot_h: int) -> int:
    """Pixels for ``count`` on an axis reaching ``top``; any job shows as at least one pixel."""
    if count <= 0:
        return 0
    return max(1, round(count / top * plot_h))
