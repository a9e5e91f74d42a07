"""The jobs-per-day chart of /admin stats: what matplotlib lays out (words, fonts, bars, dates) and the PNG it
writes, in English and in Chinese, with and without a font that has Chinese characters."""

from __future__ import annotations

import io
import itertools
import logging
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from PIL import Image

from bot import charts
from bot.charts import FAILED, SUCCEEDED, FontPicker, jobs_per_day_chart, jobs_per_day_figure
from cogs.admin.stats import chart_labels

START = date(2024, 5, 1)
ROOT = Path(__file__).resolve().parents[2]
ENGLISH = chart_labels("en-US")
CHINESE = chart_labels("zh-CN")
ONLY_DEJAVU = ["DejaVu Sans"]


def days(*counts: tuple[int, int]) -> list[tuple[date, int, int]]:
    return [(START + timedelta(days=offset), ok, failed) for offset, (ok, failed) in enumerate(counts)]


def drawn(figure: Figure) -> Axes:
    """The chart's axes, after a draw has laid out every text."""
    FigureCanvasAgg(figure).draw()
    [axes] = figure.axes
    return axes


def words(axes: Axes) -> dict[str, str]:
    legend = axes.get_legend()
    return {
        "title": axes.get_title(loc="left"),
        "x": axes.get_xlabel(),
        "y": axes.get_ylabel(),
        "legend": " / ".join(text.get_text() for text in legend.get_texts()) if legend else "",
        "days": " ".join(label.get_text() for label in axes.get_xticklabels()),
    }


def font_file(text: Text) -> str:
    return str(font_manager.findfont(text.get_fontproperties(), fallback_to_default=False))


def bars(axes: Axes, gid: str) -> list[Rectangle]:
    return sorted((patch for patch in axes.patches if patch.get_gid() == gid), key=lambda patch: patch.get_x())


