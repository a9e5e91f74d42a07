"""The jobs-per-day chart of ``/admin stats``, drawn with matplotlib.

matplotlib takes about half a second to import, so it is imported on the first chart, never when the bot or
the CLI starts. Only its object-oriented API is used (a ``Figure`` on an Agg canvas, no pyplot and no global
settings), and one chart is drawn at a time, so charts can be drawn in worker threads.

Labels come in the reader's language. A font is picked that has every character they need (a CJK font for a
Chinese title); when no installed font has them, the chart is drawn with the English labels rather than with
empty boxes.
"""

from __future__ import annotations

import io
import logging
import math
import threading
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

log = logging.getLogger(__name__)

#: (day, succeeded, failed) per day, oldest first; ``failed`` includes timed-out jobs.
Day = tuple[date, int, int]

# Discord's dark theme, where the chart is shown.
BACKGROUND: Final = "#2b2d31"
GRID: Final = "#404349"
AXIS: Final = "#949ba4"
TEXT: Final = "#dbdee1"
SUCCEEDED: Final = "#57f287"
FAILED: Final = "#ed4245"

DPI: Final = 100
#: Of a day's slot.
BAR_WIDTH: Final = 0.7
#: The least height of a bar's part, however small next to the busiest day.
MIN_BAR_PX: Final = 3
MIN_WIDTH: Final = 320
MIN_HEIGHT: Final = 180
#: matplotlib's own font, shipped with it: Latin, Greek and Cyrillic.
DEFAULT_FAMILY: Final = "DejaVu Sans"
#: Characters every chart needs besides its labels: the value axis.
DIGITS: Final = "0123456789"


def month_day(day: date) -> str:
    """``05-01``: a day's label under its bar when the language gives no other."""
    return f"{day.month:02d}-{day.day:02d}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartLabels:
    """The words on a chart, in one language."""

    title: str
    succeeded: str
    failed: str
    jobs_axis: str
    days_axis: str
    no_jobs: str
    day: Callable[[date], str] = month_day

    def text(self, days: Iterable[date]) -> str:
        """Every character the chart of ``days`` draws with these labels."""
        words = (self.title, self.succeeded, self.failed, self.jobs_axis, self.days_axis, self.no_jobs, DIGITS)
        return "".join((*words, *(self.day(day) for day in days)))


ENGLISH: Final = ChartLabels(
    title="Jobs per day (UTC)",
    succeeded="Succeeded",
    failed="Failed",
    jobs_axis="Jobs",
    days_axis="Day (UTC)",
    no_jobs="No jobs",
)


class FontPicker:
    """Finds an installed font whose character map has every character of a text.

    ``families`` narrows the search to fonts of those names (all of matplotlib's fonts when None). The
    character maps and the answers are kept: a language's labels need the same font every time.
    """

    def __init__(self, families: Sequence[str] | None = None) -> None:
        self._families = None if families is None else frozenset(families)
        self._maps: dict[str, dict[int, int]] = {}
        self._found: dict[frozenset[str], str | None] = {}
        self._lock = threading.Lock()

    def family_for(self, text: str) -> str | None:
        """The family name of a font that draws every visible character of ``text``; None without one."""
        needed = frozenset(char for char in text if not char.isspace())
        with self._lock:
            if needed not in self._found:
                self._found[needed] = self._search(needed)
            return self._found[needed]

    def covers(self, path: str, text: str) -> bool:
        """Whether the font file at ``path`` draws every visible character of ``text``.

        Its character map must have each one, and on glyphs of their own: a "last resort" font (matplotlib
        ships one) maps every character of a script to the same box, which is no better than a missing glyph.
        A few characters may share a drawing (Ω as a letter and as the ohm sign), hence the three quarters.
        """
        with self._lock:
            return self._draws(path, "".join(char for char in text if not char.isspace()))

    def _search(self, needed: frozenset[str]) -> str | None:
        text = "".join(needed)
        for path, family in self._candidates():
            if self._draws(path, text):
                return family
        return None

    def _draws(self, path: str, text: str) -> bool:
        codes = {ord(char) for char in text}
        charmap = self._charmap(path)
        return codes <= charmap.keys() and len({charmap[code] for code in codes}) * 4 >= len(codes) * 3

    def _candidates(self) -> list[tuple[str, str]]:
        """(file, family) of the upright regular fonts, matplotlib's own first, then by name."""
        from matplotlib import font_manager

        entries = [
            entry
            for entry in font_manager.fontManager.ttflist
            if (self._families is None or entry.name in self._families)
            and entry.style == "normal"
            and entry.weight in (400, "normal", "regular")
        ]
        entries.sort(key=lambda entry: (entry.name != DEFAULT_FAMILY, entry.name, entry.fname))
        return [(entry.fname, entry.name) for entry in entries]

    def _charmap(self, path: str) -> dict[int, int]:
        """Character code -> glyph index of the font at ``path`` (empty when it cannot be read)."""
        found = self._maps.get(path)
        if found is None:
            from matplotlib.ft2font import FT2Font

            try:
                found = dict(FT2Font(path).get_charmap())
            except (OSError, RuntimeError, ValueError):
                log.debug("cannot read the font %s", path, exc_info=True)
                found = {}
            self._maps[path] = found
        return found


_picker: FontPicker | None = None
_drawing = threading.Lock()
_fallbacks_logged: set[str] = set()


def default_picker() -> FontPicker:
    """One picker for the process, over every font matplotlib knows."""
    global _picker
    if _picker is None:
        _picker = FontPicker()
    return _picker


