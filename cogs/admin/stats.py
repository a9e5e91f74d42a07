"""/admin stats: the server's jobs over the last days, per member and in all, with a chart of jobs per day."""

from __future__ import annotations

import asyncio
import functools
import io
from datetime import date
from typing import Final

import discord

from bot.charts import ChartLabels, jobs_per_day_chart
from bot.store.stats import DAY_S, GuildStats, JobTally
from bot.text import duration, shorten
from cogs.i18n import SOURCE_LOCALE, LocaleLike, t, tn
from cogs.ui.render import fit_escaped

CHART_FILE: Final = "jobs-per-day.png"
#: Members listed in the embed, most jobs first.
MAX_MEMBERS: Final = 15
FIELD_CHARS: Final = 1024


def window_start(now: float, days: int) -> float:
    """00:00 UTC, ``days - 1`` days before today: the last ``days`` calendar days, today included."""
    return float(int(now // DAY_S) * DAY_S - (days - 1) * DAY_S)


def _words(locale: LocaleLike, name: str, /, **params: object) -> str:
    return t(locale, f"admin.stats.{name}", **params)


def _wait(tally: JobTally, locale: LocaleLike) -> str:
    return duration(tally.median_wait_s) if tally.median_wait_s is not None else _words(locale, "not_available")


def server_text(total: JobTally, locale: LocaleLike = None) -> str:
    rate = total.success_rate
    unfinished = _words(locale, "unfinished", count=total.unfinished) if total.unfinished else ""
    return _words(
        locale,
        "server_line",
        jobs=total.jobs,
        succeeded=total.succeeded,
        failed=total.failed,
        timed_out=total.timed_out,
        cancelled=total.cancelled,
        unfinished=unfinished,
        rate=f"{rate:.0%}" if rate is not None else _words(locale, "not_available"),
        wait=_wait(total, locale),
    )


def members_text(stats: GuildStats, locale: LocaleLike = None) -> str:
    lines = [
        _words(
            locale,
            "member_line",
            who=f"<@{row.user_id}>" if row.user_id is not None else _words(locale, "nobody"),
            jobs=row.jobs,
            succeeded=row.succeeded,
            failed=row.failed + row.timed_out,
            cancelled=row.cancelled,
            wait=_wait(row, locale),
        )
        for row in stats.users[:MAX_MEMBERS]
    ]
    if len(stats.users) > MAX_MEMBERS:
        lines.append(_words(locale, "more_members", count=len(stats.users) - MAX_MEMBERS))
    return _fit_lines(lines)


def reasons_text(stats: GuildStats, locale: LocaleLike = None) -> str:
    lines = [
        _words(
            locale,
            "reason_line",
            count=reason.count,
            code=reason.code or "unknown",
            message=fit_escaped(reason.message or "", 160),
        )
        for reason in stats.failures
    ]
    return _fit_lines(lines) if lines else _words(locale, "no_failures")


def _fit_lines(lines: list[str]) -> str:
    """As many whole lines as fit in an embed field."""
    text = ""
    for line in lines:
        candidate = f"{text}\n{line}" if text else line
        if len(candidate) > FIELD_CHARS:
            break
        text = candidate
    return text or shorten(lines[0], FIELD_CHARS)


def stats_embed(stats: GuildStats, days: int, *, chart: bool, locale: LocaleLike = None) -> discord.Embed:
    embed = discord.Embed(
        title=tn(locale, "admin.stats.title", days),
        description=server_text(stats.total, locale) if stats.total.jobs else _words(locale, "no_jobs"),
        colour=discord.Colour.blurple(),
    )
    if stats.users:
        embed.add_field(name=_words(locale, "field_members"), value=members_text(stats, locale), inline=False)
    if stats.total.jobs:
        embed.add_field(name=_words(locale, "field_reasons"), value=reasons_text(stats, locale), inline=False)
    if chart:
        embed.set_image(url=f"attachment://{CHART_FILE}")
    embed.set_footer(text=_words(locale, "footer"))
    return embed


def chart_labels(locale: LocaleLike = None) -> ChartLabels:
    """The chart's words in the language of ``locale``."""

    def day(value: date) -> str:
        return _words(locale, "chart_day", month=value.month, day=value.day)

    return ChartLabels(
        title=_words(locale, "chart_title"),
        succeeded=_words(locale, "chart_succeeded"),
        failed=_words(locale, "chart_failed"),
        jobs_axis=_words(locale, "chart_jobs"),
        days_axis=_words(locale, "chart_days"),
        no_jobs=_words(locale, "chart_no_jobs"),
        day=day,
    )


async def chart_file(stats: GuildStats, locale: LocaleLike = None) -> discord.File:
    """The jobs-per-day chart as a PNG attachment, in the language of ``locale`` (English when no installed font
    has its characters). Drawn in a worker thread: it is CPU work, and the first chart imports matplotlib."""
    draw = functools.partial(
        jobs_per_day_chart, stats.chart_days, chart_labels(locale), fallback=chart_labels(SOURCE_LOCALE)
    )
    png = await asyncio.to_thread(draw)
    return discord.File(io.BytesIO(png), filename=CHART_FILE)