def png_image(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    image.verify()  # every chunk's CRC, and the stream's end
    return Image.open(io.BytesIO(data))


def chinese_font_or_skip() -> None:
    if FontPicker().family_for(CHINESE.title) is None:
        if os.environ.get("CI"):
            pytest.fail("no installed font draws Chinese: .ci/run installs fonts-wqy-microhei")
        pytest.skip("no installed font draws Chinese (apt-get install fonts-wqy-microhei)")


# -- the PNG -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("labels", [ENGLISH, CHINESE], ids=["en-US", "zh-CN"])
def test_the_chart_is_a_png_of_the_asked_size(labels: charts.ChartLabels) -> None:
    data = jobs_per_day_chart(days((3, 1), (5, 0)), labels, fallback=ENGLISH)
    image = png_image(data)
    assert image.format == "PNG" and image.size == (800, 360)
    assert 5_000 < len(data) < 200_000
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    assert (pixels == [round(c * 255) for c in to_rgb(SUCCEEDED)]).all(axis=1).sum() > 500  # the bars
    assert png_image(jobs_per_day_chart(days((1, 0)), width=400, height=200)).size == (400, 200)
    with pytest.raises(ValueError, match=r"at least 320x180 pixels, not 50x50"):
        jobs_per_day_chart([], width=50, height=50)


# -- words and fonts ---------------------------------------------------------------------------------------------


def test_a_chinese_server_gets_the_chart_in_chinese_in_a_font_that_has_the_characters() -> None:
    chinese_font_or_skip()
    axes = drawn(jobs_per_day_figure(days((2, 1), (4, 0), (0, 3)), CHINESE, fallback=ENGLISH))
    assert words(axes) == {
        "title": "每日任务\uff08UTC\uff09",
        "x": "日期\uff08UTC\uff09",
        "y": "任务数",
        "legend": "成功 / 失败",
        "days": "5月1日 5月2日 5月3日",
    }
    picker = FontPicker()
    texts = [axes._left_title, axes.xaxis.label, axes.yaxis.label]
    texts += [*axes.get_legend().get_texts(), *axes.get_xticklabels()]
    for text in texts:
        path = font_file(text)
        assert picker.covers(path, text.get_text()), f"{text.get_text()!r} is drawn with {path}"
        assert "LastResort" not in path  # matplotlib's font of boxes
    assert not FontPicker(ONLY_DEJAVU).covers(font_manager.findfont("DejaVu Sans"), "每日任务")


def test_without_a_chinese_font_the_chart_falls_back_to_english_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    only_dejavu = FontPicker(ONLY_DEJAVU)
    charts._fallbacks_logged.clear()
    with caplog.at_level(logging.INFO, logger="bot.charts"):
        for _ in range(2):
            axes = drawn(jobs_per_day_figure(days((2, 1), (4, 0)), CHINESE, fallback=ENGLISH, fonts=only_dejavu))
            assert words(axes) == {
                "title": "Jobs per day (UTC)",
                "x": "Day (UTC)",
                "y": "Jobs",
                "legend": "Succeeded / Failed",
                "days": "05-01 05-02",
            }
            assert "DejaVuSans" in font_file(axes._left_title)
    notes = [record for record in caplog.records if record.name == "bot.charts"]
    assert len(notes) == 1 and notes[0].levelno == logging.INFO
    assert "每日任务\uff08UTC\uff09" in notes[0].getMessage() and "English" in notes[0].getMessage()
    # English needs no fallback, and says nothing.
    caplog.clear()
    assert words(drawn(jobs_per_day_figure(days((1, 0)), ENGLISH, fonts=only_dejavu)))["title"] == "Jobs per day (UTC)"
    assert not caplog.records


def test_the_last_resort_font_does_not_count_as_drawing_a_script() -> None:
    picker = FontPicker()
    last_resort = [entry.fname for entry in font_manager.fontManager.ttflist if "LastResort" in entry.fname]
    if not last_resort:
        pytest.skip("this matplotlib ships no last-resort font")
    assert not picker.covers(last_resort[0], CHINESE.title)
    assert FontPicker(["Last Resort High-Efficiency"]).family_for(CHINESE.title) is None


# -- bars, axes and dates -------------------------------------------------------------------------------------


def test_bars_stack_failures_on_successes_one_per_day_with_jobs() -> None:
    axes = drawn(jobs_per_day_figure(days((2, 0), (6, 2), (0, 0), (3, 3), (0, 1))))
    green, red = bars(axes, "succeeded"), bars(axes, "failed")
    assert [(round(bar.get_x() + bar.get_width() / 2), bar.get_height()) for bar in green] == [(0, 2), (1, 6), (3, 3)]
    assert [(round(bar.get_x() + bar.get_width() / 2), bar.get_y(), bar.get_height()) for bar in red] == [
        (1, 6, 2),
        (3, 3, 3),
        (4, 0, 1),
    ]
    assert all(bar.get_facecolor()[:3] == to_rgb(SUCCEEDED) for bar in green)
    assert all(bar.get_facecolor()[:3] == to_rgb(FAILED) for bar in red)
    ticks = axes.get_yticks()
    assert all(tick == int(tick) for tick in ticks) and max(ticks) >= 8  # whole numbers, up to the tallest day


def test_one_job_shows_next_to_a_huge_day() -> None:
    figure = jobs_per_day_figure(days((1, 0), (5000, 1)))
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    [axes] = figure.axes
    pixels = np.asarray(canvas.buffer_rgba())[:, :, :3]
    x, y = axes.transData.transform((0, 0))
    column = pixels[: round(figure.bbox.height - y), round(x)]  # above the x axis, at the small bar's middle
    green = np.array([round(c * 255) for c in to_rgb(SUCCEEDED)])
    assert (np.abs(column[-4:].astype(int) - green).sum(axis=1) < 60).any()


def test_no_jobs_draws_empty_axes_with_a_note() -> None:
    for empty in ([], days((0, 0), (0, 0))):
        axes = drawn(jobs_per_day_figure(empty, CHINESE, fallback=ENGLISH, fonts=FontPicker(ONLY_DEJAVU)))
        assert not axes.patches and axes.get_legend() is None
        assert [text.get_text() for text in axes.texts] == ["No jobs"]


def test_ninety_days_of_dates_stay_legible() -> None:
    ninety = days(*[(n * 7 % 50, n % 5) for n in range(90)])
    for labels, fonts in ((ENGLISH, None), (CHINESE, FontPicker())):
        axes = drawn(jobs_per_day_figure(ninety, labels, fallback=ENGLISH, fonts=fonts))
        shown = [label for label in axes.get_xticklabels() if label.get_text()]
        assert 6 <= len(shown) <= 15
        assert shown[-1].get_text() == labels.day(ninety[-1][0])  # the newest day is always named
        boxes = [label.get_window_extent() for label in shown]
        assert all(left.x1 < right.x0 for left, right in itertools.pairwise(boxes))  # none overlap
        figure_box = axes.get_figure().bbox
        assert all(box.x0 >= 0 and box.x1 <= figure_box.x1 for box in boxes)


def test_later_charts_draw_quickly() -> None:
    ninety = days(*[(n * 7 % 50, n % 5) for n in range(90)])
    jobs_per_day_chart(ninety, CHINESE, fallback=ENGLISH)
    timings = []
    for _ in range(3):
        began = time.perf_counter()
        jobs_per_day_chart(ninety, CHINESE, fallback=ENGLISH)
        timings.append(time.perf_counter() - began)
    assert min(timings) < 1.0, f"a 90-day chart took {min(timings) * 1000:.0f} ms"


def test_the_bot_and_the_cli_start_without_matplotlib() -> None:
    code = "import sys, bot.cli, bot.bot, cogs.admin; print(sorted({'matplotlib', 'PIL', 'numpy'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
