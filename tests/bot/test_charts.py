"""The PNG writer and the jobs-per-day chart, checked by decoding the pictures pixel by pixel."""

from __future__ import annotations

import struct
import time
import zlib
from datetime import date, timedelta

import pytest

from bot import charts
from bot.charts import AXIS, BACKGROUND, FAILED, SUCCEEDED, TEXT, Canvas, jobs_per_day_chart, nice_scale
from bot.png import PNG_SIGNATURE, png_bytes, png_from_pixels, png_size

Pixels = list[list[tuple[int, int, int]]]
START = date(2024, 5, 1)
#: Rows above this hold the title and the legend (whose colour boxes are not bars).
LEGEND_BOTTOM = 32


def decode(data: bytes) -> Pixels:
    """Read back an 8-bit RGB PNG with unfiltered scanlines (what bot.png writes), checking every chunk's CRC."""
    assert data.startswith(PNG_SIGNATURE)
    position, chunks = len(PNG_SIGNATURE), []
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks.append((kind, body))
        position += 12 + length
    assert [kind for kind, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour) == (8, 2)
    raw = zlib.decompress(chunks[1][1])
    stride = width * 3 + 1
    assert len(raw) == stride * height
    rows: Pixels = []
    for y in range(height):
        line = raw[y * stride : (y + 1) * stride]
        assert line[0] == 0
        rows.append([(line[x], line[x + 1], line[x + 2]) for x in range(1, stride, 3)])
    return rows


def bars(pixels: Pixels) -> list[tuple[int, int, int]]:
    """The chart's bars, left to right: (first column, height in green, height in red) at each bar's middle."""
    width = len(pixels[0])
    found: list[tuple[int, int, int]] = []
    x = 0
    while x < width:
        if _bar_pixels(pixels, x) == (0, 0):
            x += 1
            continue
        start = x
        while x < width and _bar_pixels(pixels, x) != (0, 0):
            x += 1
        green, red = _bar_pixels(pixels, (start + x) // 2)
        found.append((start, green, red))
    return found


def _bar_pixels(pixels: Pixels, x: int) -> tuple[int, int]:
    column = [row[x] for row in pixels[LEGEND_BOTTOM:]]
    return column.count(SUCCEEDED), column.count(FAILED)


def days(*counts: tuple[int, int]) -> list[tuple[date, int, int]]:
    return [(START + timedelta(days=offset), ok, failed) for offset, (ok, failed) in enumerate(counts)]


# -- the PNG writer ---------------------------------------------------------------------------------


def test_png_files_decode_to_the_pixels_written() -> None:
    red, blue = b"\xff\x00\x00", b"\x00\x00\xff"
    data = png_bytes(2, 2, [red + blue, blue + red])
    assert png_size(data) == (2, 2)
    assert decode(data) == [[(255, 0, 0), (0, 0, 255)], [(0, 0, 255), (255, 0, 0)]]
    assert png_from_pixels(2, 2, bytearray(red + blue + blue + red)) == data
    with pytest.raises(ValueError, match="do not match"):
        png_bytes(2, 2, [red])
    with pytest.raises(ValueError, match="do not match"):
        png_from_pixels(2, 2, red)
    with pytest.raises(ValueError, match="not a PNG"):
        png_size(b"GIF89a" + bytes(30))


# -- the chart ----------------------------------------------------------------------------------------------


def test_the_chart_is_a_png_of_the_asked_size() -> None:
    data = jobs_per_day_chart(days((3, 1), (5, 0)))
    assert data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR"
    assert png_size(data) == (720, 300)
    assert png_size(jobs_per_day_chart(days((1, 0)), width=400, height=160)) == (400, 160)
    with pytest.raises(ValueError, match="at least"):
        jobs_per_day_chart([], width=50, height=50)


def test_a_day_with_more_jobs_has_a_taller_bar_and_failures_sit_on_top() -> None:
    pixels = decode(jobs_per_day_chart(days((2, 0), (6, 2), (0, 0), (3, 3))))
    found = bars(pixels)
    assert len(found) == 3  # the empty day has no bar
    (_, small_ok, small_failed), (_, big_ok, big_failed), (_, half_ok, half_failed) = found
    assert small_failed == 0 and big_failed > 0 and half_failed > 0
    assert big_ok + big_failed > half_ok + half_failed > small_ok
    assert big_ok == pytest.approx(3 * small_ok, abs=2)  # heights are proportional to the counts
    assert half_ok == pytest.approx(half_failed, abs=1)
    assert big_failed == pytest.approx(small_ok, abs=1)
    # Bars are in day order, one per day slot, and each red part is right above its green part.
    starts = [start for start, _, _ in found]
    assert starts == sorted(starts)
    start, ok, failed = found[1]
    column = [row[start + 1] for row in pixels]
    top_red = column.index(FAILED)
    assert column[top_red : top_red + failed] == [FAILED] * failed
    assert column[top_red + failed : top_red + failed + ok] == [SUCCEEDED] * ok


def test_every_job_shows_even_next_to_a_huge_day() -> None:
    found = bars(decode(jobs_per_day_chart(days((1, 0), (5000, 1)))))
    assert len(found) == 2 and found[0][1] >= 1 and found[1][2] >= 1


def test_labels_are_drawn_with_the_bitmap_font() -> None:
    pixels = decode(jobs_per_day_chart(days(*[(n, n % 3) for n in range(1, 31)])))
    below_axis = [pixel for row in pixels[-20:] for pixel in row]
    assert below_axis.count(TEXT) > 200  # the dates under the bars
    left_of_axis = [pixel for row in pixels[LEGEND_BOTTOM:] for pixel in row[:40]]
    assert left_of_axis.count(TEXT) > 100  # the value axis
    assert any(AXIS in row for row in pixels)

    canvas = Canvas(12, 9, BACKGROUND)
    canvas.text(1, 1, "7", TEXT)
    drawn = [
        "".join(
            "#" if canvas.pixels[(y * 12 + x) * 3 : (y * 12 + x) * 3 + 3] == bytes(TEXT) else "." for x in range(1, 6)
        )
        for y in range(1, 8)
    ]
    assert drawn == ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."]


def test_no_jobs_draws_an_empty_chart_with_a_marker() -> None:
    for empty in ([], days((0, 0), (0, 0))):
        pixels = decode(jobs_per_day_chart(empty))
        assert bars(pixels) == []
        middle = [pixel for row in pixels[120:180] for pixel in row[250:500]]
        assert middle.count(AXIS) > 300  # "NO JOBS", large, in the middle of the plot


def test_round_numbers_on_the_value_axis() -> None:
    assert nice_scale(0) == (4, 1)
    assert nice_scale(3) == (3, 1)
    assert nice_scale(7) == (8, 2)
    assert nice_scale(95) == (100, 50)
    assert nice_scale(1234) == (1500, 500)


def test_ninety_days_draw_in_a_few_milliseconds() -> None:
    ninety = days(*[(n * 7 % 50, n % 5) for n in range(90)])
    timings = []
    for _ in range(5):
        began = time.perf_counter()
        jobs_per_day_chart(ninety)
        timings.append(time.perf_counter() - began)
    assert min(timings) < 0.05, f"a 90-day chart took {min(timings) * 1000:.0f} ms"
    assert len(bars(decode(jobs_per_day_chart(ninety)))) == sum(1 for _, ok, bad in ninety if ok + bad)
    assert charts.GLYPH_W == 5
