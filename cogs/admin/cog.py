"""/admin: a server's settings for the bot, for its moderators.

Every subcommand passes the cog's ``interaction_check`` first, which runs the server-side moderator check
(see ``access``): Discord's ``default_permissions`` only hides the command. Every change is read, applied and
saved under a per-server lock, answered ephemerally, and posted in the audit log as "what: old → new".
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import discord
from discord import app_commands
from discord.ext import commands

from bot.costs import IMAGE_UNITS, VIDEO_UNITS
from bot.quota import day_start, next_reset
from bot.settings import (
    BUTTON_POLICIES,
    MAX_FILTER_RULES,
    MAX_PATTERN_CHARS,
    BlockEntry,
    FilterRule,
    GuildSettings,
    compile_rule,
    load_guild_settings,
    update_guild_settings,
)
from bot.text import shorten
from bot.wordfilter import check_rules
from cogs.common import UserFacingError
from cogs.errors import phrase_of
from cogs.i18n import SOURCE_LOCALE, LocaleLike, Msg, Phrase, Words, interaction_locale, msg, t
from cogs.ui.render import fit_escaped

from . import render, stats
from .access import GUILD_ONLY, GuildOnly, NotAModerator, is_moderator
from .jobs import CANCELS, AdminCancelButton, ModeratorCancel, show_jobs
from .options import AUDIT_PERMISSIONS as AUDIT_PERMISSIONS
from .options import (
    BUDGET_HELP,
    CHOICE_CHARS,
    MAX_CHANNELS,
    MAX_MODERATOR_ROLES,
    MAX_REASON_CHARS,
    MAX_STATS_DAYS,
    POLICY_CHOICES,
    button_policy,
    filter_candidates,
    missing_permissions,
    parse_limit,
    permission_names,
)
from .options import NO_LIMIT_WORDS as NO_LIMIT_WORDS

if TYPE_CHECKING:
    from bot.bot import MJBot
    from cogs.audit import AuditLog
    from cogs.delivery import Delivery

log = logging.getLogger(__name__)

NO_MENTIONS: Final = discord.AllowedMentions.none()

AllowedChannel = discord.TextChannel | discord.VoiceChannel | discord.ForumChannel | discord.StageChannel


class AdminCog(commands.Cog):
    """/admin and its subcommands; every one of them for moderators only (checked here, server side)."""

    admin = app_commands.Group(
        name="admin",
        description="The bot's settings for this server (moderators)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    channels = app_commands.Group(name="channels", description="Where the bot's commands work", parent=admin)
    moderator_roles = app_commands.Group(
        name="moderator-roles", description="Roles whose members count as moderators", parent=admin
    )
    word_filter = app_commands.Group(name="filter", description="Words and patterns refused in prompts", parent=admin)
    users = app_commands.Group(name="users", description="Members blocked from using the bot", parent=admin)
    audit_channel = app_commands.Group(
        name="audit-channel", description="Where submits, refusals, cancels and changes are posted", parent=admin
    )

    def __init__(self, bot: MJBot, *, audit: AuditLog, delivery: Delivery) -> None:
        self.bot = bot
        self._audit = audit
        self._cancel = ModeratorCancel(audit, delivery)

    async def cog_load(self) -> None:
        # The Cancel buttons of /admin jobs are matched by custom id alone: they work after a restart too.
        CANCELS.bind(self.bot, self._cancel)
        self.bot.add_dynamic_items(AdminCancelButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(AdminCancelButton)
        CANCELS.unbind(self.bot, self._cancel)

    # -- the check every subcommand passes first --------------------------------------------------------

    async def interaction_check(self, interaction: discord.Interaction[MJBot], /) -> bool:  # type: ignore[override]
        guild_id = interaction.guild_id
        if guild_id is None:
            raise GuildOnly()
        settings = await load_guild_settings(self.bot.services.store, guild_id)
        if is_moderator(interaction.user, settings, permissions=interaction.permissions):
            return True
        command = interaction.command.qualified_name if interaction.command is not None else "admin"
        log.info("guild %s: /%s refused to user %s (not a moderator)", guild_id, command, interaction.user.id)
        self._audit.post_soon(
            guild_id,
            "refusal",
            actor_id=interaction.user.id,
            text=msg("admin.refused_audit", command=command, user=interaction.user.id),
        )
        raise NotAModerator()

    # -- helpers ----------------------------------------------------------------------------------------

    async def _update(
        self, guild_id: int, change: Callable[[GuildSettings], GuildSettings]
    ) -> tuple[GuildSettings, GuildSettings]:
        """Change the server's settings in one transaction; ``change`` may refuse (raise) and nothing is saved."""
        seen: list[GuildSettings] = []

        def apply(current: GuildSettings) -> GuildSettings:
            seen.append(current)
            return change(current)

        new = await update_guild_settings(self.bot.services.store, guild_id, apply)
        return seen[-1], new

    async def _reply(
        self,
        interaction: discord.Interaction[MJBot],
        text: str | Phrase,
        *,
        embeds: list[discord.Embed] | None = None,
    ) -> None:
        """Answer the moderator ephemerally, in their language."""
        words = text.render(interaction_locale(interaction)) if isinstance(text, Phrase) else text
        send = interaction.followup.send if interaction.response.is_done() else interaction.response.send_message
        await send(words, embeds=embeds or [], ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def _changed(
        self, interaction: discord.Interaction[MJBot], reply: Phrase, audit: Phrase | None = None
    ) -> None:
        """Answer the moderator, then post the change (``audit``, or the reply itself) in the audit log (each in
        its reader's language: the moderator's, the server's)."""
        await self._reply(interaction, reply)
        guild_id = interaction.guild_id
        log.info("guild %s: settings changed by user %s: %s", guild_id, interaction.user.id, audit or reply)
        await self._audit.post(guild_id, "settings", actor_id=interaction.user.id, text=audit or reply)

    async def _area_change(
        self,
        interaction: discord.Interaction[MJBot],
        area: str,
        change: Callable[[GuildSettings], GuildSettings],
        show: Callable[[GuildSettings, LocaleLike], str],
    ) -> None:
        """Apply a change to one area (``admin.area.<area>``) and report it as "area: old → new" (or that
        nothing changed)."""
        old, new = await self._update(self._guild_id(interaction), change)
        name = msg(f"admin.area.{area}")
        after = Words(lambda locale: show(new, locale))
        if show(old, SOURCE_LOCALE) == show(new, SOURCE_LOCALE):
            await self._reply(interaction, msg("admin.unchanged", area=name, value=after))
            return
        before = Words(lambda locale: show(old, locale))
        await self._changed(interaction, msg("admin.changed", area=name, old=before, new=after))

    # -- channels -------------------------------------------------------------------------------------------

    @channels.command(name="add", description="Let the bot's commands work in this channel (and not elsewhere)")
    @app_commands.describe(channel="A channel to allow")
    async def channels_add(self, interaction: discord.Interaction[MJBot], channel: AllowedChannel) -> None:
        def change(settings: GuildSettings) -> GuildSettings:
            if channel.id in settings.channels:
                return settings
            if len(settings.channels) >= MAX_CHANNELS:
                raise UserFacingError(msg("admin.too_many_channels", count=MAX_CHANNELS))
            return dataclasses.replace(settings, channels=(*settings.channels, channel.id))

        await self._area_change(interaction, "channels", change, lambda s, loc: render.channels_text(s.channels, loc))

    @channels.command(name="remove", description="Take a channel off the allow list")
    @app_commands.describe(channel="A channel on the allow list")
    async def channels_remove(self, interaction: discord.Interaction[MJBot], channel: AllowedChannel) -> None:
        def change(settings: GuildSettings) -> GuildSettings:
            return dataclasses.replace(settings, channels=tuple(c for c in settings.channels if c != channel.id))

        await self._area_change(interaction, "channels", change, lambda s, loc: render.channels_text(s.channels, loc))

    @channels.command(name="list", description="Where the bot's commands work")
    async def channels_list(self, interaction: discord.Interaction[MJBot]) -> None:
        settings = await self._settings(interaction)
        shown = Words(lambda locale: render.channels_text(settings.channels, locale))
        await self._reply(interaction, msg("admin.area_value", area=msg("admin.area.channels"), value=shown))

    @channels.command(name="clear", description="Let the bot's commands work in every channel again")
    async def channels_clear(self, interaction: discord.Interaction[MJBot]) -> None:
        await self._area_change(
            interaction,
            "channels",
            lambda s: dataclasses.replace(s, channels=()),
            lambda s, locale: render.channels_text(s.channels, locale),
        )

    async def _settings(self, interaction: discord.Interaction[MJBot]) -> GuildSettings:
        """The server's settings, as saved now."""
        return await load_guild_settings(self.bot.services.store, self._guild_id(interaction))

    # -- policy and moderator roles -------------------------------------------------------------------

    @admin.command(name="policy", description="Who may use a job's buttons and reactions")
    @app_commands.describe(policy="Owner only; owner and moderators; or everyone in the server")
    @app_commands.choices(
        policy=[app_commands.Choice(name=POLICY_CHOICES[value], value=value) for value in BUTTON_POLICIES]
    )
    async def policy(self, interaction: discord.Interaction[MJBot], policy: app_commands.Choice[str]) -> None:
        chosen = button_policy(policy.value)
        await self._area_change(
            interaction,
            "policy",
            lambda s: dataclasses.replace(s, button_policy=chosen),
            lambda s, locale: render.policy_text(s.button_policy, locale),
        )

    @moderator_roles.command(name="add", description="Members with this role count as moderators")
    @app_commands.describe(role="The role")
    async def roles_add(self, interaction: discord.Interaction[MJBot], role: discord.Role) -> None:
        def change(settings: GuildSettings) -> GuildSettings:
            if role.id in settings.moderator_roles:
                return settings
            if len(settings.moderator_roles) >= MAX_MODERATOR_ROLES:
                raise UserFacingError(msg("admin.too_many_roles", count=MAX_MODERATOR_ROLES))
            return dataclasses.replace(settings, moderator_roles=(*settings.moderator_roles, role.id))

        await self._area_change(
            interaction, "roles", change, lambda s, locale: render.roles_text(s.moderator_roles, locale)
        )

    @moderator_roles.command(name="remove", description="Members with this role no longer count as moderators")
    @app_commands.describe(role="The role")
    async def roles_remove(self, interaction: discord.Interaction[MJBot], role: discord.Role) -> None:
        def change(settings: GuildSettings) -> GuildSettings:
            roles = tuple(r for r in settings.moderator_roles if r != role.id)
            return dataclasses.replace(settings, moderator_roles=roles)

        await self._area_change(
            interaction, "roles", change, lambda s, locale: render.roles_text(s.moderator_roles, locale)
        )

    @moderator_roles.command(name="list", description="The roles whose members count as moderators")
    async def roles_list(self, interaction: discord.Interaction[MJBot]) -> None:
        settings = await self._settings(interaction)
        shown = Words(lambda locale: render.roles_text(settings.moderator_roles, locale))
        await self._reply(interaction, msg("admin.area_value", area=msg("admin.area.roles"), value=shown))

    # -- word filter --------------------------------------------------------------------------------------

    @word_filter.command(name="add", description="Refuse prompts with this word, phrase or pattern")
    @app_commands.describe(
        pattern="A word or phrase (matches whole words, any case), or a regular expression",
        regex="Treat the pattern as a regular expression (default: a plain word or phrase)",
    )
    async def filter_add(
        self,
        interaction: discord.Interaction[MJBot],
        pattern: app_commands.Range[str, 1, MAX_PATTERN_CHARS],
        regex: bool = False,
    ) -> None:
        try:
            rule = compile_rule(pattern, regex)
        except ValueError as exc:
            raise UserFacingError(phrase_of(exc) or str(exc)) from None

        def change(settings: GuildSettings) -> GuildSettings:
            if rule in settings.word_filter:
                return settings
            if len(settings.word_filter) >= MAX_FILTER_RULES:
                raise UserFacingError(msg("admin.too_many_rules", count=MAX_FILTER_RULES))
            rules = (*settings.word_filter, rule)
            try:
                check_rules(rules)  # the regex budget, and that the plain words still compile as one set
            except ValueError as exc:
                raise UserFacingError(phrase_of(exc) or str(exc)) from None
            return dataclasses.replace(settings, word_filter=rules)

        old, new = await self._update(self._guild_id(interaction), change)
        if old == new:
            await self._reply(interaction, msg("admin.filter_already", rule=render.rule_text(rule)))
            return
        count = {"old": len(old.word_filter), "new": len(new.word_filter)}
        await self._changed(interaction, msg("admin.filter_added", rule=render.rule_text(rule), **count))

    @word_filter.command(name="remove", description="Take a word or pattern out of the filter")
    @app_commands.describe(pattern="The word or pattern, as `/admin filter list` shows it")
    async def filter_remove(self, interaction: discord.Interaction[MJBot], pattern: str) -> None:
        wanted = filter_candidates(pattern)
        removed: list[FilterRule] = []

        def change(settings: GuildSettings) -> GuildSettings:
            removed[:] = [rule for rule in settings.word_filter if rule.pattern in wanted]
            if not removed:
                raise UserFacingError(msg("admin.not_in_filter", pattern=fit_escaped(pattern, 100)))
            kept = tuple(rule for rule in settings.word_filter if rule not in removed)
            return dataclasses.replace(settings, word_filter=kept)

        old, new = await self._update(self._guild_id(interaction), change)
        rules = ", ".join(render.rule_text(rule) for rule in removed)
        count = {"old": len(old.word_filter), "new": len(new.word_filter)}
        await self._changed(interaction, msg("admin.filter_removed", rule=rules, **count))

    @filter_remove.autocomplete("pattern")
    async def filter_patterns(
        self, interaction: discord.Interaction[MJBot], typed: str
    ) -> list[app_commands.Choice[str]]:
        guild_id = interaction.guild_id
        if guild_id is None:
            return []
        settings = await load_guild_settings(self.bot.services.store, guild_id)
        if not is_moderator(interaction.user, settings, permissions=interaction.permissions):
            return []  # the filter is for moderators' eyes only
        needle = typed.casefold()
        return [
            app_commands.Choice(name=shorten(rule.describe(), CHOICE_CHARS), value=rule.pattern)
            for rule in settings.word_filter
            if needle in rule.pattern.casefold() and len(rule.pattern) <= CHOICE_CHARS
        ][:25]

    @word_filter.command(name="list", description="The words and patterns refused in prompts")
    async def filter_list(self, interaction: discord.Interaction[MJBot]) -> None:
        settings = await self._settings(interaction)
        locale = interaction_locale(interaction)
        embed = discord.Embed(
            title=t(locale, "admin.filter_title", count=len(settings.word_filter)),
            description=shorten(render.filter_text(settings.word_filter, locale), 4096),
            colour=discord.Colour.blurple(),
        )
        await self._reply(interaction, "", embeds=[embed])

    # -- blocked members ------------------------------------------------------------------------------------

    @users.command(name="block", description="Stop a member from using the bot here; they see the reason")
    @app_commands.describe(member="The member", reason="Shown to them when they try (default: no reason given)")
    async def users_block(
        self,
        interaction: discord.Interaction[MJBot],
        member: discord.Member | discord.User,
        reason: app_commands.Range[str, 1, MAX_REASON_CHARS] | None = None,
    ) -> None:
        if member.id == interaction.user.id:
            raise UserFacingError(msg("admin.cannot_block_self"))
        if member.bot:
            raise UserFacingError(msg("admin.cannot_block_bot"))
        # An empty reason is stored as such: the member is then told to ask a moderator, not "no reason given".
        entry = BlockEntry((reason or "").strip(), by=interaction.user.id, at=time.time())

        def change(settings: GuildSettings) -> GuildSettings:
            return dataclasses.replace(settings, blocked={**settings.blocked, member.id: entry})

        old, _ = await self._update(self._guild_id(interaction), change)
        shown = Words(lambda locale: render.reason_text(entry.reason, locale))
        earlier = old.blocked.get(member.id)
        audit: Msg
        if earlier is None:
            audit = msg("admin.block_audit", user=member.id, reason=shown)
        else:
            before = Words(lambda locale: render.reason_text(earlier.reason, locale))
            audit = msg("admin.reblock_audit", user=member.id, reason=shown, earlier=before)
        reply = msg(
            "admin.blocked_reply" if entry.reason else "admin.blocked_reply_no_reason", user=member.id, reason=shown
        )
        await self._changed(interaction, reply, audit)

    @users.command(name="unblock", description="Let a blocked member use the bot again")
    @app_commands.describe(member="The member")
    async def users_unblock(
        self, interaction: discord.Interaction[MJBot], member: discord.Member | discord.User
    ) -> None:
        def change(settings: GuildSettings) -> GuildSettings:
            if member.id not in settings.blocked:
                raise UserFacingError(msg("admin.not_blocked", user=member.id))
            return dataclasses.replace(
                settings, blocked={user: entry for user, entry in settings.blocked.items() if user != member.id}
            )

        old, _ = await self._update(self._guild_id(interaction), change)
        was = old.blocked[member.id].reason
        reason = Words(lambda locale: render.reason_text(was, locale))
        audit = msg("admin.unblock_audit", user=member.id, reason=reason)
        await self._changed(interaction, msg("admin.unblocked_reply", user=member.id), audit)

    @users.command(name="list", description="The members blocked from using the bot, and why")
    async def users_list(self, interaction: discord.Interaction[MJBot]) -> None:
        settings = await self._settings(interaction)
        locale = interaction_locale(interaction)
        embed = discord.Embed(
            title=t(locale, "admin.blocked_title", count=len(settings.blocked)),
            description=shorten(render.blocked_text(settings.blocked, locale), 4096),
            colour=discord.Colour.blurple(),
        )
        await self._reply(interaction, "", embeds=[embed])

    # -- limits ---------------------------------------------------------------------------------------------

    @admin.command(name="limits", description="Show or change the quotas (a number, or none for no limit)")
    @app_commands.describe(
        running_per_user="Jobs one member may have running at once; more wait in a queue (none: no limit)",
        jobs_per_user_per_day="Jobs one member may start per UTC day (none: no limit)",
        daily_budget=app_commands.locale_str(BUDGET_HELP, image=f"{IMAGE_UNITS:g}", video=f"{VIDEO_UNITS:g}"),
        allow_turbo="Whether members may use turbo mode",
        allow_720p="Whether members may make 720p videos",
        allow_private_results="Whether members may have their results shown only to them",
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
    ) -> None:
        changes: dict[str, object] = {}
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
            settings = await self._settings(interaction)
            limits = settings.limits
            current = Words(lambda locale: render.limits_text(limits, locale))
            await self._reply(interaction, msg("admin.limits_now", limits=current))
            return

        def change(settings: GuildSettings) -> GuildSettings:
            try:
                return settings.with_limits(**changes)
            except ValueError as exc:
                raise UserFacingError(str(exc).capitalize() + ".") from None

        old, new = await self._update(self._guild_id(interaction), change)
        now = msg("admin.limits_now", limits=Words(lambda locale: render.limits_text(new.limits, locale)))
        if not render.limit_changes(old.limits, new.limits):
            await self._reply(interaction, msg("admin.limits_unchanged", now=now))
            return
        lines = Words(lambda locale: "\n".join(render.limit_changes(old.limits, new.limits, locale)))
        reply = msg("admin.limits_changed", lines=lines, now=now)
        await self._changed(interaction, reply, msg("admin.limits_audit", area=msg("admin.area.limits"), lines=lines))

    # -- audit channel --------------------------------------------------------------------------------------

    @audit_channel.command(name="set", description="Post submits, refusals, cancels and changes in this channel")
    @app_commands.describe(channel="A text channel the bot can post in")
    async def audit_set(self, interaction: discord.Interaction[MJBot], channel: discord.TextChannel) -> None:
        missing = missing_permissions(channel)
        if missing:
            names = Words(lambda locale: permission_names(missing, locale))
            raise UserFacingError(msg("admin.audit_cannot_post", channel=channel.mention, missing=names))
        old, new = await self._update(
            self._guild_id(interaction), lambda s: dataclasses.replace(s, audit_channel=channel.id)
        )
        area = msg("admin.area.audit")
        if old.audit_channel == new.audit_channel:
            await self._reply(interaction, msg("admin.unchanged", area=area, value=channel.mention))
            return
        before = Words(lambda locale: render.channel_text(old.audit_channel, locale))
        await self._reply(interaction, msg("admin.audit_set", old=before, new=channel.mention))
        text = msg("admin.changed", area=area, old=before, new=channel.mention)
        posted = await self._audit.post(channel.guild.id, "settings", actor_id=interaction.user.id, text=text)
        if not posted:
            await self._reply(interaction, msg("admin.audit_test_failed", channel=channel.mention))
        if old.audit_channel is not None:
            await self._audit.post(
                channel.guild.id, "settings", actor_id=interaction.user.id, text=text, channel_id=old.audit_channel
            )

    @audit_channel.command(name="clear", description="Stop posting the audit log")
    async def audit_clear(self, interaction: discord.Interaction[MJBot]) -> None:
        guild_id = self._guild_id(interaction)
        old, _ = await self._update(guild_id, lambda s: dataclasses.replace(s, audit_channel=None))
        area, none = msg("admin.area.audit"), Words(render.none_text)
        if old.audit_channel is None:
            await self._reply(interaction, msg("admin.unchanged", area=area, value=none))
            return
        before = render.channel_text(old.audit_channel)
        await self._reply(interaction, msg("admin.audit_cleared", old=before))
        text = msg("admin.changed", area=area, old=before, new=none)
        await self._audit.post(
            guild_id, "settings", actor_id=interaction.user.id, text=text, channel_id=old.audit_channel
        )

    # -- jobs and statistics --------------------------------------------------------------------------------

    @admin.command(name="jobs", description="This server's queued and running jobs, with Cancel for each")
    async def jobs(self, interaction: discord.Interaction[MJBot]) -> None:
        await show_jobs(interaction, self._guild_id(interaction))

    @admin.command(name="stats", description="Jobs per member and in all, failures and waits, with a chart per day")
    @app_commands.describe(days="How many days back, today included (UTC days; default 7)")
    async def stats(
        self, interaction: discord.Interaction[MJBot], days: app_commands.Range[int, 1, MAX_STATS_DAYS] = 7
    ) -> None:
        guild_id = self._guild_id(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        now = time.time()
        figures = await self.bot.services.store.guild_stats(guild_id, stats.window_start(now, days), now)
        chart = await stats.chart_file(figures)
        await interaction.followup.send(
            embed=stats.stats_embed(figures, days, chart=True, locale=interaction_locale(interaction)),
            file=chart,
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    # -- everything at once ---------------------------------------------------------------------------------

    @admin.command(name="settings", description="All of this server's settings for the bot")
    async def settings(self, interaction: discord.Interaction[MJBot]) -> None:
        settings = await self._settings(interaction)
        locale = interaction_locale(interaction)
        usage = await self._usage_today(self._guild_id(interaction), settings, locale)
        await self._reply(interaction, "", embeds=render.settings_embeds(settings, usage=usage, locale=locale))

    async def _usage_today(self, guild_id: int, settings: GuildSettings, locale: LocaleLike) -> str:
        since = day_start(time.time())
        used = await self.bot.services.store.usage_total(since, guild_id=guild_id)
        budget = settings.limits.daily_budget
        if budget is None:
            return t(locale, "admin.usage_today_unlimited", used=f"{used:g}")
        reset = int(next_reset(time.time()))
        return t(locale, "admin.usage_today", used=f"{used:g}", budget=f"{budget:g}", reset=reset)

    def _guild_id(self, interaction: discord.Interaction[MJBot]) -> int:
        guild_id = interaction.guild_id
        if guild_id is None:  # the check refuses DMs before any subcommand runs
            raise UserFacingError(GUILD_ONLY)
        return guild_id
