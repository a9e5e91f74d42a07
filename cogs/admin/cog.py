"""/admin: a server's settings for the bot, for its moderators.

Every subcommand passes the server-side moderator check first (``SettingsEditor.check``, see ``access``):
Discord's ``default_permissions`` only hides the command. Every change is read, applied and saved under a
per-server lock, answered ephemerally, and posted in the audit log as "what: old → new".
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.costs import IMAGE_UNITS, VIDEO_UNITS
from bot.quota import day_start, next_reset
from bot.settings import BUTTON_POLICIES, GuildSettings
from cogs.common import UserFacingError
from cogs.i18n import LocaleLike, Words, interaction_locale, msg, t
from cogs.installs import SERVER_INSTALL_ONLY, SERVER_ONLY_CONTEXTS

from . import render, stats, status
from .editor import NO_MENTIONS, AdminGroup, SettingsEditor, guild_id_of
from .gallery import GalleryGroup
from .groups import AuditChannelGroup, ChannelsGroup, ModeratorRolesGroup, UsersGroup, WordFilterGroup
from .jobs import CANCELS, AdminCancelButton, ModeratorCancel, show_jobs
from .options import AUDIT_PERMISSIONS as AUDIT_PERMISSIONS
from .options import BUDGET_HELP, MAX_STATS_DAYS, POLICY_CHOICES, button_policy, parse_limit, parse_threshold
from .options import NO_LIMIT_WORDS as NO_LIMIT_WORDS

if TYPE_CHECKING:
    from bot.bot import MJBot
    from cogs.audit import AuditLog
    from cogs.delivery import Delivery


class AdminCog(commands.Cog):
    """/admin and its subcommands; every one of them for moderators only (checked here, server side).

    The subcommand groups live in ``groups``; the cog holds the commands directly under /admin, and gives every
    group the same ``SettingsEditor`` (the check, the transaction, the answer)."""

    admin = app_commands.Group(
        name="admin",
        description="The bot's settings for this server (moderators)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
        allowed_contexts=SERVER_ONLY_CONTEXTS,  # never through a member's own install, nor in DMs
        allowed_installs=SERVER_INSTALL_ONLY,
    )
    channels = ChannelsGroup(parent=admin)
    moderator_roles = ModeratorRolesGroup(parent=admin)
    word_filter = WordFilterGroup(parent=admin)
    users = UsersGroup(parent=admin)
    audit_channel = AuditChannelGroup(parent=admin)
    gallery = GalleryGroup(parent=admin)

    def __init__(self, bot: MJBot, *, audit: AuditLog, delivery: Delivery) -> None:
        self.bot = bot
        self._editor = SettingsEditor(bot, audit)
        self._cancel = ModeratorCancel(audit, delivery)
        for group in self.admin.commands:  # this cog's own copies of the groups
            if isinstance(group, AdminGroup):
                group.use(self._editor)

    async def cog_load(self) -> None:
        # The Cancel buttons of /admin jobs are matched by custom id alone: they work after a restart too.
        CANCELS.bind(self.bot, self._cancel)
        self.bot.add_dynamic_items(AdminCancelButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(AdminCancelButton)
        CANCELS.unbind(self.bot, self._cancel)

    async def interaction_check(self, interaction: discord.Interaction[MJBot], /) -> bool:  # type: ignore[override]
        # The commands directly under /admin are bound to the cog; the groups' commands ask their group.
        return await self._editor.check(interaction)

    # -- policy --------------------------------------------------------------------------------------

    @admin.command(name="policy", description="Who may use a job's buttons and reactions")
    @app_commands.describe(policy="Owner only; owner and moderators; or everyone in the server")
    @app_commands.choices(
        policy=[app_commands.Choice(name=POLICY_CHOICES[value], value=value) for value in BUTTON_POLICIES]
    )
    async def policy(self, interaction: discord.Interaction[MJBot], policy: app_commands.Choice[str]) -> None:
        chosen = button_policy(policy.value)
        await self._editor.area_change(
            interaction,
            "policy",
            lambda s: dataclasses.replace(s, button_policy=chosen),
            lambda s, locale: render.policy_text(s.button_policy, locale),
        )

    # -- limits ---------------------------------------------------------------------------------------------

    @admin.command(name="limits", description="Show or change the quotas (a number, or none for no limit)")
    @app_commands.describe(
        running_per_user="Jobs one member may have running at once; more wait in a queue (none: no limit)",
        jobs_per_user_per_day="Jobs one member may start per UTC day (none: no limit)",
        daily_budget=app_commands.locale_str(BUDGET_HELP, image=f"{IMAGE_UNITS:g}", video=f"{VIDEO_UNITS:g}"),
        allow_turbo="Whether members may use turbo mode",
        allow_720p="Whether members may make 720p videos",
        allow_private_results="Whether members may have their results shown only to them",
        confirm_over="Jobs of this many units or more ask the member to confirm first (0: every job; off: never)",
    )
    async def limits(
        self,
        interaction: discord.Interaction[MJBot],
        running_per_user: str | None = None,
        jobs_per_user_per_day: str | None = None,
        daily_budget: str | None = None,
        allow_turbo: bool | None = None,
        allow_720p: bool | None = None,
        allow_private_results: bool | None = None,
        confirm_over: str | None = None,
    ) -> None:
        changes: dict[str, object] = {}
        if confirm_over is not None:
            changes["confirm_over"] = parse_threshold(confirm_over, option="confirm_over")
        if running_per_user is not None:
            running = parse_limit(running_per_user, option="running_per_user")
            changes["max_running_per_user"] = None if running is None else int(running)
        if jobs_per_user_per_day is not None:
            per_day = parse_limit(jobs_per_user_per_day, option="jobs_per_user_per_day")
            changes["max_jobs_per_user_per_day"] = None if per_day is None else int(per_day)
        if daily_budget is not None:
            changes["daily_budget"] = parse_limit(daily_budget, option="daily_budget", budget=True)
        for name, flag in (
            ("allow_turbo", allow_turbo),
            ("allow_720p", allow_720p),
            ("allow_private_results", allow_private_results),
        ):
            if flag is not None:
                changes[name] = flag
        if not changes:
            settings = await self._editor.settings(interaction)
            limits = settings.limits
            current = Words(lambda locale: render.limits_text(limits, locale))
            await self._editor.reply(interaction, msg("admin.limits_now", limits=current))
            return

        def change(settings: GuildSettings) -> GuildSettings:
            try:
                return settings.with_limits(**changes)
            except ValueError as exc:
                raise UserFacingError(str(exc).capitalize() + ".") from None

        old, new = await self._editor.update(guild_id_of(interaction), change)
        now = msg("admin.limits_now", limits=Words(lambda locale: render.limits_text(new.limits, locale)))
        if not render.limit_changes(old.limits, new.limits):
            await self._editor.reply(interaction, msg("admin.limits_unchanged", now=now))
            return
        lines = Words(lambda locale: "\n".join(render.limit_changes(old.limits, new.limits, locale)))
        reply = msg("admin.limits_changed", lines=lines, now=now)
        await self._editor.changed(
            interaction, reply, msg("admin.limits_audit", area=msg("admin.area.limits"), lines=lines)
        )

    # -- jobs and statistics --------------------------------------------------------------------------------

    @admin.command(name="jobs", description="This server's queued and running jobs, with Cancel for each")
    async def jobs(self, interaction: discord.Interaction[MJBot]) -> None:
        await show_jobs(interaction, guild_id_of(interaction))

    @admin.command(name="stats", description="Jobs per member and in all, failures and waits, with a chart per day")
    @app_commands.describe(days="How many days back, today included (UTC days; default 7)")
    async def stats(
        self, interaction: discord.Interaction[MJBot], days: app_commands.Range[int, 1, MAX_STATS_DAYS] = 7
    ) -> None:
        guild_id = guild_id_of(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        now = time.time()
        figures = await self.bot.services.store.stats.guild_stats(guild_id, stats.window_start(now, days), now)
        locale = interaction_locale(interaction)
        chart = await stats.chart_file(figures, locale)
        await interaction.followup.send(
            embed=stats.stats_embed(figures, days, chart=True, locale=locale),
            file=chart,
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @admin.command(name="status", description="How the bot and the video service are doing now")
    async def status(self, interaction: discord.Interaction[MJBot]) -> None:
        guild_id = guild_id_of(interaction)
        services = self.bot.services
        now = time.time()
        since = now - status.DURATION_WINDOW_S
        load = await services.store.stats.load(guild_id, since, oldest_created=since - services.engine.job_timeout_s)
        embed = status.status_embed(
            services.engine.api_health.view(),
            load,
            uptime_s=now - services.started_at,
            locale=interaction_locale(interaction),
        )
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    # -- everything at once ---------------------------------------------------------------------------------

    @admin.command(name="settings", description="All of this server's settings for the bot")
    async def settings(self, interaction: discord.Interaction[MJBot]) -> None:
        settings = await self._editor.settings(interaction)
        locale = interaction_locale(interaction)
        usage = await self._usage_today(guild_id_of(interaction), settings, locale)
        await self._editor.reply(interaction, "", embeds=render.settings_embeds(settings, usage=usage, locale=locale))

    async def _usage_today(self, guild_id: int, settings: GuildSettings, locale: LocaleLike) -> str:
        since = day_start(time.time())
        used = await self.bot.services.store.usage.usage_total(since, guild_id=guild_id)
        budget = settings.limits.daily_budget
        if budget is None:
            return t(locale, "admin.usage_today_unlimited", used=f"{used:g}")
        reset = int(next_reset(time.time()))
        return t(locale, "admin.usage_today", used=f"{used:g}", budget=f"{budget:g}", reset=reset)