def jobs_per_day_figure(
    days: Sequence[Day],
    labels: ChartLabels = ENGLISH,
    *,
    fallback: ChartLabels = ENGLISH,
    fonts: FontPicker | None = None,
    width: int = 800,
    height: int = 360,
) -> Figure:
    """The chart as a matplotlib ``Figure``: per day, succeeded (green) below failed (red), stacked.

    Drawn with ``labels`` in a font that has all their characters, or with ``fallback`` when no font has them.
    With no days, or no jobs on any of them, the chart shows its axes and a "no jobs" note.
    """
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        raise ValueError(f"a chart needs at least {MIN_WIDTH}x{MIN_HEIGHT} pixels, not {width}x{height}")
    from matplotlib.figure import Figure

    picker = fonts or default_picker()
    family = picker.family_for(labels.text(day for day, _, _ in days))
    if family is None:
        if labels.title not in _fallbacks_logged:
            _fallbacks_logged.add(labels.title)
            log.info("no installed font draws the chart title %r; charts in that language use English", labels.title)
        labels = fallback
        family = picker.family_for(labels.text(day for day, _, _ in days)) or DEFAULT_FAMILY

    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor=BACKGROUND, layout="constrained")
    axes = figure.add_subplot()
    _style(axes, family)
    largest = max((ok + failed for _, ok, failed in days), default=0)
    _bars(axes, days, height)
    _day_ticks(axes, days, labels, width)
    axes.set_title(labels.title, loc="left", pad=10, color=TEXT, fontsize=13, family=family, parse_math=False)
    axes.set_xlabel(labels.days_axis, color=AXIS, fontsize=9, family=family, parse_math=False)
    axes.set_ylabel(labels.jobs_axis, color=AXIS, fontsize=9, family=family, parse_math=False)
    if largest == 0:
        axes.set_ylim(0, 4)
        axes.text(
            0.5,
            0.5,
            labels.no_jobs,
            transform=axes.transAxes,
            ha="center",
            va="center",
            color=AXIS,
            fontsize=18,
            family=family,
            parse_math=False,
        )
    else:
        legend = axes.legend(
            handles=[_swatch(SUCCEEDED, labels.succeeded), _swatch(FAILED, labels.failed)],
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncols=2,
            frameon=False,
            labelcolor=TEXT,
            prop={"family": family, "size": 10},
            borderaxespad=0.2,
        )
        for text in legend.get_texts():
            text.set_parse_math(False)
    return figure


def jobs_per_day_chart(
    days: Sequence[Day],
    labels: ChartLabels = ENGLISH,
    *,
    fallback: ChartLabels = ENGLISH,
    fonts: FontPicker | None = None,
    width: int = 800,
    height: int = 360,
) -> bytes:
    """The chart of :func:`jobs_per_day_figure` as a PNG file of ``width`` x ``height`` pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with _drawing:
        figure = jobs_per_day_figure(days, labels, fallback=fallback, fonts=fonts, width=width, height=height)
        FigureCanvasAgg(figure)  # attaches itself to the figure
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", facecolor=BACKGROUND, metadata={"Software": "mjbot"})
    return buffer.getvalue()


def _style(axes: Axes, family: str) -> None:
    axes.set_facecolor(BACKGROUND)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        axes.spines[side].set_color(AXIS)
    axes.tick_params(colors=AXIS, labelcolor=TEXT, labelsize=9, labelfontfamily=family)
    axes.grid(axis="y", color=GRID, linewidth=0.8)
    axes.set_axisbelow(True)

    from matplotlib.ticker import MaxNLocator

    axes.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, min_n_ticks=2))


def _bars(axes: Axes, days: Sequence[Day], height: int) -> None:
    """Only days with jobs get a bar, and each part of one is at least a few pixels high: a single job still
    shows next to a day of thousands."""
    largest = max((ok + failed for _, ok, failed in days), default=0)
    top = largest * 1.08
    least = top * MIN_BAR_PX / max(1, height - 100)  # the plot is the figure less its title and labels
    succeeded: list[tuple[int, float]] = []
    failed: list[tuple[int, float, float]] = []
    for index, (_, ok, bad) in enumerate(days):
        ok_h = max(float(ok), least) if ok else 0.0
        if ok:
            succeeded.append((index, ok_h))
        if bad:
            failed.append((index, max(float(bad), least), ok_h))
    if succeeded:
        x, heights = zip(*succeeded, strict=True)
        axes.bar(x, heights, width=BAR_WIDTH, color=SUCCEEDED, linewidth=0, gid="succeeded")
    if failed:
        x, heights, bottoms = zip(*failed, strict=True)
        axes.bar(x, heights, bottom=bottoms, width=BAR_WIDTH, color=FAILED, linewidth=0, gid="failed")
    axes.set_xlim(-0.6, max(1, len(days)) - 0.4)
    if largest:
        axes.set_ylim(0, top)


def _day_ticks(axes: Axes, days: Sequence[Day], labels: ChartLabels, width: int) -> None:
    """A date under as many bars as fit side by side, counted back from the newest day (always labelled)."""
    if not days:
        axes.set_xticks([])
        return
    names = [labels.day(day) for day, _, _ in days]
    label_px = max(_text_px(name) for name in names) + 14
    fits = max(1, int((width - 80) // label_px))
    every = max(1, math.ceil(len(days) / fits))
    shown = list(range(len(days) - 1, -1, -every))[::-1]
    axes.set_xticks(shown, [names[index] for index in shown])


def _text_px(text: str) -> float:
    """A rough width of ``text`` at the tick size: wide (East Asian) characters count double."""
    return sum(12.0 if unicodedata.east_asian_width(char) in ("W", "F") else 6.5 for char in text)


def _swatch(colour: str, label: str) -> Patch:
    from matplotlib.patches import Patch

    return Patch(facecolor=colour, edgecolor=colour, label=label)
