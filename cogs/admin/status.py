"""/admin status: how the bot and the API are doing, for a server's moderators.

The API's health is this process's view (its calls of the last minutes); the jobs under way are counted in
the store, so on a shared store "in all" covers every process.
"""

from __future__ import annotations

from typing import Final

import discord

from bot import __version__
from bot.jobs.incidents import HealthView
from bot.store.stats import Load
from bot.text import duration
from cogs.i18n import LocaleLike, t

#: The window of the job durations shown.
DURATION_WINDOW_S: Final = 3600.0


def status_embed(health: HealthView, load: Load, *, uptime_s: float, locale: LocaleLike) -> discord.Embed:
    """The status embed: the API's health, the jobs under way, how long jobs took in the last hour, the bot."""
    incident = health.incident
    if incident is not None:
        api = t(locale, "admin.status.api_incident", since=int(incident.started_at), reason=incident.reason[:300])
        colour = discord.Colour.orange()
    else:
        api = t(locale, "admin.status.api_ok")
        colour = discord.Colour.green()
    embed = discord.Embed(title=t(locale, "admin.status.title"), description=api, colour=colour)
    rate = health.error_rate
    embed.add_field(
        name=t(locale, "admin.status.field_api"),
        value=t(
            locale,
            "admin.status.api_line",
            calls=health.calls,
            minutes=round(health.window_s / 60),
            errors="—" if rate is None else f"{rate:.0%}",
            p50=_seconds(health.p50_latency_s, locale),
            p95=_seconds(health.p95_latency_s, locale),
        ),
        inline=False,
    )
    embed.add_field(
        name=t(locale, "admin.status.field_jobs"),
        value=t(
            locale,
            "admin.status.jobs_line",
            running_here=load.running_here,
            queued_here=load.queued_here,
            running=load.running,
            queued=load.queued,
        ),
        inline=False,
    )
    median, p95 = load.duration(0.5), load.duration(0.95)
    embed.add_field(
        name=t(locale, "admin.status.field_durations"),
        value=(
            t(locale, "admin.status.no_durations")
            if median is None or p95 is None
            else t(
                locale,
                "admin.status.durations_line",
                count=len(load.durations_s),
                median=duration(median),
                p95=duration(p95),
            )
        ),
        inline=False,
    )
    last = health.last_incident
    if incident is None and last is not None and last.ended_at is not None:
        embed.add_field(
            name=t(locale, "admin.status.field_last_incident"),
            value=t(locale, "admin.status.last_incident", start=int(last.started_at), end=int(last.ended_at)),
            inline=False,
        )
    embed.set_footer(text=t(locale, "admin.status.footer", version=__version__, uptime=duration(uptime_s)))
    return embed


def _seconds(value: float | None, locale: LocaleLike) -> str:
    return t(locale, "admin.status.not_available") if value is None else f"{value * 1000:.0f} ms"
