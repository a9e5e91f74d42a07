"""/admin stats: the server's jobs over the last days, per member and in all, with a chart of jobs per day."""

from __future__ import annotations

import asyncio
import io
from typing import Final

import discord

from bot.charts import jobs_per_day_chart
from bot.store.stats import DAY_S, GuildStats, JobTally
from bot.text import duration, shorten
from cogs.ui.render import fit_escaped

CHART_FILE: Final = "jobs-per-day.png"
#: Members listed in the embed, most jobs first.
MAX_MEMBERS: Final = 15
FIELD_CHARS: Final = 1024

# -- user-facing words (kept together so they can move into locale files) -----------------------------------
TITLE: Final = "📊 The last {days} day{s} (UTC)"
SERVER_LINE: Final = (
    "**{jobs}** jobs · ✅ {succeeded} succeeded · ❌ {failed} failed · ⌛ {timed_out} timed out · "
    "🚫 {cancelled} cancelled{unfinished}\nSuccess rate: **{rate}** · median wait: **{wait}**"
)
UNFINISHED: Final = " · ▶️ {count} still running"
MEMBER_LINE: Final = "{who}: **{jobs}** jobs · ✅ {succeeded} · ❌ {failed} · 🚫 {cancelled} · median wait {wait}"
NOBODY: Final = "the bot's operator (no member)"
MORE_MEMBERS: Final = "… and {count} more members"
REASON_LINE: Final = "`{code}` ({count}): {message}"
FIELD_MEMBERS: Final = "Per member"
FIELD_REASONS: Final = "Failure reasons"
NO_JOBS: Final = "No jobs in this period."
NO_FAILURES: Final = "No failures. 🎉"
NOT_AVAILABLE: Final = "n/a"
FOOTER: Final = "Wait: from the command to the result, for succeeded jobs. Days are UTC days."


def window_start(now: float, days: int) -> float:
    """00:00 UTC, ``days - 1`` days before today: the last ``days`` calendar days, today included."""
    return float(int(now // DAY_S) * DAY_S - (days - 1) * DAY_S)


def _wait(tally: JobTally) -> str:
    return duration(tally.median_wait_s) if tally.median_wait_s is not None else NOT_AVAILABLE


def server_text(total: JobTally) -> str:
    rate = total.success_rate
    unfinished = UNFINISHED.format(count=total.unfinished) if total.unfinished else ""
    return SERVER_LINE.format(
        jobs=total.jobs,
        succeeded=total.succeeded,
        failed=total.failed,
        timed_out=total.timed_out,
        cancelled=total.cancelled,
        unfinished=unfinished,
        rate=f"{rate:.0%}" if rate is not None else NOT_AVAILABLE,
        wait=_wait(total),
    )


def members_text(stats: GuildStats) -> str:
    lines = [
        MEMBER_LINE.format(
            who=f"<@{row.user_id}>" if row.user_id is not None else NOBODY,
            jobs=row.jobs,
            succeeded=row.succeeded,
            failed=row.failed + row.timed_out,
            cancelled=row.cancelled,
            wait=_wait(row),
        )
        for row in stats.users[:MAX_MEMBERS]
    ]
    if len(stats.users) > MAX_MEMBERS:
        lines.append(MORE_MEMBERS.format(count=len(stats.users) - MAX_MEMBERS))
    return _fit_lines(lines)


def reasons_text(stats: GuildStats) -> str:
    lines = [
        REASON_LINE.format(
            count=reason.count, code=reason.code or "unknown", message=fit_escaped(reason.message or "", 160)
        )
        for reason in stats.failures
    ]
    return _fit_lines(lines) if lines else NO_FAILURES


def _fit_lines(lines: list[str]) -> str:
    """As many whole lines as fit in an embed field."""
    text = ""
    for line in lines:
        candidate = f"{text}\n{line}" if text else line
        if len(candidate) > FIELD_CHARS:
            break
        text = candidate
    return text or shorten(lines[0], FIELD_CHARS)


def stats_embed(stats: GuildStats, days: int, *, chart: bool) -> discord.Embed:
    embed = discord.Embed(
        title=TITLE.format(days=days, s="s" if days != 1 else ""),
        description=server_text(stats.total) if stats.total.jobs else NO_JOBS,
        colour=discord.Colour.blurple(),
    )
    if stats.users:
        embed.add_field(name=FIELD_MEMBERS, value=members_text(stats), inline=False)
    if stats.total.jobs:
        embed.add_field(name=FIELD_REASONS, value=reasons_text(stats), inline=False)
    if chart:
        embed.set_image(url=f"attachment://{CHART_FILE}")
    embed.set_footer(text=FOOTER)
    return embed


async def chart_file(stats: GuildStats) -> discord.File:
    """The jobs-per-day chart as a PNG attachment (drawn in a thread: it is CPU work)."""
    png = await asyncio.to_thread(jobs_per_day_chart, stats.chart_days)
    return discord.File(io.BytesIO(png), filename=CHART_FILE)
